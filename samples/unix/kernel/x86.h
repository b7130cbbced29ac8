// x86 and PC hardware facts for the unix kernel: every bit constant, port, MMIO register and
// firmware structure it uses, and the inline-asm wrappers that reach them. Nothing outside this
// header spells a raw hardware number. One block per manual: Intel SDM vol. 3A (system
// programming), the Intel MultiProcessor Specification 1.4, the 82093AA IOAPIC and PC16550D
// datasheets, ATA/ATAPI-4 (PIO), the IBM CGA/MC6845 reference, Multiboot 0.6.96.
// Usable from .S files (only the #defines are seen there).
#ifndef UNIX_X86_H
#define UNIX_X86_H

// ---- EFLAGS (SDM 3A §2.3) ------------------------------------------------------------------
#define FL_IF           0x00000200  // Interrupt enable

// ---- control registers (SDM 3A §2.5) -------------------------------------------------------
#define CR0_WP          0x00010000  // Write protect honoured in ring 0
#define CR0_PG          0x80000000  // Paging
#define CR4_PSE         0x00000010  // 4 MiB pages

// ---- paging, 32-bit non-PAE (SDM 3A §4.3) --------------------------------------------------
#define PTE_P           0x001       // Present
#define PTE_W           0x002       // Writable
#define PTE_U           0x004       // User (ring 3) may access
#define PTE_PWT         0x008       // Write-through
#define PTE_PCD         0x010       // Cache disable (device registers)
#define PTE_PS          0x080       // In a PDE: 4 MiB page (needs CR4.PSE)
#define PGSIZE          4096        // bytes in a page
#define NPDENTRIES      1024        // entries in a page directory
#define PDXSHIFT        22          // page directory index: bits 31-22 of an address
#define PTXSHIFT        12          // page table index: bits 21-12

// ---- segmentation (SDM 3A §3.4-3.5, §7.2) --------------------------------------------------
#define DPL_USER        3           // ring 3
#define SEL_RPL_MASK    0x3         // requested privilege level of a selector
#define SEL_INDEX_SHIFT 3           // selector = index << 3 | TI | RPL
// Access byte (bits 40-47 of a descriptor).
#define DESC_A          0x01        // Accessed (preset so the CPU never writes it)
#define DESC_RW         0x02        // Code: readable; data: writable
#define DESC_X          0x08        // Executable
#define DESC_S          0x10        // Code or data (clear: system descriptor)
#define DESC_DPL(d)     ((d) << 5)  // Descriptor privilege level
#define DESC_P          0x80        // Present
#define DESC_T_TSS      0x9         // System type: available 32-bit TSS
#define DESC_T_INTGATE  0xe         // Gate type: 32-bit interrupt gate (clears IF)
#define DESC_T_TRAPGATE 0xf         // Gate type: 32-bit trap gate (leaves IF alone)
#define SEG_LIMIT_MAX   0xfffff     // 20-bit limit: 4 GiB with DESC_F_G
// Flags nibble (bits 52-55).
#define DESC_F_DB       0x4         // 32-bit segment
#define DESC_F_G        0x8         // Limit counts 4 KiB units

// ---- exception vectors (SDM 3A §6.3) -------------------------------------------------------
// Vectors for which the CPU pushes an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX.
#define T_HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
                      (v) == 29 || (v) == 30)

// ---- ISA interrupt lines (IBM PC/AT) -------------------------------------------------------
// Routed to the same-numbered IOAPIC input (the identity assignment of MP spec §5.1).
#define IRQ_COM1        4
#define IRQ_IDE         14           // primary ATA channel

// ---- 8259A PIC pair (Intel 8259A datasheet) --------------------------------------------------
#define PIC1_DATA       0x21         // Master: OCW1, the interrupt mask register
#define PIC2_DATA       0xa1         // Slave: OCW1
#define PIC_MASK_ALL    0xff         // OCW1: every input masked

