// 8259A PIC pair (Intel 8259A datasheet): IRQ0-15 at vectors IRQ_BASE.., all masked at first.
#include "lib.h"

static uint16_t imr = 0xffff;  // our copy of both interrupt mask registers (1 = masked)

static void write_imr(void)
{
    outb(PIC1_DATA, imr & 0xff);
    outb(PIC2_DATA, imr >> 8);
}

// Reinitialise both chips (ICW1-4): the firmware's vector base (8) collides with exceptions.
void pic_init(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT | PIC_ICW1_ICW4);
    outb(PIC1_DATA, IRQ_BASE);
    outb(PIC1_DATA, PIC_ICW3_SLAVE_AT_IRQ2);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_CMD, PIC_ICW1_INIT | PIC_ICW1_ICW4);
    outb(PIC2_DATA, IRQ_BASE + 8);
    outb(PIC2_DATA, PIC_ICW3_SLAVE_ID);
    outb(PIC2_DATA, PIC_ICW4_8086);
    imr = 0xffff & ~(1u << PIC_CASCADE_IRQ);  // the cascade input stays open
    write_imr();
}

void pic_mask(int irq)
{
    imr |= 1u << irq;
    write_imr();
}

void pic_unmask(int irq)
{
    imr &= ~(1u << irq);
    write_imr();
}

void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_OCW2_EOI);
    outb(PIC1_CMD, PIC_OCW2_EOI);
}
