// exceptions: makes the CPU raise every exception vector it can be made to raise here, each
// reported by its handler (name, vector, error code, fault or trap) and skipped:
// #DE #DB #BP #OF #BR #UD #NM #DF #TS #NP #SS #GP #PF #MF, from ring 0 and ring 3.
// Not raised: NMI and #MC (nothing here can cause them); #AC and #XM, which QEMU 7.2's TCG
// (the reference machine) never raises.
#include "exceptions.h"

__attribute__((aligned(PGSIZE))) static uint32_t pgdir[NPTENTRIES];
static uint64_t xgdt[NXSEGS];
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));  // TSS esp0
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void on_debug(struct trapframe *tf)
{
    uint32_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    tf->eflags &= ~FL_TF;
    printf("dr6.BS=%u: ", !!(dr6 & DR6_BS));
    probe_trap(tf);
}

// #NM: make the FPU available and run the instruction again (no skip).
static void on_nm(struct trapframe *tf)
{
    printf("fninit (CR0.TS=1): %s (fault), clts, retry\n", trap_name(tf->trapno));
    __asm__ volatile("clts");
}

// #TS from an iret with NT=1: clear NT in the frame, or our own iret would try again.
static void on_ts(struct trapframe *tf)
{
    tf->eflags &= ~FL_NT;
    probe_trap(tf);
}

static void on_df(struct trapframe *tf)
{
    printf("#GP with its gate not present: %s err=0x%04x (abort)\n", trap_name(tf->trapno),
           tf->err);
    idt[T_GP] |= DESC_PRESENT64;
    tf->eip = (uint32_t)fault_double_resume;
}

static void on_pf(struct trapframe *tf)
{
    uint32_t cr2 = rcr2();
    printf("cr2=0x%08x ", cr2);
    probe_trap(tf);
}

static void on_mf(struct trapframe *tf)
{
    __asm__ volatile("fnclex");  // else the next x87 instruction faults again
    probe_trap(tf);
}

static void on_exit(struct trapframe *tf)
{
    ring3_leave(tf);
}

int main(void)
{
    static const int probed[] = { T_DE, T_BP, T_OF, T_BR, T_UD, T_NP, T_SS, T_GP };
    for (unsigned i = 0; i < sizeof(probed) / sizeof(probed[0]); i++)
        trap_register(probed[i], probe_trap);
    trap_register(T_DB, on_debug);
    trap_register(T_NM, on_nm);
    trap_register(T_TS, on_ts);
    trap_register(T_DF, on_df);
    trap_register(T_PF, on_pf);
    trap_register(T_MF, on_mf);
    trap_register(VEC_EXIT, on_exit);
    idt_set_gate(VEC_EXIT, DESC_T_INTGATE, 3);
    idt[VEC_ABSENT] &= ~DESC_PRESENT64;

    // The library GDT plus a not-present data segment; a TSS for ring 3's entries.
    memcpy(xgdt, gdt, sizeof(gdt));
    xgdt[XSEG_ABSENT] = SEG_DESC(0, SEG_LIMIT_MAX, DESC_DPL(0) | DESC_S | DESC_RW | DESC_A,
                                 DESC_F_G | DESC_F_DB);
    tss_init(&xgdt[SEG_TSS], (uint32_t)ring0_stack + sizeof(ring0_stack));
    struct pseudodesc pd = { sizeof(xgdt) - 1, (uint32_t)xgdt };
    lgdt(&pd);
    ltr(SEL_TSS);
    lcr0(CR0_PE | CR0_MP | CR0_ET | CR0_NE);  // NE: x87 errors raise #MF

    printf("exceptions: ring 0\n");
    faults_ring0();

    idt[T_GP] &= ~DESC_PRESENT64;
    fault_double();

    // Paging: the first 4 MiB identity-mapped with one 4 MiB page, nothing else.
    pgdir[0] = 0 | PTE_P | PTE_W | PTE_U | PTE_PS;
    lcr4(rcr4() | CR4_PSE);
    lcr3((uint32_t)pgdir);
    lcr0(rcr0() | CR0_PG);
    fault_page();
    lcr0(rcr0() & ~CR0_PG);

    printf("exceptions: ring 3\n");
    ring3_call(user_faults, user_stack + sizeof(user_stack), FL_1);
    printf("exceptions: done\n");
    return 0;
}