// ---- IMCR: the interrupt-mode register of PIC-mode boards (MP spec §3.6.2.1) ----------------
#define IMCR_ADDR       0x22         // Index port
#define IMCR_DATA       0x23         // Data port
#define IMCR_SELECT     0x70         // Index of the IMCR
#define IMCR_APIC       0x01         // IMCR: route INTR and NMI to the APIC, not the CPU pins

// ---- 16550A UART, COM1 (National Semiconductor PC16550D datasheet §8) ----------------------
#define COM1            0x3f8
#define UART_RBR        0   // Receive buffer register (read, DLAB=0)
#define UART_THR        0   // Transmit holding register (write, DLAB=0)
#define UART_DLL        0   // Divisor latch low (DLAB=1)
#define UART_IER        1   // Interrupt enable register (DLAB=0)
#define UART_DLM        1   // Divisor latch high (DLAB=1)
#define UART_FCR        2   // FIFO control register (write)
#define UART_LCR        3   // Line control register
#define UART_MCR        4   // Modem control register
#define UART_LSR        5   // Line status register
#define UART_IER_RDI    0x01  // Interrupt when received data is available
#define UART_FCR_OFF    0x00  // FIFOs disabled (16450 mode)
#define UART_LCR_8N1    0x03  // 8 data bits, no parity, 1 stop bit
#define UART_LCR_DLAB   0x80  // Divisor latch access
#define UART_MCR_DTR    0x01  // Data terminal ready
#define UART_MCR_RTS    0x02  // Request to send
#define UART_MCR_OUT2   0x08  // OUT2: on a PC, gates the UART's interrupt onto the ISA line
#define UART_LSR_DR     0x01  // Data ready: RBR holds a byte
#define UART_LSR_THRE   0x20  // Transmit holding register empty
#define UART_BAUD_DIV_115200 1  // 1.8432 MHz / 16 / 115200

// ---- ATA PIO, primary channel (ATA/ATAPI-4 §7-9) --------------------------------------------
#define ATA_DATA        0x1f0  // Data (16/32-bit transfers)
#define ATA_ERROR       0x1f1  // Error (read)
#define ATA_NSECT       0x1f2  // Sector count
#define ATA_LBA0        0x1f3  // LBA bits 0-7
#define ATA_LBA1        0x1f4  // LBA bits 8-15
#define ATA_LBA2        0x1f5  // LBA bits 16-23
#define ATA_DRIVE       0x1f6  // Drive/head: LBA bits 24-27, drive select, LBA mode
#define ATA_STATUS      0x1f7  // Status (read; reading it acknowledges INTRQ)
#define ATA_COMMAND     0x1f7  // Command (write)
#define ATA_CTRL        0x3f6  // Device control (write)
#define ATA_DRIVE_LBA   0xe0   // Drive/head: LBA addressing (+ the two always-one bits)
#define ATA_DRIVE_SLAVE 0x10   // Drive/head: select drive 1
#define ATA_SR_BSY      0x80   // Status: busy
#define ATA_SR_DRDY     0x40   // Status: drive ready
#define ATA_SR_DF       0x20   // Status: drive fault
#define ATA_SR_ERR      0x01   // Status: error
#define ATA_CMD_READ    0x20   // READ SECTORS (PIO)
#define ATA_CMD_WRITE   0x30   // WRITE SECTORS (PIO)
#define ATA_CTRL_IRQ_ON 0x00   // Device control: nIEN clear = interrupts enabled
#define ATA_SR_NOCHANNEL 0xff  // Status read from a channel with no drive at all (floating bus)

