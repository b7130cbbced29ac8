// I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet, §3
// registers; version 0x20 as QEMU models it, with the EOI register): 24 inputs, each with a
// redirection table entry (vector, delivery and destination mode, polarity, trigger mode,
// mask, remote IRR), reached through IOREGSEL/IOWIN in its 4 KiB page at 0xFEC00000.
// Interrupt messages leave through a callback to the local APIC (dev/lapic.c).
#ifndef RING1_IOAPIC_H
#define RING1_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_BASE_DEFAULT 0xfec00000u
#define IOAPIC_SIZE         0x1000u
#define IOAPIC_NPINS        24

// Memory-mapped registers.
#define IOAPIC_REGSEL  0x00
#define IOAPIC_WIN     0x10
#define IOAPIC_EOIR    0x40   // version 0x20: EOI by vector for level-triggered entries

// Indirect registers (IOREGSEL values).
#define IOAPIC_ID      0x00   // bits 27-24
#define IOAPIC_VER     0x01   // bits 23-16 max redirection entry, 7-0 version
#define IOAPIC_ARB     0x02
#define IOAPIC_REDTBL  0x10   // 0x10 + 2n: entry n bits 31-0, + 1: bits 63-32

#define IOAPIC_VERSION 0x20

// Redirection entry bits.
#define IOAPIC_DM        0x700u       // delivery mode (lapic.h LAPIC_DM_*)
#define IOAPIC_LOGICAL   0x800u       // destination mode
#define IOAPIC_PENDING   0x1000u      // delivery status (read only)
#define IOAPIC_LOW_ACTIVE 0x2000u     // polarity
#define IOAPIC_REMOTE_IRR 0x4000u     // read only
#define IOAPIC_LEVEL     0x8000u      // trigger mode
#define IOAPIC_MASKED    0x10000u
#define IOAPIC_RO_BITS   (IOAPIC_PENDING | IOAPIC_REMOTE_IRR)

struct ioapic {
    uint8_t id;
    uint32_t regsel;
    uint64_t redtbl[IOAPIC_NPINS];
    uint32_t irr;                 // inputs asserted (level) / edges waiting (edge)
    // An interrupt message: vector, trigger, destination (mode). Returns false if no
    // processor took it. ExtINT asks the 8259A for the vector instead (extint).
    bool (*deliver)(void *opaque, uint8_t vector, bool level, uint8_t dest, bool logical,
                    uint32_t delivery_mode);
    void *opaque;
    uint64_t lost;                // messages no processor accepted
};

void ioapic_init(struct ioapic *io);
uint32_t ioapic_read(struct ioapic *io, uint32_t offset);
void ioapic_write(struct ioapic *io, uint32_t offset, uint32_t val);
// Input pin level (1 = asserted: ISA IRQs are active high). QEMU wires ISA IRQ 0 to pin 2.
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
// EOI broadcast from the local APIC for a level-triggered vector.
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
