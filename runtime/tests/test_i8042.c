// Register-level tests of the PS/2 controller (dev/i8042.c): status, the command byte,
// controller commands, the keyboard and mouse replies, the output port's reset and A20, and
// host keystrokes: scan code sets 1/2/3, the controller's translation, holding back.
#include "unit.h"

#include "fake_irq.h"
#include "i8042.h"

static struct i8042 k;
static struct fake_irq kirq, airq;
static int resets, a20_on = 1;

static void on_reset(void *o) { (void)o; resets++; }
static void on_a20(void *o, bool on) { (void)o; a20_on = on; }

static void setup(void)
{
    memset(&k, 0, sizeof k);
    memset(&kirq, 0, sizeof kirq);
    memset(&airq, 0, sizeof airq);
    resets = 0;
    a20_on = 1;
    k.kbd_irq = fake_irq_line(&kirq, 1);
    k.aux_irq = fake_irq_line(&airq, 12);
    k.reset = on_reset;
    k.a20 = on_a20;
    i8042_init(&k);
}

static uint8_t data(void) { return i8042_read(&k, 0); }
static uint8_t status(void) { return i8042_read(&k, 4); }

TEST(post_state_matches_seabios)
{
    setup();
    CHECK_EQ(status(), 0x1c);
    i8042_write(&k, 4, KBC_CMD_READ_MODE);
    CHECK_EQ(status() & KBC_STAT_OBF, KBC_STAT_OBF);
    CHECK_EQ(data(), 0x61);
    CHECK_EQ(status(), 0x1c);
    i8042_write(&k, 4, KBC_CMD_READ_OUTPUT);
    CHECK_EQ(data(), 0xcf);
}

TEST(self_test_and_interface_tests)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_SELF_TEST);
    CHECK_EQ(data(), 0x55);
    i8042_write(&k, 4, KBC_CMD_KBD_TEST);
    CHECK_EQ(data(), 0x00);
    i8042_write(&k, 4, KBC_CMD_AUX_TEST);
    CHECK_EQ(data(), 0x00);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
}

TEST(keyboard_reset_acks_and_passes_bat_with_irq1)
{
    setup();
    i8042_write(&k, 0, 0xff);
    CHECK_EQ(kirq.level, 1);
    CHECK_EQ(status() & (KBC_STAT_OBF | KBC_STAT_CMD), KBC_STAT_OBF);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(kirq.rises, 2);                      // the line dropped and rose for the next byte
    CHECK_EQ(data(), PS2_BAT_OK);
    CHECK_EQ(kirq.level, 0);
}

TEST(keyboard_identify_with_translation)
{
    setup();
    i8042_write(&k, 0, 0xf2);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(data(), 0xab);
    CHECK_EQ(data(), 0x41);
}

TEST(scan_code_set_query)
{
    setup();
    i8042_write(&k, 0, 0xf0);
    CHECK_EQ(data(), PS2_ACK);
    i8042_write(&k, 0, 0x00);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(data(), 0x41);                       // set 2, as seen through translation
}

TEST(leds_take_a_parameter)
{
    setup();
    i8042_write(&k, 0, 0xed);
    CHECK_EQ(data(), PS2_ACK);
    i8042_write(&k, 0, 0x07);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
}

TEST(unknown_keyboard_command_resend)
{
    setup();
    i8042_write(&k, 0, 0x42);
    CHECK_EQ(data(), PS2_RESEND);
}

TEST(write_mode_controls_irq1)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_WRITE_MODE);
    i8042_write(&k, 0, 0x60);                      // no interrupts
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    CHECK_EQ(kirq.level, 0);
    CHECK_EQ(status() & KBC_STAT_OBF, KBC_STAT_OBF);
    CHECK_EQ(data(), 0x1e);
}

TEST(mouse_through_d4_uses_irq12)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_WRITE_MODE);
    i8042_write(&k, 0, 0x43);                      // both interrupts, translation
    i8042_write(&k, 4, KBC_CMD_WRITE_AUX);
    i8042_write(&k, 0, 0xff);
    CHECK_EQ(airq.level, 1);
    CHECK_EQ(kirq.level, 0);
    CHECK_EQ(status() & KBC_STAT_AUX_OBF, KBC_STAT_AUX_OBF);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(data(), PS2_BAT_OK);
    CHECK_EQ(data(), 0x00);
    CHECK_EQ(airq.level, 0);
}

TEST(pulse_fe_resets_the_cpu)
{
    setup();
    i8042_write(&k, 4, 0xfe);
    CHECK_EQ(resets, 1);
    i8042_write(&k, 4, 0xff);                      // pulses nothing
    CHECK_EQ(resets, 1);
}

TEST(output_port_drives_a20_and_reset)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_WRITE_OUTPUT);
    i8042_write(&k, 0, 0xcd);                      // A20 off, reset line high
    CHECK_EQ(a20_on, 0);
    CHECK_EQ(resets, 0);
    i8042_write(&k, 4, KBC_CMD_ENABLE_A20);
    CHECK_EQ(a20_on, 1);
    i8042_write(&k, 4, KBC_CMD_WRITE_OUTPUT);
    i8042_write(&k, 0, 0xce);                      // reset line low
    CHECK_EQ(resets, 1);
}

