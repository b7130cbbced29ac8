// End the run through QEMU's isa-debug-exit device: QEMU exits with status (code << 1) | 1.
#include "lib.h"

void qemu_exit(uint8_t code)
{
    outb(DEBUG_EXIT_PORT, code);
    for (;;) {  // not under QEMU (or no debug-exit device): stop here
        cli();
        hlt();
    }
}
