// Counters for --stats.
#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "emulate.h"
#include "vcpu.h"

static uint64_t by_kind[R1_KIND_MAX];
static uint64_t by_vector[256];

// Per-address counts: open addressing, addresses are never 0 in practice (0 = empty slot
// keyed by +1).
#define ADDR_SLOTS 8192
#define ADDR_PROBES 64
struct addr_count {
    uint32_t key;   // address + 1 (0 = empty slot)
    uint16_t kind;
    uint64_t n;
};
static struct addr_count by_addr[ADDR_SLOTS];
static unsigned naddr_overflow;

// Named events (stats_count): more than the runtime's ~55 names. (At 32, the names counted
// last in a long run -- trap-site-ahead, user-limit-emulated -- were silently not shown.)
#define NAMED_MAX 128
static struct { const char *name; uint64_t n; } named[NAMED_MAX];
static uint64_t named_overflow;

static const char *kind_name(unsigned kind)
{
    if (kind == STATS_KIND_MMIO_RAM)
        return "MMIO_RAM";
    return kind < R1_KIND_MAX && kind_names[kind] ? kind_names[kind] : "?";
}

static int cur_kind;
static uint32_t cur_eip;

void stats_insn(int kind, uint32_t eip)
{
    cur_kind = kind;
    cur_eip = eip;
}

uint32_t stats_unassigned(const char *space, uint32_t addr, int size, int write, uint32_t value,
                          const char **kind)
{
    *kind = cur_kind == R1_KIND_MMIO ? "memory access" : kind_name((unsigned)cur_kind);
    if (vcpu_trace)
        rlog("ring1-run: %s %#x: nothing there: %s %#x (%d byte%s) by %s at %#x\n", space, addr,
             write ? "write" : "read", value, size, size == 1 ? "" : "s", *kind, cur_eip);
    return cur_eip;
}

void stats_exit(int kind, uint32_t eip)
{
    stats_insn(kind, eip);
    if (kind > 0 && kind < R1_KIND_MAX)
        by_kind[kind]++;
    // A bounded probe: a guest with sensitive instructions at more addresses than the table
    // holds must not make every exit scan all of it. One slot per (address, kind).
    uint32_t key = eip + 1, h = ((key ^ (uint32_t)kind << 24) * 2654435761u) % ADDR_SLOTS;
    for (unsigned probe = 0; probe < ADDR_PROBES; probe++, h = (h + 1) % ADDR_SLOTS) {
        if ((by_addr[h].key == key && by_addr[h].kind == kind) || by_addr[h].key == 0) {
            by_addr[h].key = key;
            by_addr[h].kind = (uint16_t)kind;
            by_addr[h].n++;
            return;
        }
    }
    naddr_overflow++;
}

void stats_vector(int vector) { by_vector[vector & 0xff]++; }

// Called on the run loop's paths (several per exit): the name's own pointer is looked for first,
// in one pass of pointer compares; strcmp only for a name not counted yet from this string (the
// same name spelled in another file may be another copy of the literal).
void stats_add(const char *name, uint64_t n)
{
    int i;
    for (i = 0; i < NAMED_MAX && named[i].name; i++) {
        if (named[i].name == name) {
            named[i].n += n;
            return;
        }
    }
    for (i = 0; i < NAMED_MAX && named[i].name; i++) {
        if (strcmp(named[i].name, name) == 0) {
            named[i].n += n;
            return;
        }
    }
    if (i == NAMED_MAX) {
        named_overflow += n;
        return;
    }
    named[i].name = name;
    named[i].n = n;
}

void stats_count(const char *name)
{
    stats_add(name, 1);
}

// The modules' own --stats lines, in the order registered (main.c wires them): stats.c
// reaches into no module, and a module tested alone needs no stats of the others.
#define PRINTERS_MAX 8
static void (*printers[PRINTERS_MAX])(FILE *f);
static unsigned nprinters;

void stats_register(void (*print)(FILE *f))
{
    if (nprinters < PRINTERS_MAX)
        printers[nprinters++] = print;
}

#define TOP_SITES 20

