// Ring 3 reaching where a C library's process reaches: accesses below its thread pointer in %gs
// (an offset that wraps around 4 GiB: errno at %gs:-0x40 and the like, in every form a
// compiler emits -- store, load, ALU, push, moffs), pages ever higher (a heap growing, then a
// stack near the kernel), cpuid, two reads of a kernel page (directly and through %gs)
// that must fault, and 300 wrapping accesses in a row. Under ring1, ring 3 runs on segments limited below the kernel's pages
// (mem.c, "user limit"); none of this may cost the kernel's own mappings: the kernel reads its
// 64 pages after every report, and the test counts how many times ring1 dropped them.
// User code lives in a data section, so the rewriter leaves it as it is, like a user program.
// Run against QEMU (tests/test_runtime_boot.py): the transcripts must be equal.
#include "glib.h"

#define TLS       0x00801000u   // the thread pointer: %gs's base, a user page
#define KSECRET   0xc0000000u   // 64 supervisor pages the kernel reads after every report
#define NSECRET   64u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
static uint32_t pt_user[4][1024] __attribute__((aligned(4096)));
static uint32_t pt_secret[1024] __attribute__((aligned(4096)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));
struct tss { uint32_t link, esp0, ss0, rest[23]; } __attribute__((packed));
static struct tss tss;
static uint64_t gdt[7];
volatile uint32_t resume_at;   // where the #PF handler sends ring 3 (set by the user code)

// Where ring 3 reaches (each maps one frame of its own, user, writable); the last two are
// the thread pointer's page and the page below it.
static const uint32_t user_pages[4] = {0x00800000u, 0x01800000u, 0x0c800000u, 0xbfff0000u};

// Ring 3. Reports with `int $0x80`: EAX = what, EBX = the value; EAX = 99 ends.
void ucode(void);
__asm__(".section .data.ucode, \"aw\"\n"
        ".globl ucode\n"
        "ucode:\n"
        "  xorl %eax, %eax\n"
        "  cpuid\n"
        "  movl $1, %eax\n"
        "  int $0x80\n"                           // 1: cpuid 0's EBX
        "  movw $0x33, %ax\n"
        "  movw %ax, %gs\n"
        "  movl $0x11111111, %gs:0xffffffc0\n"    // mov r/m32, imm32
        "  movl %gs:0xffffffc0, %ebx\n"           // mov r32, r/m32
        "  movl $2, %eax\n"
        "  int $0x80\n"                           // 2
        "  movl $-0x40, %edx\n"
        "  addl $5, %gs:(%edx)\n"                 // ALU r/m32, imm8
        "  movl $0x100, %ecx\n"
        "  orl %ecx, %gs:-4(%edx)\n"              // ALU r/m32, r32 (offset 0xffffffbc)
        "  pushl %gs:(%edx)\n"                    // push r/m32
        "  popl %ebx\n"
        "  movl $3, %eax\n"
        "  int $0x80\n"                           // 3
        "  movl %gs:0xffffffbc, %eax\n"           // moffs
        "  movl %eax, %ebx\n"
        "  movl $4, %eax\n"
        "  int $0x80\n"                           // 4
        "  movzbl %gs:0xffffffc1, %ebx\n"         // movzx, a byte
        "  movl $5, %eax\n"
        "  int $0x80\n"                           // 5
        // Ever higher: write each page's address ^ 0x5a5a5a5a, sum them read back.
        "  xorl %ebx, %ebx\n"
        "  movl $0x00800008, %esi\n"
        "  call 1f\n"
        "  movl $0x01800010, %esi\n"
        "  call 1f\n"
        "  movl $0x0c800020, %esi\n"
        "  call 1f\n"
        "  movl $0xbfff0040, %esi\n"
        "  call 1f\n"
        "  movl $6, %eax\n"
        "  int $0x80\n"                           // 6: the sum
        // The kernel's page, read from ring 3: #PF (the handler resumes at resume_at).
        "  movl $2f, resume_at\n"
        "  movl $0xdead, %ebx\n"
        "  movl 0xc0000000, %ebx\n"
        "2:\n"
        "  movl $7, %eax\n"
        "  int $0x80\n"                           // 7: EBX unchanged
        "  movl $3f, resume_at\n"
        "  movl $(0xc0000000 - 0x00801000), %edx\n"
        "  movl %gs:(%edx), %ebx\n"
        "3:\n"
        "  movl $8, %eax\n"
        "  int $0x80\n"                           // 8: EBX unchanged
        "  movl $300, %ecx\n"                     // many in one stay: ring1 gives the
        "4:\n"                                    // limit up after a while
        "  addl $1, %gs:0xffffffc0\n"
        "  loop 4b\n"
        "  movl %gs:0xffffffc0, %ebx\n"
        "  movl $9, %eax\n"
        "  int $0x80\n"                           // 9: 300 more
        "  movl $99, %eax\n"
        "  int $0x80\n"
        "1:\n"
        "  movl %esi, %eax\n"
        "  xorl $0x5a5a5a5a, %eax\n"
        "  movl %eax, (%esi)\n"
        "  addl (%esi), %ebx\n"
        "  ret\n"
        ".text\n");

