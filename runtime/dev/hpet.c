// The HPET (see hpet.h), register for register as QEMU's hw/timer/hpet.c: its main counter is
// the guest's time in 10 ns ticks plus an offset fixed when the counter is enabled, and each
// comparator keeps one deadline in the guest's time, which the host side arms a timer for.
#include "hpet.h"

#include <string.h>

#define LO 0x00000000ffffffffull
#define HI 0xffffffff00000000ull

static uint64_t ticks_to_ns(uint64_t t) { return t * HPET_CLK_PERIOD_NS; }
static uint64_t ns_to_ticks(uint64_t ns) { return ns / HPET_CLK_PERIOD_NS; }

static bool enabled(const struct hpet *s) { return s->config & HPET_CFG_ENABLE; }
static bool legacy(const struct hpet *s) { return s->config & HPET_CFG_LEGACY; }
static bool periodic(const struct hpet_timer *t) { return t->config & HPET_TN_PERIODIC; }
static bool timer_on(const struct hpet_timer *t) { return t->config & HPET_TN_ENABLE; }

static uint64_t get_ticks(const struct hpet *s)
{
    return ns_to_ticks(s->ops.now(s->ops.opaque) + (uint64_t)s->offset_ns);
}

static uint64_t fixup(uint64_t new, uint64_t old, uint64_t mask)
{
    return (new & mask) | (old & ~mask);
}

static bool activating(uint64_t old, uint64_t new, uint64_t mask)
{
    return !(old & mask) && (new & mask);
}

static bool deactivating(uint64_t old, uint64_t new, uint64_t mask)
{
    return (old & mask) && !(new & mask);
}

// Ticks from current to the comparator (at least 1).
static uint64_t calculate_diff(const struct hpet_timer *t, uint64_t current)
{
    if (t->config & HPET_TN_32BIT) {
        uint32_t diff = (uint32_t)t->cmp - (uint32_t)current;
        return (int32_t)diff > 0 ? diff : 1;
    }
    uint64_t diff = t->cmp - current;
    return (int64_t)diff > 0 ? diff : 1;
}

static unsigned route(const struct hpet *s, unsigned n)
{
    if (n <= 1 && legacy(s))
        return n == 0 ? 0 : 8;   // LegacyReplacementRoute: IRQ 0 (IOAPIC 2) and IRQ 8
    return (unsigned)((s->timer[n].config & HPET_TN_INT_ROUTE_MASK) >> HPET_TN_INT_ROUTE_SHIFT);
}

static void set_line(struct hpet *s, unsigned gsi, int level)
{
    s->ops.irq(s->ops.opaque, gsi, level);
}

// A level-triggered timer holds its line (and its status bit) until the guest clears it; an
// edge-triggered one pulses it. FSB (MSI) delivery is not modelled: nothing is sent.
static void update_irq(struct hpet *s, unsigned n, bool set)
{
    struct hpet_timer *t = &s->timer[n];
    unsigned r = route(s, n);
    uint64_t mask = 1ull << n;
    bool fsb = t->config & HPET_TN_FSB_ENABLE;
    if (!set || !timer_on(t) || !enabled(s)) {
        s->isr &= ~mask;
        if (!fsb)
            set_line(s, r, 0);
    } else if (fsb) {
        return;
    } else if (t->config & HPET_TN_TYPE_LEVEL) {
        s->isr |= mask;
        set_line(s, r, 1);
    } else {
        s->isr &= ~mask;
        set_line(s, r, 1);
        set_line(s, r, 0);
    }
}

static void rearm(struct hpet *s)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < HPET_TIMERS; i++) {
        uint64_t d = s->timer[i].deadline_ns;
        if (d && (!next || d < next))
            next = d;
    }
    s->ops.arm(s->ops.opaque, next);
}

static void set_timer(struct hpet *s, unsigned n)
{
    struct hpet_timer *t = &s->timer[n];
    uint64_t cur = get_ticks(s);
    t->wrap = false;
    uint64_t diff = calculate_diff(t, cur);
    // A 32-bit one-shot timer also interrupts when the counter wraps (the spec's rule).
    if ((t->config & HPET_TN_32BIT) && !periodic(t)) {
        uint32_t wrap_diff = 0xffffffffu - (uint32_t)cur;
        if (wrap_diff < (uint32_t)diff) {
            diff = wrap_diff;
            t->wrap = true;
        }
    }
    t->deadline_ns = s->ops.now(s->ops.opaque) + ticks_to_ns(diff);
    if (!t->deadline_ns)
        t->deadline_ns = 1;
}

