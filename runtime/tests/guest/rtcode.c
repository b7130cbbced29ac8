// A kernel that writes code into kernel pages at run time and runs it in ring 0, as a module
// loader or a JIT does: the code's silent sensitive instructions (pushf, popf, sgdt, sidt,
// smsw, str, sldt, moves and pushes of segment registers, lar, lsl, cpuid) must give the
// guest's answers, not the host's (runtime/rtcode.h). The routines live in .data, so the
// rewriter never sees them as code: only the runtime can make them right. Run against QEMU:
// the transcripts must be equal.
//
// Paging on (0-4 MiB supervisor); the code goes to pages at 3 MiB, outside the image. The PIT
// ticks at 1 kHz on IRQ 0, so that interrupts taken while the guest has them off show.
#include "glib.h"

#define PAGE_A 0x300000u   // two routines at two entry points, then another written over them
#define PAGE_S 0x301000u   // a routine whose first instruction is cut by the page boundary
#define PAGE_D 0x303000u   // code that reads data in its own page
#define PIT_HZ 1193182u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[3][1024] __attribute__((aligned(4096)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
struct tss { uint32_t link, esp0, ss0, rest[23]; } __attribute__((packed));
static struct tss tss;
static uint64_t gdt[6];

// What the routines saw (the ABI's: each stores to res[] at absolute addresses).
volatile uint32_t res[32];

// The routines (in .data: never rewritten). Each *_end labels its end.
extern const uint8_t r_all[], r_all_end[], r_second[], r_second_end[], r_other[],
    r_other_end[], r_cut[], r_cut_end[], r_data[], r_data_end[];
__asm__(".section .data.routines,\"aw\"\n"
        // Entry A: flags with IF off and on, a popf that turns IF off (interrupts must stay
        // off while it spins), the descriptor tables, CR0, TR, LDTR, segment registers, lar
        // and lsl of the data segment, cpuid's signature.
        ".globl r_all, r_all_end\n"
        "r_all:\n"
        "  pushl %ebx\n"
        "  cli\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+0\n"
        "  sti\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+4\n"
        "  pushl $0x2\n"
        "  popf\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+8\n"
        "  movl ticks, %edx\n"
        "  movl $0x1000000, %ecx\n"
        "1:\n"
        "  decl %ecx\n"
        "  jnz 1b\n"
        "  movl ticks, %eax\n"
        "  subl %edx, %eax\n"
        "  movl %eax, res+12\n"
        "  sgdt res+16\n"
        "  sidt res+24\n"
        "  smsw %eax\n"
        "  movl %eax, res+32\n"
        "  xorl %eax, %eax\n"
        "  str %ax\n"
        "  movl %eax, res+36\n"
        "  movl $0xffff, %eax\n"
        "  sldt %ax\n"
        "  movl %eax, res+40\n"
        "  movl %ds, %eax\n"
        "  movl %eax, res+44\n"
        "  movl %cs, %eax\n"
        "  movl %eax, res+48\n"
        "  pushl %ss\n"
        "  popl %eax\n"
        "  movl %eax, res+52\n"
        "  movl $0x10, %ecx\n"
        "  larl %ecx, %eax\n"
        "  movl %eax, res+56\n"
        "  lsll %ecx, %eax\n"
        "  movl %eax, res+60\n"
        "  movl $1, %eax\n"
        "  cpuid\n"
        "  movl %eax, res+64\n"
        "  popl %ebx\n"
        "  sti\n"
        "  ret\n"
        "r_all_end:\n"
        // Entry B, at another offset of the same page, reached only by an indirect call from
        // outside the page: nothing in entry A leads to it.
        ".globl r_second, r_second_end\n"
        "r_second:\n"
        "  cli\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+68\n"
        "  sidt res+72\n"
        "  movw %es, res+80\n"
        "  sti\n"
        "  ret\n"
        "r_second_end:\n"
        // Written over entry A afterwards: other instructions at other offsets.
        ".globl r_other, r_other_end\n"
        "r_other:\n"
        "  nop\n"
        "  xorl %eax, %eax\n"
        "  movl %ss, %eax\n"
        "  movl %eax, res+84\n"
        "  cli\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+88\n"
        "  smsw res+92\n"
        "  sti\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+96\n"
        "  ret\n"
        "r_other_end:\n"
        // Its first instruction begins 3 bytes before a page boundary.
        ".globl r_cut, r_cut_end\n"
        "r_cut:\n"
        "  movl $0x11223344, %eax\n"
        "  movl %eax, res+100\n"
        "  cli\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+104\n"
        "  sti\n"
        "  ret\n"
        "r_cut_end:\n"
        // Reads a word of its own page by its absolute address (PAGE_D + 0x800).
        ".globl r_data, r_data_end\n"
        "r_data:\n"
        "  movl 0x303800, %eax\n"
        "  movl %eax, res+108\n"
        "  cli\n"
        "  pushf\n"
        "  popl %eax\n"
        "  movl %eax, res+112\n"
        "  sti\n"
        "  movl 0x303804, %eax\n"
        "  movl %eax, res+116\n"
        "  ret\n"
        "r_data_end:\n"
        ".text\n");

