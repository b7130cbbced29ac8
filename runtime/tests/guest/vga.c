// Reference probe of the VGA in text mode 3, run under qemu-system-i386 with its std VGA
// (after SeaBIOS and the VGA BIOS set the mode) and under ring1-run (--vga std, the default): every
// register of the CRT controller, sequencer, graphics and attribute controllers, misc output,
// input status, feature control and a few DAC entries, then what writes do (cursor, start
// address, write protection, index masks, the mono alias, the attribute flip-flop, the DAC's
// auto-increment), and its PCI function 00:02.0, as text on COM1. Without a VGA (QEMU's
// -vga none, ring1-run --vga none) every port reads 0xff and 00:02.0 is absent.
//
// Input status 1 (0x3da) has retrace bits that change over time: its value is never printed,
// only whether bits 0 and 3 change over a run of reads ("is1.changes"), and with bits 0 and 3
// masked ("is1.rest").
#include "glib.h"

static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }
static void kvi(const char *k, uint32_t i, uint32_t v)
{
    puts(k); puts("["); puthex(i); puts("]="); puthex(v); puts("\n");
}
// Physical addresses as pointers, laundered so that gcc does not judge them out of bounds.
static volatile void *at(uint32_t a) { volatile void *p; __asm__("" : "=r"(p) : "0"(a)); return p; }
static void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }

static uint8_t crtc(uint16_t base, uint8_t i) { outb(base, i); return inb((uint16_t)(base + 1)); }
static void crtc_w(uint16_t base, uint8_t i, uint8_t v) { outb(base, i); outb((uint16_t)(base + 1), v); }
static uint8_t seq(uint8_t i) { outb(0x3c4, i); return inb(0x3c5); }
static uint8_t gr(uint8_t i) { outb(0x3ce, i); return inb(0x3cf); }
static uint8_t is1_rest(void) { return inb(0x3da) & (uint8_t)~0x09; }
// The attribute controller: index then data on 0x3c0 after a read of 0x3da resets the
// flip-flop; bit 5 of the index (PAS) keeps the palette to the display.
static uint8_t attr(uint8_t i)
{
    (void)inb(0x3da);
    outb(0x3c0, (uint8_t)(i | 0x20));
    return inb(0x3c1);
}

static uint32_t pci_read(uint32_t reg)
{
    __asm__ volatile("outl %0, %1" :: "a"(0x80000000u | 2u << 11 | reg), "Nd"((uint16_t)0xcf8));
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
    return v;
}
static void pci_write(uint32_t reg, uint32_t v)
{
    __asm__ volatile("outl %0, %1" :: "a"(0x80000000u | 2u << 11 | reg), "Nd"((uint16_t)0xcf8));
    __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"((uint16_t)0xcfc));
}

static void dump(const char *tag)
{
    puts("-- "); puts(tag); puts("\n");
    uint8_t misc = inb(0x3cc);
    kv("misc", misc);
    uint16_t base = (misc & 1) ? 0x3d4 : 0x3b4;
    for (uint8_t i = 0; i <= 0x18; i++)
        kvi("crtc", i, crtc(base, i));
    for (uint8_t i = 0; i <= 4; i++)
        kvi("seq", i, seq(i));
    for (uint8_t i = 0; i <= 8; i++)
        kvi("gr", i, gr(i));
    for (uint8_t i = 0; i <= 0x14; i++)
        kvi("attr", i, attr(i));
    kv("attr.index", inb(0x3c0));
    kv("feature", inb(0x3ca));
    kv("is0", inb(0x3c2));
    kv("pelmask", inb(0x3c6));
    kv("dacstate", inb(0x3c7));
    kv("dacwrite", inb(0x3c8));
}

static void dac(uint8_t first, uint8_t n)
{
    outb(0x3c7, first);
    for (uint8_t e = 0; e < n; e++) {
        uint32_t rgb = inb(0x3c9);
        rgb = rgb << 8 | inb(0x3c9);
        rgb = rgb << 8 | inb(0x3c9);
        kvi("dac", (uint8_t)(first + e), rgb);
    }
}

