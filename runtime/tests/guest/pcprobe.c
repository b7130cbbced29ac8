// Differential probe of the whole PC a kernel can read, run under qemu-system-i386 and under
// ring1-run (tests/test_runtime_boot.py compares the two transcripts): a byte read of every
// ISA port 0x000-0x3FF but those whose read has a side effect (the static bits of a few of
// those after the scan), the CMOS (the time of day on a line of its own; register C's flags
// not read), the configuration space of every PCI function on bus 0 and the size of each
// BAR, the ACPI tables and the HPET, every local APIC and IOAPIC register, CPUID for
// every leaf and subleaf the model reports, the MSRs a kernel reads and what a write keeps
// (#GP recorded, not fatal), what rdtsc, rdtscp and rdpmc do, the VGA register file.
// Complements pcinfo.c (BIOS data area, EBDA, IVT, MP tables).
//
// Lines are "what key: bytes" (16 bytes a line, one key per byte) or "what key=value".
#include "glib.h"

// Physical addresses as pointers, laundered so that gcc does not judge low ones null.
static volatile void *at(uint32_t a) { volatile void *p; __asm__("" : "=r"(p) : "0"(a)); return p; }
static uint32_t rd32(uint32_t a) { return *(volatile uint32_t *)at(a); }
static void wr32(uint32_t a, uint32_t v) { *(volatile uint32_t *)at(a) = v; }

static void hex2(uint8_t b)
{
    static const char h[] = "0123456789abcdef";
    putc(h[b >> 4]);
    putc(h[b & 15]);
}

// One line of 16 bytes; `skip` marks the bytes not read ("--").
static void row(const char *what, uint32_t key, const uint8_t *b, uint16_t skip)
{
    puts(what); puts(" "); puthex(key); puts(":");
    for (int i = 0; i < 16; i++) {
        putc(' ');
        if (skip & 1u << i)
            puts("--");
        else
            hex2(b[i]);
    }
    puts("\n");
}

static void kv(const char *what, uint32_t key, uint32_t v)
{
    puts(what); puts(" "); puthex(key); puts("="); puthex(v); puts("\n");
}

// Ports whose read changes the device or answers with the time, never read here (QEMU 7.2's
// models of the reference machine and of the default pc machine):
static const struct { uint16_t first, last; } unread[] = {
    {0x000, 0x008},   // 8237 DMA 1: address/count toggle the byte flip-flop; status clears TC
    {0x040, 0x042},   // 8254 counters: the read toggles LSB/MSB and the count runs
    {0x060, 0x060},   // 8042 data: takes the byte from the output buffer
    {0x061, 0x061},   // port B: refresh toggle and timer 2 output follow time
    {0x071, 0x071},   // MC146818 data: register C clears its flags (pcinfo dumps the CMOS)
    {0x0c0, 0x0d1},   // 8237 DMA 2: as DMA 1 (word-spaced: status at 0xD0 and 0xD1)
    {0x170, 0x170},   // ATA secondary data: advances the PIO buffer
    {0x177, 0x177},   // ATA secondary status: acknowledges the drive's interrupt
    {0x1f0, 0x1f0},   // ATA primary data
    {0x1f7, 0x1f7},   // ATA primary status
    {0x3c9, 0x3c9},   // VGA DAC data: advances the read component and index
    {0x3da, 0x3da},   // VGA input status 1: resets the attribute flip-flop, retrace toggles
    {0x3f8, 0x3f8},   // 16550 RBR: takes a received byte
    {0x3fa, 0x3fa},   // 16550 IIR: clears a pending THR-empty interrupt
    {0x3fd, 0x3fd},   // 16550 LSR: clears overrun/break; THRE follows this probe's output
    {0x3fe, 0x3fe},   // 16550 MSR: clears the delta bits
};

static int is_unread(uint16_t p)
{
    for (unsigned i = 0; i < sizeof unread / sizeof unread[0]; i++)
        if (p >= unread[i].first && p <= unread[i].last)
            return 1;
    return 0;
}

