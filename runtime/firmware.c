// What the PC's firmware leaves in memory for a kernel, byte for byte as SeaBIOS does under
// QEMU (read from a guest: runtime/tests/guest/pcinfo.c): the real-mode interrupt vector
// table, the BIOS data area (IBM PC/AT Technical Reference, "BIOS Data Area"), the extended
// BIOS data area with the fixed-disk parameter tables, and the MultiProcessor floating
// pointer and configuration table (Intel MultiProcessor Specification 1.4, chapter 4): one
// processor, the ISA and PCI buses, the IOAPIC and its ISA interrupt assignments; and the ACPI
// tables SeaBIOS installs from QEMU's fw_cfg (ACPI 1.0b, QEMU's hw/i386/acpi-build.c), its
// DSDT a minimal one (acpi_tables). No code: there is no BIOS to call, no BIOS32 service
// directory.
#include "firmware.h"

#include <string.h>
#include <time.h>

#include "clock.h"
#include "cpuid.h"
#include "dev/hpet.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/mc146818.h"
#include "dev/piix4_pm.h"
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

// ---- ACPI -----------------------------------------------------------------------------------
// The tables of QEMU 7.2's pc machine (i440FX, PIIX4 PM) as SeaBIOS's table loader leaves
// them: the root pointer in the F segment (ACPI_RSDP_ADDR); FACS, DSDT, FADT, MADT, HPET and
// WAET, then the RSDT, one after the other from the bottom of the reserved top 128 KiB of RAM
// (BIOS_RESERVED_TOP), the FACS 64-byte aligned. The same headers (OEM "BOCHS ", table
// "BXPC", revision 1 everywhere: QEMU keeps the FADT at ACPI 1.0 for the i440FX machine) and
// the same contents, but for the DSDT.
//
// The DSDT is a minimal one (acpi_dsdt): the PCI host bridge \_SB.PCI0 (PNP0A03, with the
// bus range and the I/O and memory windows of QEMU's: an OS scans PCI bus 0 through it) and
// \_S5 (SLP_TYP 0 for PM1a and PM1b, as QEMU's: an OS can turn the machine off). Not there,
// unlike QEMU's: the host bridge's _PRT routing and the PCI interrupt link devices LNKA-LNKD
// and LNKS, PCI hotplug, the ISA devices (serial port, RTC, keyboard and mouse, floppy
// controller, the HPET's PNP0103), processor objects and CPU hotplug, the GPE methods, and
// \_S3/\_S4 (S3 is not emulated). An OS finds the ISA devices at their legacy addresses; a
// PCI device's interrupt has no route (none of ring1's PCI functions has a driver that needs
// one).
#define ACPI_HDR 36

struct acpi_buf {
    uint8_t *p;        // guest memory at base
    uint32_t base, len;
};

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memset(t, 0, ACPI_HDR);
    memcpy(t, sig, 4);
    memcpy(t + 4, &len, 4);
    t[8] = rev;
    memcpy(t + 10, "BOCHS ", 6);         // OEM ID
    memcpy(t + 16, "BXPC    ", 8);       // OEM table ID
    uint32_t one = 1;
    memcpy(t + 24, &one, 4);             // OEM revision
    memcpy(t + 28, "BXPC", 4);           // creator ID
    memcpy(t + 32, &one, 4);             // creator revision
}

// Append a table of len bytes (its header and checksum filled in); its guest address.
static uint32_t acpi_table(struct acpi_buf *b, const char *sig, uint8_t rev, const uint8_t *body,
                           uint32_t body_len)
{
    uint8_t *t = b->p + b->len;
    uint32_t len = ACPI_HDR + body_len, at = b->base + b->len;
    acpi_header(t, sig, len, rev);
    memcpy(t + ACPI_HDR, body, body_len);
    t[9] = checksum(t, len);
    b->len += len;
    return at;
}

static void le16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void le32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

