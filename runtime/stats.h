// Counters for --stats: exits by kind and by guest address, vectors, named events.
#ifndef RING1_STATS_H
#define RING1_STATS_H

#include <stdint.h>
#include <stdio.h>

void stats_exit(int kind, uint32_t eip);   // one emulated sensitive instruction
void stats_vector(int vector);             // one event delivered through the IDT
void stats_count(const char *name);        // a named event ("hypercall", "timer-tick", ...)
void stats_print(FILE *f, uint64_t elapsed_ns);

#endif