// ---- local APIC (SDM 3A §10), byte offsets of its 32-bit registers -------------------------
#define LAPIC_ID        0x020  // ID (bits 31-24)
#define LAPIC_VER       0x030  // Version; bits 23-16: index of the last LVT entry
#define LAPIC_TPR       0x080  // Task priority
#define LAPIC_EOI       0x0b0  // End of interrupt (write 0)
#define LAPIC_SVR       0x0f0  // Spurious interrupt vector
#define LAPIC_ESR       0x280  // Error status
#define LAPIC_LVT_TIMER 0x320  // LVT: timer
#define LAPIC_LVT_PCINT 0x340  // LVT: performance counter
#define LAPIC_LVT_LINT0 0x350  // LVT: LINT0 pin
#define LAPIC_LVT_LINT1 0x360  // LVT: LINT1 pin
#define LAPIC_LVT_ERROR 0x370  // LVT: error
#define LAPIC_TICR      0x380  // Timer initial count
#define LAPIC_TDCR      0x3e0  // Timer divide configuration
#define LAPIC_SVR_ENABLE    0x00000100  // SVR: APIC software enable
#define LAPIC_LVT_MASKED    0x00010000  // LVT: masked
#define LAPIC_TIMER_PERIODIC 0x00020000 // LVT timer: periodic (reload from TICR)
#define LAPIC_TDCR_X1       0x0000000b  // TDCR: divide by 1
#define LAPIC_VER_MAXLVT(v) (((v) >> 16) & 0xff)
#define LAPIC_ID_SHIFT      24

// ---- I/O APIC (Intel 82093AA datasheet §3) --------------------------------------------------
#define IOAPIC_REGSEL   0x00   // MMIO: register select
#define IOAPIC_WIN      0x10   // MMIO: data window of the selected register
#define IOAPIC_ID       0x00   // Register: ID (bits 27-24)
#define IOAPIC_VER      0x01   // Register: version; bits 23-16: last redirection entry
#define IOAPIC_REDTBL   0x10   // Register: redirection entry n is 0x10+2n (low), 0x11+2n (high)
#define IOAPIC_MASKED   0x00010000  // Redirection: masked (clear, with the other bits 0:
                                    // fixed delivery, physical, edge, active high)
#define IOAPIC_VER_MAXREDIR(v) (((v) >> 16) & 0xff)
#define IOAPIC_DEST_SHIFT 24        // Redirection high word: destination APIC ID
#define IOAPIC_ID_OF(r) (((r) >> 24) & 0xf)  // ID register: the id, bits 27-24

// ---- CGA text mode (IBM CGA; MC6845 CRTC) ---------------------------------------------------
#define CGA_MEM         0xb8000  // Physical address of the text buffer
#define CGA_COLS        80
#define CGA_ROWS        25
#define CGA_ATTR        0x0700   // Light grey on black, in a cell's high byte
#define CRTC_INDEX      0x3d4    // CRTC register index
#define CRTC_DATA       0x3d5    // CRTC register data
#define CRTC_CURSOR_HI  14       // CRTC: cursor location, high byte
#define CRTC_CURSOR_LO  15       // CRTC: cursor location, low byte

// ---- BIOS data and ROM areas where the MP floating pointer may be (MP spec §4) --------------
#define BDA_EBDA_SEG    0x40e    // BIOS data area: real-mode segment of the EBDA (16 bits)
#define BDA_BASEMEM_KB  0x413    // BIOS data area: base memory size in KiB (16 bits)
#define BIOS_ROM        0xf0000  // BIOS ROM: the last 64 KiB below 1 MiB
#define BIOS_ROM_SIZE   0x10000

// ---- QEMU isa-debug-exit: a write of V makes QEMU exit with status (V << 1) | 1 ------------
#define DEBUG_EXIT_PORT 0xf4

// ---- multiboot v1 (Multiboot Specification 0.6.96 §3) --------------------------------------
#define MB_HEADER_MAGIC 0x1badb002  // In the kernel image
#define MB_BOOT_MAGIC   0x2badb002  // In EAX at entry
#define MB_MEMORY_INFO  0x00000002  // Header flag: pass mem_lower/mem_upper
#define MB_INFO_MEMORY  0x00000001  // Info flag: mem_lower/mem_upper are valid
#define MB_INFO_CMDLINE 0x00000004  // Info flag: cmdline is valid

#ifndef __ASSEMBLER__
#include <stdint.h>

