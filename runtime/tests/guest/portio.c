// Port reads a patched image's trampolines may answer from the vCPU page's port cache (abi.h,
// R1_VCPU_PORTC), each read again and again between the guest's changes to the register, and
// reads next to them that must reach the device: compared with QEMU (tests/test_runtime_boot.py).
#include "glib.h"

#define COM1 0x3f8

static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

// n reads of port, folded so that any one read that differs changes the result.
static uint32_t reads(uint16_t port, unsigned n)
{
    uint32_t h = 0;
    for (unsigned i = 0; i < n; i++)
        h = h * 31 + inb(port);
    return h;
}

static void show(const char *what, uint32_t v)
{
    puts(what);
    puts(" ");
    puthex(v);
    puts("\n");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    // The PIT stopped first (mode 0, no count written: its output stays low), so that no
    // timer edge reaches the IRR and the poll below however long the reads take.
    outb(0x43, 0x30);
    // The 8259A's mask registers (imm8 ports), changed between runs of reads.
    pic_init(0xfb, 0xff);
    for (unsigned i = 0; i < 6; i++) {
        uint8_t m = (uint8_t)(0x25 * i + 3);
        outb(0x21, m);
        outb(0xa1, (uint8_t)~m);
        show("imr", reads(0x21, 100) ^ reads(0xa1, 100) << 1);
        show("imr now", (uint32_t)inb(0x21) << 8 | inb(0xa1));
    }
    outb(0x20, 0x0a);                             // OCW3: read the IRR at 0x20
    show("irr", inb(0x20));
    outb(0x20, 0x0c);                             // OCW3: poll -- the next read acknowledges
    show("poll", inb(0x21));
    show("imr after poll", inb(0x21));

    // COM1 (DX ports): scratch, line and modem control, interrupt enable, divisor latch.
    // (Nothing is printed while DLAB or loopback is on: the output goes through COM1.)
    volatile uint16_t scr = COM1 + 7, lcr = COM1 + 3, mcr = COM1 + 4, ier = COM1 + 1;
    for (unsigned i = 0; i < 4; i++) {
        outb(scr, (uint8_t)(0x5a + 0x33 * i));
        show("scr", reads(scr, 64));
    }
    outb(lcr, 0x83);                               // DLAB: RBR/IER read the divisor
    uint32_t dl = reads(COM1, 16) ^ reads(ier, 16) << 3;
    outb(lcr, 0x03);
    show("dll/dlm", dl);
    show("ier", reads(ier, 16));
    show("lcr", reads(lcr, 16));
    // Loopback: what is sent comes back, and the modem outputs are the inputs (MSR), with
    // delta bits that a read clears; LSR.OE after an overrun, cleared by a read.
    uint32_t r[10];
    outb(mcr, 0x10);
    r[0] = reads(COM1 + 6, 4);
    outb(mcr, 0x1f);
    r[1] = reads(COM1 + 6, 4);
    r[2] = reads(COM1 + 5, 8);
    outb(COM1, 'x');
    r[3] = reads(COM1 + 5, 8);
    r[4] = inb(COM1);
    r[5] = reads(COM1 + 5, 8);
    outb(COM1, 'y');
    outb(COM1, 'z');                               // no FIFO: an overrun
    r[6] = reads(COM1 + 5, 3);
    (void)inb(COM1);                               // (which byte stays differs: QEMU's newest)
    r[7] = 0;
    r[8] = reads(COM1 + 5, 3);
    outb(mcr, 0x0b);
    r[9] = reads(COM1 + 6, 2);
    static const char *const what[10] = {"msr", "msr", "lsr", "lsr with data", "rbr", "lsr",
                                         "lsr overrun", "rbr", "lsr", "msr"};
    for (unsigned i = 0; i < 10; i++)
        show(what[i], r[i]);

    // The POST port (writes go nowhere, reads all ones) and PCI's CONFIG_ADDRESS read back.
    for (unsigned i = 0; i < 100; i++)
        outb(0x80, (uint8_t)i);
    show("post", reads(0x80, 8));
    for (unsigned i = 0; i < 3; i++) {
        outl(0xcf8, 0x80000000u | i << 11);
        uint32_t a = 0;
        for (unsigned k = 0; k < 8; k++)
            a = a * 3 + inl(0xcf8);
        show("cf8", a);
        show("cfc", inl(0xcfc));
    }
    puts("done\n");
    return 0;
}
