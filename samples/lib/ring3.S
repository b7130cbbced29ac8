# Excursions to ring 3: ring3_call() irets into a function at CPL 3; when a trap handler
# decides the excursion is over it calls ring3_leave(tf) (ring3.c), whose iret lands on
# ring3_resume, and ring3_call returns. The caller must have loaded a TSS whose esp0 is a
# ring-0 stack (tss_init + ltr): every trap from ring 3 switches to it.
#include "lib.h"

.data
.align 4
ring3_kesp: .long 0

.text
.globl ring3_call, ring3_resume

# void ring3_call(void (*fn)(void), void *stack_top, uint32_t eflags)
ring3_call:
    pushfl                          # restored on the way back: IF as the caller had it
    pushal
    movl %esp, ring3_kesp
    movl 40(%esp), %eax             # fn (above 32 bytes of pushal, eflags, return address)
    movl 44(%esp), %ecx             # stack_top
    movl 48(%esp), %edx             # eflags
    movw $SEL_UDATA, %bx            # ring 3's data segments (iret would null ring-0 ones)
    movw %bx, %ds
    movw %bx, %es
    movw %bx, %fs
    movw %bx, %gs
    pushl $SEL_UDATA                # ss
    pushl %ecx                      # esp
    pushl %edx                      # eflags
    pushl $SEL_UCODE                # cs
    pushl %eax                      # eip
    iret

# Entered in ring 0 by the iret that ring3_leave() prepared, on the TSS's ring-0 stack.
ring3_resume:
    movl ring3_kesp, %esp
    popal
    popfl
    ret