static uint32_t secret_sum(void)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i < NSECRET; i++)
        s += *(volatile uint32_t *)(KSECRET + (i << 12) + 4 * i);
    return s;
}

void int80_entry(void), pf_entry(void), gp_entry(void);
__asm__(".text\n"
        "int80_entry:\n"
        "  pushal\n"
        "  pushl %esp\n"
        "  call int80\n"
        "  addl $4, %esp\n"
        "  popal\n"
        "  iret\n"
        "pf_entry:\n"
        "  pushal\n"
        "  pushl %esp\n"
        "  call pf\n"
        "  addl $4, %esp\n"
        "  popal\n"
        "  addl $4, %esp\n"
        "  iret\n"
        "gp_entry:\n"
        "  pushl %esp\n"
        "  call gp\n");

struct regs { uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax; };

void int80(struct regs *r)
{
    if (r->eax == 99) {
        puts("done\n");
        gexit(0);
    }
    puts("report ");
    putdec(r->eax);
    puts(": ");
    puthex(r->ebx);
    puts(" (kernel pages ");
    puthex(secret_sum());
    puts(")\n");
}

void pf(struct regs *r)
{
    uint32_t *frame = (uint32_t *)(r + 1);   // error code, EIP, CS, EFLAGS, ESP, SS
    uint32_t cr2;
    __asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
    puts("#PF error ");
    puthex(frame[0]);
    puts(" cr2 ");
    puthex(cr2);
    puts(" from ring ");
    putdec(frame[2] & 3);
    putc('\n');
    frame[1] = resume_at;
}

void gp(uint32_t *frame)
{
    puts("#GP error ");
    puthex(frame[0]);
    puts(" at ");
    puthex(frame[1]);
    putc('\n');
    gexit(1);
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (uint32_t i = 0; i < 1024; i++)
        pt_low[i] = (i << 12) | 7;              // 0-4 MiB: user, writable (code, stacks)
    pd[0] = (uint32_t)pt_low | 7;
    for (uint32_t i = 0; i < 4; i++) {          // one frame per user page, at 2 MiB + ...
        pd[user_pages[i] >> 22] = (uint32_t)pt_user[i] | 7;
        pt_user[i][(user_pages[i] >> 12) & 1023] = (0x200000u + (i << 12)) | 7;
    }
    pt_user[0][(TLS >> 12) & 1023] = 0x204000u | 7;   // the thread pointer's page
    for (uint32_t i = 0; i < NSECRET; i++)
        pt_secret[i] = (0x300000u + (i << 12)) | 3;   // supervisor
    pd[KSECRET >> 22] = (uint32_t)pt_secret | 3;
    gdt[6] = gdt_desc(TLS, 0xfffff, 0xf2, 0xc);       // 0x33: user data, base TLS, 4 GiB
    gdt_load_ring3(gdt, 7, &tss, sizeof tss, (uint32_t)kstack + sizeof kstack);
    idt_gate_dpl(0x80, int80_entry, 3);
    idt_gate(14, pf_entry);
    idt_gate(13, gp_entry);
    __asm__ volatile("movl %0, %%cr3\n"
                     "movl %%cr0, %%eax\n orl $0x80000000, %%eax\n movl %%eax, %%cr0"
                     ::"r"(pd) : "eax", "memory");
    for (uint32_t i = 0; i < NSECRET; i++)
        *(volatile uint32_t *)(KSECRET + (i << 12) + 4 * i) = i * 0x01010101u;
    puts("kernel pages ");
    puthex(secret_sum());
    putc('\n');
    __asm__ volatile("pushl $0x23\n"
                     "pushl %0\n"
                     "pushl $0x2\n"
                     "pushl $0x1b\n"
                     "pushl $ucode\n"
                     "movw $0x23, %%ax\n movw %%ax, %%ds\n movw %%ax, %%es\n"
                     "iret"
                     ::"r"((uint32_t)ustack + sizeof ustack) : "eax", "memory");
    return 0;
}
