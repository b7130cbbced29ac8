// A guest that halts with the PIT running at 100 Hz and never does anything else. The command
// line picks how:
//   idle    IRQ 0 unmasked: every tick wakes it, the handler counts it, it halts again --
//           an idle kernel. On a PC it sleeps between ticks; it must not keep a host core busy.
//   masked  every 8259A input masked (the IOAPIC's are, from reset): no tick can reach the
//           processor, nothing can ever wake it. QEMU sleeps forever; ring1 ends the run,
//           diagnosed (halted for good), as for cli; hlt.
#include "glib.h"

#define PIT_HZ 1193182u


int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    while (*cmd && *cmd != ' ')
        cmd++;
    while (*cmd == ' ')
        cmd++;
    int masked = cmd[0] == 'm';
    idt_gate(0x20, tick_entry);
    pic_init(masked ? 0xff : 0xfe, 0xff);
    outb(0x43, 0x34);                      // channel 0, rate generator, 100 Hz
    outb(0x40, (uint8_t)(PIT_HZ / 100));
    outb(0x40, (uint8_t)((PIT_HZ / 100) >> 8));
    puts(masked ? "idle: halting, every interrupt masked\n" : "idle: halting\n");
    for (;;)
        __asm__ volatile("sti; hlt");
}
