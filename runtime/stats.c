// Counters for --stats.
#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "clock.h"
#include "emulate.h"
#include "mem.h"
#include "mmio.h"
#include "pio.h"
#include "platform.h"
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

#define NAMED_MAX 32
static struct { const char *name; uint64_t n; } named[NAMED_MAX];

void stats_exit(int kind, uint32_t eip)
{
    if (kind > 0 && kind < R1_KIND_MAX)
        by_kind[kind]++;
    // A bounded probe: a guest with sensitive instructions at more addresses than the table
    // holds must not make every exit scan all of it.
    uint32_t key = eip + 1, h = (key * 2654435761u) % ADDR_SLOTS;
    for (unsigned probe = 0; probe < ADDR_PROBES; probe++, h = (h + 1) % ADDR_SLOTS) {
        if (by_addr[h].key == key || by_addr[h].key == 0) {
            by_addr[h].key = key;
            by_addr[h].kind = (uint16_t)kind;
            by_addr[h].n++;
            return;
        }
    }
    naddr_overflow++;
}

void stats_vector(int vector) { by_vector[vector & 0xff]++; }

void stats_count(const char *name)
{
    for (int i = 0; i < NAMED_MAX; i++) {
        if (!named[i].name)
            named[i].name = name;
        if (named[i].name == name || strcmp(named[i].name, name) == 0) {
            named[i].n++;
            return;
        }
    }
}

static int cmp_n(const void *a, const void *b)
{
    uint64_t x = ((const struct addr_count *)a)->n, y = ((const struct addr_count *)b)->n;
    return x < y ? 1 : x > y ? -1 : 0;
}

void stats_print(FILE *f, uint64_t elapsed_ns)
{
    host_fpu_begin();
    uint64_t total = 0;
    for (int k = 0; k < R1_KIND_MAX; k++)
        total += by_kind[k];
    struct timespec cpu;
    clock_host(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    uint64_t cpu_us = (uint64_t)cpu.tv_sec * 1000000u + (uint64_t)cpu.tv_nsec / 1000u;
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
    for (int vec = 0; vec < 256; vec++)
        if (by_vector[vec])
            fprintf(f, "  vector %-12d %10llu\n", vec, (unsigned long long)by_vector[vec]);
    fprintf(f, "  shadow pages: %llu faults filled, %llu most mapped at once, %llu dropped, "
            "%llu kept across CR3 writes (%llu of them made read-only), %llu full flushes, "
            "%llu evicted at the cap\n",
            (unsigned long long)mem_stat_shadow_faults, (unsigned long long)mem_stat_pages,
            (unsigned long long)mem_stat_dropped, (unsigned long long)mem_stat_cr3_kept,
            (unsigned long long)mem_stat_downgraded,
            (unsigned long long)mem_stat_flushes, (unsigned long long)mem_stat_evicted);
    // The busiest addresses.
    static struct addr_count top[ADDR_SLOTS];
    unsigned n = 0;
    for (unsigned i = 0; i < ADDR_SLOTS; i++)
        if (by_addr[i].key)
            top[n++] = by_addr[i];
    qsort(top, n, sizeof top[0], cmp_n);
    fprintf(f, "  sites (%u distinct%s), busiest first:\n", n,
            naddr_overflow ? ", table full" : "");
    for (unsigned i = 0; i < n && i < 20; i++)
        fprintf(f, "    %#010x %-14s %10llu\n", top[i].key - 1,
                top[i].kind < R1_KIND_MAX && kind_names[top[i].kind] ? kind_names[top[i].kind]
                                                                      : "?",
                (unsigned long long)top[i].n);
    platform_print_stats(f);
    pio_print_unhandled(f);
    mmio_print_unhandled(f);
}
