// QEMU's pc-testdev (hw/misc/pc-testdev.c), the test device kvm-unit-tests' runner adds
// (`-device pc-testdev`): a 32-bit latch at ports 0xE0-0xE3 (any aligned width, at any byte
// of it; unaligned words and dwords are refused) and again at 0xE8-0xEB, a "flush page" port at 0xE4 (KVM drops its
// mapping of the page written there; nothing to do on ring1), interrupt lines at
// 0x2000-0x2017 (a byte written to 0x2000 + n sets line n to value != 0), and 64 KiB of
// memory-mapped buffer at 0xFF000000. Only with ring1-run --testdev.
#ifndef RING1_TESTDEV_H
#define RING1_TESTDEV_H

#include <stdint.h>

#include "dev.h"

#define TESTDEV_IOPORT      0xe0
#define TESTDEV_FLUSH       0xe4
#define TESTDEV_IOPORT_BYTE 0xe8
#define TESTDEV_IRQ_BASE    0x2000
#define TESTDEV_IRQ_LINES   24
#define TESTDEV_IOMEM_BASE  0xff000000u
#define TESTDEV_IOMEM_LEN   0x10000u

struct testdev {
    uint32_t ioport_data;
    uint8_t iomem[TESTDEV_IOMEM_LEN];
    struct irq_line irq[TESTDEV_IRQ_LINES];   // ISA lines 0-15, IOAPIC pins 16-23
    uint64_t flushes;
};

// off: the byte of the latch (0-3), size 1, 2 or 4.
uint32_t testdev_ioport_read(const struct testdev *t, uint16_t off, int size);
void testdev_ioport_write(struct testdev *t, uint16_t off, int size, uint32_t v);
void testdev_irq_write(struct testdev *t, uint16_t line, uint8_t v);
uint32_t testdev_iomem_read(const struct testdev *t, uint32_t off, int size);
void testdev_iomem_write(struct testdev *t, uint32_t off, int size, uint32_t v);

#endif
