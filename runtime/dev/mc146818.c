// MC146818A real-time clock and CMOS RAM. Motorola MC146818A datasheet: register map (time,
// alarm, registers A-D), data modes (BCD/binary, 12/24 hour), SET inhibiting updates, the
// divider chain (register A DV2-0), and the three interrupt sources behind IRQF: periodic
// (rate select RS3-0, PIE), alarm (AIE, alarm bytes 0xC0-0xFF meaning "don't care") and
// update-ended (UIE). The time is the host's UTC clock plus an offset the guest sets by
// writing the registers, like QEMU's default "-rtc base=utc".
//
// Everything follows from the guest's time, in nanoseconds: a second ends (update cycle, UF,
// AF) where it is a multiple of 1e9, a periodic edge (PF) where its 32.768 kHz cycle count is
// a multiple of the rate's -- one divider chain, as in the chip, so periodic edges stay in
// step with the updates. Register C's flags are brought up to date lazily (on a read of C,
// on every write that changes the time base, when the host timer expires); the host timer
// is armed only for the next event that would raise IRQF, and not at all while IRQF is set
// (the pin is already asserted; reading C re-arms it). So a guest that never acknowledges
// costs nothing, and edges that come while a flag is still set merge into it, as the
// chip's do. Periodic edges that pass while the host timer is late, though -- before the
// interrupt could even be shown -- are the host's doing, not the guest's: with PIE they are
// kept (up to a second's worth) and shown one per acknowledgement, so that a guest counting
// periodic interrupts as its clock does not lose time to host timer latency (measured here,
// a nested VM: 1-2 % of wakeups are over 1 ms late, the period at 1024 Hz).
//
// Where QEMU 7.2 differs, the datasheet wins: PF, like UF and AF, is set whether or not its
// interrupt is enabled (QEMU runs its periodic timer only with PIE), and the periodic phase
// is the divider chain's (QEMU restarts it when PIE or the rate changes). Like QEMU: the rate
// is always counted in 32.768 kHz cycles, UIP is set for the last 244 us of each second, UF
// is still set while SET inhibits updates (AF is not), and SET clears UIE.
#include "mc146818.h"

#include <string.h>
#include <time.h>

#define NS            1000000000LL
#define RTC_HZ        32768
#define UIP_HOLD_NS   244140      // 8 cycles of 32.768 kHz before the update (tBUC)
#define NEVER         INT64_MAX

static int64_t fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t fmod64(int64_t a, int64_t b)
{
    return a - fdiv(a, b) * b;
}

static uint8_t to_reg(const struct mc146818 *r, int v)
{
    if (r->ram[RTC_REG_B] & RTC_B_DM)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_reg(const struct mc146818 *r, uint8_t v)
{
    if (r->ram[RTC_REG_B] & RTC_B_DM)
        return v;
    return (v >> 4) * 10 + (v & 15);
}

static int64_t host_now(const struct mc146818 *r)
{
    return r->now ? r->now(r->opaque) : 0;
}

// The divider chain runs with DV2-0 = 000, 001 or 010 (QEMU's rtc_running; only 010 is right
// for the PC's 32.768 kHz crystal), and stands still in reset (11x) and the test modes.
static bool running(const struct mc146818 *r)
{
    return (r->ram[RTC_REG_A] & RTC_A_DV) <= RTC_A_DV_32K;
}

// The guest's time in ns. A stopped divider chain freezes it where the last sync left it.
static int64_t guest_now(const struct mc146818 *r)
{
    return running(r) ? host_now(r) + r->offset_ns : r->synced;
}

// 32.768 kHz cycles since the epoch at guest time g, and the first time a cycle count is
// reached (one second is exactly RTC_HZ cycles).
static int64_t cycles_at(int64_t g)
{
    return fdiv(g, NS) * RTC_HZ + fmod64(g, NS) * RTC_HZ / NS;
}

static int64_t time_of_cycle(int64_t c)
{
    return fdiv(c, RTC_HZ) * NS + (fmod64(c, RTC_HZ) * NS + RTC_HZ - 1) / RTC_HZ;
}

// The periodic interrupt's period in cycles (datasheet table "Periodic Interrupt Rate",
// 32.768 kHz time base): rate 3-15 is 2^(rate-1) cycles, 8192 Hz down to 2 Hz; rates 1 and 2
// give 256 Hz and 128 Hz, the same taps as rates 8 and 9; 0 = none. A period shorter than
// the host timer floor is doubled until it is not (it stays in step with the seconds).
static int64_t periodic_cycles(const struct mc146818 *r)
{
    unsigned rs = r->ram[RTC_REG_A] & RTC_A_RS;
    if (!rs)
        return 0;
    if (rs <= 2)
        rs += 7;
    int64_t c = 1LL << (rs - 1);
    while (c < RTC_HZ && (uint64_t)(c * NS / RTC_HZ) < r->min_period_ns)
        c <<= 1;
    return c;
}

// Fill registers 0-9 and the century from the guest's time.
static void latch_time(struct mc146818 *r)
{
    time_t t = (time_t)fdiv(guest_now(r), NS);
    struct tm tm;
    gmtime_r(&t, &tm);
    r->ram[RTC_SECONDS] = to_reg(r, tm.tm_sec);
    r->ram[RTC_MINUTES] = to_reg(r, tm.tm_min);
    int h = tm.tm_hour;
    if (r->ram[RTC_REG_B] & RTC_B_24H) {
        r->ram[RTC_HOURS] = to_reg(r, h);
    } else {
        int h12 = h % 12 ? h % 12 : 12;
        r->ram[RTC_HOURS] = (uint8_t)(to_reg(r, h12) | (h >= 12 ? 0x80 : 0));
    }
    r->ram[RTC_DAY_OF_WEEK] = to_reg(r, tm.tm_wday + 1);
    r->ram[RTC_DAY_OF_MONTH] = to_reg(r, tm.tm_mday);
    r->ram[RTC_MONTH] = to_reg(r, tm.tm_mon + 1);
    r->ram[RTC_YEAR] = to_reg(r, tm.tm_year % 100);
    r->ram[RTC_CENTURY] = to_reg(r, (tm.tm_year + 1900) / 100);
}

// The time in registers 0-9 and the century, in seconds since the epoch.
static int64_t regs_time(const struct mc146818 *r)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_sec = from_reg(r, r->ram[RTC_SECONDS]);
    tm.tm_min = from_reg(r, r->ram[RTC_MINUTES]);
    int h = from_reg(r, r->ram[RTC_HOURS] & 0x7f);
    if (!(r->ram[RTC_REG_B] & RTC_B_24H))
        h = (h % 12) + ((r->ram[RTC_HOURS] & 0x80) ? 12 : 0);
    tm.tm_hour = h;
    tm.tm_mday = from_reg(r, r->ram[RTC_DAY_OF_MONTH]);
    tm.tm_mon = from_reg(r, r->ram[RTC_MONTH]) - 1;
    tm.tm_year = from_reg(r, r->ram[RTC_CENTURY]) * 100 + from_reg(r, r->ram[RTC_YEAR]) - 1900;
    return (int64_t)timegm(&tm);
}

// The guest wrote the time registers: they become the clock's time, the divider chain's
// phase within the second goes on (writing the time does not reset the divider).
static void set_time_from_regs(struct mc146818 *r)
{
    int64_t phase = fmod64(guest_now(r), NS);
    r->offset_ns = regs_time(r) * NS + phase - host_now(r);
}

// ---- the alarm -------------------------------------------------------------------------------

#define ALARM_ANY   (-1)
#define ALARM_NONE  (-2)   // a value no time ever has: the alarm never goes off

