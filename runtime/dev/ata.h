// ATA PIO disk channel: one command block + control block, master and slave drives
// (ATA/ATAPI-6, T13/1410D: §7 register descriptions, §8 commands, §9 PIO protocols). CHS,
// LBA28 and LBA48 addressing, PIO data-in/out, READ/WRITE (MULTIPLE) (EXT), FLUSH CACHE
// (EXT), IDENTIFY DEVICE; no DMA (no bus-master controller: DMA commands abort), no ATAPI.
// The registers behave as QEMU's IDE (hw/ide/core.c) does, so a kernel probing them sees
// what it sees under QEMU after SeaBIOS: a channel with no drive reads 0, an absent slave
// reads status 0 and ignores commands, an absent master beside a slave aborts them.
#ifndef RING1_ATA_H
#define RING1_ATA_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

// Command block registers, offsets from the base port (0x1f0 primary, 0x170 secondary).
#define ATA_DATA       0   // 16-bit (or 32-bit) PIO data
#define ATA_ERROR      1   // read
#define ATA_FEATURES   1   // write
#define ATA_NSECT      2   // sector count
#define ATA_LBAL       3   // LBA 7:0 / sector number
#define ATA_LBAM       4   // LBA 15:8 / cylinder low
#define ATA_LBAH       5   // LBA 23:16 / cylinder high
#define ATA_DEVICE     6   // device/head: DEV bit 4, LBA bit 6, LBA 27:24 / head in 3:0
#define ATA_STATUS     7   // read (clears the pending interrupt)
#define ATA_COMMAND    7   // write
// Control block register (base 0x3f6 primary, 0x376 secondary).
#define ATA_ALTSTATUS  0   // read: status without side effects
#define ATA_DEVCTL     0   // write

#define ATA_PRIMARY_BASE     0x1f0
#define ATA_PRIMARY_CTL      0x3f6
#define ATA_PRIMARY_IRQ      14
#define ATA_SECONDARY_BASE   0x170
#define ATA_SECONDARY_CTL    0x376
#define ATA_SECONDARY_IRQ    15

#define ATA_SR_BSY   0x80  // busy
#define ATA_SR_DRDY  0x40  // device ready
#define ATA_SR_DF    0x20  // device fault
#define ATA_SR_DSC   0x10  // seek complete (obsolete, QEMU sets it)
#define ATA_SR_DRQ   0x08  // data request
#define ATA_SR_ERR   0x01  // error

#define ATA_ER_ABRT  0x04  // command aborted
#define ATA_ER_IDNF  0x10  // ID not found (address out of range)
#define ATA_ER_UNC   0x40  // uncorrectable data error (the backing file failed)

#define ATA_DEV_DEV  0x10  // device select: 0 master, 1 slave
#define ATA_DEV_LBA  0x40  // LBA addressing
#define ATA_DEV_OBS  0xa0  // obsolete bits, always set on read

#define ATA_CTL_NIEN 0x02  // interrupts disabled
#define ATA_CTL_SRST 0x04  // software reset

#define ATA_CTL_HOB  0x80  // read the high-order bytes of the LBA48 registers

