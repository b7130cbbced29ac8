// The other half of ring3.S: end an excursion to ring 3 from a trap handler.
#include "lib.h"

void ring3_resume(void);

// Make the iret that ends this trap go to ring3_resume in ring 0 instead of back to ring 3.
// (An iret to the same privilege level pops no ESP/SS; ring3_resume restores the stack.)
void ring3_leave(struct trapframe *tf)
{
    tf->cs = SEL_KCODE;
    tf->eip = (uint32_t)ring3_resume;
    tf->eflags = FL_1;
    tf->ds = tf->es = tf->fs = tf->gs = SEL_KDATA;
}
