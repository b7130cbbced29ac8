// PS/2 keyboard controller, Intel 8042 compatible (IBM PS/2 Hardware Interface Technical
// Reference, "Keyboard/Auxiliary Device Controller"; command set as QEMU's hw/input/pckbd.c
// and the keyboard/mouse replies of hw/input/ps2.c): status and command at port 0x64, data
// at 0x60, the controller command byte, an output buffer shared by the keyboard (IRQ 1) and
// the auxiliary device (IRQ 12), the output port (A20 gate, CPU reset). The keyboard and
// mouse answer their commands; no key or mouse motion is ever produced by the host (yet).
#ifndef RING1_I8042_H
#define RING1_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define KBC_DATA_PORT    0x60
#define KBC_STATUS_PORT  0x64   // read: status; write: controller command
#define KBC_KBD_IRQ      1
#define KBC_AUX_IRQ      12

// Status register.
#define KBC_STAT_OBF     0x01   // output buffer full (data for the host at 0x60)
#define KBC_STAT_IBF     0x02   // input buffer full (never: commands complete at once)
#define KBC_STAT_SYS     0x04   // system flag (self test passed)
#define KBC_STAT_CMD     0x08   // last write was to 0x64 (a command)
#define KBC_STAT_UNLOCK  0x10   // keyboard not inhibited
#define KBC_STAT_AUX_OBF 0x20   // the output buffer byte is from the aux device

// Controller command byte ("mode").
#define KBC_MODE_KBD_INT 0x01   // IRQ 1 on keyboard data
#define KBC_MODE_AUX_INT 0x02   // IRQ 12 on aux data
#define KBC_MODE_SYS     0x04
#define KBC_MODE_KBD_DIS 0x10   // keyboard clock disabled
#define KBC_MODE_AUX_DIS 0x20   // aux clock disabled
#define KBC_MODE_XLATE   0x40   // translate scan codes to set 1

// Controller commands (writes to 0x64).
#define KBC_CMD_READ_MODE      0x20
#define KBC_CMD_WRITE_MODE     0x60
#define KBC_CMD_AUX_DISABLE    0xa7
#define KBC_CMD_AUX_ENABLE     0xa8
#define KBC_CMD_AUX_TEST       0xa9
#define KBC_CMD_SELF_TEST      0xaa
#define KBC_CMD_KBD_TEST       0xab
#define KBC_CMD_KBD_DISABLE    0xad
#define KBC_CMD_KBD_ENABLE     0xae
#define KBC_CMD_READ_INPUT     0xc0
#define KBC_CMD_READ_OUTPUT    0xd0
#define KBC_CMD_WRITE_OUTPUT   0xd1
#define KBC_CMD_WRITE_KBD_OBUF 0xd2
#define KBC_CMD_WRITE_AUX_OBUF 0xd3
#define KBC_CMD_WRITE_AUX      0xd4
#define KBC_CMD_DISABLE_A20    0xdd
#define KBC_CMD_ENABLE_A20     0xdf
#define KBC_CMD_PULSE_BASE     0xf0   // F0h-FFh: pulse output port bits 3-0 low

// Output port bits.
#define KBC_OUT_RESET    0x01   // 0 = CPU reset
#define KBC_OUT_A20      0x02   // A20 gate

// Keyboard / mouse replies.
#define PS2_ACK          0xfa
#define PS2_RESEND       0xfe
#define PS2_BAT_OK       0xaa

#define KBC_QUEUE 16

struct i8042 {
    uint8_t status, mode, outport;
    uint8_t pending;            // controller command awaiting its data byte (0 = none)
    uint8_t kbd_pending;        // keyboard command awaiting its parameter (0 = none)
    uint8_t aux_pending;        // mouse command awaiting its parameter
    uint8_t scancode_set;
    // Output buffer: the byte the host reads, then the queue behind it (bit 8 = aux).
    uint16_t queue[KBC_QUEUE];
    unsigned qhead, qcount;
    uint16_t obuf;              // the byte in the output buffer (valid when OBF)
    struct irq_line kbd_irq, aux_irq;
    // The output port drives the CPU's reset and the A20 gate (host side).
    void (*reset)(void *opaque);
    void (*a20)(void *opaque, bool on);
    void *opaque;
};

// State after the BIOS's POST (what a multiboot kernel finds under QEMU/SeaBIOS).
void i8042_init(struct i8042 *k);
uint8_t i8042_read(struct i8042 *k, unsigned port);        // port 0 = 0x60, 4 = 0x64
void i8042_write(struct i8042 *k, unsigned port, uint8_t val);
// Host input: a keyboard byte (already a scan code in the current set).
void i8042_kbd_input(struct i8042 *k, uint8_t code);

#endif
