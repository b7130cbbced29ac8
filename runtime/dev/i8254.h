// 8254 programmable interval timer (Intel 82C54 datasheet), channel 0 driving IRQ0.
#ifndef RING1_I8254_H
#define RING1_I8254_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define PIT_FREQ_HZ 1193182u   // input clock, 14.31818 MHz / 12

// Port offsets from 0x40.
#define PIT_CH0   0            // Counter 0 (IRQ0)
#define PIT_CH1   1            // Counter 1 (DRAM refresh, unused)
#define PIT_CH2   2            // Counter 2 (speaker; gate via port 0x61)
#define PIT_CTRL  3            // Control word register (write only)

// Control word fields.
#define PIT_CW_SC(cw)   (((cw) >> 6) & 3)  // Select counter (3 = read-back command)
#define PIT_CW_RW(cw)   (((cw) >> 4) & 3)  // Read/write: 0 latch, 1 LSB, 2 MSB, 3 LSB then MSB
#define PIT_CW_M(cw)    (((cw) >> 1) & 7)  // Mode 0-5 (6, 7 alias 2, 3)
#define PIT_CW_BCD      0x01               // BCD counting
#define PIT_RW_LATCH    0
#define PIT_RW_LSB      1
#define PIT_RW_MSB      2
#define PIT_RW_LSB_MSB  3
#define PIT_RB_COUNT    0x20               // Read-back: 0 = latch count
#define PIT_RB_STATUS   0x10               // Read-back: 0 = latch status
#define PIT_STATUS_OUT  0x80               // Status byte: OUT pin
#define PIT_STATUS_NULL 0x40               // Status byte: null count

struct i8254_channel {
    uint32_t count;        // reload value, 1..65536
    uint8_t  mode, rw, bcd;
    bool     gate;
    uint64_t load_ns;      // when counting started from count
    bool     write_msb_next, read_msb_next;
    uint16_t latched;      // latched count
    uint8_t  latch_bytes;  // bytes of latched count left to read (0: not latched)
    uint8_t  status;       // latched status byte
    bool     status_latched;
    bool     null_count;   // a count was written but not yet loaded
    uint8_t  write_lsb;    // first byte of an LSB-then-MSB write
};

// Host services, supplied by the runtime (or a fake in unit tests).
struct i8254_ops {
    uint64_t (*now_ns)(void *opaque);
    // Fire i8254_timer() first_ns from now, then every period_ns (0: once). first_ns 0: stop.
    void (*arm)(void *opaque, uint64_t first_ns, uint64_t period_ns);
    void *opaque;
};

struct i8254 {
    struct i8254_channel ch[3];
    struct i8254_ops ops;
    struct irq_line irq0;  // counter 0's OUT pin
    uint64_t min_period_ns;  // host timer floor (very fast guest rates are clamped)
};

void i8254_init(struct i8254 *p);
uint8_t i8254_read(struct i8254 *p, unsigned port);
void i8254_write(struct i8254 *p, unsigned port, uint8_t val);
// The host timer armed through ops->arm expired: pulse IRQ0.
void i8254_timer(struct i8254 *p);
// Counter 2's gate (port 0x61 bit 0) and its OUT pin (port 0x61 bit 5).
void i8254_set_gate2(struct i8254 *p, bool gate);
bool i8254_out2(struct i8254 *p);
// The current count of a channel, as a read would return it (for tests and port 0x61).
uint16_t i8254_count(struct i8254 *p, int ch);

#endif
