// An exception fixup as Linux has them (its __ex_table: {s32 insn, s32 fixup, s32 data}, each
// relative to its own field): a #DE in faulty() is resumed by the handler at a fixup that is
// no function's entry and no branch's target. In a patched image that fixup lies inside the
// region moving fixed()'s cli (the rewriter lets a region hold a target only __ex_table
// names): the handler's iret, emulated, must land on the fixup's piece in the trampoline.
#include "glib.h"

struct ex { int32_t insn, fixup, data; };
extern const struct ex __start___ex_table[], __stop___ex_table[];
volatile uint32_t de_count, result;

void de_c(uint32_t *eip);
void de_c(uint32_t *eip)
{
    de_count++;
    for (const struct ex *e = __start___ex_table; e < __stop___ex_table; e++)
        if ((uint32_t)&e->insn + (uint32_t)e->insn == *eip) {
            *eip = (uint32_t)&e->fixup + (uint32_t)e->fixup;
            return;
        }
    puts("#DE with no fixup\n");
    gexit(1);
}

void de_entry(void);
void fixed(void);
void faulty(void);
__asm__(".globl de_entry\n"
        "de_entry:\n"                   // #DE: the frame's EIP to the fixup, then iret
        "  pushal\n"
        "  leal 32(%esp), %eax\n"
        "  pushl %eax\n"
        "  call de_c\n"
        "  addl $4, %esp\n"
        "  popal\n"
        "  iret\n"
        ".globl fixed\n"
        "fixed:\n"
        "  cli\n"                       // a site: its region is cli, add, mov (5 bytes at least)
        "1: addl $0x23, %ecx\n"         // the fixup
        "  movl %ecx, result\n"
        "  ret\n"
        ".globl faulty\n"
        "faulty:\n"
        "  movl $0x5000, %ecx\n"
        "  xorl %edx, %edx\n"
        "  movl $7, %eax\n"
        "2: divl %edx\n"                // #DE; resumed at 1b: ecx 0x5000 + 0x23 into result
        "  movl $0xbad, result\n"
        "  ret\n"
        ".pushsection __ex_table, \"a\"\n"
        "  .long 2b - .\n"
        "  .long 1b - .\n"
        "  .long 0\n"
        ".popsection\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    idt_gate(0, de_entry);
    __asm__ volatile("movl $0x100, %%ecx\n\tcall fixed" ::: "eax", "ecx", "edx", "memory");
    puts("fixed() from its entry: result "); puthex(result); puts("\n");
    __asm__ volatile("call faulty" ::: "eax", "ecx", "edx", "memory");
    puts("faulty(): #DE count "); puthex(de_count); puts(", resumed at the fixup: result ");
    puthex(result); puts("\n");
    return 0;
}
