// 8254 programmable interval timer. Intel 82C54 datasheet (order no. 231244): control word
// format, read-back command, counter latch, modes 0-5. Counting is derived from host time
// (count = reload - elapsed ticks) instead of being stepped; counter 0's OUT pin becomes
// IRQ0 pulses driven by a host timer the runtime arms through ops. Reads follow QEMU's
// i8254 where the datasheet allows a choice.
#include "i8254.h"

#include <string.h>

static uint64_t ticks_since_load(struct i8254 *p, const struct i8254_channel *c)
{
    uint64_t now = p->ops.now_ns ? p->ops.now_ns(p->ops.opaque) : 0;
    uint64_t d = now > c->load_ns ? now - c->load_ns : 0;
    return (uint64_t)((unsigned __int128)d * PIT_FREQ_HZ / 1000000000u);
}

uint16_t i8254_count(struct i8254 *p, int ch)
{
    struct i8254_channel *c = &p->ch[ch];
    if (!c->gate && (c->mode == 2 || c->mode == 3))
        return (uint16_t)c->count;
    uint64_t d = ticks_since_load(p, c);
    uint32_t n;
    switch (c->mode) {
    case 0: case 1: case 4: case 5:
        n = (uint32_t)((c->count - d) & 0xffff);
        break;
    case 3:  // square wave counts down by two, twice per period
        n = c->count - (uint32_t)((2 * d) % c->count);
        break;
    default: // mode 2: rate generator
        n = c->count - (uint32_t)(d % c->count);
        break;
    }
    return (uint16_t)n;
}

static bool out_pin(struct i8254 *p, int ch)
{
    struct i8254_channel *c = &p->ch[ch];
    uint64_t d = ticks_since_load(p, c);
    switch (c->mode) {
    case 0:
        return d >= c->count;
    case 2:
        return (d % c->count) != c->count - 1;
    case 3:
        return (d % c->count) < (c->count + 1) / 2;
    default:
        return true;
    }
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
    return (uint64_t)((unsigned __int128)ticks * 1000000000u / PIT_FREQ_HZ);
}

// (Re)program the host timer for counter 0.
static void arm0(struct i8254 *p)
{
    struct i8254_channel *c = &p->ch[0];
    if (!p->ops.arm)
        return;
    uint64_t period = ticks_to_ns(c->count);
    if (period < p->min_period_ns)
        period = p->min_period_ns;
    switch (c->mode) {
    case 0: case 4:  // one interrupt at terminal count
        p->ops.arm(p->ops.opaque, period, 0);
        break;
    case 2: case 3:  // periodic
        p->ops.arm(p->ops.opaque, period, period);
        break;
    default:         // modes 1 and 5 need a gate edge: counter 0's gate is tied high
        p->ops.arm(p->ops.opaque, 0, 0);
        break;
    }
}

static void load_count(struct i8254 *p, int ch, uint32_t val)
{
    struct i8254_channel *c = &p->ch[ch];
    if (c->bcd) {   // four BCD digits
        val = (val & 0xf) + ((val >> 4) & 0xf) * 10 + ((val >> 8) & 0xf) * 100 +
              ((val >> 12) & 0xf) * 1000;
        if (val == 0)
            val = 10000;
    }
    c->count = val ? val : 0x10000;
    c->load_ns = p->ops.now_ns ? p->ops.now_ns(p->ops.opaque) : 0;
    c->null_count = false;
    if (ch == 0) {
        if (c->mode == 0)
            irq_line_set(&p->irq0, 0);   // mode 0: OUT goes low when the count is written
        arm0(p);
    }
}

void i8254_init(struct i8254 *p)
{
    struct i8254_ops ops = p->ops;
    struct irq_line irq0 = p->irq0;
    uint64_t floor = p->min_period_ns;
    memset(p, 0, sizeof *p);
    p->ops = ops;
    p->irq0 = irq0;
    p->min_period_ns = floor;
    for (int i = 0; i < 3; i++) {
        p->ch[i].count = 0x10000;
        p->ch[i].mode = 3;
        p->ch[i].rw = PIT_RW_LSB_MSB;
        p->ch[i].gate = (i != 2);   // counter 2's gate is port 0x61 bit 0, initially low
    }
    p->ch[0].mode = 2;   // the BIOS's system timer: rate generator, count 65536
    // Counters 1 and 2 as QEMU resets them: access mode 0 (no control word sets it; a
    // read-back reports it), which reads and loads the count's low byte.
    p->ch[1].rw = p->ch[2].rw = PIT_RW_LATCH;
}

// The access a counter's data port does: its read/write mode, LSB for QEMU's reset mode 0.
static int access_mode(const struct i8254_channel *c)
{
    return c->rw == PIT_RW_LATCH ? PIT_RW_LSB : c->rw;
}

