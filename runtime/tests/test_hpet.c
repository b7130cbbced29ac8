// Tests of the HPET (dev/hpet.c): QEMU's registers, the main counter on the guest's clock,
// comparators in one-shot and periodic mode, legacy replacement routing.
#include "unit.h"

#include "hpet.h"

static uint64_t now_ns, armed_ns;
static int line[32], pulses[32];
static uint64_t fake_now(void *o) { (void)o; return now_ns; }
static void fake_arm(void *o, uint64_t deadline) { (void)o; armed_ns = deadline; }
static void fake_irq(void *o, unsigned gsi, int level)
{
    (void)o;
    if (level && !line[gsi])
        pulses[gsi]++;
    line[gsi] = level;
}

static void setup(struct hpet *s)
{
    memset(s, 0, sizeof *s);
    memset(line, 0, sizeof line);
    memset(pulses, 0, sizeof pulses);
    now_ns = 1000;
    armed_ns = 0;
    s->ops = (struct hpet_ops){fake_now, fake_arm, fake_irq, NULL};
    hpet_init(s);
}

#define T(n, reg) (0x100 + 0x20 * (n) + (reg))

TEST(registers_read_back_as_qemus)
{
    struct hpet s;
    setup(&s);
    CHECK_EQ(hpet_read(&s, HPET_ID, 4), 0x8086a201);
    CHECK_EQ(hpet_read(&s, HPET_PERIOD, 4), 0x00989680);   // 10 ns in fs
    CHECK_EQ(hpet_read(&s, HPET_CFG, 4), 0);
    CHECK_EQ(hpet_read(&s, HPET_STATUS, 4), 0);
    for (unsigned n = 0; n < HPET_TIMERS; n++) {
        CHECK_EQ(hpet_read(&s, T(n, HPET_TN_CFG), 4), 0x30);   // periodic and 64-bit capable
        CHECK_EQ(hpet_read(&s, T(n, HPET_TN_CFG + 4), 4), 0x4);   // IOAPIC input 2
        CHECK_EQ(hpet_read(&s, T(n, HPET_TN_CMP), 4), 0xffffffff);
        CHECK_EQ(hpet_read(&s, T(n, HPET_TN_CMP + 4), 4), 0xffffffff);
    }
    CHECK_EQ(hpet_read(&s, T(3, HPET_TN_CFG), 4), 0);   // no fourth timer
    CHECK_EQ(hpet_read(&s, HPET_ID, 2), 0);             // 32-bit accesses only
    hpet_write(&s, HPET_ID, 4, 0);
    CHECK_EQ(hpet_read(&s, HPET_ID, 4), 0x8086a201);
    hpet_write(&s, HPET_CFG, 4, 0xfffffffc);            // only ENABLE and LEG_RT are writable
    CHECK_EQ(hpet_read(&s, HPET_CFG, 4), 0);
    CHECK_EQ(armed_ns, 0);
}

TEST(main_counter_runs_at_100_mhz_only_while_enabled)
{
    struct hpet s;
    setup(&s);
    now_ns = 5000;
    CHECK_EQ(hpet_read(&s, HPET_COUNTER, 4), 0);
    hpet_write(&s, HPET_COUNTER, 4, 100);
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_ENABLE);
    CHECK_EQ(hpet_read(&s, HPET_COUNTER, 4), 100);
    now_ns += 1000000;   // 1 ms: 100000 ticks
    CHECK_EQ(hpet_read(&s, HPET_COUNTER, 4), 100100);
    CHECK_EQ(hpet_read(&s, HPET_COUNTER + 4, 4), 0);
    hpet_write(&s, HPET_CFG, 4, 0);   // stops where it is
    now_ns += 1000000;
    CHECK_EQ(hpet_read(&s, HPET_COUNTER, 4), 100100);
    now_ns += 50ull * 1000000000;   // 50 s: 5e9 ticks, past 2^32
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_ENABLE);
    now_ns += 50ull * 1000000000;
    uint64_t c = hpet_read(&s, HPET_COUNTER, 4) |
                 (uint64_t)hpet_read(&s, HPET_COUNTER + 4, 4) << 32;
    CHECK_EQ(c, 5000100100ull);
}

