// The tables a PC's firmware leaves in memory (BDA, EBDA, IVT, MP tables), as SeaBIOS does.
#ifndef RING1_FIRMWARE_H
#define RING1_FIRMWARE_H

// A BIOS hard disk (0x80, 0x81...: the ATA drives in index order) and its geometry.
struct firmware_disk {
    unsigned cyls, heads, secs;
};

// Write them into guest RAM (once, before the kernel starts).
void firmware_init(const struct firmware_disk *disks, unsigned ndisks);
// With a VGA: the BIOS data area's video fields as its BIOS leaves them in text mode 3.
void firmware_vga_text(void);

#endif
