// x86-32 instruction decoder: prefixes, opcode (one-byte and 0F maps), ModRM/SIB/displacement,
// immediates. Enough to find the length of any instruction a 32-bit kernel executes and to
// name the operands of the sensitive ones (SDM vol. 2, chapter 2 and appendix A).
#ifndef RING1_DECODE_H
#define RING1_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#define INSN_MAX 15

struct insn {
    uint8_t  len;          // total length in bytes
    uint8_t  opsize;       // operand size: 2 or 4
    uint8_t  adsize;       // address size: 2 or 4
    uint8_t  rep;          // 0, 0xf2 (repne) or 0xf3 (rep)
    bool     lock;
    int8_t   seg;          // segment override (R1_SREG_*) or -1
    uint16_t op;           // 0x00-0xff, or 0x0f00 | second byte (0x0f38/0x0f3a: three-byte)
    uint8_t  op3;          // the third opcode byte of 0x0f38/0x0f3a, else 0
    bool     modrm;        // has a ModRM byte
    uint8_t  mod, reg, rm; // its fields
    bool     sib;
    uint8_t  scale, index, base;  // SIB fields (index 4 = none)
    int32_t  disp;
    uint32_t imm;          // first immediate (zero-extended; sign-extend by op as needed)
    uint16_t imm2;         // second immediate: selector of a far pointer, enter's level
};

// Decode the instruction in buf[0..avail). Returns its length, or -1 if it is invalid or
// longer than avail (the caller fetched too few bytes).
int decode(const uint8_t *buf, unsigned avail, struct insn *in);

// True if the ModRM operand is in memory (not a register).
static inline bool insn_has_mem(const struct insn *in) { return in->modrm && in->mod != 3; }

// Effective address (offset within the segment) of the memory operand, given the guest's
// eight general registers in encoding order (eax ecx edx ebx esp ebp esi edi).
uint32_t insn_ea(const struct insn *in, const uint32_t gpr[8]);

// The segment the memory operand uses: the override, else SS for esp/ebp bases, else DS.
int insn_seg(const struct insn *in);

// Catalogue kind (enum r1_kind, docs/design.md §2) of an instruction, 0 if it is not
// sensitive: the runtime's side of rewriter/classify.py's table, which tests/test_catalogue.py
// holds together with it.
int insn_kind(const struct insn *in);

#endif
