// Segments with a base, run natively through LDT slots of the runtime process: a data
// segment based at 1 MiB, and GNU Mach's boot trick, a code segment based at 0x40000000 so
// that offsets 0xC0000000 above the physical addresses reach them (32-bit wrap-around).
// Then what a segment load must see afresh each time -- the descriptor in the table as it is
// now -- however often the same selector was loaded before (the runtime's segment-load fast
// path, abi.h R1_VCPU_SEGFAST, repeats a load only while the descriptor is unchanged).
#include "glib.h"

// Selectors 0x20-0x33 are avoided: the host's GDT has user segments there, so an unpatched
// load or far jump would not even trap (0x33 is the host's 64-bit code); 0x80 is beyond the
// host GDT's 16 entries, so loading it always traps when unpatched.
static volatile uint32_t probe = 0x5eb0a5e1;
#define FLAT_DATA 0x00cf92000000ffffull
#define SEL 0x80
static uint64_t gdt[17] = {
    0,
    0x00cf9a000000ffffull,   // 0x08 flat code
    FLAT_DATA,               // 0x10 flat data
    0x00cf92100000ffffull,   // 0x18 data, base 0x00100000
    0, 0, 0,
    0x40cf9a000000ffffull,   // 0x38 code, base 0x40000000
    [SEL / 8] = FLAT_DATA,   // for the loads below
};
// The same table but for SEL, based at 1 MiB.
static uint64_t gdt2[17] = {
    0, 0x00cf9a000000ffffull, FLAT_DATA, 0x00cf92100000ffffull, 0, 0, 0,
    0x40cf9a000000ffffull, [SEL / 8] = 0x00cf92100000ffffull,
};
struct __attribute__((packed)) dtr { uint16_t limit; uint32_t base; };

static void load_gdt(uint64_t *t)
{
    struct dtr d = {sizeof gdt - 1, (uint32_t)t};
    __asm__ volatile("lgdt %0" ::"m"(d));
}

// Load ES with sel (mov from a register: the form the fast path takes), read the 32-bit word
// at es:off, load ES with 0x10 again.
static uint32_t es_read(uint16_t sel, uint32_t off)
{
    uint32_t v;
    __asm__ volatile("movw %w1, %%es\n\tmovl %%es:(%2), %0\n\tmovw %w3, %%es"
                     : "=&r"(v) : "r"(sel), "r"(off), "r"(0x10) : "memory");
    return v;
}

volatile uint32_t np_count, np_err;
void np_entry(void);
__asm__(".globl np_entry\n"
        "np_entry:\n"                      // #NP: record, skip the 2-byte mov to es
        "  pushl %eax\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, np_err\n"
        "  incl np_count\n"
        "  addl $2, 8(%esp)\n"
        "  popl %eax\n"
        "  addl $4, %esp\n"
        "  iret\n");

static void fresh_loads(void)
{
    uint32_t off = (uint32_t)&probe - 0x100000;
    for (int i = 0; i < 3; i++)             // the same load, again and again
        es_read(SEL, (uint32_t)&probe);
    gdt[SEL / 8] = 0x00cf92100000ffffull;         // SEL now based at 1 MiB
    puts(es_read(SEL, off) == 0x5eb0a5e1 ? "es reload after a base change: the new base\n"
                                           : "es reload after a base change: WRONG\n");
    gdt[SEL / 8] = FLAT_DATA & ~(1ull << 40);     // flat again, accessed bit clear
    es_read(SEL, (uint32_t)&probe);
    puts(gdt[SEL / 8] >> 40 & 1 ? "es load sets the accessed bit again\n"
                          : "es load left the accessed bit clear\n");
    es_read(SEL, (uint32_t)&probe);
    gdt[SEL / 8] &= ~(1ull << 47);                // not present
    idt_gate(11, np_entry);
    __asm__ volatile("movw %w0, %%es\n\tmovw %w1, %%es" ::"r"(SEL), "r"(0x10) : "memory");
    puts("es load of a not-present descriptor: #NP count "); puthex(np_count);
    puts(" error "); puthex(np_err); puts("\n");
    gdt[SEL / 8] = FLAT_DATA;
    es_read(SEL, (uint32_t)&probe);
    es_read(SEL, (uint32_t)&probe);
    load_gdt(gdt2);                         // the same selector in another table
    puts(es_read(SEL, off) == 0x5eb0a5e1 ? "es reload after lgdt: the new table's base\n"
                                           : "es reload after lgdt: WRONG\n");
    load_gdt(gdt);
}
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
    load_gdt(gdt);
    uint32_t v;
    __asm__ volatile("movw $0x18, %%ax; movw %%ax, %%es; movl %%es:(%1), %0; movw $0x10, %%ax; movw %%ax, %%es"
                     : "=&r"(v) : "r"((uint32_t)&probe - 0x100000) : "eax", "memory");
    puts(v == 0x5eb0a5e1 ? "es base 1 MiB: read through it\n" : "es base 1 MiB: WRONG\n");
    __asm__ volatile("ljmp $0x38, %0\n"
                     ".globl back_low\n"
                     "back_low:" ::"i"((uint32_t)high_code + 0xc0000000u));
    puts(ran_high ? "cs base 0x40000000: ran there\n" : "cs base 0x40000000: WRONG\n");
    puts(high_eip >= 0xc0000000u ? "eip there was high\n" : "eip there was WRONG\n");
    fresh_loads();
    return 0;
}