static void ports(void)
{
    for (uint16_t p = 0; p < 0x400; p += 16) {
        uint8_t b[16];
        uint16_t skip = 0;
        for (int i = 0; i < 16; i++) {
            if (is_unread((uint16_t)(p + i)))
                skip |= (uint16_t)(1u << i);
            else
                b[i] = inb((uint16_t)(p + i));
        }
        row("io", p, b, skip);
    }
    // Beyond the ISA range, what the chipset decodes there: 0x400-0x4FF (DMA high pages,
    // the 8259As' edge/level control at 0x4D0-0x4D1), and byte reads of 0xCF0-0xCFF (the
    // PIIX3's reset control register at 0xCF9; PCI configuration data as last addressed).
    for (uint16_t p = 0x400; p < 0xd00; p += 16) {
        if (p == 0x500)
            p = 0xcf0;
        uint8_t b[16];
        for (int i = 0; i < 16; i++)
            b[i] = inb((uint16_t)(p + i));
        row("io", p, b, 0);
    }
}

static uint32_t pci_read(uint32_t devfn, uint32_t reg)
{
    __asm__ volatile("outl %0, %1" :: "a"(0x80000000u | devfn << 8 | reg), "Nd"((uint16_t)0xcf8));
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
    return v;
}

static void pci_write(uint32_t devfn, uint32_t reg, uint32_t v)
{
    __asm__ volatile("outl %0, %1" :: "a"(0x80000000u | devfn << 8 | reg), "Nd"((uint16_t)0xcf8));
    __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"((uint16_t)0xcfc));
}

// The bits each configuration dword keeps, of the functions both machines have (00:00.0
// host bridge, 00:01.0 ISA bridge, 00:02.0 VGA when there is one): all ones written, read
// back, the old value restored. Not the BARs (sized above) nor the i440FX's SMRAM control
// (its lock bit cannot be cleared again).
static void pci_wmask(void)
{
    static const uint32_t fns[] = {0x00, 0x08, 0x10};
    for (unsigned f = 0; f < 3; f++) {
        uint32_t devfn = fns[f];
        if (pci_read(devfn, 0) == 0xffffffffu)
            continue;
        for (uint32_t r = 0; r < 256; r += 4) {
            if ((r >= 0x10 && r < 0x28) || r == 0x30 || (devfn == 0 && r == 0x70))
                continue;
            uint32_t old = pci_read(devfn, r);
            pci_write(devfn, r, 0xffffffffu);
            uint32_t v = pci_read(devfn, r);
            pci_write(devfn, r, old);
            kv("pci.wmask", devfn << 8 | r, v);
        }
    }
}

static void pci(void)
{
    for (uint32_t devfn = 0; devfn < 256; devfn++) {
        if (pci_read(devfn, 0) == 0xffffffffu) {
            if (!(devfn & 7))
                devfn += 7;   // no function 0: no device
            continue;
        }
        for (uint32_t r = 0; r < 256; r += 16) {
            uint8_t b[16];
            for (uint32_t i = 0; i < 16; i += 4) {
                uint32_t v = pci_read(devfn, r + i);
                b[i] = (uint8_t)v; b[i + 1] = (uint8_t)(v >> 8);
                b[i + 2] = (uint8_t)(v >> 16); b[i + 3] = (uint8_t)(v >> 24);
            }
            row("pci", devfn << 8 | r, b, 0);   // key: device << 11 | function << 8 | reg
        }
        // BAR sizing as a kernel does it: all ones written, read back, restored.
        uint32_t hdr = pci_read(devfn, 0xc) >> 16 & 0x7f;
        for (uint32_t r = 0x10; r <= 0x30; r += 4) {
            if (hdr != 0 && r > 0x14 && r != 0x38)
                break;   // a bridge has two BARs
            if (r > 0x24 && r < 0x30)
                continue;
            uint32_t old = pci_read(devfn, r);
            pci_write(devfn, r, r == 0x30 ? 0xfffff800u : 0xffffffffu);
            kv("pci.barsize", devfn << 8 | r, pci_read(devfn, r));
            pci_write(devfn, r, old);
        }
        if (!(devfn & 7) && !(pci_read(devfn, 0xc) & 0x800000))
            devfn += 7;   // single-function device
    }
}

