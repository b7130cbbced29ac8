// Constants shared by entry.S and the C code that builds the window's entry page (main.c) and
// collects what the hypercall stub saved (vcpu.c). No C declarations: entry.S includes it.
#ifndef RING1_ENTRY_H
#define RING1_ENTRY_H

// The window's entry page (window + R1_ENTRY_OFF): the compat-mode `ljmp $0x33, stub` at
// offset 0, the 64-bit stub at HC_STUB_OFF.
#define HC_ENTRY_OFF     0x3000   // = R1_ENTRY_OFF (abi.h; checked in vcpu.c)
#define HC_STUB_OFF      16
// Ring 3's system call gate (usergate.c), also in the entry page: HC_GATE_SLED one-byte nops,
// then the same `ljmp $0x33, stub`. A patched ring-3 site far-calls into it through a host
// LDT code segment based at the gate, with the system call number as the offset.
#define HC_GATE_OFF      0x800
#define HC_GATE_SLED     512
#define HC_GATE_LEN      (HC_GATE_SLED + 7)

// The hypercall stub's save area in the vCPU page (window + R1_VCPU_OFF + HC_SAVE_OFF): the
// guest's eax..edi in x86 encoding order, then EFLAGS, each a uint32_t. abi.h leaves the
// vCPU page's second half to the runtime; trampolines never touch it.
#define HC_SAVE_OFF      0x800
#define HC_SAVE_EFLAGS   0x20
// The stub's scratch stack (one pushfq) grows down from here, also in the vCPU page.
#define HC_SCRATCH_TOP   0xff0

#endif
