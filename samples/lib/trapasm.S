# Common trap entry and exit: save the interrupted context as a struct trapframe (lib.h),
# call trap(tf) with kernel data segments, then restore whatever the handler left in *tf.
#include "lib.h"

.text
.globl alltraps
alltraps:
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    pushal
    movw $SEL_KDATA, %ax            # the interrupted code may have had any data segments
    movw %ax, %ds
    movw %ax, %es
    pushl %esp
    call trap
    addl $4, %esp

.globl trapret
trapret:
    popal
    popl %gs
    popl %fs
    popl %es
    popl %ds
    addl $8, %esp                   # trapno and err
    iret
