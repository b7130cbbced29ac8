// The runtime's first test vehicle: COM1 output, cli/sti/hlt, exit through port 0xf4.
#include "glib.h"

int gmain(uint32_t magic, uint32_t info)
{
    (void)info;
    puts("hello\n");
    if (magic != 0x2badb002)
        puts("bad multiboot magic\n");
    __asm__ volatile("cli");
    __asm__ volatile("sti");
    __asm__ volatile("cli");
    puts("bye\n");
    return 0;
}
