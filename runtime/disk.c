// Disk image files for the ATA drives. Writes reach the file at once (pwrite), in the
// guest's order, before the command completes; the cache mode (disk.h) says when they are
// made durable. With --snapshot the file is mapped copy-on-write and stays untouched, like
// QEMU's -snapshot.
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcpu.h"

static struct disk *open_disks[DISK_MAX];
static unsigned nopen;

void disk_open(struct disk *d, const char *path, bool snapshot, enum disk_cache cache)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    d->snapshot = snapshot;
    d->cache = cache;
    int flags = snapshot ? O_RDONLY : O_RDWR | (cache == DISK_WRITETHROUGH ? O_DSYNC : 0);
    d->fd = open(path, flags | O_CLOEXEC);
    struct stat st;
    if (d->fd < 0 || fstat(d->fd, &st) < 0) {
        fprintf(stderr, "ring1-run: --disk %s: %s%s\n", path, strerror(errno),
                !snapshot && errno == EACCES ? " (read-only? use --snapshot)" : "");
        exit(STATUS_LOAD_ERROR);
    }
    // One writer per image, as QEMU's image locking: a second ring1 writing it (or a
    // second --disk of it) would interleave two guests' writes.
    struct flock lk = {.l_type = snapshot ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(d->fd, F_OFD_SETLK, &lk) < 0) {
        if (errno != EAGAIN && errno != EACCES) {   // a file system without locks
            fprintf(stderr, "ring1-run: warning: --disk %s: cannot lock it (%s): another "
                    "ring1 on it would not be noticed\n", path, strerror(errno));
        } else if (!snapshot) {
            fprintf(stderr, "ring1-run: --disk %s: in use by another process (another "
                    "ring1?); --snapshot runs it with the writes kept in memory\n", path);
            exit(STATUS_LOAD_ERROR);
        } else {
            fprintf(stderr, "ring1-run: warning: --disk %s is being written by another "
                    "process: this --snapshot may see some of its writes\n", path);
        }
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 512) {
        fprintf(stderr, "ring1-run: --disk %s: want a regular file of at least 512 bytes\n",
                path);
        exit(STATUS_LOAD_ERROR);
    }
    d->size = (uint64_t)st.st_size;
    d->sectors = ((uint64_t)st.st_size + 511) / 512;
    if (snapshot) {
        d->map_len = d->sectors * 512;
        d->map = mmap(NULL, d->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, d->fd, 0);
        if (d->map == MAP_FAILED) {
            fprintf(stderr, "ring1-run: --disk %s: mmap: %s\n", path, strerror(errno));
            exit(STATUS_LOAD_ERROR);
        }
    }
    if (nopen < DISK_MAX)
        open_disks[nopen++] = d;
}

static int disk_read(void *opaque, uint64_t lba, void *buf, unsigned count)
{
    struct disk *d = opaque;
    uint64_t off = lba * 512, len = (uint64_t)count * 512;
    if (d->map) {
        memcpy(buf, d->map + off, len);   // beyond EOF the mapping reads zeros
        return 0;
    }
    uint8_t *b = buf;
    while (len) {
        ssize_t n = pread(d->fd, b, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {                  // the partial last sector: zeros past EOF
            memset(b, 0, len);
            return 0;
        }
        b += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

static int disk_write(void *opaque, uint64_t lba, const void *buf, unsigned count)
{
    struct disk *d = opaque;
    uint64_t off = lba * 512, len = (uint64_t)count * 512;
    if (d->map) {
        memcpy(d->map + off, buf, len);
        return 0;
    }
    if (off + len > d->size)   // never grow the file (its size at open: it is locked)
        len = off < d->size ? d->size - off : 0;
    const uint8_t *b = buf;
    while (len) {
        ssize_t n = pwrite(d->fd, b, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    d->dirty = d->cache == DISK_WRITEBACK;   // writethrough: durable already (O_DSYNC)
    return 0;
}

static int disk_flush(void *opaque)
{
    struct disk *d = opaque;
    if (d->map || !d->dirty || d->cache == DISK_UNSAFE)
        return 0;
    d->dirty = false;
    return fdatasync(d->fd) < 0 && errno != EINVAL ? -1 : 0;
}

struct ata_backend disk_backend(struct disk *d)
{
    return (struct ata_backend){disk_read, disk_write, disk_flush, d};
}

void disk_flush_all(void)
{
    for (unsigned i = 0; i < nopen; i++)
        disk_flush(open_disks[i]);
}
