// Register-level tests of the 8259A pair (dev/i8259.c) with a fake CPU INTR line.
#include "unit.h"

#include "fake_irq.h"
#include "i8259.h"

static struct i8259_pair p;
static struct fake_irq intr;

// The PC BIOS / Linux initialization: edge triggered, cascade, vectors 0x20 and 0x28.
static void setup(void)
{
    memset(&p, 0, sizeof p);
    memset(&intr, 0, sizeof intr);
    p.intr = fake_irq_line(&intr, 0);
    i8259_init(&p);
    i8259_write(&p, 0, PIC_CMD, PIC_ICW1_INIT | PIC_ICW1_IC4);
    i8259_write(&p, 0, PIC_DATA, 0x20);          // ICW2
    i8259_write(&p, 0, PIC_DATA, 1 << PIC_CASCADE_IRQ);  // ICW3: slave on IR2
    i8259_write(&p, 0, PIC_DATA, PIC_ICW4_8086); // ICW4
    i8259_write(&p, 1, PIC_CMD, PIC_ICW1_INIT | PIC_ICW1_IC4);
    i8259_write(&p, 1, PIC_DATA, 0x28);
    i8259_write(&p, 1, PIC_DATA, PIC_CASCADE_IRQ); // ICW3: slave id
    i8259_write(&p, 1, PIC_DATA, PIC_ICW4_8086);
}

static uint8_t isr(int chip)
{
    i8259_write(&p, chip, PIC_CMD, PIC_OCW3_SEL | PIC_OCW3_RR | PIC_OCW3_RIS);
    return i8259_read(&p, chip, PIC_CMD);
}

static uint8_t irr(int chip)
{
    i8259_write(&p, chip, PIC_CMD, PIC_OCW3_SEL | PIC_OCW3_RR);
    return i8259_read(&p, chip, PIC_CMD);
}

static void eoi(int chip) { i8259_write(&p, chip, PIC_CMD, PIC_OCW2_EOI); }
static void pulse(int irq) { i8259_set_irq(&p, irq, 1); i8259_set_irq(&p, irq, 0); }

TEST(before_initialization_the_bios_masks)
{
    memset(&p, 0, sizeof p);
    p.intr = fake_irq_line(&intr, 0);
    i8259_init(&p);
    CHECK_EQ(i8259_read(&p, 0, PIC_DATA), 0xb8);
    CHECK_EQ(i8259_read(&p, 1, PIC_DATA), 0x8e);
    CHECK_EQ(i8259_elcr_read(&p, 0), 0x00);
    CHECK_EQ(i8259_elcr_read(&p, 1), 0x0c);     // the PCI interrupts, IRQ 10 and 11
}

TEST(elcr_keeps_the_bits_that_may_be_level)
{
    setup();
    i8259_elcr_write(&p, 0, 0xff);
    i8259_elcr_write(&p, 1, 0xff);
    CHECK_EQ(i8259_elcr_read(&p, 0), 0xf8);
    CHECK_EQ(i8259_elcr_read(&p, 1), 0xde);
}

TEST(icw1_clears_imr_and_init_leaves_all_unmasked)
{
    setup();
    CHECK_EQ(i8259_read(&p, 0, PIC_DATA), 0);
    CHECK_EQ(i8259_read(&p, 1, PIC_DATA), 0);
    CHECK_EQ(intr.level, 0);
}

TEST(ocw1_imr_reads_back)
{
    setup();
    i8259_write(&p, 0, PIC_DATA, 0xa5);
    i8259_write(&p, 1, PIC_DATA, 0x5a);
    CHECK_EQ(i8259_read(&p, 0, PIC_DATA), 0xa5);
    CHECK_EQ(i8259_read(&p, 1, PIC_DATA), 0x5a);
}

TEST(irq0_intack_isr_eoi)
{
    setup();
    pulse(0);
    CHECK_EQ(intr.level, 1);
    CHECK_EQ(irr(0), 0x01);
    CHECK_EQ(i8259_intack(&p), 0x20);
    CHECK_EQ(intr.level, 0);
    CHECK_EQ(irr(0), 0x00);
    CHECK_EQ(isr(0), 0x01);
    eoi(0);
    CHECK_EQ(isr(0), 0x00);
}

