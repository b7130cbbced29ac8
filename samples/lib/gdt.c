// The GDT every sample starts with (loaded by entry.S): flat ring-0 and ring-3 segments.
#include "lib.h"

// Accessed bits are preset so that loading a selector never makes the CPU write the table.
#define FLAT_CODE(dpl) SEG_DESC(0, SEG_LIMIT_MAX, DESC_P | DESC_DPL(dpl) | DESC_S | DESC_X | DESC_RW | \
                                DESC_A, DESC_F_G | DESC_F_DB)
#define FLAT_DATA(dpl) SEG_DESC(0, SEG_LIMIT_MAX, DESC_P | DESC_DPL(dpl) | DESC_S | DESC_RW | DESC_A, \
                                DESC_F_G | DESC_F_DB)

// Aligned so the table never straddles a page.
__attribute__((aligned(64))) uint64_t gdt[NSEGS] = {
    [SEG_NULL]  = 0,
    [SEG_KCODE] = FLAT_CODE(0),
    [SEG_KDATA] = FLAT_DATA(0),
    [SEG_UCODE] = FLAT_CODE(3),
    [SEG_UDATA] = FLAT_DATA(3),
    [SEG_TSS]   = 0,  // tss_init()
};

struct pseudodesc gdt_pd = { sizeof(gdt) - 1, (uint32_t)gdt };
