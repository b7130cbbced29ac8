# Sensitive-operation nanobenchmarks (after Adams & Agesen, ASPLOS 2006), guest kernel only.
# Each nano_OP(uint32_t n) performs the operation n times, 16 per loop iteration (n is a
# multiple of 16), and preserves the callee-saved registers. The loop branch and counter are
# part of every figure (about one cycle per 16 operations natively).
#include "lib.h"
#include "probe.h"

.text

# The loop around 16 copies of the body between LOOP and END_LOOP; %ecx is the counter.
.macro LOOP
    movl 4(%esp), %ecx
    shrl $4, %ecx
    jz 9f
8:
.endm
.macro END_LOOP
    subl $1, %ecx
    jnz 8b
9:
.endm

.globl nano_cli
nano_cli:
    LOOP
    .rept 16
    cli
    .endr
    END_LOOP
    sti
    ret

.globl nano_sti
nano_sti:
    LOOP
    .rept 16
    sti
    .endr
    END_LOOP
    ret

# pushf (its pop into a register is not sensitive)
.globl nano_pushf
nano_pushf:
    LOOP
    .rept 16
    pushfl
    popl %eax
    .endr
    END_LOOP
    ret

# popf of the current flags (IF=1); the push of a register is not sensitive
.globl nano_popf
nano_popf:
    pushfl
    popl %edx
    LOOP
    .rept 16
    pushl %edx
    popfl
    .endr
    END_LOOP
    ret

# in from COM1's line status register (what every polled console reads)
.globl nano_in
nano_in:
    movw $(COM1 + UART_LSR), %dx
    LOOP
    .rept 16
    inb %dx, %al
    .endr
    END_LOOP
    ret

# in from the master PIC's interrupt mask register (0x21): a read with no side effect whose
# value changes only when the guest writes it
.globl nano_inimr
nano_inimr:
    LOOP
    .rept 16
    inb $0x21, %al
    .endr
    END_LOOP
    ret

# out to port 0x80 (the POST port; Linux's outb_p delay)
.globl nano_out
nano_out:
    xorl %eax, %eax
    LOOP
    .rept 16
    outb %al, $0x80
    .endr
    END_LOOP
    ret

# CR3 write of the current page directory (a full TLB flush)
.globl nano_cr3
nano_cr3:
    movl %cr3, %eax
    LOOP
    .rept 16
    movl %eax, %cr3
    .endr
    END_LOOP
    ret

# A read of the local APIC's ID register (0xFEE00020, mapped by kernel.c): what an SMP
# kernel's spinlocks and per-CPU lookups do (xv6's mycpu()). A device register, so under ring1
# a host fault each, until a profile makes the instruction a hypercall (docs/exits.md).
.globl nano_mmio
nano_mmio:
    LOOP
    .rept 16
    movl 0xfee00020, %eax
    .endr
    END_LOOP
    ret

# A read of a not-present page: #PF, delivered to the guest's handler, which skips the read
# (kernel.c: the probe table names it) and irets.
.globl nano_pgfault
nano_pgfault:
    movl $nano_np_page, %edx
    LOOP
    .rept 16
    PROBE pgfault, movl (%edx), %eax
    .endr
    END_LOOP
    ret

# divide by zero: #DE, handler skips the div and irets
.globl nano_divzero
nano_divzero:
    pushl %ebx
    xorl %ebx, %ebx
    movl 8(%esp), %ecx
    shrl $4, %ecx
    jz 9f
8:
    .rept 16
    movl $1, %eax
    xorl %edx, %edx
    PROBE divzero, divl %ebx
    .endr
    END_LOOP
    popl %ebx
    ret

# PTE modification: point nano_pte_page at the other frame, invlpg, read through it
.globl nano_ptemod
nano_ptemod:
    pushl %ebx
    pushl %esi
    pushl %edi
    movl nano_pte, %edx
    movl nano_pte_a, %eax
    movl nano_pte_b, %ebx
    movl $nano_pte_page, %esi
    movl 16(%esp), %ecx
    shrl $4, %ecx
    jz 9f
8:
    .rept 16
    movl %eax, (%edx)
    invlpg (%esi)
    movl (%esi), %edi
    xchgl %eax, %ebx
    .endr
    END_LOOP
    popl %edi
    popl %esi
    popl %ebx
    ret

# System call round trips, from ring 3 (kernel.c's nano_syscall puts these loops there with
# ring3_call); int $0x81 ends the excursion.
#   syscall       int $0x80: the kernel's common trap path (vectors.S, alltraps: save registers
#                 and segments, C dispatch to an empty handler, restore, iret), as a kernel does
#   syscall_bare  int $0x82: an interrupt gate whose handler is a lone iret
.macro USER_LOOP name, vec
.globl nano_user_\name
nano_user_\name:
    movl nano_user_n, %ecx
    shrl $4, %ecx
    jz 9f
8:
    .rept 16
    int $\vec
    .endr
    END_LOOP
1:  int $0x81
    jmp 1b
.endm
USER_LOOP syscall, 0x80
USER_LOOP syscall_bare, 0x82

# syscall_stub: a C library's stub, `mov $nr, %eax; int $0x80`, 16 of them, run from a copy in
# a page of the kernel's heap (kernel.c): user code outside the kernel's image, as a real
# program's is, which ring1 patches at run time when hot (runtime/usergate.c). Position-
# independent; nano_user_syscall_stub_end ends what is copied.
.globl nano_user_syscall_stub, nano_user_syscall_stub_end
nano_user_syscall_stub:
    movl nano_user_n, %ecx
    shrl $4, %ecx
    jz 9f
8:
    .rept 16
    movl $0, %eax
    int $0x80
    .endr
    END_LOOP
1:  int $0x81
    jmp 1b
nano_user_syscall_stub_end:

.globl nano_sys_entry
nano_sys_entry:
    iret

.section .note.GNU-stack, "", @progbits
