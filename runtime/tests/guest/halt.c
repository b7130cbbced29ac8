// cli; hlt: a CPU that can never wake up. The runtime must stop with STATUS_HALTED, not hang.
#include "glib.h"

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    puts("halting with interrupts off\n");
    __asm__ volatile("cli; hlt");
    return 1;
}
