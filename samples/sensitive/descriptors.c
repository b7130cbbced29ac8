// lar, lsl, verr, verw: what the CPU says about this kernel's own descriptors, valid or not.
#include "sensitive.h"

// Each returns ZF (1 = the selector passed the instruction's checks).
static int lar(uint32_t sel, uint32_t *v)
{
    uint8_t ok;
    __asm__ volatile("lar %w2, %0; setz %1" : "=r"(*v), "=q"(ok) : "r"(sel), "0"(0) : "cc");
    return ok;
}

static int lsl(uint32_t sel, uint32_t *v)
{
    uint8_t ok;
    __asm__ volatile("lsl %w2, %0; setz %1" : "=r"(*v), "=q"(ok) : "r"(sel), "0"(0) : "cc");
    return ok;
}

static int verr(uint32_t sel)
{
    uint8_t ok;
    __asm__ volatile("verr %w1; setz %0" : "=q"(ok) : "r"(sel) : "cc");
    return ok;
}

static int verw(uint32_t sel)
{
    uint8_t ok;
    __asm__ volatile("verw %w1; setz %0" : "=q"(ok) : "r"(sel) : "cc");
    return ok;
}

static void print_result(const char *name, int ok, uint32_t v)
{
    if (ok)
        printf(" %s=0x%08x", name, v);
    else
        printf(" %s=fail", name);
}

void check_descriptors(void)
{
    // lar of the call gate returns its offset's bits 20-23 too: stable while the image stays
    // between 1 and 2 MiB.
    static const uint16_t sels[] = {
        0, SEL_KCODE, SEL_KCODE | 3, SEL_KDATA, SEL_UCODE, SEL_UDATA, SEL_TSS, SEL_LDT,
        SEL_ALIAS, SEL_WINDOW, SEL_ABSENT, SEL_XONLY, SEL_GATE, SEL_BEYOND,
        SEL_LDT0, SEL_LDT0 + (1 << SEL_INDEX_SHIFT),
    };
    for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
        uint32_t v;
        int ok;
        printf("selector 0x%04x:", sels[i]);
        ok = lar(sels[i], &v);
        print_result("lar", ok, v);
        ok = lsl(sels[i], &v);
        print_result("lsl", ok, v);
        printf(" verr=%d verw=%d\n", verr(sels[i]), verw(sels[i]));
    }

    // The other encodings: selector in memory, 16-bit destination (upper half kept).
    uint16_t msel = SEL_WINDOW;
    uint32_t lar16 = 0xdead0000, lsl16 = 0xdead0000, larm, lslm;
    uint8_t r, w;
    __asm__ volatile("lar %4, %0; lsl %4, %1; lar %w5, %w2; lsl %w5, %w3"
                     : "=&r"(larm), "=&r"(lslm), "+&r"(lar16), "+&r"(lsl16)
                     : "m"(msel), "r"((uint32_t)msel) : "cc");
    __asm__ volatile("verr %2; setz %0; verw %2; setz %1" : "=q"(r), "=q"(w) : "m"(msel) : "cc");
    printf("selector 0x%04x (m16 / r16 forms): lar=0x%08x lsl=0x%08x lar16=0x%08x "
           "lsl16=0x%08x verr=%u verw=%u\n", msel, larm, lslm, lar16, lsl16, r, w);
}
