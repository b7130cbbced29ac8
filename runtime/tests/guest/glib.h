// Tiny freestanding library for the runtime's test guests: port I/O, COM1 output, debug exit.
#ifndef GLIB_H
#define GLIB_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

void putc(char c);
void puts(const char *s);
void puthex(uint32_t v);
void putdec(uint32_t v);
void gexit(uint32_t code) __attribute__((noreturn));
// An interrupt gate (32-bit, DPL 0, selector 0x08) for vec in the library's IDT, loaded with
// lidt on first use.
void idt_gate(unsigned vec, void (*handler)(void));
// The same with the gate's DPL (3: reachable by `int` from ring 3).
void idt_gate_dpl(unsigned vec, void (*handler)(void), unsigned dpl);
// A segment descriptor: base, limit (20 bits), access byte, flags nibble (G, D/B, L, AVL).
uint64_t gdt_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
// The GDT a guest with a ring 3 needs, loaded (lgdt, CS/DS/ES/SS reloaded, ltr): 0x08 kernel
// code, 0x10 kernel data, 0x1b user code, 0x23 user data (all flat), 0x28 the TSS at tss
// (tss_size bytes; its SS0 is set to 0x10 and ESP0 to esp0). gdt has n >= 6 entries; entries
// from 6 on are the caller's, filled before the call.
void gdt_load_ring3(uint64_t *gdt, unsigned n, void *tss, uint32_t tss_size, uint32_t esp0);
// Ring 3 at eip with stack esp and EFLAGS 0x202 (IF set), through gdt_load_ring3's 0x1b and
// 0x23 (DS and ES loaded with 0x23 first). Does not return.
void ring3_enter(uint32_t eip, uint32_t esp) __attribute__((noreturn));
// Paging on with the layout copy tests use: 0-4 MiB supervisor, 4-8 MiB user (identity), 8-12
// MiB a supervisor alias of 4-8 MiB (a kernel writing user frames through another address, as
// through a direct map); pd and pt[3] page-aligned, CR0.WP set.
void paging_user_alias(uint32_t *pd, uint32_t (*pt)[1024]);
// Whether the kernel's command line (multiboot info at info) has word as a word of its own.
int cmdline_has(uint32_t info, const char *word);
// The 8259A pair at vectors 0x20 and 0x28 (ICW1-ICW4 as a PC BIOS programs them), then the
// interrupt masks of master and slave.
void pic_init(uint8_t mask_master, uint8_t mask_slave);
// An interrupt handler for the 8259A's IRQ 0 that counts into `ticks` and sends EOI.
extern volatile uint32_t ticks;
void tick_entry(void);
int gmain(uint32_t magic, uint32_t info);
#endif
