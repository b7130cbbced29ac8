// Hardware task switches, every way a 32-bit kernel makes them, compared with QEMU: far jmp
// to a TSS and back, far call through a task gate in the GDT and the iret (EFLAGS.NT) that
// returns, a software interrupt through a task gate in the IDT, and an exception with an
// error code (#GP from a selector load) delivered to a task that fixes the faulting task's
// saved EIP and returns. Each step prints what the processor left in the TSSs and the GDT:
// back links, saved EIPs (as offsets from labels), NT, busy bits, the error code, CR0.TS.
#include "glib.h"

struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt, iomap;
} __attribute__((packed));

static struct tss tss_main, tss_a, tss_b, tss_c;
static uint8_t stack_a[1024] __attribute__((aligned(16)));
static uint8_t stack_b[1024] __attribute__((aligned(16)));
static uint8_t stack_c[1024] __attribute__((aligned(16)));
static uint64_t gdt[8];

#define SEL_MAIN 0x18
#define SEL_A    0x20
#define SEL_B    0x28
#define SEL_GATE 0x30   // task gate -> SEL_B
#define SEL_C    0x38

extern char after_jmp[], after_call[], after_int[], gp_insn[], b_after_iret[], a_after_jmp[];

static uint64_t task_gate(uint16_t tss_sel)
{
    return (uint64_t)tss_sel << 16 | (uint64_t)0x85 << 40;   // present, DPL 0, type 5
}

static void idt_task_gate(unsigned vec, uint16_t tss_sel)
{
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    ((uint64_t *)idtr.base)[vec] = task_gate(tss_sel);
}

static void task_init(struct tss *t, void (*entry)(void), uint8_t *stack, uint32_t size)
{
    t->eip = (uint32_t)entry;
    t->eflags = 0x2;
    t->esp = (uint32_t)(stack + size);
    t->cs = 0x08;
    t->es = t->ss = t->ds = t->fs = t->gs = 0x10;
    t->iomap = sizeof(struct tss) << 16;
}

static void busy(const char *name, unsigned sel)
{
    puts(name);
    puts((gdt[sel / 8] >> 41) & 1 ? " busy" : " free");
}

static uint32_t cr0(void)
{
    uint32_t v;
    __asm__ volatile("movl %%cr0, %0" : "=r"(v));
    return v;
}

static uint32_t eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}

static void state(const char *who)
{
    puts(who);
    puts(": NT=");
    putdec((eflags() >> 14) & 1);
    puts(" TS=");
    putdec((cr0() >> 3) & 1);
    puts(" tr=");
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    puthex(tr);
    putc(' ');
    busy("main", SEL_MAIN);
    busy(" A", SEL_A);
    busy(" B", SEL_B);
    busy(" C", SEL_C);
    putc('\n');
}

// Task A: report, then jump back to the main task.
static void task_a(void)
{
    state("A");
    puts("A: link ");
    puthex(tss_a.link);
    puts(", eax from its TSS ");
    puthex(tss_a.eax);
    putc('\n');
    __asm__ volatile("ljmp $0x18, $0\n"
                     ".globl a_after_jmp\n"
                     "a_after_jmp:");
    puts("A: resumed (not expected)\n");
    gexit(3);
}

// Task B: reached through the gate (call or int); returns with iret each time.
static void task_b(void)
{
    for (unsigned n = 1;; n++) {
        state("B");
        puts("B: run ");
        putdec(n);
        puts(", link ");
        puthex(tss_b.link);
        putc('\n');
        __asm__ volatile("iret\n"
                         ".globl b_after_iret\n"
                         "b_after_iret:");
    }
}

// Task C: the #GP handler. Its stack holds the error code on entry (c_entry pops it before
// any compiled code pushes), then it reports and returns with iret.
static volatile uint32_t c_err;
void c_entry(void);

void task_c_body(void)
{
    state("C");
    puts("C: #GP error ");
    puthex(c_err);
    puts(", link ");
    puthex(tss_c.link);
    puts(", main's saved EIP at gp_insn");
    puts(tss_main.eip == (uint32_t)gp_insn ? "" : " (no)");
    putc('\n');
    tss_main.eip += 2;   // past `mov %ax, %ds`
}

__asm__(".text\n"
        ".globl c_entry\n"
        "c_entry:\n"
        "  popl c_err\n"
        "  call task_c_body\n"
        "  iret\n"
        "  jmp c_entry\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    gdt[1] = gdt_desc(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = gdt_desc(0, 0xfffff, 0x92, 0xc);
    gdt[3] = gdt_desc((uint32_t)&tss_main, sizeof(struct tss) - 1, 0x89, 0);
    gdt[4] = gdt_desc((uint32_t)&tss_a, sizeof(struct tss) - 1, 0x89, 0);
    gdt[5] = gdt_desc((uint32_t)&tss_b, sizeof(struct tss) - 1, 0x89, 0);
    gdt[6] = task_gate(SEL_B);
    gdt[7] = gdt_desc((uint32_t)&tss_c, sizeof(struct tss) - 1, 0x89, 0);
    task_init(&tss_a, task_a, stack_a, sizeof stack_a);
    tss_a.eax = 0xa5a5;
    task_init(&tss_b, task_b, stack_b, sizeof stack_b);
    task_init(&tss_c, c_entry, stack_c, sizeof stack_c);
    tss_main.iomap = sizeof(struct tss) << 16;
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = {sizeof gdt - 1,
                                                                             (uint32_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: movw $0x10, %%ax\n movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n"
                     "movw $0x18, %%ax\n ltr %%ax" ::"m"(gdtr) : "eax", "memory");
    idt_task_gate(0x41, SEL_B);
    idt_task_gate(13, SEL_C);
    state("main");

    puts("jmp to A\n");
    __asm__ volatile("movl $0x1111, %%eax\n"
                     "ljmp $0x20, $0\n"
                     ".globl after_jmp\n"
                     "after_jmp:" ::: "eax", "ecx", "edx", "memory");
    state("main");
    puts("main: A's saved EIP at a_after_jmp");
    puts(tss_a.eip == (uint32_t)a_after_jmp ? "" : " (no)");
    puts(", main's eax in its TSS ");
    puthex(tss_main.eax);
    putc('\n');
    __asm__ volatile("clts");

    for (int i = 0; i < 2; i++) {
        puts("call through the task gate\n");
        __asm__ volatile("lcall $0x30, $0\n"
                         ".globl after_call\n"
                         "after_call:" ::: "eax", "ecx", "edx", "memory");
        state("main");
        puts("main: B's saved EIP at b_after_iret");
        puts(tss_b.eip == (uint32_t)b_after_iret ? "" : " (no)");
        puts(", B's saved NT ");
        putdec((tss_b.eflags >> 14) & 1);
        puts(", main's saved EIP at after_call");
        puts(tss_main.eip == (uint32_t)after_call ? "\n" : " (no)\n");
    }

    puts("int $0x41 through a task gate\n");
    __asm__ volatile("int $0x41\n"
                     ".globl after_int\n"
                     "after_int:" ::: "eax", "ecx", "edx", "memory");
    state("main");
    puts("main: saved EIP at after_int");
    puts(tss_main.eip == (uint32_t)after_int ? "\n" : " (no)\n");

    puts("#GP through a task gate\n");
    __asm__ volatile("movw $0x1234, %%ax\n"
                     ".globl gp_insn\n"
                     "gp_insn:\n"
                     "movw %%ax, %%ds\n" ::: "eax", "ecx", "edx", "memory");
    state("main");
    puts("done\n");
    gexit(0);
}
