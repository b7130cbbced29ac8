// Port I/O registry and dispatch.
#include "pio.h"

#include "abi.h"
#include "stats.h"
#include "vcpu.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

struct pio_range {
    uint16_t base, len;
    const char *name;
    int byte_wide;
    pio_in_fn in;
    pio_out_fn out;
    void *opaque;
    pio_peek_fn peek;
    pio_sink_fn sink;
};

#define PIO_MAX 48
static struct pio_range ranges[PIO_MAX];
static int nranges;
// Dispatch in O(1): port -> 1 + the first range registered for it, 0 for none.
static uint8_t port_range[65536];
_Static_assert(PIO_MAX < 256, "port_range holds range indexes");

// Unhandled accesses, per port.
#define UNHANDLED_MAX 64
static struct {
    uint16_t port;
    uint32_t reads, writes;
    uint32_t eip;         // the guest instruction of the first access (original address)
    const char *kind;     // ... its kind
} unhandled[UNHANDLED_MAX];
static int nunhandled;
static uint64_t unhandled_overflow;

void pio_register(uint16_t base, uint16_t len, const char *name, int byte_wide,
                  pio_in_fn in, pio_out_fn out, void *opaque)
{
    if (nranges == PIO_MAX) {
        fprintf(stderr, "ring1-run: internal error: more than %d port ranges (%s)\n", PIO_MAX,
                name);
        exit(14);
    }
    ranges[nranges++] = (struct pio_range){base, len, name, byte_wide, in, out, opaque, NULL,
                                           NULL};
    for (uint32_t p = base; p < (uint32_t)base + len && p < 65536; p++)
        if (!port_range[p])
            port_range[p] = (uint8_t)nranges;
}

void pio_reset(void)
{
    nranges = 0;
    nunhandled = 0;
    memset(port_range, 0, sizeof port_range);
    pio_cache_flush();
}

static const struct pio_range *find(uint16_t port)
{
    unsigned i = port_range[port];
    return i ? &ranges[i - 1] : NULL;
}

static void count_unhandled(uint16_t port, int size, int write, uint32_t value)
{
    const char *kind;
    uint32_t eip = stats_unassigned("port", port, size, write, value, &kind);
    for (int i = 0; i < nunhandled; i++) {
        if (unhandled[i].port == port) {
            if (write)
                unhandled[i].writes++;
            else
                unhandled[i].reads++;
            return;
        }
    }
    if (nunhandled == UNHANDLED_MAX) {
        unhandled_overflow++;
        return;
    }
    unhandled[nunhandled].port = port;
    unhandled[nunhandled].reads = !write;
    unhandled[nunhandled].writes = !!write;
    unhandled[nunhandled].eip = eip;
    unhandled[nunhandled].kind = kind;
    nunhandled++;
}

// Ranges whose device may have changed since the port cache was last refreshed (bit i: ranges[i];
// every bit: pio_cache_touch).
static uint64_t dirty;
_Static_assert(PIO_MAX <= 64, "dirty holds a bit per range");

static void mark(const struct pio_range *r)
{
    if (r)
        dirty |= 1ull << (r - ranges);
}

static uint32_t pio_in1(uint16_t port, int size);

uint32_t pio_in(uint16_t port, int size)
{
    uint32_t val = pio_in1(port, size);
    if (vcpu_trace)
        stats_trace_access("port", port, size, false, val);
    return val;
}

static void pio_out1(uint16_t port, int size, uint32_t val);

void pio_out(uint16_t port, int size, uint32_t val)
{
    if (vcpu_trace)
        stats_trace_access("port", port, size, true, val);
    pio_out1(port, size, val);
}

static uint32_t pio_in1(uint16_t port, int size)
{
    const struct pio_range *r = find(port);
    mark(r);
    if (!r || !r->in) {
        // All ones, as QEMU's unassigned ports answer; but QEMU refuses an unaligned word
        // or dword access there (its unassigned I/O region does not take them), and a
        // refused read is 0.
        uint32_t ones = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
        if (port & (size - 1))
            ones = 0;
        count_unhandled(port, size, 0, ones);
        return ones;
    }
    if (r->byte_wide && size > 1) {
        uint32_t v = 0;
        for (int i = 0; i < size; i++)
            v |= (pio_in1((uint16_t)(port + i), 1) & 0xff) << (8 * i);
        return v;
    }
    return r->in(r->opaque, (uint16_t)(port - r->base), size);
}

