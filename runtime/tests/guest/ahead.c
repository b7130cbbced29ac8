// An exception handler whose first instruction is sensitive, as Linux's entry_SYSENTER_32
// begins with pushf: 100 `ud2`s, each delivered to a handler that starts `pushf; cli`, reads
// the flags it pushed, steps past the ud2 and returns with iret. Under ring1 with
// trap sites (`--tactics trap`, or wherever the rewriter finds no region) the handler's first
// instruction is an int3 the run loop finds where the delivered exception lands, and emulates
// there and then instead of entering the guest to take one more host signal on it (vcpu.c,
// trap_site_ahead). The transcript must be QEMU's.
#include "glib.h"

volatile uint32_t count, flags_or, flags_and = 0xffffffffu;

void ud_entry(void);
__asm__(".globl ud_entry\n"
        "ud_entry:\n"
        "  pushfl\n"
        "  cli\n"
        "  pushl %eax\n"
        "  movl 4(%esp), %eax\n"          // the flags pushf saw (an interrupt gate: IF clear)
        "  orl %eax, flags_or\n"
        "  andl %eax, flags_and\n"
        "  incl count\n"
        "  addl $2, 8(%esp)\n"            // past the ud2
        "  popl %eax\n"
        "  addl $4, %esp\n"
        "  iret\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    idt_gate(6, ud_entry);
    for (int i = 0; i < 100; i++)
        __asm__ volatile("ud2" ::: "memory");
    puts("ud2 handled ");
    putdec(count);
    puts(" times, flags in the handler: or ");
    puthex(flags_or & 0x3fd7);
    puts(", and ");
    puthex(flags_and & 0x3fd7);
    putc('\n');
    gexit(0);
}
