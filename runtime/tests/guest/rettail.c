// Two shapes of Linux's hottest paths that a patched image runs in trampolines:
//
//   sti_ret   `sti; ret` then the multi-byte nops between functions (`lea esi, [esi + 0]`), as
//             Debian's i386 6.1 has syscall_enter_from_user_mode_prepare: the region is sti,
//             ret and the dead first bytes of the lea. Called with IF clear, then with the
//             PIT's IRQ 0 pending: the interrupt comes after the ret (sti's shadow), so the
//             caller's next instruction already sees it counted.
//   verw_entry  an interrupt handler ending `verw %cs:sel; setz zf; iret`, as Linux's
//             return to user mode ends in `verw; iret`: the verw's region falls through, and
//             its trampoline carries copies of the setz and the iret (a tail: the iret
//             translated to a hypercall). jmp_entry reaches the same iret by a jmp, and a
//             pointer in .data names it (in Linux one of the jmps to it is a jump label the
//             kernel rewrites at boot, which cannot move to a trampoline), so no region may
//             hold it past its first byte: on the jmp's path it stays an int3.
#include "glib.h"

#define PIT_HZ 1193182u

volatile uint32_t n_verw, n_jmp;
volatile uint16_t verw_sel;
volatile uint8_t verw_zf;

void sti_ret(void);
void verw_entry(void);
void jmp_entry(void);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl sti_ret\n"
        ".type sti_ret, @function\n"
        "sti_ret:\n"
        "  sti\n"
        "  ret\n"
        "  .byte 0x8d, 0xb4, 0x26, 0, 0, 0, 0\n"     // lea esi, [esi + 0]: padding
        "  .byte 0x8d, 0xb4, 0x26, 0, 0, 0, 0\n"
        ".p2align 4\n"
        ".globl verw_entry\n"
        ".type verw_entry, @function\n"
        "verw_entry:\n"
        "  incl n_verw\n"
        "  verw %cs:verw_sel\n"                     // a site: its region, 8 bytes
        "  setz verw_zf\n"                          // the tail: copies of these two
        "iret_here:\n"
        "  iret\n"                                 // the next function right after it, as
        ".globl jmp_entry\n"                       // in Linux: no padding for a region
        ".type jmp_entry, @function\n"
        "jmp_entry:\n"
        "  incl n_jmp\n"
        "  movb $2, verw_zf\n"
        "  jmp iret_here\n"
        ".data\n"
        ".p2align 2\n"
        "iret_named: .long iret_here\n"
        ".text\n");

static uint64_t gdt[6];
static uint32_t tss[26];
static uint8_t stack0[1024];

static void show_int(const char *what, uint32_t vec_entry_count, uint8_t cf)
{
    puts(what);
    puts(": count ");
    putdec(vec_entry_count);
    puts(", zf ");
    putdec(verw_zf);
    puts(", cf after iret ");
    putdec(cf);
    puts("\n");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    __asm__ volatile("cli");
    gdt_load_ring3(gdt, 6, tss, sizeof tss, (uint32_t)(stack0 + sizeof stack0));
    idt_gate(0x30, verw_entry);
    idt_gate(0x31, jmp_entry);
    static const uint16_t sels[] = {0x10, 0x08, 0x23, 0x1b, 0x30};
    for (unsigned i = 0; i < sizeof sels / sizeof sels[0]; i++) {
        uint8_t cf;
        verw_sel = sels[i];
        __asm__ volatile("stc\n\tint $0x30\n\tsetc %0" : "=q"(cf) :: "cc", "memory");
        puts("verw ");
        puthex(sels[i]);
        show_int(" then iret", n_verw, cf);
    }
    for (unsigned i = 0; i < 2; i++) {
        uint8_t cf;
        __asm__ volatile("clc\n\tint $0x31\n\tsetc %0" : "=q"(cf) :: "cc", "memory");
        show_int("jmp to the iret", n_jmp, cf);
    }

    uint32_t fl;
    __asm__ volatile("call sti_ret\n\tpushfl\n\tpopl %0\n\tcli" : "=r"(fl) :: "memory");
    puts("sti; ret: IF ");
    putdec((fl >> 9) & 1);
    puts("\n");

    idt_gate(0x20, tick_entry);
    pic_init(0xfe, 0xff);
    outb(0x43, 0x30);                      // channel 0, mode 0: one interrupt at terminal count
    outb(0x40, (uint8_t)(PIT_HZ / 1000));
    outb(0x40, (uint8_t)((PIT_HZ / 1000) >> 8));
    outb(0x20, 0x0a);                      // OCW3: reads of port 0x20 give the IRR
    while (!(inb(0x20) & 1))
        ;
    uint32_t seen;
    __asm__ volatile("call sti_ret\n\tmovl ticks, %0\n\tcli" : "=r"(seen) :: "memory");
    puts("IRQ 0 pending at sti; ret: ticks right after the ret ");
    putdec(seen);
    puts(", later ");
    putdec(ticks);
    puts("\n");
    return 0;
}
