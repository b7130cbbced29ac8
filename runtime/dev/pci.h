// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2) on bus 0 of
// QEMU's i440FX PC, minus what ring1 does not emulate: the host bridge (00:00.0, Intel
// 82441FX), the PIIX3 PCI-to-ISA bridge (00:01.0, Intel 82371SB function 0) and QEMU's PIIX4
// power management function (00:01.3, Intel 82371AB function 3: dev/piix4_pm.c) answer with
// their configuration headers; every other address is a master abort (all ones). The
// PIIX3's IDE (00:01.1) is absent: the ATA channels are the legacy ISA ones, without
// bus-master DMA. With --vga std (the default), QEMU's std VGA answers at 00:02.0
// (pci_add_std_vga).
#ifndef RING1_PCI_H
#define RING1_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_CONFIG_ADDRESS 0xcf8   // 32-bit: enable (bit 31), bus, device, function, register
#define PCI_CONFIG_DATA    0xcfc   // 0xcfc-0xcff: the addressed configuration dword
#define PCI_CONFIG_ENABLE  0x80000000u

// Configuration header offsets (PCI 3.0 §6.1).
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION       0x08
#define PCI_CLASS_PROG     0x09
#define PCI_CLASS_DEVICE   0x0a
#define PCI_HEADER_TYPE    0x0e
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_INTERRUPT_LINE 0x3c

#define PCI_CACHE_LINE     0x0c
#define PCI_BAR0           0x10
#define PCI_BAR2           0x18
#define PCI_ROM_BAR        0x30

// Device-specific registers the firmware sets.
#define I440FX_RAM_SIZE    0x57       // QEMU's: RAM in 8 MiB units (coreboot reads it)
#define I440FX_PAM         0x59       // PAM0-6: shadow RAM attributes of 0xC0000-0xFFFFF
#define I440FX_SMRAM       0x72       // SMRAM control
#define PIIX3_PIRQ_ROUTE   0x60       // PIRQA-D route control: the ISA IRQ of each
#define PIIX4_PMBA         0x40       // power management base address (I/O, bit 0 set)
#define PIIX4_PMREGMISC    0x80       // bit 0: PM I/O space enabled
#define PIIX4_SMBBA        0x90       // SMBus base address (I/O, bit 0 set)
#define PIIX4_SMBHSTCFG    0xd2       // SMBus host configuration: enable, interrupt select
#define PCI_INTERRUPT_PIN  0x3d

#define PIIX3_RCR_PORT     0xcf9      // reset control register (I/O, byte)
#define PIIX3_RCR_SYS_RST  0x02       // hard (full) reset rather than a CPU reset
#define PIIX3_RCR_RST_CPU  0x04       // 1: reset now

#define PCI_NFUNCS 4
#define PCI_PIIX4_PM_DEVFN 0x0b   // 00:01.3
#define PCI_VGA_DEVFN 0x10         // 00:02.0, where QEMU puts its std VGA

struct pci_function {
    uint8_t devfn;             // device << 3 | function, on bus 0
    uint8_t config[256];
    uint8_t wmask[256];        // bits the guest may change
};

struct pci_host {
    uint32_t config_address;
    struct pci_function fn[PCI_NFUNCS];
    unsigned nfn;
    uint8_t rcr;               // PIIX3 reset control register: the reset type
};

// The host bridge and the ISA bridge as QEMU's board and SeaBIOS leave them, with ram_bytes
// of RAM.
void pci_host_init(struct pci_host *p, uint32_t ram_bytes);
uint8_t pci_rcr_read(const struct pci_host *p);
// True when the write asks for a reset (the caller resets the machine).
bool pci_rcr_write(struct pci_host *p, uint8_t val);
// QEMU's std VGA (1234:1111, display controller) at 00:02.0, its BARs where SeaBIOS puts
// them: 16 MiB prefetchable framebuffer, 4 KiB registers, 64 KiB expansion ROM (disabled).
// Only the configuration header: nothing answers at those addresses.
void pci_add_std_vga(struct pci_host *p);
// QEMU's PIIX4 power management function at 00:01.3 as SeaBIOS leaves it: SCI on IRQ 9,
// PM I/O at pm_base and SMBus at smb_base, both enabled.
void pci_add_piix4_pm(struct pci_host *p, uint16_t pm_base, uint16_t smb_base);
// The PM I/O base the guest has programmed (PMBA), or 0 while PMREGMISC disables it.
uint16_t pci_piix4_pm_base(const struct pci_host *p);
// offset: 0-3 = CONFIG_ADDRESS bytes, 4-7 = CONFIG_DATA bytes (relative to 0xcf8).
uint32_t pci_host_read(struct pci_host *p, unsigned offset, int size);
void pci_host_write(struct pci_host *p, unsigned offset, int size, uint32_t val);

#endif
