// CGA 80x25 colour text mode (IBM Color/Graphics Monitor Adapter technical reference:
// character/attribute pairs at 0xB8000, 160 bytes a row). The text buffer is ordinary RAM
// on both machines: with the default VGA (--vga std) its registers are dev/vga.c's; with
// --vga none, as on QEMU's PC with -nodefaults alone, there is no display adapter and the
// 6845 CRTC ports (0x3D4/0x3D5) are unassigned, so kernels see exactly what they see under
// QEMU. This file only renders the buffer as text, for --screen.
#ifndef RING1_CGA_H
#define RING1_CGA_H

#include <stddef.h>
#include <stdint.h>

#define CGA_TEXT_BASE  0xb8000u
#define CGA_COLS       80
#define CGA_ROWS       25
#define CGA_TEXT_SIZE  (CGA_COLS * CGA_ROWS * 2)
#define VGA_TEXT_CELLS 0x4000   // the 32 KiB text window of a VGA at 0xB8000

// Render one row of the text buffer as UTF-8 (code page 437 glyphs, NUL as a space),
// trailing spaces removed. out needs room for CGA_COLS * 3 + 1 bytes; returns the length.
size_t cga_render_row(const uint8_t *vram, unsigned row, char *out);
// The same for the CGA_COLS cells from cell first of a text buffer of cells cells (a VGA's
// start address can put a row anywhere in its 32 KiB); cells past its end are blank (video
// memory the text window does not reach, never written in text mode).
size_t cga_render_cells(const uint8_t *text, unsigned cells, unsigned first, char *out);

#endif
