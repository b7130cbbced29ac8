// wc: count lines, words and bytes of the named files (or the standard input).
#include "user.h"

static char buf[512];

static int wc(int fd, const char *name)
{
    int n, lines = 0, words = 0, bytes = 0, inword = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (int i = 0; i < n; i++) {
            bytes++;
            if (buf[i] == '\n')
                lines++;
            if (strchr(" \r\t\n\v", buf[i]))
                inword = 0;
            else if (!inword) {
                words++;
                inword = 1;
            }
        }
    }
    if (n < 0) {
        fprintf(2, "wc: read error\n");
        return -1;
    }
    printf("%d %d %d%s%s\n", lines, words, bytes, *name ? " " : "", name);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc <= 1)
        return wc(0, "") < 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fprintf(2, "wc: cannot open %s\n", argv[i]);
            return 1;
        }
        wc(fd, argv[i]);
        close(fd);
    }
    return 0;
}
