// Register-level tests of the ATA PIO channel (dev/ata.c) against a RAM-backed drive and a
// fake IRQ line: ATA/ATAPI-6 register semantics and the protocols of §9 (PIO data-in/out).
#include "unit.h"

#include "ata.h"
#include "fake_irq.h"

#define SECTORS 4096
static uint8_t disk[SECTORS * 512];
static struct ata_channel ch;
static struct fake_irq irq;
static int flushes, fail_io;

static int be_read(void *o, uint64_t lba, void *buf, unsigned n)
{
    (void)o;
    if (fail_io)
        return -1;
    memcpy(buf, disk + lba * 512, n * 512);
    return 0;
}
static int be_write(void *o, uint64_t lba, const void *buf, unsigned n)
{
    (void)o;
    if (fail_io)
        return -1;
    memcpy(disk + lba * 512, buf, n * 512);
    return 0;
}
static int be_flush(void *o) { (void)o; flushes++; return 0; }

static void setup_drives(bool master, bool slave)
{
    memset(&ch, 0, sizeof ch);
    memset(&irq, 0, sizeof irq);
    flushes = fail_io = 0;
    for (unsigned i = 0; i < SECTORS; i++)
        for (unsigned j = 0; j < 512; j++)
            disk[i * 512 + j] = (uint8_t)(i ^ j);
    struct ata_backend be = {be_read, be_write, be_flush, NULL};
    if (master)
        ata_attach(&ch, 0, 0, SECTORS, &be);
    if (slave)
        ata_attach(&ch, 1, 1, SECTORS, &be);
    ch.irq = fake_irq_line(&irq, 14);
    ata_init(&ch);
}

// The tests address the master unless they select the slave (the BIOS left the slave
// selected: post_selection).
static void setup_master(bool master, bool slave)
{
    setup_drives(master, slave);
    ata_write(&ch, ATA_DEVICE, 1, 0xa0);
}

static void setup(void) { setup_master(true, false); }

static void lba28(unsigned dev, uint32_t lba, uint8_t count)
{
    ata_write(&ch, ATA_DEVICE, 1, 0xe0 | dev << 4 | (lba >> 24));
    ata_write(&ch, ATA_NSECT, 1, count);
    ata_write(&ch, ATA_LBAL, 1, lba & 0xff);
    ata_write(&ch, ATA_LBAM, 1, (lba >> 8) & 0xff);
    ata_write(&ch, ATA_LBAH, 1, (lba >> 16) & 0xff);
}

static uint8_t status(void) { return (uint8_t)ata_read(&ch, ATA_STATUS, 1); }

TEST(post_state_as_seabios_leaves_it)
{
    setup();
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2), 0);   // no transfer: the data port reads 0
}

TEST(post_selection)
{
    setup_drives(true, false);   // SeaBIOS probed the master, then the absent slave
    CHECK_EQ(ata_read(&ch, ATA_DEVICE, 1), 0xb0);
    CHECK_EQ(status(), 0);
    CHECK_EQ(ata_ctl_read(&ch), 0);
    setup_drives(false, true);
    CHECK_EQ(ata_read(&ch, ATA_DEVICE, 1), 0xb0);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), 0);
    setup_drives(false, false);
    CHECK_EQ(ata_read(&ch, ATA_DEVICE, 1), 0);
}

TEST(signature_after_diagnose)
{
    setup();
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_DIAGNOSE);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 1);
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 1);
    CHECK_EQ(ata_read(&ch, ATA_LBAM, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_LBAH, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), 1);   // diagnostic code: passed
    CHECK_EQ(irq.level, 0);
}

TEST(channel_without_drives_reads_zero)
{
    setup_master(false, false);
    CHECK_EQ(status(), 0);
    CHECK_EQ(ata_ctl_read(&ch), 0);
    ata_write(&ch, ATA_NSECT, 1, 0x55);
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2), 0);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    CHECK_EQ(irq.rises, 0);
}

