// Physical page allocator: a free list of 4 KiB pages between the end of the kernel and
// phystop, handed out through their kernel virtual addresses. Used only from process context
// and boot, never from interrupt handlers. Its spinlock (cli.c) is taken once boot has put
// every page on the list (as xv6's kmem.use_lock: boot's kinit of all of memory takes none).
#include "defs.h"

extern char end[];   // first address after the kernel (kernel.ld)

struct run {
    struct run *next;
};
static struct {
    struct spinlock lock;
    int use_lock;
    struct run *freelist;
} kmem = { { 0, "kmem", 0 }, 0, 0 };

// Add the whole pages of [vstart, vend) to the free list (boot only).
void kinit(void *vstart, void *vend)
{
    for (char *p = (char *)PGROUNDUP(vstart); p + PGSIZE <= (char *)vend; p += PGSIZE)
        kfree(p);
}

// Boot is done with kinit: take the lock from now on.
void kinitdone(void)
{
    kmem.use_lock = 1;
}

void kfree(char *v)
{
    if ((uint32_t)v % PGSIZE || v < end || V2P(v) >= phystop)
        panic("kfree %x", (uint32_t)v);
    struct run *r = (struct run *)v;
    if (kmem.use_lock)
        acquire(&kmem.lock);
    r->next = kmem.freelist;
    kmem.freelist = r;
    if (kmem.use_lock)
        release(&kmem.lock);
}

// One page, or 0 if memory is exhausted. Its contents are whatever was there.
char *kalloc(void)
{
    if (kmem.use_lock)
        acquire(&kmem.lock);
    struct run *r = kmem.freelist;
    if (r)
        kmem.freelist = r->next;
    if (kmem.use_lock)
        release(&kmem.lock);
    return (char *)r;
}
