// The I/O APIC (Intel 82093AA datasheet): routes ISA interrupt lines to the local APIC.
// Its registers are reached through a select/window pair in the page at ioapicpa (from the
// MP table). ISA IRQ n arrives on input n (identity), edge-triggered, active high.
#include "defs.h"

static volatile uint32_t *ioapic;

static uint32_t ioapicread(int reg)
{
    ioapic[IOAPIC_REGSEL / 4] = reg;
    return ioapic[IOAPIC_WIN / 4];
}

static void ioapicwrite(int reg, uint32_t v)
{
    ioapic[IOAPIC_REGSEL / 4] = reg;
    ioapic[IOAPIC_WIN / 4] = v;
}

void ioapicinit(void)
{
    ioapic = (volatile uint32_t *)ioapicpa;
    int maxintr = IOAPIC_VER_MAXREDIR(ioapicread(IOAPIC_VER));
    int id = IOAPIC_ID_OF(ioapicread(IOAPIC_ID));
    if (id != ioapicid)   // not fatal (xv6 only warns too), but a sign of a confused table
        cprintf("ioapic: id %d, but the MP table says %d\n", id, ioapicid);
    // Every input masked, edge-triggered, active high, with vector T_IRQ0 + n.
    for (int i = 0; i <= maxintr; i++) {
        ioapicwrite(IOAPIC_REDTBL + 2 * i, IOAPIC_MASKED | (T_IRQ0 + i));
        ioapicwrite(IOAPIC_REDTBL + 2 * i + 1, 0);
    }
}

// Send ISA interrupt line irq to this CPU as vector vec.
void ioapicenable(int irq, int vec)
{
    ioapicwrite(IOAPIC_REDTBL + 2 * irq + 1, (uint32_t)lapicid() << IOAPIC_DEST_SHIFT);
    ioapicwrite(IOAPIC_REDTBL + 2 * irq, vec);
}
