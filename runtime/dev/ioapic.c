// I/O APIC (82093AA datasheet §3). As QEMU's hw/intc/ioapic.c: an edge on a masked input is
// dropped (datasheet: "edge requests on a masked pin are ignored"); a level input asserted
// while its remote IRR is set waits for the EOI; unmasking an entry whose level input is
// asserted delivers it; ID, version and arbitration read as QEMU's do.
#include "ioapic.h"

#include <string.h>

void ioapic_init(struct ioapic *io)
{
    bool (*deliver)(void *, uint8_t, bool, uint8_t, bool, uint32_t) = io->deliver;
    void *opaque = io->opaque;
    memset(io, 0, sizeof *io);
    io->deliver = deliver;
    io->opaque = opaque;
    for (int i = 0; i < IOAPIC_NPINS; i++)
        io->redtbl[i] = IOAPIC_MASKED;
}

// Send every pending, unmasked input (QEMU's ioapic_service).
static void service(struct ioapic *io)
{
    for (unsigned pin = 0; pin < IOAPIC_NPINS; pin++) {
        uint32_t mask = 1u << pin;
        uint64_t e = io->redtbl[pin];
        if (!(io->irr & mask) || (e & IOAPIC_MASKED))
            continue;
        bool level = e & IOAPIC_LEVEL;
        if (level) {
            if (e & IOAPIC_REMOTE_IRR)
                continue;
            io->redtbl[pin] |= IOAPIC_REMOTE_IRR;
        } else {
            io->irr &= ~mask;
        }
        if (!io->deliver || !io->deliver(io->opaque, (uint8_t)e, level, (uint8_t)(e >> 56),
                                         e & IOAPIC_LOGICAL, (uint32_t)e & IOAPIC_DM))
            io->lost++;
    }
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
    if (pin >= IOAPIC_NPINS)
        return;
    uint32_t mask = 1u << pin;
    uint64_t e = io->redtbl[pin];
    if (e & IOAPIC_LEVEL) {
        if (level) {
            io->irr |= mask;
            service(io);
        } else {
            io->irr &= ~mask;
        }
    } else if (level && !(e & IOAPIC_MASKED)) {
        io->irr |= mask;
        service(io);
    }
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_NPINS; pin++) {
        uint64_t e = io->redtbl[pin];
        if ((e & IOAPIC_LEVEL) && (uint8_t)e == vector && (e & IOAPIC_REMOTE_IRR))
            io->redtbl[pin] &= ~(uint64_t)IOAPIC_REMOTE_IRR;
    }
    service(io);
}

uint32_t ioapic_read(struct ioapic *io, uint32_t offset)
{
    if (offset == IOAPIC_REGSEL)
        return io->regsel;
    if (offset != IOAPIC_WIN)
        return 0;
    uint32_t r = io->regsel;
    switch (r) {
    case IOAPIC_ID:  return (uint32_t)io->id << 24;
    case IOAPIC_VER: return IOAPIC_VERSION | (IOAPIC_NPINS - 1) << 16;
    case IOAPIC_ARB: return 0;
    default:
        if (r >= IOAPIC_REDTBL && r < IOAPIC_REDTBL + 2 * IOAPIC_NPINS) {
            uint64_t e = io->redtbl[(r - IOAPIC_REDTBL) / 2];
            return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        return 0;
    }
}

void ioapic_write(struct ioapic *io, uint32_t offset, uint32_t val)
{
    if (offset == IOAPIC_REGSEL) {
        io->regsel = val & 0xff;
        return;
    }
    if (offset == IOAPIC_EOIR) {
        ioapic_eoi(io, (uint8_t)val);
        return;
    }
    if (offset != IOAPIC_WIN)
        return;
    uint32_t r = io->regsel;
    if (r == IOAPIC_ID) {
        io->id = (val >> 24) & 0x0f;
        return;
    }
    if (r < IOAPIC_REDTBL || r >= IOAPIC_REDTBL + 2 * IOAPIC_NPINS)
        return;
    unsigned pin = (r - IOAPIC_REDTBL) / 2;
    uint64_t e = io->redtbl[pin];
    if (r & 1) {
        e = (e & 0xffffffffu) | (uint64_t)val << 32;
    } else {
        e = (e & ~0xffffffffull) | (val & ~IOAPIC_RO_BITS) | (e & IOAPIC_RO_BITS);
        if (!(e & IOAPIC_LEVEL))
            e &= ~(uint64_t)IOAPIC_REMOTE_IRR;   // an edge entry has no remote IRR
    }
    io->redtbl[pin] = e;
    service(io);
}
