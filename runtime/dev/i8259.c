// 8259A programmable interrupt controller pair. Intel 8259A datasheet (order no. 231468):
// initialization command words (ICW1-4), operation command words (OCW1-3), priority
// resolution with rotation, cascade through IR2 of the master. Register behaviour follows
// the datasheet; where it is silent this follows QEMU's i8259 (our reference machine).
#include "i8259.h"

#include <string.h>

// Highest-priority set bit of mask under the chip's rotation, as a priority 0 (highest)..7,
// or 8 if none.
static int priority(const struct i8259 *c, uint8_t mask)
{
    if (!mask)
        return 8;
    int p = 0;
    while (!(mask & (1 << ((p + c->priority_add) & 7))))
        p++;
    return p;
}

// The IR line this chip would present to the CPU now, or -1.
static int chip_pending(const struct i8259 *c, bool is_master)
{
    int p = priority(c, c->irr & ~c->imr);
    if (p == 8)
        return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;   // special mask mode: masked in-service levels don't block
    // Special fully nested: the slave's cascade input may interrupt its own service.
    if (c->special_fully_nested && is_master)
        in_service &= ~(1 << PIC_CASCADE_IRQ);
    int cur = priority(c, in_service);
    return p < cur ? (p + c->priority_add) & 7 : -1;
}

static void chip_set_irq(struct i8259 *c, int ir, int level);

static void update(struct i8259_pair *p)
{
    // The slave's INT output drives the master's IR2 input like any other device.
    chip_set_irq(&p->chip[0], PIC_CASCADE_IRQ, chip_pending(&p->chip[1], false) >= 0);
    bool level = chip_pending(&p->chip[0], true) >= 0;
    if (level != p->intr_level) {
        p->intr_level = level;
        irq_line_set(&p->intr, level);
    }
}

static void chip_reset(struct i8259 *c)
{
    uint8_t elcr = c->elcr;
    memset(c, 0, sizeof *c);
    c->elcr = elcr;
}

void i8259_init(struct i8259_pair *p)
{
    struct irq_line intr = p->intr;
    memset(p, 0, sizeof *p);
    p->intr = intr;
    // Before initialization the BIOS has programmed vectors 0x08 and 0x70 (real mode).
    p->chip[0].vector_base = 0x08;
    p->chip[1].vector_base = 0x70;
    // ... and masked the lines it has no handler for (SeaBIOS: all but the timer, keyboard,
    // cascade, floppy, RTC, mouse, FPU and primary ATA channel).
    p->chip[0].imr = 0xb8;
    p->chip[1].imr = 0x8e;
    // ... and made the PCI interrupt lines it routes (IRQ 10, 11: dev/pci.c) level triggered.
    p->chip[1].elcr = 0x0c;
    irq_line_set(&p->intr, 0);
}

static void chip_set_irq(struct i8259 *c, int ir, int level)
{
    uint8_t bit = (uint8_t)(1 << ir);
    if (c->elcr & bit) {   // level triggered
        if (level) {
            c->irr |= bit;
            c->last_irr |= bit;
        } else {
            c->irr &= (uint8_t)~bit;
            c->last_irr &= (uint8_t)~bit;
        }
    } else {               // edge triggered: latch a rising edge
        if (level) {
            if (!(c->last_irr & bit))
                c->irr |= bit;
            c->last_irr |= bit;
        } else {
            c->last_irr &= (uint8_t)~bit;
        }
    }
}

void i8259_set_irq(struct i8259_pair *p, int irq, int level)
{
    if (irq < 0 || irq > 15)
        return;
    chip_set_irq(&p->chip[irq >> 3], irq & 7, level);
    update(p);
}

// Acknowledge IR line ir on chip c: ISR bit unless auto-EOI; an edge request is consumed.
static void chip_ack(struct i8259 *c, int ir)
{
    uint8_t bit = (uint8_t)(1 << ir);
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->priority_add = (uint8_t)((ir + 1) & 7);
    } else {
        c->isr |= bit;
    }
    if (!(c->elcr & bit))
        c->irr &= (uint8_t)~bit;
}

uint8_t i8259_intack(struct i8259_pair *p)
{
    struct i8259 *m = &p->chip[0], *s = &p->chip[1];
    int ir = chip_pending(m, true);
    uint8_t vec;
    if (ir < 0) {
        vec = m->vector_base | 7;   // spurious: IR7 without an ISR bit
    } else if (ir == PIC_CASCADE_IRQ) {
        chip_ack(m, ir);
        int sir = chip_pending(s, false);
        if (sir >= 0) {
            chip_ack(s, sir);
            vec = (uint8_t)(s->vector_base | sir);
        } else {
            vec = s->vector_base | 7;   // spurious on the slave
        }
    } else {
        chip_ack(m, ir);
        vec = (uint8_t)(m->vector_base | ir);
    }
    update(p);
    return vec;
}

