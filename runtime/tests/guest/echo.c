// COM1 input: read a line and echo it back, polling LSR.DR ("poll") or interrupt driven
// ("irq": IER.ERBFI -> IRQ4 -> 8259A -> vector 0x24, the CPU idle in sti;hlt meanwhile).
#include "glib.h"

#define COM1 0x3f8

static volatile char line[64];
static volatile unsigned len, done, irqs;

void com1_entry(void);
__asm__(".globl com1_entry\n"
        "com1_entry:\n"
        "  pushal\n"
        "  call com1_irq\n"
        "  popal\n"
        "  iret\n");

void com1_irq(void)
{
    irqs++;
    while (inb(COM1 + 5) & 1) {            // LSR.DR
        char c = (char)inb(COM1);
        if (c == '\n')
            done = 1;
        else if (len < sizeof line - 1)
            line[len++] = c;
    }
    outb(0x20, 0x20);                      // EOI
}

static const char *arg(const char *cmd)
{
    while (*cmd && *cmd != ' ')
        cmd++;
    while (*cmd == ' ')
        cmd++;
    return cmd;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *mode = arg((const char *)((uint32_t *)info)[4]);
    if (mode[0] == 'i') {
        idt_gate(0x24, com1_entry);
        pic_init(~0x10 & 0xff, 0xff);          // only IRQ4
        outb(COM1 + 1, 0x01);              // IER: received data available
        while (!done)
            __asm__ volatile("sti; hlt; cli");
        puts("irq: ");
    } else {
        for (;;) {
            while (!(inb(COM1 + 5) & 1))
                ;
            char c = (char)inb(COM1);
            if (c == '\n')
                break;
            if (len < sizeof line - 1)
                line[len++] = c;
        }
        puts("poll: ");
    }
    line[len] = 0;
    puts("got '");
    puts((const char *)line);
    puts(irqs ? "' with interrupts\n" : "'\n");
    return 0;
}
