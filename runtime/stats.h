// Counters for --stats: exits by kind and by guest address, vectors, named events.
#ifndef RING1_STATS_H
#define RING1_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "abi.h"

void stats_exit(int kind, uint32_t eip);   // one emulated sensitive instruction, or MMIO access
// A pseudo-kind beside abi.h's: a profile-made MMIO site (R1_KIND_MMIO) whose access was RAM.
#define STATS_KIND_MMIO_RAM R1_KIND_MAX
// The profile (--profile-out): every address's exits by kind, as JSON (ring1 rewrite --profile
// reads it; docs/exits.md). sha256 identifies the input image the run's image was made from
// (NULL: an unpatched image).
void stats_write_profile(FILE *f, const uint8_t *sha256, uint32_t window_base);
void stats_vector(int vector);             // one event delivered through the IDT
void stats_count(const char *name);        // a named event ("hypercall", "timer-tick", ...)
void stats_add(const char *name, uint64_t n);   // n of them
void stats_print(FILE *f, uint64_t elapsed_ns);

#endif
