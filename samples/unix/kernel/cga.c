// CGA text-mode console output (IBM CGA, 80x25 at physical 0xB8000; cursor through the
// MC6845 CRTC). Output only: every console byte is shown here as well as sent to COM1.
#include "defs.h"

static uint16_t *crt;   // the text buffer, through the kernel's map of low memory
static int pos;         // cursor: row * CGA_COLS + column

static void cga_setcursor(void)
{
    outb(CRTC_INDEX, CRTC_CURSOR_HI);
    outb(CRTC_DATA, (uint8_t)(pos >> 8));
    outb(CRTC_INDEX, CRTC_CURSOR_LO);
    outb(CRTC_DATA, (uint8_t)pos);
}

void cgainit(void)
{
    crt = P2V(CGA_MEM);
    for (int i = 0; i < CGA_ROWS * CGA_COLS; i++)
        crt[i] = CGA_ATTR | ' ';
    pos = 0;
    cga_setcursor();
}

void cgaputc(int c)
{
    if (c == '\n')
        pos += CGA_COLS - pos % CGA_COLS;
    else if (c == '\b') {
        if (pos > 0)
            pos--;
    } else if (c != '\r')
        crt[pos++] = CGA_ATTR | (c & 0xff);

    if (pos >= CGA_ROWS * CGA_COLS) {   // scroll up one line
        memmove(crt, crt + CGA_COLS, sizeof(crt[0]) * (CGA_ROWS - 1) * CGA_COLS);
        pos -= CGA_COLS;
        for (int i = pos; i < CGA_ROWS * CGA_COLS; i++)
            crt[i] = CGA_ATTR | ' ';
    }
    cga_setcursor();
}
