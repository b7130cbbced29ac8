// Global pages (CR4.PGE) across CR3 writes, as a kernel that marks its own mappings global
// uses them (Linux): two address spaces share 64 global kernel pages and differ in one
// non-global page at the same address; switching between them 1,000 times, each read of the
// non-global page sees its own address space's frame, and the global pages read the same.
// Then a global PTE is changed and flushed with invlpg, another with a CR4.PGE toggle: the
// new frames are seen. Correct on any x86 -- no stale translation is relied on -- so the
// transcript must equal QEMU's, which flushes global translations on CR3 writes too; under
// ring1 a CR3 write does not look at the global pages at all (mem.c).
#include "glib.h"

#define KPAGES   0x400000u   // 4 MiB: 64 global pages (frames at 2 MiB + ...)
#define NKPAGES  64u
#define PRIVATE  0x800000u   // 8 MiB: one non-global page, a frame per address space

static uint32_t pd[2][1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
static uint32_t pt_k[1024] __attribute__((aligned(4096)));
static uint32_t pt_priv[2][1024] __attribute__((aligned(4096)));

static void set_cr3(uint32_t v) { __asm__ volatile("movl %0, %%cr3" :: "r"(v) : "memory"); }
static void invlpg(uint32_t a) { __asm__ volatile("invlpg (%0)" :: "r"(a) : "memory"); }

static uint32_t read_kernel(void)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i < NKPAGES; i++)
        s = s * 31 + *(volatile uint32_t *)(KPAGES + (i << 12));
    return s;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (uint32_t i = 0; i < 1024; i++)
        pt_low[i] = (i << 12) | 3;
    for (uint32_t i = 0; i < NKPAGES; i++) {
        pt_k[i] = (0x200000u + (i << 12)) | 0x103;          // global, supervisor, writable
        *(volatile uint32_t *)(0x200000u + (i << 12)) = 0x1000u + i;
    }
    for (uint32_t a = 0; a < 2; a++) {
        pd[a][0] = (uint32_t)pt_low | 3;
        pd[a][1] = (uint32_t)pt_k | 3;
        pd[a][2] = (uint32_t)pt_priv[a] | 3;
        pt_priv[a][0] = (0x300000u + (a << 12)) | 3;       // not global
        *(volatile uint32_t *)(0x300000u + (a << 12)) = 0xa0 + a;
    }
    __asm__ volatile("movl %%cr4, %%eax\n orl $0x80, %%eax\n movl %%eax, %%cr4" ::: "eax");
    set_cr3((uint32_t)pd[0]);
    __asm__ volatile("movl %%cr0, %%eax\n orl $0x80000000, %%eax\n movl %%eax, %%cr0"
                     ::: "eax", "memory");
    uint32_t ksum = read_kernel(), priv = 0, bad = 0;
    for (uint32_t n = 0; n < 1000; n++) {
        uint32_t a = n & 1;
        set_cr3((uint32_t)pd[a]);
        priv += *(volatile uint32_t *)PRIVATE;
        if (*(volatile uint32_t *)PRIVATE != 0xa0 + a || read_kernel() != ksum)
            bad++;
    }
    puts("switches 1000, kernel pages ");
    puthex(ksum);
    puts(", private pages ");
    puthex(priv);
    puts(", wrong ");
    putdec(bad);
    putc('\n');
    // A global PTE changed: invlpg makes it seen.
    pt_k[0] = (0x200000u + (NKPAGES << 12)) | 0x103;
    *(volatile uint32_t *)(0x200000u + (NKPAGES << 12)) = 0x5555;
    invlpg(KPAGES);
    set_cr3((uint32_t)pd[1]);
    puts("after invlpg: ");
    puthex(*(volatile uint32_t *)KPAGES);
    // Another: a CR4.PGE toggle flushes every global translation.
    pt_k[1] = (0x200000u + ((NKPAGES + 1) << 12)) | 0x103;
    *(volatile uint32_t *)(0x200000u + ((NKPAGES + 1) << 12)) = 0x6666;
    __asm__ volatile("movl %%cr4, %%eax\n andl $~0x80, %%eax\n movl %%eax, %%cr4\n"
                     "orl $0x80, %%eax\n movl %%eax, %%cr4" ::: "eax", "memory");
    puts(", after a CR4.PGE toggle: ");
    puthex(*(volatile uint32_t *)(KPAGES + 0x1000));
    putc('\n');
    gexit(0);
}