// FADT revision 1 (ACPI 1.0b §5.2.5), QEMU's build_fadt with its PIIX4 values.
static uint32_t acpi_fadt(struct acpi_buf *b, uint32_t facs, uint32_t dsdt)
{
    uint8_t f[116 - ACPI_HDR];
    memset(f, 0, sizeof f);
    uint8_t *x = f - ACPI_HDR;   // offsets as in the specification
    le32(x + 36, facs);                          // FIRMWARE_CTRL
    le32(x + 40, dsdt);
    x[44] = 1;                                   // INT_MODEL: multiple APIC
    le16(x + 46, PIIX4_SCI_IRQ);                 // SCI_INT
    le32(x + 48, APM_CNT_PORT);                  // SMI_CMD
    x[52] = APM_ACPI_ENABLE;
    x[53] = APM_ACPI_DISABLE;
    le32(x + 56, PIIX4_PM_BASE + PM1_STS);       // PM1a_EVT_BLK
    le32(x + 64, PIIX4_PM_BASE + PM1_CNT);       // PM1a_CNT_BLK
    le32(x + 76, PIIX4_PM_BASE + PM_TMR);        // PM_TMR_BLK
    le32(x + 80, PIIX4_GPE0_BASE);               // GPE0_BLK
    x[88] = 4;                                   // PM1_EVT_LEN
    x[89] = 2;                                   // PM1_CNT_LEN
    x[91] = 4;                                   // PM_TMR_LEN
    x[92] = PIIX4_GPE0_LEN;                      // GPE0_BLK_LEN
    le16(x + 96, 0xfff);                         // P_LVL2_LAT: no C2
    le16(x + 98, 0xfff);                         // P_LVL3_LAT: no C3
    x[108] = RTC_CENTURY;                        // CENTURY: the CMOS byte
    // Flags: WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, USE_PLATFORM_CLOCK.
    le32(x + 112, 1u << 0 | 1u << 2 | 1u << 5 | 1u << 7 | 1u << 15);
    return acpi_table(b, "FACP", 1, f, sizeof f);
}

// MADT (§5.2.10): the local APIC and the IOAPIC, ISA IRQ 0 on GSI 2, the PCI interrupts
// (IRQs 5, 9, 10, 11: QEMU's PCI IRQ mask) level-triggered active high, LINT1 as NMI.
static uint32_t acpi_madt(struct acpi_buf *b)
{
    uint8_t m[120 - ACPI_HDR];
    memset(m, 0, sizeof m);
    unsigned n = 0;
    le32(m + n, LAPIC_BASE_DEFAULT);
    le32(m + n + 4, 1);                                   // PCAT_COMPAT: there are 8259As
    n += 8;
    static const uint8_t lapic[8] = {0, 8, 0, 0, 1, 0, 0, 0};   // processor 0, APIC 0, enabled
    memcpy(m + n, lapic, 8);
    n += 8;
    uint8_t io[12] = {1, 12, 0, 0};                       // IOAPIC 0, GSI base 0
    le32(io + 4, IOAPIC_BASE_DEFAULT);
    memcpy(m + n, io, 12);
    n += 12;
    static const uint8_t irqs[] = {0, 5, 9, 10, 11};
    for (unsigned i = 0; i < sizeof irqs; i++) {
        uint8_t iso[10] = {2, 10, 0, irqs[i]};            // bus 0 (ISA), source IRQ
        le32(iso + 4, irqs[i] ? irqs[i] : 2);             // GSI
        le16(iso + 8, irqs[i] ? 0x000d : 0);              // active high, level / conforming
        memcpy(m + n, iso, 10);
        n += 10;
    }
    static const uint8_t nmi[6] = {4, 6, 0xff, 0, 0, 1};  // every processor's LINT1
    memcpy(m + n, nmi, 6);
    n += 6;
    return acpi_table(b, "APIC", 1, m, n);
}

// AML (ACPI 1.0b §16): a package length before body bytes of a package (its own bytes
// included, as the encoding counts them), in one or two bytes.
static unsigned aml_pkg(uint8_t *out, const uint8_t *body, unsigned n)
{
    unsigned h = n + 1 <= 0x3f ? 1 : 2, len = n + h;
    if (h == 1)
        out[0] = (uint8_t)len;
    else {
        out[0] = (uint8_t)(0x40 | (len & 0x0f));
        out[1] = (uint8_t)(len >> 4);
    }
    memmove(out + h, body, n);
    return h + n;
}