TEST(write_kbd_obuf_echoes)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_WRITE_KBD_OBUF);
    i8042_write(&k, 0, 0x99);
    CHECK_EQ(kirq.level, 1);
    CHECK_EQ(data(), 0x99);
}

// ---- host keystrokes -------------------------------------------------------------------------

// Type s, then read every byte the controller has for the host into out; returns the count.
static unsigned type_and_read(const char *s, uint8_t *out, unsigned max)
{
    for (; *s; s++)
        if (i8042_type(&k, (uint8_t)*s) != 1)
            return 0;
    unsigned n = 0;
    while ((status() & KBC_STAT_OBF) && n < max)
        out[n++] = data();
    return n;
}

#define CHECK_BYTES(got, n, ...)                                                \
    do {                                                                        \
        static const uint8_t want_[] = {__VA_ARGS__};                           \
        CHECK_EQ(n, sizeof want_);                                              \
        for (unsigned i_ = 0; i_ < sizeof want_; i_++)                          \
            CHECK_EQ(got[i_], want_[i_]);                                       \
    } while (0)

static void set_mode(uint8_t mode)
{
    i8042_write(&k, 4, KBC_CMD_WRITE_MODE);
    i8042_write(&k, 0, mode);
}

static void kbd_cmd(uint8_t cmd, uint8_t reply)
{
    i8042_write(&k, 0, cmd);
    CHECK_EQ(data(), reply);
}

TEST(typing_is_translated_to_set_1_with_an_edge_per_byte)
{
    setup();
    uint8_t b[16];
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    CHECK_EQ(kirq.level, 1);
    CHECK_EQ(kirq.rises, 1);
    CHECK_EQ(status() & (KBC_STAT_OBF | KBC_STAT_AUX_OBF), KBC_STAT_OBF);
    CHECK_EQ(data(), 0x1e);                       // make
    CHECK_EQ(kirq.rises, 2);
    CHECK_EQ(data(), 0x9e);                       // break: F0 1C became 1C | 0x80 -> 9E
    CHECK_EQ(kirq.level, 0);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
    CHECK_EQ(data(), 0x9e);                       // empty: the last byte again
    unsigned n = type_and_read("A!", b, sizeof b);
    CHECK_BYTES(b, n, 0x2a, 0x1e, 0x9e, 0xaa, 0x2a, 0x02, 0x82, 0xaa);
}

TEST(typing_in_set_2_without_translation)
{
    setup();
    set_mode(KBC_MODE_KBD_INT | KBC_MODE_AUX_DIS);
    uint8_t b[16];
    unsigned n = type_and_read("A", b, sizeof b);
    CHECK_BYTES(b, n, 0x12, 0x1c, 0xf0, 0x1c, 0xf0, 0x12);
    n = type_and_read("\x03", b, sizeof b);       // Ctrl-C: left Ctrl + c
    CHECK_BYTES(b, n, 0x14, 0x21, 0xf0, 0x21, 0xf0, 0x14);
}

TEST(special_keys_and_symbols)
{
    setup();
    uint8_t b[64];
    // Enter, Backspace (DEL and BS), Tab, Esc, space; then | ~ " (Shift)
    unsigned n = type_and_read("\n\x7f\b\t\x1b ", b, sizeof b);
    CHECK_BYTES(b, n, 0x1c, 0x9c, 0x0e, 0x8e, 0x0e, 0x8e, 0x0f, 0x8f, 0x01, 0x81, 0x39, 0xb9);
    n = type_and_read("|~\"", b, sizeof b);
    CHECK_BYTES(b, n, 0x2a, 0x2b, 0xab, 0xaa, 0x2a, 0x29, 0xa9, 0xaa, 0x2a, 0x28, 0xa8, 0xaa);
}

TEST(every_ascii_byte_has_a_key_and_high_bytes_none)
{
    struct ps2_key keys[8];
    for (unsigned c = 0; c < 0x80; c++) {
        unsigned n = i8042_ascii_keys((uint8_t)c, keys);
        CHECK(n == 2 || n == 4 || n == 6);
        CHECK(keys[n / 2 - 1].down && !keys[n / 2].down);
        CHECK_EQ(keys[n / 2 - 1].code, keys[n / 2].code);
    }
    for (unsigned c = 0x80; c < 0x100; c++)
        CHECK_EQ(i8042_ascii_keys((uint8_t)c, keys), 0);
    setup();
    CHECK_EQ(i8042_type(&k, 0xc3), -1);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
}

TEST(full_buffer_holds_keystrokes_back_whole)
{
    setup();
    unsigned typed = 0;
    while (i8042_type(&k, 'x') == 1)
        typed++;
    CHECK_EQ(typed, PS2_QUEUE_SIZE / 2);          // two bytes a keystroke, 16 bytes
    CHECK_EQ(data(), 0x2d);
    CHECK_EQ(i8042_type(&k, 'x'), 0);             // one byte free, the keystroke needs two
    CHECK_EQ(data(), 0xad);
    CHECK_EQ(i8042_type(&k, 'y'), 1);
    unsigned n = 0;
    uint8_t last = 0;
    while (status() & KBC_STAT_OBF) {
        last = data();
        n++;
    }
    CHECK_EQ(n, PS2_QUEUE_SIZE);
    CHECK_EQ(last, 0x95);                         // y's break came last: nothing lost
}

