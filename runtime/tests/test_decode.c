// Tests of the x86-32 decoder (decode.c): lengths, operands, effective addresses.
#include "unit.h"

#include "abi.h"
#include "decode.h"

static struct insn in;

static int dec(const char *hex)
{
    uint8_t b[16];
    unsigned n = 0;
    for (const char *p = hex; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        unsigned v;
        sscanf(p, "%2x", &v);
        b[n++] = (uint8_t)v;
        p += 2;
    }
    return decode(b, n, &in);
}

TEST(one_byte_privileged)
{
    CHECK_EQ(dec("fa"), 1);
    CHECK_EQ(in.op, 0xfa);
    CHECK_EQ(dec("f4"), 1);
    CHECK_EQ(dec("e4 21"), 2);
    CHECK_EQ(in.imm, 0x21);
    CHECK_EQ(dec("66 ed"), 2);
    CHECK_EQ(in.opsize, 2);
    CHECK_EQ(dec("f3 6e"), 2);
    CHECK_EQ(in.rep, 0xf3);
    CHECK_EQ(dec("cd 80"), 2);
    CHECK_EQ(in.imm, 0x80);
    CHECK_EQ(dec("cf"), 1);
}

TEST(far_pointers)
{
    CHECK_EQ(dec("ea 78 56 34 12 08 00"), 7);
    CHECK_EQ(in.imm, 0x12345678);
    CHECK_EQ(in.imm2, 0x08);
    CHECK_EQ(dec("66 ea 34 12 10 00"), 6);
    CHECK_EQ(in.imm, 0x1234);
    CHECK_EQ(in.imm2, 0x10);
    CHECK_EQ(dec("9a 00 00 10 00 1b 00"), 7);
    CHECK_EQ(dec("ff 1d 00 10 00 00"), 6);   // lcall *0x1000
    CHECK_EQ(in.reg, 3);
}

TEST(system_group_7_and_6)
{
    CHECK_EQ(dec("0f 01 15 40 50 10 00"), 7);   // lgdt 0x105040
    CHECK_EQ(in.op, 0x0f01);
    CHECK_EQ(in.reg, 2);
    CHECK_EQ(in.disp, 0x105040);
    CHECK_EQ(dec("0f 01 f9"), 3);               // rdtscp: mod=3 form
    CHECK_EQ(in.mod, 3);
    CHECK_EQ(in.rm, 1);
    CHECK_EQ(dec("0f 00 d8"), 3);               // ltr ax
    CHECK_EQ(in.reg, 3);
    CHECK_EQ(dec("0f 01 38"), 3);               // invlpg (eax)
}

TEST(mov_cr_ignores_mod)
{
    CHECK_EQ(dec("0f 22 c0"), 3);   // mov eax, cr0 -> cr0
    CHECK_EQ(in.reg, 0);
    CHECK_EQ(in.rm, 0);
    CHECK_EQ(dec("0f 20 18"), 3);   // mod=0 still means a register: cr3 -> eax
    CHECK_EQ(in.mod, 3);
    CHECK_EQ(in.reg, 3);
}

TEST(modrm_sib_displacements)
{
    CHECK_EQ(dec("8b 44 24 04"), 4);            // mov eax, [esp+4]
    CHECK(in.sib);
    CHECK_EQ(in.disp, 4);
    CHECK_EQ(dec("8b 04 25 00 10 00 00"), 7);   // SIB, no base: disp32
    CHECK_EQ(dec("8b 84 88 00 01 00 00"), 7);   // [eax + ecx*4 + 0x100]
    CHECK_EQ(dec("8b 45 f8"), 3);               // [ebp-8]
    CHECK_EQ(in.disp, -8);
    CHECK_EQ(dec("8b 05 00 00 10 00"), 6);      // [disp32]
}

TEST(immediates_by_opcode)
{
    CHECK_EQ(dec("f6 05 00 10 00 00 01"), 7);   // test byte [0x1000], 1
    CHECK_EQ(dec("f6 15 00 10 00 00"), 6);      // not byte [0x1000]: no immediate
    CHECK_EQ(dec("f7 c0 00 00 00 80"), 6);      // test eax, imm32
    CHECK_EQ(dec("66 f7 c0 00 80"), 5);         // test ax, imm16
    CHECK_EQ(dec("c8 10 00 01"), 4);            // enter 16, 1
    CHECK_EQ(dec("a1 00 10 00 00"), 5);         // mov eax, moffs32
    CHECK_EQ(dec("67 a1 00 10"), 4);            // 16-bit moffs
    CHECK_EQ(dec("0f ba e0 05"), 4);            // bt eax, 5
    CHECK_EQ(dec("0f 80 00 00 00 00"), 6);      // jo rel32
}

TEST(addressing_16_bit)
{
    CHECK_EQ(dec("67 8b 07"), 3);               // mov eax, [bx]
    CHECK_EQ(dec("67 8b 06 34 12"), 5);         // [disp16]
    CHECK_EQ(dec("67 8b 46 02"), 4);            // [bp+2]
    CHECK_EQ(insn_seg(&in), R1_SREG_SS);
    uint32_t g[8] = {0, 0, 0, 0x11, 0, 0x100, 0x2, 0x3};
    CHECK_EQ(insn_ea(&in, g), 0x102);
}

TEST(effective_address_and_segment)
{
    uint32_t g[8] = {0x1000, 0x10, 0, 0, 0x8000, 0x9000, 0, 0};
    dec("8b 84 88 00 01 00 00");
    CHECK_EQ(insn_ea(&in, g), 0x1000 + 0x40 + 0x100);
    CHECK_EQ(insn_seg(&in), R1_SREG_DS);
    dec("8b 44 24 04");
    CHECK_EQ(insn_ea(&in, g), 0x8004);
    CHECK_EQ(insn_seg(&in), R1_SREG_SS);
    dec("64 8b 45 00");
    CHECK_EQ(insn_seg(&in), R1_SREG_FS);
}

TEST(truncated_and_invalid)
{
    CHECK_EQ(dec("0f"), -1);
    CHECK_EQ(dec("ea 00 00"), -1);
    CHECK_EQ(dec("c5 f8 77"), -1);              // VEX (vzeroupper), not i386
    CHECK_EQ(dec("66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90"), -1);  // > 15 bytes
}
