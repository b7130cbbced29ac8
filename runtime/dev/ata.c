// ATA PIO disk channel (ATA/ATAPI-6, T13/1410D). Register semantics follow the standard and,
// where it leaves room, QEMU's hw/ide/core.c (the reference machine): taskfile writes reach
// both drives (and push the previous byte into the LBA48 HOB), reads on a channel without
// drives return 0, an absent slave reads status 0 and ignores commands, READ/WRITE MULTIPLE
// default to 16 sectors per block, the range is checked block by block (a failure aborts),
// PIO-in interrupts once per block and PIO-out after each block, the data port reads 0
// outside a transfer.
#include "ata.h"

#include <string.h>

// INTRQ: asserted on completion unless nIEN is set (then the event is lost, as in QEMU),
// deasserted by reading STATUS, writing COMMAND, or setting nIEN.
static void update_irq(struct ata_channel *c)
{
    irq_line_set(&c->irq, c->intrq && !(c->devctl & ATA_CTL_NIEN));
}

static void raise_irq(struct ata_channel *c)
{
    if (!(c->devctl & ATA_CTL_NIEN))
        c->intrq = true;
    update_irq(c);
}

static void lower_irq(struct ata_channel *c)
{
    c->intrq = false;
    update_irq(c);
}

static struct ata_drive *cur(struct ata_channel *c) { return &c->drive[c->sel]; }

static bool no_drives(const struct ata_channel *c)
{
    return !c->drive[0].present && !c->drive[1].present;
}

// The signature and state after SRST or EXECUTE DEVICE DIAGNOSTIC (§9.12): count 1, LBA
// 1/0/0 (an ATA device), error 01h (passed), ready.
static void drive_reset(struct ata_drive *d)
{
    d->feature = d->hob_feature = 0;
    d->nsect = 1;
    d->lbal = 1;
    d->lbam = d->lbah = 0;
    d->hob_nsect = d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
    d->device = ATA_DEV_OBS;
    d->error = 0x01;
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
    d->mult = ATA_MAX_MULT;
    d->lheads = d->heads;
    d->lsecs = d->secs;
    d->cmd = 0;
    d->pos = d->end = 0;
    d->remaining = 0;
}

// What a kernel finds after SeaBIOS probed the drives under QEMU (read from a guest:
// runtime/tests/guest/ata.c): the task file cleared and ready; an empty master beside a
// slave still shows the abort of the BIOS's IDENTIFY.
static void drive_post(struct ata_drive *d)
{
    drive_reset(d);
    d->nsect = d->lbal = 0;
    d->error = 0;
    d->device = ATA_DEV_OBS;
    if (d->empty) {
        d->status = ATA_SR_DRDY | ATA_SR_ERR;
        d->error = ATA_ER_ABRT;
    } else if (!d->present) {
        d->status = 0;
    }
}

void ata_init(struct ata_channel *c)
{
    struct irq_line irq = c->irq;
    struct ata_drive saved[2];
    memcpy(saved, c->drive, sizeof saved);
    memset(c, 0, sizeof *c);
    c->irq = irq;
    for (int i = 0; i < 2; i++) {
        if (saved[i].present) {
            c->drive[i].present = true;
            c->drive[i].be = saved[i].be;
            c->drive[i].sectors = saved[i].sectors;
            memcpy(c->drive[i].serial, saved[i].serial, sizeof saved[i].serial);
            c->drive[i].cyls = saved[i].cyls;
            c->drive[i].heads = saved[i].heads;
            c->drive[i].secs = saved[i].secs;
        }
    }
    c->drive[0].empty = !c->drive[0].present && c->drive[1].present;
    for (int i = 0; i < 2; i++)
        drive_post(&c->drive[i]);
    // SeaBIOS probes the master, then the slave: a channel with a drive is left with the
    // slave selected (runtime/tests/guest/pcprobe.c reads it).
    if (!no_drives(c)) {
        c->sel = 1;
        for (int i = 0; i < 2; i++)
            c->drive[i].device = ATA_DEV_OBS | ATA_DEV_DEV;
    }
}

