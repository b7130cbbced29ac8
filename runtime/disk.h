// Disk image files behind the ATA drives (--disk, --snapshot): the host side of dev/ata.c.
#ifndef RING1_DISK_H
#define RING1_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/ata.h"

#define DISK_MAX 4   // QEMU's IDE indexes 0-3: primary master/slave, secondary master/slave

struct disk {
    const char *path;
    int fd;
    uint64_t sectors;
    bool snapshot;       // writes go to a private copy, the file is never modified
    uint8_t *map;        // the file mapped MAP_PRIVATE (snapshot), else NULL
    uint64_t map_len;
    bool dirty;          // written since the last flush
};

// Open path for drive index (0-3). Exits with STATUS_LOAD_ERROR and a message if it cannot.
// A file whose size is not a multiple of 512 has its last partial sector readable as zeros
// beyond the end and never written past the end.
void disk_open(struct disk *d, const char *path, bool snapshot);
struct ata_backend disk_backend(struct disk *d);
// Flush every open disk's writes to its file (at exit).
void disk_flush_all(void);

#endif