static void copy(uint32_t to, const uint8_t *from, const uint8_t *end)
{
    volatile uint8_t *d = (volatile uint8_t *)to;
    for (uint32_t i = 0; i < (uint32_t)(end - from); i++)
        d[i] = from[i];
}

static void call(uint32_t at)
{
    __asm__ volatile("call *%0" ::"r"(at) : "eax", "ecx", "edx", "memory", "cc");
}

static void show(const char *what, unsigned from, unsigned n)
{
    puts(what);
    for (unsigned i = from; i < from + n; i++) {
        putc(' ');
        puthex(res[i]);
    }
    putc('\n');
}

// EFLAGS without the arithmetic flags (CF PF AF ZF SF OF).
#define SYSFLAGS(i) (res[i] & ~0x8d5u)

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    tss.rest[22] = (uint32_t)sizeof tss << 16;
    gdt_load_ring3(gdt, sizeof gdt / sizeof gdt[0], &tss, sizeof tss,
                   (uint32_t)(kstack + sizeof kstack));
    idt_gate(0x20, tick_entry);
    pic_init(0xfe, 0xff);                  // IRQ 0 only
    outb(0x43, 0x34);                      // channel 0, rate generator, 1 kHz
    outb(0x40, (uint8_t)(PIT_HZ / 1000));
    outb(0x40, (uint8_t)((PIT_HZ / 1000) >> 8));
    paging_user_alias(pd, pt);
    __asm__ volatile("sti");

    puts("entry A of a page written at run time, called twice\n");
    copy(PAGE_A + 0x100, r_all, r_all_end);
    copy(PAGE_A + 0x900, r_second, r_second_end);
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 32; i++)
            res[i] = 0;
        call(PAGE_A + 0x100);
        puts("  flags after cli, sti, popf of 2: ");
        puthex(SYSFLAGS(0));
        putc(' ');
        puthex(SYSFLAGS(1));
        putc(' ');
        puthex(SYSFLAGS(2));
        puts("\n  ticks while interrupts were off: ");
        putdec(res[3]);
        putc('\n');
        show("  sgdt, sidt:", 4, 4);
        show("  smsw, str, sldt:", 8, 3);
        show("  ds, cs, ss:", 11, 3);
        show("  lar, lsl of 0x10:", 14, 2);
        show("  cpuid 1 eax:", 16, 1);
    }
    puts("entry B of the same page, by an indirect call\n");
    void (*volatile second)(void) = (void (*)(void))(PAGE_A + 0x900);
    second();
    puts("  flags after cli: ");
    puthex(SYSFLAGS(17));
    putc('\n');
    show("  sidt, es:", 18, 3);
    puts("the page written again with other code, run again\n");
    copy(PAGE_A + 0x103, r_other, r_other_end);
    call(PAGE_A + 0x103);
    puts("  ss ");
    puthex(res[21]);
    puts(", flags after cli and sti: ");
    puthex(SYSFLAGS(22));
    putc(' ');
    puthex(SYSFLAGS(24));
    puts(", smsw to memory ");
    puthex(res[23] & 0xffff);
    putc('\n');
    puts("a routine whose first instruction crosses a page boundary\n");
    copy(PAGE_S + 0xffd, r_cut, r_cut_end);
    call(PAGE_S + 0xffd);
    puts("  eax ");
    puthex(res[25]);
    puts(", flags after cli: ");
    puthex(SYSFLAGS(26));
    putc('\n');
    puts("code that reads data in its own page\n");
    copy(PAGE_D + 0x40, r_data, r_data_end);
    *(volatile uint32_t *)(PAGE_D + 0x800) = 0x600df00d;
    *(volatile uint32_t *)(PAGE_D + 0x804) = 0xdeadbeef;
    call(PAGE_D + 0x40);
    puts("  data ");
    puthex(res[27]);
    putc(' ');
    puthex(res[29]);
    puts(", flags after cli: ");
    puthex(SYSFLAGS(28));
    putc('\n');
    puts("done\n");
    gexit(0);
}
