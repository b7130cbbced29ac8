// sgdt sidt sldt str (register and memory forms) and lgdt lidt lldt ltr: the extended GDT,
// the LDT and the TSS this sample runs with from here on.
#include "sensitive.h"

__attribute__((aligned(64))) uint64_t xgdt[NXSEGS];
__attribute__((aligned(8))) static uint64_t ldt[1];
uint8_t window[WINDOW_SIZE] = "window segment: base=window limit=63";
uint8_t ldt_data[LDT_DATA_SIZE] = "LDT!";
static uint8_t tss_stack[4096] __attribute__((aligned(16)));  // ring-0 stack for ring-3 entries

void callgate_entry(void);  // user.S

#define DATA_ACCESS(dpl) (DESC_P | DESC_DPL(dpl) | DESC_S | DESC_RW | DESC_A)

// Build the extended GDT: the library's entries first, so every selector stays valid.
static void xgdt_build(void)
{
    memcpy(xgdt, gdt, sizeof(gdt));
    ldt[0] = SEG_DESC((uint32_t)ldt_data, LDT_DATA_SIZE - 1, DATA_ACCESS(0), DESC_F_DB);
    xgdt[XSEG_LDT] = SEG_DESC((uint32_t)ldt, sizeof(ldt) - 1, DESC_P | DESC_T_LDT, 0);
    xgdt[XSEG_ALIAS] = gdt[SEG_KCODE];
    xgdt[XSEG_WINDOW] = SEG_DESC((uint32_t)window, WINDOW_SIZE - 1, DATA_ACCESS(0), DESC_F_DB);
    xgdt[XSEG_ABSENT] = SEG_DESC(0, SEG_LIMIT_MAX, DATA_ACCESS(0) & ~DESC_P, DESC_F_G | DESC_F_DB);
    xgdt[XSEG_XONLY] = SEG_DESC(0, SEG_LIMIT_MAX, DESC_P | DESC_S | DESC_X | DESC_A,
                                DESC_F_G | DESC_F_DB);
    xgdt[XSEG_GATE] = GATE_DESC(SEL_KCODE, (uint32_t)callgate_entry, DESC_T_CALLGATE, 3);
    tss_init(&xgdt[SEG_TSS], (uint32_t)tss_stack + sizeof(tss_stack));
}

static void print_pd(const char *what, const struct pseudodesc *pd)
{
    printf("%s: limit=0x%04x base=%s\n", what, pd->limit, addr_name(pd->base));
}

// sldt/str into a 32-bit register, a 16-bit register (upper half must survive) and memory
// (exactly 2 bytes stored).
static void print_ldtr_tr(const char *load, uint16_t sel, int tr)
{
    uint32_t r32 = 0xffffffff, r16 = 0xdead0000, m16 = 0xffffffff;
    if (tr)
        __asm__ volatile("str %0; str %w1; str %2" : "+r"(r32), "+r"(r16), "+m"(m16));
    else
        __asm__ volatile("sldt %0; sldt %w1; sldt %2" : "+r"(r32), "+r"(r16), "+m"(m16));
    printf("%s 0x%04x, %s: r32=0x%08x r16=0x%08x m16=0x%08x\n", load, sel, tr ? "str" : "sldt",
           r32, r16, m16);
}

void check_tables(void)
{
    struct pseudodesc pd;

    sgdt(&pd);
    print_pd("sgdt at entry", &pd);
    sidt(&pd);
    print_pd("sidt at entry", &pd);

    xgdt_build();
    struct pseudodesc xpd = { sizeof(xgdt) - 1, (uint32_t)xgdt };
    lgdt(&xpd);
    sgdt(&pd);
    print_pd("lgdt xgdt, sgdt", &pd);

    // lidt something else and back; no interrupt can arrive in between (IF=0).
    struct pseudodesc tmp = { 0x0123, (uint32_t)window };
    lidt(&tmp);
    sidt(&pd);
    print_pd("lidt window, sidt", &pd);
    lidt(&idt_pd);
    sidt(&pd);
    print_pd("lidt idt, sidt", &pd);

    lldt(0);
    print_ldtr_tr("lldt", 0, 0);
    lldt(SEL_LDT);
    print_ldtr_tr("lldt", SEL_LDT, 0);

    ltr(SEL_TSS);
    print_ldtr_tr("ltr", SEL_TSS, 1);
    // ltr marks the descriptor busy in memory (type 9 -> 0xb); a second ltr would #GP.
    printf("ltr: tss descriptor type=0x%x\n", DESC_TYPE(xgdt[SEG_TSS]));
}
