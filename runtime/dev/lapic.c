// Local APIC (SDM 3A ch. 10). Where the SDM leaves room, QEMU's hw/intc/apic.c is followed,
// since a kernel's transcript is compared with QEMU's: registers are reached with 32-bit
// accesses only (narrower reads return 0, narrower writes are dropped); PPR 0 accepts any
// vector; the timer counts at 1 GHz divided by the divide configuration and a periodic timer
// reloads every initial + 1 counts; software-disabling the APIC only stops delivery (the LVT
// mask bits stay as written); an EOI of a vector whose TMR bit is set is broadcast to the
// IOAPIC.
#include "lapic.h"

#include <string.h>

static void set_bit(uint32_t *v, unsigned n) { v[n >> 5] |= 1u << (n & 31); }
static void clear_bit(uint32_t *v, unsigned n) { v[n >> 5] &= ~(1u << (n & 31)); }
static bool get_bit(const uint32_t *v, unsigned n) { return v[n >> 5] >> (n & 31) & 1; }

// Highest set bit of a 256-bit register, or -1.
static int highest(const uint32_t *v)
{
    for (int i = 7; i >= 0; i--)
        if (v[i])
            return i * 32 + 31 - __builtin_clz(v[i]);
    return -1;
}

static uint32_t ppr(const struct lapic *a)
{
    int isrv = highest(a->isr);
    unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv >> 4;
    return (a->tpr >> 4) >= isr_class ? a->tpr : isr_class << 4;
}

void lapic_init(struct lapic *a)
{
    struct lapic_ops ops = a->ops;
    uint64_t floor = a->min_period_ns;
    memset(a, 0, sizeof *a);
    a->ops = ops;
    a->min_period_ns = floor;
    a->dfr = 0xffffffffu;
    for (int i = 0; i < LAPIC_NLVT; i++)
        a->lvt[i] = LAPIC_LVT_MASKED;
    a->lvt[LVT_CMCI] = 0;   // reads 0 under QEMU (no CMCI)
    // What SeaBIOS leaves: the APIC enabled with spurious vector 0xff, LINT0 ExtINT (virtual
    // wire), LINT1 NMI, and its last ICR command (a startup IPI to all but itself).
    a->svr = LAPIC_SVR_ENABLE | 0xff;
    a->lvt[LVT_LINT0] = LAPIC_LVT_LEVEL | LAPIC_DM_EXTINT;
    a->lvt[LVT_LINT1] = LAPIC_LVT_LEVEL | LAPIC_DM_NMI;
    a->icr_lo = LAPIC_ICR_ALL_EXCL | LAPIC_ICR_ASSERT | LAPIC_DM_STARTUP | 0x10;
    a->divide_shift = 1;    // TDCR 0: divide by 2
}

// ---- timer ------------------------------------------------------------------------------------
static uint64_t now(const struct lapic *a)
{
    return a->ops.now ? a->ops.now(a->ops.opaque) : 0;
}

static uint32_t current_count(const struct lapic *a)
{
    if (!a->initial)
        return 0;
    uint64_t d = (now(a) - a->start_ns) >> a->divide_shift;
    if (a->lvt[LVT_TIMER] & LAPIC_TIMER_PERIODIC)
        return (uint32_t)(a->initial - d % ((uint64_t)a->initial + 1));
    return d >= a->initial ? 0 : (uint32_t)(a->initial - d);
}

// (Re)arm the host timer for the next expiry, as QEMU's apic_next_timer computes it.
static void timer_update(struct lapic *a)
{
    if (!a->ops.arm)
        return;
    a->timer_running = false;
    if ((a->lvt[LVT_TIMER] & LAPIC_LVT_MASKED) || !a->initial) {
        a->ops.arm(a->ops.opaque, 0, 0);
        return;
    }
    uint64_t t = now(a), d = (t - a->start_ns) >> a->divide_shift;
    uint64_t period = ((uint64_t)a->initial + 1) << a->divide_shift, next;
    bool periodic = a->lvt[LVT_TIMER] & LAPIC_TIMER_PERIODIC;
    if (periodic) {
        next = a->start_ns + ((d / ((uint64_t)a->initial + 1)) + 1) * period;
    } else {
        if (d >= a->initial) {
            a->ops.arm(a->ops.opaque, 0, 0);
            return;
        }
        next = a->start_ns + period;
    }
    uint64_t first = next > t ? next - t : 1;
    if (periodic && period < a->min_period_ns)
        period = a->min_period_ns;
    if (first < a->min_period_ns && periodic)
        first = a->min_period_ns;
    a->timer_running = true;
    a->ops.arm(a->ops.opaque, first, periodic ? period : 0);
}

