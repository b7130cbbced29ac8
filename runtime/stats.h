// Counters for --stats: exits by kind and by guest address, vectors, named events.
#ifndef RING1_STATS_H
#define RING1_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "abi.h"

void stats_exit(int kind, uint32_t eip);   // one emulated sensitive instruction, or MMIO access
// The guest instruction being emulated now (kind, original address), so that an access it
// makes to nothing (an unassigned port or physical address) can be named. stats_exit sets it
// too; the MMIO paths, which count after emulating, set it first.
void stats_insn(int kind, uint32_t eip);
// An access to nothing (pio.c, mmio.c): under --trace, one line naming the port or physical
// address, what was read or written, and the instruction (stats_insn) that made it. Returns
// the instruction's address, and its kind name in *kind, for the caller's --stats table.
uint32_t stats_unassigned(const char *space, uint32_t addr, int size, int write, uint32_t value,
                          const char **kind);
// --trace: one line for a device access (port or physical address, value, the instruction).
void stats_trace_access(const char *space, uint32_t addr, int size, bool write, uint32_t value);
// A pseudo-kind beside abi.h's: a profile-made MMIO site (R1_KIND_MMIO) whose access was RAM.
#define STATS_KIND_MMIO_RAM R1_KIND_MAX
// The profile (--profile-out): every address's exits by kind, as JSON (ring1 rewrite --profile
// reads it; docs/exits.md). sha256 identifies the input image the run's image was made from
// (NULL: an unpatched image).
void stats_write_profile(FILE *f, const uint8_t *sha256, uint32_t window_base);
void stats_vector(int vector);             // one event delivered through the IDT
void stats_count(const char *name);        // a named event ("hypercall", "timer-tick", ...)
void stats_add(const char *name, uint64_t n);   // n of them
void stats_print(FILE *f, uint64_t elapsed_ns, uint64_t cpu_ns);   // the run's wall and CPU time
// A module's own lines (shadow pages, devices, unassigned accesses), printed by stats_print
// after its counters and busiest sites, in the order registered (main.c wires them).
void stats_register(void (*print)(FILE *f));
// The same with the module's figures for --stats-json: json writes one JSON value (an object
// or an array, addresses as "0x%08x" strings) that the document holds under key. A module
// registered by stats_register alone has its text lines turned into figures instead (each
// "TITLE: N words, N words (N words)" line an object of the numbers, keyed by the words).
void stats_register_json(void (*print)(FILE *f), const char *key, void (*json)(FILE *f));
// A module's JSON writer's string: s in quotes, lowercase (kind names, as the profile's).
static inline void stats_json_lower(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
            fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, f);
    fputc('"', f);
}
// --stats-json: the counters of stats_print as one JSON document (schema "ring1-stats/1"),
// with the run's exit status.
void stats_write_json(FILE *f, uint64_t elapsed_ns, uint64_t cpu_ns, int status);

#endif
