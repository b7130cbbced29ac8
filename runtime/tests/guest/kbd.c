// PS/2 keyboard input: ask the keyboard who it is, then read the keys of one line from the
// 8042 -- polling the status register ("poll") or on IRQ 1 through the 8259A at vector 0x21,
// the CPU idle in sti;hlt ("irq") -- in set 1 through the controller's translation (as
// SeaBIOS leaves it) or, with "set2", in set 2 with translation off. Each decoded character
// is echoed to COM1 as it is typed (control characters as ^X); after Enter is released the
// edited line (Backspace deletes) and every scan code byte follow. Under ring1 the keys come
// from `--input keyboard` and a pipe, under QEMU from its monitor's sendkey.
// "hold": the keyboard does not scan (F5) when the guest says it is ready, for a second or
// two, then scans again (F4); "clockoff": the controller holds the keyboard's clock off
// (command byte bit 4) for that time instead. Either way no byte may arrive meanwhile, and
// none typed meanwhile may be lost.
#include "glib.h"

#define KBC_DATA   0x60
#define KBC_STATUS 0x64


// IRQ 1 fills it, the main loop empties it. Big enough for a whole line: ring1 types as fast
// as the guest reads, and the handler takes byte after byte before the main loop runs.
#define RING 1024
static volatile uint8_t ring[RING];
static volatile uint32_t rhead, rtail;
static int use_irq, set2, hold, clockoff;

void kbd_entry(void);
__asm__(".globl kbd_entry\n"
        "kbd_entry:\n"
        "  pushal\n"
        "  call kbd_irq\n"
        "  popal\n"
        "  iret\n");

void kbd_irq(void)
{
    if (inb(KBC_STATUS) & 1)
        ring[rtail++ % RING] = inb(KBC_DATA);
    outb(0x20, 0x20);                      // EOI
}

static uint8_t next_byte(void)
{
    if (!use_irq) {
        while (!(inb(KBC_STATUS) & 1))
            ;
        return inb(KBC_DATA);
    }
    __asm__ volatile("cli");
    while (rhead == rtail)
        __asm__ volatile("sti; hlt; cli");
    uint8_t b = ring[rhead++ % RING];
    __asm__ volatile("sti");
    return b;
}

static void hex8(uint8_t b)
{
    putc("0123456789abcdef"[b >> 4]);
    putc("0123456789abcdef"[b & 15]);
}

static uint8_t poll_byte(void)
{
    while (!(inb(KBC_STATUS) & 1))
        ;
    return inb(KBC_DATA);
}

static void send(uint8_t b)
{
    while (inb(KBC_STATUS) & 2)
        ;
    outb(KBC_DATA, b);
}

// A keyboard command (with a parameter after its ACK if has_param) and its n reply bytes,
// polled: interrupts are not on yet.
static void kbd_command(const char *what, uint8_t cmd, int has_param, uint8_t param, int n)
{
    puts(what);
    puts(":");
    send(cmd);
    if (has_param) {
        putc(' ');
        hex8(poll_byte());                 // the command's ACK
        n--;
        send(param);
    }
    while (n--) {
        putc(' ');
        hex8(poll_byte());
    }
    puts("\n");
}

// US keyboard, scan code set 1 make codes 0x00-0x39.
static const char normal[] = "\0\0331234567890-=\b\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
static const char shifted[] = "\0\033!@#$%^&*()_+\b\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

