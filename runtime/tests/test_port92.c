// Tests of system control port A (dev/port92.c).
#include "unit.h"

#include "port92.h"

static struct port92 p;
static int resets, a20 = 1;
static void on_reset(void *o) { (void)o; resets++; }
static void on_a20(void *o, bool on) { (void)o; a20 = on; }

static void setup(void)
{
    p = (struct port92){.reset = on_reset, .a20 = on_a20};
    resets = 0;
    a20 = 1;
    port92_init(&p);
}

TEST(a20_on_after_post)
{
    setup();
    CHECK_EQ(port92_read(&p), PORT92_A20);
}

TEST(a20_gate_follows_bit_1)
{
    setup();
    port92_write(&p, 0);
    CHECK_EQ(a20, 0);
    CHECK_EQ(port92_read(&p), 0);
    port92_write(&p, PORT92_A20);
    CHECK_EQ(a20, 1);
}

TEST(rising_bit_0_resets)
{
    setup();
    port92_write(&p, PORT92_A20 | PORT92_RESET);
    CHECK_EQ(resets, 1);
    port92_write(&p, PORT92_A20 | PORT92_RESET);   // no edge
    CHECK_EQ(resets, 1);
}
