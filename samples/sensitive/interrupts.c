// int n, int3, into, int1, iret (interrupts.S) and hlt woken by a real IRQ0 from the PIT.
#include "sensitive.h"

#define HLT_PIT_COUNT (PIT_HZ / 100)  // one-shot after 10 ms

void intr_int_n(void);
void intr_traps(void);
void intr_icebp(void);
uint32_t intr_into_clear(void);
uint32_t intr_iret_same(void);

static volatile uint32_t ticks;
static int icebp_resumed;

// icebp (f1) raises #DB (a trap) on hardware, but QEMU 7.2's TCG decodes it as #UD (a fault).
// Either way it must not run silently; the line printed is the same for both, so the golden
// does not encode QEMU's deviation.
static void on_icebp(struct trapframe *tf)
{
    const struct probe *p = probe_find(tf->eip, tf->trapno == T_DB);
    if (!p || p->start != (uint32_t)intr_icebp) {
        probe_trap(tf);
        return;
    }
    icebp_resumed = 1;
    tf->eip = p->end;
}

static void on_soft(struct trapframe *tf)
{
    printf("int $0x%x: handler ran, vector=0x%x err=%u cs=0x%04x\n", SOFT_VECTOR, tf->trapno,
           tf->err, tf->cs);
}

// IRQ0: count it and mask the line, so exactly one tick is ever seen (a tick left pending
// from the firmware's PIT setup and the one-shot are then indistinguishable).
static void on_timer(struct trapframe *tf)
{
    (void)tf;
    ticks++;
    pic_mask(IRQ_PIT);
    pic_eoi(IRQ_PIT);
}

void check_interrupts(void)
{
    trap_register(SOFT_VECTOR, on_soft);
    intr_int_n();
    intr_traps();

    trap_register(T_DB, on_icebp);
    trap_register(T_UD, on_icebp);
    intr_icebp();
    trap_register(T_DB, probe_trap);
    trap_register(T_UD, probe_trap);
    printf("icebp/int1: exception taken, resumed after it: %s\n", icebp_resumed ? "yes" : "no");

    printf("into (OF=0): no trap: %s\n", intr_into_clear() ? "yes" : "no");

    printf("iret (same CPL) from IF=0 to a frame with IF=1: ");
    print_vflags(intr_iret_same());
    printf("\n");

    trap_register(IRQ_BASE + IRQ_PIT, on_timer);
    pit_oneshot(HLT_PIT_COUNT);
    pic_unmask(IRQ_PIT);
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    printf("sti; hlt: woken by IRQ0 (vector 0x%x), ticks=%u\n", IRQ_BASE + IRQ_PIT, ticks);
}