// ---- MP configuration structures (MP spec §4) -----------------------------------------------
#define MP_SIGNATURE    "_MP_"
#define MPCONF_SIGNATURE "PCMP"
#define MP_IMCRP        0x80        // Floating pointer feature byte 2: IMCR present
#define MPPROC          0x00        // Entry type: processor (20 bytes)
#define MPBUS           0x01        // Entry type: bus (8 bytes)
#define MPIOAPIC        0x02        // Entry type: I/O APIC (8 bytes)
#define MPIOINTR        0x03        // Entry type: I/O interrupt assignment (8 bytes)
#define MPLINTR         0x04        // Entry type: local interrupt assignment (8 bytes)
#define MPENTRY_SIZE    8           // Size of every entry type but MPPROC
#define MPPROC_EN       0x01        // Processor flags: usable
#define MPPROC_BP       0x02        // Processor flags: bootstrap processor
#define MPIOAPIC_EN     0x01        // I/O APIC flags: usable

struct mp {                 // floating pointer structure
    uint8_t signature[4];   // "_MP_"
    uint32_t physaddr;      // physical address of the configuration table (0: a default one)
    uint8_t length;         // in 16-byte units: 1
    uint8_t specrev;        // 1 or 4
    uint8_t checksum;       // all bytes add up to 0
    uint8_t type;           // default configuration type (0: the table describes the board)
    uint8_t imcrp;          // feature byte 2: MP_IMCRP
    uint8_t reserved[3];
} __attribute__((packed));

struct mpconf {             // configuration table header
    uint8_t signature[4];   // "PCMP"
    uint16_t length;        // bytes, header included
    uint8_t version;        // 1 or 4
    uint8_t checksum;       // all bytes add up to 0
    uint8_t product[20];    // OEM and product id
    uint32_t oemtable;      // OEM table pointer
    uint16_t oemlength;     // OEM table length
    uint16_t entry;         // entry count
    uint32_t lapicaddr;     // physical address of the local APIC
    uint16_t xlength;       // extended table length
    uint8_t xchecksum;      // extended table checksum
    uint8_t reserved;
} __attribute__((packed));

struct mpproc {             // processor entry
    uint8_t type;           // MPPROC
    uint8_t apicid;         // local APIC id
    uint8_t version;        // local APIC version
    uint8_t flags;          // MPPROC_EN, MPPROC_BP
    uint8_t signature[4];   // CPU signature
    uint32_t feature;       // CPUID feature flags
    uint8_t reserved[8];
} __attribute__((packed));

struct mpioapic {           // I/O APIC entry
    uint8_t type;           // MPIOAPIC
    uint8_t apicno;         // I/O APIC id
    uint8_t version;        // I/O APIC version
    uint8_t flags;          // MPIOAPIC_EN
    uint32_t addr;          // physical address of its registers
} __attribute__((packed));

// ---- multiboot information structure (the fields this kernel reads) ----------------------
struct multiboot_info {
    uint32_t flags;         // MB_INFO_*
    uint32_t mem_lower;     // KiB of memory below 1 MiB
    uint32_t mem_upper;     // KiB of memory above 1 MiB (to the first hole)
    uint32_t boot_device;
    uint32_t cmdline;       // physical address of the NUL-terminated command line
} __attribute__((packed));

// ---- descriptors (SDM 3A §3.4.5, §6.11, §7.2.1) -------------------------------------------
// A segment descriptor from its fields: base, 20-bit limit, access byte (DESC_*), flags nibble.
#define SEG_DESC(base, limit, access, flags) \
    ((((uint64_t)(base) & 0xff000000u) << 32) | (((uint64_t)(flags) & 0xf) << 52) | \
     (((uint64_t)(limit) & 0xf0000u) << 32) | ((uint64_t)(access) << 40) | \
     (((uint64_t)(base) & 0x00ffffffu) << 16) | ((uint64_t)(limit) & 0xffffu))

