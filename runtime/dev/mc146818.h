// MC146818A real-time clock and CMOS RAM, the PC's "CMOS" at ports 0x70/0x71 (Motorola
// MC146818A datasheet; PC/AT CMOS layout as QEMU's pc_cmos_init fills it).
#ifndef RING1_MC146818_H
#define RING1_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define RTC_PORT_INDEX   0x70   // bit 7: NMI disable; bits 6-0: register
#define RTC_PORT_DATA    0x71

#define RTC_SECONDS      0x00
#define RTC_MINUTES      0x02
#define RTC_HOURS        0x04   // bit 7 = PM in 12-hour mode
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
#define RTC_A_DV_32K     0x20   // divider: 32.768 kHz time base, running
#define RTC_A_RS_1024HZ  0x06   // rate select reset value (976.562 us)
#define RTC_B_SET        0x80   // updates inhibited (the clock is being set)
#define RTC_B_PIE        0x40   // periodic interrupt enable
#define RTC_B_AIE        0x20   // alarm interrupt enable
#define RTC_B_UIE        0x10   // update-ended interrupt enable
#define RTC_B_DM         0x04   // data mode: 1 = binary, 0 = BCD
#define RTC_B_24H        0x02   // 24-hour mode
#define RTC_D_VRT        0x80   // valid RAM and time

struct mc146818 {
    uint8_t index;             // last register selected through port 0x70
    uint8_t nmi_disabled;
    uint8_t ram[128];          // CMOS RAM; registers 0-13 are the clock's
    int64_t offset;            // guest time = host time + offset (seconds)
    int64_t (*now)(void *opaque);   // host time, seconds since the epoch (UTC)
    void *now_opaque;
};

// ram_size: guest RAM in bytes, for the memory-size bytes of the CMOS layout.
void mc146818_init(struct mc146818 *r, uint32_t ram_size);
uint8_t mc146818_read(struct mc146818 *r, unsigned port);
void mc146818_write(struct mc146818 *r, unsigned port, uint8_t val);

#endif
