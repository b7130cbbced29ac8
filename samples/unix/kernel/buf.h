// A disk block in the buffer cache (bio.c), and the flags that say whose it is.
#ifndef UNIX_BUF_H
#define UNIX_BUF_H

#include <stdint.h>
#include "fs.h"

struct buf {
    int flags;
    uint32_t dev;          // IDE drive number
    uint32_t blockno;
    struct buf *prev;      // LRU list
    struct buf *next;
    struct buf *qnext;     // IDE request queue
    uint8_t data[BSIZE];
};
#define B_BUSY  0x1   // held by a process (bread..brelse); others sleep on it
#define B_VALID 0x2   // data holds the block's contents
#define B_DIRTY 0x4   // data must be written to disk

#endif