TEST(absent_slave_reads_status_zero_and_ignores_commands)
{
    setup();
    ata_write(&ch, ATA_DEVICE, 1, 0xf0);
    CHECK_EQ(status(), 0);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), 0);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    CHECK_EQ(irq.rises, 0);
    ata_write(&ch, ATA_DEVICE, 1, 0xe0);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);   // the master is untouched
}

TEST(empty_master_beside_a_slave_aborts_commands)
{
    setup_master(false, true);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);   // the BIOS's IDENTIFY was aborted
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), ATA_ER_ABRT);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2), 0);
}

TEST(slave_only_channel)
{
    setup_master(false, true);
    ata_write(&ch, ATA_DEVICE, 1, 0xf0);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    lba28(1, 7, 1);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(status() & ATA_SR_DRQ, ATA_SR_DRQ);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2), (7 ^ 0) | (7 ^ 1) << 8);
}

TEST(identify_device)
{
    setup();
    ata_write(&ch, ATA_DEVICE, 1, 0xa0);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(ata_ctl_read(&ch) & ATA_SR_DRQ, ATA_SR_DRQ);
    CHECK_EQ(irq.level, 1);                    // ALTSTATUS does not acknowledge
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
    CHECK_EQ(irq.level, 0);                    // STATUS does
    uint16_t w[256];
    for (int i = 0; i < 256; i++)
        w[i] = (uint16_t)ata_read(&ch, ATA_DATA, 2);
    CHECK_EQ(w[0], 0x0040);
    CHECK_EQ(w[49] & (1 << 9), 1 << 9);         // LBA
    CHECK_EQ(w[60] | (uint32_t)w[61] << 16, SECTORS);
    CHECK_EQ(w[47] & 0xff, ATA_MAX_MULT);
    CHECK_EQ(w[27], 'Q' << 8 | 'E');           // "QEMU HARDDISK", byte-swapped words
    CHECK_EQ(w[10], 'Q' << 8 | 'M');           // serial QM00001
    CHECK_EQ(w[13], '1' << 8 | ' ');
    CHECK_EQ(w[1], 4);                          // 4096 / (16 * 63) cylinders, rounded down
    CHECK_EQ(w[3], 16);
    CHECK_EQ(w[6], 63);
    CHECK_EQ(w[83] & (1 << 10), 1 << 10);       // LBA48
    CHECK_EQ(w[100], SECTORS);
    CHECK_EQ(w[49], 0x0b00);                     // as QEMU: IORDY, LBA, DMA
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);   // DRQ gone after 256 words
    CHECK_EQ(irq.rises, 1);
}

TEST(read_sectors_interrupts_per_sector)
{
    setup();
    lba28(0, 100, 3);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    for (unsigned s = 0; s < 3; s++) {
        CHECK_EQ(irq.level, 1);
        CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
        CHECK_EQ(irq.level, 0);
        for (unsigned i = 0; i < 128; i++) {
            uint32_t v = ata_read(&ch, ATA_DATA, 4);   // 32-bit PIO, as rep insl
            uint32_t want = 0;
            for (unsigned b = 0; b < 4; b++)
                want |= (uint32_t)(uint8_t)((100 + s) ^ (4 * i + b)) << (8 * b);
            CHECK_EQ(v, want);
        }
    }
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(irq.rises, 3);                     // none after the last block is taken
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 103);  // the task file points past the transfer
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 0);
}

TEST(write_sectors_reach_the_backend)
{
    setup();
    lba28(0, 5, 2);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_WRITE);
    CHECK_EQ(irq.level, 0);                     // the first DRQ comes without an interrupt
    CHECK_EQ(ata_ctl_read(&ch), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
    for (unsigned i = 0; i < 256; i++)
        ata_write(&ch, ATA_DATA, 2, 0xa5a5);
    CHECK_EQ(irq.level, 1);                     // second sector wanted
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
    CHECK_EQ(disk[5 * 512], 0xa5);
    for (unsigned i = 0; i < 256; i++)
        ata_write(&ch, ATA_DATA, 2, 0x5a5a);
    CHECK_EQ(irq.level, 1);                     // and after the last one
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(disk[6 * 512 + 511], 0x5a);
    CHECK_EQ(disk[7 * 512], (uint8_t)(7 ^ 0));  // untouched
    CHECK_EQ(ch.sectors_written, 2);
}

