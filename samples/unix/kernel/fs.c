// The file system (layout in fs.h): blocks, inodes, directories, path names. Five layers,
// bottom up:
//   blocks:      allocate and free data blocks (the bitmap)
//   inodes:      allocate, read, write; the in-memory inode cache and its locks
//   inode data:  bmap() maps a file's block index to a disk block; readi, writei
//   directories: an inode whose data is a list of dirents
//   names:       paths like /d/g, resolved one element at a time
// Without a log every change is written through at once, ordered so that a crash leaves at
// worst an unreferenced block or inode (data before the directory entry that names it).
#include "defs.h"
#include "buf.h"
#include "file.h"

static struct superblock sb;

#define MIN(a, b) ((a) < (b) ? (a) : (b))

void fsinit(uint32_t dev)
{
    struct buf *b = bread(dev, SUPERBLOCK);
    memmove(&sb, b->data, sizeof(sb));
    brelse(b);
    if (sb.magic != FSMAGIC)
        panic("fs: disk %d holds no file system (magic %x)", dev, sb.magic);
    cprintf("fs: %d blocks, %d inodes\n", sb.size, sb.ninodes);
}

// ---- blocks ----------------------------------------------------------------------------

static void bzero(uint32_t dev, uint32_t bno)
{
    struct buf *b = bread(dev, bno);
    memset(b->data, 0, BSIZE);
    bwrite(b);
    brelse(b);
}

// A zeroed free block, now marked in use; panics when the disk is full.
static uint32_t balloc(uint32_t dev)
{
    for (uint32_t base = 0; base < sb.size; base += BPB) {
        struct buf *b = bread(dev, BBLOCK(base, sb));
        for (uint32_t bi = 0; bi < BPB && base + bi < sb.size; bi++) {
            uint8_t m = 1 << (bi % 8);
            if (!(b->data[bi / 8] & m)) {
                b->data[bi / 8] |= m;
                bwrite(b);
                brelse(b);
                bzero(dev, base + bi);
                return base + bi;
            }
        }
        brelse(b);
    }
    panic("balloc: out of blocks");
}

static void bfree(uint32_t dev, uint32_t bno)
{
    struct buf *b = bread(dev, BBLOCK(bno, sb));
    uint8_t m = 1 << (bno % BPB % 8);
    if (!(b->data[bno % BPB / 8] & m))
        panic("bfree: block %d already free", bno);
    b->data[bno % BPB / 8] &= ~m;
    bwrite(b);
    brelse(b);
}

// ---- inodes -------------------------------------------------------------------------------
// The cache holds an inode while anything refers to it (ip->ref). ilock() reads it from disk
// if need be and marks it busy; iupdate() writes a changed inode back; iput() drops a
// reference, and the last one of an inode no directory names frees it and its blocks.

static struct inode icache[NINODE];
static struct spinlock icachelock = { 0, "icache", 0 };   // guards refs and I_BUSY flags

static struct inode *iget(uint32_t dev, uint32_t inum);

// A new inode of the given type on dev, referenced and not locked.
struct inode *ialloc(uint32_t dev, int16_t type)
{
    for (uint32_t inum = 1; inum < sb.ninodes; inum++) {
        struct buf *b = bread(dev, IBLOCK(inum, sb));
        struct dinode *dip = (struct dinode *)b->data + inum % IPB;
        if (dip->type == 0) {
            memset(dip, 0, sizeof(*dip));
            dip->type = type;
            bwrite(b);
            brelse(b);
            return iget(dev, inum);
        }
        brelse(b);
    }
    panic("ialloc: no inodes");
}

// Write a locked inode's fields to its dinode.
void iupdate(struct inode *ip)
{
    struct buf *b = bread(ip->dev, IBLOCK(ip->inum, sb));
    struct dinode *dip = (struct dinode *)b->data + ip->inum % IPB;
    dip->type = ip->type;
    dip->major = ip->major;
    dip->minor = ip->minor;
    dip->nlink = ip->nlink;
    dip->size = ip->size;
    memmove(dip->addrs, ip->addrs, sizeof(ip->addrs));
    bwrite(b);
    brelse(b);
}

// The cache entry for inode inum, referenced; its fields are read by the first ilock().
static struct inode *iget(uint32_t dev, uint32_t inum)
{
    struct inode *empty = 0;
    acquire(&icachelock);
    for (struct inode *ip = icache; ip < &icache[NINODE]; ip++) {
        if (ip->ref > 0 && ip->dev == dev && ip->inum == inum) {
            ip->ref++;
            release(&icachelock);
            return ip;
        }
        if (!empty && ip->ref == 0)
            empty = ip;
    }
    if (!empty)
        panic("iget: no inodes");
    empty->dev = dev;
    empty->inum = inum;
    empty->ref = 1;
    empty->flags = 0;
    release(&icachelock);
    return empty;
}

