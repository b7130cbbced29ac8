// ATA disk driver: PIO transfers, one 512-byte sector per request, completion by IRQ 14
// through the IOAPIC (ATA/ATAPI-4 §8 PIO data-in and data-out protocols). The file system
// lives on drive 1 of the primary channel (the primary slave); drive 0 may be absent.
#include "defs.h"
#include "buf.h"

static struct buf *idequeue;   // requests, head in progress; guarded by idelock
static struct spinlock idelock;

// Wait for the drive to leave BSY and be ready; -1 if it reports a fault or an error.
static int idewait(int checkerr)
{
    uint8_t r;
    while (((r = inb(ATA_STATUS)) & (ATA_SR_BSY | ATA_SR_DRDY)) != ATA_SR_DRDY)
        ;
    if (checkerr && (r & (ATA_SR_DF | ATA_SR_ERR)))
        return -1;
    return 0;
}

void ideinit(void)
{
    initlock(&idelock, "ide");
    // Select drive 1 and see whether anything answers: a missing drive reads status 0 (and
    // a channel with no drive at all, a floating bus).
    outb(ATA_DRIVE, ATA_DRIVE_LBA | ATA_DRIVE_SLAVE);
    int present = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t st = inb(ATA_STATUS);
        if (st != 0 && st != ATA_SR_NOCHANNEL) {
            present = 1;
            break;
        }
    }
    if (!present)
        panic("ide: no disk on the primary slave (the file system image: QEMU "
              "-drive file=fs.img,index=1,media=disk,format=raw)");
    idewait(0);
    ioapicenable(IRQ_IDE, T_IDE);
    outb(ATA_CTRL, ATA_CTRL_IRQ_ON);
}

// Start the request for b. Interrupts must be off.
static void idestart(struct buf *b)
{
    idewait(0);
    outb(ATA_NSECT, 1);
    outb(ATA_LBA0, b->blockno & 0xff);
    outb(ATA_LBA1, (b->blockno >> 8) & 0xff);
    outb(ATA_LBA2, (b->blockno >> 16) & 0xff);
    outb(ATA_DRIVE, ATA_DRIVE_LBA | ((b->dev & 1) ? ATA_DRIVE_SLAVE : 0) |
                    ((b->blockno >> 24) & 0x0f));
    if (b->flags & B_DIRTY) {
        outb(ATA_COMMAND, ATA_CMD_WRITE);
        idewait(0);   // DRQ comes with BSY clear: the drive wants the data now
        outsl(ATA_DATA, b->data, BSIZE / 4);
    } else {
        outb(ATA_COMMAND, ATA_CMD_READ);
    }
}

// The head request finished: reading the status acknowledges the interrupt; take the data
// of a read, wake its owner, start the next request.
void ideintr(void)
{
    acquire(&idelock);
    struct buf *b = idequeue;
    if (!b) {
        release(&idelock);
        return;   // nothing outstanding: spurious
    }
    int err = idewait(1);
    if (err < 0)
        panic("ide: error on block %d (status %x, error %x)", b->blockno, inb(ATA_STATUS),
              inb(ATA_ERROR));
    if (!(b->flags & B_DIRTY))
        insl(ATA_DATA, b->data, BSIZE / 4);
    idequeue = b->qnext;
    b->flags = (b->flags | B_VALID) & ~B_DIRTY;
    wakeup(b);
    if (idequeue)
        idestart(idequeue);
    release(&idelock);
}

// Write b to disk if B_DIRTY, else read it; return when done. b must be B_BUSY.
void iderw(struct buf *b)
{
    if (!(b->flags & B_BUSY))
        panic("iderw: buf not busy");
    if ((b->flags & (B_VALID | B_DIRTY)) == B_VALID)
        panic("iderw: nothing to do");
    if (b->dev != ROOTDEV)
        panic("iderw: no drive %d", b->dev);

    acquire(&idelock);   // the queue is shared with ideintr
    b->qnext = 0;
    struct buf **pp = &idequeue;
    while (*pp)
        pp = &(*pp)->qnext;
    *pp = b;
    if (idequeue == b)
        idestart(b);
    while ((b->flags & (B_VALID | B_DIRTY)) != B_VALID)
        sleeplk(b, &idelock);
    release(&idelock);
}