// The DSDT's AML (see above), as iasl compiles
//   Scope (\_SB) {
//       Device (PCI0) {
//           Name (_HID, EisaId ("PNP0A03"))
//           Name (_ADR, Zero)
//           Name (_UID, Zero)
//           Name (_CRS, ResourceTemplate () {
//               WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
//                              0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
//               IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
//               WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
//                       0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
//               WordIO (..., 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
//               DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable,
//                            ReadWrite, 0, 0x000A0000, 0x000BFFFF, 0, 0x00020000)
//               DWordMemory (..., NonCacheable, ReadWrite, 0, RAM, 0xFEBFFFFF, 0, ...)
//               QWordMemory (..., Cacheable, ReadWrite, 0, 0x100000000, 0x17FFFFFFF, 0,
//                            0x80000000)
//           })
//       }
//   }
//   Name (_S5, Package (4) { Zero, Zero, Zero, Zero })
// -- the windows QEMU's host bridge gives (its PCI hole from the top of RAM, and 2 GiB above
// 4 GiB, which a 32-bit OS ignores).
static uint32_t acpi_dsdt(uint8_t *out, uint32_t ram)
{
    uint8_t crs[160], *c = crs;
    static const uint8_t fixed[] = {
        0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0xff, 0x00, 0, 0, 0x00, 0x01,
        0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
        0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c,
        0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3,
    };
    memcpy(c, fixed, sizeof fixed);
    c += sizeof fixed;
    // DWordMemory: tag, length 23, memory, MinFixed|MaxFixed, type flags; granularity, min,
    // max, translation, length.
    const uint32_t mem[2][3] = {{0x03, 0x000a0000, 0x000bffff}, {0x01, ram, 0xfebfffff}};
    for (unsigned i = 0; i < 2; i++) {
        uint8_t d[26] = {0x87, 0x17, 0x00, 0x00, 0x0c, (uint8_t)mem[i][0]};
        le32(d + 10, mem[i][1]);
        le32(d + 14, mem[i][2]);
        le32(d + 22, mem[i][2] - mem[i][1] + 1);
        memcpy(c, d, sizeof d);
        c += sizeof d;
    }
    uint8_t q[46] = {0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03};
    uint64_t qmin = 0x100000000ull, qmax = 0x17fffffffull, qlen = 0x80000000ull;
    memcpy(q + 14, &qmin, 8);
    memcpy(q + 22, &qmax, 8);
    memcpy(q + 38, &qlen, 8);
    memcpy(c, q, sizeof q);
    c += sizeof q;
    *c++ = 0x79;   // end tag, checksum 0: "treat as correct"
    *c++ = 0x00;
    unsigned ncrs = (unsigned)(c - crs);

    uint8_t buf[200], dev[300];
    unsigned n = 0;
    buf[n++] = 0x0a;                           // BufferSize: ByteConst
    buf[n++] = (uint8_t)ncrs;
    memcpy(buf + n, crs, ncrs);
    n += ncrs;
    unsigned d = 0;
    memcpy(dev + d, "PCI0", 4);
    d += 4;
    static const uint8_t names[] = {
        0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,   // EisaId ("PNP0A03")
        0x08, '_', 'A', 'D', 'R', 0x00,
        0x08, '_', 'U', 'I', 'D', 0x00,
        0x08, '_', 'C', 'R', 'S', 0x11,                          // Buffer
    };
    memcpy(dev + d, names, sizeof names);
    d += sizeof names;
    d += aml_pkg(dev + d, buf, n);

    uint32_t o = 0;
    uint8_t scope[320];
    unsigned sn = 0;
    memcpy(scope, "\\_SB_", 5);
    sn = 5;
    scope[sn++] = 0x5b;                        // DeviceOp
    scope[sn++] = 0x82;
    sn += aml_pkg(scope + sn, dev, d);
    out[o++] = 0x10;                           // ScopeOp
    o += aml_pkg(out + o, scope, sn);
    static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
    memcpy(out + o, s5, sizeof s5);
    return o + sizeof s5;
}

static uint32_t acpi_hpet(struct acpi_buf *b)
{
    uint8_t h[56 - ACPI_HDR];
    memset(h, 0, sizeof h);
    le32(h, HPET_BLOCK_ID);              // event timer block ID: the HPET's capabilities
    // BASE_ADDRESS: a generic address in system memory (space 0, widths 0).
    uint64_t base = HPET_BASE;
    memcpy(h + 8, &base, 8);
    return acpi_table(b, "HPET", 1, h, sizeof h);
}

static void acpi_tables(void)
{
    uint32_t base = mem_ram_size - BIOS_RESERVED_TOP;
    struct acpi_buf b = {mem_phys(base, BIOS_RESERVED_TOP), base, 0};
    if (!b.p)
        return;
    memset(b.p, 0, 0x1000);
    // FACS (§5.2.6): no hardware signature, waking vector or global lock in use.
    uint32_t facs = b.base;
    memcpy(b.p, "FACS", 4);
    b.p[4] = 64;
    b.len = 64;
    uint8_t aml[512];
    uint32_t dsdt = acpi_table(&b, "DSDT", 1, aml, acpi_dsdt(aml, mem_ram_size));
    uint32_t rsdt_entries[4];
    rsdt_entries[0] = acpi_fadt(&b, facs, dsdt);
    rsdt_entries[1] = acpi_madt(&b);
    rsdt_entries[2] = acpi_hpet(&b);
    static const uint8_t waet[4] = {0x02};   // WAET: the ACPI PM timer is good (one read)
    rsdt_entries[3] = acpi_table(&b, "WAET", 1, waet, sizeof waet);
    uint32_t rsdt = acpi_table(&b, "RSDT", 1, (const uint8_t *)rsdt_entries, sizeof rsdt_entries);

    uint8_t rsdp[20] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};
    memcpy(rsdp + 9, "BOCHS ", 6);       // OEM ID; revision 0: ACPI 1.0
    le32(rsdp + 16, rsdt);
    rsdp[8] = checksum(rsdp, 20);
    memcpy(mem_phys(ACPI_RSDP_ADDR, 20), rsdp, 20);
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
    acpi_tables();
}
