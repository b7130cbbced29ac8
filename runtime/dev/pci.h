// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2) with an empty
// bus: CONFIG_ADDRESS latches what is written, CONFIG_DATA answers "no device" (all ones).
#ifndef RING1_PCI_H
#define RING1_PCI_H

#include <stdint.h>

#define PCI_CONFIG_ADDRESS 0xcf8   // 32-bit: enable (bit 31), bus, device, function, register
#define PCI_CONFIG_DATA    0xcfc   // 0xcfc-0xcff: the addressed configuration dword
#define PCI_CONFIG_ENABLE  0x80000000u

struct pci_host {
    uint32_t config_address;
};

// offset: 0-3 = CONFIG_ADDRESS bytes, 4-7 = CONFIG_DATA bytes (relative to 0xcf8).
uint32_t pci_host_read(struct pci_host *p, unsigned offset, int size);
void pci_host_write(struct pci_host *p, unsigned offset, int size, uint32_t val);

#endif
