// QEMU's pc-testdev (see testdev.h).
#include "testdev.h"

#include <string.h>

static uint32_t mask(uint16_t off, int size, int *shift)
{
    *shift = (off & 3) * 8;
    uint32_t m = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return m << *shift;
}

// QEMU refuses an unaligned word or dword access to either latch (reads 0, writes vanish).
uint32_t testdev_ioport_read(const struct testdev *t, uint16_t off, int size)
{
    if (off & (size - 1))
        return 0;
    int shift;
    uint32_t m = mask(off, size, &shift);
    return (t->ioport_data & m) >> shift;
}

void testdev_ioport_write(struct testdev *t, uint16_t off, int size, uint32_t v)
{
    if (off & (size - 1))
        return;
    int shift;
    uint32_t m = mask(off, size, &shift);
    t->ioport_data = (t->ioport_data & ~m) | ((v << shift) & m);
}

void testdev_irq_write(struct testdev *t, uint16_t line, uint8_t v)
{
    if (line < TESTDEV_IRQ_LINES)
        irq_line_set(&t->irq[line], v != 0);
}

uint32_t testdev_iomem_read(const struct testdev *t, uint32_t off, int size)
{
    uint32_t v = 0;
    if (off < TESTDEV_IOMEM_LEN && (uint32_t)size <= TESTDEV_IOMEM_LEN - off)
        memcpy(&v, t->iomem + off, (size_t)size);
    return v;
}

void testdev_iomem_write(struct testdev *t, uint32_t off, int size, uint32_t v)
{
    if (off < TESTDEV_IOMEM_LEN && (uint32_t)size <= TESTDEV_IOMEM_LEN - off)
        memcpy(t->iomem + off, &v, (size_t)size);
}