void ata_attach(struct ata_channel *c, unsigned slot, unsigned index, uint64_t sectors,
                const struct ata_backend *be)
{
    struct ata_drive *d = &c->drive[slot & 1];
    d->present = true;
    d->be = *be;
    d->sectors = sectors;
    // QEMU's geometry guess for a disk without a partition table hint: 16 heads, 63 sectors.
    uint64_t cyls = sectors / (16 * 63);
    d->cyls = cyls > 16383 ? 16383 : cyls < 2 ? 2 : (unsigned)cyls;
    d->heads = 16;
    d->secs = 63;
    // QEMU numbers serials across all IDE drives in creation order: QM00001 ...
    memset(d->serial, 0, sizeof d->serial);
    const char *p = "QM0000";
    for (int i = 0; p[i]; i++)
        d->serial[i] = p[i];
    d->serial[6] = (char)('1' + index);
    drive_reset(d);
}

// ---- addressing --------------------------------------------------------------------------
static uint64_t get_sector(const struct ata_drive *d)
{
    if (d->lba48)
        return (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
               (uint64_t)d->hob_lbal << 24 | (uint32_t)d->lbah << 16 |
               (uint32_t)d->lbam << 8 | d->lbal;
    if (d->device & ATA_DEV_LBA)
        return (uint64_t)(d->device & 0x0f) << 24 | (uint32_t)d->lbah << 16 |
               (uint32_t)d->lbam << 8 | d->lbal;
    unsigned cyl = (unsigned)d->lbah << 8 | d->lbam;
    unsigned heads = d->lheads ? d->lheads : 1, secs = d->lsecs ? d->lsecs : 1;
    if (d->lbal == 0)
        return UINT64_MAX;   // sector numbers start at 1: no such address
    return ((uint64_t)cyl * heads + (d->device & 0x0f)) * secs + (d->lbal - 1u);
}

static void set_sector(struct ata_drive *d, uint64_t n)
{
    if (d->lba48) {
        d->lbal = (uint8_t)n;
        d->lbam = (uint8_t)(n >> 8);
        d->lbah = (uint8_t)(n >> 16);
        d->hob_lbal = (uint8_t)(n >> 24);
        d->hob_lbam = (uint8_t)(n >> 32);
        d->hob_lbah = (uint8_t)(n >> 40);
        return;
    }
    if (d->device & ATA_DEV_LBA) {
        d->device = (uint8_t)((d->device & 0xf0) | ((n >> 24) & 0x0f));
        d->lbah = (uint8_t)(n >> 16);
        d->lbam = (uint8_t)(n >> 8);
        d->lbal = (uint8_t)n;
        return;
    }
    unsigned heads = d->lheads ? d->lheads : 1, secs = d->lsecs ? d->lsecs : 1;
    uint64_t cyl = n / (heads * secs), r = n % (heads * secs);
    d->lbah = (uint8_t)(cyl >> 8);
    d->lbam = (uint8_t)cyl;
    d->device = (uint8_t)((d->device & 0xf0) | ((r / secs) & 0x0f));
    d->lbal = (uint8_t)(r % secs + 1);
}

// ---- command completion --------------------------------------------------------------------
// The sector count register(s) follow the transfer: what remains (nsect, and its HOB byte
// for EXT commands), as QEMU decrements them.
static void count_down(struct ata_drive *d)
{
    d->nsect = (uint8_t)d->remaining;
    if (d->lba48)
        d->hob_nsect = (uint8_t)(d->remaining >> 8);
}

static void abort_cmd(struct ata_channel *c, struct ata_drive *d, uint8_t err)
{
    d->error = err;
    d->status = ATA_SR_DRDY | ATA_SR_ERR;
    d->cmd = 0;
    d->pos = d->end = 0;
    raise_irq(c);
}

static void done(struct ata_channel *c, struct ata_drive *d, bool irq)
{
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
    d->cmd = 0;
    d->pos = d->end = 0;
    if (irq)
        raise_irq(c);
}

static bool is_write(uint8_t cmd)
{
    return cmd == ATA_CMD_WRITE || cmd == ATA_CMD_WRITE_NORETRY ||
           cmd == ATA_CMD_WRITE_MULTIPLE || cmd == ATA_CMD_WRITE_EXT ||
           cmd == ATA_CMD_WRITE_MULTIPLE_EXT;
}

static bool is_multiple(uint8_t cmd)
{
    return cmd == ATA_CMD_READ_MULTIPLE || cmd == ATA_CMD_WRITE_MULTIPLE ||
           cmd == ATA_CMD_READ_MULTIPLE_EXT || cmd == ATA_CMD_WRITE_MULTIPLE_EXT;
}

static unsigned block_sectors(const struct ata_drive *d)
{
    unsigned n = is_multiple(d->cmd) ? d->mult : 1;
    return n < d->remaining ? n : d->remaining;
}

// QEMU's ide_sect_range_ok, block by block: a failure aborts the command there.
static bool range_ok(const struct ata_drive *d, unsigned n)
{
    return d->lba != UINT64_MAX && d->lba + n <= d->sectors;
}

// PIO data-in: read the next block into the buffer and request its transfer (§9.7).
static void read_block(struct ata_channel *c, struct ata_drive *d)
{
    unsigned n = block_sectors(d);
    if (!range_ok(d, n)) {
        abort_cmd(c, d, ATA_ER_ABRT);
        return;
    }
    if (d->be.read(d->be.opaque, d->lba, d->buf, n) < 0) {
        abort_cmd(c, d, ATA_ER_UNC | ATA_ER_ABRT);
        return;
    }
    c->sectors_read += n;
    d->lba += n;
    d->remaining -= n;
    count_down(d);
    set_sector(d, d->lba);
    d->pos = 0;
    d->end = n * ATA_SECTOR;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
    raise_irq(c);
}

// PIO data-out: ask for the next block (§9.8); the first one without an interrupt.
static void want_block(struct ata_drive *d)
{
    d->pos = 0;
    d->end = block_sectors(d) * ATA_SECTOR;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
}

// The host filled the buffer of a PIO data-out command: write it.
static void write_block(struct ata_channel *c, struct ata_drive *d)
{
    unsigned n = d->end / ATA_SECTOR;
    if (!range_ok(d, n)) {
        abort_cmd(c, d, ATA_ER_ABRT);
        return;
    }
    if (d->be.write(d->be.opaque, d->lba, d->buf, n) < 0) {
        abort_cmd(c, d, ATA_ER_ABRT);
        return;
    }
    c->sectors_written += n;
    d->lba += n;
    d->remaining -= n;
    count_down(d);
    set_sector(d, d->lba);
    if (d->remaining) {
        want_block(d);
        raise_irq(c);
    } else {
        done(c, d, true);
    }
}

static void put_str(uint16_t *w, const char *s, unsigned words)
{
    // ATA strings: two characters per word, the first in the high byte, space padded.
    for (unsigned i = 0; i < words * 2; i++) {
        char ch = *s ? *s++ : ' ';
        if (i & 1)
            w[i / 2] = (uint16_t)(w[i / 2] | (uint8_t)ch);
        else
            w[i / 2] = (uint16_t)((uint8_t)ch << 8);
    }
}

// IDENTIFY DEVICE data (§8.15), word for word QEMU's ide_identify for a raw image (read from
// a guest: runtime/tests/guest/ata.c). The DMA words describe the drive; no bus-master
// controller exists to use them.
static void identify(struct ata_drive *d, uint16_t *w)
{
    memset(w, 0, ATA_SECTOR);
    w[0] = 0x0040;                      // fixed device
    w[1] = (uint16_t)d->cyls;
    w[3] = (uint16_t)d->heads;
    w[4] = (uint16_t)(512 * d->secs);
    w[5] = 512;
    w[6] = (uint16_t)d->secs;
    put_str(w + 10, d->serial, 10);
    w[20] = 3;
    w[21] = 512;                        // cache size in sectors
    w[22] = 4;                          // ECC bytes
    put_str(w + 23, "2.5+", 4);         // firmware revision
    put_str(w + 27, "QEMU HARDDISK", 20);
    w[47] = 0x8000 | ATA_MAX_MULT;
    w[48] = 1;                          // dword I/O
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);   // IORDY, LBA, DMA
    w[51] = 0x200;                      // PIO cycle timing
    w[52] = 0x200;
    w[53] = 1 | (1 << 1) | (1 << 2);    // words 54-58, 64-70 and 88 valid
    w[54] = (uint16_t)d->cyls;
    w[55] = (uint16_t)d->heads;
    w[56] = (uint16_t)d->secs;
    uint32_t chs = d->cyls * d->heads * d->secs;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    if (d->mult)
        w[59] = (uint16_t)(0x100 | d->mult);
    uint32_t lba28 = d->sectors > ATA_LBA28_MAX ? ATA_LBA28_MAX : (uint32_t)d->sectors;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[62] = 0x07;                       // single-word DMA 0-2
    w[63] = 0x07;                       // multiword DMA 0-2
    w[64] = 0x03;                       // PIO modes 3 and 4
    w[65] = w[66] = w[67] = w[68] = 120;
    w[69] = 1 << 14;                    // deterministic TRIM behaviour
    w[80] = 0xf0;                       // ATA-4 to ATA-7
    w[81] = 0x16;
    w[82] = (1 << 14) | (1 << 5) | 1;   // NOP, write cache, SMART
    w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);   // FLUSH EXT, FLUSH, LBA48
    w[84] = 1 << 14;
    w[85] = (1 << 14) | (1 << 5) | 1;
    w[86] = (1 << 13) | (1 << 12) | (1 << 10);
    w[87] = 1 << 14;
    w[88] = 0x3f | (1 << 13);           // UDMA 0-5, 5 selected
    w[93] = 1 | (1 << 14) | 0x2000;
    w[100] = (uint16_t)d->sectors;
    w[101] = (uint16_t)(d->sectors >> 16);
    w[102] = (uint16_t)(d->sectors >> 32);
    w[103] = (uint16_t)(d->sectors >> 48);
    w[106] = 0x6000;                    // logical sector = physical sector: 512 bytes
    w[169] = 1;                         // TRIM supported
}

