// x86 hardware facts for the samples: bit constants (one comment per bit), PC device ports
// and registers, and the inline-asm wrappers C code uses to reach them. Nothing outside this
// header spells a raw hardware bit. References: Intel SDM vol. 3A (system programming) and the
// datasheets named at each device block. Usable from .S files (only the #defines are seen).
#ifndef SAMPLES_X86_H
#define SAMPLES_X86_H

// ---- EFLAGS (SDM 3A §2.3) ------------------------------------------------------------------
#define FL_CF           0x00000001  // Carry flag
#define FL_1            0x00000002  // Reserved, always reads 1
#define FL_ZF           0x00000040  // Zero flag
#define FL_TF           0x00000100  // Trap flag (single step)
#define FL_IF           0x00000200  // Interrupt enable
#define FL_DF           0x00000400  // Direction flag
#define FL_OF           0x00000800  // Overflow flag
#define FL_IOPL_MASK    0x00003000  // I/O privilege level field
#define FL_IOPL_SHIFT   12
#define FL_NT           0x00004000  // Nested task
#define FL_RF           0x00010000  // Resume flag
#define FL_VM           0x00020000  // Virtual-8086 mode
#define FL_AC           0x00040000  // Alignment check
#define FL_ID           0x00200000  // CPUID instruction available

// ---- control registers (SDM 3A §2.5) -------------------------------------------------------
#define CR0_PE          0x00000001  // Protection enable
#define CR0_MP          0x00000002  // Monitor coprocessor
#define CR0_EM          0x00000004  // FPU emulation
#define CR0_TS          0x00000008  // Task switched (next FPU use faults #NM)
#define CR0_ET          0x00000010  // Extension type (hardwired 1 since the 486)
#define CR0_NE          0x00000020  // Native FPU error reporting (#MF)
#define CR0_WP          0x00010000  // Write protect honoured in ring 0
#define CR0_AM          0x00040000  // Alignment mask (with EFLAGS.AC enables #AC)
#define CR0_NW          0x20000000  // Not write-through
#define CR0_CD          0x40000000  // Cache disable
#define CR0_PG          0x80000000  // Paging
#define CR0_MSW_MASK    0x0000000f  // The bits lmsw can load (PE MP EM TS; PE only set)

#define CR4_VME         0x00000001  // Virtual-8086 mode extensions
#define CR4_PVI         0x00000002  // Protected-mode virtual interrupts
#define CR4_TSD         0x00000004  // rdtsc privileged
#define CR4_DE          0x00000008  // Debugging extensions (DR4/DR5 fault)
#define CR4_PSE         0x00000010  // 4 MiB pages
#define CR4_PAE         0x00000020  // Physical address extension
#define CR4_PGE         0x00000080  // Global pages
#define CR4_PCE         0x00000100  // rdpmc allowed in ring 3
#define CR4_OSFXSR      0x00000200  // OS supports fxsave/fxrstor (enables SSE)
#define CR4_OSXMMEXCPT  0x00000400  // OS handles #XM (else SIMD exceptions are #UD)

// ---- debug registers (SDM 3B §17.2) --------------------------------------------------------
#define DR6_FIXED1      0xffff0ff0  // DR6 bits that always read 1
#define DR6_B0          0x00000001  // Breakpoint 0 condition detected
#define DR6_BS          0x00004000  // Single step
#define DR7_FIXED1      0x00000400  // DR7 bit 10 always reads 1
#define DR7_LE          0x00000100  // Local exact breakpoint (no effect since the P6)
#define DR7_GE          0x00000200  // Global exact breakpoint (no effect since the P6)

