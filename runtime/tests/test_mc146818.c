// Register-level tests of the MC146818A RTC / CMOS model (dev/mc146818.c) with a fake clock.
#include "unit.h"

#include "mc146818.h"

static int64_t now;
static int64_t fake_now(void *o) { (void)o; return now; }
static struct mc146818 rtc;

static void setup(void)
{
    memset(&rtc, 0, sizeof rtc);
    rtc.now = fake_now;
    now = 1700000000;   // 2023-11-14 22:13:20 UTC, a Tuesday
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
    now += 65;
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
    now += 100;                              // frozen while SET
    CHECK_EQ(rd(RTC_MINUTES), 0x30);
    wr(RTC_REG_B, RTC_B_24H);
    now += 61;
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
