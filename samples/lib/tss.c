// The one 32-bit TSS: the ring-0 stack the CPU switches to on entry from ring 3 (SDM 3A §7.2).
#include "lib.h"

struct tss {
    uint32_t link;
    uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
};

static struct tss tss;

// Point the TSS's ring-0 stack at esp0 and write its descriptor into *slot (a GDT entry).
// The caller loads it with ltr. No I/O bitmap: iomap_base past the limit denies all ports.
void tss_init(uint64_t *slot, uint32_t esp0)
{
    tss.ss0 = SEL_KDATA;
    tss.esp0 = esp0;
    tss.iomap_base = sizeof(tss);
    *slot = SEG_DESC((uint32_t)&tss, sizeof(tss) - 1, DESC_P | DESC_DPL(0) | DESC_T_TSS, 0);
}

// The ring-0 stack for the next entry from ring 3 (a scheduler changes it per task).
void tss_set_esp0(uint32_t esp0)
{
    tss.esp0 = esp0;
}
