// Tests of QEMU's pc-testdev (dev/testdev.c); runtime/tests/guest/testdev.c runs the same
// against QEMU -device pc-testdev.
#include "unit.h"

#include "fake_irq.h"
#include "testdev.h"

static struct testdev t;

TEST(latch_by_every_width_and_byte)
{
    memset(&t, 0, sizeof t);
    testdev_ioport_write(&t, 0, 4, 0x11223344);
    CHECK_EQ(testdev_ioport_read(&t, 0, 4), 0x11223344u);
    CHECK_EQ(testdev_ioport_read(&t, 1, 1), 0x33u);
    CHECK_EQ(testdev_ioport_read(&t, 2, 2), 0x1122u);
    testdev_ioport_write(&t, 2, 1, 0x99);
    CHECK_EQ(testdev_ioport_read(&t, 0, 4), 0x11993344u);
}

TEST(unaligned_words_are_refused)
{
    memset(&t, 0, sizeof t);
    testdev_ioport_write(&t, 0, 4, 0x11223344);
    testdev_ioport_write(&t, 1, 2, 0xabcd);
    CHECK_EQ(testdev_ioport_read(&t, 0, 4), 0x11223344u);
    CHECK_EQ(testdev_ioport_read(&t, 1, 2), 0u);
    CHECK_EQ(testdev_ioport_read(&t, 2, 4), 0u);
}

TEST(buffer_reads_back_and_stops_at_its_end)
{
    memset(&t, 0, sizeof t);
    testdev_iomem_write(&t, 0x10, 4, 0xdeadbeef);
    CHECK_EQ(testdev_iomem_read(&t, 0x11, 2), 0xadbeu);
    testdev_iomem_write(&t, TESTDEV_IOMEM_LEN - 2, 4, 0x12345678);   // past the end: dropped
    CHECK_EQ(testdev_iomem_read(&t, TESTDEV_IOMEM_LEN - 2, 2), 0u);
    CHECK_EQ(testdev_iomem_read(&t, TESTDEV_IOMEM_LEN, 1), 0u);
}

TEST(irq_lines_follow_the_byte)
{
    memset(&t, 0, sizeof t);
    struct fake_irq f[TESTDEV_IRQ_LINES] = {{0}};
    for (int i = 0; i < TESTDEV_IRQ_LINES; i++)
        t.irq[i] = fake_irq_line(&f[i], i);
    testdev_irq_write(&t, 5, 1);
    CHECK_EQ(f[5].level, 1);
    CHECK_EQ(f[5].last_irq, 5);
    testdev_irq_write(&t, 5, 0);
    CHECK_EQ(f[5].level, 0);
    testdev_irq_write(&t, 23, 7);   // any non-zero byte raises it
    CHECK_EQ(f[23].level, 1);
    testdev_irq_write(&t, 24, 1);   // no such line
    CHECK_EQ(f[0].rises + f[22].rises, 0);
}
