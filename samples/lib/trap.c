// Trap dispatch: one handler per vector, registered by the sample; anything unexpected is
// reported on COM1 and ends the run with a failure status.
#include "lib.h"

static trap_handler handlers[NIDT];

static const char *const names[NEXCEPTIONS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "RSV", "RSV",
    "RSV", "RSV", "RSV", "RSV", "#HV", "#VC", "#SX", "RSV",
};

const char *trap_name(int vec)
{
    return vec < NEXCEPTIONS ? names[vec] : "IRQ/INT";
}

void trap_register(int vec, trap_handler h)
{
    handlers[vec] = h;
}

// Print the frame in one line: enough to find the faulting instruction with objdump.
void trap_dump(const struct trapframe *tf)
{
    printf("exception %u (%s) err=0x%08x eip=0x%08x cs=0x%04x eflags=0x%08x\n",
           tf->trapno, trap_name(tf->trapno), tf->err, tf->eip, tf->cs, tf->eflags);
}

void trap(struct trapframe *tf)
{
    if (handlers[tf->trapno]) {
        handlers[tf->trapno](tf);
        return;
    }
    if (tf->trapno < NEXCEPTIONS)
        trap_dump(tf);
    else
        printf("unexpected interrupt %u eip=0x%08x\n", tf->trapno, tf->eip);
    qemu_exit(EXIT_UNEXPECTED_TRAP);
}