// ---- paging, 32-bit non-PAE (SDM 3A §4.3) --------------------------------------------------
#define PTE_P           0x001       // Present
#define PTE_W           0x002       // Writable
#define PTE_U           0x004       // User (ring 3) may access
#define PTE_PWT         0x008       // Write-through
#define PTE_PCD         0x010       // Cache disabled (device registers)
#define PTE_A           0x020       // Accessed
#define PTE_D           0x040       // Dirty
#define PTE_PS          0x080       // In a PDE: 4 MiB page (needs CR4.PSE)
#define PGSIZE          0x1000      // 4 KiB page
#define PGSIZE_4M       0x400000    // 4 MiB page (a PDE with PTE_PS)
#define NPTENTRIES      1024        // entries in a page directory or page table
#define PDX(va)         (((unsigned)(va) >> 22) & 0x3ff)  // page directory index
#define PTX(va)         (((unsigned)(va) >> 12) & 0x3ff)  // page table index
#define PF_P            0x1         // #PF error code: protection violation (else not present)
#define PF_W            0x2         // #PF error code: write access
#define PF_U            0x4         // #PF error code: access from ring 3

// ---- segment selectors and descriptors (SDM 3A §3.4-3.5) ----------------------------------
#define SEL_RPL_MASK    0x3         // Requested privilege level
#define SEL_TI          0x4         // Table indicator: 1 = LDT
#define SEL_INDEX_SHIFT 3

// Access byte (bits 40-47 of a descriptor).
#define DESC_A          0x01        // Code/data: accessed (preset so the CPU never writes it)
#define DESC_RW         0x02        // Code: readable; data: writable
#define DESC_DC         0x04        // Code: conforming; data: expand-down
#define DESC_X          0x08        // Executable (code segment)
#define DESC_S          0x10        // Code or data (clear: a system descriptor)
#define DESC_DPL(d)     ((d) << 5)  // Descriptor privilege level
#define DESC_P          0x80        // Present
// System descriptor types (access byte bits 0-3 with DESC_S clear).
#define DESC_T_LDT      0x2         // LDT
#define DESC_T_TSS      0x9         // Available 32-bit TSS
#define DESC_T_TSS_BUSY 0xb         // Busy 32-bit TSS (set by ltr)
#define DESC_T_CALLGATE 0xc         // 32-bit call gate
#define DESC_T_INTGATE  0xe         // 32-bit interrupt gate (clears IF)
#define DESC_T_TRAPGATE 0xf         // 32-bit trap gate (leaves IF)
#define SEG_LIMIT_MAX   0xfffff     // Largest 20-bit limit: 4 GiB with DESC_F_G
// Flags nibble (bits 52-55).
#define DESC_F_DB       0x4         // 32-bit default operand size
#define DESC_F_G        0x8         // Limit counts 4 KiB units

#define EFER_MSR_SCE    0x00000001  // EFER: syscall/sysret enable

// ---- model-specific registers (SDM 4) ------------------------------------------------------
#define MSR_APIC_BASE     0x0000001b  // Local APIC base address and enable
#define MSR_SYSENTER_CS   0x00000174  // sysenter: CS (SS = CS+8; sysexit CS+16, SS CS+24)
#define MSR_SYSENTER_ESP  0x00000175  // sysenter: ring-0 stack pointer
#define MSR_SYSENTER_EIP  0x00000176  // sysenter: ring-0 entry point
#define APIC_BASE_BSP     0x00000100  // This CPU is the bootstrap processor
#define APIC_BASE_EN      0x00000800  // Local APIC enabled
#define APIC_BASE_ADDR    0xfffff000  // Physical address of the local APIC's registers

// ---- cpuid (SDM 2A, CPUID) -----------------------------------------------------------------
#define CPUID_1_EDX_PSE   0x00000008  // 4 MiB pages
#define CPUID_1_EDX_TSC   0x00000010  // rdtsc
#define CPUID_1_EDX_MSR   0x00000020  // rdmsr/wrmsr
#define CPUID_1_EDX_SEP   0x00000800  // sysenter/sysexit
#define CPUID_1_EDX_SSE   0x02000000  // SSE
#define CPUID_X1_EDX_RDTSCP 0x08000000  // leaf 0x80000001: rdtscp

// ---- x87 control word (SDM 1 §8.1.5) -------------------------------------------------------
#define FPU_CW_DEFAULT  0x037f      // fninit's control word: all exceptions masked
#define FPU_CW_ZM       0x0004      // zero-divide exception masked

// ---- exception vectors (SDM 3A §6.3) -------------------------------------------------------
#define T_DE   0   // Divide error
#define T_DB   1   // Debug
#define T_NMI  2   // Non-maskable interrupt
#define T_BP   3   // Breakpoint (int3)
#define T_OF   4   // Overflow (into)
#define T_BR   5   // Bound range exceeded
#define T_UD   6   // Invalid opcode
#define T_NM   7   // Device not available
#define T_DF   8   // Double fault
#define T_TS   10  // Invalid TSS
#define T_NP   11  // Segment not present
#define T_SS   12  // Stack-segment fault
#define T_GP   13  // General protection
#define T_PF   14  // Page fault
#define T_MF   16  // x87 floating-point error
#define T_AC   17  // Alignment check
#define T_MC   18  // Machine check
#define T_XM   19  // SIMD floating-point exception
#define NEXCEPTIONS 32
// Vectors that push an error code: #DF #TS #NP #SS #GP #PF #AC #CP(21) #VC(29) #SX(30).
#define T_HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
                      (v) == 29 || (v) == 30)

// ---- 16550A UART, COM1 (National Semiconductor PC16550D datasheet) ------------------------
#define COM1            0x3f8
#define UART_THR        0   // Transmit holding register (write, DLAB=0)
#define UART_RBR        0   // Receive buffer register (read, DLAB=0)
#define UART_DLL        0   // Divisor latch low (DLAB=1)
#define UART_IER        1   // Interrupt enable register (DLAB=0)
#define UART_DLM        1   // Divisor latch high (DLAB=1)
#define UART_FCR        2   // FIFO control register (write)
#define UART_LCR        3   // Line control register
#define UART_MCR        4   // Modem control register
#define UART_LSR        5   // Line status register
#define UART_SCR        7   // Scratch register
#define UART_LCR_8N1    0x03  // 8 data bits, no parity, 1 stop bit
#define UART_LCR_DLAB   0x80  // Divisor latch access
#define UART_FCR_ENABLE 0x01  // Enable FIFOs
#define UART_FCR_CLEAR  0x06  // Clear receive and transmit FIFOs
#define UART_MCR_DTR    0x01  // Data terminal ready
#define UART_MCR_RTS    0x02  // Request to send
#define UART_LSR_THRE   0x20  // Transmit holding register empty
#define UART_BAUD_DIV_115200 1  // 1.8432 MHz / 16 / 115200

// ---- 8259A PIC pair (Intel 8259A datasheet) ------------------------------------------------
#define PIC1_CMD        0x20  // Master: ICW1, OCW2, OCW3
#define PIC1_DATA       0x21  // Master: ICW2-4, OCW1 (interrupt mask register)
#define PIC2_CMD        0xa0  // Slave
#define PIC2_DATA       0xa1
#define PIC_ICW1_INIT   0x10  // ICW1: start initialisation
#define PIC_ICW1_ICW4   0x01  // ICW1: ICW4 follows
#define PIC_ICW3_SLAVE_AT_IRQ2 0x04  // Master ICW3: slave on IR2 (one bit per input)
#define PIC_ICW3_SLAVE_ID 0x02       // Slave ICW3: its cascade identity
#define PIC_ICW4_8086   0x01  // ICW4: 8086 mode
#define PIC_OCW2_EOI    0x20  // OCW2: non-specific end of interrupt
#define PIC_OCW3_READ_IRR 0x0a  // OCW3: command-port reads return the request register
#define PIC_OCW3_READ_ISR 0x0b  // OCW3: command-port reads return the in-service register
#define PIC_CASCADE_IRQ 2     // Master input the slave is wired to
#define IRQ_PIT         0     // 8254 channel 0
#define IRQ_BASE        0x20  // Vector of IRQ0 (the master's ICW2); the slave follows at +8
#define NIRQS           16

// ---- 8254 PIT (Intel 8254 datasheet) -------------------------------------------------------
#define PIT_CH0         0x40  // Channel 0 counter (drives IRQ0)
#define PIT_MODE        0x43  // Mode/command register
#define PIT_SEL_CH0     0x00  // Command: select channel 0
#define PIT_RW_LOHI     0x30  // Command: access low byte then high byte
#define PIT_MODE0       0x00  // Mode 0: interrupt on terminal count (one shot)
#define PIT_MODE2       0x04  // Mode 2: rate generator (periodic)
#define PIT_HZ          1193182  // Input clock

