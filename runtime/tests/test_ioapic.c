// Register-level tests of the IOAPIC (dev/ioapic.c) with a fake local APIC: ID, version,
// redirection entries, edge and level inputs, masking, remote IRR and EOI.
#include "unit.h"

#include "ioapic.h"

static struct ioapic io;
static int delivered, last_vec, last_level, last_dest, last_logical;
static bool accept = true;

static bool fake_deliver(void *o, uint8_t v, bool level, uint8_t dest, bool logical,
                         uint32_t mode)
{
    (void)o;
    (void)mode;
    if (!accept)
        return false;
    delivered++;
    last_vec = v;
    last_level = level;
    last_dest = dest;
    last_logical = logical;
    return true;
}

static void setup(void)
{
    memset(&io, 0, sizeof io);
    delivered = 0;
    accept = true;
    io.deliver = fake_deliver;
    ioapic_init(&io);
}

static uint32_t rd(uint32_t reg)
{
    ioapic_write(&io, IOAPIC_REGSEL, reg);
    return ioapic_read(&io, IOAPIC_WIN);
}

static void wr(uint32_t reg, uint32_t v)
{
    ioapic_write(&io, IOAPIC_REGSEL, reg);
    ioapic_write(&io, IOAPIC_WIN, v);
}

TEST(id_version_arbitration)
{
    setup();
    CHECK_EQ(rd(IOAPIC_ID), 0);
    CHECK_EQ(rd(IOAPIC_VER), 0x00170020);
    CHECK_EQ(rd(IOAPIC_ARB), 0);
    wr(IOAPIC_ID, 0x0a000000);
    CHECK_EQ(rd(IOAPIC_ID), 0x0a000000);
    CHECK_EQ(ioapic_read(&io, IOAPIC_REGSEL), IOAPIC_ID);
}

TEST(entries_reset_masked)
{
    setup();
    for (int i = 0; i < IOAPIC_NPINS; i++) {
        CHECK_EQ(rd(IOAPIC_REDTBL + 2 * i), IOAPIC_MASKED);
        CHECK_EQ(rd(IOAPIC_REDTBL + 2 * i + 1), 0);
    }
}

TEST(edge_input_delivers_on_the_rising_edge)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 4 + 1, 0x01000000);
    wr(IOAPIC_REDTBL + 2 * 4, 0x24);
    ioapic_set_irq(&io, 4, 1);
    CHECK_EQ(delivered, 1);
    CHECK_EQ(last_vec, 0x24);
    CHECK_EQ(last_dest, 1);
    CHECK_EQ(last_level, 0);
    ioapic_set_irq(&io, 4, 0);
    ioapic_set_irq(&io, 4, 1);
    CHECK_EQ(delivered, 2);
}

TEST(edge_on_a_masked_input_is_dropped)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 3, IOAPIC_MASKED | 0x23);
    ioapic_set_irq(&io, 3, 1);
    wr(IOAPIC_REDTBL + 2 * 3, 0x23);           // unmask: the edge is gone
    CHECK_EQ(delivered, 0);
}

TEST(level_input_waits_for_eoi)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 9, IOAPIC_LEVEL | 0x39);
    ioapic_set_irq(&io, 9, 1);
    CHECK_EQ(delivered, 1);
    CHECK_EQ(last_level, 1);
    CHECK_EQ(rd(IOAPIC_REDTBL + 2 * 9) & IOAPIC_REMOTE_IRR, IOAPIC_REMOTE_IRR);
    ioapic_set_irq(&io, 9, 1);                 // still asserted: nothing until EOI
    CHECK_EQ(delivered, 1);
    ioapic_eoi(&io, 0x39);                     // still asserted after EOI: again
    CHECK_EQ(delivered, 2);
    ioapic_set_irq(&io, 9, 0);
    ioapic_eoi(&io, 0x39);
    CHECK_EQ(delivered, 2);
    CHECK_EQ(rd(IOAPIC_REDTBL + 2 * 9) & IOAPIC_REMOTE_IRR, 0);
}

TEST(eoi_register_by_vector)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 10, IOAPIC_LEVEL | 0x3a);
    ioapic_set_irq(&io, 10, 1);
    ioapic_write(&io, IOAPIC_EOIR, 0x3a);
    CHECK_EQ(delivered, 2);
}

TEST(unmasking_an_asserted_level_input_delivers)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 11, IOAPIC_MASKED | IOAPIC_LEVEL | 0x3b);
    ioapic_set_irq(&io, 11, 1);
    CHECK_EQ(delivered, 0);
    wr(IOAPIC_REDTBL + 2 * 11, IOAPIC_LEVEL | 0x3b);
    CHECK_EQ(delivered, 1);
}

TEST(read_only_bits_survive_writes)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 5, IOAPIC_LEVEL | 0x35);
    ioapic_set_irq(&io, 5, 1);
    wr(IOAPIC_REDTBL + 2 * 5, IOAPIC_LEVEL | 0x45);   // the guest cannot clear remote IRR
    CHECK_EQ(rd(IOAPIC_REDTBL + 2 * 5), IOAPIC_LEVEL | IOAPIC_REMOTE_IRR | 0x45);
}

TEST(logical_destination_passes_through)
{
    setup();
    wr(IOAPIC_REDTBL + 2 * 1 + 1, 0xff000000);
    wr(IOAPIC_REDTBL + 2 * 1, IOAPIC_LOGICAL | 0x21);
    ioapic_set_irq(&io, 1, 1);
    CHECK_EQ(last_logical, 1);
    CHECK_EQ(last_dest, 0xff);
}

TEST(undelivered_messages_are_counted)
{
    setup();
    accept = false;
    wr(IOAPIC_REDTBL + 2 * 4, 0x24);
    ioapic_set_irq(&io, 4, 1);
    CHECK_EQ(io.lost, 1);
}
