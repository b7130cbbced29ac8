// 8259A programmable interrupt controller, the PC's master/slave pair (Intel 8259A datasheet).
#ifndef RING1_I8259_H
#define RING1_I8259_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

// Port offsets (A0 line) from each chip's base: 0x20 master, 0xa0 slave.
#define PIC_CMD   0   // ICW1, OCW2, OCW3 (write); IRR/ISR/poll (read)
#define PIC_DATA  1   // ICW2-4, OCW1 = IMR (write); IMR (read)

#define PIC_ICW1_IC4   0x01  // ICW4 needed
#define PIC_ICW1_SNGL  0x02  // Single (no cascade, no ICW3)
#define PIC_ICW1_ADI   0x04  // Call address interval (8080 mode only)
#define PIC_ICW1_LTIM  0x08  // Level triggered mode
#define PIC_ICW1_INIT  0x10  // This is ICW1
#define PIC_ICW4_8086  0x01  // 8086/8088 mode
#define PIC_ICW4_AEOI  0x02  // Automatic end of interrupt
#define PIC_ICW4_SFNM  0x10  // Special fully nested mode
#define PIC_OCW2_EOI   0x20  // End of interrupt
#define PIC_OCW2_SL    0x40  // Specific (level in bits 0-2)
#define PIC_OCW2_R     0x80  // Rotate
#define PIC_OCW3_RIS   0x01  // Read ISR (else IRR), when RR
#define PIC_OCW3_RR    0x02  // Read register command
#define PIC_OCW3_P     0x04  // Poll command
#define PIC_OCW3_SEL   0x08  // This is OCW3 (bit 3 set, bit 4 clear)
#define PIC_OCW3_SMM   0x20  // Special mask mode value, when ESMM
#define PIC_OCW3_ESMM  0x40  // Enable special mask mode write

#define PIC_CASCADE_IRQ 2    // the slave's INT goes to the master's IR2

struct i8259 {
    uint8_t irr, isr, imr;
    uint8_t last_irr;      // input levels seen, for edge detection
    uint8_t elcr;          // level-triggered inputs (edge/level control, ports 0x4d0/0x4d1)
    uint8_t vector_base;   // ICW2 & 0xf8
    uint8_t icw3;
    uint8_t priority_add;  // rotation: IR(priority_add) has the highest priority
    uint8_t init_state;    // 0: operational; 1-3: expecting ICW2, ICW3, ICW4
    bool    icw4_needed, single, auto_eoi, rotate_on_aeoi, special_fully_nested;
    bool    read_isr, poll, special_mask;
};

struct i8259_pair {
    struct i8259 chip[2];  // [0] master, [1] slave
    struct irq_line intr;  // the master's INT output: the CPU's INTR pin
    bool intr_level;
};

void i8259_init(struct i8259_pair *p);
// A device drives input irq (0-15) to level (edge-triggered inputs latch rising edges).
void i8259_set_irq(struct i8259_pair *p, int irq, int level);
// INTA cycle: the vector the CPU takes (spurious IRQ 7/15 if nothing is pending).
uint8_t i8259_intack(struct i8259_pair *p);
// Register access; chip 0 = master, 1 = slave; port = PIC_CMD or PIC_DATA.
uint8_t i8259_read(struct i8259_pair *p, int chip, unsigned port);
// The IMR, as a read of the data port returns it, unless a poll command makes that read an
// acknowledge (false). IRR and ISR (the command port) change as interrupts come and go.
bool i8259_peek_imr(const struct i8259_pair *p, int chip, uint8_t *v);
void i8259_write(struct i8259_pair *p, int chip, unsigned port, uint8_t val);
// The PIIX3's edge/level control registers (ELCR1/ELCR2, ports 0x4d0/0x4d1): a set bit makes
// the input level triggered; IRQ 0-2, 8 and 13 stay edge triggered.
#define PIC_ELCR_PORT 0x4d0
uint8_t i8259_elcr_read(const struct i8259_pair *p, int chip);
void i8259_elcr_write(struct i8259_pair *p, int chip, uint8_t val);

#endif
