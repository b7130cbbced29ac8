// PS/2 controller (8042) with an MF2 keyboard and a PS/2 mouse behind it. Command set and
// replies as QEMU's hw/input/pckbd.c and hw/input/ps2.c (the reference machine); the
// output port's reset and A20 lines go to the host side through callbacks.
#include "i8042.h"

#include <string.h>

// After reading a byte the line drops and comes back if more is queued: an edge per byte
// for the edge-triggered 8259A (as QEMU's ps2_read_data does).
static void update_irq(struct i8042 *k)
{
    bool full = k->status & KBC_STAT_OBF, aux = k->obuf & 0x100;
    irq_line_set(&k->kbd_irq, full && !aux && (k->mode & KBC_MODE_KBD_INT) &&
                                  !(k->mode & KBC_MODE_KBD_DIS));
    irq_line_set(&k->aux_irq, full && aux && (k->mode & KBC_MODE_AUX_INT));
}

// Move the next queued byte into the output buffer if it is empty.
static void fill_obuf(struct i8042 *k)
{
    if ((k->status & KBC_STAT_OBF) || !k->qcount)
        return;
    k->obuf = k->queue[k->qhead];
    k->qhead = (k->qhead + 1) % KBC_QUEUE;
    k->qcount--;
    k->status |= KBC_STAT_OBF;
    if (k->obuf & 0x100)
        k->status |= KBC_STAT_AUX_OBF;
    else
        k->status &= (uint8_t)~KBC_STAT_AUX_OBF;
}

static void queue(struct i8042 *k, uint8_t b, bool aux)
{
    if (k->qcount == KBC_QUEUE)
        return;   // a full queue drops input, as a real keyboard's buffer overruns
    k->queue[(k->qhead + k->qcount++) % KBC_QUEUE] = (uint16_t)(b | (aux ? 0x100 : 0));
    fill_obuf(k);
    update_irq(k);
}

void i8042_init(struct i8042 *k)
{
    struct irq_line ki = k->kbd_irq, ai = k->aux_irq;
    void (*reset)(void *) = k->reset;
    void (*a20)(void *, bool) = k->a20;
    void *opaque = k->opaque;
    memset(k, 0, sizeof *k);
    k->kbd_irq = ki;
    k->aux_irq = ai;
    k->reset = reset;
    k->a20 = a20;
    k->opaque = opaque;
    // As SeaBIOS leaves it: self test passed, keyboard enabled with translation and its
    // interrupt, mouse disabled; A20 on, reset line high.
    k->status = KBC_STAT_SYS | KBC_STAT_CMD | KBC_STAT_UNLOCK;
    k->mode = KBC_MODE_KBD_INT | KBC_MODE_AUX_DIS | KBC_MODE_XLATE;
    k->outport = 0xcc | KBC_OUT_A20 | KBC_OUT_RESET;
    k->scancode_set = 2;
}

static void write_outport(struct i8042 *k, uint8_t val)
{
    uint8_t old = k->outport;
    k->outport = val;
    if ((old ^ val) & KBC_OUT_A20 && k->a20)
        k->a20(k->opaque, val & KBC_OUT_A20);
    if (!(val & KBC_OUT_RESET) && k->reset)
        k->reset(k->opaque);
}

// The keyboard's own command set (an MF2 keyboard).
static void kbd_command(struct i8042 *k, uint8_t val)
{
    uint8_t cmd = k->kbd_pending;
    k->kbd_pending = 0;
    if (cmd == 0xf0) {                         // scan code set: parameter
        if (val == 0) {
            static const uint8_t xlated[4] = {0, 0x43, 0x41, 0x3f};
            queue(k, PS2_ACK, false);
            queue(k, (k->mode & KBC_MODE_XLATE) ? xlated[k->scancode_set & 3]
                                                : k->scancode_set, false);
        } else if (val <= 3) {
            k->scancode_set = val;
            queue(k, PS2_ACK, false);
        } else {
            queue(k, PS2_RESEND, false);
        }
        return;
    }
    if (cmd) {                                 // LEDs, typematic rate, make/break: parameter
        queue(k, PS2_ACK, false);
        return;
    }
    switch (val) {
    case 0xf2:                                 // identify: MF2 keyboard
        queue(k, PS2_ACK, false);
        queue(k, 0xab, false);
        queue(k, (k->mode & KBC_MODE_XLATE) ? 0x41 : 0x83, false);
        return;
    case 0xee:                                 // echo
        queue(k, 0xee, false);
        return;
    case 0xf0: case 0xed: case 0xf3: case 0xfb:
        k->kbd_pending = val;
        queue(k, PS2_ACK, false);
        return;
    case 0xff:                                 // reset and self test
        k->scancode_set = 2;
        queue(k, PS2_ACK, false);
        queue(k, PS2_BAT_OK, false);
        return;
    case 0x00: case 0xf4: case 0xf5: case 0xf6: case 0xfa:
        if (val == 0xf5 || val == 0xf6)
            k->scancode_set = 2;
        queue(k, PS2_ACK, false);
        return;
    default:
        queue(k, PS2_RESEND, false);
        return;
    }
}

