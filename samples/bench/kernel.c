// The guest-kernel platform of the benchmarks (bench.elf): SSE on, paging on (every page of
// RAM identity-mapped with 4 KiB pages, user-accessible), a heap from 16 MiB, a page-fault
// handler for demand paging, the sensitive-operation loops of nano.S, then bench_main() with
// the multiboot command line. Interrupts are enabled (IF=1) with every PIC line masked, as a
// quiet kernel would run.
#include "lib.h"
#include "probe.h"
#include "work.h"

#define HEAP_BASE   (16u << 20)        // well above the kernel image (checked)
#define PTE_ID      (PTE_P | PTE_W | PTE_U)
#define MB_INFO_MEM     0x001          // multiboot info flags: mem_lower/mem_upper valid
#define MB_INFO_CMDLINE 0x004          // cmdline valid

extern uint8_t __kernel_end[];

__attribute__((aligned(PGSIZE))) static uint32_t pgdir[NPTENTRIES];
// The page table of 0xFEC00000-0xFEFFFFFF: the local APIC's page, uncached (nano mmio).
__attribute__((aligned(PGSIZE))) static uint32_t apic_pt[NPTENTRIES];
#define LAPIC_BASE 0xFEE00000u
static uint32_t *ptes;                 // all page tables, contiguous: ptes[va >> 12]
static uint32_t heap, ram_end;

// nano.S's pages: one never mapped (pgfault), one whose PTE flips between two frames (ptemod)
__attribute__((aligned(PGSIZE))) uint8_t nano_np_page[PGSIZE];
__attribute__((aligned(PGSIZE))) uint8_t nano_pte_page[PGSIZE];
__attribute__((aligned(PGSIZE))) static uint8_t nano_pte_frame2[PGSIZE];
uint32_t *nano_pte;
uint32_t nano_pte_a, nano_pte_b;
uint32_t nano_user_n;

// Ring 3 (syscall): its stack, and the ring-0 stack the TSS switches to.
__attribute__((aligned(16))) static uint8_t user_stack[8192];
__attribute__((aligned(16))) static uint8_t kstack0[8192];

// Regions handed to plat_zap: a not-present page there is demand-filled by pf_handler.
static struct { uint32_t lo, hi; } zapped[4];
static int nzapped;

static void fail(const char *what)
{
    printf("bench: %s\n", what);
    qemu_exit(3);
}

static void pf_handler(struct trapframe *tf)
{
    uint32_t va = rcr2();
    const struct probe *p = probe_find(tf->eip, 0);
    if (p) {                           // nano pgfault: skip the read
        tf->eip = p->end;
        return;
    }
    for (int i = 0; i < nzapped; i++)
        if (va >= zapped[i].lo && va < zapped[i].hi && !(tf->err & PTE_P)) {
            uint32_t page = va & ~(PGSIZE - 1);
            ptes[page >> 12] = page | PTE_ID;
            uint32_t words = PGSIZE / 4;
            void *d = (void *)page;
            __asm__ volatile("rep stosl" : "+D"(d), "+c"(words) : "a"(0) : "memory");
            return;
        }
    trap_dump(tf);
    printf("cr2=0x%08x\n", va);
    qemu_exit(EXIT_UNEXPECTED_TRAP);
}

static void skip_probe(struct trapframe *tf)
{
    const struct probe *p = probe_find(tf->eip, 0);
    if (!p) {
        trap_dump(tf);
        qemu_exit(EXIT_UNEXPECTED_TRAP);
    }
    tf->eip = p->end;
}

void *plat_alloc(size_t bytes)
{
    uint32_t n = ((uint32_t)bytes + PGSIZE - 1) & ~(PGSIZE - 1);
    if (n > ram_end - heap)
        fail("out of memory (the guest needs -m 128M)");
    void *p = (void *)heap;
    heap += n;
    return p;
}

void plat_zap(void *p, size_t bytes)
{
    uint32_t lo = (uint32_t)p, hi = lo + (uint32_t)bytes;
    int i;
    for (i = 0; i < nzapped && zapped[i].lo != lo; i++)
        ;
    if (i == nzapped) {
        if (nzapped == 4)
            fail("too many zapped regions");
        nzapped++;
    }
    zapped[i].lo = lo;
    zapped[i].hi = hi;
    for (uint32_t va = lo; va < hi; va += PGSIZE)
        ptes[va >> 12] = 0;
    lcr3(rcr3());                      // one flush for the whole range, as Linux does for many pages
}

void plat_write(const char *s, size_t n)
{
    while (n--)
        uart_putc(*s++);
}

void nano_cli(uint32_t), nano_sti(uint32_t), nano_pushf(uint32_t), nano_popf(uint32_t);
void nano_in(uint32_t), nano_inimr(uint32_t), nano_out(uint32_t), nano_cr3(uint32_t), nano_pgfault(uint32_t);
void nano_divzero(uint32_t), nano_ptemod(uint32_t), nano_mmio(uint32_t), nano_sys_entry(void);
void nano_user_syscall(void), nano_user_syscall_bare(void), nano_user_syscall_stub(void),
    nano_user_syscall_stub_end(void);