TEST(one_shot_comparator_fires_once_at_its_time)
{
    struct hpet s;
    setup(&s);
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_ENABLE);   // counter 0 at now 1000
    hpet_write(&s, T(2, HPET_TN_CMP), 4, 500);
    hpet_write(&s, T(2, HPET_TN_CMP + 4), 4, 0);
    hpet_write(&s, T(2, HPET_TN_CFG), 4, HPET_TN_ENABLE | 18u << HPET_TN_INT_ROUTE_SHIFT);
    CHECK_EQ(armed_ns, 1000 + 5000);
    CHECK_EQ(hpet_timer_gsi(&s, 2), 18);
    now_ns = 5999;
    hpet_expire(&s);
    CHECK_EQ(pulses[18], 0);
    now_ns = 6000;
    hpet_expire(&s);
    CHECK_EQ(pulses[18], 1);   // edge: a pulse, nothing left in the status register
    CHECK_EQ(line[18], 0);
    CHECK_EQ(hpet_read(&s, HPET_STATUS, 4), 0);
    CHECK_EQ(armed_ns, 0);
    CHECK_EQ(s.fired, 1);
}

TEST(periodic_comparator_moves_on_by_its_period)
{
    struct hpet s;
    setup(&s);
    // As Linux sets its periodic clock event up: 32-bit, SETVAL, then the comparator twice.
    hpet_write(&s, T(0, HPET_TN_CFG), 4, HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_SETVAL |
                                             HPET_TN_32BIT);
    hpet_write(&s, T(0, HPET_TN_CMP), 4, 1000);   // first at 1000 ticks (SETVAL)
    hpet_write(&s, T(0, HPET_TN_CMP), 4, 1000);   // then the period
    CHECK_EQ(armed_ns, 0);   // the counter is stopped
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
    CHECK_EQ(armed_ns, 1000 + 10000);
    CHECK_EQ(hpet_timer_gsi(&s, 0), 0);   // legacy replacement: IRQ 0
    now_ns = 11000;
    hpet_expire(&s);
    CHECK_EQ(pulses[0], 1);
    CHECK_EQ(hpet_read(&s, T(0, HPET_TN_CMP), 4), 2000);
    CHECK_EQ(armed_ns, 21000);
    now_ns = 45500;   // late: catches up past the counter (4450 ticks -> 5000), one pulse
    hpet_expire(&s);
    CHECK_EQ(pulses[0], 2);
    CHECK_EQ(hpet_read(&s, T(0, HPET_TN_CMP), 4), 5000);
    CHECK_EQ(armed_ns, 51000);
    hpet_write(&s, T(0, HPET_TN_CFG), 4, HPET_TN_PERIODIC | HPET_TN_32BIT);   // disabled
    CHECK_EQ(armed_ns, 0);
    CHECK_EQ(hpet_timer_gsi(&s, 0), -1);
}

TEST(level_triggered_timer_holds_its_line_until_status_is_cleared)
{
    struct hpet s;
    setup(&s);
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_ENABLE);
    hpet_write(&s, T(1, HPET_TN_CMP), 4, 10);
    hpet_write(&s, T(1, HPET_TN_CFG), 4, HPET_TN_ENABLE | HPET_TN_TYPE_LEVEL |
                                             2u << HPET_TN_INT_ROUTE_SHIFT);
    now_ns = 1100;
    hpet_expire(&s);
    CHECK_EQ(line[2], 1);
    CHECK_EQ(hpet_read(&s, HPET_STATUS, 4), 2);
    hpet_write(&s, HPET_STATUS, 4, 2);
    CHECK_EQ(line[2], 0);
    CHECK_EQ(hpet_read(&s, HPET_STATUS, 4), 0);
}

TEST(legacy_mode_cuts_off_the_8254_and_the_rtc)
{
    struct hpet s;
    setup(&s);
    hpet_legacy_irq(&s, HPET_LEGACY_PIT, 1);
    CHECK_EQ(line[0], 1);
    hpet_legacy_irq(&s, HPET_LEGACY_PIT, 0);
    hpet_legacy_irq(&s, HPET_LEGACY_RTC, 1);
    CHECK_EQ(line[8], 1);
    hpet_write(&s, HPET_CFG, 4, HPET_CFG_LEGACY);
    CHECK_EQ(line[8], 0);
    hpet_legacy_irq(&s, HPET_LEGACY_PIT, 1);
    CHECK_EQ(line[0], 0);
    CHECK_EQ(pulses[0], 1);
    hpet_write(&s, HPET_CFG, 4, 0);   // back: the RTC's line as it stands
    CHECK_EQ(line[8], 1);
}

TEST(thirty_two_bit_mode_truncates_the_comparator)
{
    struct hpet s;
    setup(&s);
    hpet_write(&s, T(0, HPET_TN_CFG), 4, HPET_TN_32BIT);
    CHECK_EQ(hpet_read(&s, T(0, HPET_TN_CMP + 4), 4), 0);
    CHECK_EQ(hpet_read(&s, T(0, HPET_TN_CMP), 4), 0xffffffff);
    CHECK_EQ(hpet_read(&s, T(0, HPET_TN_CFG), 4), 0x130);
}
