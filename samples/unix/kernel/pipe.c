// Pipes: a PIPESIZE-byte ring between a read end and a write end. Readers sleep while it is
// empty and a writer remains; writers sleep while it is full and a reader remains.
#include "defs.h"
#include "file.h"

struct pipe {
    char data[PIPESIZE];
    uint32_t nread;      // bytes read (free-running)
    uint32_t nwrite;     // bytes written (free-running)
    int readopen;        // the read end is still open
    int writeopen;       // the write end is still open
};

// Two files, the read end in *f0 and the write end in *f1: 0, or -1.
int pipealloc(struct file **f0, struct file **f1)
{
    struct pipe *p = 0;
    *f0 = *f1 = 0;
    if (!(*f0 = filealloc()) || !(*f1 = filealloc()) || !(p = (struct pipe *)kalloc())) {
        if (*f0)
            fileclose(*f0);
        if (*f1)
            fileclose(*f1);
        return -1;
    }
    p->readopen = p->writeopen = 1;
    p->nread = p->nwrite = 0;
    (*f0)->type = (*f1)->type = FD_PIPE;
    (*f0)->readable = 1;
    (*f0)->writable = 0;
    (*f1)->readable = 0;
    (*f1)->writable = 1;
    (*f0)->pipe = (*f1)->pipe = p;
    return 0;
}

void pipeclose(struct pipe *p, int writable)
{
    if (writable) {
        p->writeopen = 0;
        wakeup(&p->nread);
    } else {
        p->readopen = 0;
        wakeup(&p->nwrite);
    }
    if (!p->readopen && !p->writeopen)
        kfree((char *)p);
}

int pipewrite(struct pipe *p, const char *src, int n)
{
    for (int i = 0; i < n; i++) {
        while (p->nwrite == p->nread + PIPESIZE) {
            if (!p->readopen || myproc()->killed)
                return -1;
            wakeup(&p->nread);
            sleep(&p->nwrite);
        }
        p->data[p->nwrite++ % PIPESIZE] = src[i];
    }
    wakeup(&p->nread);
    return n;
}

int piperead(struct pipe *p, char *dst, int n)
{
    while (p->nread == p->nwrite && p->writeopen) {
        if (myproc()->killed)
            return -1;
        sleep(&p->nread);
    }
    int i;
    for (i = 0; i < n && p->nread != p->nwrite; i++)
        dst[i] = p->data[p->nread++ % PIPESIZE];
    wakeup(&p->nwrite);
    return i;
}
