// The patched image's .ring1 tables (site table, o2t/t2o maps) and the hypercall handler.
#ifndef RING1_HYPERCALL_H
#define RING1_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "abi.h"

struct vcpu;

// Validate the header at its guest address (already mapped in the window) and index the
// sites. Returns 0, or -1 after printing why the image is unusable.
int  r1_init(const struct r1_header *h, uint32_t seg_vaddr, uint32_t seg_len);
bool r1_present(void);
const struct r1_site *r1_site(uint32_t index);
const struct r1_site *r1_site_at(uint32_t addr);   // by original address (trap sites)
// The guest must never see a trampoline address: t2o maps one to the original instruction it
// stands for (identity outside the trampolines); o2t sends a transfer into overwritten
// original bytes to the matching trampoline instruction (identity elsewhere).
// While the window has a live physical alias (mem.h) both also work on the alias: a
// trampoline address there maps to the physical address of its original, and a transfer to
// the physical address of overwritten bytes goes to the aliased piece (paging off only).
uint32_t r1_t2o(const struct vcpu *v, uint32_t addr);
uint32_t r1_o2t(const struct vcpu *v, uint32_t addr);
bool r1_in_tramp(uint32_t addr);
// True if an interrupt may be delivered with the guest at addr (not mid-trampoline).
bool r1_interruptible(const struct vcpu *v, uint32_t addr);

// EXIT_HYPERCALL: emulate sites[index] and continue the guest.
void hypercall_handle(struct vcpu *v);
// An int3 at int3_addr: if it is a trap site, emulate it and return true. ran: the guest ran
// the int3 (a host signal); else the run loop found it where the guest was about to run.
bool r1_trap_site(struct vcpu *v, uint32_t int3_addr, bool ran);
// Sites are recorded at link (virtual) addresses, but a kernel whose segments have
// p_vaddr != p_paddr runs its early code at the physical addresses, before paging (abi.h):
// an int3 found at addr is also looked up at addr + delta for each such p_vaddr - p_paddr.
void r1_set_alias_deltas(const uint32_t *deltas, unsigned n);
// A return to the linked address `eip` of a moved `call` (trampoline.py pushes the original
// return address, which is the linked one) made while the code ran at its physical alias
// (paging off: Linux's startup_32 calls load_ucode_bsp): the address to continue at, eip -
// delta, or 0 if eip is not such a return.
uint32_t r1_alias_return(const struct vcpu *v, uint32_t eip);

#endif
