// The 8259A PIC pair (Intel 8259A datasheet): not used. This kernel takes interrupts from the
// APICs only, so both chips get every input masked (OCW1) and are otherwise left as found.
#include "defs.h"

void picdisable(void)
{
    outb(PIC1_DATA, PIC_MASK_ALL);
    outb(PIC2_DATA, PIC_MASK_ALL);
}
