// QEMU's pc-testdev (-device pc-testdev; ring1-run --testdev), as kvm-unit-tests uses it: the
// latch at 0xE0 by every width and byte, its byte-wise alias at 0xE8, and the 64 KiB buffer at
// 0xFF000000 (paging off: physical) by the instruction forms the MMIO emulation decodes --
// the string instructions cmps and scas with rep/repe/repne among them, inc/dec/not/neg --
// values and flags as QEMU's.
#include "glib.h"

static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }

static void show(const char *what, uint32_t v)
{
    puts(what);
    puts("=");
    puthex(v);
    puts("\n");
}

#define FLAGS 0x8d5u   // OF SF ZF AF PF CF

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic; (void)info;
    // The latch.
    outl(0xe0, 0x11223344);
    show("inl 0xe0", inl(0xe0));
    show("inb 0xe1", inb(0xe1));
    show("inw 0xe2", inw(0xe2));
    outb(0xe2, 0x99);
    show("after outb 0xe2", inl(0xe0));
    outw(0xe1, 0xabcd);
    show("after outw 0xe1", inl(0xe0));
    show("inl 0xe8", inl(0xe8));
    outl(0xe8, 0xcafef00d);
    show("after outl 0xe8", inl(0xe0));
    show("inb 0xeb", inb(0xeb));
    outl(0xe4, 0x100000);   // flush page: nothing to see

    // The buffer.
    volatile uint8_t *m = (volatile uint8_t *)0xff000000;
    for (unsigned i = 0; i < 64; i++)
        m[i] = (uint8_t)(i * 7 + 1);
    show("dword 0", *(volatile uint32_t *)m);
    show("word 0x3f (straddles nothing)", *(volatile uint16_t *)(m + 0x3e));
    static uint8_t ram[64];
    for (unsigned i = 0; i < 64; i++)
        ram[i] = (uint8_t)(i * 7 + 1);
    ram[20] = 0;
    uint32_t fl, c, si, di;
    // repe cmpsb: equal up to byte 20.
    __asm__ volatile("cld; repe cmpsb; pushf; popl %0"
                     : "=r"(fl), "=c"(c), "=S"(si), "=D"(di)
                     : "1"(64), "2"(m), "3"(ram) : "memory", "cc");
    show("repe cmpsb flags", fl & FLAGS);
    show("repe cmpsb ecx", c);
    show("repe cmpsb esi", si - (uint32_t)(uintptr_t)m);
    // repne scasb for the byte 7*9+1 (with the buffer as the string).
    __asm__ volatile("cld; repne scasb; pushf; popl %0"
                     : "=r"(fl), "=c"(c), "=D"(di)
                     : "a"(64), "1"(64), "2"(m) : "memory", "cc");
    show("repne scasb flags", fl & FLAGS);
    show("repne scasb ecx", c);
    show("repne scasb edi", di - (uint32_t)(uintptr_t)m);
    // scasl, cmpsw without rep (direction up), cmpsb with DF=1.
    __asm__ volatile("cld; scasl; pushf; popl %0" : "=r"(fl), "=D"(di) : "a"(0x1d16),
                     "1"(m) : "memory", "cc");
    show("scasl flags", fl & FLAGS);
    __asm__ volatile("cld; cmpsw; pushf; popl %0" : "=r"(fl), "=S"(si), "=D"(di)
                     : "1"(ram + 2), "2"(m + 2) : "memory", "cc");
    show("cmpsw flags", fl & FLAGS);
    __asm__ volatile("std; cmpsb; cld; pushf; popl %0" : "=r"(fl), "=S"(si), "=D"(di)
                     : "1"(m + 20), "2"(ram + 20) : "memory", "cc");
    show("std cmpsb flags", fl & FLAGS);
    show("std cmpsb esi", si - (uint32_t)(uintptr_t)m);
    // inc, dec, not, neg on the buffer.
    volatile uint32_t *d = (volatile uint32_t *)(m + 0x100);
    *d = 0x7fffffff;
    __asm__ volatile("stc; incl (%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("inc 0x7fffffff flags", fl & FLAGS);
    show("inc value", *d);
    __asm__ volatile("clc; decw (%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("decw flags", fl & FLAGS);
    show("decw value", *d);
    __asm__ volatile("decb 3(%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("decb flags", fl & FLAGS);
    __asm__ volatile("notl (%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("not value", *d);
    __asm__ volatile("negl (%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("neg flags", fl & FLAGS);
    show("neg value", *d);
    *d = 0;
    __asm__ volatile("negb (%1); pushf; popl %0" : "=r"(fl) : "r"(d) : "memory", "cc");
    show("neg 0 flags", fl & FLAGS);
    // bt, bts, btr, btc: CF (the other flags are undefined), the value, and a register bit
    // number reaching past the operand (forward and back).
    volatile uint32_t *b = (volatile uint32_t *)(m + 0x200);
    b[0] = 0x80000001;
    b[1] = 0;
    b[2] = 0x00010000;
    __asm__ volatile("btl $31, (%1); pushf; popl %0" : "=r"(fl) : "r"(b) : "memory", "cc");
    show("bt $31 cf", fl & 1);
    __asm__ volatile("btsl $4, (%1); pushf; popl %0" : "=r"(fl) : "r"(b) : "memory", "cc");
    show("bts $4 cf", fl & 1);
    __asm__ volatile("btrw $0, (%1); pushf; popl %0" : "=r"(fl) : "r"(b) : "memory", "cc");
    show("btrw $0 cf", fl & 1);
    __asm__ volatile("btcl $35, (%1); pushf; popl %0" : "=r"(fl) : "r"(b) : "memory", "cc");
    show("btc $35 cf", fl & 1);
    show("after imm forms", b[0]);
    __asm__ volatile("btl %2, (%1); pushf; popl %0" : "=r"(fl) : "r"(b), "r"(80) : "memory", "cc");
    show("bt reg 80 cf", fl & 1);
    __asm__ volatile("btsl %2, (%1); pushf; popl %0" : "=r"(fl) : "r"(b + 2), "r"(-33)
                     : "memory", "cc");
    show("bts reg -33 cf", fl & 1);
    show("word 1 after", b[1]);
    __asm__ volatile("btcw %w2, (%1); pushf; popl %0" : "=r"(fl) : "r"(b), "r"(0x21)
                     : "memory", "cc");
    show("btcw reg 0x21 cf", fl & 1);
    show("word 0 after", b[0]);
    show("dword 2 after", b[2]);
    return 0;
}