// After the scan, the bits of a few skipped ports that do not follow time, each read once
// where the read's side effect no longer matters.
static void unread_static(void)
{
    kv("portb.static", 0x61, inb(0x61) & 0x0f);   // not refresh, OUT2, parity/channel check
    for (uint8_t c = 0; c < 3; c++) {             // 8254 read-back: each counter's status
        outb(0x43, (uint8_t)(0xe0 | 2 << c));
        kv("pit.status", c, inb((uint16_t)(0x40 + c)) & 0x3f);   // not OUTPUT, NULL COUNT
    }
    kv("kbc.status", 0x64, inb(0x64));
    kv("com1.lsr", 0x3fd, inb(0x3fd) & 0x9f);      // not THRE/TEMT
    kv("com1.iir", 0x3fa, inb(0x3fa));
    kv("com1.msr", 0x3fe, inb(0x3fe));
    kv("vga.is1.static", 0x3da, inb(0x3da) & 0xf6);   // not the retrace bits
    kv("ata0.status", 0x1f7, inb(0x1f7));
    kv("ata1.status", 0x177, inb(0x177));
}

// The CMOS but the time of day (0x00-0x09, century 0x32: on a line of its own) and register
// C (its flags follow the periodic and update-ended events).
static void cmos(void)
{
    for (uint32_t r = 0; r < 128; r += 16) {
        uint8_t b[16];
        uint16_t skip = 0;
        for (uint32_t i = 0; i < 16; i++) {
            uint32_t a = r + i;
            if (a < 0x0a || a == 0x0c || a == 0x32) {
                skip |= (uint16_t)(1u << i);
                continue;
            }
            outb(0x70, (uint8_t)a);
            b[i] = inb(0x71);
            if (a == 0x0a)
                b[i] &= 0x7f;   // not update in progress
        }
        row("cmos", r, b, skip);
    }
    // The time of day, once no update is in progress: century, year, month, day, hours,
    // minutes, seconds, weekday (the test compares it with the host's clock, not bytewise).
    static const uint8_t tod[8] = {0x32, 0x09, 0x08, 0x07, 0x04, 0x02, 0x00, 0x06};
    uint8_t t[8];
    do {
        outb(0x70, 0x0a);
    } while (inb(0x71) & 0x80);
    for (int i = 0; i < 8; i++) {
        outb(0x70, tod[i]);
        t[i] = inb(0x71);
    }
    puts("rtc.time=");
    for (int i = 0; i < 8; i++) {
        hex2(t[i]);
        puts(i < 7 ? " " : "\n");
    }
}

// len bytes at addr as rows keyed by offset.
static void dump(const char *what, uint32_t addr, uint32_t len)
{
    uint8_t b[16];
    for (uint32_t o = 0; o < len; o += 16) {
        uint16_t skip = 0;
        for (uint32_t i = 0; i < 16; i++) {
            b[i] = o + i < len ? *(volatile uint8_t *)at(addr + o + i) : 0;
            if (o + i >= len)
                skip |= (uint16_t)(1u << i);
        }
        row(what, o, b, skip);
    }
}

// The ACPI tables behind the root pointer, byte for byte, each keyed by its signature
// ("acpi.FACP 0x24"): the RSDP (ACPI 1.0: 20 bytes), the RSDT and every table it lists, the
// FACS and the DSDT the FADT points to -- of the DSDT its header only (its AML is QEMU's).
static void acpi_tables(uint32_t rsdp)
{
    dump("acpi.RSDP", rsdp, 20);
    uint32_t rsdt = rd32(rsdp + 16);
    uint32_t n = (rd32(rsdt + 4) - 36) / 4;
    dump("acpi.RSDT", rsdt, rd32(rsdt + 4));
    for (uint32_t i = 0; i < n && i < 16; i++) {
        uint32_t t = rd32(rsdt + 36 + 4 * i);
        char what[10] = "acpi.";
        for (int c = 0; c < 4; c++)
            what[5 + c] = *(volatile char *)at(t + (uint32_t)c);
        uint32_t len = rd32(t + 4);
        dump(what, t, len < 0x400 ? len : 0x400);
        if (rd32(t) == 0x50434146) {   // "FACP": its FACS and DSDT
            dump("acpi.FACS", rd32(t + 36), 64);
            dump("acpi.DSDT", rd32(t + 40), 36);
        }
    }
}

// What a kernel looks for besides the MP tables: the ACPI root pointer in the BIOS area and
// the tables behind it, and the HPET at its usual address (its general capabilities and
// configuration).
static void platform_tables(void)
{
    uint32_t rsdp = 0;
    for (uint32_t p = 0xe0000; p < 0x100000 && !rsdp; p += 16)
        if (rd32(p) == 0x20445352 && rd32(p + 4) == 0x20525450)   // "RSD PTR "
            rsdp = p;
    kv("acpi.rsdp", 0, rsdp);
    if (rsdp)
        acpi_tables(rsdp);
    for (uint32_t r = 0; r < 0x20; r += 4)
        kv("hpet", r, rd32(0xfed00000 + r));
}

