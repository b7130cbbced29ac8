// Open files, in-memory inodes, and the device switch.
#ifndef UNIX_FILE_H
#define UNIX_FILE_H

#include <stdint.h>
#include "fs.h"
#include "param.h"

struct file {
    enum { FD_NONE, FD_PIPE, FD_INODE } type;
    int ref;               // descriptors sharing it (dup, fork)
    char readable;
    char writable;
    struct pipe *pipe;
    struct inode *ip;
    uint32_t off;
};

// An inode in memory: a copy of the dinode plus bookkeeping.
struct inode {
    uint32_t dev;
    uint32_t inum;
    int ref;               // pointers to this entry
    int flags;             // I_BUSY, I_VALID
    int16_t type;          // copy of the dinode
    int16_t major;
    int16_t minor;
    int16_t nlink;
    uint32_t size;
    uint32_t addrs[NDIRECT + 1];
};
#define I_BUSY  0x1   // locked (ilock..iunlock); others sleep on it
#define I_VALID 0x2   // the dinode fields have been read from disk

// Read and write for a device, by major number.
struct devsw {
    int (*read)(struct inode *ip, char *dst, int n);
    int (*write)(struct inode *ip, const char *src, int n);
};
extern struct devsw devsw[NDEV];

#endif