// One alarm byte as a value in the current data mode, ALARM_ANY for 0xC0-0xFF.
static int alarm_field(const struct mc146818 *r, uint8_t v, int limit, bool hours)
{
    if ((v & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE)
        return ALARM_ANY;
    bool h12 = hours && !(r->ram[RTC_REG_B] & RTC_B_24H);
    uint8_t b = h12 ? (uint8_t)(v & 0x7f) : v;
    if (!(r->ram[RTC_REG_B] & RTC_B_DM) && ((b & 15) > 9 || (b >> 4) > 9))
        return ALARM_NONE;   // not BCD: the chip compares bytes, and no time byte is this
    int x = from_reg(r, b);
    if (h12) {
        if (x < 1 || x > 12)
            return ALARM_NONE;
        x = x % 12 + ((v & 0x80) ? 12 : 0);
    }
    return x < limit ? x : ALARM_NONE;
}

// The first second after s0 (seconds since the epoch) whose time of day matches the alarm
// bytes; NEVER if none does.
static int64_t next_alarm(const struct mc146818 *r, int64_t s0)
{
    int ah = alarm_field(r, r->ram[RTC_HOURS_ALARM], 24, true);
    int am = alarm_field(r, r->ram[RTC_MINUTES_ALARM], 60, false);
    int as = alarm_field(r, r->ram[RTC_SECONDS_ALARM], 60, false);
    if (ah == ALARM_NONE || am == ALARM_NONE || as == ALARM_NONE)
        return NEVER;
    int64_t tod0 = fmod64(s0, 86400);
    for (int64_t d = 1; d <= 86400;) {
        int64_t t = (tod0 + d) % 86400;
        int h = (int)(t / 3600), m = (int)(t / 60 % 60), s = (int)(t % 60);
        if (ah >= 0 && h != ah)
            d += 3600 - t % 3600;             // on to the next hour
        else if (am >= 0 && m != am)
            d += 60 - s;                      // on to the next minute
        else if (as >= 0 && s != as)
            d += as > s ? as - s : 60 - s;
        else
            return s0 + d;
    }
    return NEVER;
}

// ---- register C and the IRQ pin --------------------------------------------------------------

// IRQF = PF & PIE | AF & AIE | UF & UIE (the enable bits sit above their flags); the IRQ pin
// follows it, so the line only rises when IRQF does.
static void update_irq(struct mc146818 *r)
{
    uint8_t c = r->ram[RTC_REG_C];
    bool irq = c & r->ram[RTC_REG_B] & (RTC_C_PF | RTC_C_AF | RTC_C_UF);
    r->ram[RTC_REG_C] = (uint8_t)(irq ? c | RTC_C_IRQF : c & ~RTC_C_IRQF);
    if (irq != r->irq_level) {
        r->irq_level = irq;
        irq_line_set(&r->irq, irq);
    }
}

// Set the flags of everything that happened between the last sync and now.
static void sync(struct mc146818 *r)
{
    int64_t g0 = r->synced, g1 = guest_now(r);
    uint8_t c = r->ram[RTC_REG_C], b = r->ram[RTC_REG_B];
    if (g1 > g0) {
        uint8_t f = 0;
        int64_t s0 = fdiv(g0, NS), s1 = fdiv(g1, NS);
        if (s1 > s0) {
            f |= RTC_C_UF;
            if (!(b & RTC_B_SET) && next_alarm(r, s0) <= s1)
                f |= RTC_C_AF;            // an update cycle made the time match the alarm
        }
        int64_t p = periodic_cycles(r);
        int64_t edges = p ? fdiv(cycles_at(g1), p) - fdiv(cycles_at(g0), p) : 0;
        if (edges) {
            f |= RTC_C_PF;
            // With PF and IRQF clear the host timer was armed for the first edge: the
            // others passed before it could be shown.
            if ((b & RTC_B_PIE) && !(c & (RTC_C_PF | RTC_C_IRQF))) {
                int64_t cap = RTC_HZ / p;
                edges = edges - 1 + r->pf_backlog;
                r->pf_backlog = (uint32_t)(edges < cap ? edges : cap);
            }
        }
        r->ram[RTC_REG_C] |= f;
    }
    if (r->pf_backlog && !(r->ram[RTC_REG_C] & RTC_C_PF) && (b & RTC_B_PIE)) {
        r->pf_backlog--;                  // the next edge the host was late for
        r->ram[RTC_REG_C] |= RTC_C_PF;
    }
    r->synced = g1;
    update_irq(r);
}

// Arm the host timer for the first event that would raise IRQF: none while IRQF is set.
static void rearm(struct mc146818 *r)
{
    int64_t deadline = 0;
    uint8_t b = r->ram[RTC_REG_B];
    if (running(r) && !(r->ram[RTC_REG_C] & RTC_C_IRQF)) {
        int64_t g = r->synced, next = NEVER, p = periodic_cycles(r);
        if ((b & RTC_B_PIE) && p)
            next = r->pf_backlog ? g : time_of_cycle((fdiv(cycles_at(g), p) + 1) * p);
        if ((b & RTC_B_UIE) && (fdiv(g, NS) + 1) * NS < next)
            next = (fdiv(g, NS) + 1) * NS;
        if ((b & RTC_B_AIE) && !(b & RTC_B_SET)) {
            int64_t a = next_alarm(r, fdiv(g, NS));
            if (a != NEVER && a * NS < next)
                next = a * NS;
        }
        if (next != NEVER)
            deadline = next - r->offset_ns;
    }
    if (deadline != r->armed) {
        r->armed = deadline;
        if (r->arm)
            r->arm(r->opaque, deadline);
    }
}

void mc146818_timer(struct mc146818 *r)
{
    r->armed = -1;  // it expired: tell arm() either way, even the same deadline (run early)
    sync(r);
    rearm(r);
}

// ---- setup and ports -------------------------------------------------------------------------

void mc146818_init(struct mc146818 *r, uint32_t ram_size)
{
    int64_t (*now)(void *) = r->now;
    void (*arm)(void *, int64_t) = r->arm;
    void *opaque = r->opaque;
    struct irq_line irq = r->irq;
    uint64_t floor = r->min_period_ns;
    memset(r, 0, sizeof *r);
    r->now = now;
    r->arm = arm;
    r->opaque = opaque;
    r->irq = irq;
    r->min_period_ns = floor;
    r->ram[RTC_REG_A] = RTC_A_DV_32K | RTC_A_RS_1024HZ;
    r->ram[RTC_REG_B] = RTC_B_24H;
    r->ram[RTC_REG_D] = RTC_D_VRT;
    // PC/AT CMOS memory sizes (QEMU pc_cmos_init): base 640 KiB, extended KiB above 1 MiB
    // (capped at 65535), 64 KiB blocks above 16 MiB (capped at 65535).
    r->ram[0x14] = 0x06;                       // equipment: FPU, PS/2 mouse
    r->ram[0x15] = 640 & 0xff;
    r->ram[0x16] = 640 >> 8;
    uint32_t ext = ram_size > 0x100000 ? (ram_size - 0x100000) / 1024 : 0;
    if (ext > 65535)
        ext = 65535;
    r->ram[0x17] = r->ram[0x30] = (uint8_t)ext;
    r->ram[0x18] = r->ram[0x31] = (uint8_t)(ext >> 8);
    uint32_t above16 = ram_size > 0x1000000 ? (ram_size - 0x1000000) / 65536 : 0;
    if (above16 > 65535)
        above16 = 65535;
    r->ram[0x34] = (uint8_t)above16;
    r->ram[0x35] = (uint8_t)(above16 >> 8);
    // QEMU's boot configuration bytes, read from a guest (runtime/tests/guest/pcinfo.c):
    // boot order (0x3d, 0x38 high nibble) and 0x37 as pc_cmos_init leaves them.
    r->ram[0x37] = 0x20;
    r->ram[0x38] = 0x30;
    r->ram[0x3d] = 0x12;
    r->synced = guest_now(r);
    latch_time(r);
}

static bool is_time_reg(unsigned reg)
{
    return reg == RTC_SECONDS || reg == RTC_MINUTES || reg == RTC_HOURS ||
           (reg >= RTC_DAY_OF_WEEK && reg <= RTC_YEAR) || reg == RTC_CENTURY;
}

uint8_t mc146818_read(struct mc146818 *r, unsigned port)
{
    if ((port & 1) == 0)
        return 0xff;   // the index register is write-only
    unsigned reg = r->index;
    if (is_time_reg(reg)) {
        if (running(r) && !(r->ram[RTC_REG_B] & RTC_B_SET))
            latch_time(r);
        return r->ram[reg];
    }
    switch (reg) {
    case RTC_REG_A: {
        // UIP: an update cycle is about to start (the last 244 us of the second).
        uint8_t v = r->ram[RTC_REG_A];
        if (running(r) && !(r->ram[RTC_REG_B] & RTC_B_SET) &&
            fmod64(guest_now(r), NS) >= NS - UIP_HOLD_NS)
            v |= RTC_A_UIP;
        return v;
    }
    case RTC_REG_C: {
        sync(r);
        uint8_t v = r->ram[RTC_REG_C];
        r->ram[RTC_REG_C] = 0;   // all flags clear on read, and with IRQF the IRQ pin
        update_irq(r);
        rearm(r);
        return v;
    }
    default:
        return r->ram[reg];
    }
}

void mc146818_write(struct mc146818 *r, unsigned port, uint8_t val)
{
    if ((port & 1) == 0) {
        r->index = val & 0x7f;
        r->nmi_disabled = val >> 7;
        return;
    }
    unsigned reg = r->index;
    if (is_time_reg(reg)) {
        sync(r);
        r->ram[reg] = val;
        if (running(r) && !(r->ram[RTC_REG_B] & RTC_B_SET)) {
            set_time_from_regs(r);
            r->synced = guest_now(r);   // a jump in time is no update cycle
        }
        rearm(r);
        return;
    }
    switch (reg) {
    case RTC_SECONDS_ALARM: case RTC_MINUTES_ALARM: case RTC_HOURS_ALARM:
        sync(r);
        r->ram[reg] = val;
        rearm(r);
        break;
    case RTC_REG_A: {
        sync(r);
        bool was_running = running(r);
        if (was_running && (val & RTC_A_DV) > RTC_A_DV_32K && !(r->ram[RTC_REG_B] & RTC_B_SET))
            latch_time(r);               // the registers keep the time the chain stopped at
        if ((val ^ r->ram[reg]) & (RTC_A_DV | RTC_A_RS))
            r->pf_backlog = 0;           // another rate: the late edges are history
        r->ram[reg] = val & (uint8_t)~RTC_A_UIP;   // UIP is read-only
        if (!was_running && running(r)) {
            // Out of divider reset, the first update cycle begins half a second later.
            r->offset_ns = regs_time(r) * NS + NS / 2 - host_now(r);
        }
        r->synced = guest_now(r);
        update_irq(r);
        rearm(r);
        break;
    }
    case RTC_REG_B: {
        sync(r);
        uint8_t old = r->ram[reg];
        if (val & RTC_B_SET) {
            if (!(old & RTC_B_SET) && running(r))
                latch_time(r);           // freeze the registers as they are now
            val &= (uint8_t)~RTC_B_UIE;  // "UIE is cleared when SET goes high"
        }
        r->ram[reg] = val;
        if (!(val & RTC_B_PIE))
            r->pf_backlog = 0;
        if ((old & RTC_B_SET) && !(val & RTC_B_SET) && running(r)) {
            set_time_from_regs(r);       // SET cleared: the written time starts running
            r->synced = guest_now(r);
        }
        update_irq(r);                   // an enable over a flag already set: IRQF at once
        rearm(r);
        break;
    }
    case RTC_REG_C:
    case RTC_REG_D:
        break;                           // read-only
    default:
        r->ram[reg] = val;
        break;
    }
}
