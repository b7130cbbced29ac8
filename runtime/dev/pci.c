// PCI configuration mechanism #1 with QEMU's host bridge and ISA bridge (PCI Local Bus
// Specification 3.0 §3.2.2.3.2; header values as QEMU 7.2's i440fx and piix3 report them).
// Only a 32-bit write to 0xcf8 sets CONFIG_ADDRESS; a narrower read anywhere in 0xcf8-0xcfb
// reads its low bytes, as QEMU's host bridge answers (0xcf9 is the PIIX3's reset control
// register, below). CONFIG_DATA accepts 8-, 16- and 32-bit accesses at their byte offset.
#include "pci.h"

#include <string.h>

static void put16(uint8_t *c, unsigned off, uint16_t v)
{
    c[off] = (uint8_t)v;
    c[off + 1] = (uint8_t)(v >> 8);
}

static void function(struct pci_function *f, uint8_t devfn, uint16_t vendor, uint16_t device,
                     uint8_t rev, uint32_t class, uint8_t header, uint16_t status)
{
    memset(f, 0, sizeof *f);
    f->devfn = devfn;
    put16(f->config, PCI_VENDOR_ID, vendor);
    put16(f->config, PCI_DEVICE_ID, device);
    put16(f->config, PCI_STATUS, status);
    f->config[PCI_REVISION] = rev;
    f->config[PCI_CLASS_PROG] = (uint8_t)class;
    put16(f->config, PCI_CLASS_DEVICE, (uint16_t)(class >> 8));
    f->config[PCI_HEADER_TYPE] = header;
    put16(f->config, PCI_SUBSYS_VENDOR, 0x1af4);   // QEMU's subsystem IDs
    put16(f->config, PCI_SUBSYS_ID, 0x1100);
    // The guest may change the command register (as QEMU: I/O, memory, bus master, SERR#,
    // INTx disable), the cache line size and the device-specific space (PAM, SMRAM, PIRQ
    // routing...); identification stays read-only.
    put16(f->wmask, PCI_COMMAND, 0x0507);
    f->wmask[PCI_CACHE_LINE] = 0xff;
    f->wmask[PCI_INTERRUPT_LINE] = 0xff;
    memset(f->wmask + 0x40, 0xff, 0xc0);
}

void pci_host_init(struct pci_host *p, uint32_t ram_bytes)
{
    memset(p, 0, sizeof *p);
    // 00:00.0 Intel 82441FX PMC (host bridge), 00:01.0 Intel 82371SB PIIX3 ISA bridge
    // (multi-function: the header type's bit 7).
    p->nfn = 2;
    function(&p->fn[0], 0x00, 0x8086, 0x1237, 0x02, 0x060000, 0x00, 0x0000);
    function(&p->fn[1], 0x08, 0x8086, 0x7000, 0x00, 0x060100, 0x80, 0x0200);
    p->fn[0].config[PCI_COMMAND] = 0x03;           // I/O and memory space, SERR#: as
    p->fn[0].config[PCI_COMMAND + 1] = 0x01;       // SeaBIOS leaves both
    p->fn[1].config[PCI_COMMAND] = 0x03;
    p->fn[1].config[PCI_COMMAND + 1] = 0x01;
    p->config_address = PCI_CONFIG_ENABLE | (I440FX_PAM + 3);   // SeaBIOS's last access

    // i440FX: QEMU's board puts the RAM size in 8 MiB units at 0x57; SeaBIOS leaves the BIOS
    // shadow read-only and the rest of 0xC0000-0xFFFFF read-write (PAM0-6), SMRAM closed
    // (G_SMRAME, C_BASE_SEG 0xA0000).
    uint32_t ram8m = ram_bytes >> 23;
    p->fn[0].config[I440FX_RAM_SIZE] = (uint8_t)(ram8m > 255 ? 255 : ram8m);
    static const uint8_t pam[7] = {0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x33};
    memcpy(p->fn[0].config + I440FX_PAM, pam, sizeof pam);
    p->fn[0].config[I440FX_SMRAM] = 0x0a;

    // PIIX3 after reset (datasheet defaults: I/O recovery, X-bus chip select, top of memory,
    // motherboard IRQ/DMA routing disabled, SMI control and enables), with PIRQA-D routed as
    // SeaBIOS routes them: IRQ 10, 10, 11, 11.
    uint8_t *c = p->fn[1].config;
    c[0x4c] = 0x4d;
    c[0x4e] = 0x03;
    static const uint8_t pirq[4] = {0x0a, 0x0a, 0x0b, 0x0b};
    memcpy(c + PIIX3_PIRQ_ROUTE, pirq, sizeof pirq);
    c[0x69] = 0x02;
    c[0x70] = 0x80;
    c[0x76] = 0x0c;
    c[0x77] = 0x0c;
    c[0x78] = 0x02;
    c[0xa0] = 0x08;
    c[0xa8] = 0x0f;
}

static void put32(uint8_t *c, unsigned off, uint32_t v)
{
    put16(c, off, (uint16_t)v);
    put16(c, off + 2, (uint16_t)(v >> 16));
}

