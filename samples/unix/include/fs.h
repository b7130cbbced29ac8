// The on-disk file system format, shared by the kernel (fs.c) and the host tool (mkfs.c).
//
// Disk layout, in BSIZE blocks:
//   [ unused | superblock | inode blocks | free-block bitmap | data blocks ]
// Block 0 is left alone (a boot sector's place). There is no log: the kernel writes every
// block through to the disk as soon as it changes, in an order that keeps directories sane.
#ifndef UNIX_FS_H
#define UNIX_FS_H

#include <stdint.h>

#define BSIZE     512          // block size = one ATA sector
#define FSMAGIC   0x53463172   // "r1FS", little-endian, in the superblock
#define ROOTINO   1            // inode number of the root directory
#define SUPERBLOCK 1           // block number of the superblock

// Major device numbers that mkfs and the kernel agree on.
#define CONSOLE   1

struct superblock {
    uint32_t magic;       // FSMAGIC
    uint32_t size;        // blocks in the image
    uint32_t nblocks;     // data blocks
    uint32_t ninodes;     // inodes
    uint32_t inodestart;  // first inode block
    uint32_t bmapstart;   // first free-map block
    uint32_t datastart;   // first data block
};

#define NDIRECT   12
#define NINDIRECT (BSIZE / sizeof(uint32_t))
#define MAXFILE   (NDIRECT + NINDIRECT)   // blocks in the largest file

// An inode on disk (64 bytes).
struct dinode {
    int16_t type;                   // T_DIR, T_FILE, T_DEV (stat.h); 0 = free
    int16_t major;                  // T_DEV only
    int16_t minor;                  // T_DEV only
    int16_t nlink;                  // directory entries naming this inode
    uint32_t size;                  // bytes
    uint32_t addrs[NDIRECT + 1];    // data block numbers; the last is the indirect block
};

#define IPB           (BSIZE / sizeof(struct dinode))   // inodes per block
#define IBLOCK(i, sb) ((i) / IPB + (sb).inodestart)     // block holding inode i
#define BPB           (BSIZE * 8)                       // bitmap bits per block
#define BBLOCK(b, sb) ((b) / BPB + (sb).bmapstart)      // bitmap block holding block b's bit

// A directory is a file of these; inum 0 marks a free slot.
#define DIRSIZ 14
struct dirent {
    uint16_t inum;
    char name[DIRSIZ];   // not NUL-terminated when DIRSIZ long
};

#endif
