// x86-32 instruction decoder (SDM vol. 2, §2.1 and the opcode maps of appendix A).
#include "decode.h"

#include <string.h>

#include "abi.h"

// Operand shape of each opcode: what follows the opcode byte(s).
enum {
    M  = 1 << 0,  // ModRM (+ SIB + displacement)
    B  = 1 << 1,  // imm8
    W  = 1 << 2,  // imm16
    Z  = 1 << 3,  // imm16 or imm32 by operand size
    A  = 1 << 4,  // moffs: address-size offset
    P  = 1 << 5,  // far pointer: imm16/32 offset + imm16 selector
    G3 = 1 << 6,  // F6/F7: immediate only for reg 0 and 1 (test)
    X  = 1 << 7,  // invalid in 32-bit mode, or a prefix (handled before the table)
};

static const uint8_t map1[256] = {
    /* 00 */ M, M, M, M, B, Z, 0, 0, M, M, M, M, B, Z, 0, X,
    /* 10 */ M, M, M, M, B, Z, 0, 0, M, M, M, M, B, Z, 0, 0,
    /* 20 */ M, M, M, M, B, Z, X, 0, M, M, M, M, B, Z, X, 0,
    /* 30 */ M, M, M, M, B, Z, X, 0, M, M, M, M, B, Z, X, 0,
    /* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 60 */ 0, 0, M, M, X, X, X, X, Z, M|Z, B, M|B, 0, 0, 0, 0,
    /* 70 */ B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    /* 80 */ M|B, M|Z, M|B, M|B, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, P, 0, 0, 0, 0, 0,
    /* a0 */ A, A, A, A, 0, 0, 0, 0, B, Z, 0, 0, 0, 0, 0, 0,
    /* b0 */ B, B, B, B, B, B, B, B, Z, Z, Z, Z, Z, Z, Z, Z,
    /* c0 */ M|B, M|B, W, 0, M, M, M|B, M|Z, W|B, 0, W, 0, 0, B, 0, 0,
    /* d0 */ M, M, M, M, B, B, 0, 0, M, M, M, M, M, M, M, M,
    /* e0 */ B, B, B, B, B, B, B, B, Z, Z, P, B, 0, 0, 0, 0,
    /* f0 */ X, 0, X, X, 0, 0, M|G3, M|G3, 0, 0, 0, 0, 0, 0, M, M,
};