static void pio_out1(uint16_t port, int size, uint32_t val)
{
    const struct pio_range *r = find(port);
    mark(r);
    if (!r || !r->out) {
        count_unhandled(port, size, 1, val);
        return;
    }
    if (r->byte_wide && size > 1) {
        for (int i = 0; i < size; i++)
            pio_out1((uint16_t)(port + i), 1, (val >> (8 * i)) & 0xff);
        return;
    }
    r->out(r->opaque, (uint16_t)(port - r->base), size, val);
}

void pio_print_unhandled(FILE *f)
{
    if (!nunhandled)
        return;
    fprintf(f, "  unhandled port accesses (reads return all ones):\n");
    bool vga = false;
    for (int i = 0; i < nunhandled; i++) {
        fprintf(f, "    port %#06x reads %u writes %u, first by %s at %#x\n", unhandled[i].port,
                unhandled[i].reads, unhandled[i].writes, unhandled[i].kind, unhandled[i].eip);
        vga |= unhandled[i].port >= 0x3b0 && unhandled[i].port <= 0x3df;
    }
    // A display adapter's ports on a machine without one (--vga none, QEMU's -nodefaults
    // alone).
    if (vga)
        fprintf(f, "    (0x3b0-0x3df are a VGA's ports: the default machine, --vga std, "
                "has one)\n");
    if (unhandled_overflow)
        fprintf(f, "    ... and %llu more on other ports\n",
                (unsigned long long)unhandled_overflow);
}

// The same for --stats-json: {"ports": [{"port", "reads", "writes", "first_by", "first_at"}],
// "more"}; ports and addresses as hex strings.
void pio_json_unhandled(FILE *f)
{
    fputs("{\"ports\": [", f);
    for (int i = 0; i < nunhandled; i++) {
        fprintf(f, "%s{\"port\": \"0x%04x\", \"reads\": %u, \"writes\": %u, \"first_by\": ",
                i ? ", " : "", unhandled[i].port, unhandled[i].reads, unhandled[i].writes);
        stats_json_lower(f, unhandled[i].kind);
        fprintf(f, ", \"first_at\": \"0x%08x\"}", unhandled[i].eip);
    }
    fprintf(f, "], \"more\": %llu}", (unsigned long long)unhandled_overflow);
}

// ---- the port cache in the vCPU page (abi.h, R1_VCPU_PORTC) ----------------------------------
// Filled after an emulated access; every `in` entry is rewritten from its device (peek) before
// the guest runs again after any exit that may have changed that device -- every device state
// change happens in the runtime, in pio_in/pio_out or where pio_cache_touch is called -- so
// an entry never answers what the device would not. The contract for a device with a peek:
// what it returns changes only through accesses to its own range (or where pio_cache_touch
// is called: timers, host input). (A byte-wide access splits at range bounds: its entry is
// refreshed when any of its ranges is dirty.) The guest can write the vCPU page: the
// runtime reads nothing back from it but hits (for --stats), and entries it writes only
// answer the guest's own reads.
void pio_set_cacheable(uint16_t base, pio_peek_fn peek, pio_sink_fn sink)
{
    for (int i = 0; i < nranges; i++)
        if (ranges[i].base == base) {
            ranges[i].peek = peek;
            ranges[i].sink = sink;
        }
}

static volatile uint32_t *page;
static volatile struct r1_portc *pc;
static uint16_t live_in, live_out;          // slots holding an `in` / an `out` entry
static uint32_t keys[R1_PORTC_N];           // each live entry's key, as the runtime wrote it
static uint64_t deps[R1_PORTC_N];           // the ranges each live `in` entry reads
static uint32_t given[R1_PORTC_N];          // hits at the last (re)fill, for the count
static uint64_t hits_counted;

static unsigned slot_of(uint16_t port)
{
    return (port ^ (port >> R1_PORTC_SHIFT)) & (R1_PORTC_N - 1);
}