static void del_timer(struct hpet *s, unsigned n)
{
    s->timer[n].deadline_ns = 0;
    update_irq(s, n, false);
}

// A comparator's time came (QEMU's hpet_timer): a periodic one moves on by its period, past
// the counter; a 32-bit one-shot that stopped at the wrap goes on to its comparator. A
// comparator equal to the counter counts as passed here: QEMU's timer runs once its clock is
// past the deadline, in practice never on it, but ring1's time may land exactly on it
// (--clock warp), and QEMU's test would then fire the timer again a tick later.
static void fire(struct hpet *s, unsigned n)
{
    struct hpet_timer *t = &s->timer[n];
    uint64_t cur = get_ticks(s);
    t->deadline_ns = 0;
    if (periodic(t) && t->period) {
        if (t->config & HPET_TN_32BIT) {
            while ((int32_t)((uint32_t)t->cmp - (uint32_t)cur) <= 0)
                t->cmp = (uint32_t)(t->cmp + t->period);
        } else {
            while ((int64_t)(t->cmp - cur) <= 0)
                t->cmp += t->period;
        }
        t->deadline_ns = s->ops.now(s->ops.opaque) + ticks_to_ns(calculate_diff(t, cur));
    } else if ((t->config & HPET_TN_32BIT) && !periodic(t) && t->wrap) {
        t->deadline_ns = s->ops.now(s->ops.opaque) + ticks_to_ns(calculate_diff(t, cur));
        t->wrap = false;
    }
    s->fired++;
    update_irq(s, n, true);
}

void hpet_expire(struct hpet *s)
{
    uint64_t now = s->ops.now(s->ops.opaque);
    for (unsigned i = 0; i < HPET_TIMERS; i++)
        if (s->timer[i].deadline_ns && s->timer[i].deadline_ns <= now)
            fire(s, i);
    rearm(s);
}

void hpet_init(struct hpet *s)
{
    struct hpet_ops ops = s->ops;
    memset(s, 0, sizeof *s);
    s->ops = ops;
    // The block ID; the period in femtoseconds.
    _Static_assert(((HPET_BLOCK_ID >> 8) & 0x1f) == HPET_TIMERS - 1, "timers in the block ID");
    s->capability = HPET_BLOCK_ID | (uint64_t)(HPET_CLK_PERIOD_NS * 1000000ull) << 32;
    for (unsigned i = 0; i < HPET_TIMERS; i++) {
        struct hpet_timer *t = &s->timer[i];
        t->cmp = ~0ull;
        t->config = HPET_TN_PERIODIC_CAP | HPET_TN_SIZE_CAP | (uint64_t)HPET_INTCAP << 32;
    }
    rearm(s);
}

static uint32_t read32(struct hpet *s, uint32_t off)
{
    if (off >= 0x100 && off < HPET_LEN) {
        unsigned n = (off - 0x100) / 0x20;
        if (n >= HPET_TIMERS)
            return 0;
        const struct hpet_timer *t = &s->timer[n];
        switch ((off - 0x100) % 0x20) {
        case HPET_TN_CFG: return (uint32_t)t->config;
        case HPET_TN_CFG + 4: return (uint32_t)(t->config >> 32);
        case HPET_TN_CMP: return (uint32_t)t->cmp;
        case HPET_TN_CMP + 4: return (uint32_t)(t->cmp >> 32);
        case HPET_TN_ROUTE: return (uint32_t)t->fsb;
        case HPET_TN_ROUTE + 4: return (uint32_t)(t->fsb >> 32);
        }
        return 0;
    }
    switch (off) {
    case HPET_ID: return (uint32_t)s->capability;
    case HPET_PERIOD: return (uint32_t)(s->capability >> 32);
    case HPET_CFG: return (uint32_t)s->config;
    case HPET_STATUS: return (uint32_t)s->isr;
    case HPET_COUNTER:
    case HPET_COUNTER + 4: {
        uint64_t c = enabled(s) ? get_ticks(s) : s->counter;
        return off == HPET_COUNTER ? (uint32_t)c : (uint32_t)(c >> 32);
    }
    }
    return 0;
}

uint32_t hpet_read(struct hpet *s, uint32_t off, int size)
{
    return size == 4 && !(off & 3) ? read32(s, off) : 0;
}

