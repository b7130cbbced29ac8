// Pages dropped at a CR3 write and mapped again when their address space runs again, as a
// kernel switching between processes does. Two address spaces map the same 32 linear pages
// (not global), in scattered order: the first 16 onto frames they share (a program's text),
// the others onto frames of their own; switched 400 times, each stay reads its pages (the
// first address space all 32, the second the first 24: the last 8 wait for the first to run
// again), checks each holds the value of the frame it should map, and writes one. Then, while
// the other address space runs, a PTE of the first is pointed at a new frame (no invlpg: the
// CR3 write that comes back flushes it) and another is made not present: the first sees the
// new frame and takes #PF on the second. Then the accessed and dirty bits of every page, as
// the processor left them. While the second runs, it also clears the accessed bit of the
// first's page 31, as a kernel ageing its pages does. Correct on any x86, so the transcript
// must be QEMU's. Under ring1 (mem.c, "Parked pages") a dropped page keeps its host mapping,
// inaccessible, with the frame it mapped; it is mapped again with one mprotect only onto that
// same frame: when its page directory is loaded again if its accessed bit is still set, else
// when it is touched, or when a neighbour in its page table is (a fill brings back the parked
// pages around it that still translate onto their frames, accessed: the third address space).
#include "glib.h"

#define PRIV    0x800000u   // 8 MiB: 32 pages, a frame each per address space
#define NPAGES  32u
#define FRAMES  0x300000u   // frames 3 MiB + (a * NPAGES + scattered index) pages

static uint32_t pd[3][1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
uint32_t pt_priv[2][1024] __attribute__((aligned(4096)));
volatile uint32_t faults;

static void set_cr3(uint32_t v) { __asm__ volatile("movl %0, %%cr3" :: "r"(v) : "memory"); }
#define SHARED  16u         // pages [0, SHARED): one frame for both address spaces
static uint32_t owner(uint32_t a, uint32_t i) { return i < SHARED ? 0 : a; }
static uint32_t frame(uint32_t a, uint32_t i)
{
    return FRAMES + ((owner(a, i) * NPAGES + (i * 13) % NPAGES) << 12);
}
static volatile uint32_t *page(uint32_t i) { return (volatile uint32_t *)(PRIV + (i << 12)); }

void pf_entry(void);
__asm__(".globl pf_entry\npf_entry:\n"
        "  incl faults\n"
        "  pushl %eax\n"
        "  movl %cr2, %eax\n"            // present again (address space 0's page) and retry
        "  shrl $12, %eax\n andl $1023, %eax\n"
        "  orl $1, pt_priv(,%eax,4)\n"
        "  popl %eax\n"
        "  addl $4, %esp\n iret\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (uint32_t i = 0; i < 1024; i++)
        pt_low[i] = (i << 12) | 3;
    for (uint32_t a = 0; a < 2; a++) {
        pd[a][0] = (uint32_t)pt_low | 3;
        pd[a][2] = (uint32_t)pt_priv[a] | 3;
        for (uint32_t i = 0; i < NPAGES; i++) {
            pt_priv[a][i] = frame(a, i) | 3;
            *(volatile uint32_t *)frame(a, i) = (owner(a, i) << 16) | i;
        }
    }
    idt_gate(14, pf_entry);
    set_cr3((uint32_t)pd[0]);
    __asm__ volatile("movl %%cr0, %%eax\n orl $0x80000000, %%eax\n movl %%eax, %%cr0"
                     ::: "eax", "memory");
    uint32_t bad = 0, sum = 0;
    for (uint32_t n = 0; n < 400; n++) {
        uint32_t a = n & 1;
        set_cr3((uint32_t)pd[a]);
        for (uint32_t i = 0; i < (a ? 24 : NPAGES); i++) {
            uint32_t v = page(i)[0];
            sum += v + page(i)[1];
            if (v != ((owner(a, i) << 16) | i))
                bad++;
        }
        page((n >> 1) % (a ? 24 : NPAGES))[1] += 1;
        if (a)
            pt_priv[0][31] &= ~0x20u;   // the first's page 31 not accessed (a kernel's aging)
    }
    puts("switches 400, sum ");
    puthex(sum);
    puts(", wrong ");
    putdec(bad);
    putc('\n');
    // While address space 1 runs: page 20 of address space 0 onto a new frame, page 4 (shared)
    // too, page 21 absent.
    set_cr3((uint32_t)pd[1]);
    (void)page(4)[0];
    (void)page(20)[0];
    (void)page(21)[0];
    *(volatile uint32_t *)(FRAMES + (2 * NPAGES << 12)) = 0x7777;
    *(volatile uint32_t *)(FRAMES + ((2 * NPAGES + 1) << 12)) = 0x8888;
    pt_priv[0][20] = (FRAMES + (2 * NPAGES << 12)) | 3;
    pt_priv[0][4] = (FRAMES + ((2 * NPAGES + 1) << 12)) | 3;
    pt_priv[0][21] &= ~1u;
    pt_priv[0][31] &= ~0x20u;
    set_cr3((uint32_t)pd[0]);
    (void)page(31)[0];   // accessed again: A set by this access, not before it
    puts("page 20 now ");
    puthex(page(20)[0]);
    puts(", page 4 ");
    puthex(page(4)[0]);
    puts(", page 21 ");
    puthex(page(21)[0]);
    puts(" after ");
    putdec(faults);
    puts(" #PF\nA/D bits:");
    for (uint32_t a = 0; a < 2; a++) {
        putc(' ');
        for (uint32_t i = 0; i < NPAGES; i++)
            putc("-ad+"[(pt_priv[a][i] >> 5 & 1) | (pt_priv[a][i] >> 5 & 2)]);
    }
    putc('\n');
    // A third address space over address space 0's page table: its pages parked when address
    // space 1 ran are the same translations, accessed, under another CR3. While address space
    // 1 runs (it touches pages 0-23 only), page 25 is moved to a new frame and page 26's
    // accessed bit cleared; then the third reads page 24, then 25-31 but 26, then 26.
    set_cr3((uint32_t)pd[0]);
    for (uint32_t i = 0; i < NPAGES; i++)
        (void)page(i)[0];
    set_cr3((uint32_t)pd[1]);
    for (uint32_t i = 0; i < 24; i++)
        (void)page(i)[0];
    *(volatile uint32_t *)(FRAMES + ((2 * NPAGES + 2) << 12)) = 0x9999;
    pt_priv[0][25] = (FRAMES + ((2 * NPAGES + 2) << 12)) | 0x23;
    pt_priv[0][26] &= ~0x20u;
    pd[2][0] = (uint32_t)pt_low | 3;
    pd[2][2] = (uint32_t)pt_priv[0] | 3;
    set_cr3((uint32_t)pd[2]);
    uint32_t sum2 = page(24)[0];
    for (uint32_t i = 25; i < NPAGES; i++)
        if (i != 26)
            sum2 += page(i)[0];
    puts("shared table: sum ");
    puthex(sum2);
    puts(", page 25 ");
    puthex(page(25)[0]);
    puts(", page 26 A before its read ");
    putdec(pt_priv[0][26] >> 5 & 1);
    (void)page(26)[0];
    puts(", after ");
    putdec(pt_priv[0][26] >> 5 & 1);
    puts("\nA/D bits:  ");
    for (uint32_t i = 0; i < NPAGES; i++)
        putc("-ad+"[(pt_priv[0][i] >> 5 & 1) | (pt_priv[0][i] >> 5 & 2)]);
    putc('\n');
    gexit(0);
}
