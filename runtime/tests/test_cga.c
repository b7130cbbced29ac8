// Tests of the CGA text rendering (dev/cga.c) used by --screen.
#include "unit.h"

#include "cga.h"

static uint8_t vram[CGA_TEXT_SIZE];

static void put(unsigned row, unsigned col, const char *s)
{
    for (; *s; s++, col++) {
        vram[(row * CGA_COLS + col) * 2] = (uint8_t)*s;
        vram[(row * CGA_COLS + col) * 2 + 1] = 0x07;
    }
}

TEST(ascii_row_with_trailing_blanks_stripped)
{
    memset(vram, 0, sizeof vram);
    put(3, 2, "hello  ");
    char out[CGA_COLS * 3 + 1];
    CHECK_EQ(cga_render_row(vram, 3, out), 7);
    CHECK(!strcmp(out, "  hello"));
    CHECK_EQ(cga_render_row(vram, 0, out), 0);
}

TEST(code_page_437_glyphs_become_utf8)
{
    memset(vram, 0, sizeof vram);
    vram[0] = 0xdb;       // full block U+2588
    vram[2] = 0x01;       // smiley U+263A
    vram[4] = 0x82;       // e acute U+00E9
    char out[CGA_COLS * 3 + 1];
    cga_render_row(vram, 0, out);
    CHECK(!strcmp(out, "\xe2\x96\x88\xe2\x98\xba\xc3\xa9"));
}
