// Register-level tests of the VGA model (dev/vga.c): text mode 3 after the BIOS, what each
// register keeps, the attribute flip-flop, the DAC's indexes, the colour/mono address select.
// Expected values are QEMU's std VGA (runtime/tests/guest/vga.c under qemu-system-i386).
#include "unit.h"

#include "vga.h"

static struct vga vga;

static void setup(void) { vga_init(&vga); }
static uint8_t rd(uint16_t p) { return vga_read(&vga, p); }
static void wr(uint16_t p, uint8_t v) { vga_write(&vga, p, v); }
static uint8_t crtc(uint8_t i) { wr(VGA_CRTC_INDEX, i); return rd(VGA_CRTC_DATA); }
static void crtc_w(uint8_t i, uint8_t v) { wr(VGA_CRTC_INDEX, i); wr(VGA_CRTC_DATA, v); }
static uint8_t attr(uint8_t i)
{
    (void)rd(VGA_IS1_COLOUR);
    wr(VGA_ATTR_INDEX, (uint8_t)(i | VGA_ATTR_PAS));
    return rd(VGA_ATTR_DATA_READ);
}

TEST(mode3_after_the_bios)
{
    setup();
    CHECK_EQ(rd(VGA_MISC_READ), 0x67);
    CHECK_EQ(crtc(0x00), 0x5f);
    CHECK_EQ(crtc(0x09), 0x4f);             // 16 scan lines a row
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_START), 0x0d);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_END), 0x0e);
    CHECK_EQ(crtc(VGA_CRTC_OFFSET), 0x28);
    CHECK_EQ(crtc(0x18), 0xff);
    CHECK_EQ(vga_cursor_location(&vga), 0xa0);   // row 2: after the BIOS's two lines
    CHECK_EQ(vga_start_address(&vga), 0);
    CHECK(vga_cursor_enabled(&vga));
    CHECK_EQ(vga_row_cells(&vga), 80);
    wr(VGA_SEQ_INDEX, 4);
    CHECK_EQ(rd(VGA_SEQ_DATA), 0x02);
    wr(VGA_GC_INDEX, 6);
    CHECK_EQ(rd(VGA_GC_DATA), 0x0e);            // 0xB8000, 32 KiB, odd/even, text
    CHECK_EQ(attr(0x06), 0x14);
    CHECK_EQ(attr(0x10), 0x0c);
    CHECK_EQ(attr(0x14), 0x00);
}

TEST(index_registers_after_the_bios)
{
    setup();
    CHECK_EQ(rd(VGA_ATTR_INDEX), 0);             // the flip-flop is at data
    CHECK_EQ(rd(VGA_CRTC_INDEX), VGA_CRTC_CURSOR_LO);
    CHECK_EQ(rd(VGA_GC_INDEX), 5);
    wr(VGA_ATTR_INDEX, 0x31);                   // a data write: palette register 0
    CHECK_EQ(rd(VGA_ATTR_INDEX), 0x20);
    CHECK_EQ(attr(0), 0x31);
}

TEST(cursor_and_start_address_read_back)
{
    setup();
    crtc_w(VGA_CRTC_CURSOR_HI, 0x01);
    crtc_w(VGA_CRTC_CURSOR_LO, 0x23);
    crtc_w(VGA_CRTC_START_HI, 0x00);
    crtc_w(VGA_CRTC_START_LO, 0x50);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_HI), 0x01);
    CHECK_EQ(crtc(VGA_CRTC_CURSOR_LO), 0x23);
    CHECK_EQ(vga_cursor_location(&vga), 0x123);
    CHECK_EQ(vga_start_address(&vga), 0x50);
    crtc_w(VGA_CRTC_CURSOR_START, 0x20);
    CHECK(!vga_cursor_enabled(&vga));
    crtc_w(VGA_CRTC_CURSOR_START, 0x0f);        // first scan line past the last: hidden
    CHECK(!vga_cursor_enabled(&vga));
}

TEST(crtc_index_keeps_8_bits_and_registers_past_0x18_read_back)
{
    setup();
    wr(VGA_CRTC_INDEX, 0xff);
    CHECK_EQ(rd(VGA_CRTC_INDEX), 0xff);
    CHECK_EQ(rd(VGA_CRTC_DATA), 0);
    wr(VGA_CRTC_DATA, 0x5a);
    CHECK_EQ(rd(VGA_CRTC_DATA), 0x5a);
}

TEST(cr0_to_cr7_are_write_protected_but_cr7_bit4)
{
    setup();
    crtc_w(0x00, 0xff);
    CHECK_EQ(crtc(0x00), 0x5f);
    crtc_w(0x07, 0x00);
    CHECK_EQ(crtc(0x07), 0x0f);
    crtc_w(0x07, 0xff);
    CHECK_EQ(crtc(0x07), 0x1f);
    crtc_w(0x11, 0x0e);                         // protection off
    crtc_w(0x00, 0xff);
    CHECK_EQ(crtc(0x00), 0xff);
}

TEST(sequencer_and_graphics_keep_their_bits)
{
    setup();
    static const uint8_t seq_ff[5] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e};
    static const uint8_t gc_ff[9] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff};
    for (uint8_t i = 0; i < 5; i++) {
        wr(VGA_SEQ_INDEX, i);
        wr(VGA_SEQ_DATA, 0xff);
        CHECK_EQ(rd(VGA_SEQ_DATA), seq_ff[i]);
    }
    for (uint8_t i = 0; i < 9; i++) {
        wr(VGA_GC_INDEX, i);
        wr(VGA_GC_DATA, 0xff);
        CHECK_EQ(rd(VGA_GC_DATA), gc_ff[i]);
    }
    wr(VGA_SEQ_INDEX, 0xff);
    CHECK_EQ(rd(VGA_SEQ_INDEX), 7);
    wr(VGA_GC_INDEX, 0xff);
    CHECK_EQ(rd(VGA_GC_INDEX), 0x0f);
    CHECK_EQ(rd(VGA_GC_DATA), 0);
}

