// Open files: the system's table of them, shared by descriptors through dup() and fork().
#include "defs.h"
#include "file.h"

struct devsw devsw[NDEV];
static struct file ftable[NFILE];

// An unused file with one reference, or 0.
struct file *filealloc(void)
{
    for (struct file *f = ftable; f < &ftable[NFILE]; f++)
        if (f->ref == 0) {
            f->ref = 1;
            return f;
        }
    return 0;
}

struct file *filedup(struct file *f)
{
    if (f->ref < 1)
        panic("filedup");
    f->ref++;
    return f;
}

// Drop a reference; the last one closes the pipe end or releases the inode.
void fileclose(struct file *f)
{
    if (f->ref < 1)
        panic("fileclose");
    if (--f->ref > 0)
        return;
    struct file ff = *f;
    f->type = FD_NONE;
    if (ff.type == FD_PIPE)
        pipeclose(ff.pipe, ff.writable);
    else if (ff.type == FD_INODE)
        iput(ff.ip);
}

int filestat(struct file *f, struct stat *st)
{
    if (f->type != FD_INODE)
        return -1;
    ilock(f->ip);
    stati(f->ip, st);
    iunlock(f->ip);
    return 0;
}

int fileread(struct file *f, char *dst, int n)
{
    if (!f->readable)
        return -1;
    if (f->type == FD_PIPE)
        return piperead(f->pipe, dst, n);
    if (f->type != FD_INODE)
        panic("fileread");
    ilock(f->ip);
    int r = readi(f->ip, dst, f->off, n);
    if (r > 0)
        f->off += r;
    iunlock(f->ip);
    return r;
}

int filewrite(struct file *f, const char *src, int n)
{
    if (!f->writable)
        return -1;
    if (f->type == FD_PIPE)
        return pipewrite(f->pipe, src, n);
    if (f->type != FD_INODE)
        panic("filewrite");
    ilock(f->ip);
    int r = writei(f->ip, src, f->off, n);
    if (r > 0)
        f->off += r;
    iunlock(f->ip);
    return r;
}