static void latch_count(struct i8254 *p, int ch)
{
    struct i8254_channel *c = &p->ch[ch];
    if (c->latch_bytes)
        return;   // a latched count is held until read (datasheet: "latch ignored")
    c->latched = i8254_count(p, ch);
    c->latch_bytes = (c->rw == PIT_RW_LSB_MSB) ? 2 : 1;
}

static void latch_status(struct i8254 *p, int ch)
{
    struct i8254_channel *c = &p->ch[ch];
    if (c->status_latched)
        return;
    c->status = (uint8_t)((out_pin(p, ch) ? PIT_STATUS_OUT : 0) |
                          (c->null_count ? PIT_STATUS_NULL : 0) | (c->rw << 4) |
                          (c->mode << 1) | c->bcd);
    c->status_latched = true;
}

void i8254_write(struct i8254 *p, unsigned port, uint8_t val)
{
    port &= 3;
    if (port == PIT_CTRL) {
        int sc = PIT_CW_SC(val);
        if (sc == 3) {   // read-back: bits 1-3 select counters
            for (int ch = 0; ch < 3; ch++) {
                if (!(val & (2 << ch)))
                    continue;
                if (!(val & PIT_RB_COUNT))
                    latch_count(p, ch);
                if (!(val & PIT_RB_STATUS))
                    latch_status(p, ch);
            }
            return;
        }
        struct i8254_channel *c = &p->ch[sc];
        int rw = PIT_CW_RW(val);
        if (rw == PIT_RW_LATCH) {
            latch_count(p, sc);
            return;
        }
        c->rw = (uint8_t)rw;
        c->mode = (uint8_t)(PIT_CW_M(val) > 5 ? PIT_CW_M(val) - 4 : PIT_CW_M(val));
        c->bcd = val & PIT_CW_BCD;
        c->write_msb_next = c->read_msb_next = false;
        c->null_count = true;
        if (sc == 0 && p->ops.arm)
            p->ops.arm(p->ops.opaque, 0, 0);   // a control word stops the counter
        if (sc == 0)
            irq_line_set(&p->irq0, c->mode != 0);  // OUT: low in mode 0, high otherwise
        return;
    }
    struct i8254_channel *c = &p->ch[port];
    switch (access_mode(c)) {
    case PIT_RW_LSB:
        load_count(p, (int)port, val);
        break;
    case PIT_RW_MSB:
        load_count(p, (int)port, (uint32_t)val << 8);
        break;
    case PIT_RW_LSB_MSB:
        if (!c->write_msb_next) {
            c->write_lsb = val;
            c->write_msb_next = true;
        } else {
            c->write_msb_next = false;
            load_count(p, (int)port, c->write_lsb | (uint32_t)val << 8);
        }
        break;
    }
}

uint8_t i8254_read(struct i8254 *p, unsigned port)
{
    port &= 3;
    if (port == PIT_CTRL)
        return 0;   // the control register cannot be read (82C54: no-op); QEMU answers 0
    struct i8254_channel *c = &p->ch[port];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t n;
    if (c->latch_bytes) {
        n = c->latched;
        if (c->rw == PIT_RW_LSB_MSB && c->latch_bytes == 2) {
            c->latch_bytes = 1;
            return (uint8_t)n;
        }
        c->latch_bytes = 0;
        return (uint8_t)(access_mode(c) == PIT_RW_LSB ? n : n >> 8);
    }
    n = i8254_count(p, (int)port);
    switch (access_mode(c)) {
    case PIT_RW_LSB:
        return (uint8_t)n;
    case PIT_RW_MSB:
        return (uint8_t)(n >> 8);
    default:
        c->read_msb_next = !c->read_msb_next;
        return c->read_msb_next ? (uint8_t)n : (uint8_t)(n >> 8);
    }
}

void i8254_timer(struct i8254 *p)
{
    // One rising edge per period (modes 2, 3), or at terminal count (modes 0, 4; mode 0's
    // OUT then stays high). The PIC input is edge-triggered.
    if (p->ch[0].mode != 0)
        irq_line_set(&p->irq0, 0);
    irq_line_set(&p->irq0, 1);
}

void i8254_set_gate2(struct i8254 *p, bool gate)
{
    struct i8254_channel *c = &p->ch[2];
    if (gate && !c->gate)
        c->load_ns = p->ops.now_ns ? p->ops.now_ns(p->ops.opaque) : 0;  // rising edge restarts
    c->gate = gate;
}

bool i8254_out2(struct i8254 *p)
{
    if (!p->ch[2].gate)
        return p->ch[2].mode != 0;
    return out_pin(p, 2);
}
