// Tests of port 0x61 (dev/portb.c) against the 8254 model with a fake clock.
#include "unit.h"

#include "portb.h"

static uint64_t now;
static uint64_t fake_now(void *o) { (void)o; return now; }

static struct i8254 pit;
static struct portb pb;

static void setup(void)
{
    memset(&pit, 0, sizeof pit);
    pit.ops.now_ns = fake_now;
    i8254_init(&pit);
    pb = (struct portb){.pit = &pit};
    now = 1000;
}

TEST(refresh_bit_toggles_on_every_read)
{
    setup();
    uint8_t a = portb_read(&pb), b = portb_read(&pb);
    CHECK_EQ((a ^ b) & PORTB_REFRESH, PORTB_REFRESH);
}

TEST(gate2_and_speaker_read_back)
{
    setup();
    portb_write(&pb, PORTB_GATE2 | PORTB_SPKR_DATA);
    CHECK_EQ(portb_read(&pb) & (PORTB_GATE2 | PORTB_SPKR_DATA), PORTB_GATE2 | PORTB_SPKR_DATA);
    portb_write(&pb, 0);
    CHECK_EQ(portb_read(&pb) & (PORTB_GATE2 | PORTB_SPKR_DATA), 0);
}

TEST(out2_follows_counter_2_in_mode_0)
{
    // Linux's PIT calibration: gate on, counter 2 mode 0, poll OUT2 for terminal count.
    setup();
    i8254_write(&pit, PIT_CTRL, 0xb0);   // counter 2, LSB then MSB, mode 0
    i8254_write(&pit, PIT_CH2, 100);
    i8254_write(&pit, PIT_CH2, 0);
    portb_write(&pb, PORTB_GATE2);
    CHECK_EQ(portb_read(&pb) & PORTB_OUT2, 0);
    now += 200ull * 1000000000u / PIT_FREQ_HZ;
    CHECK_EQ(portb_read(&pb) & PORTB_OUT2, PORTB_OUT2);
}
