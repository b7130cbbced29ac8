// Guest system-call instructions must become guest events, never host system calls
// (Syscall User Dispatch, docs/design.md §5): int $0x80 goes through the guest's IDT (vector 0x80),
// and syscall, which qemu32 does not have, is #UD.
#include "glib.h"

struct gate { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
static struct gate idt[256];
static volatile uint32_t seen_vector, seen_eax;

void int80_entry(void);
void ud_entry(void);
__asm__(".globl int80_entry\n"
        "int80_entry:\n"
        "  movl $0x80, seen_vector\n"
        "  movl %eax, seen_eax\n"
        "  movl $42, %eax\n"
        "  iret\n"
        ".globl ud_entry\n"
        "ud_entry:\n"
        "  movl $6, seen_vector\n"
        "  addl $2, (%esp)\n"          // skip the 2-byte syscall instruction
        "  iret\n");

static void set_gate(int vec, void (*fn)(void))
{
    uint32_t a = (uint32_t)fn;
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    idt[vec] = (struct gate){(uint16_t)a, 0x08, 0, 0xee, (uint16_t)(a >> 16)};  // DPL3 int gate
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = {sizeof idt - 1, (uint32_t)idt};
    set_gate(0x80, int80_entry);
    set_gate(6, ud_entry);
    __asm__ volatile("lidt %0" ::"m"(idtr));
    uint32_t ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(1));   // eax 1 = exit(), were it Linux's
    puts(seen_vector == 0x80 && seen_eax == 1 && ret == 42 ? "int80: guest handler ran\n"
                                                            : "int80: WRONG\n");
    seen_vector = 0;
    __asm__ volatile("syscall" ::"a"(60) : "ecx", "memory");   // 60 = x86-64 exit
    puts(seen_vector == 6 ? "syscall: #UD\n" : "syscall: WRONG\n");
    return 0;
}
