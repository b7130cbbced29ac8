// libFuzzer target, links runtime/decode.c: the x86-32 instruction decoder.
// Properties checked on every input (first byte: how many bytes the caller says it fetched):
//   - decode() returns -1 or a length 1..min(avail, 15), and in.len agrees;
//   - it reads nothing past buf[avail) (ASan: the bytes are copied to an exact-size heap block);
//   - the result depends only on the instruction's own bytes: decoding again with exactly
//     those bytes gives the same struct, and with one byte fewer fails;
//   - the ModRM/SIB fields are in range, and insn_ea/insn_seg are defined for any registers.
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static void check_fields(const struct insn *in)
{
    assert(in->opsize == 2 || in->opsize == 4);
    assert(in->adsize == 2 || in->adsize == 4);
    assert(in->rep == 0 || in->rep == 0xf2 || in->rep == 0xf3);
    assert(in->seg >= -1 && in->seg <= 5);
    assert(in->mod < 4 && in->reg < 8 && in->rm < 8);
    assert(in->scale < 4 && in->index < 8 && in->base < 8);
    assert(!in->sib || in->modrm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned avail = data[0] % 17;         // 0..16: also more than INSN_MAX
    const uint8_t *code = data + 1;
    size_t n = size - 1;
    if (avail > n)
        avail = (unsigned)n;
    uint8_t *buf = malloc(avail ? avail : 1);
    memcpy(buf, code, avail);
    struct insn in;
    int len = decode(buf, avail, &in);
    assert(len == -1 || (len >= 1 && len <= INSN_MAX && (unsigned)len <= avail));
    if (len > 0) {
        assert(in.len == len);
        check_fields(&in);
        // exactly the instruction's bytes: the same decoding
        uint8_t *exact = malloc((size_t)len);
        memcpy(exact, buf, (size_t)len);
        struct insn again;
        assert(decode(exact, (unsigned)len, &again) == len);
        assert(memcmp(&in, &again, sizeof in) == 0);
        // one byte fewer: too short
        assert(decode(exact, (unsigned)len - 1, &again) == -1);
        free(exact);
        uint32_t gpr[8];
        for (int i = 0; i < 8; i++)
            gpr[i] = 0x01010101u * (uint32_t)(code[i % (n ? n : 1)] ^ (uint8_t)i);
        (void)insn_ea(&in, gpr);
        int s = insn_seg(&in);
        assert(s >= 0 && s <= 5);
    }
    free(buf);
    return 0;
}
