// VGA register file (IBM VGA technical reference): CRT controller, sequencer, graphics and
// attribute controllers, misc output, input status, feature control, DAC. The values after
// reset are those QEMU's std VGA holds after SeaBIOS's VGA BIOS set mode 3, and the bits a
// register keeps are QEMU's (runtime/tests/guest/vga.c reads them under QEMU; the tests
// compare). Where QEMU answers differently from a VGA, QEMU is the reference: the PEL mask
// (0x3C6) and the other unassigned ports in 0x3C0-0x3CF read 0, and input status 1's
// display-disabled and vertical-retrace bits flip on every read instead of following a
// raster (so that a guest waiting for a retrace, or for its end, never waits long).
#include "vga.h"

#include <string.h>

// The bits each register keeps (the others read 0).
static const uint8_t seq_mask[VGA_SEQ_COUNT] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff};
static const uint8_t gc_mask[VGA_GC_COUNT] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f,
                                              0xff};

// Mode 3 after the BIOS.
static const uint8_t crtc_mode3[VGA_CRTC_COUNT] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f,   // horizontal timing, vertical total, overflow
    0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0xa0,   // scan lines, cursor shape, start, cursor
    0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3,   // vertical timing, offset, mode control
    0xff,                                             // line compare
};
static const uint8_t seq_mode3[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
static const uint8_t gc_mode3[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff};
static const uint8_t attr_mode3[VGA_ATTR_COUNT] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
    0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
};

void vga_init(struct vga *v)
{
    memset(v, 0, sizeof *v);
    v->misc = 0x67;   // colour addresses, RAM enabled, 28 MHz clock, odd/even high page
    memcpy(v->crtc, crtc_mode3, sizeof crtc_mode3);
    memcpy(v->seq, seq_mode3, sizeof seq_mode3);
    memcpy(v->gc, gc_mode3, sizeof gc_mode3);
    memcpy(v->attr, attr_mode3, sizeof attr_mode3);
    // The BIOS's last accesses: the cursor location (CRTC index 0x0F), the graphics mode
    // register, the DAC written from entry 0, and the attribute index written with PAS set
    // to turn the screen on (the flip-flop at data).
    v->crtc_index = VGA_CRTC_CURSOR_LO;
    v->gc_index = 5;
    v->attr_index = VGA_ATTR_PAS;
    v->attr_data_next = true;
    // The 64-colour EGA palette in entries 0-63 (each of red, green, blue: a high-intensity
    // bit worth 0x2A and a low one worth 0x15 of the DAC's 6 bits), the rest black.
    for (unsigned i = 0; i < 64; i++) {
        v->dac[i][0] = (uint8_t)(0x2a * ((i >> 2) & 1) + 0x15 * ((i >> 5) & 1));
        v->dac[i][1] = (uint8_t)(0x2a * ((i >> 1) & 1) + 0x15 * ((i >> 4) & 1));
        v->dac[i][2] = (uint8_t)(0x2a * (i & 1) + 0x15 * ((i >> 3) & 1));
    }
}

// The ports the VGA decodes: 0x3C0-0x3CF, and the CRT controller and input status 1 at the
// address range misc output selects. The rest of 0x3B0-0x3DF is not the VGA's.
static bool decoded(const struct vga *v, uint16_t port)
{
    if (port >= 0x3c0 && port <= 0x3cf)
        return true;
    uint16_t base = (v->misc & VGA_MISC_IOAS) ? 0x3d0 : 0x3b0;
    return port == base + 4 || port == base + 5 || port == base + 0xa;
}

bool vga_peek(const struct vga *v, uint16_t port, uint8_t *val)
{
    if (!decoded(v, port)) {
        *val = 0xff;
        return true;
    }
    switch (port) {
    case VGA_CRTC_INDEX_MONO:
    case VGA_CRTC_INDEX:
        *val = v->crtc_index;
        return true;
    case VGA_CRTC_DATA_MONO:
    case VGA_CRTC_DATA:
        *val = v->crtc[v->crtc_index];
        return true;
    default:
        return false;
    }
}

uint8_t vga_read(struct vga *v, uint16_t port)
{
    if (!decoded(v, port))
        return 0xff;
    switch (port) {
    case VGA_ATTR_INDEX:
        return v->attr_data_next ? 0 : v->attr_index;
    case VGA_ATTR_DATA_READ: {
        unsigned i = v->attr_index & 0x1f;
        return i < VGA_ATTR_COUNT ? v->attr[i] : 0;
    }
    case VGA_MISC_WRITE:
        return v->is0;
    case VGA_SEQ_INDEX:
        return v->seq_index;
    case VGA_SEQ_DATA:
        return v->seq[v->seq_index];
    case VGA_DAC_READ_INDEX:
        return v->dac_state;
    case VGA_DAC_WRITE_INDEX:
        return v->dac_write_index;
    case VGA_DAC_DATA: {
        uint8_t val = v->dac[v->dac_read_index][v->dac_component];
        if (++v->dac_component == 3) {
            v->dac_component = 0;
            v->dac_read_index++;
        }
        return val;
    }
    case VGA_FEATURE_READ:
        return v->feature;
    case VGA_MISC_READ:
        return v->misc;
    case VGA_GC_INDEX:
        return v->gc_index;
    case VGA_GC_DATA:
        return v->gc[v->gc_index];
    case VGA_CRTC_INDEX_MONO:
    case VGA_CRTC_INDEX:
        return v->crtc_index;
    case VGA_CRTC_DATA_MONO:
    case VGA_CRTC_DATA:
        return v->crtc[v->crtc_index];
    case VGA_IS1_MONO:
    case VGA_IS1_COLOUR:
        v->is1 ^= VGA_IS1_RETRACE_BITS;
        v->attr_data_next = false;   // resets the attribute controller's flip-flop
        return v->is1;
    default:
        return 0;   // 0x3C3, 0x3C6, 0x3CB, 0x3CD
    }
}