static void apics(void)
{
    for (uint32_t r = 0; r < 0x400; r += 16)
        kv("lapic", r, rd32(0xfee00000 + r));
    kv("ioapic.regsel", 0, rd32(0xfec00000));
    for (uint32_t r = 0; r < 0x40; r++) {
        wr32(0xfec00000, r);
        kv("ioapic", r, rd32(0xfec00010));
    }
    for (uint32_t r = 0x40; r < 0x100; r++) {   // no such registers: only what is not 0
        wr32(0xfec00000, r);
        uint32_t v = rd32(0xfec00010);
        if (v)
            kv("ioapic", r, v);
    }
    for (uint32_t r = 0x14; r < 0x100; r += 4)   // the window's other words
        if (r != 0x10 && rd32(0xfec00000 + r))
            kv("ioapic.mmio", r, rd32(0xfec00000 + r));

    // The bits each writable register keeps: all ones written, read back, the old value
    // written back. Not the EOI and the ICR's low word (they act); the LVTs keep their mask
    // bit set. The ESR once more after.
    static const uint16_t lw[] = {0x20, 0x30, 0x80, 0xd0, 0xe0, 0xf0, 0x2f0, 0x310, 0x320,
                                  0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390, 0x3e0};
    for (unsigned i = 0; i < sizeof lw / sizeof lw[0]; i++) {
        uint32_t a = 0xfee00000 + lw[i], old = rd32(a);
        wr32(a, 0xffffffffu);
        kv("lapic.wmask", lw[i], rd32(a));
        wr32(a, old);
    }
    wr32(0xfee00280, 0);
    kv("lapic.esr", 0x280, rd32(0xfee00280));
    for (uint32_t r = 0; r < 0x40; r++) {
        if (r == 1)
            continue;   // version: read-only
        wr32(0xfec00000, r);
        uint32_t old = rd32(0xfec00010);
        wr32(0xfec00010, 0xffffffffu);   // a redirection entry stays masked (bit 16)
        uint32_t v = rd32(0xfec00010);
        wr32(0xfec00010, old);
        kv("ioapic.wmask", r, v);
    }
}

static void leaf(uint32_t l, uint32_t sub, uint32_t r[4])
{
    cpuid(l, sub, r);
    puts("cpuid "); puthex(l); puts("."); putdec(sub); puts("=");
    for (int j = 0; j < 4; j++) { puthex(r[j]); puts(j < 3 ? " " : "\n"); }
}

static void cpuids(void)
{
    uint32_t r[4], max;
    leaf(0, 0, r);
    max = r[0];
    leaf(1, 1, r);           // leaves without subleaves ignore ECX
    leaf(0x80000001, 7, r);
    for (uint32_t l = 1; l <= max && l < 0x40; l++) {
        leaf(l, 0, r);
        if (l == 4)        // deterministic cache parameters: until type 0
            for (uint32_t s = 1; s < 16 && (r[0] & 31); s++)
                leaf(l, s, r);
        else if (l == 7)   // structured extended features: EAX subleaves
            for (uint32_t s = 1, n = r[0]; s <= n && s < 16; s++)
                leaf(l, s, r);
        else if (l == 0xb || l == 0x1f)   // topology: until level type 0
            for (uint32_t s = 1; s < 16 && (r[2] & 0xff00); s++)
                leaf(l, s, r);
        else if (l == 0xd)  // XSAVE components
            for (uint32_t s = 1; s < 64; s++)
                leaf(l, s, r);
    }
    leaf(max + 1, 0, r);     // out of range: as the highest basic leaf
    leaf(0x40000000, 0, r);  // hypervisor range
    max = r[0];
    for (uint32_t l = 0x40000001; l <= max && l < 0x40000010; l++)
        leaf(l, 0, r);
    leaf(max + 1, 0, r);
    leaf(0x40000100, 0, r);  // the next hypervisor's range
    leaf(0x80000000, 0, r);
    max = r[0];
    for (uint32_t l = 0x80000001; l <= max && l < 0x80000040; l++)
        leaf(l, 0, r);
    leaf(max + 1, 0, r);
    leaf(0xc0000000, 0, r);  // Centaur range
}

