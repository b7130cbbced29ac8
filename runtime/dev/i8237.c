// 8237A DMA controller register file. Where the datasheet leaves a read undefined this follows
// QEMU's i8257 (our reference machine): the write-only registers read 0, but the request
// register's port, which reads the mask register.
#include "i8237.h"

#include <string.h>

static void master_clear(struct i8237 *d)
{
    d->flip_flop = false;
    d->mask = 0xff;
    d->status = 0;
    d->command = 0;
}

void i8237_init(struct i8237 *d, unsigned shift)
{
    memset(d, 0, sizeof *d);
    d->shift = shift;
    master_clear(d);
    if (shift) {
        d->ch[0].mode = 0xc0;   // cascade
        d->mask = 0xfe;
    }
}

// The byte pointer flip-flop: which byte this access is, then toggled.
static bool next_byte(struct i8237 *d)
{
    bool high = d->flip_flop;
    d->flip_flop = !high;
    return high;
}

uint8_t i8237_read(struct i8237 *d, unsigned reg)
{
    reg &= 15;
    if (reg < 8) {
        struct i8237_channel *c = &d->ch[reg >> 1];
        uint16_t v = (reg & 1) ? c->base[1] : c->addr;
        return (uint8_t)(v >> (next_byte(d) ? 8 : 0));
    }
    switch (reg) {
    case DMA_STATUS: {
        uint8_t v = d->status;
        d->status &= 0xf0;
        return v;
    }
    case DMA_REQUEST:
        return d->mask;
    default:
        return 0;
    }
}

void i8237_write(struct i8237 *d, unsigned reg, uint8_t val)
{
    reg &= 15;
    if (reg < 8) {
        struct i8237_channel *c = &d->ch[reg >> 1];
        uint16_t *r = &c->base[reg & 1];
        if (next_byte(d)) {
            *r = (uint16_t)((*r & 0xff) | val << 8);
            c->addr = c->base[0];   // the channel starts over from its base
        } else {
            *r = (uint16_t)((*r & 0xff00) | val);
        }
        return;
    }
    unsigned ch = val & 3;
    switch (reg) {
    case DMA_COMMAND:
        d->command = val;
        break;
    case DMA_REQUEST:
        if (val & 4)
            d->status |= (uint8_t)(0x10 << ch);
        else
            d->status &= (uint8_t)~(0x10 << ch);
        d->status &= (uint8_t)~(1 << ch);
        break;
    case DMA_SINGLE_MASK:
        if (val & 4)
            d->mask |= (uint8_t)(1 << ch);
        else
            d->mask &= (uint8_t)~(1 << ch);
        break;
    case DMA_MODE:
        d->ch[ch].mode = val;
        break;
    case DMA_CLEAR_FF:
        d->flip_flop = false;
        break;
    case DMA_MASTER_CLEAR:
        master_clear(d);
        break;
    case DMA_CLEAR_MASK:
        d->mask = 0;
        break;
    case DMA_WRITE_MASK:
        d->mask = val;
        break;
    }
}

int i8237_page_channel(unsigned offset)
{
    static const int channel[8] = {-1, 2, 3, 1, -1, -1, -1, 0};
    return channel[offset & 7];
}

uint8_t i8237_page_read(const struct i8237 *d, unsigned offset)
{
    int ch = i8237_page_channel(offset);
    return ch < 0 ? 0 : d->ch[ch].page;
}

void i8237_page_write(struct i8237 *d, unsigned offset, uint8_t val)
{
    int ch = i8237_page_channel(offset);
    if (ch >= 0)
        d->ch[ch].page = val;
}
