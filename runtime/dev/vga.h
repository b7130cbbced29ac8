// VGA (IBM VGA technical reference; register names as in its "Video Subsystem" chapter): the
// register file of a standard VGA in alphanumeric mode 3 (80x25, 16 colours, text at
// 0xB8000), as QEMU's std VGA holds it after SeaBIOS and its VGA BIOS set the mode
// (`qemu-system-i386 -nodefaults -vga std`, read by runtime/tests/guest/vga.c). Only the
// registers: the text buffer stays ordinary RAM (the mode's odd/even addressing makes it
// look like RAM), nothing is drawn; --screen renders the buffer from the start address and
// shows the cursor (platform.c, cga.c).
#ifndef RING1_VGA_H
#define RING1_VGA_H

#include <stdbool.h>
#include <stdint.h>

// Ports (absolute). The CRT controller and input status 1 sit at 0x3Bx when the misc output
// register's I/O address select bit is clear (monochrome), at 0x3Dx when it is set (colour);
// the other address range then does not answer (reads 0xFF, writes vanish).
#define VGA_PORT_FIRST       0x3b0
#define VGA_PORT_COUNT       0x30
#define VGA_CRTC_INDEX_MONO  0x3b4
#define VGA_CRTC_DATA_MONO   0x3b5
#define VGA_IS1_MONO         0x3ba   // read: input status 1; write: feature control
#define VGA_ATTR_INDEX       0x3c0   // write: index or data (flip-flop); read: index
#define VGA_ATTR_DATA_READ   0x3c1
#define VGA_MISC_WRITE       0x3c2   // write: misc output; read: input status 0
#define VGA_SEQ_INDEX        0x3c4
#define VGA_SEQ_DATA         0x3c5
#define VGA_PEL_MASK         0x3c6
#define VGA_DAC_READ_INDEX   0x3c7   // write: read index; read: DAC state
#define VGA_DAC_WRITE_INDEX  0x3c8
#define VGA_DAC_DATA         0x3c9
#define VGA_FEATURE_READ     0x3ca
#define VGA_MISC_READ        0x3cc
#define VGA_GC_INDEX         0x3ce
#define VGA_GC_DATA          0x3cf
#define VGA_CRTC_INDEX       0x3d4
#define VGA_CRTC_DATA        0x3d5
#define VGA_IS1_COLOUR       0x3da

// CRT controller registers.
#define VGA_CRTC_OVERFLOW         0x07
#define VGA_CRTC_CURSOR_START     0x0a   // bit 5: cursor off; bits 4-0: first scan line
#define VGA_CRTC_CURSOR_END       0x0b
#define VGA_CRTC_START_HI         0x0c
#define VGA_CRTC_START_LO         0x0d
#define VGA_CRTC_CURSOR_HI        0x0e
#define VGA_CRTC_CURSOR_LO        0x0f
#define VGA_CRTC_VRETRACE_END     0x11   // bit 7: CR0-CR7 write-protected
#define VGA_CRTC_OFFSET           0x13   // words per row (text: cells / 2)
#define VGA_CRTC_COUNT            0x19
#define VGA_CURSOR_OFF            0x20
#define VGA_CR11_PROTECT          0x80
#define VGA_CR07_LINE_COMPARE_8   0x10   // writable even while CR0-CR7 are protected

#define VGA_MISC_IOAS             0x01   // misc output: I/O address select (colour)
#define VGA_IS1_RETRACE_BITS      0x09   // input status 1: display disabled, vertical retrace
#define VGA_ATTR_PAS              0x20   // attribute index: palette address source
#define VGA_ATTR_COUNT            0x15
#define VGA_SEQ_COUNT             8
#define VGA_GC_COUNT              16

struct vga {
    uint8_t misc;                  // miscellaneous output
    uint8_t feature;               // feature control
    uint8_t is0, is1;              // input status 0 and 1
    uint8_t crtc_index;            // all 8 bits kept; registers past 0x18 read what was written
    uint8_t crtc[256];
    uint8_t seq_index, seq[VGA_SEQ_COUNT];
    uint8_t gc_index, gc[VGA_GC_COUNT];
    uint8_t attr_index;            // with PAS
    bool attr_data_next;           // the flip-flop: the next write to 0x3C0 is data
    uint8_t attr[VGA_ATTR_COUNT];
    uint8_t dac_read_index, dac_write_index, dac_component, dac_state;
    uint8_t dac_latch[3];          // a colour being written, stored on its third component
    uint8_t dac[256][3];
};

// Text mode 3 as the VGA BIOS leaves it.
void vga_init(struct vga *v);
// A byte access to port 0x3B0-0x3DF (absolute); ports the VGA does not decode read 0xFF.
uint8_t vga_read(struct vga *v, uint16_t port);
// What vga_read(port) returns now, for the ports whose reads change nothing and whose value
// changes only when the guest writes the VGA: the CRT controller's index and data registers,
// and ports the VGA does not decode (0xff). False for the rest.
bool vga_peek(const struct vga *v, uint16_t port, uint8_t *val);
void vga_write(struct vga *v, uint16_t port, uint8_t val);

// For --screen: the CRTC's start address and cursor location (character cells from the
// start of the text buffer), whether the cursor is shown, and the cells per row.
unsigned vga_start_address(const struct vga *v);
unsigned vga_cursor_location(const struct vga *v);
bool vga_cursor_enabled(const struct vga *v);
unsigned vga_row_cells(const struct vga *v);

#endif
