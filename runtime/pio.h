// Port I/O: one registry of device port ranges and one dispatch function (kvmtool's shape).
#ifndef RING1_PIO_H
#define RING1_PIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

// offset is relative to the registered base; size is 1, 2 or 4.
typedef uint32_t (*pio_in_fn)(void *opaque, uint16_t offset, int size);
typedef void (*pio_out_fn)(void *opaque, uint16_t offset, int size, uint32_t val);

// Register [base, base+len). byte_wide: the device has 8-bit registers only, so a 16/32-bit
// access is split into byte accesses at consecutive ports (as on the ISA bus).
void pio_register(uint16_t base, uint16_t len, const char *name, int byte_wide,
                  pio_in_fn in, pio_out_fn out, void *opaque);
// The port cache (abi.h, R1_VCPU_PORTC): accesses a trampoline answers without a hypercall.
// peek: can the register at offset be read now without any side effect? 0 if not; else how
// many reads the vCPU page may answer before the device must see one again (PIO_PEEK_ALWAYS:
// any number), with *val what a read returns now. sink: do writes at offset have no effect
// at all? Either may be NULL.
typedef uint32_t (*pio_peek_fn)(void *opaque, uint16_t offset, int size, uint32_t *val);
typedef bool (*pio_sink_fn)(void *opaque, uint16_t offset, int size);
#define PIO_PEEK_ALWAYS 0xffffffffu
void pio_set_cacheable(uint16_t base, pio_peek_fn peek, pio_sink_fn sink);
void pio_cache_init(volatile uint32_t *vcpu_page);
void pio_cache_flush(void);
// After an emulated `in` or `out` (any CPL): remember the port if its device allows.
void pio_cache_note(uint16_t port, int size, bool out);
// Device state may have changed outside pio_in/pio_out (host input, timers): refresh the
// entries before the guest runs again.
void pio_cache_touch(void);
// Before each entry into the guest: PORTFAST for this CPL; every `in` entry rewritten from
// its device if anything may have changed since the last entry.
void pio_cache_sync(int cpl);
// Accesses answered by trampolines so far, into --stats ("port-cache-hit").
void pio_cache_account(void);

uint32_t pio_in(uint16_t port, int size);
void pio_out(uint16_t port, int size, uint32_t val);
// Accesses that reached no device (reads return all ones, writes vanish), for --stats.
void pio_print_unhandled(FILE *f);
void pio_json_unhandled(FILE *f);     // the same for --stats-json
void pio_reset(void);   // forget every registration (unit tests)

#endif
