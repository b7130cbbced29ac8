// Ring 3's system call stub, `mov $7, %eax; int $0x40; ret`, called hot enough that ring1
// patches it at run time into a far call through its system call gate (runtime/usergate.c),
// and then everything around it that a patch could get wrong. Run against QEMU: the
// transcripts must be equal but for the lines the test lists.
//
// Paging on: 0-4 MiB supervisor, 4-8 MiB user, 8-12 MiB a supervisor alias of 4-8 MiB. The
// user program (u_*, position-independent: data through %ebp) is copied to a user page, so its
// frame is RAM outside the kernel's image, as a real program's is. Each phase runs it in
// ring 3 from one entry point until `int $0x40` with EAX = 99, which reports and goes on.
// Command line "forge": ring 3 far-calls through the gate's selector itself ("forgeind":
// indirectly, through a far pointer on its stack). "vsys": the same
// for Linux's vDSO entry, `push %ecx; push %edx; push %ebp; mov %esp, %ebp; sysenter;
// int $0x80` then the landing `pop %ebp; pop %edx; pop %ecx; ret`, with the kernel's sysenter
// entry returning there by sysexit, as Linux's does.
#include "glib.h"

#define USER      0x400000u
#define ALIAS     0x800000u
#define CODE      (USER + 0x1000)     // the program's page
#define STACK_LO  (USER + 0x3000)     // a stack page whose page below is not present
#define STACK     (USER + 0x3ff000)   // the usual stack

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[3][1024] __attribute__((aligned(4096)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
struct tss { uint32_t link, esp0, ss0, rest[23]; } __attribute__((packed));
static struct tss tss;
static uint64_t gdt[6];

static volatile uint32_t calls, last_eax, pfs, gps, gp_err, steps, step_at[16], end_ebx, end_edi;
static volatile uint32_t step_limit;   // nonzero: the #DB handler clears TF at that many steps

// The program. u_data is a word in the same page as the stub, written by some phases.
void u_prog(void), u_prog_end(void), u_hot(void), u_data_loop(void), u_own_read(void),
    u_stack_edge(void), u_direct(void), u_step(void), u_forge(void), u_forge_ind(void), u_stub(void),
    u_data(void),
    u_vhot(void), u_vstep(void), u_vedge(void), u_vsys(void), u_landing(void);
__asm__(".text\n"
        ".globl u_prog, u_prog_end, u_hot, u_data_loop, u_own_read, u_stack_edge, u_direct\n"
        ".globl u_step, u_forge, u_forge_ind, u_stub, u_data, u_vhot, u_vstep, u_vedge, u_vsys, u_landing\n"
        "u_prog:\n"
        "u_base:\n"
        // 100 calls; EDI = the sum of their results
        "u_hot:\n"
        "  xorl %edi, %edi\n"
        "  movl $100, %esi\n"
        "1:call u_stub\n"
        "  addl %eax, %edi\n"
        "  decl %esi\n"
        "  jnz 1b\n"
        "  jmp u_end\n"
        // 50 calls, the data word in the stub's page incremented after each
        "u_data_loop:\n"
        "  call 2f\n"
        "2:popl %ebp\n"
        "  subl $(2b - u_base), %ebp\n"
        "  xorl %edi, %edi\n"
        "  movl $50, %esi\n"
        "1:call u_stub\n"
        "  addl %eax, %edi\n"
        "  incl (u_data - u_base)(%ebp)\n"
        "  decl %esi\n"
        "  jnz 1b\n"
        "  movl (u_data - u_base)(%ebp), %ebx\n"
        "  jmp u_end\n"
        // the stub's first byte, read by the program itself
        "u_own_read:\n"
        "  call 2f\n"
        "2:popl %ebp\n"
        "  subl $(2b - u_base), %ebp\n"
        "  movzbl (u_stub - u_base)(%ebp), %ebx\n"
        "  jmp u_end\n"
        // the stub called with ESP 4 bytes above a page that is not present
        "u_stack_edge:\n"
        "  call 2f\n"
        "2:popl %ebp\n"
        "  subl $(2b - u_base), %ebp\n"
        "  leal (3f - u_base)(%ebp), %eax\n"
        "  movl %eax, " "0x403000\n"
        "  movl $0x403000, %esp\n"
        "  jmp u_stub\n"
        "3:movl %eax, %edi\n"
        "  movl %esp, %ebx\n"
        "  movl $0x7ff000, %esp\n"
        "  jmp u_end\n"
        // the stub's int reached directly, with EAX 11
        "u_direct:\n"
        "  call 2f\n"
        "2:popl %ebp\n"
        "  subl $(2b - u_base), %ebp\n"
        "  movl $11, %eax\n"
        "  leal (u_stub + 5 - u_base)(%ebp), %ecx\n"
        "  call *%ecx\n"
        "  movl %eax, %edi\n"
        "  jmp u_end\n"
        // the stub single-stepped (TF set by popf)
        "u_step:\n"
        "  pushfl\n"
        "  orl $0x100, (%esp)\n"
        "  popfl\n"
        "  call u_stub\n"
        "  pushfl\n"
        "  andl $~0x100, (%esp)\n"
        "  popfl\n"
        "  movl %eax, %edi\n"
        "  jmp u_end\n"
        // a far call through the gate's selector, not from the stub
        "u_forge:\n"
        "  lcall $0x40cd, $7\n"
        "  movl %eax, %edi\n"
        "  jmp u_end\n"
        // the same through a far pointer on the stack (ESP-based: the operand's ESP is the
        // one before the call's pushes)
        "u_forge_ind:\n"
        "  pushl $0x40cd\n"
        "  pushl $7\n"
        "  lcall *(%esp)\n"
        "  addl $8, %esp\n"
        "  movl %eax, %edi\n"
        "  jmp u_end\n"
        // the vDSO entry, 100 times with EAX 5
        "u_vhot:\n"
        "  xorl %edi, %edi\n"
        "  movl $100, %esi\n"
        "1:movl $5, %eax\n"
        "  call u_vsys\n"
        "  addl %eax, %edi\n"
        "  decl %esi\n"
        "  jnz 1b\n"
        "  jmp u_end\n"
        // the vDSO entry single-stepped up to its push of EBP (the #DB handler then clears TF:
        // stepping on through sysenter into the kernel is another matter)
        "u_vstep:\n"
        "  movl $6, %eax\n"
        "  pushfl\n"
        "  orl $0x100, (%esp)\n"
        "  popfl\n"
        "  call u_vsys\n"
        "  pushfl\n"
        "  andl $~0x100, (%esp)\n"
        "  popfl\n"
        "  movl %eax, %edi\n"
        "  jmp u_end\n"
        // the vDSO entry with ESP such that the far call's push (below the pushes of ECX, EDX
        // and EBP) reaches a page that is not present, and the push of EBP does not
        "u_vedge:\n"
        "  call 2f\n"
        "2:popl %ebp\n"
        "  subl $(2b - u_base), %ebp\n"
        "  leal (3f - u_base)(%ebp), %eax\n"
        "  movl %eax, 0x403008\n"
        "  movl $0x403008, %esp\n"
        "  movl $7, %eax\n"
        "  jmp u_vsys\n"
        "3:movl %eax, %edi\n"
        "  movl %esp, %ebx\n"
        "  movl $0x7ff000, %esp\n"
        "  jmp u_end\n"
        "u_end:\n"
        "  movl $99, %eax\n"
        "  int $0x40\n"
        "  .balign 16\n"
        "u_stub:\n"
        "  movl $7, %eax\n"
        "  int $0x40\n"
        "  ret\n"
        "u_data:\n"
        "  .long 0\n"
        "  .balign 16\n"
        "u_vsys:\n"
        "  pushl %ecx\n"
        "  pushl %edx\n"
        "  pushl %ebp\n"
        "  movl %esp, %ebp\n"
        "  sysenter\n"
        "  int $0x80\n"
        "u_landing:\n"
        "  popl %ebp\n"
        "  popl %edx\n"
        "  popl %ecx\n"
        "  ret\n"
        "u_prog_end:\n");

#define AT(sym) (CODE + ((uint32_t)(sym) - (uint32_t)u_prog))

// int $0x40 (DPL 3): EAX 99 ends the phase, any other returns EAX + 1000. #PF, #GP count and
// skip (they must not happen); #DB records where ring 3 stepped.
void sys_entry(void), pf_entry(void), gp_entry(void), db_entry(void), end_phase(void),
    se_entry(void);
static uint8_t se_stack[1024] __attribute__((aligned(16)));
static volatile uint32_t landing;
__asm__(".text\n"
        "sys_entry:\n"
        "  cmpl $99, %eax\n"
        "  je 1f\n"
        "  incl calls\n"
        "  movl %eax, last_eax\n"
        "  addl $1000, %eax\n"
        "  iret\n"
        "1:movl %ebx, end_ebx\n"
        "  movl %edi, end_edi\n"
        "  movl $kstack+4096, %esp\n"
        "  movl $0x10, %eax\n"
        "  movl %eax, %ds\n"
        "  movl %eax, %es\n"
        "  jmp end_phase\n"
        "pf_entry:\n"
        "  incl pfs\n"
        "  movl $kstack+4096, %esp\n"
        "  jmp end_phase\n"
        "gp_entry:\n"
        "  incl gps\n"
        "  popl gp_err\n"
        "  movl $kstack+4096, %esp\n"
        "  jmp end_phase\n"
        // sysenter (MSRs below): EAX + 1000, back to the landing with the user's stack (EBP)
        "se_entry:\n"
        "  incl calls\n"
        "  movl %eax, last_eax\n"
        "  addl $1000, %eax\n"
        "  movl landing, %edx\n"
        "  movl %ebp, %ecx\n"
        "  sysexit\n"
        "db_entry:\n"
        "  pushl %eax\n"
        "  movl steps, %eax\n"
        "  cmpl $16, %eax\n"
        "  jae 1f\n"
        "  pushl %ebx\n"
        "  movl 8(%esp), %ebx\n"
        "  movl %ebx, step_at(,%eax,4)\n"
        "  popl %ebx\n"
        "1:incl steps\n"
        "  movl step_limit, %eax\n"
        "  testl %eax, %eax\n"
        "  jz 2f\n"
        "  cmpl steps, %eax\n"
        "  ja 2f\n"
        "  andl $~0x100, 12(%esp)\n"    // (EFLAGS of the frame, above EIP, CS and EAX)
        "2:popl %eax\n"
        "  iret\n");

static unsigned phase;
static int forge, vsys;

static void line(const char *what, uint32_t a, uint32_t b)
{
    puts(what);
    puts(": calls ");
    putdec(calls);
    puts(", eax at the call ");
    putdec(last_eax);
    puts(", ");
    puthex(a);
    puts(" ");
    puthex(b);
    puts(", #PF ");
    putdec(pfs);
    puts(", #GP ");
    putdec(gps);
    if (gps) {
        puts(" (");
        puthex(gp_err);
        puts(")");
    }
    putc('\n');
    calls = last_eax = pfs = gps = 0;
}

void end_phase(void)
{
    if (vsys) {
        switch (phase++) {
        case 0:
            ring3_enter(AT(u_vhot), STACK);
        case 1:
            line("vDSO entry, 100 calls: sum of results", end_edi, 0);
            pt[1][(STACK_LO - USER - 0x1000) >> 12] = 0;   // the page below STACK_LO
            __asm__ volatile("invlpg (%0)" ::"r"(STACK_LO - 0x1000) : "memory");
            ring3_enter(AT(u_vedge), STACK);
        case 2:
            line("vDSO entry, the far call's push onto a page not present: result, ESP after",
                 end_edi, end_ebx);
            step_limit = 4;
            ring3_enter(AT(u_vstep), STACK);
        case 3:
            line("vDSO entry single-stepped: result, steps", end_edi, steps);
            for (uint32_t i = 0; i < steps && i < 16; i++) {
                puts("  step at ");
                puthex(step_at[i] >= CODE ? step_at[i] - CODE : step_at[i]);
                puts(step_at[i] >= CODE ? " in u_prog\n" : " in the kernel\n");
            }
            puts("done\n");
            gexit(0);
        }
        gexit(1);
    }
    switch (phase++) {
    case 0:
        ring3_enter(AT(u_hot), STACK);
    case 1:
        line("100 calls: sum of results", end_edi, 0);
        if (forge)
            ring3_enter(forge == 2 ? AT(u_forge_ind) : AT(u_forge), STACK);
        // Deliberately different under ring1 (the test lists it): the program reads its own
        // patched page.
        ring3_enter(AT(u_own_read), STACK);
    case 2:
        if (forge) {
            line("forged far call: result", end_edi, 0);
            gexit(0);
        }
        line("the stub's first byte read by the program", end_ebx, 0);
        puts("the stub's first byte read by the kernel through another mapping: ");
        puthex(*(volatile uint8_t *)(AT(u_stub) - USER + ALIAS));
        putc('\n');
        pt[1][(STACK_LO - USER - 0x1000) >> 12] = 0;   // the page below STACK_LO: not present
        __asm__ volatile("invlpg (%0)" ::"r"(STACK_LO - 0x1000) : "memory");
        ring3_enter(AT(u_stack_edge), STACK);
    case 3:
        line("ESP 4 bytes above a page not present: result, ESP after", end_edi, end_ebx);
        ring3_enter(AT(u_direct), STACK);
    case 4:
        line("the int reached directly with EAX 11: result", end_edi, 0);
        ring3_enter(AT(u_step), STACK);
    case 5:
        line("single-stepped: result, steps", end_edi, steps);
        for (uint32_t i = 0; i < steps && i < 16; i++) {
            puts("  step at u_prog+");
            puthex(step_at[i] - CODE);
            putc('\n');
        }
        ring3_enter(AT(u_data_loop), STACK);
    case 6:
        line("50 calls, a word in the stub's page written after each: sum, word", end_edi,
             end_ebx);
        puts("done\n");
        gexit(0);
    }
    gexit(1);
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    forge = cmdline_has(info, "forgeind") ? 2 : cmdline_has(info, "forge");
    vsys = cmdline_has(info, "vsys");
    gdt_load_ring3(gdt, sizeof gdt / sizeof gdt[0], &tss, sizeof tss,
                   (uint32_t)(kstack + sizeof kstack));
    pic_init(0xff, 0xff);   // no interrupts: ring 3 runs with IF set
    idt_gate_dpl(0x40, sys_entry, 3);
    idt_gate(14, pf_entry);
    idt_gate(13, gp_entry);
    idt_gate(1, db_entry);
    __asm__ volatile("wrmsr" :: "c"(0x174), "a"(0x08), "d"(0));
    __asm__ volatile("wrmsr" :: "c"(0x175), "a"((uint32_t)(se_stack + sizeof se_stack)), "d"(0));
    __asm__ volatile("wrmsr" :: "c"(0x176), "a"((uint32_t)se_entry), "d"(0));
    landing = AT(u_landing);
    const uint8_t *s = (const uint8_t *)u_prog;
    uint8_t *d = (uint8_t *)CODE;
    for (uint32_t i = 0; i < (uint32_t)u_prog_end - (uint32_t)u_prog; i++)
        d[i] = s[i];
    paging_user_alias(pd, pt);
    __asm__ volatile("movl $kstack+4096, %%esp\n jmp end_phase" ::: "memory");
    __builtin_unreachable();
}
