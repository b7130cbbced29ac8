// A guest's own int3 and ud2 right after a patched site, as kvm-unit-tests' eventinj has
// (`out` to pc-testdev, then `int $3`) and Linux's WARN() (ud2, resumed after it): the
// #BP handler must see the EIP after the int3 and the #UD handler the ud2's own, both in the
// guest's code -- not in a trampoline that copied them after the site's region (rewriter
// plan.py, tails: they end before an int3 or ud2, whose trap or resumption at EIP + 2 a copy
// cannot give). The handlers print what they saw; the transcript must be QEMU's.
#include "glib.h"

volatile uint32_t bp_eip, bp_count, ud_eip, ud_count, after;

void bp_entry(void);
void ud_entry(void);
void bp_site(void);
void bp_after(void);
void ud_site(void);
__asm__(".globl bp_entry\n"
        "bp_entry:\n"
        "  pushl %eax\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, bp_eip\n"
        "  incl bp_count\n"
        "  popl %eax\n"
        "  iret\n"
        ".globl ud_entry\n"
        "ud_entry:\n"                   // as Linux's WARN(): report, resume past the ud2
        "  pushl %eax\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, ud_eip\n"
        "  incl ud_count\n"
        "  addl $2, 4(%esp)\n"
        "  popl %eax\n"
        "  iret\n"
        ".globl bp_site\n"
        "bp_site:\n"
        "  leal 4(%esp), %eax\n"        // a region: lea, out (6 bytes)
        "  outb %al, $0x80\n"
        "  int3\n"
        ".globl bp_after\n"
        "bp_after:\n"
        "  incl after\n"
        "  ret\n"
        ".globl ud_site\n"
        "ud_site:\n"
        "  leal 4(%esp), %eax\n"
        "  outb %al, $0x80\n"
        "  ud2\n"
        "  incl after\n"
        "  ret\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    idt_gate(3, bp_entry);
    idt_gate(6, ud_entry);
    bp_site();
    ud_site();
    puts("#BP ");
    putdec(bp_count);
    puts(" time(s), EIP bp_after");
    puts(bp_eip == (uint32_t)bp_after ? "" : " not");
    puts("; #UD ");
    putdec(ud_count);
    puts(" time(s), EIP ud_site+");
    putdec(ud_eip - (uint32_t)ud_site);
    puts("; went on after both: ");
    putdec(after);
    putc('\n');
    gexit(0);
}
