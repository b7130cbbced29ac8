// The tables a PC's firmware leaves in memory (BDA, EBDA, IVT, MP tables, ACPI tables), as
// SeaBIOS does.
#ifndef RING1_FIRMWARE_H
#define RING1_FIRMWARE_H

#include <stdint.h>

// SeaBIOS keeps the top 128 KiB of RAM for its "high" tables (the ACPI tables QEMU gives it):
// reserved in the e820 map.
#define BIOS_RESERVED_TOP 0x20000u
// Where SeaBIOS puts the ACPI root pointer in its F segment (QEMU 7.2's pc machine).
#define ACPI_RSDP_ADDR    0xf59d0u

// A BIOS hard disk (0x80, 0x81...: the ATA drives in index order) and its geometry.
struct firmware_disk {
    unsigned cyls, heads, secs;
};

// Write them into guest RAM (once, before the kernel starts).
void firmware_init(const struct firmware_disk *disks, unsigned ndisks);
// With a VGA: the BIOS data area's video fields as its BIOS leaves them in text mode 3.
void firmware_vga_text(void);

#endif
