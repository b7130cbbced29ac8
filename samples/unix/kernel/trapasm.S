# Common trap entry and exit: save the interrupted context as a struct trapframe (x86.h),
# call trap(tf) with the kernel's data segments, then restore whatever *tf holds and iret.
# A new process starts at trapret too (proc.c builds a trap frame for it).
#include "x86.h"
#include "memlayout.h"

.text
.globl alltraps
alltraps:
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    pushal
    movw $(SEG_KDATA << SEL_INDEX_SHIFT), %ax   # user code may have left any selectors
    movw %ax, %ds
    movw %ax, %es
    pushl %esp                                  # trap(struct trapframe *tf)
    call trap
    addl $4, %esp

.globl trapret
trapret:
    popal
    popl %gs
    popl %fs
    popl %es
    popl %ds
    addl $8, %esp                               # trapno and err
    iret
