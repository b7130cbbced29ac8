// Memory-mapped I/O: one registry of physical ranges that are not RAM, and the emulation of
// the guest instruction whose memory operand hit one (the page is left unmapped, so every
// access faults and is decoded; docs/design.md §6).
#ifndef RING1_MMIO_H
#define RING1_MMIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vcpu;
struct insn;

typedef uint32_t (*mmio_read_fn)(void *opaque, uint32_t offset, int size);
typedef void (*mmio_write_fn)(void *opaque, uint32_t offset, int size, uint32_t val);

void mmio_register(uint32_t base, uint32_t len, const char *name, mmio_read_fn rd,
                   mmio_write_fn wr, void *opaque);
// Which registers of the range at base read the same until written (offset dword-aligned):
// their reads by profile-made sites are cached in the vCPU page (abi.h, R1_VCPU_MMIOC); and
// which writes leave all of those as they are (may be NULL: none). Any other write to the
// device empties the cache.
typedef bool (*mmio_stable_fn)(void *opaque, uint32_t offset);
void mmio_set_stable(uint32_t base, mmio_stable_fn stable, mmio_stable_fn write_keeps);
// The cache: where it lives, and forgetting it (so must every change of the guest's
// linear-to-physical mapping: CR3 writes, invlpg, flushes; and wrmsr, reset).
void mmio_cache_init(volatile uint32_t *vcpu_page);
void mmio_cache_flush(void);
// Physical accesses outside RAM. Nothing there: reads return zero and writes vanish, as in
// QEMU (a real PC bus would float to all ones); both are counted for --stats.
uint32_t mmio_read(uint32_t pa, int size);
void mmio_write(uint32_t pa, int size, uint32_t val);
void mmio_print_unhandled(FILE *f);
void mmio_json_unhandled(FILE *f);    // the same for --stats-json

// Emulate the instruction at v->eip, whose memory operand faulted at linear address lin
// (physical pa, not RAM). Handles mov (all forms, movzx/movsx), the ALU group against memory
// (add or adc sbb and sub xor cmp, test), xchg, and the string moves movs/stos/lods (rep or
// not). Returns false if the instruction is none of those.
bool mmio_emulate(struct vcpu *v, uint32_t lin, uint32_t pa);
// The same for a profile-made site (abi.h, R1_KIND_MMIO) reached by its hypercall: `in` is the
// site's original instruction, run at v->eip, whose operand may be on a device or in RAM this
// time. Returns 1 (a device), 0 (RAM), -1 (an instruction this emulation does not handle,
// string moves included). A fault on the operand is raised in the guest (v->exc) either way;
// v->eip advances past the instruction otherwise.
int mmio_emulate_site(struct vcpu *v, const struct insn *in);
// The same emulation for an instruction at v->eip whose memory operand is ordinary guest
// memory, accessed with the guest's paging rights (the host refused the access for a reason of
// its own: vcpu.c, user_limit_fault). False if it is none of the forms above or a string move.
bool mmio_emulate_ram(struct vcpu *v, const struct insn *in);

#endif
