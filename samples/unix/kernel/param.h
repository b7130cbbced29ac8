// Kernel table sizes, and the interrupt vectors this kernel assigns.
#ifndef UNIX_PARAM_H
#define UNIX_PARAM_H

#define NPROC        32     // processes
#define KSTACKSIZE   4096   // per-process kernel stack, and the boot stack
#define NOFILE       16     // open files per process
#define NFILE        64     // open files in the system
#define NINODE       32     // in-memory inodes
#define NDEV         4      // device drivers (major numbers)
#define NBUF         32     // disk block cache
#define ROOTDEV      1      // the disk holding the file system: IDE drive 1 (primary slave)
#define INPUT_BUF    4096   // console input bytes buffered before the UART is throttled
#define PIPESIZE     512    // bytes a pipe holds

// The local APIC timer counts TICR down at the APIC bus rate divided by TDCR. QEMU's bus runs
// at 1 GHz, so 10,000,000 with divide-by-1 is 100 Hz there. Nothing printed depends on it.
#define TIMER_COUNT  10000000

// Interrupt vectors: exceptions are 0-31, then the IRQs, then the system call (syscall.h).
#define T_IRQ0       32                       // first vector for device interrupts
#define T_TIMER      (T_IRQ0 + 0)             // local APIC timer
#define T_COM1       (T_IRQ0 + IRQ_COM1)      // IOAPIC input 4
#define T_IDE        (T_IRQ0 + IRQ_IDE)       // IOAPIC input 14
#define T_LAPIC_ERR  (T_IRQ0 + 19)            // local APIC error
#define T_SPURIOUS   (T_IRQ0 + 31)            // local APIC spurious (low nibble all ones)

#endif
