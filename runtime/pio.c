// Port I/O registry and dispatch.
#include "pio.h"

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
    ranges[nranges++] = (struct pio_range){base, len, name, byte_wide, in, out, opaque};
    for (uint32_t p = base; p < (uint32_t)base + len && p < 65536; p++)
        if (!port_range[p])
            port_range[p] = (uint8_t)nranges;
}

void pio_reset(void)
{
    nranges = 0;
    nunhandled = 0;
    memset(port_range, 0, sizeof port_range);
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

uint32_t pio_in(uint16_t port, int size)
{
    const struct pio_range *r = find(port);
    if (!r || !r->in) {
        uint32_t ones = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
        count_unhandled(port, size, 0, ones);
        return ones;
    }
    if (r->byte_wide && size > 1) {
        uint32_t v = 0;
        for (int i = 0; i < size; i++)
            v |= (pio_in((uint16_t)(port + i), 1) & 0xff) << (8 * i);
        return v;
    }
    return r->in(r->opaque, (uint16_t)(port - r->base), size);
}

void pio_out(uint16_t port, int size, uint32_t val)
{
    const struct pio_range *r = find(port);
    if (!r || !r->out) {
        count_unhandled(port, size, 1, val);
        return;
    }
    if (r->byte_wide && size > 1) {
        for (int i = 0; i < size; i++)
            pio_out((uint16_t)(port + i), 1, (val >> (8 * i)) & 0xff);
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