TEST(attribute_flip_flop)
{
    setup();
    (void)rd(VGA_IS1_COLOUR);                   // reset: index next
    wr(VGA_ATTR_INDEX, 0x21);
    CHECK_EQ(rd(VGA_ATTR_INDEX), 0);            // at data: the index does not read
    wr(VGA_ATTR_INDEX, 0xff);                   // palette 1, 6 bits
    CHECK_EQ(rd(VGA_ATTR_INDEX), 0x21);         // at index again
    CHECK_EQ(rd(VGA_ATTR_DATA_READ), 0x3f);
    static const uint8_t ff[] = {[0x10] = 0xef, [0x11] = 0xff, [0x12] = 0x3f, [0x13] = 0x0f,
                                 [0x14] = 0x0f};
    for (uint8_t i = 0x10; i < VGA_ATTR_COUNT; i++) {
        (void)rd(VGA_IS1_COLOUR);
        wr(VGA_ATTR_INDEX, (uint8_t)(i | VGA_ATTR_PAS));
        wr(VGA_ATTR_INDEX, 0xff);
        CHECK_EQ(attr(i), ff[i]);
    }
    (void)rd(VGA_IS1_COLOUR);
    wr(VGA_ATTR_INDEX, 0xff);                   // index 0x3f: no register
    CHECK_EQ(rd(VGA_ATTR_DATA_READ), 0);
}

TEST(input_status_1_retrace_bits_change)
{
    setup();
    uint8_t a = rd(VGA_IS1_COLOUR), b = rd(VGA_IS1_COLOUR);
    CHECK_EQ(a ^ b, VGA_IS1_RETRACE_BITS);
    CHECK_EQ(a & ~VGA_IS1_RETRACE_BITS, 0);
}

TEST(dac_palette_and_indexes)
{
    setup();
    wr(VGA_DAC_READ_INDEX, 20);
    CHECK_EQ(rd(VGA_DAC_READ_INDEX), 3);        // DAC state: reading
    CHECK_EQ(rd(VGA_DAC_DATA), 0x2a);           // brown: 2a 15 00
    CHECK_EQ(rd(VGA_DAC_DATA), 0x15);
    CHECK_EQ(rd(VGA_DAC_DATA), 0x00);
    CHECK_EQ(rd(VGA_DAC_DATA), 0x2a);           // 21, magenta: auto-increment
    wr(VGA_DAC_WRITE_INDEX, 0x10);
    CHECK_EQ(rd(VGA_DAC_READ_INDEX), 0);
    wr(VGA_DAC_DATA, 0xff);
    wr(VGA_DAC_DATA, 0x41);
    wr(VGA_DAC_DATA, 0x2a);
    wr(VGA_DAC_DATA, 0x01);                     // a first component of 0x11, not stored yet
    CHECK_EQ(rd(VGA_DAC_WRITE_INDEX), 0x11);
    wr(VGA_DAC_READ_INDEX, 0x10);
    CHECK_EQ(rd(VGA_DAC_DATA), 0xff);           // all 8 bits kept, as QEMU does
    CHECK_EQ(rd(VGA_DAC_DATA), 0x41);
    wr(VGA_DAC_READ_INDEX, 0xff);
    (void)rd(VGA_DAC_DATA); (void)rd(VGA_DAC_DATA); (void)rd(VGA_DAC_DATA);
    CHECK_EQ(rd(VGA_DAC_DATA), 0);              // wrapped to entry 0 (black)
}

TEST(misc_output_selects_mono_or_colour_addresses)
{
    setup();
    CHECK_EQ(rd(VGA_CRTC_INDEX_MONO), 0xff);
    wr(VGA_CRTC_INDEX_MONO, 0x0e);              // not decoded
    CHECK_EQ(rd(VGA_CRTC_INDEX), VGA_CRTC_CURSOR_LO);
    wr(VGA_MISC_WRITE, 0x66);
    CHECK_EQ(rd(VGA_MISC_READ), 0x66);
    CHECK_EQ(rd(VGA_CRTC_INDEX), 0xff);
    CHECK_EQ(rd(VGA_IS1_COLOUR), 0xff);
    CHECK_EQ(rd(VGA_CRTC_INDEX_MONO), VGA_CRTC_CURSOR_LO);
    wr(VGA_CRTC_INDEX_MONO, 0x0e);
    CHECK_EQ(rd(VGA_CRTC_DATA_MONO), 0x00);
    wr(VGA_MISC_WRITE, 0xff);
    CHECK_EQ(rd(VGA_MISC_READ), 0xef);          // bit 4 does not exist
}

TEST(other_ports)
{
    setup();
    CHECK_EQ(rd(0x3b0), 0xff);
    CHECK_EQ(rd(0x3d0), 0xff);
    CHECK_EQ(rd(0x3db), 0xff);
    CHECK_EQ(rd(VGA_PEL_MASK), 0);              // QEMU does not implement it
    CHECK_EQ(rd(0x3c3), 0);
    CHECK_EQ(rd(VGA_MISC_WRITE), 0);            // input status 0
    wr(VGA_IS1_COLOUR, 0xff);                   // feature control: QEMU keeps bit 4
    CHECK_EQ(rd(VGA_FEATURE_READ), 0x10);
}