// What pio_in would return, when it would do nothing else (0: it would); *dep |= the ranges read.
static uint32_t pio_peek(uint16_t port, int size, uint32_t *val, uint64_t *dep)
{
    const struct pio_range *r = find(port);
    *val = 0;
    if (!r || !r->in || !r->peek)
        return 0;   // (an unhandled port is counted for --stats)
    *dep |= 1ull << (r - ranges);
    if (r->byte_wide && size > 1) {
        uint32_t budget = PIO_PEEK_ALWAYS;
        for (int i = 0; i < size; i++) {
            uint32_t b, n = pio_peek((uint16_t)(port + i), 1, &b, dep);
            if (!n)
                return 0;
            budget = n < budget ? n : budget;
            *val |= (b & 0xff) << (8 * i);
        }
        return budget;
    }
    if ((uint32_t)port + (uint32_t)size > (uint32_t)r->base + r->len)
        return 0;
    return r->peek(r->opaque, (uint16_t)(port - r->base), size, val);
}

static bool pio_sink(uint16_t port, int size)
{
    const struct pio_range *r = find(port);
    if (!r || !r->out || !r->sink)
        return false;
    if (r->byte_wide && size > 1) {
        for (int i = 0; i < size; i++)
            if (!pio_sink((uint16_t)(port + i), 1))
                return false;
        return true;
    }
    return (uint32_t)port + (uint32_t)size <= (uint32_t)r->base + r->len &&
           r->sink(r->opaque, (uint16_t)(port - r->base), size);
}

static void count_hits(unsigned i)
{
    uint32_t left = pc[i].hits;
    if (left <= given[i])
        hits_counted += given[i] - left;
    given[i] = 0;
}

static void drop(unsigned i)
{
    count_hits(i);
    pc[i].key = 0;   // (value stays: a trampoline past its key check reads what it matched)
    pc[i].hits = 0;
    live_in &= (uint16_t)~(1u << i);
    live_out &= (uint16_t)~(1u << i);
}

void pio_cache_init(volatile uint32_t *vcpu_page)
{
    page = vcpu_page;
    pc = (volatile struct r1_portc *)(vcpu_page + R1_VCPU_PORTC / 4);
    pio_cache_flush();
}

void pio_cache_flush(void)
{
    if (!pc)
        return;
    for (unsigned i = 0; i < R1_PORTC_N; i++)
        drop(i);
    page[R1_VCPU_PORTFAST / 4] = 0;
}

// Entry i for an `in` of port/size: the device's value now, or empty.
static void refill(unsigned i, uint16_t port, int size)
{
    uint64_t dep = 0;
    uint32_t val, n = pio_peek(port, size, &val, &dep);
    count_hits(i);
    if (!n) {
        drop(i);
        return;
    }
    uint32_t key = port | (uint32_t)size << 16 | R1_PORTC_VALID;
    if (pc[i].key != key) {
        pc[i].key = 0;
        pc[i].hits = 0;
    }
    pc[i].value = val;
    pc[i].reserved = 0;
    pc[i].hits = given[i] = n;
    pc[i].key = keys[i] = key;
    deps[i] = dep;
    live_in |= (uint16_t)(1u << i);
    live_out &= (uint16_t)~(1u << i);
}

void pio_cache_note(uint16_t port, int size, bool out)
{
    if (!pc)
        return;
    unsigned i = slot_of(port);
    if (!out) {
        refill(i, port, size);
        return;
    }
    if (!pio_sink(port, size))
        return;
    uint32_t key = port | (uint32_t)size << 16 | R1_PORTC_VALID | R1_PORTC_OUT;
    drop(i);
    pc[i].value = 0;
    pc[i].reserved = 0;
    pc[i].hits = given[i] = PIO_PEEK_ALWAYS;
    pc[i].key = keys[i] = key;
    live_out |= (uint16_t)(1u << i);
}

void pio_cache_touch(void)
{
    dirty = ~0ull;
}

void pio_cache_sync(int cpl)
{
    if (!pc)
        return;
    page[R1_VCPU_PORTFAST / 4] = cpl == 0 && (live_in | live_out);
    if (!dirty)
        return;
    uint64_t d = dirty;
    dirty = 0;
    for (unsigned i = 0; live_in >> i; i++)
        if ((live_in >> i & 1) && (deps[i] & d)) {
            refill(i, (uint16_t)keys[i], (int)(keys[i] >> 16 & 0xff));
        }
}

void pio_cache_account(void)
{
    if (!pc)
        return;
    for (unsigned i = 0; i < R1_PORTC_N; i++) {
        uint32_t left = pc[i].hits;
        if (given[i] && left <= given[i]) {
            hits_counted += given[i] - left;
            given[i] = left;
        }
    }
    stats_add("port-cache-hit", hits_counted);
    hits_counted = 0;
}
