// The A20 gate: with A20 off, physical address bit 20 reads as 0 (an access to 0x101000 is
// one to 0x1000), through port 0x92 and through the keyboard controller's output port
// (commands D1h/DDh/DFh). The probe runs from 0x7000: this guest's own code and stack lie
// in the 1 MiB that A20 off hides.
#include "glib.h"

static volatile uint32_t *at(uint32_t a) { volatile uint32_t *p; __asm__("" : "=r"(p) : "0"(a)); return p; }
static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }

// ecx -> [0x101000] with A20 off (port 0x92 = 0), eax <- [0x1000], A20 back on; no stack
// use while it is off.
static const uint8_t probe92[] = {
    0xb0, 0x00, 0xe6, 0x92,                         // mov $0, %al; out %al, $0x92
    0x89, 0x0d, 0x00, 0x10, 0x10, 0x00,             // mov %ecx, 0x101000
    0xa1, 0x00, 0x10, 0x00, 0x00,                   // mov 0x1000, %eax
    0x89, 0xc2, 0xb0, 0x02, 0xe6, 0x92, 0x89, 0xd0, // mov %eax,%edx; A20 on; mov %edx,%eax
    0xc3,
};
// The same through the keyboard controller: D1h then DDh (output port, A20 bit clear).
static const uint8_t probekbc[] = {
    0xb0, 0xd1, 0xe6, 0x64, 0xb0, 0xdd, 0xe6, 0x60, // write output port: A20 off
    0x89, 0x0d, 0x00, 0x10, 0x10, 0x00,
    0xa1, 0x00, 0x10, 0x00, 0x00,
    0x89, 0xc2,
    0xb0, 0xd1, 0xe6, 0x64, 0xb0, 0xdf, 0xe6, 0x60, // A20 on
    0x89, 0xd0, 0xc3,
};

static uint32_t run(const uint8_t *code, unsigned n, uint32_t val)
{
    uint8_t *dst = (uint8_t *)at(0x7000);
    for (unsigned i = 0; i < n; i++)
        dst[i] = code[i];
    uint32_t r;
    __asm__ volatile("call *%1" : "=a"(r) : "r"(0x7000), "c"(val) : "edx", "memory");
    return r;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    kv("port 0x92", inb(0x92));
    *at(0x1000) = 0x11111111;
    *at(0x101000) = 0x22222222;
    kv("a20 off (0x92): [0x1000] after writing [0x101000]", run(probe92, sizeof probe92, 0xaabbccdd));
    kv("a20 on: [0x1000]", *at(0x1000));
    kv("a20 on: [0x101000]", *at(0x101000));
    kv("a20 off (kbc): [0x1000] after writing [0x101000]", run(probekbc, sizeof probekbc, 0x5a5a5a5a));
    kv("a20 on: [0x1000]", *at(0x1000));
    kv("port 0x92 after", inb(0x92));
    outb(0x64, 0xd0);
    kv("kbc output port after", inb(0x60));
    return 0;
}
