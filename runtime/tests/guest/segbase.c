// Segments with a base, run natively through LDT slots of the runtime process: a data
// segment based at 1 MiB, and GNU Mach's boot trick, a code segment based at 0x40000000 so
// that offsets 0xC0000000 above the physical addresses reach them (32-bit wrap-around).
#include "glib.h"

// Selectors 0x20-0x23 and 0x30-0x33 are avoided: the host's GDT has code segments there, so
// an unpatched far jump to them would not even trap (0x33 is the host's 64-bit code).
static uint64_t gdt[8] = {
    0,
    0x00cf9a000000ffffull,   // 0x08 flat code
    0x00cf92000000ffffull,   // 0x10 flat data
    0x00cf92100000ffffull,   // 0x18 data, base 0x00100000
    0, 0, 0,
    0x40cf9a000000ffffull,   // 0x38 code, base 0x40000000
};
static volatile uint32_t probe = 0x5eb0a5e1;
static volatile uint32_t ran_high;

void high_code(void);
void back_low(void);
__asm__(".globl high_code\n"
        "high_code:\n"                      // reached through CS 0x38: EIP = phys + 0xC0000000
        "  movl $1, ran_high\n"
        "  call 1f\n"                       // EIP-relative sanity: the return address pushed is
        "1: popl %eax\n"                    // an offset in the high segment
        "  movl %eax, high_eip\n"
        "  ljmp $0x08, $back_low\n");
volatile uint32_t high_eip;

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = {sizeof gdt - 1, (uint32_t)gdt};
    __asm__ volatile("lgdt %0" ::"m"(gdtr));
    uint32_t v;
    __asm__ volatile("movw $0x18, %%ax; movw %%ax, %%es; movl %%es:(%1), %0; movw $0x10, %%ax; movw %%ax, %%es"
                     : "=&r"(v) : "r"((uint32_t)&probe - 0x100000) : "eax", "memory");
    puts(v == 0x5eb0a5e1 ? "es base 1 MiB: read through it\n" : "es base 1 MiB: WRONG\n");
    __asm__ volatile("ljmp $0x38, %0\n"
                     ".globl back_low\n"
                     "back_low:" ::"i"((uint32_t)high_code + 0xc0000000u));
    puts(ran_high ? "cs base 0x40000000: ran there\n" : "cs base 0x40000000: WRONG\n");
    puts(high_eip >= 0xc0000000u ? "eip there was high\n" : "eip there was WRONG\n");
    return 0;
}
