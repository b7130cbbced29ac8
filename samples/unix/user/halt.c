// halt: stop the machine (under QEMU, through the isa-debug-exit port: a clean end of run).
#include "user.h"

int main(void)
{
    halt();
    return 1;   // not reached
}
