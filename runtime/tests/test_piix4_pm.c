// Tests of the PIIX4 power management registers (dev/piix4_pm.c): QEMU's PM1a event and
// control registers, PM timer, GPE0 block and APM ports.
#include "unit.h"

#include "fake_irq.h"
#include "piix4_pm.h"

static uint64_t now_ns;
static uint64_t fake_now(void *o) { (void)o; return now_ns; }
static int slept = -1;
static void fake_sleep(void *o, enum piix4_sleep what) { (void)o; slept = (int)what; }

static void setup(struct piix4_pm *s, struct fake_irq *irq)
{
    memset(s, 0, sizeof *s);
    memset(irq, 0, sizeof *irq);
    s->sci = fake_irq_line(irq, PIIX4_SCI_IRQ);
    s->now = fake_now;
    s->sleep = fake_sleep;
    now_ns = 0;
    slept = -1;
    piix4_pm_init(s);
}

TEST(pm_timer_counts_at_3_579545_mhz_in_24_bits)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    CHECK_EQ(piix4_pm_read(&s, PM_TMR, 4), 0);
    now_ns = 1000000000;   // one second
    CHECK_EQ(piix4_pm_read(&s, PM_TMR, 4), PM_TIMER_HZ);
    now_ns = 10ull * 1000000000;   // 35.8 M ticks: wrapped at 2^24
    CHECK_EQ(piix4_pm_read(&s, PM_TMR, 4), (10ull * PM_TIMER_HZ) & 0xffffff);
    // Narrower reads give its low bytes at any of its addresses; writes change nothing.
    CHECK_EQ(piix4_pm_read(&s, PM_TMR, 2), (10ull * PM_TIMER_HZ) & 0xffff);
    CHECK_EQ(piix4_pm_read(&s, PM_TMR + 1, 1), (10ull * PM_TIMER_HZ) & 0xff);
    piix4_pm_write(&s, PM_TMR, 4, 0);
    CHECK_EQ(piix4_pm_read(&s, PM_TMR, 4), (10ull * PM_TIMER_HZ) & 0xffffff);
}

TEST(tmr_sts_is_set_at_each_bit_23_change_and_cleared_by_writing_one)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    CHECK_EQ(piix4_pm_read(&s, PM1_STS, 2) & PM1_TMR, PM1_TMR);   // QEMU's reset state
    piix4_pm_write(&s, PM1_STS, 2, PM1_TMR);
    CHECK_EQ(piix4_pm_read(&s, PM1_STS, 2) & PM1_TMR, 0);
    now_ns = 2400000000ull;   // 8.59 M ticks: past 2^23
    CHECK_EQ(piix4_pm_read(&s, PM1_STS, 2) & PM1_TMR, PM1_TMR);
}

TEST(sci_follows_enabled_status_bits)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    piix4_pm_write(&s, PM1_STS, 2, 0xffff);
    CHECK_EQ(irq.level, 0);
    piix4_pm_write(&s, PM1_EN, 2, PM1_TMR);
    CHECK_EQ(piix4_pm_read(&s, PM1_EN, 2), PM1_TMR);
    CHECK_EQ(irq.level, 0);
    now_ns = 2400000000ull;
    piix4_pm_write(&s, PM1_EN, 2, PM1_TMR);   // the timer passed bit 23: TMR_STS, SCI
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(irq.last_irq, 9);
    piix4_pm_write(&s, PM1_STS, 2, PM1_TMR);
    CHECK_EQ(irq.level, 0);
    // GPE0: status bits are cleared by writing ones; an enabled one raises the SCI.
    s.gpe_sts[0] = 0x02;
    piix4_gpe_write(&s, 2, 0x02);
    CHECK_EQ(piix4_gpe_read(&s, 2), 0x02);
    CHECK_EQ(irq.level, 1);
    piix4_gpe_write(&s, 0, 0x02);
    CHECK_EQ(piix4_gpe_read(&s, 0), 0);
    CHECK_EQ(irq.level, 0);
}

TEST(event_block_takes_bytes_and_words_not_dwords)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    piix4_pm_write(&s, PM1_EN, 2, 0x0521);
    CHECK_EQ(piix4_pm_read(&s, PM1_EN, 2), 0x0521);
    CHECK_EQ(piix4_pm_read(&s, PM1_EN, 1), 0x21);
    CHECK_EQ(piix4_pm_read(&s, PM1_EN + 1, 1), 0);   // a word read at 3: nothing
    CHECK_EQ(piix4_pm_read(&s, PM1_STS, 4), 0);      // refused
    piix4_pm_write(&s, PM1_EN, 4, 0);                // refused
    CHECK_EQ(piix4_pm_read(&s, PM1_EN, 2), 0x0521);
    CHECK_EQ(piix4_pm_read(&s, 0x10, 1), 0xff);      // nothing else in the block
}

TEST(apm_acpi_enable_and_disable_set_sci_en)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    CHECK_EQ(piix4_apm_read(&s, 0), 0);   // what SeaBIOS left
    CHECK_EQ(piix4_apm_read(&s, 1), 0);
    CHECK_EQ(piix4_pm_read(&s, PM1_CNT, 2), 0);
    piix4_apm_write(&s, 0, APM_ACPI_ENABLE);
    CHECK_EQ(piix4_pm_read(&s, PM1_CNT, 2), PM1_CNT_SCI_EN);
    CHECK_EQ(piix4_apm_read(&s, 0), APM_ACPI_ENABLE);
    piix4_apm_write(&s, 1, 0x5a);
    CHECK_EQ(piix4_apm_read(&s, 1), 0x5a);
    piix4_apm_write(&s, 0, APM_ACPI_DISABLE);
    CHECK_EQ(piix4_pm_read(&s, PM1_CNT, 2), 0);
}

TEST(slp_en_with_slp_typ_0_or_s4_powers_off_and_s3_suspends)
{
    struct piix4_pm s;
    struct fake_irq irq;
    setup(&s, &irq);
    piix4_pm_write(&s, PM1_CNT, 2, PM1_CNT_SCI_EN | 5u << PM1_CNT_SLP_TYP_SHIFT);
    CHECK_EQ(slept, -1);   // SLP_TYP alone does nothing
    CHECK_EQ(piix4_pm_read(&s, PM1_CNT, 2), PM1_CNT_SCI_EN | 5u << PM1_CNT_SLP_TYP_SHIFT);
    piix4_pm_write(&s, PM1_CNT, 2, PM1_CNT_SCI_EN | PM1_CNT_SLP_EN);
    CHECK_EQ(slept, PIIX4_SOFT_OFF);
    CHECK_EQ(piix4_pm_read(&s, PM1_CNT, 2), PM1_CNT_SCI_EN);   // SLP_EN reads 0
    slept = -1;
    piix4_pm_write(&s, PM1_CNT, 2, 2u << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN);
    CHECK_EQ(slept, PIIX4_SOFT_OFF);
    slept = -1;
    piix4_pm_write(&s, PM1_CNT, 2, 1u << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN);
    CHECK_EQ(slept, PIIX4_SUSPEND);
    slept = -1;
    piix4_pm_write(&s, PM1_CNT, 2, 5u << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN);
    CHECK_EQ(slept, -1);   // no such state: nothing
}
