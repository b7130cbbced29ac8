// Register-level tests of the local APIC (dev/lapic.c) with a fake clock and fake timer:
// ID/version/reset values, TPR/PPR and delivery priority, EOI (and its broadcast for level
// vectors), the timer one-shot and periodic with the divide register, self IPIs.
#include "unit.h"

#include "lapic.h"

static struct lapic a;
static uint64_t now, armed_first, armed_period;
static int arms, eois, last_eoi;

static uint64_t fake_now(void *o) { (void)o; return now; }
static void fake_arm(void *o, uint64_t first, uint64_t period)
{
    (void)o;
    armed_first = first;
    armed_period = period;
    arms++;
}
static void fake_eoi(void *o, uint8_t v) { (void)o; eois++; last_eoi = v; }

static void setup(void)
{
    memset(&a, 0, sizeof a);
    now = 1000000;
    armed_first = armed_period = 0;
    arms = eois = 0;
    a.ops = (struct lapic_ops){fake_now, fake_arm, fake_eoi, NULL, NULL};
    lapic_init(&a);
}

TEST(bits_written_as_under_qemu)
{
    setup();
    lapic_write(&a, LAPIC_SVR, 0xffffffff);
    CHECK_EQ(lapic_read(&a, LAPIC_SVR), 0x1ff);
    lapic_write(&a, LAPIC_LVT_ERROR, 0xffffffff);     // every bit, the delivery status too
    CHECK_EQ(lapic_read(&a, LAPIC_LVT_ERROR), 0xffffffff);
    lapic_write(&a, LAPIC_LVT_CMCI, 0xffffffff);      // no CMCI
    CHECK_EQ(lapic_read(&a, LAPIC_LVT_CMCI), 0);
    lapic_write(&a, LAPIC_ICR_HI, 0xffffffff);
    CHECK_EQ(lapic_read(&a, LAPIC_ICR_HI), 0xffffffff);
}

TEST(reset_values_as_under_qemu)
{
    setup();
    CHECK_EQ(lapic_read(&a, LAPIC_ID), 0);
    CHECK_EQ(lapic_read(&a, LAPIC_VER), 0x00050014);
    CHECK_EQ(lapic_read(&a, LAPIC_DFR), 0xffffffff);
    CHECK_EQ(lapic_read(&a, LAPIC_SVR), 0x1ff);
    CHECK_EQ(lapic_read(&a, LAPIC_LVT_TIMER), LAPIC_LVT_MASKED);
    CHECK_EQ(lapic_read(&a, LAPIC_LVT_LINT0), 0x8700);
    CHECK_EQ(lapic_read(&a, LAPIC_LVT_LINT1), 0x8400);
    CHECK_EQ(lapic_read(&a, LAPIC_ICR_LO), 0x000c4610);
    CHECK(lapic_lint0_open(&a));
    CHECK_EQ(lapic_pending(&a), -1);
}

TEST(id_register_is_bits_31_24)
{
    setup();
    lapic_write(&a, LAPIC_ID, 0x05000000);
    CHECK_EQ(lapic_read(&a, LAPIC_ID), 0x05000000);
    CHECK(lapic_match(&a, 5, false));
    CHECK(lapic_match(&a, 0xff, false));
    CHECK(!lapic_match(&a, 0, false));
}

TEST(highest_vector_first_and_eoi)
{
    setup();
    lapic_accept(&a, 0x31, false);
    lapic_accept(&a, 0x52, false);
    CHECK_EQ(lapic_pending(&a), 0x52);
    CHECK_EQ(lapic_ack(&a), 0x52);
    CHECK_EQ(lapic_read(&a, LAPIC_ISR + 0x20) & (1u << 18), 1u << 18);   // 0x52 in ISR
    CHECK_EQ(lapic_pending(&a), -1);          // 0x31 is below the in-service class
    CHECK_EQ(lapic_read(&a, LAPIC_PPR), 0x50);
    lapic_write(&a, LAPIC_EOI, 0);
    CHECK_EQ(lapic_pending(&a), 0x31);
    CHECK_EQ(eois, 0);                        // edge: no broadcast
}

TEST(tpr_blocks_lower_classes)
{
    setup();
    lapic_write(&a, LAPIC_TPR, 0x40);
    lapic_accept(&a, 0x41, false);
    CHECK_EQ(lapic_pending(&a), -1);
    lapic_accept(&a, 0x51, false);
    CHECK_EQ(lapic_pending(&a), 0x51);
    lapic_write(&a, LAPIC_TPR, 0);
    CHECK_EQ(lapic_ack(&a), 0x51);
}

TEST(level_vector_eoi_is_broadcast)
{
    setup();
    lapic_accept(&a, 0x60, true);
    CHECK_EQ(lapic_ack(&a), 0x60);
    lapic_write(&a, LAPIC_EOI, 0);
    CHECK_EQ(eois, 1);
    CHECK_EQ(last_eoi, 0x60);
}

