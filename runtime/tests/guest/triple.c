// Ends in a triple fault: an empty IDT (limit 0), then #UD. The runtime must stop with
// STATUS_TRIPLE_FAULT and a diagnosis, as QEMU -no-reboot stops.
#include "glib.h"

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    static const struct __attribute__((packed)) { uint16_t limit; uint32_t base; } empty = {0, 0};
    puts("triple fault next\n");
    __asm__ volatile("lidt %0; ud2" ::"m"(empty));
    puts("not reached\n");
    return 1;
}