static void timer_write(struct hpet *s, unsigned n, uint32_t reg, uint64_t old, uint64_t new)
{
    struct hpet_timer *t = &s->timer[n];
    uint64_t half = t->config & HPET_TN_32BIT ? ~0u : ~0ull;
    switch (reg) {
    case HPET_TN_CFG:
        if (activating(old, new, HPET_TN_FSB_ENABLE))
            update_irq(s, n, false);
        t->config = (t->config & HI) | fixup(new, old, HPET_TN_CFG_WRITE_MASK);
        if (new & HPET_TN_32BIT) {
            t->cmp = (uint32_t)t->cmp;
            t->period = (uint32_t)t->period;
        }
        if (activating(old, new, HPET_TN_ENABLE) && enabled(s))
            set_timer(s, n);
        else if (deactivating(old, new, HPET_TN_ENABLE))
            del_timer(s, n);
        break;
    case HPET_TN_CMP:
        if (t->config & HPET_TN_32BIT)
            new = (uint32_t)new;
        if (!periodic(t) || (t->config & HPET_TN_SETVAL))
            t->cmp = (t->cmp & HI) | new;
        if (periodic(t))
            t->period = (t->period & HI) | (new & half >> 1);
        t->config &= ~(uint64_t)HPET_TN_SETVAL;
        if (enabled(s))
            set_timer(s, n);
        break;
    case HPET_TN_CMP + 4:
        if (!periodic(t) || (t->config & HPET_TN_SETVAL))
            t->cmp = (t->cmp & LO) | new << 32;
        else
            t->period = (t->period & LO) | (new & half >> 1) << 32;
        t->config &= ~(uint64_t)HPET_TN_SETVAL;
        if (enabled(s))
            set_timer(s, n);
        break;
    case HPET_TN_ROUTE:
        t->fsb = (t->fsb & HI) | new;
        break;
    case HPET_TN_ROUTE + 4:
        t->fsb = (t->fsb & LO) | new << 32;
        break;
    }
}

void hpet_write(struct hpet *s, uint32_t off, int size, uint32_t v)
{
    if (size != 4 || (off & 3))
        return;
    uint64_t old = read32(s, off), new = v;
    if (off >= 0x100 && off < HPET_LEN) {
        unsigned n = (off - 0x100) / 0x20;
        if (n < HPET_TIMERS)
            timer_write(s, n, (off - 0x100) % 0x20, old, new);
        rearm(s);
        return;
    }
    switch (off) {
    case HPET_CFG:
        s->config = (s->config & HI) | fixup(new, old, HPET_CFG_WRITE_MASK);
        if (activating(old, new, HPET_CFG_ENABLE)) {
            // The counter runs on from where it stood.
            s->offset_ns = (int64_t)(ticks_to_ns(s->counter) - s->ops.now(s->ops.opaque));
            for (unsigned i = 0; i < HPET_TIMERS; i++)
                if (s->timer[i].cmp != ~0ull)
                    set_timer(s, i);
        } else if (deactivating(old, new, HPET_CFG_ENABLE)) {
            s->counter = get_ticks(s);
            for (unsigned i = 0; i < HPET_TIMERS; i++)
                del_timer(s, i);
        }
        // The 8254's and the RTC's own lines are cut off in legacy replacement mode.
        if (activating(old, new, HPET_CFG_LEGACY)) {
            set_line(s, 0, 0);
            set_line(s, 8, 0);
        } else if (deactivating(old, new, HPET_CFG_LEGACY)) {
            set_line(s, 0, 0);
            set_line(s, 8, s->rtc_level);
        }
        break;
    case HPET_STATUS:
        for (unsigned i = 0; i < HPET_TIMERS; i++)
            if (new & s->isr & (1ull << i))
                update_irq(s, i, false);
        break;
    case HPET_COUNTER:
        s->counter = (s->counter & HI) | new;
        break;
    case HPET_COUNTER + 4:
        s->counter = (s->counter & LO) | new << 32;
        break;
    }
    rearm(s);
}

void hpet_legacy_irq(struct hpet *s, int which, int level)
{
    if (which == HPET_LEGACY_RTC)
        s->rtc_level = level;
    if (!legacy(s))
        set_line(s, which == HPET_LEGACY_PIT ? 0 : 8, level);
}

int hpet_timer_gsi(const struct hpet *s, unsigned n)
{
    if (n >= HPET_TIMERS || !enabled(s) || !timer_on(&s->timer[n]) ||
        (s->timer[n].config & HPET_TN_FSB_ENABLE))
        return -1;
    return (int)route(s, n);
}
