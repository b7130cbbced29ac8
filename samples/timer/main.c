// timer: the 8254 PIT at 100 Hz through the 8259A PIC. Ten ticks counted and reported by the
// IRQ0 handler; then how a pending IRQ0 is held while IF=0 or while masked, and delivered by
// sti, popf and iret.
//
// Deterministic by construction: the handler prints only a count and PIC state, and every
// "was it delivered" check first waits until the PIC really has IRQ0 pending.
#include "lib.h"

#define HZ      100
#define NTICKS  10

static volatile uint32_t ticks;
static int verbose;  // the handler prints one line per tick only in the first phase

// The 8259A returns IRR or ISR on its command port, whichever OCW3 selected last.
static uint8_t pic_read_isr(void)
{
    outb(PIC1_CMD, PIC_OCW3_READ_ISR);
    uint8_t v = inb(PIC1_CMD);
    outb(PIC1_CMD, PIC_OCW3_READ_IRR);
    return v;
}

// Spin (IF=0) until IRQ0 is requested; the IRR bit sets whether or not IRQ0 is masked.
static void wait_irq0_pending(void)
{
    while (!(inb(PIC1_CMD) & (1u << IRQ_PIT)))
        ;
}

static void on_tick(struct trapframe *tf)
{
    ticks++;
    if (verbose)
        printf("tick %u: ISR=0x%02x IF=%u from cs=0x%04x\n", ticks, pic_read_isr(),
               !!(read_eflags() & FL_IF), tf->cs);
    if (verbose && ticks == NTICKS)
        pic_mask(IRQ_PIT);
    pic_eoi(IRQ_PIT);
}

// Each delivers a pending interrupt at the first instruction boundary with IF=1.
static void deliver_by_sti(void)
{
    __asm__ volatile("sti; nop; cli" ::: "memory");
}

static void deliver_by_popf(void)
{
    __asm__ volatile("pushfl; orl %0, (%%esp); popfl; nop; cli" : : "i"(FL_IF) : "memory", "cc");
}

static void deliver_by_iret(void)
{
    __asm__ volatile("pushfl; orl %0, (%%esp); pushl %%cs; pushl $1f; iret; 1: cli"
                     : : "i"(FL_IF) : "memory", "cc");
}

static void check_delivery(const char *how, void (*deliver)(void))
{
    wait_irq0_pending();
    uint32_t before = ticks;
    deliver();
    printf("pending IRQ0 delivered by %s: %s\n", how, ticks > before ? "yes" : "no");
}

int main(void)
{
    printf("timer: PIT %u Hz on IRQ0, vector 0x%x\n", HZ, IRQ_BASE + IRQ_PIT);
    trap_register(IRQ_BASE + IRQ_PIT, on_tick);
    pit_periodic(HZ);

    verbose = 1;
    pic_unmask(IRQ_PIT);
    while (ticks < NTICKS)
        __asm__ volatile("sti; hlt; cli" ::: "memory");  // no tick can slip in before hlt
    verbose = 0;
    printf("timer: %u ticks, IRQ0 masked by the handler, ISR=0x%02x\n", ticks, pic_read_isr());

    // Masked: requested (IRR) but never delivered, even with IF=1.
    wait_irq0_pending();
    uint32_t before = ticks;
    deliver_by_sti();
    printf("masked IRQ0 pending, sti: delivered: %s\n", ticks > before ? "yes" : "no");

    pic_unmask(IRQ_PIT);  // IF=0: the pending request now waits for the CPU only
    check_delivery("sti", deliver_by_sti);
    check_delivery("popfl", deliver_by_popf);
    check_delivery("iret", deliver_by_iret);

    pic_mask(IRQ_PIT);
    printf("timer: done\n");
    return 0;
}
