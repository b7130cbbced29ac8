// paging: 4 KiB and 4 MiB pages, accessed and dirty bits, invlpg and CR3 reloads, demand
// paging from the #PF handler, and protection faults (read-only, supervisor) from ring 0 and
// ring 3. CR2 and the error code of every #PF are printed; addresses by name or fixed value.
#include "paging.h"

#define MAGIC          0x600dcafe

static uint8_t ring0_stack[4096] __attribute__((aligned(16)));  // TSS esp0
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void print_err(uint32_t err)
{
    printf("err=0x%x (%s %s %s)", err, err & PF_P ? "protection" : "not-present",
           err & PF_W ? "write" : "read", err & PF_U ? "user" : "kernel");
}

static void on_pf(struct trapframe *tf)
{
    uint32_t va = rcr2();
    const struct probe *p = probe_find(tf->eip, 0);
    if (p)
        printf("%s: ", p->name);
    printf("#PF cr2=%s ", va_name(va));
    print_err(tf->err);
    if (!(tf->err & PF_P)) {
        int f = vm_demand_map(va, tf->err & PF_U);
        if (f >= 0) {
            printf(": demand-mapped frame %d, retry\n", f);
            return;  // the faulting instruction runs again
        }
    }
    if (!p) {
        printf(": unexpected\n");
        trap_dump(tf);
        qemu_exit(EXIT_UNEXPECTED_TRAP);
    }
    printf(": skipped\n");
    tf->eip = p->end;
}

static void on_syscall(struct trapframe *tf)
{
    printf("ring 3: read ro_page word 0x%08x, demand page word 0x%08x\n", tf->ebx, tf->esi);
    ring3_leave(tf);
}

// A and D of a PTE, as the CPU left them.
static void print_ad(const char *when, uint32_t e)
{
    printf("%s: A=%u D=%u\n", when, !!(e & PTE_A), !!(e & PTE_D));
}

static void check_access_bits(void)
{
    volatile uint32_t *p = (volatile uint32_t *)frames[0];  // demand-mapped below
    uint32_t va = DEMAND_BASE;
    *vm_pte(va) &= ~(PTE_A | PTE_D);
    invlpg((void *)va);
    print_ad("PTE after invlpg, untouched", *vm_pte(va));
    (void)*(volatile uint32_t *)va;
    print_ad("PTE after a read", *vm_pte(va));
    *(volatile uint32_t *)va = MAGIC;
    print_ad("PTE after a write", *vm_pte(va));
    printf("frame 0 word 0 (identity view): 0x%08x\n", *p);

    pgdir[PDX(BIG_ALIAS)] &= ~(PTE_A | PTE_D);
    lcr3((uint32_t)pgdir);  // flushes the TLB (no global pages here)
    *(volatile uint32_t *)(BIG_ALIAS + 8) = MAGIC;
    print_ad("4 MiB PDE after a write through it", pgdir[PDX(BIG_ALIAS)]);
    printf("4 MiB page: wrote 0x%08x at 0x%08x, read 0x%08x at 0x%08x\n", MAGIC, BIG_ALIAS + 8,
           *(volatile uint32_t *)(BIG_PAGE + 8), BIG_PAGE + 8);
}

static void check_remap(void)
{
    uint32_t va = DEMAND_BASE;
    frames[1][0] = 'x';  // frame 1 backs DEMAND_BASE + PGSIZE
    *vm_pte(va) = (uint32_t)frames[1] | PTE_P | PTE_W;
    invlpg((void *)va);
    printf("remap to frame 1 + invlpg: reads '%c'\n", *(volatile char *)va);
    frames[0][0] = 'y';
    *vm_pte(va) = (uint32_t)frames[0] | PTE_P | PTE_W;
    lcr3(rcr3());
    printf("remap to frame 0 + cr3 reload: reads '%c'\n", *(volatile char *)va);
}

int main(void)
{
    trap_register(T_PF, on_pf);
    trap_register(SYSCALL_VECTOR, on_syscall);
    idt_set_gate(SYSCALL_VECTOR, DESC_T_INTGATE, 3);
    tss_init(&gdt[SEG_TSS], (uint32_t)ring0_stack + sizeof(ring0_stack));
    ltr(SEL_TSS);

    vm_init();
    lcr4(CR4_PSE);
    lcr3((uint32_t)pgdir);
    lcr0(CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
    printf("paging: on, cr0=0x%08x cr4=0x%08x\n", rcr0(), rcr4());

    // Demand paging from ring 0: a read, then a write to the next page.
    printf("demand read: 0x%08x\n", *(volatile uint32_t *)(DEMAND_BASE + 0x10));
    *(volatile uint32_t *)(DEMAND_BASE + PGSIZE + 4) = MAGIC;
    printf("demand write: frame 1 word 1 = 0x%08x\n", ((uint32_t *)frames[1])[1]);

    check_access_bits();
    check_remap();

    kernel_probes();
    lcr0(rcr0() & ~CR0_WP);
    ro_page[PGSIZE - 1] = 1;
    printf("ring 0 write ro_page (WP=0): ok\n");
    lcr0(rcr0() | CR0_WP);

    ring3_call(user_probes, user_stack + sizeof(user_stack), FL_1);

    lcr0(rcr0() & ~CR0_PG);
    printf("paging: off, done\n");
    return 0;
}
