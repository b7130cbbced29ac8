// syscall and sysenter written at run time (the rewriter never saw them): qemu32 has no
// SYSCALL (EFER.SCE is 0, so it is #UD) and SYSENTER_CS_MSR is 0 from reset (so sysenter is
// #GP(0)). The command line names which, in order; each is copied into a buffer after a
// nop and called there. The handlers report the vector, error code and faulting EIP, then
// return past the instruction. Run against QEMU. `badstack` runs syscall with ESP pointing
// at no memory (ring1 on AMD: the host kernel fails to read [ESP] and returns to its landing
// pad -- diagnosed like the blocked call). `msr` sets the SYSENTER MSRs first and runs a
// sysenter written at run time with every general register set: the entry point reports
// what it received (SYSENTER keeps no EIP or ESP, so the registers are all there is; an Intel
// host's kernel takes the call and ring1 recovers them from what it blocked), then goes back.
#include "glib.h"

static volatile uint32_t seen_vector, seen_err, seen_eip, seen_ecx, seen_ebp;
static uint8_t code[16] __attribute__((aligned(16)));

void ud_entry(void);
void gp_entry(void);
__asm__(".globl ud_entry\n"
        "ud_entry:\n"
        "  movl $6, seen_vector\n"
        "  movl $0, seen_err\n"
        "  jmp 1f\n"
        ".globl gp_entry\n"
        "gp_entry:\n"
        "  movl $13, seen_vector\n"
        "  popl seen_err\n"
        "1:\n"
        "  movl %ecx, seen_ecx\n"
        "  movl %ebp, seen_ebp\n"
        "  pushl %eax\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, seen_eip\n"
        "  addl $2, 4(%esp)\n"          // past the 2-byte instruction
        "  popl %eax\n"
        "  iret\n");

static void try(const char *name, uint8_t b1)
{
    code[0] = 0x90;                     // nop
    code[1] = 0x0f;
    code[2] = b1;                       // 0f 05 syscall, 0f 34 sysenter
    code[3] = 0xc3;                     // ret
    seen_vector = seen_err = seen_eip = 0;
    uint32_t ecx = 0x11223344, ebp;
    __asm__ volatile("pushl %%ebp\n"
                     "  movl $0x55667788, %%ebp\n"
                     "  call *%2\n"
                     "  movl %%ebp, %1\n"
                     "  popl %%ebp"
                     : "+c"(ecx), "=r"(ebp) : "r"(code) : "memory", "eax", "edx");
    puts(name);
    puts(": vector ");
    putdec(seen_vector);
    puts(" error ");
    puthex(seen_err);
    puts(" at code+");
    putdec(seen_eip - (uint32_t)code);
    puts(", ecx and ebp ");
    puts(seen_ecx == 0x11223344 && seen_ebp == 0x55667788 && ecx == 0x11223344 &&
         ebp == 0x55667788 ? "kept\n" : "changed\n");
}

static volatile uint32_t got[10], back_esp, code_at, ebp_word = 0xe0e0e0e0;
static uint8_t se_stack[256] __attribute__((aligned(16)));

void se_entry(void);
__asm__(".globl se_entry\n"
        "se_entry:\n"
        "  movl %eax, got\n"
        "  movl %ebx, got+4\n"
        "  movl %ecx, got+8\n"
        "  movl %edx, got+12\n"
        "  movl %esi, got+16\n"
        "  movl %edi, got+20\n"
        "  movl %ebp, got+24\n"
        "  movl %esp, got+28\n"
        "  pushfl\n"
        "  popl got+32\n"
        "  movl %ss, %eax\n"
        "  shll $16, %eax\n"
        "  movw %cs, %ax\n"
        "  movl %eax, got+36\n"
        "  movl back_esp, %esp\n"
        "  ret\n");

static void sysenter_msr(void)
{
    static const char *const names[] = {"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp",
                                        "esp", "eflags", "ss:cs"};
    __asm__ volatile("wrmsr" :: "c"(0x174), "a"(0x08), "d"(0));
    __asm__ volatile("wrmsr" :: "c"(0x175), "a"((uint32_t)(se_stack + sizeof se_stack)), "d"(0));
    __asm__ volatile("wrmsr" :: "c"(0x176), "a"((uint32_t)se_entry), "d"(0));
    code[0] = 0x90;
    code[1] = 0x0f;
    code[2] = 0x34;                     // sysenter, never returns here
    code_at = (uint32_t)code;
    __asm__ volatile("pushl %%ebp\n"
                     "  pushl %%ebx\n"
                     "  pushl $1f\n"
                     "  movl %%esp, back_esp\n"
                     "  movl $0x1234, %%eax\n"
                     "  movl $0xb0b0b0b0, %%ebx\n"
                     "  movl $0xc0c0c0c0, %%ecx\n"
                     "  movl $0xd0d0d0d0, %%edx\n"
                     "  movl $0x51515151, %%esi\n"
                     "  movl $0xd1d1d1d1, %%edi\n"
                     "  movl %0, %%ebp\n"
                     "  jmp *code_at\n"
                     "1:\n"
                     "  popl %%ebx\n"
                     "  popl %%ebp"
                     :: "i"(&ebp_word) : "memory", "eax", "ecx", "edx", "esi", "edi");
    puts("sysenter with the MSRs set:");
    for (int i = 0; i < 10; i++) {
        puts(" ");
        puts(names[i]);
        puts(" ");
        uint32_t x = got[i];
        if (i == 6)
            x -= (uint32_t)&ebp_word;   // relative: the same on every build
        else if (i == 7)
            x -= (uint32_t)(se_stack + sizeof se_stack);
        puthex(x);
    }
    puts("\n");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    idt_gate(6, ud_entry);
    idt_gate(13, gp_entry);
    for (; *cmd; cmd++) {
        if (cmd[0] == ' ' && cmd[1] == 's' && cmd[2] == 'y' && cmd[3] == 's' && cmd[4] == 'e')
            try("sysenter", 0x34);
        else if (cmd[0] == ' ' && cmd[1] == 's' && cmd[2] == 'y' && cmd[3] == 's' &&
                 cmd[4] == 'c')
            try("syscall", 0x05);
        else if (cmd[0] == ' ' && cmd[1] == 'm' && cmd[2] == 's' && cmd[3] == 'r')
            sysenter_msr();
        else if (cmd[0] == ' ' && cmd[1] == 'b' && cmd[2] == 'a' && cmd[3] == 'd')
            __asm__ volatile("movl %%esp, %%ebx\n"
                             "  movl $0xf0000000, %%esp\n"
                             "  syscall\n"
                             "  movl %%ebx, %%esp" ::: "ebx", "ecx", "memory");
    }
    gexit(0);
}
