// MC146818A real-time clock and CMOS RAM. Motorola MC146818A datasheet: register map
// (time, alarm, registers A-D), data modes (BCD/binary, 12/24 hour), SET inhibiting updates.
// The time is the host's UTC clock plus an offset the guest sets by writing the registers,
// like QEMU's default "-rtc base=utc". Not modelled yet: periodic, alarm and update-ended
// interrupts (IRQ8), daylight saving.
#include "mc146818.h"

#include <string.h>
#include <time.h>

static uint8_t to_reg(const struct mc146818 *r, int v)
{
    if (r->ram[RTC_REG_B] & RTC_B_DM)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_reg(const struct mc146818 *r, uint8_t v)
{
    if (r->ram[RTC_REG_B] & RTC_B_DM)
        return v;
    return (v >> 4) * 10 + (v & 15);
}

static int64_t guest_time(const struct mc146818 *r)
{
    return (r->now ? r->now(r->now_opaque) : 0) + r->offset;
}

// Fill registers 0-9 and the century from the guest's time.
static void latch_time(struct mc146818 *r)
{
    time_t t = (time_t)guest_time(r);
    struct tm tm;
    gmtime_r(&t, &tm);
    r->ram[RTC_SECONDS] = to_reg(r, tm.tm_sec);
    r->ram[RTC_MINUTES] = to_reg(r, tm.tm_min);
    int h = tm.tm_hour;
    if (r->ram[RTC_REG_B] & RTC_B_24H) {
        r->ram[RTC_HOURS] = to_reg(r, h);
    } else {
        int h12 = h % 12 ? h % 12 : 12;
        r->ram[RTC_HOURS] = (uint8_t)(to_reg(r, h12) | (h >= 12 ? 0x80 : 0));
    }
    r->ram[RTC_DAY_OF_WEEK] = to_reg(r, tm.tm_wday + 1);
    r->ram[RTC_DAY_OF_MONTH] = to_reg(r, tm.tm_mday);
    r->ram[RTC_MONTH] = to_reg(r, tm.tm_mon + 1);
    r->ram[RTC_YEAR] = to_reg(r, tm.tm_year % 100);
    r->ram[RTC_CENTURY] = to_reg(r, (tm.tm_year + 1900) / 100);
}

// The guest wrote the time registers: make them the clock's new time.
static void set_time_from_regs(struct mc146818 *r)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_sec = from_reg(r, r->ram[RTC_SECONDS]);
    tm.tm_min = from_reg(r, r->ram[RTC_MINUTES]);
    int h = from_reg(r, r->ram[RTC_HOURS] & 0x7f);
    if (!(r->ram[RTC_REG_B] & RTC_B_24H))
        h = (h % 12) + ((r->ram[RTC_HOURS] & 0x80) ? 12 : 0);
    tm.tm_hour = h;
    tm.tm_mday = from_reg(r, r->ram[RTC_DAY_OF_MONTH]);
    tm.tm_mon = from_reg(r, r->ram[RTC_MONTH]) - 1;
    tm.tm_year = from_reg(r, r->ram[RTC_CENTURY]) * 100 + from_reg(r, r->ram[RTC_YEAR]) - 1900;
    r->offset = (int64_t)timegm(&tm) - (r->now ? r->now(r->now_opaque) : 0);
}

void mc146818_init(struct mc146818 *r, uint32_t ram_size)
{
    int64_t (*now)(void *) = r->now;
    void *opaque = r->now_opaque;
    memset(r, 0, sizeof *r);
    r->now = now;
    r->now_opaque = opaque;
    r->ram[RTC_REG_A] = RTC_A_DV_32K | RTC_A_RS_1024HZ;
    r->ram[RTC_REG_B] = RTC_B_24H;
    r->ram[RTC_REG_D] = RTC_D_VRT;
    // PC/AT CMOS memory sizes (QEMU pc_cmos_init): base 640 KiB, extended KiB above 1 MiB
    // (capped at 65535), 64 KiB blocks above 16 MiB (capped at 65535).
    r->ram[0x14] = 0x06;                       // equipment: FPU, PS/2 mouse
    r->ram[0x15] = 640 & 0xff;
    r->ram[0x16] = 640 >> 8;
    uint32_t ext = ram_size > 0x100000 ? (ram_size - 0x100000) / 1024 : 0;
    if (ext > 65535)
        ext = 65535;
    r->ram[0x17] = r->ram[0x30] = (uint8_t)ext;
    r->ram[0x18] = r->ram[0x31] = (uint8_t)(ext >> 8);
    uint32_t above16 = ram_size > 0x1000000 ? (ram_size - 0x1000000) / 65536 : 0;
    if (above16 > 65535)
        above16 = 65535;
    r->ram[0x34] = (uint8_t)above16;
    r->ram[0x35] = (uint8_t)(above16 >> 8);
    // QEMU's boot configuration bytes, read from a guest (runtime/tests/guest/pcinfo.c):
    // boot order (0x3d, 0x38 high nibble) and 0x37 as pc_cmos_init leaves them.
    r->ram[0x37] = 0x20;
    r->ram[0x38] = 0x30;
    r->ram[0x3d] = 0x12;
    latch_time(r);
}

uint8_t mc146818_read(struct mc146818 *r, unsigned port)
{
    if ((port & 1) == 0)
        return 0xff;   // the index register is write-only
    unsigned reg = r->index;
    if (reg <= RTC_YEAR || reg == RTC_CENTURY) {
        if (!(r->ram[RTC_REG_B] & RTC_B_SET))
            latch_time(r);
        return r->ram[reg];
    }
    if (reg == RTC_REG_C) {
        uint8_t v = r->ram[RTC_REG_C];
        r->ram[RTC_REG_C] = 0;   // flags clear on read
        return v;
    }
    return r->ram[reg];
}

void mc146818_write(struct mc146818 *r, unsigned port, uint8_t val)
{
    if ((port & 1) == 0) {
        r->index = val & 0x7f;
        r->nmi_disabled = val >> 7;
        return;
    }
    unsigned reg = r->index;
    switch (reg) {
    case RTC_REG_A:
        r->ram[reg] = (uint8_t)((val & 0x7f) | (r->ram[reg] & RTC_A_UIP));
        break;
    case RTC_REG_B: {
        uint8_t old = r->ram[reg];
        if (!(old & RTC_B_SET))
            latch_time(r);               // freeze the registers as they are now
        r->ram[reg] = val;
        if ((old & RTC_B_SET) && !(val & RTC_B_SET))
            set_time_from_regs(r);       // SET cleared: the written time starts running
        break;
    }
    case RTC_REG_C:
    case RTC_REG_D:
        break;                           // read-only
    default:
        r->ram[reg] = val;
        if ((reg <= RTC_YEAR || reg == RTC_CENTURY) && !(r->ram[RTC_REG_B] & RTC_B_SET))
            set_time_from_regs(r);
        break;
    }
}