// Commands.
#define ATA_CMD_RECALIBRATE     0x10
#define ATA_CMD_READ            0x20
#define ATA_CMD_READ_NORETRY    0x21
#define ATA_CMD_WRITE           0x30
#define ATA_CMD_WRITE_NORETRY   0x31
#define ATA_CMD_READ_EXT        0x24
#define ATA_CMD_READ_NATIVE_MAX_EXT 0x27
#define ATA_CMD_READ_MULTIPLE_EXT 0x29
#define ATA_CMD_WRITE_EXT       0x34
#define ATA_CMD_WRITE_MULTIPLE_EXT 0x39
#define ATA_CMD_VERIFY_EXT      0x42
#define ATA_CMD_VERIFY          0x40
#define ATA_CMD_VERIFY_NORETRY  0x41
#define ATA_CMD_SEEK            0x70
#define ATA_CMD_DIAGNOSE        0x90
#define ATA_CMD_INIT_PARAMS     0x91
#define ATA_CMD_PACKET_IDENTIFY 0xa1
#define ATA_CMD_READ_MULTIPLE   0xc4
#define ATA_CMD_WRITE_MULTIPLE  0xc5
#define ATA_CMD_SET_MULTIPLE    0xc6
#define ATA_CMD_STANDBY_NOW     0xe0
#define ATA_CMD_IDLE_NOW        0xe1
#define ATA_CMD_STANDBY         0xe2
#define ATA_CMD_IDLE            0xe3
#define ATA_CMD_CHECK_POWER     0xe5
#define ATA_CMD_FLUSH_CACHE     0xe7
#define ATA_CMD_FLUSH_CACHE_EXT 0xea
#define ATA_CMD_READ_NATIVE_MAX 0xf8
#define ATA_CMD_IDENTIFY        0xec
#define ATA_CMD_SET_FEATURES    0xef

#define ATA_SECTOR      512
#define ATA_MAX_MULT    16          // sectors per READ/WRITE MULTIPLE block (IDENTIFY word 47)
#define ATA_LBA28_MAX   0x0fffffffu
#define ATA_LBA48_MAX   0xffffffffffffull

// A drive's backing store, in 512-byte sectors. Each returns 0, or -1 on a host I/O error.
struct ata_backend {
    int (*read)(void *opaque, uint64_t lba, void *buf, unsigned count);
    int (*write)(void *opaque, uint64_t lba, const void *buf, unsigned count);
    int (*flush)(void *opaque);
    void *opaque;
};

struct ata_drive {
    bool present;                  // a disk is attached
    bool empty;                    // no disk, but the other drive of the channel has one and
                                   // this is the master: it answers, and aborts commands
    struct ata_backend be;
    uint64_t sectors;              // capacity
    char serial[21];               // IDENTIFY strings
    // Translated CHS geometry (default, then INITIALIZE DEVICE PARAMETERS).
    unsigned cyls, heads, secs;         // default geometry
    unsigned lheads, lsecs;             // current logical heads / sectors per track
    // Task file (QEMU keeps one per drive; writes go to both drives of the channel).
    uint8_t error, feature, nsect, lbal, lbam, lbah, device, status;
    uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;   // LBA48 previous bytes
    bool lba48;                    // the command in progress is an EXT one
    unsigned mult;                 // READ/WRITE MULTIPLE block size, 0 = not set
    // PIO transfer.
    uint8_t buf[ATA_MAX_MULT * ATA_SECTOR];
    unsigned pos, end;             // bytes of buf being transferred
    uint64_t lba;                  // next sector of the current command
    unsigned remaining;            // sectors still to transfer after buf
    uint8_t cmd;                   // command in progress (0 = none)
};

struct ata_channel {
    struct ata_drive drive[2];
    uint8_t devctl;
    unsigned sel;                  // selected drive: 0 or 1
    bool intrq;                    // interrupt pending (QEMU keeps one per channel)
    struct irq_line irq;
    // Statistics for --stats.
    uint64_t sectors_read, sectors_written, flushes;
};

void ata_init(struct ata_channel *c);
// Attach a drive of `sectors` sectors to slot 0 (master) or 1 (slave); index is the drive's
// number on the machine (0-3, QEMU's -drive index), for its serial number.
void ata_attach(struct ata_channel *c, unsigned slot, unsigned index, uint64_t sectors,
                const struct ata_backend *be);
// Command block (reg 0-7; size 2 or 4 for the data port) and control block accesses.
uint32_t ata_read(struct ata_channel *c, unsigned reg, int size);
void ata_write(struct ata_channel *c, unsigned reg, int size, uint32_t val);
uint8_t ata_ctl_read(struct ata_channel *c);
void ata_ctl_write(struct ata_channel *c, uint8_t val);

#endif
