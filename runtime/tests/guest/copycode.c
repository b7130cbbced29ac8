// A kernel that copies routines of its own text and runs the copies, as real kernels do (one
// starts its first process by copying a routine ending in `int $0x80` into a user page; many
// copy a signal-return stub onto the user stack at every signal). Under ring1 the rewriter
// has patched those routines' sensitive instructions (a `jmp rel32` to a trampoline, or an
// `int3`), so a copy holds patched bytes unless ring1 repairs it (runtime/patched.h). Run
// against QEMU: the transcripts must be equal.
//
// Paging on: 0-4 MiB supervisor, 4-8 MiB user, and 8-12 MiB a supervisor alias of 4-8 MiB
// (the kernel writing a user frame through another address, as through a direct map).
// Each test copies a routine, runs it, and reports what the CPU saw: `int $0x80` (a DPL-3
// gate) and #GP both print the vector, EAX/EBX and the EIP as an offset into the copy.
// EAX = 99 at `int $0x80` ends a test; any other value returns to the copy.
#include "glib.h"

#define USER      0x400000u
#define ALIAS     0x800000u   // the same frames as USER, supervisor
#define KBUF      0x300000u   // a kernel page outside the image

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[3][1024] __attribute__((aligned(4096)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
struct tss { uint32_t link, esp0, ss0, rest[23]; } __attribute__((packed));
static struct tss tss;
static uint64_t gdt[7];
#define TLS_AT (USER + 0x5000)   // the base of GDT entry 6 (0x33): a user page

static volatile uint32_t copy_at, seen_vec, seen_err, seen_eip, seen_eax, seen_ebx, seen_cs;
void next_test(void);

// The routines, in .text (the rewriter patches them). Each ends with a label *_end.
void r_int80(void), r_int80_end(void), r_flags(void), r_flags_end(void), r_cpuid(void),
    r_cpuid_end(void), r_tls(void), r_tls_end(void), r_sigret(void), r_sigret_end(void);
__asm__(".text\n"
        ".globl r_int80, r_int80_end\n"
        "r_int80:\n"
        "  movl $0x2a, %ebx\n"
        "  movl $1, %eax\n"
        "  int $0x80\n"
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "r_int80_end:\n"
        // pushf/popf, then cli and in: what ring 3 sees of them (#GP: IOPL 0, no I/O bitmap).
        ".globl r_flags, r_flags_end\n"
        "r_flags:\n"
        "  pushl $0\n"
        "  popf\n"
        "  pushf\n"
        "  popl %ebx\n"
        "  movl $2, %eax\n"
        "  int $0x80\n"
        "  cli\n"
        "  inb $0x21, %al\n"
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "r_flags_end:\n"
        // cpuid in ring 3: the CPU model's signature (leaf 1), not the host's.
        ".globl r_cpuid, r_cpuid_end\n"
        "r_cpuid:\n"
        "  movl $1, %eax\n"
        "  cpuid\n"
        "  movl %eax, %ebx\n"
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "r_cpuid_end:\n"
        // A thread pointer: GS loaded with 0x33 -- a selector the host's GDT accepts too (its
        // 64-bit code segment) -- then read through it.
        ".globl r_tls, r_tls_end\n"
        "r_tls:\n"
        "  movw $0x33, %ax\n"
        "  movw %ax, %gs\n"
        "  movl %gs:4, %ebx\n"
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "r_tls_end:\n"
        ".globl r_sigret, r_sigret_end\n"
        "r_sigret:\n"
        "  movl $0x77, %ebx\n"
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "r_sigret_end:\n");

// Vector 0x80 and 13: record, then iret back (EAX != 99 at int $0x80; a #GP skips the
// faulting instruction: cli is 1 byte, inb imm8 2) or go on with the next test.
void int80_entry(void), gp_entry(void);
__asm__(".text\n"
        "int80_entry:\n"
        "  movl $0x80, seen_vec\n"
        "  movl $0, seen_err\n"
        "  jmp 1f\n"
        "gp_entry:\n"
        "  movl $13, seen_vec\n"
        "  popl seen_err\n"
        "1:\n"
        "  movl %eax, seen_eax\n"
        "  movl %ebx, seen_ebx\n"
        "  movl (%esp), %eax\n"
        "  movl %eax, seen_eip\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, seen_cs\n"
        "  movl seen_eax, %eax\n"
        "  cmpl $99, %eax\n"
        "  je 3f\n"
        "  pushl %eax\n"
        "  call report\n"
        "  popl %eax\n"
        "  cmpl $13, seen_vec\n"
        "  jne 2f\n"
        "  movl seen_eip, %eax\n"
        "  movl copy_at, %ebx\n"
        "  cmpb $0xfa, (%eax)\n"            // cli: 1 byte, else inb imm8: 2
        "  je 4f\n"
        "  incl (%esp)\n"
        "4:\n"
        "  incl (%esp)\n"
        "  movl seen_ebx, %ebx\n"
        "  movl seen_eax, %eax\n"
        "2:\n"
        "  iret\n"
        "3:\n"
        "  movl $kstack+4096, %esp\n"
        "  call report\n"
        "  jmp next_test\n");

void report(void)
{
    puts(seen_vec == 13 ? "  #GP(" : "  int 0x80 (");
    puthex(seen_err);
    puts(") from ring ");
    putdec(seen_cs & 3);
    puts(" at copy+");
    putdec(seen_eip - copy_at);
    puts(": eax ");
    puthex(seen_eax);
    puts(" ebx ");
    puthex(seen_ebx);
    putc('\n');
}

static void copy(uint32_t to, void (*from)(void), void (*end)(void))
{
    const uint8_t *s = (const uint8_t *)from;
    uint8_t *d = (uint8_t *)to;
    for (uint32_t i = 0; i < (uint32_t)end - (uint32_t)from; i++)
        d[i] = s[i];
}

// Run the copy at eip in ring 3 (reports give EIPs as offsets into it).
static void __attribute__((noreturn)) ring3(uint32_t eip, uint32_t esp)
{
    copy_at = eip;
    ring3_enter(eip, esp);
}

static unsigned test;

void next_test(void)
{
    __asm__ volatile("movl $0x10, %%eax\n movl %%eax, %%ds\n movl %%eax, %%es" ::: "eax");
    switch (test++) {
    case 0:
        puts("int $0x80 routine copied to a user page, run in ring 3\n");
        copy(USER + 0x123, r_int80, r_int80_end);
        ring3(USER + 0x123, USER + 0x3ff000);
    case 1:
        puts("the same page written again (another routine), run again\n");
        copy(USER + 0x123, r_flags, r_flags_end);
        ring3(USER + 0x123, USER + 0x3ff000);
    case 2:
        puts("cpuid routine copied to a user page, run in ring 3\n");
        copy(USER + 0x2000, r_cpuid, r_cpuid_end);
        ring3(USER + 0x2000, USER + 0x3ff000);
    case 3:
        puts("%gs loaded with 0x33 in ring 3 (the thread pointer), read through\n");
        ((volatile uint32_t *)TLS_AT)[1] = 0x7e57;
        copy(USER + 0x3000, r_tls, r_tls_end);
        ring3(USER + 0x3000, USER + 0x3ff000);
    case 4:
    case 5:
    case 6: {
        // A signal-return stub on the user stack, three times, the later ones written
        // through the supervisor alias of the user frames.
        uint32_t sp = USER + 0x3ff000 - 0x40 * (test - 4) - 0x11;
        puts("signal-return stub copied to the user stack");
        puts(test > 5 ? " through an alias\n" : "\n");
        copy(test > 5 ? sp - USER + ALIAS : sp, r_sigret, r_sigret_end);
        ring3(sp, sp);
    }
    case 7:
        puts("int $0x80 routine copied to a kernel page, called in ring 0\n");
        copy(KBUF + 0x801, r_int80, r_int80_end);
        copy_at = KBUF + 0x801;
        __asm__ volatile("call *%0" ::"r"(KBUF + 0x801) : "memory");
        break;   // not reached: EAX = 99 goes to next_test
    default:
        puts("done\n");
        gexit(0);
    }
    gexit(1);
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    int unpaged = cmdline_has(info, "unpaged");
    gdt[6] = gdt_desc(TLS_AT, 0xfff, 0xf2, 0x4);   // 0x33 user data: TLS
    tss.rest[22] = (uint32_t)sizeof tss << 16;   // I/O map base past the limit: no bitmap
    gdt_load_ring3(gdt, sizeof gdt / sizeof gdt[0], &tss, sizeof tss,
                   (uint32_t)(kstack + sizeof kstack));
    pic_init(0xff, 0xff);   // no interrupts: ring 3 runs with IF set
    idt_gate_dpl(0x80, int80_entry, 3);
    idt_gate(13, gp_entry);
    if (unpaged) {
        // Command line "unpaged": a copy made and run with paging off, which ring1 does not
        // repair (docs/code-copies.md): it runs on QEMU, ring1 says what happened.
        puts("int $0x80 routine copied and called with paging off\n");
        copy(KBUF + 0x801, r_int80, r_int80_end);
        copy_at = KBUF + 0x801;
        test = 8;
        __asm__ volatile("call *%0" ::"r"(KBUF + 0x801) : "memory");
    }
    paging_user_alias(pd, pt);
    __asm__ volatile("movl $kstack+4096, %%esp\n jmp next_test" ::: "memory");
    __builtin_unreachable();
}