// The 8042's set 2 -> set 1 translation, for decoding set 2 the same way.
static const uint8_t xlate[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static void show(char c)
{
    if ((uint8_t)c < 0x20) {
        putc('^');
        putc((char)(c + 0x40));
    } else {
        putc(c);
    }
}

static int has(const char *s, const char *w)
{
    for (; *s; s++) {
        int i = 0;
        while (w[i] && s[i] == w[i])
            i++;
        if (!w[i])
            return 1;
    }
    return 0;
}

// A second or two: until the RTC's seconds register has changed twice. Counts the bytes the
// controller offers meanwhile (it should offer none).
static unsigned quiet_seconds(void)
{
    unsigned offered = 0;
    for (int changes = 0; changes < 2;) {
        outb(0x70, 0x00);
        uint8_t s0 = inb(0x71), s;
        do {
            if (inb(KBC_STATUS) & 1) {
                offered++;
                inb(KBC_DATA);
            }
            outb(0x70, 0x00);
            s = inb(0x71);
        } while (s == s0);
        changes++;
    }
    return offered;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    use_irq = has(cmd, "irq");
    set2 = has(cmd, "set2");
    hold = has(cmd, "hold");
    clockoff = has(cmd, "clockoff");

    while (inb(KBC_STATUS) & 1)            // whatever the firmware left
        inb(KBC_DATA);
    outb(KBC_STATUS, 0x20);
    uint8_t mode = poll_byte();
    puts("mode: ");
    hex8(mode);
    puts("\n");
    if (set2) {
        outb(KBC_STATUS, 0x60);
        outb(KBC_DATA, mode & ~0x40);      // translation off
    }
    kbd_command("identify", 0xf2, 0, 0, 3);
    kbd_command("scan code set", 0xf0, 1, 0x00, 3);
    kbd_command("echo", 0xee, 0, 0, 1);

    if (use_irq) {
        idt_gate(0x21, kbd_entry);
        pic_init(~0x02 & 0xff, 0xff);          // only IRQ 1
    }
    if (hold)
        kbd_command("scanning off", 0xf5, 0, 0, 1);
    if (clockoff) {
        outb(KBC_STATUS, 0x60);
        outb(KBC_DATA, (set2 ? mode & ~0x40 : mode) | 0x10);
    }
    puts(use_irq ? "ready (irq)\n" : "ready (poll)\n");
    if (hold || clockoff) {
        unsigned n = quiet_seconds();
        puts("bytes offered meanwhile: ");
        putdec(n);
        puts("\n");
        if (hold) {
            kbd_command("scanning on", 0xf4, 0, 0, 1);
        } else {
            outb(KBC_STATUS, 0x60);
            outb(KBC_DATA, set2 ? mode & ~0x40 : mode);
            puts("clock on\n");
        }
    }

    static uint8_t codes[512];
    static char line[128];
    unsigned ncodes = 0, len = 0;
    int shift = 0, ctrl = 0, brk = 0, enter = 0;
    for (;;) {
        uint8_t b = next_byte();
        if (ncodes < sizeof codes)
            codes[ncodes++] = b;
        uint8_t sc;
        if (set2) {
            if (b == 0xf0) {
                brk = 1;
                continue;
            }
            sc = (uint8_t)((b < 0x80 ? xlate[b] : b) | (brk ? 0x80 : 0));
            brk = 0;
        } else {
            sc = b;
        }
        int up = sc & 0x80;
        uint8_t key = sc & 0x7f;
        if (key == 0x2a || key == 0x36) {
            shift = !up;
        } else if (key == 0x1d) {
            ctrl = !up;
        } else if (key == 0x1c) {
            if (!up)
                enter = 1;
            else if (enter)
                break;                     // the line ends when Enter comes back up
        } else if (!up && key < sizeof normal - 1) {
            char c = (shift ? shifted : normal)[key];
            if (ctrl && c >= 0x40)
                c &= 0x1f;
            if (!c)
                continue;
            show(c);
            if (c == '\b') {
                if (len)
                    len--;
            } else if (len < sizeof line - 1) {
                line[len++] = c;
            }
        }
    }
    puts("\nline: '");
    for (unsigned i = 0; i < len; i++)
        show(line[i]);
    puts("'\ncodes:");
    for (unsigned i = 0; i < ncodes; i++) {
        putc(i % 16 ? ' ' : '\n');
        hex8(codes[i]);
    }
    puts("\n");
    return 0;
}
