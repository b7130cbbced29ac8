// Port I/O: one registry of device port ranges and one dispatch function (kvmtool's shape).
#ifndef RING1_PIO_H
#define RING1_PIO_H

#include <stdint.h>
#include <stdio.h>

// offset is relative to the registered base; size is 1, 2 or 4.
typedef uint32_t (*pio_in_fn)(void *opaque, uint16_t offset, int size);
typedef void (*pio_out_fn)(void *opaque, uint16_t offset, int size, uint32_t val);

// Register [base, base+len). byte_wide: the device has 8-bit registers only, so a 16/32-bit
// access is split into byte accesses at consecutive ports (as on the ISA bus).
void pio_register(uint16_t base, uint16_t len, const char *name, int byte_wide,
                  pio_in_fn in, pio_out_fn out, void *opaque);
uint32_t pio_in(uint16_t port, int size);
void pio_out(uint16_t port, int size, uint32_t val);
// Accesses that reached no device (reads return all ones, writes vanish), for --stats.
void pio_print_unhandled(FILE *f);
void pio_reset(void);   // forget every registration (unit tests)

#endif
