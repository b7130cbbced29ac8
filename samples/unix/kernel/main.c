// Boot: bring up memory, the MP-described interrupt hardware, the devices, then the first
// process, and become the scheduler. entry.S jumps here with the boot page directory on.
#include "defs.h"

extern char end[];                  // first address after the kernel (kernel.ld)
extern uint32_t mb_magic, mb_info;  // the multiboot handoff (entry.S)

// The loader must say how much memory there is: the kernel takes [0, PHYSTOP).
static void check_multiboot(void)
{
    if (mb_magic != MB_BOOT_MAGIC)
        panic("not started by a multiboot loader (eax %x)", mb_magic);
    if (mb_info >= ENTRYMAP)
        panic("multiboot information out of reach (%x)", mb_info);
    const struct multiboot_info *mbi = P2V(mb_info);
    if (!(mbi->flags & MB_INFO_MEMORY))
        panic("multiboot loader gave no memory size");
    if (EXTMEM + mbi->mem_upper * 1024u < PHYSTOP)
        panic("need %d MiB of memory, have %d", PHYSTOP >> 20, ((EXTMEM >> 10) + mbi->mem_upper) >> 10);
}

void main(void)
{
    consoleinit();                          // COM1 (polled output) and CGA
    cprintf("unix: booting\n");
    check_multiboot();
    kinit(end, P2V(ENTRYMAP));              // pages the boot page directory already maps
    mpinit();                               // the MP table: local APIC, IOAPIC (or refuse)
    kvmalloc();                             // the kernel's own 4 KiB page tables
    seginit();                              // GDT and TSS
    idtinit();                              // IDT: exceptions, IRQs, the syscall gate
    picdisable();                           // 8259A: everything masked; APIC mode
    lapicinit();                            // local APIC and its periodic timer
    ioapicinit();                           // every IOAPIC input masked
    uartenable();                           // COM1 receive interrupts -> IOAPIC input 4
    binit();                                // buffer cache
    ideinit();                              // IDE drive 1 -> IOAPIC input 14
    kinit(P2V(ENTRYMAP), P2V(PHYSTOP));     // the rest of memory, now that it is mapped
    userinit();                             // the first process: will exec /init
    scheduler();                            // never returns
}
