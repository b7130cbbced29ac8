// Register-level tests of the PS/2 controller (dev/i8042.c): status, the command byte,
// controller commands, the keyboard and mouse replies, the output port's reset and A20.
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
    i8042_kbd_input(&k, 0x1e);
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
