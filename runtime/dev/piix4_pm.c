// PIIX4 power management (see piix4_pm.h): QEMU's ACPI PM1a/PM timer/GPE0 registers and
// its APM ports, with QEMU's reset state and what SeaBIOS leaves in them.
#include "piix4_pm.h"

#include <string.h>

void piix4_pm_init(struct piix4_pm *s)
{
    s->pm1_sts = s->pm1_en = s->pm1_cnt = 0;
    memset(s->gpe_sts, 0, sizeof s->gpe_sts);
    memset(s->gpe_en, 0, sizeof s->gpe_en);
    s->tmr_overflow = 0;
    s->apmc = 0;   // SeaBIOS's last SMI command: the end of its SMM set-up
    s->apms = 0;
}

// The PM timer's clock: the guest's time in 3.579545 MHz ticks (QEMU's
// acpi_pm_tmr_get_clock, from the virtual clock).
uint64_t piix4_pm_timer_ticks(struct piix4_pm *s)
{
    return (uint64_t)((unsigned __int128)s->now(s->opaque) * PM_TIMER_HZ / 1000000000u);
}

// TMR_STS is set once the timer has passed the next multiple of 2^23 (its bit 23 changed).
static uint16_t pm1_sts(struct piix4_pm *s)
{
    if (piix4_pm_timer_ticks(s) >= s->tmr_overflow)
        s->pm1_sts |= PM1_TMR;
    return s->pm1_sts;
}

static void update_sci(struct piix4_pm *s)
{
    bool level = (pm1_sts(s) & s->pm1_en & PM1_SCI_EVENTS) ||
                 (s->gpe_sts[0] & s->gpe_en[0]);
    irq_line_set(&s->sci, level);
}

// QEMU's registers take byte and word accesses (the timer dwords too) and implement them
// as a word (the timer a dword) at the address accessed, cut to the access's size: so the
// control register and the timer answer at every byte address of theirs, the event block
// only at 0 and 2. Wider accesses are refused: reads 0, writes ignored.
uint32_t piix4_pm_read(struct piix4_pm *s, uint16_t off, int size)
{
    uint32_t mask = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu, v;
    if (off < PM1_CNT) {
        if (size > 2)
            return 0;
        v = off == PM1_STS ? pm1_sts(s) : off == PM1_EN ? s->pm1_en : 0;
    } else if (off < PM1_CNT + 2) {
        if (size > 2)
            return 0;
        v = s->pm1_cnt;
    } else if (off >= PM_TMR && off < PM_TMR + 4) {
        v = (uint32_t)(piix4_pm_timer_ticks(s) & 0xffffff);
    } else {
        v = 0xffffffffu;   // nothing there: all ones, as unassigned ports
    }
    return v & mask;
}

static void pm1_cnt_write(struct piix4_pm *s, uint16_t val)
{
    s->pm1_cnt = val & (uint16_t)~PM1_CNT_SLP_EN;
    if (!(val & PM1_CNT_SLP_EN))
        return;
    unsigned typ = (val >> PM1_CNT_SLP_TYP_SHIFT) & 7;
    if (typ == 0 || typ == PIIX4_S4_VAL)
        s->sleep(s->opaque, PIIX4_SOFT_OFF);
    else if (typ == 1)
        s->sleep(s->opaque, PIIX4_SUSPEND);
}

void piix4_pm_write(struct piix4_pm *s, uint16_t off, int size, uint32_t v)
{
    if (size > 2)
        return;   // refused (and the timer ignores writes of any size)
    uint16_t val = (uint16_t)(size == 1 ? v & 0xff : v & 0xffff);
    if (off == PM1_STS) {
        if (pm1_sts(s) & val & PM1_TMR) {
            uint64_t t = piix4_pm_timer_ticks(s);
            s->tmr_overflow = (t + 0x800000) & ~(uint64_t)0x7fffff;
        }
        s->pm1_sts &= (uint16_t)~val;
        update_sci(s);
    } else if (off == PM1_EN) {
        s->pm1_en = val;
        update_sci(s);
    } else if (off == PM1_CNT || off == PM1_CNT + 1) {
        pm1_cnt_write(s, val);
    }
}

uint8_t piix4_gpe_read(struct piix4_pm *s, uint16_t off)
{
    unsigned half = PIIX4_GPE0_LEN / 2;
    return off < half ? s->gpe_sts[off] : off < PIIX4_GPE0_LEN ? s->gpe_en[off - half] : 0;
}

void piix4_gpe_write(struct piix4_pm *s, uint16_t off, uint8_t v)
{
    unsigned half = PIIX4_GPE0_LEN / 2;
    if (off < half)
        s->gpe_sts[off] &= (uint8_t)~v;
    else if (off < PIIX4_GPE0_LEN)
        s->gpe_en[off - half] = v;
    update_sci(s);
}

uint8_t piix4_apm_read(struct piix4_pm *s, uint16_t off)
{
    return off == 0 ? s->apmc : s->apms;
}

// ACPI 1.0b §4.7.2.5: the OS writes ACPI_ENABLE to SMI_CMD and waits for SCI_EN. Every other
// command would raise an SMI, which ring1 does not have.
void piix4_apm_write(struct piix4_pm *s, uint16_t off, uint8_t v)
{
    if (off) {
        s->apms = v;
        return;
    }
    s->apmc = v;
    if (v == APM_ACPI_ENABLE)
        s->pm1_cnt |= PM1_CNT_SCI_EN;
    else if (v == APM_ACPI_DISABLE)
        s->pm1_cnt &= (uint16_t)~PM1_CNT_SCI_EN;
}