static void start_rw(struct ata_channel *c, struct ata_drive *d, uint8_t cmd, bool ext)
{
    d->lba48 = ext;
    unsigned count = ext ? ((unsigned)d->hob_nsect << 8 | d->nsect) : d->nsect;
    if (!count)
        count = ext ? 65536 : 256;
    if (is_multiple(cmd) && !d->mult) {
        abort_cmd(c, d, ATA_ER_ABRT);
        return;
    }
    d->cmd = cmd;
    d->lba = get_sector(d);
    d->remaining = count;
    if (is_write(cmd))
        want_block(d);
    else
        read_block(c, d);
}

static void execute(struct ata_channel *c, uint8_t cmd)
{
    struct ata_drive *d = cur(c);
    if (!d->present && !d->empty)
        return;   // QEMU: commands to a slave that does not exist are ignored
    if (d->status & (ATA_SR_BSY | ATA_SR_DRQ))
        return;   // only DEVICE RESET is accepted then, and this is not an ATAPI device
    lower_irq(c);
    d->error = 0;
    d->lba48 = false;
    if (d->empty) {
        abort_cmd(c, d, ATA_ER_ABRT);   // a master with no medium: everything aborts
        return;
    }
    switch (cmd) {
    case ATA_CMD_IDENTIFY:
        identify(d, (uint16_t *)d->buf);
        d->cmd = cmd;
        d->pos = 0;
        d->end = ATA_SECTOR;
        d->remaining = 0;
        d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
        raise_irq(c);
        return;
    case ATA_CMD_READ: case ATA_CMD_READ_NORETRY: case ATA_CMD_READ_MULTIPLE:
    case ATA_CMD_WRITE: case ATA_CMD_WRITE_NORETRY: case ATA_CMD_WRITE_MULTIPLE:
        start_rw(c, d, cmd, false);
        return;
    case ATA_CMD_READ_EXT: case ATA_CMD_READ_MULTIPLE_EXT:
    case ATA_CMD_WRITE_EXT: case ATA_CMD_WRITE_MULTIPLE_EXT:
        start_rw(c, d, cmd, true);
        return;
    case ATA_CMD_READ_NATIVE_MAX: case ATA_CMD_READ_NATIVE_MAX_EXT:
        d->lba48 = cmd == ATA_CMD_READ_NATIVE_MAX_EXT;
        set_sector(d, d->sectors - 1);
        done(c, d, true);
        return;
    case ATA_CMD_VERIFY: case ATA_CMD_VERIFY_NORETRY: case ATA_CMD_VERIFY_EXT: {
        d->lba48 = cmd == ATA_CMD_VERIFY_EXT;
        unsigned count = d->lba48 ? ((unsigned)d->hob_nsect << 8 | d->nsect) : d->nsect;
        if (!count)
            count = d->lba48 ? 65536 : 256;
        uint64_t lba = get_sector(d);
        if (lba == UINT64_MAX || lba + count > d->sectors) {
            abort_cmd(c, d, ATA_ER_ABRT | ATA_ER_IDNF);
            return;
        }
        set_sector(d, lba + count - 1);
        d->nsect = d->hob_nsect = 0;
        done(c, d, true);
        return;
    }
    case ATA_CMD_SET_MULTIPLE: {
        unsigned n = d->nsect;
        if (n > ATA_MAX_MULT || (n & (n - 1))) {   // 0 disables; else a power of two
            abort_cmd(c, d, ATA_ER_ABRT);
            return;
        }
        d->mult = n;
        done(c, d, true);
        return;
    }
    case ATA_CMD_INIT_PARAMS:
        d->lsecs = d->nsect;
        d->lheads = (d->device & 0x0f) + 1u;
        done(c, d, true);
        return;
    case ATA_CMD_FLUSH_CACHE: case ATA_CMD_FLUSH_CACHE_EXT:
        c->flushes++;
        if (d->be.flush && d->be.flush(d->be.opaque) < 0) {
            abort_cmd(c, d, ATA_ER_ABRT);
            return;
        }
        done(c, d, true);
        return;
    case ATA_CMD_DIAGNOSE:
        // Both drives run it; device 0 reports for both (§8.11).
        for (int i = 0; i < 2; i++)
            if (c->drive[i].present)
                drive_reset(&c->drive[i]);
        raise_irq(c);
        return;
    case ATA_CMD_CHECK_POWER:
        d->nsect = 0xff;                 // active or idle
        done(c, d, true);
        return;
    case ATA_CMD_SEEK:
    case ATA_CMD_STANDBY_NOW: case ATA_CMD_IDLE_NOW: case ATA_CMD_STANDBY: case ATA_CMD_IDLE:
    case ATA_CMD_SET_FEATURES:
        done(c, d, true);
        return;
    default:
        if ((cmd & 0xf0) == ATA_CMD_RECALIBRATE) {   // 10h-1Fh: all RECALIBRATE
            done(c, d, true);
            return;
        }
        abort_cmd(c, d, ATA_ER_ABRT);    // DMA, ATAPI, vendor commands
        return;
    }
}

