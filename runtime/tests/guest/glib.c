// Tiny freestanding library for the runtime's test guests.
#include "glib.h"

#define COM1 0x3f8
#define LSR_THRE 0x20

void putc(char c)
{
    while (!(inb(COM1 + 5) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

void puthex(uint32_t v)
{
    puts("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc("0123456789abcdef"[(v >> i) & 15]);
}

void putdec(uint32_t v)
{
    char buf[12];
    int n = 0;
    do buf[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n)
        putc(buf[--n]);
}

// QEMU isa-debug-exit at 0xf4: the process exits with (code << 1) | 1.
void gexit(uint32_t code)
{
    __asm__ volatile("outl %0, $0xf4" :: "a"(code));
    for (;;)
        __asm__ volatile("cli; hlt");
}

struct gate { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
static struct gate idt[256];

void idt_gate(unsigned vec, void (*handler)(void))
{
    idt_gate_dpl(vec, handler, 0);
}

void idt_gate_dpl(unsigned vec, void (*handler)(void), unsigned dpl)
{
    uint32_t a = (uint32_t)handler;
    idt[vec & 0xff] = (struct gate){(uint16_t)a, 0x08, 0, (uint8_t)(0x8e | (dpl & 3) << 5),
                                    (uint16_t)(a >> 16)};
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = {sizeof idt - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

uint64_t gdt_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

void gdt_load_ring3(uint64_t *gdt, unsigned n, void *tss, uint32_t tss_size, uint32_t esp0)
{
    gdt[0] = 0;
    gdt[1] = gdt_desc(0, 0xfffff, 0x9a, 0xc);   // 0x08 kernel code
    gdt[2] = gdt_desc(0, 0xfffff, 0x92, 0xc);   // 0x10 kernel data
    gdt[3] = gdt_desc(0, 0xfffff, 0xfa, 0xc);   // 0x1b user code
    gdt[4] = gdt_desc(0, 0xfffff, 0xf2, 0xc);   // 0x23 user data
    gdt[5] = gdt_desc((uint32_t)tss, tss_size - 1, 0x89, 0);   // 0x28 TSS
    ((uint32_t *)tss)[1] = esp0;
    ((uint32_t *)tss)[2] = 0x10;
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = {
        (uint16_t)(8 * n - 1), (uint32_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: movl $0x10, %%eax\n"
                     "movl %%eax, %%ds\n movl %%eax, %%es\n movl %%eax, %%ss\n"
                     "movw $0x28, %%ax\n ltr %%ax" ::"m"(gdtr) : "eax", "memory");
}

void ring3_enter(uint32_t eip, uint32_t esp)
{
    __asm__ volatile("movl $0x23, %%eax\n movl %%eax, %%ds\n movl %%eax, %%es\n"
                     "pushl $0x23\n"
                     "pushl %1\n"
                     "pushl $0x202\n"
                     "pushl $0x1b\n"
                     "pushl %0\n"
                     "iret" ::"r"(eip), "r"(esp) : "eax", "memory");
    __builtin_unreachable();
}

void paging_user_alias(uint32_t *pd, uint32_t (*pt)[1024])
{
    for (uint32_t i = 0; i < 1024; i++) {
        pt[0][i] = (i << 12) | 3;                   // 0-4 MiB: supervisor
        pt[1][i] = (0x400000u + (i << 12)) | 7;     // 4-8 MiB: user
        pt[2][i] = (0x400000u + (i << 12)) | 3;     // 8-12 MiB: the same frames, supervisor
    }
    pd[0] = (uint32_t)pt[0] | 3;
    pd[1] = (uint32_t)pt[1] | 7;
    pd[2] = (uint32_t)pt[2] | 3;
    __asm__ volatile("movl %0, %%cr3\n"
                     "movl %%cr0, %%eax\n orl $0x80010000, %%eax\n movl %%eax, %%cr0"
                     ::"r"(pd) : "eax", "memory");
}

int cmdline_has(uint32_t info, const char *word)
{
    const char *cmd = (const char *)((uint32_t *)info)[4];
    for (const char *p = cmd; *p; p++) {
        if (p != cmd && p[-1] != ' ')
            continue;
        unsigned i = 0;
        while (word[i] && p[i] == word[i])
            i++;
        if (!word[i] && (!p[i] || p[i] == ' ' || p[i] == '='))
            return 1;
    }
    return 0;
}

void pic_init(uint8_t mask_master, uint8_t mask_slave)
{
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, mask_master);
    outb(0xa1, mask_slave);
}

volatile uint32_t ticks;
__asm__(".globl tick_entry\n"
        "tick_entry:\n"
        "  pushl %eax\n"
        "  incl ticks\n"
        "  movb $0x20, %al\n"
        "  outb %al, $0x20\n"           // EOI
        "  popl %eax\n"
        "  iret\n");
