// Register-level tests of the MC146818A RTC / CMOS model (dev/mc146818.c) with a fake clock,
// a fake host timer and a fake IRQ 8 line: time registers, data modes, SET, the divider, and
// the interrupts (periodic rates, alarm with don't-care bytes, update-ended, register C).
#include "unit.h"

#include "fake_irq.h"
#include "mc146818.h"

#define NS 1000000000LL
#define T0 (1700000000LL * NS)   // 2023-11-14 22:13:20.000 UTC, a Tuesday

static int64_t now, armed;
static int arms;
static int64_t fake_now(void *o) { (void)o; return now; }
static void fake_arm(void *o, int64_t deadline) { (void)o; armed = deadline; arms++; }
static struct mc146818 rtc;
static struct fake_irq irq8;

static void setup(void)
{
    memset(&rtc, 0, sizeof rtc);
    memset(&irq8, 0, sizeof irq8);
    rtc.now = fake_now;
    rtc.arm = fake_arm;
    rtc.irq = fake_irq_line(&irq8, RTC_IRQ);
    now = T0;
    armed = 0;
    arms = 0;
    mc146818_init(&rtc, 128u << 20);
}

static uint8_t rd(uint8_t reg)
{
    mc146818_write(&rtc, RTC_PORT_INDEX, reg);
    return mc146818_read(&rtc, RTC_PORT_DATA);
}

static void wr(uint8_t reg, uint8_t v)
{
    mc146818_write(&rtc, RTC_PORT_INDEX, reg);
    mc146818_write(&rtc, RTC_PORT_DATA, v);
}

TEST(time_registers_in_bcd_24h)
{
    setup();
    CHECK_EQ(rd(RTC_SECONDS), 0x20);
    CHECK_EQ(rd(RTC_MINUTES), 0x13);
    CHECK_EQ(rd(RTC_HOURS), 0x22);
    CHECK_EQ(rd(RTC_DAY_OF_WEEK), 3);
    CHECK_EQ(rd(RTC_DAY_OF_MONTH), 0x14);
    CHECK_EQ(rd(RTC_MONTH), 0x11);
    CHECK_EQ(rd(RTC_YEAR), 0x23);
    CHECK_EQ(rd(RTC_CENTURY), 0x20);
}

TEST(register_b_binary_and_12_hour_modes)
{
    setup();
    wr(RTC_REG_B, RTC_B_DM | RTC_B_24H);
    CHECK_EQ(rd(RTC_HOURS), 22);
    CHECK_EQ(rd(RTC_YEAR), 23);
    wr(RTC_REG_B, 0);                       // BCD, 12-hour: 10 PM
    CHECK_EQ(rd(RTC_HOURS), 0x80 | 0x10);
}

TEST(clock_advances_with_host_time)
{
    setup();
    now += 65 * NS;
    CHECK_EQ(rd(RTC_SECONDS), 0x25);
    CHECK_EQ(rd(RTC_MINUTES), 0x14);
}

TEST(set_bit_freezes_and_written_time_runs)
{
    setup();
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H);
    wr(RTC_HOURS, 0x08);
    wr(RTC_MINUTES, 0x30);
    wr(RTC_SECONDS, 0x00);
    now += 100 * NS;                         // frozen while SET
    CHECK_EQ(rd(RTC_MINUTES), 0x30);
    wr(RTC_REG_B, RTC_B_24H);
    now += 61 * NS;
    CHECK_EQ(rd(RTC_HOURS), 0x08);
    CHECK_EQ(rd(RTC_MINUTES), 0x31);
    CHECK_EQ(rd(RTC_SECONDS), 0x01);
    CHECK_EQ(rd(RTC_DAY_OF_MONTH), 0x14);    // the date was kept
}

TEST(registers_a_c_d)
{
    setup();
    CHECK_EQ(rd(RTC_REG_A), RTC_A_DV_32K | RTC_A_RS_1024HZ);
    CHECK_EQ(rd(RTC_REG_D), RTC_D_VRT);
    CHECK_EQ(rd(RTC_REG_C), 0);
    wr(RTC_REG_D, 0);                        // read-only
    CHECK_EQ(rd(RTC_REG_D), RTC_D_VRT);
}

TEST(cmos_memory_size_bytes)
{
    setup();
    CHECK_EQ(rd(0x15) | rd(0x16) << 8, 640);
    CHECK_EQ(rd(0x17) | rd(0x18) << 8, 65535);      // 127 MiB above 1 MiB, capped
    CHECK_EQ(rd(0x34) | rd(0x35) << 8, (128 - 16) * 16);
}

TEST(index_port_nmi_bit_and_nvram)
{
    setup();
    mc146818_write(&rtc, RTC_PORT_INDEX, 0x80 | 0x40);
    CHECK_EQ(rtc.nmi_disabled, 1);
    mc146818_write(&rtc, RTC_PORT_DATA, 0x5a);
    CHECK_EQ(rd(0x40), 0x5a);
}

// ---- interrupts ------------------------------------------------------------------------------

// The host timer expires: time moves to the deadline, the device runs its timer.
static void fire(void)
{
    CHECK(armed > 0);
    now = armed;
    mc146818_timer(&rtc);
}

