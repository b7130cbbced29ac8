// Local APIC of one processor (Intel SDM vol. 3A, chapter 10 "Advanced Programmable Interrupt
// Controller"), xAPIC mode through its 4 KiB register page: ID, version, TPR/PPR, EOI,
// logical destination, spurious vector, ISR/TMR/IRR, error status, the LVT (timer, LINT0,
// LINT1, error, performance, thermal, CMCI), the timer (one-shot and periodic, divide
// configuration), and the ICR for interrupts the processor sends itself. Reset values are
// those a kernel finds under QEMU after SeaBIOS (runtime/tests/guest/pcinfo.c): enabled,
// LINT0 in ExtINT (virtual wire: the 8259A's INTR goes through), LINT1 NMI.
#ifndef RING1_LAPIC_H
#define RING1_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_BASE_DEFAULT 0xfee00000u
#define LAPIC_SIZE         0x1000u

// Register offsets (SDM 3A Table 10-1).
#define LAPIC_ID      0x020
#define LAPIC_VER     0x030
#define LAPIC_TPR     0x080   // task priority
#define LAPIC_APR     0x090   // arbitration priority
#define LAPIC_PPR     0x0a0   // processor priority
#define LAPIC_EOI     0x0b0
#define LAPIC_RRD     0x0c0   // remote read
#define LAPIC_LDR     0x0d0   // logical destination
#define LAPIC_DFR     0x0e0   // destination format
#define LAPIC_SVR     0x0f0   // spurious interrupt vector
#define LAPIC_ISR     0x100   // in service, 8 registers 0x10 apart
#define LAPIC_TMR     0x180   // trigger mode
#define LAPIC_IRR     0x200   // interrupt request
#define LAPIC_ESR     0x280   // error status
#define LAPIC_LVT_CMCI  0x2f0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_THERM 0x330
#define LAPIC_LVT_PERF  0x340
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TICR    0x380   // timer initial count
#define LAPIC_TCCR    0x390   // timer current count
#define LAPIC_TDCR    0x3e0   // timer divide configuration

// QEMU's version register: version 0x14, max LVT entry 5 (CMCI absent, but 6 LVTs' worth).
#define LAPIC_VERSION 0x00050014u

#define LAPIC_SVR_ENABLE   0x100
#define LAPIC_LVT_MASKED   0x10000u
#define LAPIC_LVT_LEVEL    0x8000u    // trigger mode (LINT0/1)
#define LAPIC_LVT_PENDING  0x1000u    // delivery status (read only)
#define LAPIC_LVT_DM       0x700u     // delivery mode
#define LAPIC_DM_FIXED     0x000u
#define LAPIC_DM_LOWEST    0x100u
#define LAPIC_DM_SMI       0x200u
#define LAPIC_DM_NMI       0x400u
#define LAPIC_DM_INIT      0x500u
#define LAPIC_DM_STARTUP   0x600u
#define LAPIC_DM_EXTINT    0x700u
#define LAPIC_TIMER_MODE   0x60000u   // LVT timer bits 18:17
#define LAPIC_TIMER_PERIODIC 0x20000u
#define LAPIC_ICR_LOGICAL  0x800u
#define LAPIC_ICR_LEVEL    0x8000u
#define LAPIC_ICR_ASSERT   0x4000u
#define LAPIC_ICR_SHORTHAND 0xc0000u
#define LAPIC_ICR_SELF     0x40000u
#define LAPIC_ICR_ALL_INCL 0x80000u
#define LAPIC_ICR_ALL_EXCL 0xc0000u
#define LAPIC_ESR_SEND_ILLEGAL 0x20u
#define LAPIC_ESR_RECV_ILLEGAL 0x40u
#define LAPIC_ESR_ILLEGAL_REG  0x80u

#define LAPIC_NLVT 7   // CMCI, timer, thermal, perf, LINT0, LINT1, error
enum { LVT_CMCI, LVT_TIMER, LVT_THERM, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR };

// The timer's clock: QEMU's APIC timer counts at 1 GHz before the divider.
#define LAPIC_TIMER_HZ 1000000000ull

struct lapic_ops {
    uint64_t (*now)(void *opaque);                                  // host ns, monotonic
    void (*arm)(void *opaque, uint64_t first_ns, uint64_t period_ns);   // 0 = disarm
    void (*eoi)(void *opaque, uint8_t vector);   // EOI of a level-triggered vector (IOAPIC)
    void (*nmi)(void *opaque);   // an NMI for this processor (an NMI IPI to itself)
    void *opaque;
};

struct lapic {
    uint8_t id;                    // APIC ID (bits 31-24 of the ID register)
    uint32_t tpr, ldr, dfr, svr, esr, icr_lo, icr_hi, tdcr;
    uint32_t lvt[LAPIC_NLVT];
    uint32_t isr[8], tmr[8], irr[8];
    // Timer: the count runs from initial at start_ns, dividing LAPIC_TIMER_HZ by divide.
    uint32_t initial;
    uint64_t start_ns;
    bool timer_running;
    unsigned divide_shift;
    uint64_t min_period_ns;        // host timer floor: faster periods are slowed to this
    struct lapic_ops ops;
    // Statistics for --stats.
    uint64_t timer_irqs, ipis_lost, accepted;
};

void lapic_init(struct lapic *a);
uint32_t lapic_read(struct lapic *a, uint32_t offset);
// Whether the register at offset reads the same until the guest writes the APIC (no interrupt,
// timer or error changes it).
bool lapic_read_stable(uint32_t offset);
// Whether a write at offset leaves every such register as it is (EOI, ESR).
bool lapic_write_keeps_stable(uint32_t offset);
void lapic_write(struct lapic *a, uint32_t offset, uint32_t val);
// An interrupt message for this processor (IOAPIC or IPI): fixed/lowest priority only.
void lapic_accept(struct lapic *a, uint8_t vector, bool level);
// Does the destination match this processor (physical ID or logical, flat or cluster)?
bool lapic_match(const struct lapic *a, uint8_t dest, bool logical);
// The highest requested vector the processor would take now, or -1.
int lapic_pending(const struct lapic *a);
// INTA: move the highest deliverable vector from IRR to ISR and return it (-1: none).
int lapic_ack(struct lapic *a);
// The host timer expired: raise the timer interrupt (and re-arm a periodic one's count).
void lapic_timer(struct lapic *a);
// Does LINT0 pass the 8259A's INTR to the processor (QEMU's apic_accept_pic_intr, with the
// APIC globally enabled)?
bool lapic_lint0_open(const struct lapic *a);

#endif