TEST(scanning_disabled_holds_keys_and_f5_resets)
{
    setup();
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    kbd_cmd(KBD_CMD_SCANCODE, PS2_ACK);
    kbd_cmd(0x01, PS2_ACK);                       // set 1
    kbd_cmd(KBD_CMD_RESET_DISABLE, PS2_ACK);      // drops the buffered key, back to set 2
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
    CHECK_EQ(i8042_type(&k, 'a'), 0);             // not scanning
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
    kbd_cmd(KBD_CMD_ENABLE, PS2_ACK);
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(k.scancode_set, 2);
}

TEST(keyboard_clock_disabled_keeps_bytes_in_the_keyboard)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_KBD_DISABLE);
    CHECK_EQ(i8042_type(&k, 'a'), 1);             // the keyboard buffers it...
    CHECK_EQ(status() & KBC_STAT_OBF, 0);         // ...the controller does not clock it in
    CHECK_EQ(kirq.rises, 0);
    i8042_write(&k, 4, KBC_CMD_READ_MODE);        // the controller's own bytes still come
    CHECK_EQ(data(), 0x71);
    i8042_write(&k, 4, KBC_CMD_KBD_ENABLE);
    CHECK_EQ(kirq.level, 1);
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(data(), 0x9e);
}

TEST(mode_write_clearing_the_disable_bit_delivers)
{
    setup();
    set_mode(KBC_MODE_KBD_INT | KBC_MODE_KBD_DIS | KBC_MODE_AUX_DIS | KBC_MODE_XLATE);
    CHECK_EQ(i8042_type(&k, 'b'), 1);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
    set_mode(KBC_MODE_KBD_INT | KBC_MODE_AUX_DIS | KBC_MODE_XLATE);
    CHECK_EQ(kirq.level, 1);
    CHECK_EQ(data(), 0x30);
}

TEST(command_replies_go_ahead_of_buffered_keys)
{
    setup();
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    i8042_write(&k, 0, KBD_CMD_GET_ID);
    uint8_t b[8];
    unsigned n = 0;
    while ((status() & KBC_STAT_OBF) && n < sizeof b)
        b[n++] = data();
    CHECK_BYTES(b, n, PS2_ACK, 0xab, 0x41, 0x1e, 0x9e);
}

TEST(a_new_command_drops_unread_replies)
{
    setup();
    i8042_write(&k, 0, KBD_CMD_GET_ID);
    CHECK_EQ(data(), PS2_ACK);
    i8042_write(&k, 0, KBD_CMD_ECHO);
    CHECK_EQ(data(), KBD_CMD_ECHO);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
}

TEST(sets_1_and_3_without_translation)
{
    setup();
    set_mode(KBC_MODE_KBD_INT | KBC_MODE_AUX_DIS);
    kbd_cmd(KBD_CMD_SCANCODE, PS2_ACK);
    kbd_cmd(0x01, PS2_ACK);
    uint8_t b[16];
    unsigned n = type_and_read("a\x1b", b, sizeof b);
    CHECK_BYTES(b, n, 0x1e, 0x9e, 0x01, 0x81);
    kbd_cmd(KBD_CMD_SCANCODE, PS2_ACK);
    kbd_cmd(0x03, PS2_ACK);
    n = type_and_read("\x1b\x01|", b, sizeof b);  // Esc, Ctrl-A, | differ from set 2
    CHECK_BYTES(b, n, 0x08, 0xf0, 0x08,
                0x11, 0x1c, 0xf0, 0x1c, 0xf0, 0x11,
                0x12, 0x5c, 0xf0, 0x5c, 0xf0, 0x12);
    kbd_cmd(KBD_CMD_SCANCODE, PS2_ACK);
    i8042_write(&k, 0, 0x00);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(data(), 0x03);                       // untranslated report
}

TEST(keyboard_reset_drops_buffered_keys)
{
    setup();
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    CHECK_EQ(i8042_type(&k, 'b'), 1);
    i8042_write(&k, 0, KBD_CMD_RESET);
    CHECK_EQ(data(), PS2_ACK);
    CHECK_EQ(data(), PS2_BAT_OK);
    CHECK_EQ(status() & KBC_STAT_OBF, 0);
}

TEST(controller_byte_comes_before_keyboard_bytes)
{
    setup();
    i8042_write(&k, 4, KBC_CMD_KBD_DISABLE);
    CHECK_EQ(i8042_type(&k, 'a'), 1);
    i8042_write(&k, 4, KBC_CMD_KBD_ENABLE);       // OBF now holds the keyboard's byte...
    i8042_write(&k, 4, KBC_CMD_READ_OUTPUT);      // ...and the controller has one waiting
    CHECK_EQ(data(), 0x1e);
    CHECK_EQ(data(), 0xcf);
    CHECK_EQ(data(), 0x9e);
}