// A fault in a probed instruction: the handler records the vector and resumes after it.
volatile uint32_t fault_vec, fault_skip;
void ud_entry(void);
void gp_entry(void);
__asm__(".globl ud_entry, gp_entry\n"
        "ud_entry:\n"
        "  movl $6, fault_vec\n"
        "  jmp 1f\n"
        "gp_entry:\n"
        "  movl $13, fault_vec\n"
        "  addl $4, %esp\n"            // the error code
        "1:\n"
        "  pushl %eax\n"
        "  movl fault_skip, %eax\n"
        "  addl %eax, 4(%esp)\n"       // past the faulting instruction
        "  popl %eax\n"
        "  iret\n");

static const char *fault_name(void) { return fault_vec == 13 ? "gp" : "ud"; }

static void msr(uint32_t index)
{
    uint32_t lo = 0, hi = 0;
    fault_vec = 0;
    fault_skip = 2;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(index));
    puts("msr "); puthex(index); puts("=");
    if (fault_vec)
        puts(fault_name());
    else {
        puthex(hi); puts(":"); puthex(lo);
    }
    puts("\n");
}

// What a write keeps: a pattern written, read back, the old value written back.
static void msr_write_back(uint32_t index)
{
    uint32_t lo = 0, hi = 0, rlo = 0, rhi = 0;
    fault_vec = 0;
    fault_skip = 2;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(index));
    __asm__ volatile("wrmsr" :: "a"(0x06040607u), "d"(0x80000405u), "c"(index) : "memory");
    uint32_t wfault = fault_vec;
    fault_vec = 0;
    __asm__ volatile("rdmsr" : "+a"(rlo), "+d"(rhi) : "c"(index));
    __asm__ volatile("wrmsr" :: "a"(lo), "d"(hi), "c"(index) : "memory");
    puts("msr.wr "); puthex(index); puts("=");
    if (wfault || fault_vec)
        puts(wfault ? "gp" : "read-gp");
    else {
        puthex(rhi); puts(":"); puthex(rlo);
    }
    puts("\n");
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void msrs(void)
{
    // The MSRs Linux i386 and other kernels read at boot.
    static const uint32_t list[] = {
        0x00000000, 0x00000001,              // P5 machine-check address/type
        0x00000017,                          // IA32_PLATFORM_ID
        0x0000001b,                          // IA32_APIC_BASE
        0x0000002a,                          // EBL_CR_POWERON
        0x00000034,                          // SMI count
        0x0000003a,                          // IA32_FEATURE_CONTROL
        0x0000003b,                          // IA32_TSC_ADJUST
        0x0000008b,                          // IA32_BIOS_SIGN_ID (microcode revision)
        0x000000c1, 0x000000c2,              // IA32_PMC0/1
        0x000000ce,                          // MSR_PLATFORM_INFO
        0x000000e7, 0x000000e8,              // IA32_MPERF/APERF
        0x000000fe,                          // IA32_MTRRCAP
        0x0000011e,                          // BBL_CR_CTL3
        0x00000174, 0x00000175, 0x00000176,  // IA32_SYSENTER_CS/ESP/EIP
        0x00000179, 0x0000017a, 0x0000017b,  // IA32_MCG_CAP/STATUS/CTL
        0x00000186, 0x00000187,              // IA32_PERFEVTSEL0/1
        0x00000198, 0x00000199,              // IA32_PERF_STATUS/CTL
        0x0000019a, 0x0000019b, 0x0000019c,  // clock modulation, thermal interrupt/status
        0x000001a0,                          // IA32_MISC_ENABLE
        0x000001a2,                          // MSR_TEMPERATURE_TARGET
        0x000001d9,                          // IA32_DEBUGCTL
        0x000001db, 0x000001dc, 0x000001dd, 0x000001de,   // last branch/exception from/to
        0x00000250, 0x00000258, 0x00000259,  // fixed-range MTRRs 64K, 16K
        0x00000268, 0x00000269, 0x0000026a, 0x0000026b,   // fixed-range MTRRs 4K
        0x0000026c, 0x0000026d, 0x0000026e, 0x0000026f,
        0x00000277,                          // IA32_PAT
        0x000002ff,                          // IA32_MTRR_DEF_TYPE
        0x00000345,                          // IA32_PERF_CAPABILITIES
        0x00000480,                          // IA32_VMX_BASIC
        0x000004c1,                          // IA32_A_PMC0
        0x00000600,                          // IA32_DS_AREA
        0x000006e0,                          // IA32_TSC_DEADLINE
        0x00000c80,                          // IA32_DEBUG_INTERFACE
        0xc0000080,                          // EFER
        0xc0000081, 0xc0000082, 0xc0000084,  // STAR, LSTAR, SFMASK
        0xc0000100, 0xc0000101, 0xc0000102,  // FS/GS/kernel GS base
        0xc0000103,                          // TSC_AUX
        0xc0010015,                          // AMD HWCR
        0xc0011029,                          // AMD DE_CFG
    };
    for (unsigned i = 0; i < sizeof list / sizeof list[0]; i++)
        msr(list[i]);
    // Writes (but the APIC base, which would move or disable the local APIC).
    for (unsigned i = 0; i < sizeof list / sizeof list[0]; i++)
        if (list[i] != 0x1b)
            msr_write_back(list[i]);
    msr_write_back(0x200);   // variable-range MTRR 0 base and
    msr_write_back(0x20f);   // MTRR 7 mask
    msr_write_back(0x401);   // machine-check bank 0 status
    for (uint32_t i = 0; i < 16; i++)
        msr(0x200 + i);                      // variable-range MTRRs 0-7: base, mask
    for (uint32_t i = 0; i < 0x28; i++)
        msr(0x400 + i);                      // machine-check banks 0-9: CTL/STATUS/ADDR/MISC
    // The time-stamp counter: rdtsc runs; rdmsr 0x10 reads it (between two rdtsc), reads
    // zero, or faults.
    uint64_t t0 = rdtsc();
    uint32_t lo, hi;
    fault_vec = 0;
    fault_skip = 2;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x10));
    uint64_t t1 = (uint64_t)hi << 32 | lo, t2 = rdtsc();
    puts("rdtsc="); puts(t0 < t2 ? "runs" : "stopped"); puts("\n");
    puts("msr 0x00000010=");
    puts(fault_vec ? fault_name() : !t1 ? "zero" : t0 <= t1 && t1 <= t2 ? "tsc" : "other");
    puts("\n");
    fault_vec = 0;
    fault_skip = 3;
    uint32_t aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) :: "memory");
    puts("rdtscp="); puts(fault_vec ? fault_name() : "ok"); puts("\n");
    fault_vec = 0;
    fault_skip = 2;
    __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0) : "memory");
    puts("rdpmc="); puts(fault_vec ? fault_name() : "ok"); puts("\n");
}