// ---- MC146818 CMOS/RTC (Motorola MC146818A datasheet) -------------------------------------
#define CMOS_INDEX      0x70  // Register index (write); bit 7 masks NMI
#define CMOS_DATA       0x71  // Data of the indexed register

// ---- PCI configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2) -------------------
#define PCI_CONFIG_ADDR 0xcf8   // 32-bit address register (read back as written)
#define PCI_CONFIG_EN   0x80000000  // Address register: enable configuration cycle

// ---- QEMU isa-debug-exit: a write of V makes QEMU exit with status (V << 1) | 1 ------------
#define DEBUG_EXIT_PORT 0xf4

// ---- multiboot v1 (Multiboot Specification 0.6.96 §3.1) -----------------------------------
#define MB_HEADER_MAGIC 0x1badb002  // In the kernel image
#define MB_BOOT_MAGIC   0x2badb002  // In EAX at entry
#define MB_PAGE_ALIGN   0x00000001  // Header flag: align modules on 4 KiB
#define MB_MEMORY_INFO  0x00000002  // Header flag: pass mem_lower/mem_upper

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{ uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port)
{ uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port)
{ uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outb(uint16_t port, uint8_t v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v)
{ __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v)
{ __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

static inline uint32_t read_eflags(void)
{ uint32_t f; __asm__ volatile("pushfl; popl %0" : "=r"(f)); return f; }
static inline void write_eflags(uint32_t f)
{ __asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc"); }

static inline uint32_t rcr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t rcr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t rcr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint32_t rcr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void lcr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void lcr2(uint32_t v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
static inline void lcr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void lcr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(const void *va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static inline uint64_t rdmsr(uint32_t msr)
{ uint32_t lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((uint64_t)hi << 32) | lo; }
static inline void wrmsr(uint32_t msr, uint64_t v)
{ __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory"); }

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{ __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0)); }
static inline uint64_t rdtsc(void)
{ uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }

static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" : : "r"(sel)); }
static inline void lldt(uint16_t sel) { __asm__ volatile("lldt %0" : : "r"(sel)); }

// A GDT or IDT register image, as lgdt/lidt read it and sgdt/sidt store it.
struct __attribute__((packed)) pseudodesc {
    uint16_t limit;
    uint32_t base;
};
static inline void lgdt(const struct pseudodesc *pd) { __asm__ volatile("lgdt %0" : : "m"(*pd)); }
static inline void lidt(const struct pseudodesc *pd) { __asm__ volatile("lidt %0" : : "m"(*pd)); }
static inline void sgdt(struct pseudodesc *pd) { __asm__ volatile("sgdt %0" : "=m"(*pd)); }
static inline void sidt(struct pseudodesc *pd) { __asm__ volatile("sidt %0" : "=m"(*pd)); }

// A segment descriptor from its fields: base, 20-bit limit, access byte (DESC_*), flags nibble.
#define SEG_DESC(base, limit, access, flags) \
    ((((uint64_t)(base) & 0xff000000u) << 32) | (((uint64_t)(flags) & 0xf) << 52) | \
     (((uint64_t)(limit) & 0xf0000u) << 32) | ((uint64_t)(access) << 40) | \
     (((uint64_t)(base) & 0x00ffffffu) << 16) | ((uint64_t)(limit) & 0xffffu))

// The present bit of a whole descriptor (access byte bit 7), and its type (bits 40-43).
#define DESC_PRESENT64 ((uint64_t)DESC_P << 40)
#define DESC_TYPE(d)   ((uint32_t)((d) >> 40) & 0xf)

// A 32-bit interrupt, trap or call gate: target selector:offset, type (DESC_T_*), DPL.
#define GATE_DESC(sel, off, type, dpl) \
    ((((uint64_t)(off) & 0xffff0000u) << 32) | \
     ((uint64_t)(DESC_P | DESC_DPL(dpl) | (type)) << 40) | \
     ((uint64_t)(sel) << 16) | ((uint64_t)(off) & 0xffffu))

#endif // __ASSEMBLER__
#endif