struct inode *idup(struct inode *ip)
{
    acquire(&icachelock);
    ip->ref++;
    release(&icachelock);
    return ip;
}

// Mark ip busy (sleeping while another process has it), reading it from disk if need be.
void ilock(struct inode *ip)
{
    if (!ip || ip->ref < 1)
        panic("ilock");
    acquire(&icachelock);
    while (ip->flags & I_BUSY)
        sleeplk(ip, &icachelock);
    ip->flags |= I_BUSY;
    release(&icachelock);
    if (!(ip->flags & I_VALID)) {
        struct buf *b = bread(ip->dev, IBLOCK(ip->inum, sb));
        struct dinode *dip = (struct dinode *)b->data + ip->inum % IPB;
        ip->type = dip->type;
        ip->major = dip->major;
        ip->minor = dip->minor;
        ip->nlink = dip->nlink;
        ip->size = dip->size;
        memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
        brelse(b);
        ip->flags |= I_VALID;
        if (ip->type == 0)
            panic("ilock: inode %d has no type", ip->inum);
    }
}

void iunlock(struct inode *ip)
{
    if (!ip || !(ip->flags & I_BUSY) || ip->ref < 1)
        panic("iunlock");
    acquire(&icachelock);
    ip->flags &= ~I_BUSY;
    wakeup(ip);
    release(&icachelock);
}

// Drop a reference. The last reference to an inode that no directory names frees it.
void iput(struct inode *ip)
{
    acquire(&icachelock);
    if (ip->ref == 1 && (ip->flags & I_VALID) && ip->nlink == 0) {
        if (ip->flags & I_BUSY)
            panic("iput: busy");
        ip->flags |= I_BUSY;
        release(&icachelock);   // not held across the disk writes (they sleep)
        itrunc(ip);
        ip->type = 0;
        iupdate(ip);
        acquire(&icachelock);
        ip->flags = 0;
        wakeup(ip);
    }
    ip->ref--;
    release(&icachelock);
}

void iunlockput(struct inode *ip)
{
    iunlock(ip);
    iput(ip);
}

// ---- inode data -------------------------------------------------------------------------

// The disk block holding block bn of ip's data, allocated if there is none yet.
static uint32_t bmap(struct inode *ip, uint32_t bn)
{
    uint32_t addr;
    if (bn < NDIRECT) {
        if (!(addr = ip->addrs[bn])) {
            ip->addrs[bn] = addr = balloc(ip->dev);
            iupdate(ip);
        }
        return addr;
    }
    bn -= NDIRECT;
    if (bn >= NINDIRECT)
        panic("bmap: out of range");
    if (!(addr = ip->addrs[NDIRECT])) {
        ip->addrs[NDIRECT] = addr = balloc(ip->dev);
        iupdate(ip);
    }
    struct buf *b = bread(ip->dev, addr);
    uint32_t *a = (uint32_t *)b->data;
    if (!(addr = a[bn])) {
        a[bn] = addr = balloc(ip->dev);
        bwrite(b);
    }
    brelse(b);
    return addr;
}

// Free all of a locked inode's data blocks: truncate it to length 0.
void itrunc(struct inode *ip)
{
    for (int i = 0; i < NDIRECT; i++)
        if (ip->addrs[i]) {
            bfree(ip->dev, ip->addrs[i]);
            ip->addrs[i] = 0;
        }
    if (ip->addrs[NDIRECT]) {
        struct buf *b = bread(ip->dev, ip->addrs[NDIRECT]);
        uint32_t *a = (uint32_t *)b->data;
        for (uint32_t j = 0; j < NINDIRECT; j++)
            if (a[j])
                bfree(ip->dev, a[j]);
        brelse(b);
        bfree(ip->dev, ip->addrs[NDIRECT]);
        ip->addrs[NDIRECT] = 0;
    }
    ip->size = 0;
    iupdate(ip);
}

void stati(struct inode *ip, struct stat *st)
{
    st->type = ip->type;
    st->nlink = ip->nlink;
    st->dev = ip->dev;
    st->ino = ip->inum;
    st->size = ip->size;
}

// Read up to n bytes at offset off of a locked inode into dst (kernel memory, or user
// memory already checked by the caller): the count read, or -1.
int readi(struct inode *ip, char *dst, uint32_t off, uint32_t n)
{
    if (ip->type == T_DEV) {
        if (ip->major < 0 || ip->major >= NDEV || !devsw[ip->major].read)
            return -1;
        return devsw[ip->major].read(ip, dst, n);
    }
    if (off > ip->size || off + n < off)
        return -1;
    if (off + n > ip->size)
        n = ip->size - off;
    for (uint32_t tot = 0, m; tot < n; tot += m, off += m, dst += m) {
        struct buf *b = bread(ip->dev, bmap(ip, off / BSIZE));
        m = MIN(n - tot, BSIZE - off % BSIZE);
        memmove(dst, b->data + off % BSIZE, m);
        brelse(b);
    }
    return n;
}

