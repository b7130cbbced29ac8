// Exceptions and interrupts through the guest's IDT, iret, and the double/triple-fault rules
// (SDM 3A chapter 6).
#ifndef RING1_INTERRUPT_H
#define RING1_INTERRUPT_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

// How an event arrives; decides the pushed EIP, the gate DPL check and the EXT bit.
enum event_kind {
    EV_EXT,       // external interrupt (PIC): EXT=1, no DPL check, EIP = next to execute
    EV_EXC,       // processor exception (fault): EIP = faulting instruction
    EV_SOFT,      // int n: DPL check, EIP = after the instruction
    EV_SOFT_EXC,  // int3 / into / int1: like int n, but a #BP/#OF/#DB vector
};

// Deliver an event; ret_eip is the guest address pushed (the runtime maps trampoline
// addresses to original ones). Faults during delivery follow the double-fault rules; a
// triple fault stops the vCPU.
void intr_deliver(struct vcpu *v, int vector, enum event_kind kind, uint32_t err,
                  uint32_t ret_eip);
// Deliver the exception the emulator recorded (v->exc) for the instruction at v->eip.
void intr_raise_recorded(struct vcpu *v);
// iret (opsize 2 or 4) in the guest; next_eip is the instruction after it (an original address:
// what a task return saves). -1 on a fault (recorded).
int  intr_iret(struct vcpu *v, int opsize, uint32_t next_eip);

#endif
