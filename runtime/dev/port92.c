// Port 0x92 as QEMU's port92 models it: the value reads back, bit 1 drives A20, a rising
// bit 0 requests a reset.
#include "port92.h"

void port92_init(struct port92 *p)
{
    p->val = PORT92_A20;
}

uint8_t port92_read(const struct port92 *p)
{
    return p->val;
}

void port92_write(struct port92 *p, uint8_t val)
{
    uint8_t old = p->val;
    p->val = val;
    if (((old ^ val) & PORT92_A20) && p->a20)
        p->a20(p->opaque, val & PORT92_A20);
    if ((val & PORT92_RESET) && !(old & PORT92_RESET) && p->reset)
        p->reset(p->opaque);
}
