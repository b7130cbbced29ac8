// PS/2 keyboard controller, Intel 8042 compatible (IBM PS/2 Hardware Interface Technical
// Reference, "Keyboard/Auxiliary Device Controller" and "Keyboard"; command set as QEMU's
// hw/input/pckbd.c and hw/input/ps2.c, the reference machine): status and command at port
// 0x64, data at 0x60, the controller command byte, one output buffer fed by the controller
// itself, the keyboard (IRQ 1) and the auxiliary device (IRQ 12), the output port (A20 gate,
// CPU reset). The keyboard is an MF2 keyboard with its own 16-byte buffer; the host types on
// it (i8042_type: ASCII on a US layout) in the scan code set the guest selected, translated
// to set 1 by the controller when the command byte says so. The mouse answers its commands;
// no motion is ever produced.
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
#define KBC_MODE_KBD_DIS 0x10   // keyboard clock disabled: its bytes wait in the keyboard
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

// Keyboard commands (bytes written to 0x60 with no controller command pending).
#define KBD_CMD_SET_LEDS       0xed
#define KBD_CMD_ECHO           0xee
#define KBD_CMD_SCANCODE       0xf0   // parameter 0: report the set; 1-3: select it
#define KBD_CMD_GET_ID         0xf2
#define KBD_CMD_SET_RATE       0xf3
#define KBD_CMD_ENABLE         0xf4   // enable scanning
#define KBD_CMD_RESET_DISABLE  0xf5   // defaults, scanning disabled
#define KBD_CMD_RESET_ENABLE   0xf6   // defaults, scanning enabled
#define KBD_CMD_SET_TYPEMATIC  0xfa
#define KBD_CMD_SET_MAKE_BREAK 0xfc
#define KBD_CMD_RESET          0xff

// Keyboard / mouse replies.
#define PS2_ACK          0xfa
#define PS2_RESEND       0xfe
#define PS2_BAT_OK       0xaa

// Keys the host types, by their scan code set 2 make code (all without an E0 prefix).
#define KEY_ESC          0x76
#define KEY_TAB          0x0d
#define KEY_BACKSPACE    0x66
#define KEY_ENTER        0x5a
#define KEY_SPACE        0x29
#define KEY_LSHIFT       0x12
#define KEY_LCTRL        0x14
#define KEY_BACKSLASH    0x5d

#define PS2_QUEUE_SIZE   16     // a device's buffer: key codes or mouse bytes
#define PS2_BUFFER_SIZE  32     // the buffer plus room for command replies in front (2^n)

// A PS/2 device's buffer. Replies to the keyboard's last command go in front of the key
// codes already buffered (QEMU's ps2_cqueue_*), and a new command drops any still unread.
struct ps2_queue {
    uint8_t data[PS2_BUFFER_SIZE];
    unsigned rptr, count;
    unsigned replies;   // how many bytes at the front answer the last command
};

// A key going down or up, by its set 2 make code.
struct ps2_key {
    uint8_t code;
    bool down;
};

struct i8042 {
    uint8_t status, mode, outport;
    uint8_t pending;            // controller command awaiting its data byte (0 = none)
    // The controller's own byte (command results, D2/D3): ahead of both devices' data.
    uint8_t cbdata;
    uint8_t cb_src;             // 0 = none, else KBC_SRC_KBD or KBC_SRC_AUX (who it poses as)
    uint8_t obsrc;              // whose byte the full output buffer is (KBC_SRC_*)
    uint8_t obdata;             // the byte last read at 0x60 (read again when empty)
    // The keyboard.
    struct ps2_queue kbd;
    uint8_t kbd_pending;        // keyboard command awaiting its parameter (0 = none)
    uint8_t scancode_set;       // 1, 2 or 3
    bool scan_enabled;          // F4 / F5 / F6
    bool xlate_break;           // translation saw F0: the next code gets bit 7
    // The mouse.
    struct ps2_queue aux;
    uint8_t aux_pending;        // mouse command awaiting its parameter
    struct irq_line kbd_irq, aux_irq;
    // The output port drives the CPU's reset and the A20 gate (host side).
    void (*reset)(void *opaque);
    void (*a20)(void *opaque, bool on);
    void *opaque;
};

#define KBC_SRC_CTRL 0x01
#define KBC_SRC_KBD  0x02
#define KBC_SRC_AUX  0x04

// State after the BIOS's POST (what a multiboot kernel finds under QEMU/SeaBIOS).
void i8042_init(struct i8042 *k);
uint8_t i8042_read(struct i8042 *k, unsigned port);        // port 0 = 0x60, 4 = 0x64
void i8042_write(struct i8042 *k, unsigned port, uint8_t val);

// Host input: keys pressed and released, in order, as one keystroke. All or nothing: false
// (nothing queued) if scanning is disabled or the keyboard's buffer lacks room for every
// byte; the host holds the keystroke back and tries again after the guest has read data or
// written a command.
bool i8042_kbd_keys(struct i8042 *k, const struct ps2_key *keys, unsigned n);
// The keystrokes that type ASCII byte c on a US keyboard (Shift for capitals and symbols,
// left Ctrl for control characters, Enter for CR/LF, Backspace for BS/DEL); returns how
// many (at most 8), 0 if no key types c.
unsigned i8042_ascii_keys(uint8_t c, struct ps2_key keys[8]);
// Type c: 1 typed, 0 not now (see i8042_kbd_keys), -1 no key for it (dropped).
int i8042_type(struct i8042 *k, uint8_t c);

#endif
