// Tests of PCI configuration mechanism #1 (dev/pci.c): the host bridge and ISA bridge
// headers as QEMU's, master aborts elsewhere, write masks.
#include "unit.h"

#include "pci.h"

static struct pci_host p;

static uint32_t cfg(unsigned dev, unsigned fn, unsigned reg)
{
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | dev << 11 | fn << 8 | reg);
    return pci_host_read(&p, 4, 4);
}

TEST(host_bridge_header)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(0, 0, 0x00), 0x12378086);
    CHECK_EQ(cfg(0, 0, 0x04), 0x00000103);
    CHECK_EQ(cfg(0, 0, 0x08), 0x06000002);
    CHECK_EQ(cfg(0, 0, 0x2c), 0x11001af4);
}

TEST(isa_bridge_is_multifunction)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(1, 0, 0x00), 0x70008086);
    CHECK_EQ(cfg(1, 0, 0x0c), 0x00800000);
    CHECK_EQ(cfg(1, 0, 0x08), 0x06010000);
}

TEST(firmware_registers)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(0, 0, 0x54), 0x10000000);       // RAM size: 16 x 8 MiB
    CHECK_EQ(cfg(0, 0, 0x58), 0x11111000);       // PAM0-2
    CHECK_EQ(cfg(0, 0, 0x5c), 0x33111111);       // PAM3-6
    CHECK_EQ(cfg(0, 0, 0x70), 0x000a0000);       // SMRAM
    CHECK_EQ(cfg(1, 0, 0x60), 0x0b0b0a0a);       // PIRQA-D: IRQ 10, 10, 11, 11
    pci_host_init(&p, 4095u << 20);
    CHECK_EQ(cfg(0, 0, 0x54), 0xff000000);       // at most 255
}

TEST(absent_functions_abort)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(1, 1, 0x00), 0xffffffff);       // no PIIX3 IDE function in ring1
    CHECK_EQ(cfg(2, 0, 0x00), 0xffffffff);
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 1 << 16);   // bus 1
    CHECK_EQ(pci_host_read(&p, 4, 4), 0xffffffff);
}

TEST(config_address_is_written_only_32_bit)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(pci_host_read(&p, 0, 4), 0x8000005c);   // as SeaBIOS leaves it
    pci_host_write(&p, 0, 4, 0x80000004);
    CHECK_EQ(pci_host_read(&p, 0, 4), 0x80000004);
    // Narrower reads read its low bytes at any offset (QEMU's host bridge).
    CHECK_EQ(pci_host_read(&p, 0, 1), 0x04);
    CHECK_EQ(pci_host_read(&p, 3, 1), 0x04);
    CHECK_EQ(pci_host_read(&p, 2, 2), 0x0004);
    pci_host_write(&p, 0, 1, 0);                 // a byte write is not CONFIG_ADDRESS
    CHECK_EQ(pci_host_read(&p, 0, 4), 0x80000004);
}

TEST(reset_control_register)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(pci_rcr_read(&p), 0);
    CHECK(!pci_rcr_write(&p, 0xff & ~PIIX3_RCR_RST_CPU));
    CHECK_EQ(pci_rcr_read(&p), PIIX3_RCR_SYS_RST);   // only the reset type is kept
    CHECK(pci_rcr_write(&p, PIIX3_RCR_RST_CPU | PIIX3_RCR_SYS_RST));
}

TEST(byte_and_word_config_reads)
{
    pci_host_init(&p, 128u << 20);
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 0x00);
    CHECK_EQ(pci_host_read(&p, 6, 2), 0x1237);   // device ID at 0xcfe
    CHECK_EQ(pci_host_read(&p, 4, 1), 0x86);
}

TEST(identification_is_read_only_command_is_not)
{
    pci_host_init(&p, 128u << 20);
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 0x00);
    pci_host_write(&p, 4, 4, 0);
    CHECK_EQ(cfg(0, 0, 0), 0x12378086);
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 0x04);
    pci_host_write(&p, 4, 2, 0x0007);
    CHECK_EQ(cfg(0, 0, 0x04) & 0xffff, 0x0007);
}

TEST(std_vga_function_is_absent_until_added)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(2, 0, 0x00), 0xffffffff);
    pci_add_std_vga(&p);
    CHECK_EQ(cfg(2, 0, 0x00), 0x11111234);
    CHECK_EQ(cfg(2, 0, 0x04), 0x00000103);
    CHECK_EQ(cfg(2, 0, 0x08), 0x03000002);        // display controller, VGA compatible
    CHECK_EQ(cfg(2, 0, 0x10), 0xfd000008);
    CHECK_EQ(cfg(2, 0, 0x18), 0xfebf0000);
    CHECK_EQ(cfg(2, 0, 0x30), 0xfebe0000);
    CHECK_EQ(cfg(2, 1, 0x00), 0xffffffff);
    CHECK_EQ(cfg(0, 0, 0x00), 0x12378086);        // the others stay
}

// What QEMU's VGA keeps of all ones (runtime/tests/guest/vga.c reads it under QEMU).
TEST(std_vga_bars_size_as_qemus)
{
    pci_host_init(&p, 128u << 20);
    pci_add_std_vga(&p);
    static const struct { unsigned reg; uint32_t ff; } keeps[] = {
        {0x04, 0x00000507}, {0x0c, 0x000000ff}, {0x10, 0xff000008}, {0x14, 0},
        {0x18, 0xfffff000}, {0x30, 0xffff0001}, {0x3c, 0x000000ff},
    };
    for (unsigned i = 0; i < sizeof keeps / sizeof keeps[0]; i++) {
        pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 2 << 11 | keeps[i].reg);
        pci_host_write(&p, 4, 4, 0xffffffff);
        CHECK_EQ(cfg(2, 0, keeps[i].reg), keeps[i].ff);
    }
}

// QEMU's PIIX4 power management function as SeaBIOS leaves it (pcprobe reads it under QEMU);
// PMREGMISC and PMBA say where its PM block answers.
TEST(piix4_pm_function_as_seabios_leaves_it)
{
    pci_host_init(&p, 128u << 20);
    CHECK_EQ(cfg(1, 3, 0x00), 0xffffffff);
    pci_add_piix4_pm(&p, 0x600, 0x700);
    CHECK_EQ(cfg(1, 3, 0x00), 0x71138086);
    CHECK_EQ(cfg(1, 3, 0x04), 0x02800103);
    CHECK_EQ(cfg(1, 3, 0x08), 0x06800003);        // bridge, other; revision 3
    CHECK_EQ(cfg(1, 3, 0x3c), 0x00000109);        // INTA#, IRQ 9
    CHECK_EQ(cfg(1, 3, 0x40), 0x00000601);
    CHECK_EQ(cfg(1, 3, 0x58), 0x02000000);
    CHECK_EQ(cfg(1, 3, 0x80), 0x00000001);
    CHECK_EQ(cfg(1, 3, 0x90), 0x00000701);
    CHECK_EQ(cfg(1, 3, 0xd0), 0x00090000);
    CHECK_EQ(pci_piix4_pm_base(&p), 0x600);
    pci_host_write(&p, 0, 4, PCI_CONFIG_ENABLE | 1 << 11 | 3 << 8 | 0x80);
    pci_host_write(&p, 4, 1, 0);
    CHECK_EQ(pci_piix4_pm_base(&p), 0);           // PM I/O space disabled
    pci_host_write(&p, 4, 1, 1);
    CHECK_EQ(pci_piix4_pm_base(&p), 0x600);
}