TEST(read_multiple_uses_the_block_size)
{
    setup();
    ata_write(&ch, ATA_NSECT, 1, 4);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_SET_MULTIPLE);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    lba28(0, 0, 8);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ_MULTIPLE);
    for (unsigned blk = 0; blk < 2; blk++) {
        CHECK_EQ(status() & ATA_SR_DRQ, ATA_SR_DRQ);
        for (unsigned i = 0; i < 4 * 256; i++)
            ata_read(&ch, ATA_DATA, 2);
    }
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(irq.rises, 3);                     // SET MULTIPLE + two blocks
}

TEST(write_multiple)
{
    setup();
    lba28(0, 32, 20);                           // default block: 16 sectors, then 4
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_WRITE_MULTIPLE);
    for (unsigned i = 0; i < 16 * 128; i++)
        ata_write(&ch, ATA_DATA, 4, 0x01020304);
    CHECK_EQ(irq.rises, 1);
    CHECK_EQ(status() & ATA_SR_DRQ, ATA_SR_DRQ);   // acknowledges
    for (unsigned i = 0; i < 4 * 128; i++)
        ata_write(&ch, ATA_DATA, 4, 0x01020304);
    CHECK_EQ(irq.rises, 2);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(disk[51 * 512 + 3], 0x01);
    CHECK_EQ(ch.sectors_written, 20);
}

TEST(set_multiple_rejects_a_non_power_of_two)
{
    setup();
    ata_write(&ch, ATA_NSECT, 1, 3);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_SET_MULTIPLE);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), ATA_ER_ABRT);
}

TEST(out_of_range_aborts_at_the_first_block_past_the_end)
{
    setup();
    lba28(0, SECTORS - 1, 2);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);   // the last sector reads
    for (int i = 0; i < 256; i++)
        ata_read(&ch, ATA_DATA, 2);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);                // the next one aborts
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), ATA_ER_ABRT);
    lba28(0, SECTORS, 1);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_WRITE);               // writes check as they go
    for (int i = 0; i < 256; i++)
        ata_write(&ch, ATA_DATA, 2, 0);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);
}

TEST(lba48_read_and_write_ext)
{
    setup();
    ata_write(&ch, ATA_DEVICE, 1, 0x40);
    ata_write(&ch, ATA_NSECT, 1, 0);             // count: high byte first
    ata_write(&ch, ATA_NSECT, 1, 2);
    ata_write(&ch, ATA_LBAL, 1, 0);              // LBA 47:24 = 0
    ata_write(&ch, ATA_LBAM, 1, 0);
    ata_write(&ch, ATA_LBAH, 1, 0);
    ata_write(&ch, ATA_LBAL, 1, 0x10);           // LBA 23:0 = 0x010210
    ata_write(&ch, ATA_LBAM, 1, 0x02);
    ata_write(&ch, ATA_LBAH, 1, 0x00);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ_EXT);
    CHECK_EQ(status() & ATA_SR_DRQ, ATA_SR_DRQ);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2) & 0xff, (uint8_t)(0x210 ^ 0));
    for (int i = 1; i < 512; i++)
        ata_read(&ch, ATA_DATA, 2);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 0x12);
    ata_ctl_write(&ch, ATA_CTL_HOB);             // the high bytes read back
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 0);
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 0);
    ata_ctl_write(&ch, 0);
    ata_write(&ch, ATA_NSECT, 1, 0);
    ata_write(&ch, ATA_NSECT, 1, 1);
    ata_write(&ch, ATA_LBAL, 1, 0);
    ata_write(&ch, ATA_LBAL, 1, 9);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_WRITE_EXT);
    for (int i = 0; i < 256; i++)
        ata_write(&ch, ATA_DATA, 2, 0x7777);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    CHECK_EQ(disk[(0x209) * 512], 0x77);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_FLUSH_CACHE_EXT);
    CHECK_EQ(flushes, 1);
}

