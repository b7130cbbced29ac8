// Resets the machine the way the command line names: "cf9" (the PIIX3's reset control
// register), "92" (port 0x92's fast reset) or "kbc" (the 8042's pulse command). Under QEMU
// -no-reboot the process exits; ring1 ends the run with its reset status. Or turns it off:
// "s5" enables ACPI through the APM port as an OS does (ACPI_ENABLE to SMI_CMD), checks the
// PM timer runs, and writes SLP_TYP 0 (QEMU's \_S5) with SLP_EN to PIIX4's PM1a_CNT at
// SeaBIOS's PM base; QEMU exits 0.
#include "glib.h"

#define PM_BASE 0x600
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void s5(void)
{
    puts("pm1_cnt="); puthex(inw(PM_BASE + 4)); puts("\n");
    outb(0xb2, 0xf1);
    puts("pm1_cnt="); puthex(inw(PM_BASE + 4)); puts(" apmc="); puthex(inb(0xb2)); puts("\n");
    uint32_t t0 = inl(PM_BASE + 8), t1 = t0;
    for (int i = 0; i < 1000000 && t1 == t0; i++)
        t1 = inl(PM_BASE + 8);
    puts("pm timer runs: "); puts(t1 != t0 && t0 < 0x1000000 && t1 < 0x1000000 ? "yes" : "no");
    puts("\n");
    outw(PM_BASE + 4, inw(PM_BASE + 4) | 0x2000);
    for (;;)   // QEMU turns the machine off a little later, at its main loop
        __asm__ volatile("pause");
}

static int is(const char *s, const char *w)
{
    while (*s == ' ')
        s++;
    while (*w && *s == *w)
        s++, w++;
    return !*w && (!*s || *s == ' ');
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const uint32_t *mbi = (const uint32_t *)info;
    const char *cmd = (mbi[0] & 4) ? (const char *)mbi[4] : "";
    while (*cmd && *cmd != ' ')   // the kernel's name
        cmd++;
    puts("rcr="); puthex(inb(0xcf9)); puts("\n");
    if (is(cmd, "cf9")) {
        outb(0xcf9, 0x02);        // the reset type alone: kept, no reset
        puts("rcr="); puthex(inb(0xcf9)); puts("\n");
        outb(0xcf9, 0x06);
    } else if (is(cmd, "92")) {
        outb(0x92, inb(0x92) | 1);
    } else if (is(cmd, "kbc")) {
        outb(0x64, 0xfe);
    } else if (is(cmd, "s5")) {
        s5();
    }
    puts("no reset\n");
    return 0;
}
