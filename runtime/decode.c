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