TEST(software_disabled_apic_delivers_nothing)
{
    setup();
    lapic_write(&a, LAPIC_SVR, 0xff);
    lapic_accept(&a, 0x40, false);
    CHECK_EQ(lapic_pending(&a), -1);
    lapic_write(&a, LAPIC_SVR, 0x1ff);
    CHECK_EQ(lapic_pending(&a), 0x40);
}

TEST(illegal_vector_sets_esr)
{
    setup();
    lapic_accept(&a, 3, false);
    CHECK_EQ(lapic_pending(&a), -1);
    CHECK_EQ(lapic_read(&a, LAPIC_ESR) & LAPIC_ESR_RECV_ILLEGAL, LAPIC_ESR_RECV_ILLEGAL);
}

TEST(one_shot_timer_counts_down)
{
    setup();
    lapic_write(&a, LAPIC_TDCR, 0xb);         // divide by 1
    lapic_write(&a, LAPIC_LVT_TIMER, 0x30);   // one-shot, vector 0x30
    lapic_write(&a, LAPIC_TICR, 1000);
    CHECK_EQ(armed_first, 1001);              // expires after initial + 1 ns
    CHECK_EQ(armed_period, 0);
    now += 400;
    CHECK_EQ(lapic_read(&a, LAPIC_TCCR), 600);
    now += 601;
    CHECK_EQ(lapic_read(&a, LAPIC_TCCR), 0);
    lapic_timer(&a);
    CHECK_EQ(lapic_pending(&a), 0x30);
    lapic_timer(&a);                          // one-shot: no second interrupt
    CHECK_EQ(a.timer_irqs, 1);
}

TEST(periodic_timer_with_divide)
{
    setup();
    lapic_write(&a, LAPIC_TDCR, 0x3);         // divide by 16
    lapic_write(&a, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x20);
    lapic_write(&a, LAPIC_TICR, 99999);
    CHECK_EQ(armed_period, 100000ull * 16);
    CHECK_EQ(armed_first, 100000ull * 16);
    now += 16 * 150000;                        // one and a half periods
    CHECK_EQ(lapic_read(&a, LAPIC_TCCR), 99999 - 50000);
    lapic_timer(&a);
    lapic_timer(&a);
    CHECK_EQ(a.timer_irqs, 2);
    CHECK_EQ(lapic_ack(&a), 0x20);
}

TEST(masked_timer_counts_without_interrupts)
{
    setup();
    lapic_write(&a, LAPIC_TDCR, 0xb);
    lapic_write(&a, LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | 0x30);
    lapic_write(&a, LAPIC_TICR, 500);
    CHECK_EQ(armed_first, 0);                 // nothing armed
    now += 100;
    CHECK_EQ(lapic_read(&a, LAPIC_TCCR), 400);
    lapic_timer(&a);
    CHECK_EQ(lapic_pending(&a), -1);
}

TEST(zero_initial_count_stops_the_timer)
{
    setup();
    lapic_write(&a, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x30);
    lapic_write(&a, LAPIC_TICR, 1000);
    lapic_write(&a, LAPIC_TICR, 0);
    CHECK_EQ(armed_first, 0);
    CHECK_EQ(lapic_read(&a, LAPIC_TCCR), 0);
}

TEST(self_ipi_through_the_icr)
{
    setup();
    lapic_write(&a, LAPIC_ICR_HI, 0);
    lapic_write(&a, LAPIC_ICR_LO, LAPIC_ICR_SELF | 0x99);
    CHECK_EQ(lapic_pending(&a), 0x99);
    CHECK_EQ(lapic_ack(&a), 0x99);
    lapic_write(&a, LAPIC_EOI, 0);
    lapic_write(&a, LAPIC_ICR_HI, 0x00000000);   // physical destination 0: this APIC
    lapic_write(&a, LAPIC_ICR_LO, 0x77);
    CHECK_EQ(lapic_ack(&a), 0x77);
    lapic_write(&a, LAPIC_EOI, 0);
    lapic_write(&a, LAPIC_ICR_HI, 0x03000000);   // APIC 3: nobody
    lapic_write(&a, LAPIC_ICR_LO, 0x66);
    CHECK_EQ(lapic_pending(&a), -1);
    lapic_write(&a, LAPIC_ICR_LO, LAPIC_ICR_ALL_EXCL | LAPIC_DM_INIT);
    CHECK_EQ(a.ipis_lost, 2);
}

TEST(logical_destination_flat_and_cluster)
{
    setup();
    lapic_write(&a, LAPIC_LDR, 0x04000000);
    CHECK(lapic_match(&a, 0x06, true));
    CHECK(!lapic_match(&a, 0x01, true));
    lapic_write(&a, LAPIC_DFR, 0x0fffffff);       // cluster model
    lapic_write(&a, LAPIC_LDR, 0x21000000);       // cluster 2, member 1
    CHECK(lapic_match(&a, 0x23, true));
    CHECK(!lapic_match(&a, 0x13, true));
}

TEST(masked_lint0_closes_the_virtual_wire)
{
    setup();
    lapic_write(&a, LAPIC_LVT_LINT0, LAPIC_LVT_MASKED | 0x700);
    CHECK(!lapic_lint0_open(&a));
}
