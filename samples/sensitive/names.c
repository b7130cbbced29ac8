// Printing helpers: addresses by symbol name, and the virtual EFLAGS bits.
#include "sensitive.h"

extern uint8_t pgdir[], page_a[], page_b[];

// Name a known address; anything else prints as hex (and would stand out in a golden diff).
const char *addr_name(uint32_t a)
{
    static const struct { const void *addr; const char *name; } known[] = {
        { gdt, "gdt" }, { xgdt, "xgdt" }, { idt, "idt" }, { window, "window" },
        { ldt_data, "ldt_data" }, { pgdir, "pgdir" }, { page_a, "page_a" }, { page_b, "page_b" },
    };
    static char buf[11];
    for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if ((uint32_t)known[i].addr == a)
            return known[i].name;
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++)
        buf[2 + i] = "0123456789abcdef"[(a >> (28 - 4 * i)) & 0xf];
    buf[10] = '\0';
    return buf;
}

void print_vflags(uint32_t fl)
{
    printf("IF=%u IOPL=%u NT=%u AC=%u", !!(fl & FL_IF), (fl & FL_IOPL_MASK) >> FL_IOPL_SHIFT,
           !!(fl & FL_NT), !!(fl & FL_AC));
}
