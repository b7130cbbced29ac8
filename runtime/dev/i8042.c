// PS/2 controller (8042) with an MF2 keyboard and a PS/2 mouse behind it. Structure, command
// set and replies as QEMU 7.2's hw/input/pckbd.c ("extended state") and hw/input/ps2.c, the
// reference machine: the output buffer holds one byte from, by priority, the controller
// itself, the keyboard or the mouse; a device's bytes stay in its own buffer while the
// controller has its clock disabled (command byte bits 4 and 5); the output port's reset
// and A20 lines go to the host side through callbacks.
#include "i8042.h"

#include <string.h>

// ---- a PS/2 device's buffer ------------------------------------------------------------------

#define QMASK (PS2_BUFFER_SIZE - 1)

static void q_reset(struct ps2_queue *q)
{
    q->rptr = q->count = q->replies = 0;
}

static bool q_put(struct ps2_queue *q, uint8_t b)
{
    if (q->count >= PS2_QUEUE_SIZE)
        return false;   // a full buffer drops the byte, as the device's would
    q->data[(q->rptr + q->count++) & QMASK] = b;
    return true;
}

// A command's replies: unread replies to the previous command go, these go in front of any
// buffered key codes, so that the host sees the answer first (ps2_cqueue_reset/_N).
static void q_drop_replies(struct ps2_queue *q)
{
    q->rptr = (q->rptr + q->replies) & QMASK;
    q->count -= q->replies;
    q->replies = 0;
}

static void q_reply(struct ps2_queue *q, const uint8_t *b, unsigned n)
{
    q->rptr = (q->rptr - n) & QMASK;
    for (unsigned i = 0; i < n; i++)
        q->data[(q->rptr + i) & QMASK] = b[i];
    q->count += n;
    q->replies = n;
}

// Empty: the last byte again (QEMU's ps2_read_data, "needed for EMM386").
static uint8_t q_get(struct ps2_queue *q)
{
    if (!q->count)
        return q->data[(q->rptr - 1) & QMASK];
    uint8_t b = q->data[q->rptr];
    q->rptr = (q->rptr + 1) & QMASK;
    q->count--;
    if (q->replies)
        q->replies--;
    return b;
}

// ---- the controller's output buffer ----------------------------------------------------------

// IRQ 1 / IRQ 12 follow the output buffer and the command byte's interrupt enables; a byte
// from the keyboard interrupts only while its clock is enabled (QEMU's kbd_update_irq_lines).
static void update_lines(struct i8042 *k)
{
    bool full = k->status & KBC_STAT_OBF, aux = k->status & KBC_STAT_AUX_OBF;
    irq_line_set(&k->kbd_irq, full && !aux && (k->mode & KBC_MODE_KBD_INT) &&
                                  !(k->mode & KBC_MODE_KBD_DIS));
    irq_line_set(&k->aux_irq, full && aux && (k->mode & KBC_MODE_AUX_INT));
}

// Who has a byte for the output buffer: the controller always, a device only while the
// controller clocks it.
static uint8_t sources(const struct i8042 *k)
{
    uint8_t s = k->cb_src ? KBC_SRC_CTRL : 0;
    if (k->kbd.count && !(k->mode & KBC_MODE_KBD_DIS))
        s |= KBC_SRC_KBD;
    if (k->aux.count && !(k->mode & KBC_MODE_AUX_DIS))
        s |= KBC_SRC_AUX;
    return s;
}

// Fill the empty output buffer from the first source with data (controller, keyboard,
// mouse); the byte itself is taken when the host reads it.
static void fill_obuf(struct i8042 *k)
{
    if (k->status & KBC_STAT_OBF)
        return;   // reading 0x60 comes back here
    uint8_t s = sources(k);
    if (!s)
        return;
    k->status |= KBC_STAT_OBF;
    if (s & KBC_SRC_CTRL) {
        k->obsrc = KBC_SRC_CTRL;
        if (k->cb_src == KBC_SRC_AUX)
            k->status |= KBC_STAT_AUX_OBF;
    } else if (s & KBC_SRC_KBD) {
        k->obsrc = KBC_SRC_KBD;
    } else {
        k->obsrc = KBC_SRC_AUX;
        k->status |= KBC_STAT_AUX_OBF;
    }
    update_lines(k);
}

// A byte the controller itself produces (command results, D2/D3); it replaces an unread one.
static void ctrl_queue(struct i8042 *k, uint8_t b, bool aux)
{
    k->cbdata = b;
    k->cb_src = aux ? KBC_SRC_AUX : KBC_SRC_KBD;
    fill_obuf(k);
}

