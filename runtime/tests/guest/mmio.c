// Accesses to physical addresses that are not RAM, by the instruction forms the MMIO
// emulation decodes: the values read and the flags set must match QEMU's.
#include "glib.h"

static void show(const char *what, uint32_t v)
{
    puts(what);
    puts(": ");
    puthex(v);
    puts("\n");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    volatile uint32_t *hole = (volatile uint32_t *)0x20000000;   // above 128 MiB of RAM
    volatile uint8_t *hb = (volatile uint8_t *)0x20000010;
    uint32_t v, fl;
    show("mov r32, [hole]", hole[0]);
    show("movzx r32, byte [hole]", hb[0]);
    __asm__ volatile("movsbl (%1), %0" : "=r"(v) : "r"(hb));
    show("movsx r32, byte [hole]", v);
    hole[1] = 0x12345678;                                        // mov [hole], r32
    show("read back after write", hole[1]);
    __asm__ volatile("movl $0, %%eax; cmpl $1, (%1); pushf; popl %0" : "=r"(fl) : "r"(hole) : "eax", "cc");
    show("cmp [hole], 1: flags & 0x8d5", fl & 0x8d5);
    __asm__ volatile("testb $0x80, (%1); pushf; popl %0" : "=r"(fl) : "r"(hb) : "cc");
    show("test byte [hole], 0x80: flags & 0x8d5", fl & 0x8d5);
    __asm__ volatile("movl $0x0f0f0f0f, %0; andl (%1), %0" : "=&r"(v) : "r"(hole) : "cc");
    show("and r32, [hole]", v);
    __asm__ volatile("movl 0x20000020, %%eax; movl %%eax, %0" : "=r"(v) : : "eax");
    show("mov eax, moffs", v);
    __asm__ volatile("orl $1, (%0)" : : "r"(hole) : "cc", "memory");
    puts("or [hole], 1: done\n");
    return 0;
}
