// Segmentation: descriptor tables (GDT/LDT), selector loads with the processor's checks,
// the descriptor caches of the virtual CPU, and their reflection on the host (SDM 3A ch. 3, 5).
#ifndef RING1_SEGMENT_H
#define RING1_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct seg;

// Decode a descriptor's base, limit (scaled by G) and attributes (access | flags << 8).
void desc_decode(uint64_t d, uint32_t *base, uint32_t *limit, uint16_t *attr);
#define ATTR_ACCESS(a) ((a) & 0xff)
#define ATTR_FLAGS(a)  (((a) >> 8) & 0xf)

// Read the descriptor a selector names (GDT or LDT). -1 with #GP(sel) recorded if the
// selector is outside its table; the caller checks type, privilege and presence.
int  desc_read(struct vcpu *v, uint16_t sel, uint64_t *d);
int  desc_write(struct vcpu *v, uint16_t sel, uint64_t d);
// The same without the #GP: 1 if the selector is outside its table (the caller chooses the
// fault, as a task switch does), -1 on a fault reading the table, 0 with *d.
int  desc_lookup(struct vcpu *v, uint16_t sel, uint64_t *d);

// Load ES/SS/DS/FS/GS with the checks of mov/pop/lds (SDM vol. 2, MOV). -1 on a fault.
int  seg_load(struct vcpu *v, int sreg, uint16_t sel);
// Check a code selector for a far jmp/call/ret/iret/interrupt and return its descriptor.
// new_cpl is the privilege the transfer lands in (checked against DPL and conforming).
int  seg_check_code(struct vcpu *v, uint16_t sel, int new_cpl, uint64_t *d, int fault_vec);
// Commit a CS load: selector (RPL forced to cpl), cache, CPL, and what follows a CPL change.
void seg_commit_cs(struct vcpu *v, uint16_t sel, uint64_t d, int cpl);
// Commit an SS load with an already checked descriptor.
void seg_commit(struct vcpu *v, int sreg, uint16_t sel, uint64_t d);
// Flat 4 GiB segment (what a multiboot loader leaves, what sysenter/sysexit load).
void seg_set_flat(struct vcpu *v, int sreg, uint16_t sel, bool code, unsigned dpl);
// The stack for privilege level dpl from the current TSS (SDM 3A §7.2.1): ESP, SS and the
// checked SS descriptor. ext is the EXT bit for error codes. -1 with #TS/#SS recorded.
int  tss_stack(struct vcpu *v, unsigned dpl, uint32_t ext, uint32_t *esp, uint16_t *ss,
               uint64_t *ssd);
// Check a stack selector for privilege level pl: RPL and DPL equal pl, a writable data segment,
// present (SDM vol. 2 RET/IRET to an outer level; 3A §7.2.1 for a TSS stack). A failed check
// is fault_vec (#GP for a return, #TS for a TSS stack) with ext in its error code, #SS if not
// present; -1 with the fault recorded.
int  seg_check_stack(struct vcpu *v, uint16_t ss, unsigned pl, uint64_t *ssd, int fault_vec,
                     uint32_t ext);
// After v->cpl changed from old_cpl: the memory view and every host segment follow.
void seg_cpl_changed(struct vcpu *v, int old_cpl);
// Reflect all six segment registers on the host again (after v->user_limit changed).
void seg_resync_host(struct vcpu *v);
// The segment-load fast path (abi.h, R1_VCPU_SEGFAST): forget every cached load (the
// descriptor tables moved: lgdt, lldt, reset); after an exit, take over the loads trampolines
// made alone since the last one into the descriptor caches.
void seg_fast_flush(struct vcpu *v);
void seg_fast_catch_up(struct vcpu *v);
// Null out data segments the new (outer) CPL may not use, after a return to an outer level.
void seg_null_inaccessible(struct vcpu *v);

#endif