static void aux_queue(struct i8042 *k, uint8_t b)
{
    q_put(&k->aux, b);
    fill_obuf(k);
}

static void kbd_reply(struct i8042 *k, const uint8_t *b, unsigned n)
{
    q_reply(&k->kbd, b, n);
    fill_obuf(k);
}

static void kbd_reply1(struct i8042 *k, uint8_t b)
{
    kbd_reply(k, &b, 1);
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
    // interrupt, mouse disabled; A20 on, reset line high; the keyboard reset, in set 2,
    // scanning (SeaBIOS's last keyboard command is F4).
    k->status = KBC_STAT_SYS | KBC_STAT_CMD | KBC_STAT_UNLOCK;
    k->mode = KBC_MODE_KBD_INT | KBC_MODE_AUX_DIS | KBC_MODE_XLATE;
    k->outport = 0xcc | KBC_OUT_A20 | KBC_OUT_RESET;
    k->scancode_set = 2;
    k->scan_enabled = true;
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

// ---- the keyboard ----------------------------------------------------------------------------

// The 8042's translation of scan code set 2 to set 1 (IBM PS/2 Technical Reference; the same
// fixed table as QEMU's translate_table). Codes 0x80 and up are left alone, except the two
// set 2 codes above 0x7F that keys send (0x83 F7, 0x84 Alt-SysRq).
static const uint8_t xlate_table[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t xlate(uint8_t code)
{
    if (code < 0x80)
        return xlate_table[code];
    return code == 0x83 ? 0x41 : code == 0x84 ? 0x54 : code;
}

// A key code leaving the keyboard. With translation on, the controller turns the set 2 break
// prefix F0 into bit 7 of the code after it and translates the rest (QEMU's ps2_put_keycode
// does it there, at the keyboard, from the command byte's bit).
static void kbd_put(struct i8042 *k, uint8_t code)
{
    if (!(k->mode & KBC_MODE_XLATE)) {
        q_put(&k->kbd, code);
    } else if (code == 0xf0) {
        k->xlate_break = true;
    } else {
        q_put(&k->kbd, (uint8_t)(xlate(code) | (k->xlate_break ? 0x80 : 0)));
        k->xlate_break = false;
    }
}

// Set 3 differs from set 2, among the keys the host types, in Esc, left Ctrl and backslash
// (QEMU's qcode_to_atset3); every set 3 key sends F0 + code on release, as QEMU's do.
static uint8_t set3_code(uint8_t set2)
{
    switch (set2) {
    case KEY_ESC:       return 0x08;
    case KEY_LCTRL:     return 0x11;
    case KEY_BACKSLASH: return 0x5c;
    default:            return set2;
    }
}

// The bytes one key event puts into the keyboard's buffer.
static unsigned key_bytes(const struct i8042 *k, const struct ps2_key *e)
{
    if (k->scancode_set == 1 || e->down || (k->mode & KBC_MODE_XLATE))
        return 1;   // set 1 break: make | 0x80; translated F0 folds into the next code
    return 2;       // F0 code
}

static void key_event(struct i8042 *k, const struct ps2_key *e)
{
    switch (k->scancode_set) {
    case 1: {
        uint8_t make = xlate(e->code);   // set 1 = set 2 through the translation table
        kbd_put(k, (uint8_t)(e->down ? make : make | 0x80));
        break;
    }
    case 3:
        if (!e->down)
            kbd_put(k, 0xf0);
        kbd_put(k, set3_code(e->code));
        break;
    default:
        if (!e->down)
            kbd_put(k, 0xf0);
        kbd_put(k, e->code);
        break;
    }
}

bool i8042_kbd_keys(struct i8042 *k, const struct ps2_key *keys, unsigned n)
{
    // QEMU ignores keys while scanning is disabled ("to prevent stream corruption"); the
    // host holds them back instead, as it does when the buffer is full: nothing is lost.
    if (!k->scan_enabled)
        return false;
    unsigned need = 0;
    for (unsigned i = 0; i < n; i++)
        need += key_bytes(k, &keys[i]);
    if (k->kbd.count + need > PS2_QUEUE_SIZE)
        return false;
    for (unsigned i = 0; i < n; i++)
        key_event(k, &keys[i]);
    fill_obuf(k);
    return true;
}

// Printable ASCII on a US keyboard: set 2 make code, and whether Shift is held.
static const struct { uint8_t code, shift; } ascii_keys[0x7f - 0x20] = {
    [' ' - 0x20] = {KEY_SPACE, 0},
    ['!' - 0x20] = {0x16, 1}, ['"' - 0x20] = {0x52, 1}, ['#' - 0x20] = {0x26, 1},
    ['$' - 0x20] = {0x25, 1}, ['%' - 0x20] = {0x2e, 1}, ['&' - 0x20] = {0x3d, 1},
    ['\'' - 0x20] = {0x52, 0}, ['(' - 0x20] = {0x46, 1}, [')' - 0x20] = {0x45, 1},
    ['*' - 0x20] = {0x3e, 1}, ['+' - 0x20] = {0x55, 1}, [',' - 0x20] = {0x41, 0},
    ['-' - 0x20] = {0x4e, 0}, ['.' - 0x20] = {0x49, 0}, ['/' - 0x20] = {0x4a, 0},
    ['0' - 0x20] = {0x45, 0}, ['1' - 0x20] = {0x16, 0}, ['2' - 0x20] = {0x1e, 0},
    ['3' - 0x20] = {0x26, 0}, ['4' - 0x20] = {0x25, 0}, ['5' - 0x20] = {0x2e, 0},
    ['6' - 0x20] = {0x36, 0}, ['7' - 0x20] = {0x3d, 0}, ['8' - 0x20] = {0x3e, 0},
    ['9' - 0x20] = {0x46, 0}, [':' - 0x20] = {0x4c, 1}, [';' - 0x20] = {0x4c, 0},
    ['<' - 0x20] = {0x41, 1}, ['=' - 0x20] = {0x55, 0}, ['>' - 0x20] = {0x49, 1},
    ['?' - 0x20] = {0x4a, 1}, ['@' - 0x20] = {0x1e, 1},
    ['[' - 0x20] = {0x54, 0}, ['\\' - 0x20] = {KEY_BACKSLASH, 0}, [']' - 0x20] = {0x5b, 0},
    ['^' - 0x20] = {0x36, 1}, ['_' - 0x20] = {0x4e, 1}, ['`' - 0x20] = {0x0e, 0},
    ['{' - 0x20] = {0x54, 1}, ['|' - 0x20] = {KEY_BACKSLASH, 1}, ['}' - 0x20] = {0x5b, 1},
    ['~' - 0x20] = {0x0e, 1},
#define LETTER(c, code) [c - 0x20] = {code, 0}, [c - 0x20 - 0x20] = {code, 1}
    LETTER('a', 0x1c), LETTER('b', 0x32), LETTER('c', 0x21), LETTER('d', 0x23),
    LETTER('e', 0x24), LETTER('f', 0x2b), LETTER('g', 0x34), LETTER('h', 0x33),
    LETTER('i', 0x43), LETTER('j', 0x3b), LETTER('k', 0x42), LETTER('l', 0x4b),
    LETTER('m', 0x3a), LETTER('n', 0x31), LETTER('o', 0x44), LETTER('p', 0x4d),
    LETTER('q', 0x15), LETTER('r', 0x2d), LETTER('s', 0x1b), LETTER('t', 0x2c),
    LETTER('u', 0x3c), LETTER('v', 0x2a), LETTER('w', 0x1d), LETTER('x', 0x22),
    LETTER('y', 0x35), LETTER('z', 0x1a),
#undef LETTER
};

unsigned i8042_ascii_keys(uint8_t c, struct ps2_key keys[8])
{
    uint8_t code = 0;
    bool shift = false, ctrl = false;
    switch (c) {
    case '\r': case '\n':  code = KEY_ENTER; break;
    case '\b': case 0x7f:  code = KEY_BACKSPACE; break;   // a terminal's Backspace sends DEL
    case '\t':             code = KEY_TAB; break;
    case 0x1b:             code = KEY_ESC; break;
    default:
        if (c < 0x20) {
            // Ctrl-@ .. Ctrl-_: left Ctrl with the key of c + 0x40 (a letter unshifted).
            uint8_t base = (uint8_t)(c + 0x40);
            if (base >= 'A' && base <= 'Z')
                base = (uint8_t)(base + 0x20);
            code = ascii_keys[base - 0x20].code;
            shift = ascii_keys[base - 0x20].shift;
            ctrl = true;
        } else if (c < 0x7f) {
            code = ascii_keys[c - 0x20].code;
            shift = ascii_keys[c - 0x20].shift;
        }
        break;
    }
    if (!code)
        return 0;   // bytes 0x80-0xff: no key on a US keyboard
    // Modifiers down first and up last, as QEMU's sendkey presses "ctrl-shift-x".
    unsigned n = 0;
    if (ctrl)
        keys[n++] = (struct ps2_key){KEY_LCTRL, true};
    if (shift)
        keys[n++] = (struct ps2_key){KEY_LSHIFT, true};
    keys[n++] = (struct ps2_key){code, true};
    keys[n++] = (struct ps2_key){code, false};
    if (shift)
        keys[n++] = (struct ps2_key){KEY_LSHIFT, false};
    if (ctrl)
        keys[n++] = (struct ps2_key){KEY_LCTRL, false};
    return n;
}

int i8042_type(struct i8042 *k, uint8_t c)
{
    struct ps2_key keys[8];
    unsigned n = i8042_ascii_keys(c, keys);
    if (!n)
        return -1;
    return i8042_kbd_keys(k, keys, n) ? 1 : 0;
}

// Defaults (FF, F5, F6): set 2, scanning, buffer emptied (QEMU's ps2_reset_keyboard).
static void kbd_reset(struct i8042 *k)
{
    k->scan_enabled = true;
    k->scancode_set = 2;
    k->xlate_break = false;
    q_reset(&k->kbd);
}

// The keyboard's own command set (an MF2 keyboard, QEMU's ps2_write_keyboard). Replies go
// ahead of buffered key codes; a new command drops the unread replies to the last one.
static void kbd_command(struct i8042 *k, uint8_t val)
{
    uint8_t cmd = k->kbd_pending;
    k->kbd_pending = 0;
    q_drop_replies(&k->kbd);
    switch (cmd) {
    case KBD_CMD_SCANCODE:
        if (val == 0) {
            uint8_t r[2] = {PS2_ACK, (k->mode & KBC_MODE_XLATE) ? xlate(k->scancode_set)
                                                                : k->scancode_set};
            kbd_reply(k, r, 2);
        } else if (val <= 3) {
            k->scancode_set = val;
            kbd_reply1(k, PS2_ACK);
        } else {
            kbd_reply1(k, PS2_RESEND);
        }
        return;
    case KBD_CMD_SET_LEDS: case KBD_CMD_SET_RATE: case KBD_CMD_SET_MAKE_BREAK:
        kbd_reply1(k, PS2_ACK);                // the parameter
        return;
    }
    switch (val) {
    case 0x00:
        kbd_reply1(k, PS2_ACK);
        return;
    case KBD_CMD_GET_ID: {                     // identify: MF2 keyboard
        uint8_t r[3] = {PS2_ACK, 0xab, (k->mode & KBC_MODE_XLATE) ? 0x41 : 0x83};
        kbd_reply(k, r, 3);
        return;
    }
    case KBD_CMD_ECHO:
        kbd_reply1(k, KBD_CMD_ECHO);
        return;
    case KBD_CMD_ENABLE:
        k->scan_enabled = true;
        kbd_reply1(k, PS2_ACK);
        return;
    case KBD_CMD_SCANCODE: case KBD_CMD_SET_LEDS: case KBD_CMD_SET_RATE:
    case KBD_CMD_SET_MAKE_BREAK:
        k->kbd_pending = val;
        kbd_reply1(k, PS2_ACK);
        return;
    case KBD_CMD_RESET_DISABLE:
        kbd_reset(k);
        k->scan_enabled = false;
        kbd_reply1(k, PS2_ACK);
        return;
    case KBD_CMD_RESET_ENABLE:
        kbd_reset(k);
        kbd_reply1(k, PS2_ACK);
        return;
    case KBD_CMD_RESET: {                      // reset and self test
        kbd_reset(k);
        uint8_t r[2] = {PS2_ACK, PS2_BAT_OK};
        kbd_reply(k, r, 2);
        return;
    }
    case KBD_CMD_SET_TYPEMATIC:
        kbd_reply1(k, PS2_ACK);
        return;
    default:                                   // 0x05 and unknown commands
        kbd_reply1(k, PS2_RESEND);
        return;
    }
}

// ---- the mouse -------------------------------------------------------------------------------

// The mouse's command set (a standard PS/2 mouse, no wheel, no motion).
static void aux_command(struct i8042 *k, uint8_t val)
{
    if (k->aux_pending) {                      // resolution / sample rate: parameter
        k->aux_pending = 0;
        aux_queue(k, PS2_ACK);
        return;
    }
    switch (val) {
    case 0xe8: case 0xf3:
        k->aux_pending = val;
        aux_queue(k, PS2_ACK);
        return;
    case 0xf2:                                 // get device ID
        aux_queue(k, PS2_ACK);
        aux_queue(k, 0x00);
        return;
    case 0xe9:                                 // status request: status, resolution, rate
        aux_queue(k, PS2_ACK);
        aux_queue(k, 0x00);
        aux_queue(k, 0x02);
        aux_queue(k, 100);
        return;
    case 0xeb:                                 // read data: an empty packet
        aux_queue(k, PS2_ACK);
        aux_queue(k, 0x08);
        aux_queue(k, 0x00);
        aux_queue(k, 0x00);
        return;
    case 0xff:                                 // reset: buffer emptied, self test passed, ID 0
        q_reset(&k->aux);
        aux_queue(k, PS2_ACK);
        aux_queue(k, PS2_BAT_OK);
        aux_queue(k, 0x00);
        return;
    default:
        aux_queue(k, PS2_ACK);
        return;
    }
}

// ---- ports -----------------------------------------------------------------------------------

uint8_t i8042_read(struct i8042 *k, unsigned port)
{
    if (port != 0)
        return k->status;
    if (k->status & KBC_STAT_OBF) {
        // The line drops with the buffer and comes back for the next byte: an edge per byte
        // for the edge-triggered 8259A (QEMU's kbd_read_data).
        k->status &= (uint8_t)~(KBC_STAT_OBF | KBC_STAT_AUX_OBF);
        update_lines(k);
        switch (k->obsrc) {
        case KBC_SRC_KBD: k->obdata = q_get(&k->kbd); break;
        case KBC_SRC_AUX: k->obdata = q_get(&k->aux); break;
        default:          k->obdata = k->cbdata; k->cb_src = 0; break;
        }
        fill_obuf(k);
    }
    return k->obdata;
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
        case KBC_CMD_READ_MODE:      ctrl_queue(k, k->mode, false); return;
        case KBC_CMD_WRITE_MODE: case KBC_CMD_WRITE_OUTPUT: case KBC_CMD_WRITE_KBD_OBUF:
        case KBC_CMD_WRITE_AUX_OBUF: case KBC_CMD_WRITE_AUX:
            k->pending = val;
            return;
        case KBC_CMD_AUX_DISABLE:    k->mode |= KBC_MODE_AUX_DIS; return;
        case KBC_CMD_AUX_ENABLE:
            k->mode &= (uint8_t)~KBC_MODE_AUX_DIS;
            fill_obuf(k);
            return;
        case KBC_CMD_AUX_TEST:       ctrl_queue(k, 0x00, false); return;
        case KBC_CMD_SELF_TEST:
            k->status |= KBC_STAT_SYS;
            ctrl_queue(k, 0x55, false);
            return;
        case KBC_CMD_KBD_TEST:       ctrl_queue(k, 0x00, false); return;
        // Disabling leaves a byte already in the buffer (and its IRQ) alone, as QEMU does;
        // from now on the keyboard's bytes wait in the keyboard.
        case KBC_CMD_KBD_DISABLE:    k->mode |= KBC_MODE_KBD_DIS; return;
        case KBC_CMD_KBD_ENABLE:
            k->mode &= (uint8_t)~KBC_MODE_KBD_DIS;
            fill_obuf(k);
            return;
        case KBC_CMD_READ_INPUT:     ctrl_queue(k, 0x80, false); return;   // not locked
        case KBC_CMD_READ_OUTPUT:    ctrl_queue(k, k->outport, false); return;
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
        // The interrupt enables act on the lines at once; clearing a disable bit may let a
        // device's buffered byte into the output buffer.
        k->mode = val;
        update_lines(k);
        fill_obuf(k);
        return;
    case KBC_CMD_WRITE_OUTPUT:   write_outport(k, val); return;
    case KBC_CMD_WRITE_KBD_OBUF: ctrl_queue(k, val, false); return;
    case KBC_CMD_WRITE_AUX_OBUF: ctrl_queue(k, val, true); return;
    case KBC_CMD_WRITE_AUX:
        aux_command(k, val);
        k->mode &= (uint8_t)~KBC_MODE_AUX_DIS;  // writing to the mouse enables its clock
        fill_obuf(k);
        return;
    default:
        kbd_command(k, val);
        k->mode &= (uint8_t)~KBC_MODE_KBD_DIS;  // writing to the keyboard enables its clock
        fill_obuf(k);
        return;
    }
}