TEST(periodic_rates_follow_the_datasheet_table)
{
    // Rate select 1-15 with the 32.768 kHz time base: 256, 128, 8192, 4096, ... 2 Hz.
    static const int hz[16] = {0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32,
                               16, 8, 4, 2};
    for (int rs = 0; rs < 16; rs++) {
        setup();
        wr(RTC_REG_A, (uint8_t)(RTC_A_DV_32K | rs));
        wr(RTC_REG_B, RTC_B_24H | RTC_B_PIE);
        if (!hz[rs]) {
            CHECK_EQ(armed, 0);
            continue;
        }
        // The first edge is one period after the second boundary T0 (same divider chain).
        CHECK_EQ(armed, T0 + (NS + hz[rs] - 1) / hz[rs]);
        // Count the interrupts of one second.
        int n = 0;
        while (armed && armed <= T0 + NS) {
            fire();
            CHECK_EQ(irq8.level, 1);
            // (UF too at the last edge, the second boundary: flags are set without enables)
            CHECK_EQ(rd(RTC_REG_C) & ~RTC_C_UF, RTC_C_IRQF | RTC_C_PF);
            CHECK_EQ(irq8.level, 0);
            n++;
        }
        CHECK_EQ(n, hz[rs]);
        CHECK_EQ(irq8.rises, hz[rs]);
    }
}

TEST(periodic_flag_is_set_without_pie_but_no_interrupt)
{
    setup();                                 // rate 6 (1024 Hz), PIE off
    CHECK_EQ(armed, 0);
    now += 2 * NS / 1000;
    CHECK_EQ(rd(RTC_REG_C), RTC_C_PF);       // the flag, no IRQF
    CHECK_EQ(irq8.rises, 0);
    CHECK_EQ(rd(RTC_REG_C), 0);              // cleared by the read
}

TEST(enabling_an_interrupt_over_a_set_flag_raises_irqf_at_once)
{
    setup();
    now += 2 * NS / 1000;                    // PF due (not yet looked at)
    wr(RTC_REG_B, RTC_B_24H | RTC_B_PIE);
    CHECK_EQ(irq8.level, 1);
    CHECK_EQ(armed, 0);                      // IRQF set: no host timer until C is read
    wr(RTC_REG_B, RTC_B_24H);                // disabling it again drops IRQF and the pin
    CHECK_EQ(irq8.level, 0);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_PF);
}

TEST(edges_the_host_timer_was_late_for_come_one_per_acknowledgement)
{
    setup();
    wr(RTC_REG_B, RTC_B_24H | RTC_B_PIE);   // 1024 Hz
    now = T0 + 10 * NS / 1024 + 1000;        // the timer ten periods late
    mc146818_timer(&rtc);
    int n = 0;
    while (irq8.level) {
        CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
        n++;
        if (armed > now)
            break;
        mc146818_timer(&rtc);                // shown at once, one per read of C
    }
    CHECK_EQ(n, 10);
    CHECK_EQ(irq8.rises, 10);
    CHECK_EQ(armed, T0 + (11 * NS + 1023) / 1024);   // then the grid again
}

TEST(edges_while_the_flag_is_set_merge)
{
    setup();
    wr(RTC_REG_B, RTC_B_24H | RTC_B_PIE);
    fire();                                  // edge 1, on time
    now += 5 * NS / 1024;                    // the guest takes five periods to read C
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
    CHECK_EQ(rd(RTC_REG_C), 0);              // one flag for all of them
    CHECK_EQ(armed, T0 + (7 * NS + 1023) / 1024);
    CHECK_EQ(irq8.rises, 1);
}

TEST(update_ended_interrupt_every_second)
{
    setup();
    now = T0 + NS / 3;
    wr(RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    CHECK_EQ(armed, T0 + NS);
    fire();
    CHECK_EQ(irq8.level, 1);
    CHECK_EQ(rd(RTC_SECONDS), 0x21);         // the update has happened
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_UF | RTC_C_PF);   // PF: rate 6, PIE off
    CHECK_EQ(armed, T0 + 2 * NS);
}

TEST(alarm_with_dont_care_bytes_fires_every_second)
{
    setup();
    wr(RTC_SECONDS_ALARM, 0xff);
    wr(RTC_MINUTES_ALARM, 0xc0);
    wr(RTC_HOURS_ALARM, 0xd5);
    wr(RTC_REG_A, RTC_A_DV_32K);             // no periodic rate
    wr(RTC_REG_B, RTC_B_24H | RTC_B_AIE);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(armed, T0 + i * NS);
        fire();
        CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_AF | RTC_C_UF);
    }
}

