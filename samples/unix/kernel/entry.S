# Multiboot header and kernel entry: turn on paging with a temporary page directory that maps
# the first 4 MiB at both 0 and KERNBASE, switch to the boot stack, and jump to main() at its
# link address (0x801xxxxx).
#
# The loader enters at _start, a *physical* address, in flat 32-bit protected mode with paging
# off (Multiboot §3.2): EAX = MB_BOOT_MAGIC, EBX = physical address of the information structure.
#include "x86.h"
#include "memlayout.h"
#include "param.h"

#define MB_FLAGS MB_MEMORY_INFO

.section .multiboot, "a"
.p2align 2
.long MB_HEADER_MAGIC
.long MB_FLAGS
.long -(MB_HEADER_MAGIC + MB_FLAGS)

.text
.globl _start
_start = V2P_WO(entry)

.globl entry
entry:
    cld
    movl %eax, V2P_WO(mb_magic)         # paging is off: store through physical addresses
    movl %ebx, V2P_WO(mb_info)

    movl %cr4, %eax                     # 4 MiB pages for entrypgdir
    orl $CR4_PSE, %eax
    movl %eax, %cr4
    movl $V2P_WO(entrypgdir), %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP), %eax
    movl %eax, %cr0

    movl $(stack + KSTACKSIZE), %esp    # from here on, the link addresses work
    movl $main, %eax
    jmp *%eax                           # an indirect jump: a direct one would be PC-relative

.data
.globl mb_magic, mb_info
mb_magic: .long 0
mb_info:  .long 0

# The boot page directory: [0, 4 MiB) at virtual 0 (the code above runs there until the jump)
# and at KERNBASE (everything after it). main() replaces it with 4 KiB page tables (vm.c).
.p2align 12
.globl entrypgdir
entrypgdir:
    .long PTE_P | PTE_W | PTE_PS                        # [0, 4 MiB) -> 0
    .fill (KERNBASE >> PDXSHIFT) - 1, 4, 0
    .long PTE_P | PTE_W | PTE_PS                        # [KERNBASE, +4 MiB) -> 0
    .fill NPDENTRIES - (KERNBASE >> PDXSHIFT) - 1, 4, 0

.bss
.p2align 4
.globl stack
stack:
    .space KSTACKSIZE
