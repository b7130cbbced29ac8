// Demand paging as a Unix kernel does it: pages of a region are not present; the #PF handler
// makes the faulting page present (without touching it: the frame is cleared through another
// mapping, as a kernel's direct map) and returns to the faulting instruction, which then
// reads and writes it. Reads, writes and instruction fetches (a `ret` copied into each page
// and called) are demand-faulted; the handler counts the faults and checks CR2 and the error
// code; the accessed and dirty bits the processor leaves are printed at the end. Run against
// QEMU (tests/test_runtime_boot.py): under ring1 the handler's iret maps the page at once.
#include "glib.h"

#define REGION  0x800000u     // 8 MiB: linear region, demand-paged
#define ALIAS   0x400000u     // 4 MiB: the same frames, always present (the "direct map")
#define NPAGES  64u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
static uint32_t pt_alias[1024] __attribute__((aligned(4096)));
static uint32_t pt_region[1024] __attribute__((aligned(4096)));
static volatile uint32_t faults, bad;

void pf_entry(void);
__asm__(".globl pf_entry\n"
        "pf_entry:\n"
        "  pushal\n"
        "  pushl 32(%esp)\n"        // the error code
        "  call pf_handler\n"
        "  addl $4, %esp\n"
        "  popal\n"
        "  addl $4, %esp\n"         // drop the error code
        "  iret\n");

void pf_handler(uint32_t err)
{
    uint32_t cr2;
    __asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
    uint32_t page = (cr2 - REGION) >> 12;
    if (cr2 < REGION || page >= NPAGES || (err & 1)) {
        bad++;
        return;
    }
    faults++;
    uint32_t *d = (uint32_t *)(ALIAS + (page << 12));   // clear it through the alias
    for (unsigned i = 0; i < 1024; i++)
        d[i] = 0;
    ((uint8_t *)d)[64] = 0xc3;                            // ret, for the fetch pass
    pt_region[page] = (ALIAS + (page << 12)) | 7;
}

static void zap(void)
{
    for (uint32_t i = 0; i < NPAGES; i++)
        pt_region[i] = 0;
    uint32_t cr3;
    __asm__ volatile("movl %%cr3, %0\n movl %0, %%cr3" : "=r"(cr3) :: "memory");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (uint32_t i = 0; i < 1024; i++) {
        pt_low[i] = (i << 12) | 3;
        pt_alias[i] = (ALIAS + (i << 12)) | 3;
    }
    pd[0] = (uint32_t)pt_low | 3;
    pd[1] = (uint32_t)pt_alias | 3;
    pd[2] = (uint32_t)pt_region | 7;
    idt_gate(14, pf_entry);
    __asm__ volatile("movl %0, %%cr3\n"
                     "movl %%cr0, %%eax\n orl $0x80000000, %%eax\n movl %%eax, %%cr0"
                     ::"r"(pd) : "eax", "memory");
    uint32_t sum = 0;
    zap();
    for (uint32_t i = 0; i < NPAGES; i++)                  // reads
        sum += *(volatile uint32_t *)(REGION + (i << 12) + 4 * i);
    puts("read pass: faults ");
    putdec(faults);
    zap();
    for (uint32_t i = 0; i < NPAGES; i++)                  // writes
        *(volatile uint32_t *)(REGION + (i << 12) + 8) = i * 7 + 1;
    puts(", write pass: faults ");
    putdec(faults);
    for (uint32_t i = 0; i < NPAGES; i++)
        sum = sum * 31 + *(volatile uint32_t *)(ALIAS + (i << 12) + 8);
    zap();
    for (uint32_t i = 0; i < NPAGES; i++)                  // instruction fetches
        ((void (*)(void))(REGION + (i << 12) + 64))();
    puts(", fetch pass: faults ");
    putdec(faults);
    puts(", bad ");
    putdec(bad);
    puts("\nsum ");
    puthex(sum);
    uint32_t a = 0, dirty = 0;
    for (uint32_t i = 0; i < NPAGES; i++) {
        a += (pt_region[i] >> 5) & 1;
        dirty += (pt_region[i] >> 6) & 1;
    }
    puts("\naccessed ");
    putdec(a);
    puts(" dirty ");
    putdec(dirty);
    putc('\n');
    gexit(0);
}
