// The local APIC (SDM 3A §10): interrupt acceptance and end-of-interrupt for everything the
// IOAPIC sends, and the periodic timer that drives preemption. Its registers are the page at
// lapicpa (from the MP table), mapped uncached at the same virtual address by vm.c.
#include "defs.h"

static volatile uint32_t *lapic;

static uint32_t lapicr(int reg) { return lapic[reg / 4]; }

static void lapicw(int reg, uint32_t v)
{
    lapic[reg / 4] = v;
    (void)lapic[LAPIC_ID / 4];   // wait for the write to finish, by reading
}

void lapicinit(void)
{
    lapic = (volatile uint32_t *)lapicpa;

    // Software-enable the APIC; set the spurious interrupt vector.
    lapicw(LAPIC_SVR, LAPIC_SVR_ENABLE | T_SPURIOUS);

    // The timer counts TICR down at the bus clock and interrupts at zero, over and over.
    lapicw(LAPIC_TDCR, LAPIC_TDCR_X1);
    lapicw(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | T_TIMER);
    lapicw(LAPIC_TICR, TIMER_COUNT);

    // No interrupts from the local pins (LINT0 would carry the 8259A's virtual wire).
    lapicw(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
    lapicw(LAPIC_LVT_LINT1, LAPIC_LVT_MASKED);
    // The performance-counter entry exists from LVT index 4 on.
    if (LAPIC_VER_MAXLVT(lapicr(LAPIC_VER)) >= 4)
        lapicw(LAPIC_LVT_PCINT, LAPIC_LVT_MASKED);

    lapicw(LAPIC_LVT_ERROR, T_LAPIC_ERR);
    lapicw(LAPIC_ESR, 0);        // clear error status (write, then it latches anew)
    lapicw(LAPIC_ESR, 0);
    lapicw(LAPIC_EOI, 0);        // acknowledge anything outstanding
    lapicw(LAPIC_TPR, 0);        // accept every priority
    cpu.apicid = lapicid();
}

// This processor's APIC id: where the IOAPIC sends interrupts, and how mycpu() (cli.c) knows
// which CPU it runs on. 0 before lapicinit() (the boot CPU, as cpu.apicid is then).
int lapicid(void)
{
    if (!lapic)
        return 0;
    return lapicr(LAPIC_ID) >> LAPIC_ID_SHIFT;
}

void lapiceoi(void)
{
    lapicw(LAPIC_EOI, 0);
}
