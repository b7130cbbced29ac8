// File types and what fstat() returns.
#ifndef UNIX_STAT_H
#define UNIX_STAT_H

#include <stdint.h>

#define T_DIR   1   // Directory
#define T_FILE  2   // Regular file
#define T_DEV   3   // Device (major number selects the driver)

struct stat {
    int16_t type;    // T_DIR, T_FILE or T_DEV
    int16_t nlink;   // number of directory entries naming the inode
    uint32_t dev;    // disk holding the inode
    uint32_t ino;    // inode number
    uint32_t size;   // bytes
};

#endif
