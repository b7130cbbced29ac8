// grep: print the lines that match a pattern. Patterns know c (itself), . (any byte),
// c* (zero or more), ^ and $ (the ends of the line): the matcher of Kernighan and Pike,
// The Practice of Programming, §9.2.
#include "user.h"

static int matchhere(const char *re, const char *text);

// c*re at text: try every number of leading c's, shortest first.
static int matchstar(int c, const char *re, const char *text)
{
    do {
        if (matchhere(re, text))
            return 1;
    } while (*text != 0 && (*text++ == c || c == '.'));
    return 0;
}

static int matchhere(const char *re, const char *text)
{
    if (re[0] == 0)
        return 1;
    if (re[1] == '*')
        return matchstar(re[0], re + 2, text);
    if (re[0] == '$' && re[1] == 0)
        return *text == 0;
    if (*text != 0 && (re[0] == '.' || re[0] == *text))
        return matchhere(re + 1, text + 1);
    return 0;
}

// Does re match anywhere in text?
static int match(const char *re, const char *text)
{
    if (re[0] == '^')
        return matchhere(re + 1, text);
    do {
        if (matchhere(re, text))
            return 1;
    } while (*text++ != 0);
    return 0;
}

static char buf[1024];

// Print the matching lines of fd. A line longer than the buffer is cut in pieces.
static void grep(const char *re, int fd)
{
    int n, have = 0;
    while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
        have += n;
        buf[have] = 0;
        char *p = buf, *q;
        while ((q = strchr(p, '\n')) != 0) {
            *q = 0;
            if (match(re, p)) {
                *q = '\n';
                write(1, p, q + 1 - p);
            }
            p = q + 1;
        }
        have -= p - buf;
        if (have == (int)sizeof(buf) - 1) {   // no newline in a full buffer
            if (match(re, buf))
                printf("%s\n", buf);
            have = 0;
        } else if (have > 0) {
            memmove(buf, p, have);
        }
    }
    if (have > 0) {   // a last line without a newline
        buf[have] = 0;
        if (match(re, buf))
            printf("%s\n", buf);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(2, "usage: grep pattern [file...]\n");
        return 2;
    }
    if (argc == 2) {
        grep(argv[1], 0);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fprintf(2, "grep: cannot open %s\n", argv[i]);
            return 2;
        }
        grep(argv[1], fd);
        close(fd);
    }
    return 0;
}