// Poll command (OCW3.P): like INTA, but the answer is read from the command port.
static uint8_t chip_poll(struct i8259_pair *p, int chip)
{
    struct i8259 *c = &p->chip[chip];
    int ir = chip_pending(c, chip == 0);
    if (ir < 0)
        return 0;
    chip_ack(c, ir);
    if (chip == 0 && ir == PIC_CASCADE_IRQ) {
        // The datasheet leaves the slave's side to software; acknowledge the cascade only.
    }
    update(p);
    return (uint8_t)(0x80 | ir);
}

uint8_t i8259_read(struct i8259_pair *p, int chip, unsigned port)
{
    struct i8259 *c = &p->chip[chip & 1];
    if (c->poll) {
        c->poll = false;
        return chip_poll(p, chip & 1);
    }
    if ((port & 1) == PIC_DATA)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

bool i8259_peek_imr(const struct i8259_pair *p, int chip, uint8_t *v)
{
    const struct i8259 *c = &p->chip[chip & 1];
    *v = c->imr;
    return !c->poll;
}

// Non-specific EOI: clear the highest-priority in-service bit; returns its IR or -1.
static int eoi_highest(struct i8259 *c)
{
    int p = priority(c, c->isr);
    if (p == 8)
        return -1;
    int ir = (p + c->priority_add) & 7;
    c->isr &= (uint8_t)~(1 << ir);
    return ir;
}

void i8259_write(struct i8259_pair *p, int chip, unsigned port, uint8_t val)
{
    struct i8259 *c = &p->chip[chip & 1];
    if ((port & 1) == PIC_CMD) {
        if (val & PIC_ICW1_INIT) {
            // ICW1: reset the chip and expect ICW2 (and ICW3, ICW4 as announced).
            chip_reset(c);
            c->init_state = 1;
            c->icw4_needed = val & PIC_ICW1_IC4;
            c->single = val & PIC_ICW1_SNGL;
            if (val & PIC_ICW1_LTIM)
                c->elcr = 0xff;
        } else if (val & PIC_OCW3_SEL) {
            // OCW3.
            if (val & PIC_OCW3_P)
                c->poll = true;
            if (val & PIC_OCW3_RR)
                c->read_isr = val & PIC_OCW3_RIS;
            if (val & PIC_OCW3_ESMM)
                c->special_mask = val & PIC_OCW3_SMM;
        } else {
            // OCW2: R, SL, EOI in bits 7-5; level in bits 2-0.
            int level = val & 7;
            switch (val & (PIC_OCW2_R | PIC_OCW2_SL | PIC_OCW2_EOI)) {
            case PIC_OCW2_EOI:                                  // non-specific EOI
                eoi_highest(c);
                break;
            case PIC_OCW2_R | PIC_OCW2_EOI: {                   // rotate on non-specific EOI
                int ir = eoi_highest(c);
                if (ir >= 0)
                    c->priority_add = (uint8_t)((ir + 1) & 7);
                break;
            }
            case PIC_OCW2_SL | PIC_OCW2_EOI:                    // specific EOI
                c->isr &= (uint8_t)~(1 << level);
                break;
            case PIC_OCW2_R | PIC_OCW2_SL | PIC_OCW2_EOI:       // rotate on specific EOI
                c->isr &= (uint8_t)~(1 << level);
                c->priority_add = (uint8_t)((level + 1) & 7);
                break;
            case PIC_OCW2_R:                                    // set rotate in AEOI mode
                c->rotate_on_aeoi = true;
                break;
            case 0:                                             // clear rotate in AEOI mode
                c->rotate_on_aeoi = false;
                break;
            case PIC_OCW2_R | PIC_OCW2_SL:                      // set priority command
                c->priority_add = (uint8_t)((level + 1) & 7);
                break;
            default:                                            // SL alone: no operation
                break;
            }
        }
    } else {
        switch (c->init_state) {
        case 0:             // OCW1
            c->imr = val;
            break;
        case 1:             // ICW2
            c->vector_base = val & 0xf8;
            c->init_state = c->single ? (c->icw4_needed ? 3 : 0) : 2;
            break;
        case 2:             // ICW3
            c->icw3 = val;
            c->init_state = c->icw4_needed ? 3 : 0;
            break;
        case 3:             // ICW4
            c->auto_eoi = val & PIC_ICW4_AEOI;
            c->special_fully_nested = val & PIC_ICW4_SFNM;
            c->init_state = 0;
            break;
        }
    }
    update(p);
}

static const uint8_t elcr_mask[2] = {0xf8, 0xde};

uint8_t i8259_elcr_read(const struct i8259_pair *p, int chip)
{
    return p->chip[chip & 1].elcr;
}

void i8259_elcr_write(struct i8259_pair *p, int chip, uint8_t val)
{
    p->chip[chip & 1].elcr = val & elcr_mask[chip & 1];
}
