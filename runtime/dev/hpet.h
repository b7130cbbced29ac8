// The HPET of QEMU's PC (IA-PC HPET Specification 1.0a; QEMU's hw/timer/hpet.c): one block
// at 0xFED00000 with a 64-bit main counter at 100 MHz (10 ns, from the guest's clock) and
// three comparators, 64-bit capable, periodic capable, routable to IOAPIC input 2 only (the
// interrupt capability QEMU's i440FX machine gives them), and LegacyReplacementRoute:
// timer 0 on IRQ 0 (IOAPIC 2) and timer 1 on IRQ 8, while the 8254's and the RTC's own
// lines are cut off. No FSB (MSI) delivery, as QEMU's default.
//
// Registers (32-bit accesses only, as QEMU takes them; others read 0 and are ignored):
//   0x000 capabilities and ID (0x8086a201: vendor 8086, LegacyReplacementRoute capable,
//         64-bit counter, 3 timers, revision 1), 0x004 the period in fs (10^7)
//   0x010 configuration (ENABLE_CNF, LEG_RT_CNF), 0x020 interrupt status (write 1 to clear)
//   0x0f0 main counter (runs while ENABLE_CNF; writable)
//   0x100 + 0x20 * N: timer N configuration/capabilities, +8 comparator, +0x10 FSB route
#ifndef RING1_HPET_H
#define RING1_HPET_H

#include <stdbool.h>
#include <stdint.h>

#define HPET_BASE            0xfed00000u
#define HPET_LEN             0x400
#define HPET_TIMERS          3
#define HPET_CLK_PERIOD_NS   10
#define HPET_INTCAP          0x4        // QEMU's i440FX: IOAPIC input 2 only
// The capabilities' low half (the ACPI HPET table's event timer block ID): Intel's vendor ID,
// LegacyReplacementRoute capable, a 64-bit counter, HPET_TIMERS - 1, revision 1.
#define HPET_BLOCK_ID        0x8086a201u

#define HPET_ID              0x000
#define HPET_PERIOD          0x004
#define HPET_CFG             0x010
#define HPET_STATUS          0x020
#define HPET_COUNTER         0x0f0
#define HPET_TN_CFG          0x000
#define HPET_TN_CMP          0x008
#define HPET_TN_ROUTE        0x010

#define HPET_CFG_ENABLE      0x001
#define HPET_CFG_LEGACY      0x002
#define HPET_CFG_WRITE_MASK  0x003

#define HPET_TN_TYPE_LEVEL   0x002
#define HPET_TN_ENABLE       0x004
#define HPET_TN_PERIODIC     0x008
#define HPET_TN_PERIODIC_CAP 0x010
#define HPET_TN_SIZE_CAP     0x020
#define HPET_TN_SETVAL       0x040
#define HPET_TN_32BIT        0x100
#define HPET_TN_INT_ROUTE_MASK  0x3e00
#define HPET_TN_INT_ROUTE_SHIFT 9
#define HPET_TN_FSB_ENABLE   0x4000
#define HPET_TN_CFG_WRITE_MASK  0x7f4e

// The two legacy inputs: the 8254's IRQ 0 and the RTC's IRQ 8 pass through the HPET.
#define HPET_LEGACY_PIT      0
#define HPET_LEGACY_RTC      1

struct hpet_timer {
    uint64_t config, cmp, fsb;
    uint64_t period;       // last value written to the comparator in periodic mode
    bool wrap;             // 32-bit one-shot: the next expiry is the counter's wrap
    uint64_t deadline_ns;  // guest time of the next expiry (0: none)
};

struct hpet_ops {
    uint64_t (*now)(void *opaque);                          // the guest's time, ns
    void (*arm)(void *opaque, uint64_t deadline_ns);        // 0: nothing pending
    void (*irq)(void *opaque, unsigned gsi, int level);     // GSI 0-15: ISA IRQs, 16+: IOAPIC
    void *opaque;
};

struct hpet {
    uint64_t capability, config, isr;
    uint64_t counter;      // while disabled: the counter; enabled: counter = ticks(now + offset)
    int64_t offset_ns;
    int rtc_level;         // the RTC's line as it comes in
    struct hpet_timer timer[HPET_TIMERS];
    struct hpet_ops ops;
    uint64_t fired;        // --stats: timer expiries
};

void hpet_init(struct hpet *s);
uint32_t hpet_read(struct hpet *s, uint32_t off, int size);
void hpet_write(struct hpet *s, uint32_t off, int size, uint32_t v);
// The host timer armed by ops.arm expired: every comparator whose time has come fires.
void hpet_expire(struct hpet *s);
// The 8254's or the RTC's interrupt line (HPET_LEGACY_*), cut off in legacy replacement mode.
void hpet_legacy_irq(struct hpet *s, int which, int level);
// The GSI an enabled timer interrupts on, or -1 (disabled, or the counter stopped).
int hpet_timer_gsi(const struct hpet *s, unsigned n);

#endif