static void attr_write(struct vga *v, uint8_t val)
{
    if (!v->attr_data_next) {
        v->attr_index = val & 0x3f;
    } else {
        unsigned i = v->attr_index & 0x1f;
        if (i < 0x10)
            v->attr[i] = val & 0x3f;         // palette
        else if (i == 0x10)
            v->attr[i] = val & 0xef;         // mode control
        else if (i == 0x11)
            v->attr[i] = val;                // overscan colour
        else if (i == 0x12)
            v->attr[i] = val & 0x3f;         // colour plane enable
        else if (i < VGA_ATTR_COUNT)
            v->attr[i] = val & 0x0f;         // horizontal PEL panning, colour select
    }
    v->attr_data_next = !v->attr_data_next;
}

static void crtc_write(struct vga *v, uint8_t val)
{
    uint8_t i = v->crtc_index;
    if ((v->crtc[VGA_CRTC_VRETRACE_END] & VGA_CR11_PROTECT) && i <= VGA_CRTC_OVERFLOW) {
        if (i == VGA_CRTC_OVERFLOW)
            v->crtc[i] = (uint8_t)((v->crtc[i] & ~VGA_CR07_LINE_COMPARE_8) |
                                   (val & VGA_CR07_LINE_COMPARE_8));
        return;
    }
    v->crtc[i] = val;
}

void vga_write(struct vga *v, uint16_t port, uint8_t val)
{
    if (!decoded(v, port))
        return;
    switch (port) {
    case VGA_ATTR_INDEX:
        attr_write(v, val);
        break;
    case VGA_MISC_WRITE:
        v->misc = val & 0xef;
        break;
    case VGA_SEQ_INDEX:
        v->seq_index = val & (VGA_SEQ_COUNT - 1);
        break;
    case VGA_SEQ_DATA:
        v->seq[v->seq_index] = val & seq_mask[v->seq_index];
        break;
    case VGA_DAC_READ_INDEX:
        v->dac_read_index = val;
        v->dac_component = 0;
        v->dac_state = 3;
        break;
    case VGA_DAC_WRITE_INDEX:
        v->dac_write_index = val;
        v->dac_component = 0;
        v->dac_state = 0;
        break;
    case VGA_DAC_DATA:
        v->dac_latch[v->dac_component] = val;
        if (++v->dac_component == 3) {
            memcpy(v->dac[v->dac_write_index], v->dac_latch, 3);
            v->dac_component = 0;
            v->dac_write_index++;
        }
        break;
    case VGA_GC_INDEX:
        v->gc_index = val & (VGA_GC_COUNT - 1);
        break;
    case VGA_GC_DATA:
        v->gc[v->gc_index] = val & gc_mask[v->gc_index];
        break;
    case VGA_CRTC_INDEX_MONO:
    case VGA_CRTC_INDEX:
        v->crtc_index = val;
        break;
    case VGA_CRTC_DATA_MONO:
    case VGA_CRTC_DATA:
        crtc_write(v, val);
        break;
    case VGA_IS1_MONO:
    case VGA_IS1_COLOUR:
        v->feature = val & 0x10;   // feature control: QEMU keeps bit 4 only
        break;
    default:
        break;
    }
}

unsigned vga_start_address(const struct vga *v)
{
    return (unsigned)v->crtc[VGA_CRTC_START_HI] << 8 | v->crtc[VGA_CRTC_START_LO];
}

unsigned vga_cursor_location(const struct vga *v)
{
    return (unsigned)v->crtc[VGA_CRTC_CURSOR_HI] << 8 | v->crtc[VGA_CRTC_CURSOR_LO];
}

// Shown unless turned off (CR0A bit 5) or its first scan line is past its last.
bool vga_cursor_enabled(const struct vga *v)
{
    uint8_t start = v->crtc[VGA_CRTC_CURSOR_START], end = v->crtc[VGA_CRTC_CURSOR_END];
    return !(start & VGA_CURSOR_OFF) && (start & 0x1f) <= (end & 0x1f);
}

unsigned vga_row_cells(const struct vga *v)
{
    return 2u * v->crtc[VGA_CRTC_OFFSET];
}
