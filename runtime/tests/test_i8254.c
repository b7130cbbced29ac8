// Register-level tests of the 8254 model (dev/i8254.c) with a fake clock, a fake host timer
// and a fake IRQ0 line.
#include "unit.h"

#include "fake_irq.h"
#include "i8254.h"

static struct i8254 pit;
static struct fake_irq irq0;
static uint64_t now;
static uint64_t armed_first, armed_period;
static int arms;

static uint64_t fake_now(void *o) { (void)o; return now; }
static void fake_arm(void *o, uint64_t first, uint64_t period)
{
    (void)o;
    armed_first = first;
    armed_period = period;
    arms++;
}

static void setup(void)
{
    memset(&pit, 0, sizeof pit);
    memset(&irq0, 0, sizeof irq0);
    now = 1000000000;
    armed_first = armed_period = 0;
    arms = 0;
    pit.ops = (struct i8254_ops){fake_now, fake_arm, NULL};
    pit.irq0 = fake_irq_line(&irq0, 0);
    i8254_init(&pit);
}

static uint64_t ticks_ns(uint64_t t) { return t * 1000000000u / PIT_FREQ_HZ; }

// Control word for counter ch, access rw, mode m.
static uint8_t cw(int ch, int rw, int m) { return (uint8_t)(ch << 6 | rw << 4 | m << 1); }

TEST(mode2_lsb_msb_arms_periodic_timer)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 2));
    CHECK_EQ(armed_first, 0);               // a control word stops counter 0
    i8254_write(&pit, PIT_CH0, 1193 & 0xff);
    CHECK_EQ(arms, 1);                      // not loaded until the MSB
    i8254_write(&pit, PIT_CH0, 1193 >> 8);
    CHECK_EQ(armed_period, ticks_ns(1193));
    CHECK_EQ(armed_first, ticks_ns(1193));
}

TEST(timer_expiry_is_a_rising_edge_on_irq0)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 3));
    i8254_write(&pit, PIT_CH0, 0x9c);
    i8254_write(&pit, PIT_CH0, 0x2e);
    int before = irq0.rises;
    i8254_timer(&pit);
    i8254_timer(&pit);
    CHECK_EQ(irq0.rises - before, 2);
    CHECK_EQ(irq0.last_irq, 0);
}

TEST(counter_latch_mode2)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 2));
    i8254_write(&pit, PIT_CH0, 0x00);
    i8254_write(&pit, PIT_CH0, 0x10);      // 0x1000
    now += ticks_ns(0x100) + 1;
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LATCH, 0));
    now += ticks_ns(0x200);                 // the latch holds the old value
    uint16_t c = i8254_read(&pit, PIT_CH0);
    c |= (uint16_t)(i8254_read(&pit, PIT_CH0) << 8);
    CHECK_EQ(c, 0x1000 - 0x100);
}

TEST(lsb_only_and_msb_only_access)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(2, PIT_RW_LSB, 0));
    i8254_write(&pit, PIT_CH2, 0x34);
    CHECK_EQ(i8254_count(&pit, 2), 0x34);
    CHECK_EQ(i8254_read(&pit, PIT_CH2), 0x34);
    i8254_write(&pit, PIT_CTRL, cw(2, PIT_RW_MSB, 0));
    i8254_write(&pit, PIT_CH2, 0x12);
    CHECK_EQ(i8254_count(&pit, 2), 0x1200);
    CHECK_EQ(i8254_read(&pit, PIT_CH2), 0x12);
}

TEST(mode0_one_shot_out_low_until_terminal_count)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 0));
    CHECK_EQ(irq0.level, 0);
    i8254_write(&pit, PIT_CH0, 100);
    i8254_write(&pit, PIT_CH0, 0);
    CHECK_EQ(armed_period, 0);
    CHECK_EQ(armed_first, ticks_ns(100));
    i8254_timer(&pit);
    CHECK_EQ(irq0.level, 1);                // OUT high at terminal count, stays high
    CHECK_EQ(irq0.rises, 1);
}

TEST(readback_status)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(1, PIT_RW_LSB_MSB, 2));
    // Read-back: latch status (bit 4 = 0) of counter 1, not the count (bit 5 = 1).
    i8254_write(&pit, PIT_CTRL, 0xc0 | PIT_RB_COUNT | (2 << 1));
    uint8_t st = i8254_read(&pit, PIT_CH1);
    CHECK_EQ(st & 0x3f, (PIT_RW_LSB_MSB << 4) | (2 << 1));
    CHECK(st & PIT_STATUS_NULL);            // no count written yet
}

TEST(mode3_counts_down_by_two)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 3));
    i8254_write(&pit, PIT_CH0, 0x00);
    i8254_write(&pit, PIT_CH0, 0x01);      // 256
    now += ticks_ns(10) + 1;
    CHECK_EQ(i8254_count(&pit, 0), 256 - 20);
}

TEST(count_zero_means_65536)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB_MSB, 2));
    i8254_write(&pit, PIT_CH0, 0);
    i8254_write(&pit, PIT_CH0, 0);
    CHECK_EQ(armed_period, ticks_ns(65536));
}

TEST(host_timer_floor)
{
    setup();
    pit.min_period_ns = 100000;
    i8254_write(&pit, PIT_CTRL, cw(0, PIT_RW_LSB, 2));
    i8254_write(&pit, PIT_CH0, 2);          // 600 kHz: clamped to the floor
    CHECK_EQ(armed_period, 100000);
}

TEST(gate2_and_out2)
{
    setup();
    i8254_write(&pit, PIT_CTRL, cw(2, PIT_RW_LSB_MSB, 0));
    i8254_write(&pit, PIT_CH2, 10);
    i8254_write(&pit, PIT_CH2, 0);
    i8254_set_gate2(&pit, true);
    CHECK(!i8254_out2(&pit));
    now += ticks_ns(11);
    CHECK(i8254_out2(&pit));
}

TEST(reset_state_as_qemu_after_the_bios)
{
    setup();
    i8254_write(&pit, PIT_CTRL, 0xc0 | PIT_RB_COUNT | 0x0e);   // status of all three
    CHECK_EQ(i8254_read(&pit, PIT_CH0) & 0x3f, PIT_RW_LSB_MSB << 4 | 2 << 1);
    CHECK_EQ(i8254_read(&pit, PIT_CH1) & 0x3f, 3 << 1);      // access mode 0, mode 3
    CHECK_EQ(i8254_read(&pit, PIT_CH2) & 0x3f, 3 << 1);
    CHECK_EQ(i8254_read(&pit, PIT_CTRL), 0);
    i8254_write(&pit, PIT_CH2, 0x34);                         // mode 0 loads the low byte
    CHECK_EQ(pit.ch[2].count, 0x34);
}