TEST(alarm_at_a_time_of_day)
{
    setup();
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_HOURS_ALARM, 0x22);
    wr(RTC_MINUTES_ALARM, 0x13);
    wr(RTC_SECONDS_ALARM, 0x25);             // 22:13:25, five seconds from now
    wr(RTC_REG_B, RTC_B_24H | RTC_B_AIE);
    CHECK_EQ(armed, T0 + 5 * NS);
    now = T0 + 4 * NS + NS / 2;
    CHECK_EQ(rd(RTC_REG_C), RTC_C_UF);       // updates, no alarm yet
    fire();
    CHECK_EQ(irq8.level, 1);
    CHECK_EQ(rd(RTC_SECONDS), 0x25);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_AF | RTC_C_UF);
    CHECK_EQ(armed, T0 + 86400 * NS + 5 * NS);   // tomorrow
    // Minutes don't care: 22:xx:25 -- the next one is a minute later.
    wr(RTC_MINUTES_ALARM, 0xff);
    CHECK_EQ(armed, T0 + 65 * NS);
}

TEST(alarm_in_12_hour_binary_mode_and_impossible_alarms)
{
    setup();
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_REG_B, RTC_B_DM);                 // binary, 12-hour: now 10:13:20 PM
    CHECK_EQ(rd(RTC_HOURS), 0x80 | 10);
    wr(RTC_HOURS_ALARM, 0x80 | 10);
    wr(RTC_MINUTES_ALARM, 14);
    wr(RTC_SECONDS_ALARM, 0);
    wr(RTC_REG_B, RTC_B_DM | RTC_B_AIE);
    CHECK_EQ(armed, T0 + 40 * NS);           // 10:14:00 PM
    wr(RTC_HOURS_ALARM, 10);                 // 10 AM: tomorrow morning
    CHECK_EQ(armed, T0 + (24 - 12) * 3600 * NS + 40 * NS);
    wr(RTC_SECONDS_ALARM, 60);               // no second is 60: never
    CHECK_EQ(armed, 0);
    wr(RTC_REG_B, 0);                        // BCD: 0x3a is no BCD byte
    wr(RTC_SECONDS_ALARM, 0x3a);
    wr(RTC_REG_B, RTC_B_AIE);
    CHECK_EQ(armed, 0);
}

TEST(reading_c_clears_flags_and_rearms)
{
    setup();
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    fire();
    CHECK_EQ(armed, 0);                      // IRQF up: nothing to arm
    now += 3 * NS;                           // unacknowledged: no more edges on the pin
    CHECK_EQ(irq8.rises, 1);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_IRQF | RTC_C_UF);
    CHECK_EQ(irq8.level, 0);
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(armed, T0 + 5 * NS);
}

TEST(set_clears_uie_and_inhibits_the_alarm_not_uf)
{
    setup();
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_SECONDS_ALARM, 0xff);
    wr(RTC_MINUTES_ALARM, 0xff);
    wr(RTC_HOURS_ALARM, 0xff);
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H | RTC_B_UIE | RTC_B_AIE);
    CHECK_EQ(rd(RTC_REG_B), RTC_B_SET | RTC_B_24H | RTC_B_AIE);
    CHECK_EQ(armed, 0);                      // AIE, but no alarm while SET
    now += 2 * NS;
    CHECK_EQ(rd(RTC_REG_C), RTC_C_UF);
    CHECK_EQ(irq8.rises, 0);
}

TEST(divider_reset_stops_the_clock_and_restarts_half_a_second_later)
{
    setup();
    wr(RTC_REG_B, RTC_B_24H | RTC_B_UIE | RTC_B_PIE);
    wr(RTC_REG_A, RTC_A_DV_RESET | RTC_A_RS_1024HZ);
    CHECK_EQ(armed, 0);
    now += 5 * NS;
    CHECK_EQ(rd(RTC_SECONDS), 0x20);         // stood still
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(irq8.rises, 0);
    wr(RTC_REG_B, RTC_B_24H);
    wr(RTC_REG_A, RTC_A_DV_32K | RTC_A_RS_1024HZ);
    wr(RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    CHECK_EQ(armed, now + NS / 2);           // the first update half a second on
    fire();
    CHECK_EQ(rd(RTC_SECONDS), 0x21);
}

TEST(uip_in_the_last_244_us_of_a_second)
{
    setup();
    now = T0 + NS - 300000;
    CHECK_EQ(rd(RTC_REG_A) & RTC_A_UIP, 0);
    now = T0 + NS - 200000;
    CHECK_EQ(rd(RTC_REG_A) & RTC_A_UIP, RTC_A_UIP);
    wr(RTC_REG_A, RTC_A_UIP | RTC_A_DV_32K);    // read-only
    now = T0 + NS + 1000;
    CHECK_EQ(rd(RTC_REG_A), RTC_A_DV_32K);
}

TEST(writing_the_time_keeps_the_phase_and_is_no_update)
{
    setup();
    now = T0 + NS / 4;
    wr(RTC_REG_A, RTC_A_DV_32K);
    wr(RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    CHECK_EQ(rd(RTC_REG_C), RTC_C_PF);       // rate 6 until just now
    wr(RTC_MINUTES, 0x00);                   // jump back 13 minutes
    CHECK_EQ(rd(RTC_REG_C), 0);
    CHECK_EQ(armed, T0 + NS);                // the second still ends where it did
    fire();
    CHECK_EQ(rd(RTC_MINUTES), 0x00);
    CHECK_EQ(rd(RTC_SECONDS), 0x21);
}