// The command line's last word picks the cursor left for --screen: "off" (CR0A bit 5),
// "hidden" (first scan line past the last), "away" (below the screen), else row 2 col 5.
static char cursor_mode(uint32_t info)
{
    const char *cmd = (const char *)((uint32_t *)info)[4], *w = cmd;
    for (; *cmd; cmd++)
        if (*cmd == ' ')
            w = cmd + 1;
    return w[0] == 'o' || w[0] == 'h' || w[0] == 'a' ? w[0] : 0;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    char mode = cursor_mode(info);
    // The index registers and the attribute flip-flop as the BIOS left them (0x3c0 reads
    // the index only while the flip-flop is at the index).
    kv("start.attr.index", inb(0x3c0));
    kv("start.seq.index", inb(0x3c4));
    kv("start.gr.index", inb(0x3ce));
    kv("start.crtc.index", inb(0x3d4));
    kv("start.dacstate", inb(0x3c7));
    kv("start.dacwrite", inb(0x3c8));
    // Which way the flip-flop points: a write without resetting it first is an index or data.
    outb(0x3c0, 0x31);
    kv("start.attr.after-write", inb(0x3c0));
    kv("start.attr[00]", attr(0));
    kv("start.attr[11]", attr(0x11));
    (void)inb(0x3da);
    outb(0x3c0, 0x20);
    outb(0x3c0, 0x00);
    outb(0x3c0, 0x31);
    outb(0x3c0, 0x00);
    dump("after the BIOS");
    // The text window as the BIOS left it: its first rows, and how many cells are not a blank
    // (space, attribute 0x07) past them.
    volatile uint8_t *tb = (volatile uint8_t *)at(0xb8000);
    for (unsigned r = 0; r < 3; r++) {
        puts("text|");
        for (unsigned c = 0; c < 80; c++) {
            uint8_t ch = tb[(r * 80 + c) * 2];
            putc(ch >= 0x20 && ch < 0x7f ? (char)ch : '.');
        }
        puts("|\n");
    }
    uint32_t attrs = 0, chars = 0;
    for (unsigned i = 0; i < 0x4000; i++) {
        attrs += tb[2 * i + 1] != 0x07;
        chars += i >= 3 * 80 && tb[2 * i] != ' ';
    }
    kv("text.attr-not-07", attrs);
    kv("text.nonblank-past-row-2", chars);
    for (unsigned e = 0; e < 256; e += 16) {
        outb(0x3c7, (uint8_t)e);
        puts("dac "); puthex(e); puts(":");
        for (unsigned i = 0; i < 48; i++) {
            uint8_t b = inb(0x3c9);
            putc(' '); putc("0123456789abcdef"[b >> 4]); putc("0123456789abcdef"[b & 15]);
        }
        puts("\n");
    }
    kv("dacstate.after-read", inb(0x3c7));
    kv("dacread.wraps", inb(0x3c9));

    // Input status 1: bits 0 (display disabled) and 3 (vertical retrace) change between reads.
    uint8_t first = inb(0x3da), changed = 0, rest = first & (uint8_t)~0x09;
    for (int i = 0; i < 1000; i++) {
        uint8_t v = inb(0x3da);
        changed |= (uint8_t)(v ^ first) & 0x09;
        if ((v & (uint8_t)~0x09) != rest)
            rest = 0xee;
    }
    kv("is1.changes", changed);
    kv("is1.rest", rest);

    // Every port of the VGA range once, but those whose reads have side effects (0x3c1
    // attribute data, 0x3c9 DAC data, 0x3ba/0x3da input status 1).
    for (uint16_t p = 0x3b0; p < 0x3e0; p++) {
        if (p == 0x3c1 || p == 0x3c9 || p == 0x3ba || p == 0x3da)
            continue;
        kvi("port", p, inb(p));
    }

    // Index registers: how many bits they keep.
    outb(0x3d4, 0xff); kv("crtc.index.ff", inb(0x3d4));
    kv("crtc[ff]", inb(0x3d5));
    outb(0x3d4, 0x3f); kv("crtc.index.3f", inb(0x3d4));
    kv("crtc[3f]", inb(0x3d5));
    outb(0x3c4, 0xff); kv("seq.index.ff", inb(0x3c4));
    kv("seq[ff]", inb(0x3c5));
    outb(0x3ce, 0xff); kv("gr.index.ff", inb(0x3ce));
    kv("gr[ff]", inb(0x3cf));
    (void)inb(0x3da);
    outb(0x3c0, 0xff); kv("attr.index.ff", inb(0x3c0));
    kv("attr[ff]", inb(0x3c1));
    (void)inb(0x3da);
    outb(0x3c0, 0x20);

    // Cursor location, start address, cursor shape: written, read back.
    crtc_w(0x3d4, 0x0e, 0x01);
    crtc_w(0x3d4, 0x0f, 0x23);
    crtc_w(0x3d4, 0x0c, 0x00);
    crtc_w(0x3d4, 0x0d, 0x50);
    crtc_w(0x3d4, 0x0a, 0x0d);
    crtc_w(0x3d4, 0x0b, 0x0e);
    for (uint8_t i = 0x0a; i <= 0x0f; i++)
        kvi("crtc.written", i, crtc(0x3d4, i));
    // A word write: index in the low byte, data in the high byte.
    outw(0x3d4, 0x450e);
    outw(0x3d4, 0x670f);
    kvi("crtc.outw", 0x0e, crtc(0x3d4, 0x0e));
    kvi("crtc.outw", 0x0f, crtc(0x3d4, 0x0f));
    kv("crtc.index.after-outw", inb(0x3d4));
    // Every register written with 0xff then 0x00 (0-7 write-protected by CR11 bit 7).
    uint8_t saved[0x19];
    for (uint8_t i = 0; i <= 0x18; i++)
        saved[i] = crtc(0x3d4, i);
    for (uint8_t i = 0; i <= 0x18; i++) {
        if (i == 0x11)
            continue;
        crtc_w(0x3d4, i, 0xff);
        kvi("crtc.ff", i, crtc(0x3d4, i));
        crtc_w(0x3d4, i, 0x00);
        kvi("crtc.00", i, crtc(0x3d4, i));
        crtc_w(0x3d4, i, saved[i]);
    }
    crtc_w(0x3d4, 0x11, saved[0x11] & 0x7f);   // unprotect
    for (uint8_t i = 0; i <= 7; i++) {
        crtc_w(0x3d4, i, 0xff);
        kvi("crtc.unprotected.ff", i, crtc(0x3d4, i));
        crtc_w(0x3d4, i, saved[i]);
    }
    crtc_w(0x3d4, 0x11, 0xff);
    kvi("crtc.ff", 0x11, crtc(0x3d4, 0x11));
    crtc_w(0x3d4, 0x11, saved[0x11]);
    for (uint8_t i = 0; i <= 0x18; i++)
        if (crtc(0x3d4, i) != saved[i])
            kvi("crtc.not-restored", i, crtc(0x3d4, i));

    // The sequencer, graphics and attribute registers written with 0xff, read back, restored.
    for (uint8_t i = 0; i <= 4; i++) {
        uint8_t s = seq(i);
        outb(0x3c5, 0xff);
        kvi("seq.ff", i, seq(i));
        outb(0x3c5, s);
    }
    for (uint8_t i = 0; i <= 8; i++) {
        uint8_t s = gr(i);
        outb(0x3cf, 0xff);
        kvi("gr.ff", i, gr(i));
        outb(0x3cf, s);
    }
    for (uint8_t i = 0; i <= 0x14; i++) {
        uint8_t s = attr(i);
        outb(0x3c0, 0xff);                       // the flip-flop is at data now
        kvi("attr.ff", i, attr(i));
        outb(0x3c0, s);
        kv("attr.index.after-write", inb(0x3c0));
    }
    (void)inb(0x3da);
    outb(0x3c0, 0x20);
    kv("attr.flipflop.index", inb(0x3c0));
    outb(0x3c0, 0x20);                           // a data write: to register 0
    kv("attr.flipflop.data", attr(0));
    (void)inb(0x3da);
    outb(0x3c0, 0x00);                           // PAS off
    kv("attr.pas-off.index", inb(0x3c0));
    (void)inb(0x3da);
    outb(0x3c0, 0x20);

    // The DAC: write index, auto-increment, 6-bit values, read index/state.
    outb(0x3c8, 0x10);
    outb(0x3c9, 0xff); outb(0x3c9, 0x41); outb(0x3c9, 0x2a);
    outb(0x3c9, 0x01);
    kv("dacwrite.after", inb(0x3c8));
    kv("dacstate.after-write", inb(0x3c7));
    dac(0x10, 1);
    kv("dacwrite.after-read", inb(0x3c8));
    outb(0x3c7, 0x10);
    (void)inb(0x3c9);
    kv("dacstate.mid-read", inb(0x3c7));
    kv("dac.mid", inb(0x3c9));
    outb(0x3c6, 0x0f);
    kv("pelmask.written", inb(0x3c6));
    outb(0x3c6, 0xff);

    // Feature control: written at 0x3da (colour), read at 0x3ca.
    outb(0x3da, 0x03);
    kv("feature.written", inb(0x3ca));
    outb(0x3da, 0x00);

    // Misc output: bit 0 clear moves the CRTC and input status 1 to 0x3b4/0x3b5/0x3ba.
    uint8_t misc = inb(0x3cc);
    outb(0x3c2, misc & (uint8_t)~1);
    kv("mono.misc", inb(0x3cc));
    kv("mono.3d4", inb(0x3d4));
    kv("mono.3d5", inb(0x3d5));
    kv("mono.3da", inb(0x3da));
    kv("mono.crtc[0e]", crtc(0x3b4, 0x0e));
    kv("mono.crtc[0f]", crtc(0x3b4, 0x0f));
    kv("mono.3b4", inb(0x3b4));
    kv("mono.is1.rest", inb(0x3ba) & (uint8_t)~0x09);
    crtc_w(0x3d4, 0x0e, 0x07);                   // ignored: not decoded now
    outb(0x3c2, misc);
    kv("colour.3b5", inb(0x3b5));
    kv("colour.crtc[0e]", crtc(0x3d4, 0x0e));
    kv("colour.is1.rest", is1_rest());

    dump("after the writes");

    // The VGA's PCI function 00:02.0: its header, then what writes keep (command, cache line
    // size, latency timer, the BARs' sizes, interrupt line, device-specific space), restored.
    for (uint32_t r = 0; r < 0x40; r += 4)
        kvi("pci2", r, pci_read(r));
    static const uint8_t regs[] = {0x04, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30, 0x3c,
                                   0x40, 0xfc};
    for (unsigned i = 0; i < sizeof regs; i++) {
        uint32_t old = pci_read(regs[i]);
        pci_write(regs[i], 0xffffffffu);
        kvi("pci2.ff", regs[i], pci_read(regs[i]));
        pci_write(regs[i], old);
    }
    kv("pci2.vendor.restored", pci_read(0) ^ pci_read(0x10) ^ pci_read(0x18) ^ pci_read(0x30));

    // For --screen: the 32 KiB text window cleared, "line N" at the start of every 80-cell
    // row, the screen started at row 1 with the cursor on its row 2, column 5.
    volatile uint16_t *text = (volatile uint16_t *)0xb8000;
    for (unsigned i = 0; i < 0x4000; i++)
        text[i] = 0x0720;
    for (unsigned r = 0; r * 80 < 0x4000; r++) {
        static const char line[] = "line ";
        for (unsigned i = 0; i < 5; i++)
            text[r * 80 + i] = (uint16_t)(0x0700 | line[i]);
        unsigned n = r, d = 100, at = r * 80 + 5;
        for (; d > n && d > 1; d /= 10)
            ;
        for (; d; d /= 10)
            text[at++] = (uint16_t)(0x0700 | ('0' + n / d % 10));
    }
    crtc_w(0x3d4, 0x0c, 0x00);
    crtc_w(0x3d4, 0x0d, 80);
    crtc_w(0x3d4, 0x0e, 0x00);
    crtc_w(0x3d4, 0x0f, 80 + 2 * 80 + 5);
    kv("screen.cursor", inb(0x3d5));
    if (mode == 'o')
        crtc_w(0x3d4, 0x0a, 0x2d);
    if (mode == 'h')
        crtc_w(0x3d4, 0x0a, 0x0f);
    if (mode == 'a') {                           // cell 80 + 25 * 80: the row under the screen
        crtc_w(0x3d4, 0x0e, 0x08);
        crtc_w(0x3d4, 0x0f, 0x20);
    }
    gexit(0);
}
