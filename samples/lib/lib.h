// The sample library's own layout and interface: GDT slots, the trap frame, and prototypes.
// Hardware facts live in x86.h; this header only says how the library uses them.
#ifndef SAMPLES_LIB_H
#define SAMPLES_LIB_H

#include "x86.h"

// GDT slots loaded by entry.S (gdt.c). Selectors carry their RPL.
#define SEG_NULL   0
#define SEG_KCODE  1   // flat 4 GiB, ring 0, code
#define SEG_KDATA  2   // flat 4 GiB, ring 0, data
#define SEG_UCODE  3   // flat 4 GiB, ring 3, code (sysexit's CS = SYSENTER_CS + 16)
#define SEG_UDATA  4   // flat 4 GiB, ring 3, data (sysexit's SS = SYSENTER_CS + 24)
#define SEG_TSS    5   // filled by tss_init()
#define NSEGS      6

#define SEL_KCODE  (SEG_KCODE << SEL_INDEX_SHIFT)
#define SEL_KDATA  (SEG_KDATA << SEL_INDEX_SHIFT)
#define SEL_UCODE  ((SEG_UCODE << SEL_INDEX_SHIFT) | 3)
#define SEL_UDATA  ((SEG_UDATA << SEL_INDEX_SHIFT) | 3)
#define SEL_TSS    (SEG_TSS << SEL_INDEX_SHIFT)

#define KSTACK_SIZE 16384  // boot stack (entry.S)
#define NIDT        256    // IDT entries (idt.c)

#ifndef __ASSEMBLER__
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

// Trap frame, as vectors.S and trapasm.S build it (lowest address first).
struct trapframe {
    uint32_t edi, esi, ebp, oesp, ebx, edx, ecx, eax;  // pushal
    uint32_t gs, fs, es, ds;                           // pushed as 32-bit slots
    uint32_t trapno, err;                              // err is 0 if the CPU pushed none
    uint32_t eip, cs, eflags;                          // pushed by the CPU
    uint32_t esp, ss;                                  // only on entry from ring 3
};

typedef void (*trap_handler)(struct trapframe *tf);

// One instruction a sample executes expecting a fault: PROBE() in probe.h records it.
struct probe {
    uint32_t start, end;  // the instruction's address and the address after it
    const char *name;
};

// entry.S
extern uint32_t mb_magic, mb_info;  // EAX and EBX at entry (the multiboot handoff)
extern uint8_t kstack_top[];

// gdt.c, tss.c
extern uint64_t gdt[NSEGS];
extern struct pseudodesc gdt_pd;
void tss_init(uint64_t *slot, uint32_t esp0);
void tss_set_esp0(uint32_t esp0);

// idt.c, trap.c
extern uint64_t idt[NIDT];
extern struct pseudodesc idt_pd;
void idt_init(void);
void idt_set_gate(int vec, int type, int dpl);
void trap_register(int vec, trap_handler h);
void trap(struct trapframe *tf);
const char *trap_name(int vec);
void trap_dump(const struct trapframe *tf);

// probe.c
const struct probe *probe_find(uint32_t eip, int at_end);
int probe_report(struct trapframe *tf);
void probe_trap(struct trapframe *tf);

// ring3.S, ring3.c
void ring3_call(void (*fn)(void), void *stack_top, uint32_t eflags);
void ring3_leave(struct trapframe *tf);

// uart.c
void uart_init(void);
void uart_putc(char c);
void uart_puts(const char *s);

// printf.c
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

// pic.c, pit.c
void pic_init(void);
void pic_mask(int irq);
void pic_unmask(int irq);
void pic_eoi(int irq);
void pit_periodic(uint32_t hz);
void pit_oneshot(uint16_t count);

#define EXIT_UNEXPECTED_TRAP 0x10  // debug-exit value when a trap nobody expected arrives

// exit.c
void qemu_exit(uint8_t code) __attribute__((noreturn));

// string.c (gcc may emit calls to these even when freestanding)
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

// Each sample provides main(); its return value is the debug-exit code (0 = success).
int main(void);
#endif // __ASSEMBLER__
#endif
