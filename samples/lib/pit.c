// 8254 PIT channel 0, the source of IRQ0 (Intel 8254 datasheet: modes 0 and 2).
#include "lib.h"

static void pit_load(uint8_t mode, uint16_t count)
{
    outb(PIT_MODE, PIT_SEL_CH0 | PIT_RW_LOHI | mode);
    outb(PIT_CH0, count & 0xff);
    outb(PIT_CH0, count >> 8);
}

// Mode 2: one IRQ0 edge every PIT_HZ/hz input clocks, until reprogrammed.
void pit_periodic(uint32_t hz)
{
    pit_load(PIT_MODE2, (uint16_t)(PIT_HZ / hz));
}

// Mode 0: exactly one IRQ0 edge, `count` input clocks from now (the output then stays high).
void pit_oneshot(uint16_t count)
{
    pit_load(PIT_MODE0, count);
}
