// x86 hardware facts the runtime emulates: bit constants (one comment each), exception
// vectors, descriptor formats, MSR numbers. Nothing else in runtime/ spells a raw bit.
// Reference: Intel SDM vol. 3A (system programming), vol. 2 (instruction set).
#ifndef RING1_X86_H
#define RING1_X86_H

#include <stdint.h>

// ---- EFLAGS (SDM 3A §2.3) ------------------------------------------------------------------
#define FL_CF           0x00000001u  // Carry
#define FL_1            0x00000002u  // Reserved, always 1
#define FL_PF           0x00000004u  // Parity
#define FL_AF           0x00000010u  // Auxiliary carry
#define FL_ZF           0x00000040u  // Zero
#define FL_SF           0x00000080u  // Sign
#define FL_TF           0x00000100u  // Trap (single step)
#define FL_IF           0x00000200u  // Interrupt enable
#define FL_DF           0x00000400u  // Direction
#define FL_OF           0x00000800u  // Overflow
#define FL_IOPL         0x00003000u  // I/O privilege level field
#define FL_IOPL_SHIFT   12
#define FL_NT           0x00004000u  // Nested task
#define FL_RF           0x00010000u  // Resume
#define FL_VM           0x00020000u  // Virtual-8086 mode
#define FL_AC           0x00040000u  // Alignment check
#define FL_VIF          0x00080000u  // Virtual interrupt flag (VME/PVI)
#define FL_VIP          0x00100000u  // Virtual interrupt pending
#define FL_ID           0x00200000u  // CPUID available
#define FL_ARITH        (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
// Bits a 32-bit popf/iret may ever change (the rest are reserved).
#define FL_WRITABLE     (FL_ARITH | FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT | FL_RF | FL_VM | \
                         FL_AC | FL_VIF | FL_VIP | FL_ID)

// ---- control registers (SDM 3A §2.5) -------------------------------------------------------
#define CR0_PE          0x00000001u  // Protection enable
#define CR0_MP          0x00000002u  // Monitor coprocessor
#define CR0_EM          0x00000004u  // FPU emulation
#define CR0_TS          0x00000008u  // Task switched
#define CR0_ET          0x00000010u  // Extension type (hardwired 1)
#define CR0_NE          0x00000020u  // Native FPU error reporting
#define CR0_WP          0x00010000u  // Write protect in ring 0
#define CR0_AM          0x00040000u  // Alignment mask
#define CR0_NW          0x20000000u  // Not write-through
#define CR0_CD          0x40000000u  // Cache disable
#define CR0_PG          0x80000000u  // Paging
#define CR0_LMSW_MASK   0x0000000fu  // Bits lmsw writes (PE can only be set)

#define CR4_VME         0x00000001u  // Virtual-8086 mode extensions
#define CR4_PVI         0x00000002u  // Protected-mode virtual interrupts
#define CR4_TSD         0x00000004u  // rdtsc privileged
#define CR4_DE          0x00000008u  // Debugging extensions
#define CR4_PSE         0x00000010u  // 4 MiB pages
#define CR4_PAE         0x00000020u  // Physical address extension
#define CR4_MCE         0x00000040u  // Machine check enable
#define CR4_PGE         0x00000080u  // Global pages
#define CR4_PCE         0x00000100u  // rdpmc in ring 3
#define CR4_OSFXSR      0x00000200u  // OS supports fxsave/fxrstor
#define CR4_OSXMMEXCPT  0x00000400u  // OS handles #XM

#define DR6_FIXED1      0xffff0ff0u  // DR6 bits that read 1
#define DR6_BS          0x00004000u  // Single step
#define DR7_FIXED1      0x00000400u  // DR7 bit 10 reads 1

// ---- paging, 32-bit non-PAE (SDM 3A §4.3) --------------------------------------------------
#define PTE_P           0x001u       // Present
#define PTE_W           0x002u       // Writable
#define PTE_U           0x004u       // User may access
#define PTE_PWT         0x008u       // Write-through
#define PTE_PCD         0x010u       // Cache disable
#define PTE_A           0x020u       // Accessed
#define PTE_D           0x040u       // Dirty
#define PTE_PS          0x080u       // PDE: 4 MiB page (CR4.PSE)
#define PTE_G           0x100u       // Global (CR4.PGE)
#define PTE_ADDR        0xfffff000u  // Frame address in a PTE or PDE
#define PDE_ADDR_4M     0xffc00000u  // Frame address in a 4 MiB PDE
#define PGSIZE          0x1000u
#define PGSHIFT         12
#define PGSIZE_4M       0x400000u
#define PDX(va)         (((uint32_t)(va) >> 22) & 0x3ff)
#define PTX(va)         (((uint32_t)(va) >> 12) & 0x3ff)
#define PFERR_P            0x1u         // #PF error: protection violation (else not present)
#define PFERR_W            0x2u         // #PF error: write
#define PFERR_U            0x4u         // #PF error: user mode (CPL 3)
#define PFERR_I            0x10u        // #PF error: instruction fetch

// ---- selectors and descriptors (SDM 3A §3.4-3.5, §6.11) ------------------------------------
#define SEL_RPL         0x3u         // Requested privilege level
#define SEL_TI          0x4u         // Table indicator: LDT
#define SEL_INDEX(s)    ((uint32_t)(s) >> 3)

