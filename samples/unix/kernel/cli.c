// Nested interrupt disabling. On one CPU, holding interrupts off is this kernel's only lock:
// it guards what interrupt handlers share with process code (the console ring, the IDE
// queue, ticks, process states). pushcli/popcli nest; popcli restores the interrupt flag the
// outermost pushcli found. Other kernel data needs no lock at all: a process in the kernel
// is never preempted (trap.c yields only on interrupts from ring 3), it gives up the CPU only
// by sleeping, and what must stay held across a sleep is marked busy (B_BUSY, I_BUSY).
#include "defs.h"

void pushcli(void)
{
    uint32_t eflags = readeflags();
    cli();
    if (cpu.ncli++ == 0)
        cpu.intena = eflags & FL_IF;
}

void popcli(void)
{
    if (readeflags() & FL_IF)
        panic("popcli: interrupts enabled");
    if (--cpu.ncli < 0)
        panic("popcli: not pushed");
    if (cpu.ncli == 0 && cpu.intena)
        sti();
}