void lapic_timer(struct lapic *a)
{
    if (!a->timer_running)
        return;
    if (!(a->lvt[LVT_TIMER] & LAPIC_TIMER_PERIODIC))
        a->timer_running = false;
    uint32_t lvt = a->lvt[LVT_TIMER];
    if (lvt & LAPIC_LVT_MASKED)
        return;
    a->timer_irqs++;
    lapic_accept(a, (uint8_t)lvt, false);
}

// ---- interrupts ---------------------------------------------------------------------------------
void lapic_accept(struct lapic *a, uint8_t vector, bool level)
{
    if (vector < 16) {          // vectors 0-15 are illegal (SDM 3A §10.5.2)
        a->esr |= LAPIC_ESR_RECV_ILLEGAL;
        return;
    }
    a->accepted++;
    set_bit(a->irr, vector);
    if (level)
        set_bit(a->tmr, vector);
    else
        clear_bit(a->tmr, vector);
}

int lapic_pending(const struct lapic *a)
{
    if (!(a->svr & LAPIC_SVR_ENABLE))
        return -1;
    int irrv = highest(a->irr);
    if (irrv < 0)
        return -1;
    uint32_t p = ppr(a);
    if (p && ((unsigned)irrv & 0xf0) <= (p & 0xf0))
        return -1;
    return irrv;
}

int lapic_ack(struct lapic *a)
{
    int v = lapic_pending(a);
    if (v < 0)
        return -1;
    clear_bit(a->irr, (unsigned)v);
    set_bit(a->isr, (unsigned)v);
    return v;
}

bool lapic_lint0_open(const struct lapic *a)
{
    return !(a->lvt[LVT_LINT0] & LAPIC_LVT_MASKED);
}

bool lapic_match(const struct lapic *a, uint8_t dest, bool logical)
{
    if (!logical)
        return dest == 0xff || dest == a->id;
    uint8_t ldr = (uint8_t)(a->ldr >> 24);
    if ((a->dfr >> 28) == 0xf)                   // flat model
        return dest & ldr;
    return (dest & 0xf0) == (ldr & 0xf0) && (dest & ldr & 0x0f);   // cluster model
}

static void eoi(struct lapic *a)
{
    int v = highest(a->isr);
    if (v < 0)
        return;
    clear_bit(a->isr, (unsigned)v);
    if (get_bit(a->tmr, (unsigned)v) && a->ops.eoi)
        a->ops.eoi(a->ops.opaque, (uint8_t)v);
}

// ICR write: only this processor exists; what is addressed to it is delivered (fixed and
// lowest-priority vectors, NMI), the rest (INIT, startup, SMI, IPIs to other APIC IDs) goes
// nowhere and is counted.
static void send_ipi(struct lapic *a)
{
    uint32_t lo = a->icr_lo, mode = lo & LAPIC_LVT_DM;
    bool self;
    switch (lo & LAPIC_ICR_SHORTHAND) {
    case LAPIC_ICR_SELF:
    case LAPIC_ICR_ALL_INCL:
        self = true;
        break;
    case LAPIC_ICR_ALL_EXCL:
        self = false;
        break;
    default:
        self = lapic_match(a, (uint8_t)(a->icr_hi >> 24), lo & LAPIC_ICR_LOGICAL);
        break;
    }
    if (self && mode == LAPIC_DM_NMI && a->ops.nmi) {
        a->ops.nmi(a->ops.opaque);
        return;
    }
    if (!self || (mode != LAPIC_DM_FIXED && mode != LAPIC_DM_LOWEST)) {
        a->ipis_lost++;
        return;
    }
    if ((lo & 0xff) < 16) {
        a->esr |= LAPIC_ESR_SEND_ILLEGAL;
        return;
    }
    lapic_accept(a, (uint8_t)lo, lo & LAPIC_ICR_LEVEL);
}

// ---- registers ------------------------------------------------------------------------------------
static int lvt_index(uint32_t off)
{
    switch (off) {
    case LAPIC_LVT_CMCI:  return LVT_CMCI;
    case LAPIC_LVT_TIMER: return LVT_TIMER;
    case LAPIC_LVT_THERM: return LVT_THERM;
    case LAPIC_LVT_PERF:  return LVT_PERF;
    case LAPIC_LVT_LINT0: return LVT_LINT0;
    case LAPIC_LVT_LINT1: return LVT_LINT1;
    case LAPIC_LVT_ERROR: return LVT_ERROR;
    default:              return -1;
    }
}

