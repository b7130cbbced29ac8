// MC146818A real-time clock and CMOS RAM, the PC's "CMOS" at ports 0x70/0x71 (Motorola
// MC146818A datasheet; PC/AT CMOS layout as QEMU's pc_cmos_init fills it), with its
// interrupt (IRQ 8): periodic, alarm and update-ended.
#ifndef RING1_MC146818_H
#define RING1_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define RTC_PORT_INDEX   0x70   // bit 7: NMI disable; bits 6-0: register
#define RTC_PORT_DATA    0x71
#define RTC_IRQ          8

#define RTC_SECONDS      0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES      0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS        0x04   // bit 7 = PM in 12-hour mode
#define RTC_HOURS_ALARM  0x05
#define RTC_DAY_OF_WEEK  0x06   // 1 = Sunday
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH        0x08
#define RTC_YEAR         0x09
#define RTC_REG_A        0x0a
#define RTC_REG_B        0x0b
#define RTC_REG_C        0x0c
#define RTC_REG_D        0x0d
#define RTC_CENTURY      0x32   // IBM PC/AT convention

#define RTC_A_UIP        0x80   // update in progress
#define RTC_A_DV         0x70   // divider control: 010 = 32.768 kHz time base, running
#define RTC_A_DV_32K     0x20
#define RTC_A_DV_RESET   0x60   // 11x: divider chain held in reset
#define RTC_A_RS         0x0f   // rate select (periodic interrupt)
#define RTC_A_RS_1024HZ  0x06   // rate select reset value (976.562 us)
#define RTC_B_SET        0x80   // updates inhibited (the clock is being set)
#define RTC_B_PIE        0x40   // periodic interrupt enable
#define RTC_B_AIE        0x20   // alarm interrupt enable
#define RTC_B_UIE        0x10   // update-ended interrupt enable
#define RTC_B_SQWE       0x08   // square-wave enable (no pin here)
#define RTC_B_DM         0x04   // data mode: 1 = binary, 0 = BCD
#define RTC_B_24H        0x02   // 24-hour mode
#define RTC_C_IRQF       0x80   // = PF & PIE | AF & AIE | UF & UIE: the IRQ pin
#define RTC_C_PF         0x40   // periodic edge seen
#define RTC_C_AF         0x20   // alarm time reached
#define RTC_C_UF         0x10   // update cycle ended
#define RTC_D_VRT        0x80   // valid RAM and time

#define RTC_ALARM_DONT_CARE 0xc0   // an alarm byte 0xC0-0xFF matches every value

struct mc146818 {
    uint8_t index;             // last register selected through port 0x70
    uint8_t nmi_disabled;
    uint8_t ram[128];          // CMOS RAM; registers 0-13 are the clock's
    int64_t offset_ns;         // guest time = host time + offset (ns); its phase is the
                               // divider chain's: a second ends when it is a multiple of 1e9
    int64_t synced;            // guest time up to which the flags of register C are current
    int64_t armed;             // host deadline last handed to arm() (0 = none, -1 = expired)
    uint32_t pf_backlog;       // periodic edges the host timer was late for, still to show
    uint64_t min_period_ns;    // host timer floor: faster periodic rates are slowed down
    struct irq_line irq;       // the IRQ pin (IRQF), active high here (ISA IRQ 8)
    bool irq_level;
    // Host time: nanoseconds since the epoch (UTC), and an absolute host-time deadline at
    // which to call mc146818_timer (0: none). Without arm, interrupts only show when polled.
    int64_t (*now)(void *opaque);
    void (*arm)(void *opaque, int64_t deadline_ns);
    void *opaque;
};

// ram_size: guest RAM in bytes, for the memory-size bytes of the CMOS layout.
void mc146818_init(struct mc146818 *r, uint32_t ram_size);
uint8_t mc146818_read(struct mc146818 *r, unsigned port);
void mc146818_write(struct mc146818 *r, unsigned port, uint8_t val);
// The deadline given to arm() has passed: set the flags that are due, raise IRQF, re-arm.
void mc146818_timer(struct mc146818 *r);

#endif
