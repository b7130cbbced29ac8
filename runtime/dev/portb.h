// PC/AT system control port B, I/O port 0x61 (IBM PC/AT Technical Reference, "System
// board I/O address map"; the 8255 PPI port B on the PC/XT): PIT counter 2's gate and OUT2,
// the speaker enable, and the refresh-request toggle software uses as a delay.
#ifndef RING1_PORTB_H
#define RING1_PORTB_H

#include <stdint.h>

#include "i8254.h"

#define PORTB_PORT        0x61
#define PORTB_GATE2       0x01   // PIT counter 2 gate (read/write)
#define PORTB_SPKR_DATA   0x02   // speaker data enable (read/write)
#define PORTB_REFRESH     0x10   // refresh request: toggles on every read (read only)
#define PORTB_OUT2        0x20   // PIT counter 2 OUT (read only)

struct portb {
    struct i8254 *pit;
    uint8_t spkr_data;
    uint8_t refresh;
};

uint8_t portb_read(struct portb *p);
void portb_write(struct portb *p, uint8_t val);

#endif