// Write n bytes from src at offset off of a locked inode: n, or -1.
int writei(struct inode *ip, const char *src, uint32_t off, uint32_t n)
{
    if (ip->type == T_DEV) {
        if (ip->major < 0 || ip->major >= NDEV || !devsw[ip->major].write)
            return -1;
        return devsw[ip->major].write(ip, src, n);
    }
    if (off > ip->size || off + n < off || off + n > MAXFILE * BSIZE)
        return -1;
    for (uint32_t tot = 0, m; tot < n; tot += m, off += m, src += m) {
        struct buf *b = bread(ip->dev, bmap(ip, off / BSIZE));
        m = MIN(n - tot, BSIZE - off % BSIZE);
        memmove(b->data + off % BSIZE, src, m);
        bwrite(b);
        brelse(b);
    }
    if (n > 0 && off > ip->size) {
        ip->size = off;
        iupdate(ip);
    }
    return n;
}

// ---- directories ------------------------------------------------------------------------

int namecmp(const char *s, const char *t)
{
    return strncmp(s, t, DIRSIZ);
}

// Look name up in directory dp (locked): its inode, referenced and unlocked, or 0. If poff,
// *poff is the entry's byte offset.
struct inode *dirlookup(struct inode *dp, const char *name, uint32_t *poff)
{
    struct dirent de;
    if (dp->type != T_DIR)
        panic("dirlookup: not a directory");
    for (uint32_t off = 0; off < dp->size; off += sizeof(de)) {
        if (readi(dp, (char *)&de, off, sizeof(de)) != sizeof(de))
            panic("dirlookup: read");
        if (de.inum && namecmp(name, de.name) == 0) {
            if (poff)
                *poff = off;
            return iget(dp->dev, de.inum);
        }
    }
    return 0;
}

// Add the entry (name, inum) to directory dp (locked): 0, or -1 if name is there already.
int dirlink(struct inode *dp, const char *name, uint32_t inum)
{
    struct dirent de;
    struct inode *ip = dirlookup(dp, name, 0);
    if (ip) {
        iput(ip);
        return -1;
    }
    uint32_t off;
    for (off = 0; off < dp->size; off += sizeof(de)) {   // the first free slot, or the end
        if (readi(dp, (char *)&de, off, sizeof(de)) != sizeof(de))
            panic("dirlink: read");
        if (de.inum == 0)
            break;
    }
    strncpy(de.name, name, DIRSIZ);
    de.inum = inum;
    if (writei(dp, (char *)&de, off, sizeof(de)) != sizeof(de))
        panic("dirlink: write");
    return 0;
}

// ---- path names -------------------------------------------------------------------------

// Copy the next element of path into name (DIRSIZ bytes, truncated) and return the rest,
// without leading slashes; 0 if there is no element.
//   skipelem("a/bb/c", name) = "bb/c", name "a";  skipelem("///a//bb", name) = "bb", "a"
static const char *skipelem(const char *path, char *name)
{
    while (*path == '/')
        path++;
    if (*path == 0)
        return 0;
    const char *s = path;
    while (*path != '/' && *path != 0)
        path++;
    int len = path - s;
    memmove(name, s, len >= DIRSIZ ? DIRSIZ : len);
    if (len < DIRSIZ)
        name[len] = 0;
    while (*path == '/')
        path++;
    return path;
}

// The inode path names (or, if parent, the directory holding its last element, whose
// name is copied to name). Referenced, unlocked; 0 if there is none.
static struct inode *namex(const char *path, int parent, char *name)
{
    struct inode *ip, *next;
    if (*path == '/')
        ip = iget(ROOTDEV, ROOTINO);
    else
        ip = idup(myproc()->cwd);
    while ((path = skipelem(path, name)) != 0) {
        ilock(ip);
        if (ip->type != T_DIR) {
            iunlockput(ip);
            return 0;
        }
        if (parent && *path == 0) {   // stop one level early
            iunlock(ip);
            return ip;
        }
        if (!(next = dirlookup(ip, name, 0))) {
            iunlockput(ip);
            return 0;
        }
        iunlockput(ip);
        ip = next;
    }
    if (parent) {
        iput(ip);
        return 0;
    }
    return ip;
}

struct inode *namei(const char *path)
{
    char name[DIRSIZ];
    return namex(path, 0, name);
}

struct inode *nameiparent(const char *path, char *name)
{
    return namex(path, 1, name);
}
