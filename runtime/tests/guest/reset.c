// Resets the machine the way the command line names: "cf9" (the PIIX3's reset control
// register), "92" (port 0x92's fast reset) or "kbc" (the 8042's pulse command). Under QEMU
// -no-reboot the process exits; ring1 ends the run with its reset status.
#include "glib.h"

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
    }
    puts("no reset\n");
    return 0;
}
