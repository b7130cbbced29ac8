// The buffer cache: NBUF disk blocks in memory, least recently used first to be reused.
// A buffer is held by one process at a time (B_BUSY, from bread to brelse); others sleep.
// Writes go through to the disk at once (bwrite): there is no log and no delayed write.
#include "defs.h"
#include "buf.h"

static struct buf bufs[NBUF];
static struct buf head;   // LRU list: head.next is the most recently used
static struct spinlock bcachelock;   // guards the list and the B_BUSY flags

void binit(void)
{
    initlock(&bcachelock, "bcache");
    head.prev = head.next = &head;
    for (struct buf *b = bufs; b < &bufs[NBUF]; b++) {
        b->next = head.next;
        b->prev = &head;
        head.next->prev = b;
        head.next = b;
    }
}

// The buffer for block blockno of dev, marked busy: cached if possible, else a reused one.
static struct buf *bget(uint32_t dev, uint32_t blockno)
{
    struct buf *b;
    acquire(&bcachelock);
again:
    for (b = head.next; b != &head; b = b->next)
        if (b->dev == dev && b->blockno == blockno) {
            if (b->flags & B_BUSY) {
                sleeplk(b, &bcachelock);
                goto again;   // it may have been reused while we slept
            }
            b->flags |= B_BUSY;
            release(&bcachelock);
            return b;
        }
    for (b = head.prev; b != &head; b = b->prev)
        if (!(b->flags & (B_BUSY | B_DIRTY))) {
            b->dev = dev;
            b->blockno = blockno;
            b->flags = B_BUSY;
            release(&bcachelock);
            return b;
        }
    panic("bget: no buffers");
}

struct buf *bread(uint32_t dev, uint32_t blockno)
{
    struct buf *b = bget(dev, blockno);
    if (!(b->flags & B_VALID))
        iderw(b);
    return b;
}

// Write b's contents to disk now. b must be busy.
void bwrite(struct buf *b)
{
    if (!(b->flags & B_BUSY))
        panic("bwrite");
    b->flags |= B_DIRTY;
    iderw(b);
}

// Release a busy buffer and make it the most recently used.
void brelse(struct buf *b)
{
    if (!(b->flags & B_BUSY))
        panic("brelse");
    acquire(&bcachelock);
    b->next->prev = b->prev;
    b->prev->next = b->next;
    b->next = head.next;
    b->prev = &head;
    head.next->prev = b;
    head.next = b;
    b->flags &= ~B_BUSY;
    wakeup(b);
    release(&bcachelock);
}
