// System control port A, I/O port 0x92 (IBM PS/2 Hardware Interface Technical Reference,
// "System Control Port A"; QEMU's hw/i386/port92.c): the fast A20 gate and the fast CPU
// reset ("alternate hot reset").
#ifndef RING1_PORT92_H
#define RING1_PORT92_H

#include <stdbool.h>
#include <stdint.h>

#define PORT92_PORT   0x92
#define PORT92_RESET  0x01   // 0 -> 1 resets the CPU
#define PORT92_A20    0x02   // A20 gate

struct port92 {
    uint8_t val;
    void (*reset)(void *opaque);
    void (*a20)(void *opaque, bool on);
    void *opaque;
};

void port92_init(struct port92 *p);      // A20 on, as the BIOS leaves it
uint8_t port92_read(const struct port92 *p);
void port92_write(struct port92 *p, uint8_t val);

#endif
