// Local APIC and IOAPIC through MMIO, compared line by line with QEMU: register reads and
// read-modify-writes by every instruction form the MMIO emulation decodes (mov, movzx,
// and/or/xor/add, rep movs/stos, lods), a self IPI, the timer one-shot and periodic with the
// divide register, the PIT routed through the IOAPIC, the 8259A's virtual wire through
// LINT0 (open, then masked), and an NMI to itself that sends another (held until iret).
// Only counts and register values are printed, never times.
#include "glib.h"

#define LAPIC 0xfee00000u
#define IOAPIC 0xfec00000u
#define REG(o) (*(volatile uint32_t *)(LAPIC + (o)))

struct gate { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
static struct gate idt[256];
static volatile uint32_t hits[256];
static volatile uint32_t isr_seen;

void irq_common(uint32_t vec);
#define STUB(v) \
    void stub_##v(void); \
    __asm__(".globl stub_" #v "\nstub_" #v ":\n pushal\n pushl $" #v "\n call irq_common\n" \
            " addl $4, %esp\n popal\n iret\n");
STUB(0x30) STUB(0x40) STUB(0x41) STUB(0x50) STUB(0x20) STUB(0xff) STUB(0x02)
static volatile uint32_t nmi_inside;

void irq_common(uint32_t vec)
{
    hits[vec]++;
    if (vec == 2) {                        // NMI: the first sends another, held until iret
        if (hits[2] == 1) {
            REG(0x300) = 0x44400;          // self, NMI
            nmi_inside = hits[2];
        }
        return;
    }
    if (vec == 0x20) {
        outb(0x20, 0x20);                  // the 8259A's EOI
        return;
    }
    if (vec == 0xff)
        return;                            // spurious: no EOI
    isr_seen = REG(0x100 + (vec >> 5) * 0x10);
    REG(0xb0) = 0;                         // EOI
}

static void set_gate(unsigned v, void (*f)(void))
{
    uint32_t a = (uint32_t)f;
    idt[v] = (struct gate){(uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16)};
}

static void show(const char *k, uint32_t v) { puts(k); puts(": "); puthex(v); puts("\n"); }
static void showd(const char *k, uint32_t v) { puts(k); puts(": "); putdec(v); puts("\n"); }

static uint32_t ioread(uint32_t r)
{
    *(volatile uint32_t *)IOAPIC = r;
    return *(volatile uint32_t *)(IOAPIC + 0x10);
}

static void iowrite(uint32_t r, uint32_t v)
{
    *(volatile uint32_t *)IOAPIC = r;
    *(volatile uint32_t *)(IOAPIC + 0x10) = v;
}

// Spin with interrupts on until *count reaches n (or give up after many loops).
static uint32_t wait_for(volatile uint32_t *count, uint32_t n)
{
    for (uint32_t i = 0; i < 400000000u && *count < n; i++)
        __asm__ volatile("sti; nop; cli");
    return *count;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    set_gate(0x20, stub_0x20);
    set_gate(0x30, stub_0x30);
    set_gate(0x40, stub_0x40);
    set_gate(0x41, stub_0x41);
    set_gate(0x50, stub_0x50);
    set_gate(0xff, stub_0xff);
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = {sizeof idt - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
    // The 8259A at 0x20/0x28, everything masked for now.
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    // Instruction forms against the registers.
    uint32_t v, buf[4];
    show("ver (mov)", REG(0x30));
    __asm__ volatile("movzbl (%1), %0" : "=r"(v) : "r"(LAPIC + 0x30));
    show("ver (movzx byte: QEMU answers 32-bit reads only)", v);
    __asm__ volatile("movzwl (%1), %0" : "=r"(v) : "r"(LAPIC + 0x30));
    show("ver (movzx word)", v);
    REG(0x80) = 0x10;
    __asm__ volatile("orl $0x21, (%0)" : : "r"(LAPIC + 0x80) : "cc", "memory");
    show("tpr after or", REG(0x80));
    __asm__ volatile("andl $0x0f, (%0)" : : "r"(LAPIC + 0x80) : "cc", "memory");
    show("tpr after and", REG(0x80));
    __asm__ volatile("xorl $0xf5, (%0)" : : "r"(LAPIC + 0x80) : "cc", "memory");
    show("tpr after xor", REG(0x80));
    __asm__ volatile("addl $3, (%0)" : : "r"(LAPIC + 0x80) : "cc", "memory");
    show("tpr after add", REG(0x80));
    v = 0x100;
    __asm__ volatile("addl (%1), %0" : "+r"(v) : "r"(LAPIC + 0x80) : "cc");
    show("add r32, [tpr]", v);
    REG(0x80) = 0;
    uint32_t fl;
    __asm__ volatile("cmpl $0x50014, (%1); pushf; popl %0" : "=r"(fl) : "r"(LAPIC + 0x30) : "cc");
    show("cmp [ver], 0x50014: ZF", (fl >> 6) & 1);
    {
        uint32_t *d = buf, n = 4;
        const volatile uint32_t *s = (const volatile uint32_t *)(LAPIC + 0xd0);  // LDR, DFR..
        __asm__ volatile("cld; rep movsl" : "+S"(s), "+D"(d), "+c"(n) : : "memory");
        show("rep movsl from ldr [0]", buf[0]);
        show("rep movsl from ldr [1]: same 16-byte register", buf[1]);
    }
    {
        uint32_t *d = (uint32_t *)(LAPIC + 0xd0), n = 1, val = 0x05000000;
        __asm__ volatile("cld; rep stosl" : "+D"(d), "+c"(n) : "a"(val) : "memory");
        show("ldr after rep stosl", REG(0xd0));
        const volatile uint32_t *s = (const volatile uint32_t *)(LAPIC + 0xd0);
        __asm__ volatile("lodsl" : "=a"(v), "+S"(s));
        show("ldr by lodsl", v);
        REG(0xd0) = 0;
    }
    show("svr", REG(0xf0));
    show("lvt lint0", REG(0x350));
    show("esr after reading reserved offsets", REG(0x280));

    // A self IPI, fixed delivery.
    REG(0x310) = 0;
    REG(0x300) = 0x40000 | 0x41;
    wait_for(&hits[0x41], 1);
    showd("self ipi 0x41 delivered", hits[0x41]);
    show("isr word of 0x41 in its handler", isr_seen);
    show("isr after eoi", REG(0x100 + 0x20));

    // Timer: one-shot, divide by 1.
    REG(0x3e0) = 0xb;
    REG(0x320) = 0x30;
    REG(0x380) = 2000000;                   // 2 ms at QEMU's 1 GHz
    wait_for(&hits[0x30], 1);
    showd("one-shot timer interrupts", hits[0x30]);
    show("tccr after expiry", REG(0x390));
    for (volatile uint32_t i = 0; i < 3000000; i++)
        ;
    showd("one-shot timer interrupts later", hits[0x30]);
    // Periodic, divide by 16: 5 interrupts, then masked.
    REG(0x3e0) = 0x3;
    REG(0x320) = 0x20000 | 0x40;
    REG(0x380) = 62500;                     // 1 ms
    wait_for(&hits[0x40], 5);
    REG(0x320) = 0x10000 | 0x20000 | 0x40;
    showd("periodic timer reached 5", hits[0x40] >= 5);
    show("tdcr", REG(0x3e0));
    show("lvt timer", REG(0x320));
    REG(0x380) = 0;

    // IOAPIC: ID, version, and the PIT (ISA IRQ 0 = pin 2) to vector 0x50.
    show("ioapic id", ioread(0));
    show("ioapic ver", ioread(1));
    show("ioapic redtbl 2 at reset", ioread(0x14));
    outb(0x43, 0x34);                       // PIT channel 0, rate generator, 1 kHz
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    iowrite(0x15, 0);                       // destination: APIC 0
    iowrite(0x14, 0x50);                    // edge, fixed, vector 0x50
    wait_for(&hits[0x50], 3);
    iowrite(0x14, 0x10050);                 // masked
    showd("pit through the ioapic reached 3", hits[0x50] >= 3);
    show("ioapic redtbl 2", ioread(0x14));

    // The 8259A's INTR through LINT0 (ExtINT, virtual wire), then with LINT0 masked.
    outb(0x21, 0xfe);                       // IRQ 0 only
    wait_for(&hits[0x20], 3);
    showd("pic through lint0 reached 3", hits[0x20] >= 3);
    REG(0x350) = 0x10700;                   // mask LINT0
    uint32_t before = hits[0x20];
    for (uint32_t i = 0; i < 200000; i++)   // ~10 PIT periods under QEMU, more natively
        __asm__ volatile("sti; nop; nop; nop; nop; cli");
    showd("pic interrupts with lint0 masked", hits[0x20] - before);
    REG(0x350) = 0x8700;
    outb(0x21, 0xff);
    showd("spurious", hits[0xff]);

    // NMI to itself by the ICR, with IF clear; the handler sends a second one, which waits
    // for the handler's iret.
    set_gate(2, stub_0x02);
    __asm__ volatile("cli");
    REG(0x300) = 0x44400;
    for (volatile uint32_t i = 0; i < 1000; i++)   // QEMU delivers it at its next block
        ;
    showd("nmis with IF clear", hits[2]);
    showd("nmis seen inside the first handler", nmi_inside);
    return 0;
}
