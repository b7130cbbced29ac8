// Segmentation: a GDT of flat 4 GiB segments for ring 0 and ring 3, and the one TSS, whose
// ss0:esp0 is the stack a trap from ring 3 switches to (SDM 3A §3.4, §7.2, §6.12.1).
#include "defs.h"

static uint64_t gdt[NSEGS];

void seginit(void)
{
    const uint8_t code = DESC_P | DESC_S | DESC_X | DESC_RW | DESC_A;
    const uint8_t data = DESC_P | DESC_S | DESC_RW | DESC_A;
    const uint8_t flags = DESC_F_G | DESC_F_DB;

    gdt[SEG_KCODE] = SEG_DESC(0, SEG_LIMIT_MAX, code, flags);
    gdt[SEG_KDATA] = SEG_DESC(0, SEG_LIMIT_MAX, data, flags);
    gdt[SEG_UCODE] = SEG_DESC(0, SEG_LIMIT_MAX, code | DESC_DPL(DPL_USER), flags);
    gdt[SEG_UDATA] = SEG_DESC(0, SEG_LIMIT_MAX, data | DESC_DPL(DPL_USER), flags);

    cpu.ts.ss0 = SEG_KDATA << SEL_INDEX_SHIFT;
    cpu.ts.iomb = sizeof(cpu.ts);       // no I/O bitmap: ring 3 may use no port
    gdt[SEG_TSS] = SEG_DESC((uint32_t)&cpu.ts, sizeof(cpu.ts) - 1, DESC_P | DESC_T_TSS, 0);

    struct pseudodesc pd = { sizeof(gdt) - 1, (uint32_t)gdt };
    lgdt(&pd);
    __asm__ volatile(
        "ljmp %0, $1f\n"                // reload CS from our GDT
        "1: movw %w1, %%ds\n"
        "movw %w1, %%es\n"
        "movw %w1, %%ss\n"
        "movw %w2, %%fs\n"              // fs and gs: unused, null
        "movw %w2, %%gs\n"
        : : "i"(SEG_KCODE << SEL_INDEX_SHIFT), "r"(SEG_KDATA << SEL_INDEX_SHIFT), "r"(0)
        : "memory");
    ltr(SEG_TSS << SEL_INDEX_SHIFT);
}

// The kernel stack a trap from ring 3 lands on: the running process's.
void tss_setesp0(uint32_t esp0)
{
    cpu.ts.esp0 = esp0;
}