bool lapic_read_stable(uint32_t off)
{
    off &= 0xff0;
    if (lvt_index(off) >= 0)
        return true;
    switch (off) {
    case LAPIC_ID: case LAPIC_VER: case LAPIC_TPR: case LAPIC_LDR: case LAPIC_DFR:
    case LAPIC_SVR: case LAPIC_ICR_LO: case LAPIC_ICR_HI: case LAPIC_TICR: case LAPIC_TDCR:
        return true;
    default:   // ISR/TMR/IRR/PPR/ESR follow interrupts, the current count time
        return false;
    }
}

bool lapic_write_keeps_stable(uint32_t off)
{
    off &= 0xff0;
    return off == LAPIC_EOI || off == LAPIC_ESR;   // ISR/PPR and the error latch only
}

uint32_t lapic_read(struct lapic *a, uint32_t off)
{
    off &= 0xff0;
    int lvt = lvt_index(off);
    if (lvt >= 0)
        return a->lvt[lvt];
    if (off >= LAPIC_ISR && off < LAPIC_ISR + 0x80)
        return a->isr[(off - LAPIC_ISR) >> 4];
    if (off >= LAPIC_TMR && off < LAPIC_TMR + 0x80)
        return a->tmr[(off - LAPIC_TMR) >> 4];
    if (off >= LAPIC_IRR && off < LAPIC_IRR + 0x80)
        return a->irr[(off - LAPIC_IRR) >> 4];
    switch (off) {
    case LAPIC_ID:     return (uint32_t)a->id << 24;
    case LAPIC_VER:    return LAPIC_VERSION;
    case LAPIC_TPR:    return a->tpr;
    case LAPIC_APR:    return 0;
    case LAPIC_PPR:    return ppr(a);
    case LAPIC_EOI:    return 0;
    case LAPIC_LDR:    return a->ldr;
    case LAPIC_DFR:    return a->dfr | 0x0fffffffu;
    case LAPIC_SVR:    return a->svr;
    case LAPIC_ESR:    return a->esr;
    case LAPIC_ICR_LO: return a->icr_lo;
    case LAPIC_ICR_HI: return a->icr_hi;
    case LAPIC_TICR:   return a->initial;
    case LAPIC_TCCR:   return current_count(a);
    case LAPIC_TDCR:   return a->tdcr;
    default:
        a->esr |= LAPIC_ESR_ILLEGAL_REG;
        return 0;
    }
}

void lapic_write(struct lapic *a, uint32_t off, uint32_t val)
{
    off &= 0xff0;
    int lvt = lvt_index(off);
    // As QEMU's: an LVT and the ICR's high word keep every bit written (the delivery status
    // too); the CMCI LVT does not exist (writes are lost); the SVR keeps the vector and the
    // enable bit.
    if (lvt == LVT_CMCI)
        return;
    if (lvt >= 0) {
        a->lvt[lvt] = val;
        if (lvt == LVT_TIMER)
            timer_update(a);
        return;
    }
    switch (off) {
    case LAPIC_ID:     a->id = (uint8_t)(val >> 24); return;
    case LAPIC_TPR:    a->tpr = val & 0xff; return;
    case LAPIC_EOI:    eoi(a); return;
    case LAPIC_LDR:    a->ldr = val & 0xff000000u; return;
    case LAPIC_DFR:    a->dfr = val | 0x0fffffffu; return;
    case LAPIC_SVR:    a->svr = val & 0x1ff; return;
    case LAPIC_ICR_LO:
        a->icr_lo = val & ~LAPIC_LVT_PENDING;
        send_ipi(a);
        return;
    case LAPIC_ICR_HI: a->icr_hi = val; return;
    case LAPIC_TICR:
        a->initial = val;
        a->start_ns = now(a);
        timer_update(a);
        return;
    case LAPIC_TDCR: {
        a->tdcr = val & 0xb;
        unsigned v = (a->tdcr & 3) | ((a->tdcr >> 1) & 4);
        a->divide_shift = (v + 1) & 7;
        return;
    }
    case LAPIC_VER: case LAPIC_APR: case LAPIC_PPR: case LAPIC_RRD: case LAPIC_ESR:
    case LAPIC_TCCR:
        return;   // read-only (ESR: QEMU ignores the write that re-arms it)
    default:
        if ((off >= LAPIC_ISR && off < LAPIC_IRR + 0x80))
            return;
        a->esr |= LAPIC_ESR_ILLEGAL_REG;
        return;
    }
}