// ---- the data port ---------------------------------------------------------------------------
static uint32_t data_read(struct ata_channel *c, int size)
{
    struct ata_drive *d = cur(c);
    if (!(d->status & ATA_SR_DRQ) || is_write(d->cmd) || d->pos >= d->end)
        return 0;   // QEMU: outside a PIO-in transfer the data port reads 0
    uint32_t v = 0;
    for (int i = 0; i < size && d->pos < d->end; i++)
        v |= (uint32_t)d->buf[d->pos++] << (8 * i);
    if (d->pos >= d->end) {
        if (d->cmd != ATA_CMD_IDENTIFY && d->remaining)
            read_block(c, d);
        else
            done(c, d, false);
    }
    return v;
}

static void data_write(struct ata_channel *c, int size, uint32_t v)
{
    struct ata_drive *d = cur(c);
    if (!(d->status & ATA_SR_DRQ) || !is_write(d->cmd) || d->pos >= d->end)
        return;
    for (int i = 0; i < size && d->pos < d->end; i++)
        d->buf[d->pos++] = (uint8_t)(v >> (8 * i));
    if (d->pos >= d->end)
        write_block(c, d);
}

// ---- registers -----------------------------------------------------------------------------
uint32_t ata_read(struct ata_channel *c, unsigned reg, int size)
{
    struct ata_drive *d = cur(c);
    if (reg == ATA_DATA)
        return d->present ? data_read(c, size) : 0;
    bool none = no_drives(c), hob = c->devctl & ATA_CTL_HOB, here = d->present || d->empty;
    switch (reg) {
    case ATA_ERROR:  return none || !here ? 0 : hob ? d->hob_feature : d->error;
    case ATA_NSECT:  return none ? 0 : hob ? d->hob_nsect : d->nsect;
    case ATA_LBAL:   return none ? 0 : hob ? d->hob_lbal : d->lbal;
    case ATA_LBAM:   return none ? 0 : hob ? d->hob_lbam : d->lbam;
    case ATA_LBAH:   return none ? 0 : hob ? d->hob_lbah : d->lbah;
    case ATA_DEVICE: return none ? 0 : d->device;
    default:         // ATA_STATUS: reading it acknowledges the interrupt
        lower_irq(c);
        return none || !here ? 0 : d->status;
    }
}

