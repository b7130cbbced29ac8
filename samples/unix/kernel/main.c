// Boot: bring up memory, the MP-described interrupt hardware, the devices, then the first
// process, and become the scheduler. entry.S jumps here with the boot page directory on.
#include "defs.h"

extern char end[];                  // first address after the kernel (kernel.ld)
extern uint32_t mb_magic, mb_info;  // the multiboot handoff (entry.S)

uint32_t phystop = PHYSTOP;         // top of the physical memory the kernel uses

// MiB asked for by a "mem=N" word of the command line (N in MiB), or 0.
static uint32_t cmdline_mem(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & MB_INFO_CMDLINE) || !mbi->cmdline)
        return 0;
    if (mbi->cmdline >= ENTRYMAP)
        panic("multiboot command line out of reach (%x)", mbi->cmdline);
    const char *s = P2V(mbi->cmdline);
    uint32_t mib = 0;
    for (;;) {
        while (*s == ' ')
            s++;
        if (!*s)
            return mib;
        if (strncmp(s, "mem=", 4) == 0) {
            mib = 0;
            for (s += 4; *s >= '0' && *s <= '9'; s++)
                mib = mib * 10 + (*s - '0');
        }
        while (*s && *s != ' ')
            s++;
    }
}

// The loader must say how much memory there is: the kernel takes [0, phystop), 32 MiB or
// what the command line's mem= asks for (the memory workload's 200 MB process needs more).
static void check_multiboot(void)
{
    if (mb_magic != MB_BOOT_MAGIC)
        panic("not started by a multiboot loader (eax %x)", mb_magic);
    if (mb_info >= ENTRYMAP)
        panic("multiboot information out of reach (%x)", mb_info);
    const struct multiboot_info *mbi = P2V(mb_info);
    if (!(mbi->flags & MB_INFO_MEMORY))
        panic("multiboot loader gave no memory size");
    uint32_t mib = cmdline_mem(mbi);
    if (mib) {
        if (mib < (PHYSTOP >> 20) || mib > (PHYSMAX >> 20) || mib % 4)
            panic("mem=%d: want a multiple of 4 MiB from %d to %d", mib, PHYSTOP >> 20,
                  PHYSMAX >> 20);
        phystop = mib << 20;
    }
    if (EXTMEM + mbi->mem_upper * 1024u < phystop)
        panic("need %d MiB of memory, have %d", phystop >> 20, ((EXTMEM >> 10) + mbi->mem_upper) >> 10);
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
    kinit(P2V(ENTRYMAP), P2V(phystop));     // the rest of memory, now that it is mapped
    kinitdone();                            // the page allocator takes its lock from now on
    userinit();                             // the first process: will exec /init
    scheduler();                            // never returns
}
