// The VMX, SVM, SGX and SMX instructions on a CPU without those features (QEMU's qemu32):
// each one's fault, run under qemu-system-i386 and under ring1-run (tests/test_runtime_boot.py
// compares the transcripts). Each instruction is in the image, where the rewriter sees it;
// the ring-0 forms take EAX as the memory operand (a scratch buffer) where they have one.
#include "glib.h"

volatile uint32_t fault_vec, fault_err, fault_skip;
void ud_entry(void);
void gp_entry(void);
__asm__(".globl ud_entry, gp_entry\n"
        "ud_entry:\n"
        "  movl $6, fault_vec\n"
        "  jmp 1f\n"
        "gp_entry:\n"
        "  movl $13, fault_vec\n"
        "  popl fault_err\n"
        "1:\n"
        "  pushl %eax\n"
        "  movl fault_skip, %eax\n"
        "  addl %eax, 4(%esp)\n"       // past the faulting instruction
        "  popl %eax\n"
        "  iret\n");

static uint8_t scratch[64] __attribute__((aligned(16)));

static void report(const char *name, uint32_t eax)
{
    puts(name);
    puts(fault_vec == 6 ? " ud" : fault_vec == 13 ? " gp" : " none");
    if (fault_vec == 13) {
        puts(" err ");
        puthex(fault_err);
    }
    if (!fault_vec && eax != (uint32_t)(uintptr_t)scratch) {
        puts(" eax ");
        puthex(eax);
    }
    puts("\n");
}

#define TRY(name, len, bytes)                                                         \
    do {                                                                              \
        uint32_t a;                                                                   \
        fault_vec = 0;                                                                \
        fault_skip = len;                                                             \
        __asm__ volatile(".byte " bytes : "=a"(a) : "a"(scratch), "c"(0), "d"(0)      \
                         : "memory");                                                 \
        report(name, a);                                                              \
    } while (0)

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic; (void)info;
    idt_gate(6, ud_entry);
    idt_gate(13, gp_entry);
    // VMX
    TRY("vmcall", 3, "0x0f,0x01,0xc1");
    TRY("vmlaunch", 3, "0x0f,0x01,0xc2");
    TRY("vmresume", 3, "0x0f,0x01,0xc3");
    TRY("vmxoff", 3, "0x0f,0x01,0xc4");
    TRY("vmfunc", 3, "0x0f,0x01,0xd4");
    TRY("vmptrld", 3, "0x0f,0xc7,0x30");
    TRY("vmclear", 4, "0x66,0x0f,0xc7,0x30");
    TRY("vmxon", 4, "0xf3,0x0f,0xc7,0x30");
    TRY("vmptrst", 3, "0x0f,0xc7,0x38");
    TRY("vmread", 3, "0x0f,0x78,0xc8");
    TRY("vmwrite", 3, "0x0f,0x79,0xc1");
    TRY("invept", 5, "0x66,0x0f,0x38,0x80,0x00");
    TRY("invvpid", 5, "0x66,0x0f,0x38,0x81,0x00");
    // SVM
    TRY("vmrun", 3, "0x0f,0x01,0xd8");
    TRY("vmmcall", 3, "0x0f,0x01,0xd9");
    TRY("vmload", 3, "0x0f,0x01,0xda");
    TRY("vmsave", 3, "0x0f,0x01,0xdb");
    TRY("stgi", 3, "0x0f,0x01,0xdc");
    TRY("clgi", 3, "0x0f,0x01,0xdd");
    TRY("skinit", 3, "0x0f,0x01,0xde");
    TRY("invlpga", 3, "0x0f,0x01,0xdf");
    // SGX, SMX
    TRY("encls", 3, "0x0f,0x01,0xcf");
    TRY("enclu", 3, "0x0f,0x01,0xd7");
    TRY("getsec", 2, "0x0f,0x37");
    puts("done\n");
    return 0;
}
