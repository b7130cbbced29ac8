// Register-level tests of the floppy controller (dev/i82078.c) with no drives: what a
// driver's probe sees (Linux's floppy.c get_fdc_version: reset, SENSEI x4, DUMPREGS,
// CONFIGURE, PERPENDICULAR, UNLOCK, PARTID).
#include "unit.h"

#include "fake_irq.h"
#include "i82078.h"

static struct i82078 f;
static struct fake_irq irq;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    memset(&irq, 0, sizeof irq);
    f.irq = fake_irq_line(&irq, 6);
    i82078_init(&f);
}

static void cmd(const uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        CHECK_EQ(i82078_read(&f, FDC_MSR) & (FDC_MSR_RQM | FDC_MSR_DIO), FDC_MSR_RQM);
        i82078_write(&f, FDC_FIFO, b[i]);
    }
}

static unsigned result(uint8_t *r)
{
    unsigned n = 0;
    while ((i82078_read(&f, FDC_MSR) & (FDC_MSR_RQM | FDC_MSR_DIO)) ==
           (FDC_MSR_RQM | FDC_MSR_DIO) && n < 16)
        r[n++] = i82078_read(&f, FDC_FIFO);
    return n;
}

TEST(idle_msr_is_ready_for_a_command)
{
    setup();
    CHECK_EQ(i82078_read(&f, FDC_MSR), FDC_MSR_RQM);
    CHECK_EQ(irq.level, 0);
}

TEST(dor_reset_interrupts_and_sensei_reports_four_drives)
{
    setup();
    i82078_write(&f, FDC_DOR, FDC_DOR_DMAEN);             // enter reset
    CHECK_EQ(i82078_read(&f, FDC_MSR), 0);
    i82078_write(&f, FDC_DOR, FDC_DOR_DMAEN | FDC_DOR_NRESET);
    CHECK_EQ(irq.level, 1);
    for (unsigned d = 0; d < 4; d++) {
        uint8_t c = FDC_CMD_SENSEI, r[16];
        cmd(&c, 1);
        CHECK_EQ(result(r), 2);
        CHECK_EQ(r[0], FDC_ST0_READYCHG | d);
        CHECK_EQ(irq.level, 0);
    }
    uint8_t c = FDC_CMD_SENSEI, r[16];
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0], FDC_ST0_INVALID);
}

TEST(dsr_software_reset)
{
    setup();
    i82078_write(&f, FDC_DSR, FDC_DSR_SWRESET);
    CHECK_EQ(irq.rises, 1);
    CHECK_EQ(f.reset_sensei, 4);
}

TEST(version_dumpregs_unlock_partid_identify_an_s82078b)
{
    setup();
    uint8_t c, r[16];
    c = FDC_CMD_DUMPREGS;
    cmd(&c, 1);
    CHECK_EQ(result(r), 10);
    c = FDC_CMD_VERSION;
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0], 0x90);
    uint8_t conf[4] = {FDC_CMD_CONFIGURE, 0, 0x1a, 0};
    cmd(conf, 4);
    CHECK_EQ(i82078_read(&f, FDC_MSR), FDC_MSR_RQM);     // no result phase
    c = FDC_CMD_PERPENDICULAR;
    cmd(&c, 1);
    CHECK_EQ(i82078_read(&f, FDC_MSR), FDC_MSR_RQM | FDC_MSR_CB);   // wants its parameter
    c = 0;
    cmd(&c, 1);
    c = FDC_CMD_UNLOCK;
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0], 0x00);
    c = FDC_CMD_PARTID;
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0] >> 5, 2);                               // S82078B
    c = FDC_CMD_DUMPREGS;
    cmd(&c, 1);
    CHECK_EQ(result(r), 10);
    CHECK_EQ(r[8], 0x1a);                                 // CONFIGURE's value
}

TEST(lock_reports_itself)
{
    setup();
    uint8_t c = FDC_CMD_LOCK, r[16];
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0], 0x10);
}

TEST(invalid_command)
{
    setup();
    uint8_t c = 0x1f, r[16];
    cmd(&c, 1);
    CHECK_EQ(result(r), 1);
    CHECK_EQ(r[0], FDC_ST0_INVALID);
}

TEST(recalibrate_interrupts_and_sensei_reports_it)
{
    setup();
    uint8_t c[2] = {FDC_CMD_RECALIBRATE, 1}, r[16];
    cmd(c, 2);
    CHECK_EQ(irq.level, 1);
    uint8_t s = FDC_CMD_SENSEI;
    cmd(&s, 1);
    CHECK_EQ(result(r), 2);
    CHECK_EQ(r[0], FDC_ST0_SEEK_END | 1);
    CHECK_EQ(r[1], 0);
    CHECK_EQ(irq.level, 0);
}

TEST(read_without_a_drive_is_not_ready)
{
    setup();
    uint8_t c[9] = {0xe6, 0, 0, 0, 1, 2, 18, 0x1b, 0xff}, r[16];
    cmd(c, 9);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(result(r), 7);
    CHECK_EQ(r[0] & (FDC_ST0_ABNORMAL | FDC_ST0_NOT_READY), FDC_ST0_ABNORMAL | FDC_ST0_NOT_READY);
}