void stats_print(FILE *f, uint64_t elapsed_ns, uint64_t cpu_ns)
{
    host_fpu_begin();
    uint64_t total = 0;
    for (int k = 0; k < R1_KIND_MAX; k++)
        total += k == R1_KIND_MMIO ? 0 : by_kind[k];
    uint64_t cpu_us = cpu_ns / 1000u;
    fprintf(f, "ring1-run stats: %llu.%06llu s elapsed, %llu.%06llu s cpu, %llu sensitive "
            "instructions emulated\n", (unsigned long long)(elapsed_ns / 1000000000u),
            (unsigned long long)(elapsed_ns % 1000000000u / 1000u),
            (unsigned long long)(cpu_us / 1000000u), (unsigned long long)(cpu_us % 1000000u),
            (unsigned long long)total);
    for (int k = 1; k < R1_KIND_MAX; k++)
        if (by_kind[k])
            fprintf(f, "  kind %-14s %10llu\n", kind_names[k], (unsigned long long)by_kind[k]);
    for (int i = 0; i < NAMED_MAX && named[i].name; i++)
        fprintf(f, "  event %-13s %10llu\n", named[i].name, (unsigned long long)named[i].n);
    if (named_overflow)
        fprintf(f, "  events of more kinds than the table holds: %llu not shown\n",
                (unsigned long long)named_overflow);
    for (int vec = 0; vec < 256; vec++)
        if (by_vector[vec])
            fprintf(f, "  vector %-12d %10llu\n", vec, (unsigned long long)by_vector[vec]);
    // The busiest addresses: kept in order by insertion, not qsort (glibc's qsort asks the
    // kernel for the machine's memory size, sysinfo, when the array passes 1 KiB: the jail
    // refuses that call).
    struct addr_count top[TOP_SITES];
    unsigned n = 0, ntop = 0;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        if (!by_addr[i].key)
            continue;
        n++;
        unsigned j = ntop < TOP_SITES ? ntop++ : TOP_SITES;
        for (; j > 0 && top[j - 1].n < by_addr[i].n; j--)
            if (j < TOP_SITES)
                top[j] = top[j - 1];
        if (j < TOP_SITES)
            top[j] = by_addr[i];
    }
    fprintf(f, "  sites (%u distinct%s), busiest first:\n", n,
            naddr_overflow ? ", table full" : "");
    for (unsigned i = 0; i < ntop; i++)
        fprintf(f, "    %#010x %-14s %10llu\n", top[i].key - 1, kind_name(top[i].kind),
                (unsigned long long)top[i].n);
    for (unsigned i = 0; i < nprinters; i++)
        printers[i](f);
}


// Every (address, kind) in address order: an insertion sort into a static array (no qsort:
// see above), then JSON. Kind names are abi.h's, lowercase, as `ring1 inspect` prints them.
void stats_write_profile(FILE *f, const uint8_t *sha256, uint32_t window_base)
{
    static struct addr_count all[ADDR_SLOTS];
    unsigned n = 0;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        if (!by_addr[i].key)
            continue;
        unsigned j = n++;
        for (; j > 0 && (all[j - 1].key > by_addr[i].key ||
                         (all[j - 1].key == by_addr[i].key && all[j - 1].kind > by_addr[i].kind));
             j--)
            all[j] = all[j - 1];
        all[j] = by_addr[i];
    }
    fprintf(f, "{\"format\": \"ring1-profile\", \"version\": 1,\n \"input_sha256\": ");
    if (sha256) {
        fputc('"', f);
        for (int i = 0; i < 32; i++)
            fprintf(f, "%02x", sha256[i]);
        fputc('"', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ", \"window_base\": \"0x%08x\", \"table_full\": %s,\n \"exits\": [",
            window_base, naddr_overflow ? "true" : "false");
    for (unsigned i = 0; i < n; i++) {
        char name[24];
        const char *k = kind_name(all[i].kind);
        unsigned c = 0;
        for (; k[c] && c + 1 < sizeof name; c++)
            name[c] = (char)(k[c] >= 'A' && k[c] <= 'Z' ? k[c] - 'A' + 'a' : k[c]);
        name[c] = 0;
        fprintf(f, "%s\n  {\"addr\": \"0x%08x\", \"kind\": \"%s\", \"count\": %llu}",
                i ? "," : "", all[i].key - 1, name, (unsigned long long)all[i].n);
    }
    fprintf(f, "\n ]}\n");
}
