// Tests of QEMU's isa-debug-exit convention (dev/debugexit.c) and the POST port.
#include "unit.h"

#include "debugexit.h"

static int status = -1;
static void on_exit_(void *o, int s) { (void)o; status = s; }

TEST(value_v_exits_with_2v_plus_1)
{
    struct debugexit d = {on_exit_, NULL};
    debugexit_write(&d, 0);
    CHECK_EQ(status, 1);
    debugexit_write(&d, 5);
    CHECK_EQ(status, 11);
}

TEST(status_is_truncated_to_8_bits_like_exit)
{
    struct debugexit d = {on_exit_, NULL};
    debugexit_write(&d, 0x80);
    CHECK_EQ(status, 1);
    debugexit_write(&d, 0x7f);
    CHECK_EQ(status, 0xff);
}

TEST(reads_answer_zero)
{
    struct debugexit d = {on_exit_, NULL};
    status = -1;
    CHECK_EQ(debugexit_read(&d), 0);
    CHECK_EQ(status, -1);
}

TEST(post_port_records_and_reads_all_ones)
{
    struct post_port p = {0};
    post_port_write(&p, 0x42);
    CHECK_EQ(p.last, 0x42);
    CHECK_EQ(p.writes, 1);
    CHECK_EQ(post_port_read(&p), 0xff);
}