void pci_add_std_vga(struct pci_host *p)
{
    struct pci_function *f = &p->fn[p->nfn++];
    function(f, PCI_VGA_DEVFN, 0x1234, 0x1111, 0x02, 0x030000, 0x00, 0x0000);
    put16(f->config, PCI_COMMAND, 0x0103);         // I/O, memory, SERR#, as SeaBIOS leaves it
    // A BAR keeps the address bits above its size (the guest sizes it by writing ones).
    put32(f->config, PCI_BAR0, 0xfd000008);        // memory, prefetchable
    put32(f->wmask, PCI_BAR0, 0xff000000);
    put32(f->config, PCI_BAR2, 0xfebf0000);
    put32(f->wmask, PCI_BAR2, 0xfffff000);
    put32(f->config, PCI_ROM_BAR, 0xfebe0000);
    put32(f->wmask, PCI_ROM_BAR, 0xffff0001);      // and the enable bit
}

void pci_add_piix4_pm(struct pci_host *p, uint16_t pm_base, uint16_t smb_base)
{
    struct pci_function *f = &p->fn[p->nfn++];
    // Intel 82371AB PIIX4 ACPI, revision 3, bridge device class "other" (QEMU's piix4_pm):
    // fast back-to-back capable, medium DEVSEL timing; I/O and memory space and SERR# on, as
    // SeaBIOS leaves every function.
    function(f, PCI_PIIX4_PM_DEVFN, 0x8086, 0x7113, 0x03, 0x068000, 0x00, 0x0280);
    put16(f->config, PCI_COMMAND, 0x0103);
    f->config[PCI_INTERRUPT_LINE] = 9;             // SeaBIOS: the SCI is hardwired to IRQ 9
    f->config[PCI_INTERRUPT_PIN] = 1;              // INTA#
    put32(f->config, PIIX4_PMBA, (uint32_t)pm_base | 1);
    f->config[0x5b] = 0x02;   // DEVACTB: "SMM already set up", as QEMU marks it
    // What QEMU's board sets once the machine is built: the device resource bytes for the
    // parallel port (0x5f bit 7: none here), 0x63, and the serial ports (0x67: COM1 only).
    f->config[0x5f] = 0x10;
    f->config[0x63] = 0x60;
    f->config[0x67] = 0x08;
    f->config[PIIX4_PMREGMISC] = 0x01;
    put32(f->config, PIIX4_SMBBA, (uint32_t)smb_base | 1);
    f->config[PIIX4_SMBHSTCFG] = 0x09;
}

uint16_t pci_piix4_pm_base(const struct pci_host *p)
{
    for (unsigned i = 0; i < p->nfn; i++) {
        const struct pci_function *f = &p->fn[i];
        if (f->devfn != PCI_PIIX4_PM_DEVFN)
            continue;
        if (!(f->config[PIIX4_PMREGMISC] & 1))
            return 0;
        return (uint16_t)((f->config[PIIX4_PMBA] | f->config[PIIX4_PMBA + 1] << 8) & 0xffc0);
    }
    return 0;
}

// The addressed function, or NULL for a master abort.
static struct pci_function *target(struct pci_host *p, unsigned *reg)
{
    uint32_t a = p->config_address;
    if (!(a & PCI_CONFIG_ENABLE) || ((a >> 16) & 0xff) != 0)
        return NULL;
    *reg = a & 0xfc;
    for (unsigned i = 0; i < p->nfn; i++)
        if (p->fn[i].devfn == ((a >> 8) & 0xff))
            return &p->fn[i];
    return NULL;
}

uint32_t pci_host_read(struct pci_host *p, unsigned offset, int size)
{
    uint32_t ones = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
    if (offset < 4)
        return p->config_address & ones;
    unsigned reg;
    struct pci_function *f = target(p, &reg);
    if (!f)
        return ones;
    reg += offset - 4;
    uint32_t v = 0;
    for (int i = 0; i < size && reg + (unsigned)i < 256; i++)
        v |= (uint32_t)f->config[reg + (unsigned)i] << (8 * i);
    return v;
}

void pci_host_write(struct pci_host *p, unsigned offset, int size, uint32_t val)
{
    if (offset < 4) {
        if (offset == 0 && size == 4)
            p->config_address = val & 0x80fffffcu;   // reserved bits 30-24 and 1-0 read as 0
        return;
    }
    unsigned reg;
    struct pci_function *f = target(p, &reg);
    if (!f)
        return;
    reg += offset - 4;
    for (int i = 0; i < size && reg + (unsigned)i < 256; i++) {
        unsigned r = reg + (unsigned)i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        f->config[r] = (uint8_t)((f->config[r] & ~f->wmask[r]) | (b & f->wmask[r]));
    }
}

// The PIIX3's reset control register (0xcf9): bit 1 the reset type, kept; bit 2 resets.
uint8_t pci_rcr_read(const struct pci_host *p)
{
    return p->rcr;
}

bool pci_rcr_write(struct pci_host *p, uint8_t val)
{
    if (val & PIIX3_RCR_RST_CPU)
        return true;
    p->rcr = val & PIIX3_RCR_SYS_RST;
    return false;
}
