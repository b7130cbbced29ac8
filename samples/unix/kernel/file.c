// Open files: the system's table of them, shared by descriptors through dup() and fork().
#include "defs.h"
#include "file.h"

struct devsw devsw[NDEV];
static struct file ftable[NFILE];
static struct spinlock ftablelock = { 0, "ftable", 0 };   // guards the refs

// An unused file with one reference, or 0.
struct file *filealloc(void)
{
    acquire(&ftablelock);
    for (struct file *f = ftable; f < &ftable[NFILE]; f++)
        if (f->ref == 0) {
            f->ref = 1;
            release(&ftablelock);
            return f;
        }
    release(&ftablelock);
    return 0;
}

struct file *filedup(struct file *f)
{
    acquire(&ftablelock);
    if (f->ref < 1)
        panic("filedup");
    f->ref++;
    release(&ftablelock);
    return f;
}

// Drop a reference; the last one closes the pipe end or releases the inode.
void fileclose(struct file *f)
{
    acquire(&ftablelock);
    if (f->ref < 1)
        panic("fileclose");
    if (--f->ref > 0) {
        release(&ftablelock);
        return;
    }
    struct file ff = *f;
    f->type = FD_NONE;
    release(&ftablelock);
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