TEST(backend_failure_is_an_error_not_data)
{
    setup();
    fail_io = 1;
    lba28(0, 0, 1);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1) & ATA_ER_UNC, ATA_ER_UNC);
}

TEST(chs_addressing)
{
    setup();
    // cylinder 1, head 2, sector 3 with 16 heads x 63 sectors: (1*16+2)*63 + 2 = 1136
    ata_write(&ch, ATA_DEVICE, 1, 0xa2);
    ata_write(&ch, ATA_NSECT, 1, 1);
    ata_write(&ch, ATA_LBAL, 1, 3);
    ata_write(&ch, ATA_LBAM, 1, 1);
    ata_write(&ch, ATA_LBAH, 1, 0);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(status() & ATA_SR_DRQ, ATA_SR_DRQ);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2) & 0xff, (uint8_t)(1136 ^ 0));
    for (int i = 1; i < 256; i++)
        ata_read(&ch, ATA_DATA, 2);
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 4);    // next sector: 1/2/4
}

TEST(initialize_device_parameters_changes_translation)
{
    setup();
    ata_write(&ch, ATA_DEVICE, 1, 0xa0 | 3);     // 4 heads
    ata_write(&ch, ATA_NSECT, 1, 17);            // 17 sectors per track
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_INIT_PARAMS);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
    ata_write(&ch, ATA_DEVICE, 1, 0xa1);         // head 1
    ata_write(&ch, ATA_NSECT, 1, 1);
    ata_write(&ch, ATA_LBAL, 1, 1);
    ata_write(&ch, ATA_LBAM, 1, 2);              // cylinder 2
    ata_write(&ch, ATA_LBAH, 1, 0);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2) & 0xff, (uint8_t)((2 * 4 + 1) * 17));
}

TEST(flush_cache_reaches_the_backend)
{
    setup();
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_FLUSH_CACHE);
    CHECK_EQ(flushes, 1);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);
}

TEST(nien_masks_the_interrupt)
{
    setup();
    ata_ctl_write(&ch, ATA_CTL_NIEN);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    CHECK_EQ(irq.rises, 0);
    CHECK_EQ(ata_ctl_read(&ch) & ATA_SR_DRQ, ATA_SR_DRQ);
    ata_ctl_write(&ch, 0);
    CHECK_EQ(irq.rises, 0);                      // lost while masked, as in QEMU
}

TEST(software_reset_restores_the_signature)
{
    setup();
    lba28(0, 9, 1);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    ata_ctl_write(&ch, ATA_CTL_SRST);
    ata_ctl_write(&ch, 0);
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_DSC);   // the transfer is gone
    CHECK_EQ(ata_read(&ch, ATA_NSECT, 1), 1);
    CHECK_EQ(ata_read(&ch, ATA_LBAL, 1), 1);
    CHECK_EQ(ata_read(&ch, ATA_DEVICE, 1), 0xa0);
}

TEST(commands_while_drq_are_ignored)
{
    setup();
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_IDENTIFY);
    ata_read(&ch, ATA_DATA, 2);
    ata_write(&ch, ATA_COMMAND, 1, ATA_CMD_READ);
    CHECK_EQ(ata_read(&ch, ATA_DATA, 2), 4);        // still IDENTIFY's word 1
}

TEST(unknown_and_dma_commands_abort)
{
    setup();
    ata_write(&ch, ATA_COMMAND, 1, 0xc8);           // READ DMA
    CHECK_EQ(status(), ATA_SR_DRDY | ATA_SR_ERR);
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), ATA_ER_ABRT);
    ata_write(&ch, ATA_COMMAND, 1, 0x25);           // READ DMA EXT
    CHECK_EQ(ata_read(&ch, ATA_ERROR, 1), ATA_ER_ABRT);
}
