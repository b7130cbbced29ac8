// Disk image files behind the ATA drives (--disk, --snapshot): the host side of dev/ata.c.
#ifndef RING1_DISK_H
#define RING1_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/ata.h"

#define DISK_MAX 4   // QEMU's IDE indexes 0-3: primary master/slave, secondary master/slave

// What the guest's writes promise, as QEMU's -drive cache= (the same names and meaning for
// the host's page cache; none/directsync, O_DIRECT, are not offered):
//   writeback     every write reaches the file at once (pwrite: other processes see it, and
//                 it survives ring1 being killed, even by SIGKILL); it is made durable
//                 (fdatasync) on the guest's FLUSH CACHE and at every exit ring1 itself takes.
//   writethrough  the same, and every write is durable before the guest sees it complete
//                 (O_DSYNC): after a host crash the file holds a prefix of the guest's writes.
//   unsafe        FLUSH CACHE does nothing and neither does exit: the writes are in the file
//                 (the host's page cache), durable whenever the host gets to it.
enum disk_cache { DISK_WRITEBACK, DISK_WRITETHROUGH, DISK_UNSAFE };

struct disk {
    const char *path;
    enum disk_cache cache;
    int fd;
    uint64_t sectors;
    uint64_t size;       // bytes, at open
    bool snapshot;       // writes go to a private copy, the file is never modified
    uint8_t *map;        // the file mapped MAP_PRIVATE (snapshot), else NULL
    uint64_t map_len;
    bool dirty;          // written since the last flush
};

// Open path for drive index (0-3). Exits with STATUS_LOAD_ERROR and a message if it cannot,
// or if another process (another ring1) has it open for writing: the file is locked (an
// open file description lock, F_OFD_SETLK) for as long as ring1 runs -- for writing, or with
// snapshot for reading (a writer is then refused; a snapshot never is, it only warns if a
// writer is there). A file whose size is not a multiple of 512 has its last partial sector
// readable as zeros beyond the end and never written past the end.
void disk_open(struct disk *d, const char *path, bool snapshot, enum disk_cache cache);
struct ata_backend disk_backend(struct disk *d);
// Make every open disk's writes durable (at exit; async-signal-safe: fdatasync only).
void disk_flush_all(void);

#endif
