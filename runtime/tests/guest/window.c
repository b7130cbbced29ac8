// Touches the top 4 MiB, where a patched image has its hypervisor window by default. Unpatched
// that is just nothing (the write vanishes); patched, the runtime must stop with a diagnosis.
#include "glib.h"

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    *(volatile uint32_t *)0xffe00000 = 1;
    puts("wrote to 0xffe00000\n");
    return 0;
}
