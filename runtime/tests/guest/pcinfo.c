// Reference probe, run under qemu-system-i386: prints what a kernel finds of the PC beyond
// the CPU -- the BIOS data area, the MP floating pointer and configuration table (every byte),
// the local APIC's and IOAPIC's registers after reset, the keyboard controller, port 0x92, the
// PCI bus 0 headers, the CMOS -- so that the runtime's platform can match QEMU's (runtime/
// firmware.c, dev/lapic.c, dev/ioapic.c, dev/i8042.c, dev/pci.c).
#include "glib.h"

static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }
// Physical addresses as pointers, laundered so that gcc does not judge low ones null.
static volatile void *at(uint32_t a) { volatile void *p; __asm__("" : "=r"(p) : "0"(a)); return p; }
static uint32_t rd32(uint32_t a) { return *(volatile uint32_t *)at(a); }
static void wr32(uint32_t a, uint32_t v) { *(volatile uint32_t *)at(a) = v; }
static uint8_t rd8(uint32_t a) { return *(volatile uint8_t *)at(a); }

static void hexdump(const char *what, uint32_t a, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 16) {
        puts(what); puts(" "); puthex(a + i); puts(":");
        for (uint32_t j = i; j < i + 16 && j < len; j++) {
            static const char h[] = "0123456789abcdef";
            uint8_t b = rd8(a + j);
            putc(' '); putc(h[b >> 4]); putc(h[b & 15]);
        }
        puts("\n");
    }
}

static uint32_t find_mp(uint32_t a, uint32_t len)
{
    for (uint32_t p = a; p < a + len; p += 16)
        if (rd32(p) == 0x5f504d5f) {   // "_MP_"
            uint8_t s = 0;
            for (int i = 0; i < 16; i++)
                s += rd8(p + i);
            if (!s)
                return p;
        }
    return 0;
}

static uint32_t pci_read(uint32_t bdf, uint32_t reg)
{
    __asm__ volatile("outl %0, %1" :: "a"(0x80000000u | bdf << 8 | reg), "Nd"((uint16_t)0xcf8));
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
    return v;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic; (void)info;
    hexdump("bda", 0x400, 0x100);
    uint32_t ebda = (uint32_t)(rd8(0x40f) << 8 | rd8(0x40e)) << 4;
    uint32_t base = (uint32_t)(rd8(0x414) << 8 | rd8(0x413)) * 1024;
    kv("ebda", ebda);
    if (ebda)
        hexdump("ebda", ebda, 0x80);
    kv("basemem", base);
    uint32_t mp = 0;
    if (ebda)
        mp = find_mp(ebda, 1024);
    if (!mp)
        mp = find_mp(base - 1024, 1024);
    if (!mp)
        mp = find_mp(0xf0000, 0x10000);
    kv("mp", mp);
    if (mp) {
        hexdump("mpfp", mp, 16);
        uint32_t conf = rd32(mp + 4);
        kv("mpconf", conf);
        if (conf)
            hexdump("mpconf", conf, *(volatile uint16_t *)at(conf + 4));
    }
    hexdump("ivt", 0, 0x400);
    // Local APIC at its default base: reset values of the readable registers.
    static const uint16_t lregs[] = {0x20, 0x30, 0x80, 0x90, 0xa0, 0xd0, 0xe0, 0xf0, 0x100,
                                     0x180, 0x200, 0x280, 0x2f0, 0x300, 0x310, 0x320, 0x330,
                                     0x340, 0x350, 0x360, 0x370, 0x380, 0x390, 0x3e0};
    for (unsigned i = 0; i < sizeof lregs / sizeof lregs[0]; i++) {
        puts("lapic["); puthex(lregs[i]); puts("]="); puthex(rd32(0xfee00000 + lregs[i]));
        puts("\n");
    }
    // IOAPIC: ID, version, arbitration, the first redirection entries.
    for (uint32_t r = 0; r < 0x14; r++) {
        wr32(0xfec00000, r);
        puts("ioapic["); puthex(r); puts("]="); puthex(rd32(0xfec00010)); puts("\n");
    }
    kv("ioapic.regsel", rd32(0xfec00000));
    kv("kbc.status", inb(0x64));
    outb(0x64, 0x20);
    kv("kbc.mode", inb(0x60));
    kv("kbc.status2", inb(0x64));
    outb(0x64, 0xd0);
    kv("kbc.outport", inb(0x60));
    kv("port92", inb(0x92));
    for (uint32_t d = 0; d < 32; d++)
        for (uint32_t f = 0; f < 8; f++) {
            uint32_t id = pci_read(d << 3 | f, 0);
            if (id == 0xffffffffu)
                continue;
            puts("pci "); putdec(d); puts("."); putdec(f); puts(":");
            for (uint32_t r = 0; r < 0x40; r += 4) {
                puts(" "); puthex(pci_read(d << 3 | f, r));
            }
            puts("\n");
        }
    for (uint32_t i = 0x0e; i < 0x80; i++) {
        if (i == 0x32)
            continue;   // century: a time
        outb(0x70, (uint8_t)i);
        puts("cmos["); puthex(i); puts("]="); puthex(inb(0x71)); puts("\n");
    }
    gexit(0);
}
