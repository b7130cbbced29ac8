// ls: list a directory (or describe a file), one line per entry: type, inode number, name.
// With -l, also the size in bytes. (Sizes of programs depend on the compiler, so the plain
// listing leaves them out: a transcript of it is the same with any toolchain.)
#include "user.h"
#include "fs.h"

static int longfmt;

static char typechar(int type)
{
    return type == T_DIR ? 'd' : type == T_DEV ? 'c' : '-';
}

static void entry(const char *name, const struct stat *st)
{
    if (longfmt)
        printf("%c %3d %6d %s\n", typechar(st->type), st->ino, st->size, name);
    else
        printf("%c %3d %s\n", typechar(st->type), st->ino, name);
}

static int ls(const char *path)
{
    char buf[MAXPATH], name[DIRSIZ + 1];
    struct dirent de;
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(2, "ls: cannot open %s\n", path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        fprintf(2, "ls: cannot stat %s\n", path);
        close(fd);
        return -1;
    }
    if (st.type != T_DIR) {
        entry(path, &st);
        close(fd);
        return 0;
    }
    if (strlen(path) + 1 + DIRSIZ + 1 > sizeof(buf)) {
        fprintf(2, "ls: path too long\n");
        close(fd);
        return -1;
    }
    while (read(fd, &de, sizeof(de)) == sizeof(de)) {
        if (de.inum == 0)
            continue;
        memmove(name, de.name, DIRSIZ);
        name[DIRSIZ] = 0;
        strcpy(buf, path);
        char *p = buf + strlen(buf);
        *p++ = '/';
        strcpy(p, name);
        if (stat(buf, &st) < 0) {
            fprintf(2, "ls: cannot stat %s\n", buf);
            continue;
        }
        entry(name, &st);
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1, status = 0;
    if (i < argc && strcmp(argv[i], "-l") == 0)
        longfmt = 1, i++;
    if (i == argc)
        return ls(".") < 0;
    for (; i < argc; i++)
        if (ls(argv[i]) < 0)
            status = 1;
    return status;
}
