// Control registers: mov to/from cr0 cr2 cr3 cr4, paging with 4 KiB and 4 MiB pages, invlpg,
// clts, lmsw, smsw (register and memory forms), wbinvd, invd.
#include "sensitive.h"

#define CR0_BASE   (CR0_PE | CR0_MP | CR0_ET | CR0_NE)  // what this sample runs with
#define CR2_VALUE  0x0badf00d      // any value: cr2 is just storage outside #PF
#define REMAP_VA   0x003ff000      // last 4 KiB page of the first 4 MiB: unused by the image
#define BIG_PHYS   0x00400000      // a 4 MiB page mapped twice: identity ...
#define BIG_ALIAS  0x00800000      // ... and here
#define BIG_VALUE  0x50534521      // "!ESP"

__attribute__((aligned(PGSIZE))) uint32_t pgdir[NPTENTRIES];
__attribute__((aligned(PGSIZE))) static uint32_t pt0[NPTENTRIES];
__attribute__((aligned(PGSIZE))) uint8_t page_a[PGSIZE];
__attribute__((aligned(PGSIZE))) uint8_t page_b[PGSIZE];

// Identity-map the first 4 MiB with 4 KiB pages (REMAP_VA -> page_a), the next 4 MiB with
// one 4 MiB page, and map that same 4 MiB page again at BIG_ALIAS.
static void paging_build(void)
{
    for (uint32_t i = 0; i < NPTENTRIES; i++)
        pt0[i] = (i * PGSIZE) | PTE_P | PTE_W;
    pt0[PTX(REMAP_VA)] = (uint32_t)page_a | PTE_P | PTE_W;
    pgdir[0] = (uint32_t)pt0 | PTE_P | PTE_W;
    pgdir[PDX(BIG_PHYS)] = BIG_PHYS | PTE_P | PTE_W | PTE_PS;
    pgdir[PDX(BIG_ALIAS)] = BIG_PHYS | PTE_P | PTE_W | PTE_PS;
    page_a[0] = 'A';
    page_b[0] = 'B';
}

static void check_paging(void)
{
    paging_build();
    lcr3((uint32_t)pgdir);
    printf("mov cr3: read %s\n", addr_name(rcr3()));
    lcr0(CR0_BASE | CR0_WP | CR0_PG);
    printf("paging on: cr0=0x%08x\n", rcr0());

    *(volatile uint32_t *)BIG_ALIAS = BIG_VALUE;
    printf("4 MiB page: wrote 0x%08x at 0x%08x, read 0x%08x at 0x%08x\n", BIG_VALUE,
           BIG_ALIAS, *(volatile uint32_t *)BIG_PHYS, BIG_PHYS);

    volatile uint8_t *va = (volatile uint8_t *)REMAP_VA;
    char before = *va;
    pt0[PTX(REMAP_VA)] = (uint32_t)page_b | PTE_P | PTE_W;
    invlpg((const void *)REMAP_VA);
    printf("invlpg: 0x%08x read '%c', remapped to page_b, invlpg, read '%c'\n", REMAP_VA,
           before, *va);

    lcr0(CR0_BASE);
    printf("paging off: cr0=0x%08x\n", rcr0());
}

static void check_msw(void)
{
    lcr0(CR0_BASE | CR0_TS);
    printf("mov cr0 TS=1: cr0=0x%08x\n", rcr0());
    __asm__ volatile("clts");
    printf("clts: cr0=0x%08x\n", rcr0());

    uint16_t msw = CR0_PE | CR0_MP | CR0_TS;
    __asm__ volatile("lmsw %w0" : : "r"(msw));
    printf("lmsw r16 0x%04x: cr0=0x%08x\n", msw, rcr0());
    msw = 0;  // lmsw cannot clear PE: only MP EM TS go to 0
    __asm__ volatile("lmsw %0" : : "m"(msw));
    printf("lmsw m16 0x%04x: cr0=0x%08x\n", msw, rcr0());
    lcr0(CR0_BASE);

    uint32_t r32 = 0xffffffff, r16 = 0xdead0000, m16 = 0xffffffff;
    __asm__ volatile("smsw %0; smsw %w1; smsw %2" : "+r"(r32), "+r"(r16), "+m"(m16));
    printf("smsw: r32=0x%08x r16=0x%08x m16=0x%08x\n", r32, r16, m16);
}

void check_control(void)
{
    uint32_t cr0 = rcr0();
    printf("cr0 at entry: PE=%u PG=%u\n", !!(cr0 & CR0_PE), !!(cr0 & CR0_PG));
    lcr0(CR0_BASE);
    printf("mov cr0: wrote 0x%08x read 0x%08x\n", CR0_BASE, rcr0());
    lcr2(CR2_VALUE);
    printf("mov cr2: wrote 0x%08x read 0x%08x\n", CR2_VALUE, rcr2());
    lcr4(CR4_PSE);
    printf("mov cr4: wrote 0x%08x read 0x%08x\n", CR4_PSE, rcr4());

    check_paging();
    check_msw();

    __asm__ volatile("wbinvd" ::: "memory");
    printf("wbinvd: ok\n");
    __asm__ volatile("invd" ::: "memory");  // nothing is dirty that matters: we just wbinvd'd
    printf("invd: ok\n");
}
