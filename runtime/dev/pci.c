// PCI configuration mechanism #1 with no devices (PCI Local Bus Specification 3.0
// §3.2.2.3.2). Only a 32-bit access to 0xcf8 reaches CONFIG_ADDRESS (narrower ones are
// ordinary I/O, which nothing decodes here); every CONFIG_DATA read is a master abort.
#include "pci.h"

uint32_t pci_host_read(struct pci_host *p, unsigned offset, int size)
{
    if (offset == 0 && size == 4)
        return p->config_address;
    return size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
}

void pci_host_write(struct pci_host *p, unsigned offset, int size, uint32_t val)
{
    if (offset == 0 && size == 4)
        p->config_address = val & 0x80fffffcu;   // reserved bits 30-24 and 1-0 read as 0
}
