// Port 0x61, as QEMU's pcspk models it (hw/audio/pcspk.c): gate and speaker bits read back,
// the refresh bit toggles on each read, OUT2 comes from the PIT.
#include "portb.h"

uint8_t portb_read(struct portb *p)
{
    p->refresh ^= PORTB_REFRESH;
    uint8_t gate = p->pit->ch[2].gate ? PORTB_GATE2 : 0;
    uint8_t out2 = i8254_out2(p->pit) ? PORTB_OUT2 : 0;
    return (uint8_t)(gate | (p->spkr_data ? PORTB_SPKR_DATA : 0) | p->refresh | out2);
}

void portb_write(struct portb *p, uint8_t val)
{
    p->spkr_data = (val & PORTB_SPKR_DATA) != 0;
    i8254_set_gate2(p->pit, val & PORTB_GATE2);
}