// Access byte (descriptor bits 40-47).
#define DESC_A          0x01u        // Accessed
#define DESC_RW         0x02u        // Code: readable; data: writable
#define DESC_DC         0x04u        // Code: conforming; data: expand-down
#define DESC_X          0x08u        // Executable
#define DESC_S          0x10u        // Code/data (clear: system)
#define DESC_DPL_SHIFT  5
#define DESC_DPL(a)     (((a) >> 5) & 3)
#define DESC_P          0x80u        // Present
#define DESC_TYPE(a)    ((a) & 0x0fu)
// System descriptor types (DESC_S clear).
#define DESC_T_TSS16    0x1u         // Available 16-bit TSS
#define DESC_T_LDT      0x2u         // LDT
#define DESC_T_TSS16B   0x3u         // Busy 16-bit TSS
#define DESC_T_CALL16   0x4u         // 16-bit call gate
#define DESC_T_TASKGATE 0x5u         // Task gate
#define DESC_T_INT16    0x6u         // 16-bit interrupt gate
#define DESC_T_TRAP16   0x7u         // 16-bit trap gate
#define DESC_T_TSS      0x9u         // Available 32-bit TSS
#define DESC_T_TSS_BUSY 0xbu         // Busy 32-bit TSS
#define DESC_T_CALL     0xcu         // 32-bit call gate
#define DESC_T_INTGATE  0xeu         // 32-bit interrupt gate
#define DESC_T_TRAPGATE 0xfu         // 32-bit trap gate
// Flags nibble (bits 52-55).
#define DESC_F_AVL      0x1u         // Available to software
#define DESC_F_L        0x2u         // 64-bit code
#define DESC_F_DB       0x4u         // 32-bit default size
#define DESC_F_G        0x8u         // Limit in 4 KiB units

// 32-bit TSS fields (SDM 3A §7.2.1).
#define TSS_ESP0        4
#define TSS_SS0         8
#define TSS_IOMAP       102
#define TSS_MIN_LIMIT   103

// ---- exception vectors (SDM 3A §6.3) -------------------------------------------------------
#define T_DE   0   // Divide error
#define T_DB   1   // Debug
#define T_NMI  2   // Non-maskable interrupt
#define T_BP   3   // Breakpoint
#define T_OF   4   // Overflow
#define T_BR   5   // Bound range
#define T_UD   6   // Invalid opcode
#define T_NM   7   // Device not available
#define T_DF   8   // Double fault
#define T_TS   10  // Invalid TSS
#define T_NP   11  // Segment not present
#define T_SS   12  // Stack fault
#define T_GP   13  // General protection
#define T_PF   14  // Page fault
#define T_MF   16  // x87 error
#define T_AC   17  // Alignment check
#define T_MC   18  // Machine check
#define T_XM   19  // SIMD exception
#define T_HAS_ERR(v) ((v) == T_DF || ((v) >= T_TS && (v) <= T_PF) || (v) == T_AC)
// Contributory exceptions for the double-fault rules (SDM 3A Table 6-5).
#define T_CONTRIBUTORY(v) ((v) == T_DE || ((v) >= T_TS && (v) <= T_GP))

// ---- model-specific registers (SDM 4) ------------------------------------------------------
#define MSR_TSC           0x00000010u  // Time-stamp counter
#define MSR_PLATFORM_ID   0x00000017u  // Platform ID
#define MSR_APIC_BASE     0x0000001bu  // Local APIC base
#define MSR_UCODE_REV     0x0000008bu  // BIOS update signature (microcode revision)
#define MSR_MTRRCAP       0x000000feu  // MTRR capabilities
#define MSR_SYSENTER_CS   0x00000174u  // sysenter CS
#define MSR_SYSENTER_ESP  0x00000175u  // sysenter ESP
#define MSR_SYSENTER_EIP  0x00000176u  // sysenter EIP
#define MSR_MCG_CAP       0x00000179u  // Machine-check capabilities
#define MSR_MCG_STATUS    0x0000017au  // Machine-check status
#define MSR_PERF_STATUS   0x00000198u  // Performance status
#define MSR_MISC_ENABLE   0x000001a0u  // Misc. feature enables
#define MSR_PAT           0x00000277u  // Page attribute table
#define MSR_MTRR_DEF_TYPE 0x000002ffu  // Default memory type
#define MSR_MTRR_PHYS     0x00000200u  // Variable-range MTRRs: base 2n, mask 2n+1 (n < 8)
#define MSR_MTRR_FIX64K   0x00000250u  // Fixed-range MTRRs: 64K at 0,
#define MSR_MTRR_FIX16K   0x00000258u  // 16K at 0x80000, 0xA0000 (two),
#define MSR_MTRR_FIX4K    0x00000268u  // 4K at 0xC0000 ... 0xF8000 (eight)
#define MSR_STAR          0xc0000081u  // SYSCALL target (absent on this CPU model)
#define MSR_EFER          0xc0000080u  // Extended features (absent on this CPU model)
#define APIC_BASE_BSP     0x00000100u  // Bootstrap processor
#define APIC_BASE_EN      0x00000800u  // APIC enabled
#define APIC_BASE_DEFAULT 0xfee00000u  // Reset base address

#endif