void ata_write(struct ata_channel *c, unsigned reg, int size, uint32_t val)
{
    uint8_t b = (uint8_t)val;
    if (reg == ATA_DATA) {
        if (cur(c)->present)
            data_write(c, size, val);
        return;
    }
    // Each task file write pushes the register's previous byte into its HOB twin (LBA48
    // takes the high bytes first); writing any of them clears the HOB read-back bit.
    if (reg != ATA_COMMAND)
        c->devctl &= (uint8_t)~ATA_CTL_HOB;
    for (int i = 0; i < 2 && reg != ATA_COMMAND; i++) {
        struct ata_drive *d = &c->drive[i];
        switch (reg) {
        case ATA_FEATURES: d->hob_feature = d->feature; d->feature = b; break;
        case ATA_NSECT:    d->hob_nsect = d->nsect; d->nsect = b; break;
        case ATA_LBAL:     d->hob_lbal = d->lbal; d->lbal = b; break;
        case ATA_LBAM:     d->hob_lbam = d->lbam; d->lbam = b; break;
        case ATA_LBAH:     d->hob_lbah = d->lbah; d->lbah = b; break;
        case ATA_DEVICE:   d->device = b | ATA_DEV_OBS; break;
        }
    }
    if (reg == ATA_DEVICE)
        c->sel = (b & ATA_DEV_DEV) ? 1 : 0;
    else if (reg == ATA_COMMAND)
        execute(c, b);
}

uint8_t ata_ctl_read(struct ata_channel *c)
{
    const struct ata_drive *d = cur(c);
    return no_drives(c) || !(d->present || d->empty) ? 0 : d->status;
}

void ata_ctl_write(struct ata_channel *c, uint8_t val)
{
    bool srst = (val & ATA_CTL_SRST) && !(c->devctl & ATA_CTL_SRST);
    c->devctl = val;
    if (srst) {
        // Software reset (§9.2): both drives reset, then run their diagnostics, device 0
        // is selected, and the channel interrupts as QEMU's does.
        for (int i = 0; i < 2; i++)
            if (c->drive[i].present || c->drive[i].empty)
                drive_reset(&c->drive[i]);
        c->sel = 0;
        if (!no_drives(c)) {
            raise_irq(c);
            return;
        }
    }
    update_irq(c);   // nIEN may have changed
}
