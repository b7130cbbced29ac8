// Stopping the machine: QEMU's isa-debug-exit port, or (on a machine without one) a halt
// with interrupts off.
#include "defs.h"

void halt(int code)
{
    cli();
    outb(DEBUG_EXIT_PORT, (uint8_t)code);   // QEMU exits with status (code << 1) | 1
    for (;;)
        hlt();
}