// The VGA's register file through its index/data pairs (all ones without a VGA).
static void vga(void)
{
    uint8_t b[16];
    for (uint32_t r = 0; r < 256; r += 16) {
        for (uint32_t i = 0; i < 16; i++) {
            outb(0x3d4, (uint8_t)(r + i));
            b[i] = inb(0x3d5);
        }
        row("vga.crtc", r, b, 0);
    }
    for (uint32_t i = 0; i < 16; i++) {
        outb(0x3c4, (uint8_t)i);
        b[i] = inb(0x3c5);
    }
    row("vga.seq", 0, b, 0);
    for (uint32_t i = 0; i < 16; i++) {
        outb(0x3ce, (uint8_t)i);
        b[i] = inb(0x3cf);
    }
    row("vga.gc", 0, b, 0);
    for (uint32_t r = 0; r < 32; r += 16) {
        for (uint32_t i = 0; i < 16; i++) {
            (void)inb(0x3da);
            outb(0x3c0, (uint8_t)(r + i) | 0x20);
            b[i] = inb(0x3c1);
        }
        row("vga.attr", r, b, 0);
    }
    (void)inb(0x3da);
    outb(0x3c7, 0);
    for (uint32_t r = 0; r < 768; r += 16) {
        for (uint32_t i = 0; i < 16; i++)
            b[i] = inb(0x3c9);
        row("vga.dac", r, b, 0);
    }
    kv("vga.dac.state", 0, inb(0x3c7));
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic; (void)info;
    ports();   // first: the ports as the firmware leaves them
    unread_static();
    cmos();
    pci();
    pci_wmask();
    platform_tables();
    apics();
    cpuids();
    idt_gate(6, ud_entry);
    idt_gate(13, gp_entry);
    msrs();
    vga();
    return 0;
}
