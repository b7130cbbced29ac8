// Tiny freestanding library for the runtime's test guests.
#include "glib.h"

#define COM1 0x3f8
#define LSR_THRE 0x20

void putc(char c)
{
    while (!(inb(COM1 + 5) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

void puthex(uint32_t v)
{
    puts("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc("0123456789abcdef"[(v >> i) & 15]);
}

void putdec(uint32_t v)
{
    char buf[12];
    int n = 0;
    do buf[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n)
        putc(buf[--n]);
}

// QEMU isa-debug-exit at 0xf4: the process exits with (code << 1) | 1.
void gexit(uint32_t code)
{
    __asm__ volatile("outl %0, $0xf4" :: "a"(code));
    for (;;)
        __asm__ volatile("cli; hlt");
}