// The mouse's command set (a standard PS/2 mouse, no wheel).
static void aux_command(struct i8042 *k, uint8_t val)
{
    if (k->aux_pending) {                      // resolution / sample rate: parameter
        k->aux_pending = 0;
        queue(k, PS2_ACK, true);
        return;
    }
    switch (val) {
    case 0xe8: case 0xf3:
        k->aux_pending = val;
        queue(k, PS2_ACK, true);
        return;
    case 0xf2:                                 // get device ID
        queue(k, PS2_ACK, true);
        queue(k, 0x00, true);
        return;
    case 0xe9:                                 // status request: status, resolution, rate
        queue(k, PS2_ACK, true);
        queue(k, 0x00, true);
        queue(k, 0x02, true);
        queue(k, 100, true);
        return;
    case 0xeb:                                 // read data: an empty packet
        queue(k, PS2_ACK, true);
        queue(k, 0x08, true);
        queue(k, 0x00, true);
        queue(k, 0x00, true);
        return;
    case 0xff:                                 // reset: self test passed, ID 0
        queue(k, PS2_ACK, true);
        queue(k, PS2_BAT_OK, true);
        queue(k, 0x00, true);
        return;
    default:
        queue(k, PS2_ACK, true);
        return;
    }
}

uint8_t i8042_read(struct i8042 *k, unsigned port)
{
    if (port != 0)
        return k->status;
    uint8_t v = (uint8_t)k->obuf;
    k->status &= (uint8_t)~(KBC_STAT_OBF | KBC_STAT_AUX_OBF);
    update_irq(k);      // drop the line...
    fill_obuf(k);
    update_irq(k);      // ...and raise it again for the next byte
    return v;
}

void i8042_write(struct i8042 *k, unsigned port, uint8_t val)
{
    if (port != 0) {
        k->status |= KBC_STAT_CMD;
        k->pending = 0;
        if (val >= KBC_CMD_PULSE_BASE) {       // pulse output port bits 3-0 (0 = pulse)
            if (!(val & 1) && k->reset)
                k->reset(k->opaque);
            return;
        }
        switch (val) {
        case KBC_CMD_READ_MODE:      queue(k, k->mode, false); return;
        case KBC_CMD_WRITE_MODE: case KBC_CMD_WRITE_OUTPUT: case KBC_CMD_WRITE_KBD_OBUF:
        case KBC_CMD_WRITE_AUX_OBUF: case KBC_CMD_WRITE_AUX:
            k->pending = val;
            return;
        case KBC_CMD_AUX_DISABLE:    k->mode |= KBC_MODE_AUX_DIS; return;
        case KBC_CMD_AUX_ENABLE:     k->mode &= (uint8_t)~KBC_MODE_AUX_DIS; return;
        case KBC_CMD_AUX_TEST:       queue(k, 0x00, false); return;
        case KBC_CMD_SELF_TEST:
            k->status |= KBC_STAT_SYS;
            queue(k, 0x55, false);
            return;
        case KBC_CMD_KBD_TEST:       queue(k, 0x00, false); return;
        case KBC_CMD_KBD_DISABLE:
            k->mode |= KBC_MODE_KBD_DIS;
            update_irq(k);
            return;
        case KBC_CMD_KBD_ENABLE:
            k->mode &= (uint8_t)~KBC_MODE_KBD_DIS;
            update_irq(k);
            return;
        case KBC_CMD_READ_INPUT:     queue(k, 0x80, false); return;   // keyboard not locked
        case KBC_CMD_READ_OUTPUT:    queue(k, k->outport, false); return;
        case KBC_CMD_ENABLE_A20:     write_outport(k, k->outport | KBC_OUT_A20); return;
        case KBC_CMD_DISABLE_A20:    write_outport(k, k->outport & ~KBC_OUT_A20); return;
        default:                     return;   // unknown commands are ignored
        }
    }
    k->status &= (uint8_t)~KBC_STAT_CMD;
    uint8_t cmd = k->pending;
    k->pending = 0;
    switch (cmd) {
    case KBC_CMD_WRITE_MODE:
        k->mode = val;
        update_irq(k);
        return;
    case KBC_CMD_WRITE_OUTPUT:   write_outport(k, val); return;
    case KBC_CMD_WRITE_KBD_OBUF: queue(k, val, false); return;
    case KBC_CMD_WRITE_AUX_OBUF: queue(k, val, true); return;
    case KBC_CMD_WRITE_AUX:
        k->mode &= (uint8_t)~KBC_MODE_AUX_DIS;
        aux_command(k, val);
        return;
    default:
        k->mode &= (uint8_t)~KBC_MODE_KBD_DIS;  // writing to the keyboard enables it
        kbd_command(k, val);
        return;
    }
}

void i8042_kbd_input(struct i8042 *k, uint8_t code)
{
    queue(k, code, false);
}
