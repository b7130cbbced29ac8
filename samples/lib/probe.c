// Look up the PROBE() records (probe.h) so handlers can report faults by name and skip them.
#include "lib.h"

extern const struct probe __probes_start[], __probes_end[];

// The probe whose instruction starts at eip (at_end=0: the CPU reports faults at the
// faulting instruction) or ends there (at_end=1: traps such as int3 report the next one).
const struct probe *probe_find(uint32_t eip, int at_end)
{
    for (const struct probe *p = __probes_start; p < __probes_end; p++)
        if ((at_end ? p->end : p->start) == eip)
            return p;
    return 0;
}

// Vectors delivered after the instruction completes (SDM 3A §6.5). #DB is a trap for the
// icebp and single-step cases probes use.
static int is_trap(uint32_t vec)
{
    return vec == T_DB || vec == T_BP || vec == T_OF || vec >= NEXCEPTIONS;
}

// If tf stopped at a probe, print "<name>: <#XX> [err=...] (fault|trap)" and resume after
// the instruction. Returns 0 (and changes nothing) when eip is not a probe.
int probe_report(struct trapframe *tf)
{
    int trap = is_trap(tf->trapno);
    const struct probe *p = probe_find(tf->eip, trap);
    if (!p)
        return 0;
    printf("%s: %s", p->name, trap_name(tf->trapno));
    if (tf->trapno < NEXCEPTIONS && T_HAS_ERR(tf->trapno))
        printf(" err=0x%04x", tf->err);
    printf(" (%s)\n", trap ? "trap" : "fault");
    tf->eip = p->end;
    return 1;
}

// A trap handler for vectors a sample expects only at probes: anything else is fatal.
void probe_trap(struct trapframe *tf)
{
    if (probe_report(tf))
        return;
    trap_dump(tf);
    qemu_exit(EXIT_UNEXPECTED_TRAP);
}
