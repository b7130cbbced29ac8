// Emulation of the sensitive instructions (docs/design.md §2) against the virtual CPU.
#ifndef RING1_EMULATE_H
#define RING1_EMULATE_H

#include <stdint.h>

#include "abi.h"
#include "decode.h"

struct vcpu;

enum emu_result {
    EMU_OK,         // done: v->eip and state updated (an exception may have been delivered)
    EMU_UNHANDLED,  // not a sensitive instruction: the caller decides (#GP, #UD, diagnosis)
};

// Emulate the decoded instruction in at guest address addr. next_orig is the address after
// it as the guest must see it (pushed by int/call, reported in frames); next_run is where the
// guest really continues (a trampoline's resume for hypercalls, next_orig for traps).
enum emu_result emulate(struct vcpu *v, const struct insn *in, uint32_t addr,
                        uint32_t next_orig, uint32_t next_run);

extern const char *const kind_names[R1_KIND_MAX];

// Guest stack operations (SS:ESP), for emulation and interrupt delivery.
int emu_push(struct vcpu *v, uint32_t val, int size);
int emu_pop(struct vcpu *v, uint32_t *val, int size);

#endif
