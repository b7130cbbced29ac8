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

TEST(cells_from_any_start_blank_past_the_buffer)
{
    memset(vram, 0, sizeof vram);
    put(1, 75, "abcde");
    put(2, 0, "fgh");
    char out[CGA_COLS * 3 + 1];
    // A row that starts mid-row 1 (a VGA start address that is not a multiple of 80).
    CHECK_EQ(cga_render_cells(vram, CGA_ROWS * CGA_COLS, CGA_COLS + 75, out), 8);
    CHECK(!strcmp(out, "abcdefgh"));
    // The last row of the buffer, then cells past its end: blank, not wrapped to cell 0.
    put(0, 0, "zero");
    put(24, 0, "last");
    CHECK_EQ(cga_render_cells(vram, CGA_ROWS * CGA_COLS, 24 * CGA_COLS + 2, out), 2);
    CHECK(!strcmp(out, "st"));
}
