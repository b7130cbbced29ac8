// What the PC's firmware leaves in memory for a kernel, byte for byte as SeaBIOS does under
// QEMU (read from a guest: runtime/tests/guest/pcinfo.c): the real-mode interrupt vector
// table, the BIOS data area (IBM PC/AT Technical Reference, "BIOS Data Area"), the extended
// BIOS data area with the fixed-disk parameter tables, and the MultiProcessor floating
// pointer and configuration table (Intel MultiProcessor Specification 1.4, chapter 4): one
// processor, the ISA and PCI buses, the IOAPIC and its ISA interrupt assignments. No code:
// there is no BIOS to call, no BIOS32 service directory, no ACPI tables.
#include "firmware.h"

#include <string.h>
#include <time.h>

#include "clock.h"
#include "cpuid.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "mem.h"

#define IVT_DEFAULT   0xf000ff53u      // SeaBIOS's default handler (an iret)
#define EBDA_SEG      0x9fc0u          // at 639 KiB
#define EBDA_FDPT     0x3d             // fixed disk parameter tables in the EBDA
#define MP_FLOAT_ADDR 0xf5ba0u         // where SeaBIOS puts them in its F segment
#define MP_CONF_ADDR  0xf5bb0u

static void put8(uint32_t pa, uint8_t v) { *(uint8_t *)mem_phys(pa, 1) = v; }
static void put16(uint32_t pa, uint16_t v) { memcpy(mem_phys(pa, 2), &v, 2); }
static void put32(uint32_t pa, uint32_t v) { memcpy(mem_phys(pa, 4), &v, 4); }

static uint8_t checksum(const uint8_t *p, unsigned len)
{
    uint8_t s = 0;
    for (unsigned i = 0; i < len; i++)
        s += p[i];
    return (uint8_t)-s;
}

