// The power management function of QEMU's PC (PCI 00:01.3, Intel 82371AB PIIX4 function 3, as
// QEMU's hw/acpi/piix4.c, hw/acpi/core.c and hw/isa/apm.c model it; ACPI 1.0b §4.7 for the
// fixed hardware): the ACPI PM1a event and control registers and the PM timer in the
// 64-byte PM I/O block (at 0x600, where SeaBIOS puts PMBA), the GPE0 block at 0xafe0, and
// the APM control/status ports 0xb2/0xb3. Its PCI configuration header is dev/pci.c's.
//
// PM block (offsets from PMBA; byte and word accesses, dwords too for the timer):
//   0x00 PM1a_STS (16)  write 1 to clear; TMR_STS set when the timer's bit 23 changes
//   0x02 PM1a_EN  (16)
//   0x04 PM1a_CNT (16)  SCI_EN; SLP_TYP + SLP_EN: 0 = soft off (S5), 1 = S3, 2 = S4
//   0x08 PM_TMR   (32)  24 bits at 3.579545 MHz from the guest's clock; writes ignored
//   the rest of the 64 bytes: nothing (all ones, as unassigned ports)
// GPE0 (bytes): 0-1 GPE0_STS (write 1 to clear), 2-3 GPE0_EN.
// APM: 0xb2 APMC (a write of 0xf1/0xf0 sets/clears SCI_EN: ACPI_ENABLE/ACPI_DISABLE), 0xb3
// APMS; both read back. ring1 has no SMM: no SMI is raised.
// The SCI (IRQ 9, level, active high) is raised while a PM1 event or GPE0 status bit is set
// and enabled, computed at each register access (the timer's overflow does not raise it
// between accesses).
#ifndef RING1_PIIX4_PM_H
#define RING1_PIIX4_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define PIIX4_PM_BASE       0x600     // PMBA as SeaBIOS programs it
#define PIIX4_PM_SIZE       64
#define PIIX4_SMB_BASE      0x700     // SMBus base as SeaBIOS programs it (not modelled)
#define PIIX4_GPE0_BASE     0xafe0
#define PIIX4_GPE0_LEN      4
#define PIIX4_SCI_IRQ       9
#define APM_CNT_PORT        0xb2
#define APM_STS_PORT        0xb3

#define PM1_STS             0x00
#define PM1_EN              0x02
#define PM1_CNT             0x04
#define PM_TMR              0x08

// PM1 status/enable bits (ACPI 1.0b §4.7.3.1).
#define PM1_TMR             0x0001
#define PM1_GBL             0x0020
#define PM1_PWRBTN          0x0100
#define PM1_SLPBTN          0x0200
#define PM1_RTC             0x0400
#define PM1_WAK_STS         0x8000
#define PM1_SCI_EVENTS      (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)
// PM1 control (§4.7.3.2).
#define PM1_CNT_SCI_EN      0x0001
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN      0x2000

#define PM_TIMER_HZ         3579545u
#define APM_ACPI_ENABLE     0xf1
#define APM_ACPI_DISABLE    0xf0
#define PIIX4_S4_VAL        2         // QEMU's default SLP_TYP for S4

// What a sleep request asks for.
enum piix4_sleep { PIIX4_SOFT_OFF, PIIX4_SUSPEND };

struct piix4_pm {
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint8_t gpe_sts[PIIX4_GPE0_LEN / 2], gpe_en[PIIX4_GPE0_LEN / 2];
    uint8_t apmc, apms;
    uint64_t tmr_overflow;    // PM timer ticks at which TMR_STS is next set
    struct irq_line sci;
    uint64_t (*now)(void *opaque);                       // the guest's time, ns
    void (*sleep)(void *opaque, enum piix4_sleep what);  // SLP_EN written
    void *opaque;
};

// Reset state, then what SeaBIOS leaves: APMC 0 (its SMM set-up's last command), APMS 0.
// (With a VGA, SeaBIOS's last command is CALL32SMM_CMDID: the caller sets it.)
#define APM_CALL32SMM 0xb5
void piix4_pm_init(struct piix4_pm *s);
uint64_t piix4_pm_timer_ticks(struct piix4_pm *s);
uint32_t piix4_pm_read(struct piix4_pm *s, uint16_t off, int size);
void piix4_pm_write(struct piix4_pm *s, uint16_t off, int size, uint32_t v);
uint8_t piix4_gpe_read(struct piix4_pm *s, uint16_t off);
void piix4_gpe_write(struct piix4_pm *s, uint16_t off, uint8_t v);
uint8_t piix4_apm_read(struct piix4_pm *s, uint16_t off);
void piix4_apm_write(struct piix4_pm *s, uint16_t off, uint8_t v);

#endif
