// Ring 3's system calls without a host signal: hot `mov $nr, %eax; int $N` sites patched at
// run time into a far call through ring 3's system call gate (usergate.c).
#ifndef RING1_USERGATE_H
#define RING1_USERGATE_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

// Ring 3 ran `int $vec` at EIP at (a host signal): count it; a hot site of the right form gets
// patched (from its next execution on it enters the gate).
void usergate_note_int(struct vcpu *v, uint32_t at, uint8_t vec);
// The guest's kernel left by `sysexit` to ring 3 (EIP at its return point): the int80
// landing of a vDSO-style `push %ebp; mov %esp, %ebp; sysenter; int $0x80` before it, if that
// is what is there, counts as one exit of that site (patched when hot).
void usergate_note_sysexit(struct vcpu *v);
// A hypercall from ring 3: the gate, entered from a patched site (the system call is delivered
// as its `int` would have been), or anything else (the run stops with a diagnosis).
void usergate_enter(struct vcpu *v);
// Whether host selector cs is a gate's (a signal interrupted ring 3 inside the gate).
static inline bool usergate_is_gate_cs(uint16_t cs)
{
    return (cs & 0xff) == 0xcf;   // (0xcd | vec << 8 as the far call names it, RPL then 3)
}
// A signal interrupted ring 3 inside the gate: put the guest back between the site's two
// original instructions (after the mov, at the int), as if it had run them natively.
void usergate_rollback(struct vcpu *v);
// A fault at a patched site that the guest would see (the far call's push onto a page its
// tables do not map, say; a push that only needs a shadow page filled just runs again): run
// the original instructions instead. False if EIP is not at a patched site.
bool usergate_fault(struct vcpu *v);

#endif
