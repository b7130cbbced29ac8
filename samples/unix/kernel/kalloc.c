// Physical page allocator: a free list of 4 KiB pages between the end of the kernel and
// PHYSTOP, handed out through their kernel virtual addresses. Used only from process
// context and boot, never from interrupt handlers, so it needs no lock (cli.c).
#include "defs.h"

extern char end[];   // first address after the kernel (kernel.ld)

struct run {
    struct run *next;
};
static struct run *freelist;

// Add the whole pages of [vstart, vend) to the free list.
void kinit(void *vstart, void *vend)
{
    for (char *p = (char *)PGROUNDUP(vstart); p + PGSIZE <= (char *)vend; p += PGSIZE)
        kfree(p);
}

void kfree(char *v)
{
    if ((uint32_t)v % PGSIZE || v < end || V2P(v) >= PHYSTOP)
        panic("kfree %x", (uint32_t)v);
    struct run *r = (struct run *)v;
    r->next = freelist;
    freelist = r;
}

// One page, or 0 if memory is exhausted. Its contents are whatever was there.
char *kalloc(void)
{
    struct run *r = freelist;
    if (r)
        freelist = r->next;
    return (char *)r;
}