static const uint8_t map2[256] = {
    /* 00 */ M, M, M, M, X, 0, 0, 0, 0, 0, X, 0, X, M, 0, X,
    /* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 20 */ M, M, M, M, X, X, X, X, M, M, M, M, M, M, M, M,
    /* 30 */ 0, 0, 0, 0, 0, 0, X, 0, M, X, M|B, X, X, X, X, X,
    /* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 70 */ M|B, M|B, M|B, M|B, M, M, M, 0, M, M, X, X, M, M, M, M,
    /* 80 */ Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z,
    /* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* a0 */ 0, 0, 0, M, M|B, M, X, X, 0, 0, 0, M, M|B, M, M, M,
    /* b0 */ M, M, M, M, M, M, M, M, M, M, M|B, M, M, M, M, M,
    /* c0 */ M, M, M|B, M, M|B, M|B, M|B, M, 0, 0, 0, 0, 0, 0, 0, 0,
    /* d0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* e0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* f0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};

int decode(const uint8_t *buf, unsigned avail, struct insn *in)
{
    unsigned n = 0;
    memset(in, 0, sizeof *in);
    in->opsize = 4;
    in->adsize = 4;
    in->seg = -1;
    if (avail > INSN_MAX)
        avail = INSN_MAX;

#define NEED(k) do { if (n + (k) > avail) return -1; } while (0)
    // Legacy prefixes, any order, at most one of each group counts (the last one wins).
    for (;;) {
        NEED(1);
        uint8_t b = buf[n];
        switch (b) {
        case 0x66: in->opsize = 2; break;
        case 0x67: in->adsize = 2; break;
        case 0xf0: in->lock = true; break;
        case 0xf2: case 0xf3: in->rep = b; break;
        case 0x26: in->seg = R1_SREG_ES; break;
        case 0x2e: in->seg = R1_SREG_CS; break;
        case 0x36: in->seg = R1_SREG_SS; break;
        case 0x3e: in->seg = R1_SREG_DS; break;
        case 0x64: in->seg = R1_SREG_FS; break;
        case 0x65: in->seg = R1_SREG_GS; break;
        default: goto opcode;
        }
        n++;
    }
opcode:;
    uint8_t shape;
    uint8_t b = buf[n++];
    if (b == 0x0f) {
        NEED(1);
        b = buf[n++];
        in->op = 0x0f00 | b;
        shape = map2[b];
        if (b == 0x38 || b == 0x3a) {  // three-byte maps: all take ModRM
            NEED(1);
            in->op3 = buf[n++];
            shape = (b == 0x3a) ? (M | B) : M;
        }
    } else {
        in->op = b;
        shape = map1[b];
        // C4/C5 with mod=11 are VEX prefixes (not i386 instructions): refuse them.
        if ((b == 0xc4 || b == 0xc5) && n < avail && (buf[n] & 0xc0) == 0xc0)
            return -1;
    }
    if (shape & X)
        return -1;

    if (shape & M) {
        NEED(1);
        uint8_t m = buf[n++];
        in->modrm = true;
        in->mod = m >> 6;
        in->reg = (m >> 3) & 7;
        in->rm = m & 7;
        // mov to/from CRn/DRn (0F 20-23) always use the register form, whatever mod says.
        if (in->op >= 0x0f20 && in->op <= 0x0f23)
            in->mod = 3;
        else if (in->mod != 3) {
            unsigned dsize = 0;
            if (in->adsize == 4) {
                if (in->rm == 4) {
                    NEED(1);
                    uint8_t s = buf[n++];
                    in->sib = true;
                    in->scale = s >> 6;
                    in->index = (s >> 3) & 7;
                    in->base = s & 7;
                    if (in->base == 5 && in->mod == 0)
                        dsize = 4;
                }
                if (in->mod == 0 && in->rm == 5)
                    dsize = 4;
                else if (in->mod == 1)
                    dsize = 1;
                else if (in->mod == 2)
                    dsize = 4;
            } else {
                if (in->mod == 0 && in->rm == 6)
                    dsize = 2;
                else if (in->mod == 1)
                    dsize = 1;
                else if (in->mod == 2)
                    dsize = 2;
            }
            NEED(dsize);
            if (dsize == 1)
                in->disp = (int8_t)buf[n];
            else if (dsize == 2)
                in->disp = (int16_t)(buf[n] | buf[n + 1] << 8);
            else if (dsize == 4)
                in->disp = (int32_t)(buf[n] | buf[n + 1] << 8 | buf[n + 2] << 16 |
                                     (uint32_t)buf[n + 3] << 24);
            n += dsize;
        }
    }

    unsigned isize = 0;
    if (shape & B)
        isize = 1;
    if (shape & W)
        isize = 2;
    if (shape & Z)
        isize = in->opsize;
    if (shape & A)
        isize = in->adsize;
    if (shape & P)
        isize = in->opsize;
    if ((shape & G3) && in->reg < 2)
        isize = (in->op == 0xf6) ? 1 : in->opsize;
    NEED(isize);
    for (unsigned i = 0; i < isize; i++)
        in->imm |= (uint32_t)buf[n + i] << (8 * i);
    n += isize;
    if (shape & P) {  // far pointer: the selector follows the offset
        NEED(2);
        in->imm2 = (uint16_t)(buf[n] | buf[n + 1] << 8);
        n += 2;
    } else if (in->op == 0xc8) {  // enter imm16, imm8
        NEED(1);
        in->imm2 = buf[n++];
    }
#undef NEED
    in->len = (uint8_t)n;
    return (int)n;
}

uint32_t insn_ea(const struct insn *in, const uint32_t gpr[8])
{
    if (in->adsize == 2) {
        // 16-bit addressing: bx+si, bx+di, bp+si, bp+di, si, di, bp (disp16 if mod 0), bx.
        static const int8_t b16[8] = {3, 3, 5, 5, 6, 7, 5, 3}, i16[8] = {6, 7, 6, 7, -1, -1, -1, -1};
        uint32_t ea = (uint32_t)in->disp;
        if (!(in->mod == 0 && in->rm == 6)) {
            ea += gpr[b16[in->rm]];
            if (i16[in->rm] >= 0)
                ea += gpr[i16[in->rm]];
        }
        return ea & 0xffff;
    }
    uint32_t ea = (uint32_t)in->disp;
    if (in->sib) {
        if (!(in->base == 5 && in->mod == 0))
            ea += gpr[in->base];
        if (in->index != 4)
            ea += gpr[in->index] << in->scale;
    } else if (!(in->mod == 0 && in->rm == 5)) {
        ea += gpr[in->rm];
    }
    return ea;
}

int insn_seg(const struct insn *in)
{
    if (in->seg >= 0)
        return in->seg;
    if (in->adsize == 2)
        return (in->rm == 2 || in->rm == 3 || (in->rm == 6 && in->mod != 0)) ? R1_SREG_SS
                                                                               : R1_SREG_DS;
    unsigned base = in->sib ? in->base : in->rm;
    if (base == 4 || (base == 5 && !(in->mod == 0)))
        return R1_SREG_SS;
    return R1_SREG_DS;
}

int insn_kind(const struct insn *in)
{
    switch (in->op) {
    case 0xfa: return R1_KIND_CLI;
    case 0xfb: return R1_KIND_STI;
    case 0xf4: return R1_KIND_HLT;
    case 0xe4: case 0xe5: case 0xec: case 0xed: return R1_KIND_IN;
    case 0xe6: case 0xe7: case 0xee: case 0xef: return R1_KIND_OUT;
    case 0x6c: case 0x6d: return R1_KIND_INS;
    case 0x6e: case 0x6f: return R1_KIND_OUTS;
    case 0x9c: return R1_KIND_PUSHF;
    case 0x9d: return R1_KIND_POPF;
    case 0xcf: return R1_KIND_IRET;
    case 0xcd: case 0xcc: return R1_KIND_INT;
    case 0xce: return R1_KIND_INTO;
    case 0xf1: return R1_KIND_INT1;
    case 0xea: case 0x9a: return in->op == 0xea ? R1_KIND_LJMP : R1_KIND_LCALL;
    case 0xcb: case 0xca: return R1_KIND_LRET;
    case 0xff: return in->reg == 3 ? R1_KIND_LCALL : in->reg == 5 ? R1_KIND_LJMP : 0;
    case 0x8e: return R1_KIND_MOV_TO_SREG;
    case 0x8c: return R1_KIND_MOV_FROM_SREG;
    case 0x07: case 0x17: case 0x1f: case 0x0fa1: case 0x0fa9: return R1_KIND_POP_SREG;
    case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x0fa0: case 0x0fa8:
        return R1_KIND_PUSH_SREG;
    case 0xc4: case 0xc5: case 0x0fb2: case 0x0fb4: case 0x0fb5: return R1_KIND_LOAD_FAR_PTR;
    case 0x0f00: {
        static const int k[8] = {R1_KIND_SLDT, R1_KIND_STR, R1_KIND_LLDT, R1_KIND_LTR,
                                 R1_KIND_VERR, R1_KIND_VERW, 0, 0};
        return k[in->reg];
    }
    case 0x0f01:
        if (in->mod == 3) {
            if (in->reg == 4) return R1_KIND_SMSW;
            if (in->reg == 6) return R1_KIND_LMSW;
            // enclv vmcall vmlaunch vmresume vmxoff pconfig (C0-C5), encls (CF), vmfunc (D4),
            // enclu (D7), the SVM instructions (D8-DF).
            if ((in->reg == 0 && in->rm <= 5) || (in->reg == 1 && in->rm == 7) ||
                (in->reg == 2 && (in->rm == 4 || in->rm == 7)) || in->reg == 3)
                return R1_KIND_VMX_SVM;
            if (in->reg == 1) return in->rm == 0 ? R1_KIND_MONITOR : in->rm == 1 ? R1_KIND_MWAIT
                                   : in->rm == 2 ? R1_KIND_CLAC : in->rm == 3 ? R1_KIND_STAC : 0;
            if (in->reg == 2 && in->rm == 1) return R1_KIND_XSETBV;
            if (in->reg == 7 && in->rm == 1) return R1_KIND_RDTSCP;
            return 0;
        } else {
            static const int k[8] = {R1_KIND_SGDT, R1_KIND_SIDT, R1_KIND_LGDT, R1_KIND_LIDT,
                                     R1_KIND_SMSW, 0, R1_KIND_LMSW, R1_KIND_INVLPG};
            return k[in->reg];
        }
    case 0x0f02: return R1_KIND_LAR;
    case 0x0f03: return R1_KIND_LSL;
    case 0x0f06: return R1_KIND_CLTS;
    case 0x0f08: return R1_KIND_INVD;
    case 0x0f09: return R1_KIND_WBINVD;
    case 0x0f20: return R1_KIND_MOV_FROM_CR;
    case 0x0f22: return R1_KIND_MOV_TO_CR;
    case 0x0f21: return R1_KIND_MOV_FROM_DR;
    case 0x0f23: return R1_KIND_MOV_TO_DR;
    case 0x0f30: return R1_KIND_WRMSR;
    case 0x0f32: return R1_KIND_RDMSR;
    case 0x0f31: return R1_KIND_RDTSC;
    case 0x0f33: return R1_KIND_RDPMC;
    case 0x0fa2: return R1_KIND_CPUID;
    case 0x0f34: return R1_KIND_SYSENTER;
    case 0x0f35: return R1_KIND_SYSEXIT;
    case 0x0f05: return R1_KIND_SYSCALL;
    case 0x0f07: return R1_KIND_SYSRET;
    case 0x0faa: return R1_KIND_RSM;
    case 0x0f37: case 0x0f78: case 0x0f79: return R1_KIND_VMX_SVM;
    case 0x0fc7: return in->reg >= 6 && insn_has_mem(in) ? R1_KIND_VMX_SVM : 0;
    case 0x0f38: return in->op3 == 0x80 || in->op3 == 0x81 ? R1_KIND_VMX_SVM : 0;
    default: return 0;
    }
}
