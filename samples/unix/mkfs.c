// mkfs: build a file system image (format in include/fs.h) holding the given files in its
// root directory, plus the console device. A host program (compiled with the host's gcc).
//
//   mkfs fs.img file...     each file is stored under its last path element
//
// The image depends only on the files given and their order: no times, no host ids.
#define _POSIX_C_SOURCE 200809L   // strnlen
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs.h"
#include "stat.h"

#define FSSIZE   2048   // blocks in the image (1 MiB)
#define NINODES  128

_Static_assert(sizeof(struct dinode) == 64, "dinode is 64 bytes");
_Static_assert(BSIZE % sizeof(struct dinode) == 0, "whole dinodes per block");
_Static_assert(BSIZE % sizeof(struct dirent) == 0, "whole dirents per block");
_Static_assert(sizeof(int) == 4 && sizeof(short) == 2, "i386-compatible integer sizes");

static FILE *img;
static struct superblock sb;
static uint32_t freeinode = 1;   // next inode number to hand out
static uint32_t freeblock;       // next data block to hand out
static const char *imgname;

static void die(const char *what)
{
    fprintf(stderr, "mkfs: %s: %s\n", what, errno ? strerror(errno) : "failed");
    if (imgname)
        remove(imgname);
    exit(1);
}

// The host is little-endian like i386 (checked in main), so values are written as they are.
static void wsect(uint32_t sec, const void *buf)
{
    if (fseek(img, (long)sec * BSIZE, SEEK_SET) != 0 || fwrite(buf, BSIZE, 1, img) != 1)
        die("write");
}

static void rsect(uint32_t sec, void *buf)
{
    if (fseek(img, (long)sec * BSIZE, SEEK_SET) != 0 || fread(buf, BSIZE, 1, img) != 1)
        die("read");
}

static void winode(uint32_t inum, const struct dinode *ip)
{
    uint8_t buf[BSIZE];
    rsect(IBLOCK(inum, sb), buf);
    memcpy((struct dinode *)buf + inum % IPB, ip, sizeof(*ip));
    wsect(IBLOCK(inum, sb), buf);
}

static void rinode(uint32_t inum, struct dinode *ip)
{
    uint8_t buf[BSIZE];
    rsect(IBLOCK(inum, sb), buf);
    memcpy(ip, (struct dinode *)buf + inum % IPB, sizeof(*ip));
}

static uint32_t ialloc(int16_t type, int16_t major)
{
    if (freeinode >= sb.ninodes) {
        errno = 0;
        die("out of inodes");
    }
    struct dinode din = { .type = type, .major = major, .nlink = 1 };
    winode(freeinode, &din);
    return freeinode++;
}

// Append n bytes to inode inum, allocating blocks in order.
static void iappend(uint32_t inum, const void *data, uint32_t n)
{
    const char *p = data;
    struct dinode din;
    uint8_t buf[BSIZE];
    uint32_t indirect[NINDIRECT];

    rinode(inum, &din);
    uint32_t off = din.size;
    while (n > 0) {
        uint32_t fbn = off / BSIZE, bno;
        if (fbn >= MAXFILE || freeblock >= sb.size) {
            errno = 0;
            die(fbn >= MAXFILE ? "file too large" : "image full");
        }
        if (fbn < NDIRECT) {
            if (din.addrs[fbn] == 0)
                din.addrs[fbn] = freeblock++;
            bno = din.addrs[fbn];
        } else {
            if (din.addrs[NDIRECT] == 0) {
                din.addrs[NDIRECT] = freeblock++;
                memset(indirect, 0, sizeof(indirect));
                wsect(din.addrs[NDIRECT], indirect);
            }
            rsect(din.addrs[NDIRECT], indirect);
            if (indirect[fbn - NDIRECT] == 0) {
                indirect[fbn - NDIRECT] = freeblock++;
                wsect(din.addrs[NDIRECT], indirect);
            }
            bno = indirect[fbn - NDIRECT];
        }
        uint32_t m = BSIZE - off % BSIZE;
        if (m > n)
            m = n;
        rsect(bno, buf);
        memcpy(buf + off % BSIZE, p, m);
        wsect(bno, buf);
        n -= m;
        off += m;
        p += m;
    }
    din.size = off;
    winode(inum, &din);
}

static void dirappend(uint32_t dir, uint32_t inum, const char *name)
{
    struct dirent de = { .inum = (uint16_t)inum };
    memcpy(de.name, name, strnlen(name, DIRSIZ));   // NUL-padded, not NUL-terminated
    iappend(dir, &de, sizeof(de));
}

int main(int argc, char **argv)
{
    uint16_t one = 1;
    if (*(uint8_t *)&one != 1) {
        fprintf(stderr, "mkfs: needs a little-endian host\n");
        return 1;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: mkfs fs.img file...\n");
        return 2;
    }
    imgname = argv[1];
    if (!(img = fopen(imgname, "w+b")))
        die(imgname);

    uint32_t ninodeblocks = NINODES / IPB;
    uint32_t nbitmap = FSSIZE / BPB + 1;
    sb = (struct superblock){
        .magic = FSMAGIC,
        .size = FSSIZE,
        .ninodes = NINODES,
        .inodestart = SUPERBLOCK + 1,
        .bmapstart = SUPERBLOCK + 1 + ninodeblocks,
        .datastart = SUPERBLOCK + 1 + ninodeblocks + nbitmap,
    };
    sb.nblocks = FSSIZE - sb.datastart;
    freeblock = sb.datastart;

    uint8_t zeroes[BSIZE] = { 0 };
    for (uint32_t i = 0; i < FSSIZE; i++)
        wsect(i, zeroes);
    uint8_t buf[BSIZE] = { 0 };
    memcpy(buf, &sb, sizeof(sb));
    wsect(SUPERBLOCK, buf);

    uint32_t root = ialloc(T_DIR, 0);
    assert(root == ROOTINO);
    dirappend(root, root, ".");
    dirappend(root, root, "..");
    struct dinode din;
    rinode(root, &din);
    din.nlink = 2;   // its own ".." (and the absent parent's entry)
    winode(root, &din);

    dirappend(root, ialloc(T_DEV, CONSOLE), "console");

    for (int i = 2; i < argc; i++) {
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        if (strlen(name) > DIRSIZ) {
            fprintf(stderr, "mkfs: name too long: %s\n", name);
            remove(imgname);
            return 1;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            die(argv[i]);
        uint32_t inum = ialloc(T_FILE, 0);
        dirappend(root, inum, name);
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            iappend(inum, buf, n);
        fclose(f);
    }

    // The root directory's size rounded up to a whole block (as the kernel would leave it).
    rinode(root, &din);
    uint32_t pad = (BSIZE - din.size % BSIZE) % BSIZE;
    memset(zeroes, 0, sizeof(zeroes));
    if (pad)
        iappend(root, zeroes, pad);

    // Mark every block up to freeblock in use: boot, superblock, inodes, bitmap, data so far.
    if (freeblock > BPB) {
        errno = 0;
        die("bitmap larger than one block");
    }
    memset(buf, 0, sizeof(buf));
    for (uint32_t b = 0; b < freeblock; b++)
        buf[b / 8] |= 1 << (b % 8);
    wsect(sb.bmapstart, buf);

    if (fclose(img) != 0)
        die("close");
    printf("mkfs: %s: %u blocks, %u used, %u inodes, %u used\n", imgname, FSSIZE, freeblock,
           NINODES, freeinode - 1);
    return 0;
}