// A 32-bit interrupt or trap gate: target selector:offset, type (DESC_T_*), DPL.
#define GATE_DESC(sel, off, type, dpl) \
    ((((uint64_t)(off) & 0xffff0000u) << 32) | \
     ((uint64_t)(DESC_P | DESC_DPL(dpl) | (type)) << 40) | \
     ((uint64_t)(sel) << 16) | ((uint64_t)(off) & 0xffffu))

// The 32-bit task state segment (SDM 3A §7.2.1). Only ss0:esp0 (the stack a trap from ring 3
// switches to) and iomb are used; iomb beyond the limit means no I/O permission bitmap.
struct taskstate {
    uint32_t link;
    uint32_t esp0;
    uint16_t ss0, pad0;
    uint32_t esp1;
    uint16_t ss1, pad1;
    uint32_t esp2;
    uint16_t ss2, pad2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, pad3, cs, pad4, ss, pad5, ds, pad6, fs, pad7, gs, pad8, ldt, pad9;
    uint16_t trap;
    uint16_t iomb;
} __attribute__((packed));

// A GDT or IDT register image, as lgdt/lidt read it.
struct pseudodesc {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

// ---- paging helpers ------------------------------------------------------------------------
typedef uint32_t pde_t;
typedef uint32_t pte_t;
#define PDX(va)         (((uint32_t)(va) >> PDXSHIFT) & 0x3ff)
#define PTX(va)         (((uint32_t)(va) >> PTXSHIFT) & 0x3ff)
#define PTE_ADDR(pte)   ((uint32_t)(pte) & ~0xfffu)
#define PTE_FLAGS(pte)  ((uint32_t)(pte) & 0xfffu)
#define PGROUNDUP(sz)   (((uint32_t)(sz) + PGSIZE - 1) & ~(uint32_t)(PGSIZE - 1))
#define PGROUNDDOWN(a)  ((uint32_t)(a) & ~(uint32_t)(PGSIZE - 1))

// ---- the trap frame: what the CPU, vectors.S and trapasm.S push (lowest address first) ----
struct trapframe {
    uint32_t edi, esi, ebp, oesp, ebx, edx, ecx, eax;   // pushal
    uint32_t gs, fs, es, ds;                            // pushed as 32-bit slots
    uint32_t trapno, err;                               // err is 0 if the CPU pushed none
    uint32_t eip, cs, eflags;                           // pushed by the CPU
    uint32_t esp, ss;                                   // only on entry from ring 3
};

// ---- instructions ----------------------------------------------------------------------------
static inline uint8_t inb(uint16_t port)
{ uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outb(uint16_t port, uint8_t v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

// Move cnt 32-bit words between a port and memory (ATA data transfers).
static inline void insl(uint16_t port, void *addr, int cnt)
{ __asm__ volatile("cld; rep insl" : "+D"(addr), "+c"(cnt) : "d"(port) : "memory", "cc"); }
static inline void outsl(uint16_t port, const void *addr, int cnt)
{ __asm__ volatile("cld; rep outsl" : "+S"(addr), "+c"(cnt) : "d"(port) : "cc"); }

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
// Enable interrupts and halt as one step: sti delays interrupts by one instruction, so an
// interrupt that arrives now wakes the hlt instead of slipping in before it.
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

// Atomically swap *addr and v; the old value (the lock instruction of spinlocks).
static inline uint32_t xchg(volatile uint32_t *addr, uint32_t v)
{ __asm__ volatile("lock; xchgl %0, %1" : "+m"(*addr), "+a"(v) : : "cc", "memory"); return v; }

static inline uint32_t readeflags(void)
{ uint32_t f; __asm__ volatile("pushfl; popl %0" : "=r"(f)); return f; }

static inline uint32_t rcr2(void)
{ uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void lcr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

static inline void lgdt(const struct pseudodesc *pd) { __asm__ volatile("lgdt %0" : : "m"(*pd)); }
static inline void lidt(const struct pseudodesc *pd) { __asm__ volatile("lidt %0" : : "m"(*pd)); }
static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" : : "r"(sel)); }

#endif // __ASSEMBLER__
#endif