static void nano_syscall(uint32_t n)
{
    nano_user_n = n;
    ring3_call(nano_user_syscall, user_stack + sizeof user_stack, FL_1 | FL_IF);
}

static void nano_syscall_bare(uint32_t n)
{
    nano_user_n = n;
    ring3_call(nano_user_syscall_bare, user_stack + sizeof user_stack, FL_1 | FL_IF);
}

// The stub loop runs from a copy in a heap page (user code outside the image), made once.
static void nano_syscall_stub(uint32_t n)
{
    static uint8_t *copy;
    if (!copy) {
        const uint8_t *s = (const uint8_t *)nano_user_syscall_stub;
        uint32_t len = (uint32_t)nano_user_syscall_stub_end - (uint32_t)nano_user_syscall_stub;
        copy = plat_alloc(len);
        for (uint32_t i = 0; i < len; i++)
            copy[i] = s[i];
    }
    nano_user_n = n;
    ring3_call((void (*)(void))copy, user_stack + sizeof user_stack, FL_1 | FL_IF);
}

static void sys_noop(struct trapframe *tf)
{
    (void)tf;
}

static const struct {
    const char *name;
    void (*fn)(uint32_t);
} nano_ops[] = {
    {"syscall", nano_syscall}, {"syscall_bare", nano_syscall_bare},
    {"syscall_stub", nano_syscall_stub}, {"in", nano_in}, {"inimr", nano_inimr}, {"out", nano_out}, {"cli", nano_cli},
    {"sti", nano_sti}, {"pushf", nano_pushf}, {"popf", nano_popf}, {"cr3", nano_cr3},
    {"pgfault", nano_pgfault}, {"divzero", nano_divzero}, {"ptemod", nano_ptemod},
    {"mmio", nano_mmio},
};
#define NNANO (sizeof nano_ops / sizeof nano_ops[0])

const char *const plat_nano_ops[NNANO + 1] = {
    "syscall", "syscall_bare", "syscall_stub", "in", "inimr", "out", "cli", "sti", "pushf", "popf",
    "cr3", "pgfault",
    "divzero", "ptemod", "mmio", 0,
};

int plat_nano(const char *op, void (**fn)(uint32_t))
{
    for (unsigned i = 0; i < NNANO; i++) {
        const char *a = nano_ops[i].name, *b = op;
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b) {
            *fn = nano_ops[i].fn;
            return 1;
        }
    }
    return 0;
}

static void ring3_exit(struct trapframe *tf)
{
    ring3_leave(tf);
}

static void paging_init(void)
{
    uint32_t npages = ram_end / PGSIZE;
    ptes = plat_alloc(npages * 4);
    for (uint32_t i = 0; i < npages; i++)
        ptes[i] = (i * PGSIZE) | PTE_ID;
    for (uint32_t i = 0; i < (npages + NPTENTRIES - 1) / NPTENTRIES; i++)
        pgdir[i] = (uint32_t)&ptes[i * NPTENTRIES] | PTE_ID;
    ptes[(uint32_t)nano_np_page >> 12] = 0;
    nano_pte = &ptes[(uint32_t)nano_pte_page >> 12];
    nano_pte_a = (uint32_t)nano_pte_page | PTE_ID;
    nano_pte_b = (uint32_t)nano_pte_frame2 | PTE_ID;
    nano_pte_page[0] = 1;
    nano_pte_frame2[0] = 2;
    apic_pt[(LAPIC_BASE >> 12) & (NPTENTRIES - 1)] = LAPIC_BASE | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
    pgdir[LAPIC_BASE >> 22] = (uint32_t)apic_pt | PTE_P | PTE_W;
    lcr3((uint32_t)pgdir);
    lcr0(rcr0() | CR0_PG | CR0_WP);
}

int main(void)
{
    const uint32_t *info = (const uint32_t *)mb_info;
    if (mb_magic != MB_BOOT_MAGIC || !(info[0] & MB_INFO_MEM))
        fail("not booted by a multiboot loader with a memory map");
    const char *cmdline = (info[0] & MB_INFO_CMDLINE) ? (const char *)info[4] : "";
    ram_end = (info[2] + 1024) << 10;  // mem_upper is KiB above 1 MiB
    if ((uint32_t)__kernel_end > HEAP_BASE || ram_end <= HEAP_BASE)
        fail("kernel image or RAM size does not fit the heap layout");
    heap = HEAP_BASE;

    // SSE for the workloads (gcc emits SSE2); x87 native (no EM), MP for wait/fwait.
    lcr0((rcr0() & ~CR0_EM) | CR0_MP);
    lcr4(rcr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    paging_init();

    trap_register(T_PF, pf_handler);
    trap_register(T_DE, skip_probe);
    trap_register(0x80, sys_noop);
    idt_set_gate(0x80, DESC_T_INTGATE, 3);
    trap_register(0x81, ring3_exit);
    idt_set_gate(0x81, DESC_T_INTGATE, 3);
    idt[0x82] = GATE_DESC(SEL_KCODE, (uint32_t)nano_sys_entry, DESC_T_INTGATE, 3);
    tss_init(&gdt[SEG_TSS], (uint32_t)(kstack0 + sizeof kstack0));
    ltr(SEL_TSS);
    sti();
    return bench_main(cmdline);
}