TEST(priority_lower_waits_for_eoi_higher_nests)
{
    setup();
    pulse(3);
    pulse(1);
    CHECK_EQ(i8259_intack(&p), 0x21);   // IR1 beats IR3
    CHECK_EQ(intr.level, 0);            // IR3 is lower than IR1 in service
    pulse(0);
    CHECK_EQ(intr.level, 1);            // IR0 is higher: nests
    CHECK_EQ(i8259_intack(&p), 0x20);
    CHECK_EQ(isr(0), 0x03);
    eoi(0);                              // non-specific EOI ends the highest: IR0
    CHECK_EQ(isr(0), 0x02);
    CHECK_EQ(intr.level, 0);
    eoi(0);
    CHECK_EQ(intr.level, 1);            // now IR3
    CHECK_EQ(i8259_intack(&p), 0x23);
}

TEST(imr_masks_and_unmask_presents)
{
    setup();
    i8259_write(&p, 0, PIC_DATA, 0x01);
    pulse(0);
    CHECK_EQ(intr.level, 0);
    CHECK_EQ(irr(0), 0x01);             // still requested, just masked
    i8259_write(&p, 0, PIC_DATA, 0x00);
    CHECK_EQ(intr.level, 1);
}

TEST(cascade_slave_irq12)
{
    setup();
    pulse(12);
    CHECK_EQ(intr.level, 1);
    CHECK_EQ(i8259_intack(&p), 0x2c);
    CHECK_EQ(isr(0), 1 << PIC_CASCADE_IRQ);
    CHECK_EQ(isr(1), 1 << 4);
    eoi(1);
    eoi(0);
    CHECK_EQ(isr(0), 0);
    CHECK_EQ(isr(1), 0);
}

TEST(slave_masked_by_master_ir2)
{
    setup();
    i8259_write(&p, 0, PIC_DATA, 1 << PIC_CASCADE_IRQ);
    pulse(9);
    CHECK_EQ(intr.level, 0);
    i8259_write(&p, 0, PIC_DATA, 0);
    CHECK_EQ(intr.level, 1);
    CHECK_EQ(i8259_intack(&p), 0x29);
}

TEST(edge_trigger_needs_a_new_rising_edge)
{
    setup();
    i8259_set_irq(&p, 4, 1);
    CHECK_EQ(i8259_intack(&p), 0x24);
    eoi(0);
    CHECK_EQ(intr.level, 0);            // held high: no new request
    i8259_set_irq(&p, 4, 0);
    i8259_set_irq(&p, 4, 1);
    CHECK_EQ(intr.level, 1);
}

TEST(spurious_irq7_when_nothing_pending)
{
    setup();
    CHECK_EQ(i8259_intack(&p), 0x27);
    CHECK_EQ(isr(0), 0);
}

TEST(specific_eoi)
{
    setup();
    pulse(5);
    pulse(6);
    i8259_intack(&p);
    eoi(0);
    i8259_intack(&p);
    CHECK_EQ(isr(0), 0x40);
    i8259_write(&p, 0, PIC_CMD, PIC_OCW2_SL | PIC_OCW2_EOI | 6);
    CHECK_EQ(isr(0), 0);
}

TEST(icw4_auto_eoi)
{
    setup();
    i8259_write(&p, 0, PIC_CMD, PIC_ICW1_INIT | PIC_ICW1_IC4);
    i8259_write(&p, 0, PIC_DATA, 0x20);
    i8259_write(&p, 0, PIC_DATA, 1 << PIC_CASCADE_IRQ);
    i8259_write(&p, 0, PIC_DATA, PIC_ICW4_8086 | PIC_ICW4_AEOI);
    pulse(1);
    CHECK_EQ(i8259_intack(&p), 0x21);
    CHECK_EQ(isr(0), 0);
}

TEST(rotate_on_nonspecific_eoi)
{
    setup();
    pulse(2 + 1);   // IR3
    CHECK_EQ(i8259_intack(&p), 0x23);
    i8259_write(&p, 0, PIC_CMD, PIC_OCW2_R | PIC_OCW2_EOI);   // IR3 becomes lowest
    pulse(3);
    pulse(4);
    CHECK_EQ(i8259_intack(&p), 0x24);   // IR4 is now the highest priority
}

TEST(ocw3_poll)
{
    setup();
    pulse(6);
    i8259_write(&p, 0, PIC_CMD, PIC_OCW3_SEL | PIC_OCW3_P);
    CHECK_EQ(i8259_read(&p, 0, PIC_CMD), 0x86);
    CHECK_EQ(isr(0), 0x40);
}

TEST(icw2_vector_base_low_bits_ignored)
{
    setup();
    i8259_write(&p, 0, PIC_CMD, PIC_ICW1_INIT | PIC_ICW1_SNGL);   // single, no ICW3/ICW4
    i8259_write(&p, 0, PIC_DATA, 0x47);
    pulse(1);
    CHECK_EQ(i8259_intack(&p), 0x41);
}