static void ivt(void)
{
    for (unsigned v = 0; v < 256; v++)
        put32(4 * v, IVT_DEFAULT);
    static const struct { uint8_t vec; uint16_t off; } handlers[] = {
        {0x02, 0xe2c3}, {0x05, 0xff54}, {0x08, 0xfea5}, {0x09, 0xe987}, {0x0a, 0xd42e},
        {0x0b, 0xd42e}, {0x0c, 0xd42e}, {0x0d, 0xd42e}, {0x0e, 0xef57}, {0x0f, 0xd42e},
        {0x10, 0xf065}, {0x11, 0xf84d}, {0x12, 0xf841}, {0x13, 0xe3fe}, {0x14, 0xe739},
        {0x15, 0xf859}, {0x16, 0xe82e}, {0x17, 0xefd2}, {0x18, 0xd453}, {0x19, 0xe6f2},
        {0x1a, 0xfe6e}, {0x1e, 0x601c}, {0x40, 0xec59}, {0x70, 0xd413}, {0x71, 0xd437},
        {0x72, 0xd437}, {0x73, 0xd437}, {0x74, 0xd41c}, {0x75, 0xd425}, {0x76, 0xd40a},
        {0x77, 0xd437},
    };
    for (unsigned i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        put32(4u * handlers[i].vec, 0xf0000000u | handlers[i].off);
    for (unsigned v = 0x60; v <= 0x66; v++)   // user interrupts: left empty
        put32(4 * v, 0);
    put32(4 * 0x79, 0);
}

// Ticks since midnight at 18.2 Hz (1193182 / 65536), from the host's UTC clock, as SeaBIOS
// sets them from the RTC.
static uint32_t bios_ticks(void)
{
    struct timespec ts;
    clock_host(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_sec % 86400;
    return (uint32_t)(s * 1193182u / 65536u);
}

static void bda(unsigned ndisks)
{
    memset(mem_phys(0x400, 0x100), 0, 0x100);
    put16(0x400, 0x3f8);                // COM1 base; COM2-4, LPT1-3 absent
    put16(0x40e, EBDA_SEG);             // EBDA segment
    put16(0x410, 0x0206);               // equipment: FPU, PS/2 mouse, one serial port
    put16(0x413, 639);                  // base memory in KiB
    put16(0x41a, 0x001e);               // keyboard buffer head and tail: empty
    put16(0x41c, 0x001e);
    put32(0x46c, bios_ticks());         // timer ticks since midnight
    put8(0x475, (uint8_t)ndisks);       // hard disks
    put8(0x476, 0xc0);                  // fixed disk control byte
    put8(0x47c, 0x0a);                  // COM1 time-out
    put16(0x480, 0x001e);               // keyboard buffer start and end
    put16(0x482, 0x003e);
    put8(0x496, 0x10);                  // keyboard: 101/102-key
}

// SeaBIOS's fill_fdpt: a parameter table per BIOS hard disk 0x80 / 0x81 in the EBDA, found
// through vectors 41h and 46h (what old kernels read the geometry from).
static void fdpt(unsigned idx, const struct firmware_disk *d)
{
    uint32_t t = EBDA_SEG * 16 + EBDA_FDPT + 16 * idx;
    memset(mem_phys(t, 16), 0, 16);
    put16(t + 0, (uint16_t)d->cyls);
    put8(t + 2, (uint8_t)d->heads);
    put16(t + 5, 0xffff);                                   // write precompensation: none
    put8(t + 8, (uint8_t)(0xc0 | ((d->heads > 8) << 3)));   // drive control byte
    put16(t + 12, (uint16_t)d->cyls);                       // landing zone
    put8(t + 14, (uint8_t)d->secs);
    put32(4 * (idx ? 0x46 : 0x41), (uint32_t)EBDA_SEG << 16 | (EBDA_FDPT + 16 * idx));
}

static void ebda(const struct firmware_disk *disks, unsigned ndisks)
{
    memset(mem_phys(EBDA_SEG * 16, 1024), 0, 1024);
    put8(EBDA_SEG * 16, 1);             // size in KiB
    for (unsigned i = 0; i < ndisks && i < 2; i++)
        fdpt(i, &disks[i]);
}

// MP spec 1.4 §4.1 floating pointer and §4.2-4.3 configuration table, entries in the order
// SeaBIOS writes them.
static void mptable(void)
{
    uint8_t t[256];
    unsigned n = 44, entries = 0;
    memset(t, 0, sizeof t);
    memcpy(t, "PCMP", 4);
    t[6] = 4;                                        // spec revision 1.4
    memcpy(t + 8, "BOCHSCPU", 8);                    // OEM ID
    memcpy(t + 16, "0.1         ", 12);              // product ID
    uint32_t lapic = LAPIC_BASE_DEFAULT;
    memcpy(t + 36, &lapic, 4);

    uint32_t r[4];
    cpuid_query(1, 0, r);
    uint8_t cpu[20] = {0, 0, (uint8_t)LAPIC_VERSION, 0x03};   // processor: APIC 0, enabled BSP
    memcpy(cpu + 4, &r[0], 4);                                 // CPU signature
    memcpy(cpu + 8, &r[3], 4);                                 // feature flags
    memcpy(t + n, cpu, 20);
    n += 20;
    entries++;
    static const uint8_t buses[2][8] = {{1, 0, 'P', 'C', 'I', ' ', ' ', ' '},
                                        {1, 1, 'I', 'S', 'A', ' ', ' ', ' '}};
    memcpy(t + n, buses, 16);
    n += 16;
    entries += 2;
    uint32_t ioapic = IOAPIC_BASE_DEFAULT;
    uint8_t io[8] = {2, 0, 0x11, 1};                 // IOAPIC 0, version 0x11, enabled
    memcpy(io + 4, &ioapic, 4);
    memcpy(t + n, io, 8);
    n += 8;
    entries++;
    // I/O interrupts: PCI device 1 INTA (the PIIX4 ACPI function in QEMU) on pin 9, then the
    // ISA IRQs SeaBIOS leaves to ISA: 0 on pin 2, the others on their own pin.
    static const uint8_t pci_sci[8] = {3, 0, 1, 0, 0, 0x04, 0, 9};
    memcpy(t + n, pci_sci, 8);
    n += 8;
    entries++;
    static const uint8_t isa[] = {0, 1, 3, 4, 6, 7, 8, 12, 13, 14, 15};
    for (unsigned i = 0; i < sizeof isa; i++) {
        uint8_t e[8] = {3, 0, 0, 0, 1, isa[i], 0, isa[i] ? isa[i] : 2};
        memcpy(t + n, e, 8);
        n += 8;
        entries++;
    }
    // Local interrupts: the 8259A as ExtINT on LINT0, NMI on LINT1 of every processor.
    static const uint8_t lint[2][8] = {{4, 3, 0, 0, 1, 0, 0, 0}, {4, 1, 0, 0, 1, 0, 0xff, 1}};
    memcpy(t + n, lint, 16);
    n += 16;
    entries += 2;
    t[4] = (uint8_t)n;
    t[5] = (uint8_t)(n >> 8);
    t[34] = (uint8_t)entries;
    t[7] = checksum(t, n);
    memcpy(mem_phys(MP_CONF_ADDR, n), t, n);

    uint8_t fp[16] = {'_', 'M', 'P', '_'};
    uint32_t conf = MP_CONF_ADDR;
    memcpy(fp + 4, &conf, 4);
    fp[8] = 1;        // length in 16-byte units
    fp[9] = 4;        // spec revision 1.4
    fp[10] = checksum(fp, 16);
    memcpy(mem_phys(MP_FLOAT_ADDR, 16), fp, 16);
}

// What the VGA BIOS adds to the BDA after setting mode 3 (--vga std, the default): the video mode, its
// geometry, the cursor where SeaBIOS's two lines of text left it (row 2, column 0), the CRT
// controller's port. Not its pointers into the VGA ROM (the save pointer table at 0x4A8, its
// own state at 0x4B9, the IVT's INT 10h/1Fh/43h): there is no ROM at 0xC0000. And the text
// window as they leave it: every cell of its 32 KiB a blank (space, light grey on black),
// SeaBIOS's banner (QEMU 7.2's, Debian's build) and boot message on the first two rows.
void firmware_vga_text(void)
{
    if (!mem_phys(0xf0000, 0x10000))
        return;
    uint8_t *text = mem_phys(0xb8000, 0x8000);
    for (unsigned i = 0; i < 0x8000; i += 2) {
        text[i] = ' ';
        text[i + 1] = 0x07;
    }
    static const char *const lines[] = {"SeaBIOS (version 1.16.2-debian-1.16.2-1)",
                                        "Booting from ROM..."};
    for (unsigned r = 0; r < 2; r++)
        for (unsigned c = 0; lines[r][c]; c++)
            text[(r * 80 + c) * 2] = (uint8_t)lines[r][c];
    put16(0x410, (uint16_t)(*(uint16_t *)mem_phys(0x410, 2) | 0x20));   // initial video: 80x25 colour
    put8(0x449, 0x03);                  // video mode
    put16(0x44a, 80);                   // columns
    put16(0x44c, 0x1000);               // page size in bytes
    put16(0x450, 0x0200);               // page 0 cursor: row 2, column 0
    put16(0x460, 0x0607);               // cursor type: scan lines 6-7
    put16(0x463, 0x3d4);                // CRT controller port
    put8(0x484, 24);                    // rows - 1
    put16(0x485, 16);                   // character height
    put8(0x487, 0x60);                  // video control: 256 KiB, clear-screen flag
    put8(0x488, 0xf9);                  // switches
    put8(0x489, 0x51);                  // mode-set options: VGA, 400 lines
    put8(0x48a, 0x08);                  // display combination code index
}

void firmware_init(const struct firmware_disk *disks, unsigned ndisks)
{
    if (!mem_phys(0xf0000, 0x10000))
        return;   // less than 1 MiB of RAM: nowhere to put any of it
    ivt();
    bda(ndisks);
    ebda(disks, ndisks);
    mptable();
}
