# Multiboot v1 header and kernel entry: own stack, own GDT, then C main() and debug-exit.
#
# The multiboot loader leaves us in flat 32-bit protected mode with its own (unknown) GDT and
# no valid stack (Multiboot spec §3.2), so the first job is to stop depending on both.
#include "lib.h"

#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO)

.section .multiboot, "a"
.align 4
.long MB_HEADER_MAGIC
.long MB_FLAGS
.long -(MB_HEADER_MAGIC + MB_FLAGS)

.text
.globl _start
_start:
    cld
    movl $kstack_top, %esp
    movl %eax, mb_magic
    movl %ebx, mb_info

    lgdt gdt_pd
    ljmp $SEL_KCODE, $1f            # reload CS from our GDT
1:  movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss

    call uart_init
    call idt_init
    call pic_init                   # all IRQs masked until a sample opens one
    call main
    pushl %eax
    call qemu_exit                  # does not return

.data
.align 4
.globl mb_magic, mb_info
mb_magic: .long 0
mb_info:  .long 0

.bss
.align 16
.globl kstack_top
    .space KSTACK_SIZE
kstack_top:
