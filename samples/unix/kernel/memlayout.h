// The kernel's map of memory and of the GDT.
//
// Virtual address space of every process:
//   [0, KERNBASE)                   user text, data, guard page, stack, heap (sbrk)
//   [KERNBASE, KERNBASE+phystop)    all of physical memory [0, phystop): the kernel, its
//                                   pages, the BIOS area and CGA text memory below 1 MiB
//   the local APIC and IOAPIC pages at their physical addresses (found in the MP table)
#ifndef UNIX_MEMLAYOUT_H
#define UNIX_MEMLAYOUT_H

#define EXTMEM   0x00100000             // Start of extended memory: where the kernel is loaded
#define PHYSTOP  0x02000000             // Top of the physical memory used by default (32 MiB)
#define PHYSMAX  0x40000000             // ... and at most (1 GiB; the command line's mem=)
#define KERNBASE 0x80000000             // Physical address 0 is mapped here
#define KERNLINK (KERNBASE + EXTMEM)    // Where the kernel is linked
#define ENTRYMAP 0x00400000             // entry.S's page directory maps [0, 4 MiB) twice

#define V2P_WO(x) ((x) - KERNBASE)      // V2P without casts, for assembly and link scripts

#ifndef __ASSEMBLER__
#define V2P(a) ((uint32_t)(a) - KERNBASE)
#define P2V(a) ((void *)((char *)(a) + KERNBASE))
#endif

// GDT slots (seg.c). A selector is slot << SEL_INDEX_SHIFT | RPL.
#define SEG_KCODE 1   // flat 4 GiB, ring 0, code
#define SEG_KDATA 2   // flat 4 GiB, ring 0, data and stack
#define SEG_UCODE 3   // flat 4 GiB, ring 3, code
#define SEG_UDATA 4   // flat 4 GiB, ring 3, data and stack
#define SEG_TSS   5   // the one TSS
#define NSEGS     6

#endif
