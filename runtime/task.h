// Hardware task switching (SDM 3A §7.3; the order of checks and effects is QEMU's, the
// reference machine): far jmp/call to a TSS or a task gate, interrupts and exceptions through
// a task gate in the IDT, and iret with EFLAGS.NT set.
#ifndef RING1_TASK_H
#define RING1_TASK_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

enum task_source { TASK_JMP, TASK_IRET, TASK_CALL };   // CALL: also an interrupt's task gate

// Switch to the task that sel/d name: a TSS descriptor or a task gate (d as read from its
// table; gate privilege is the caller's to check). next_eip is the old task's EIP to save
// (an original address). With has_err, err is pushed on the new task's stack (an exception
// through a task gate). Returns 0 when done -- a fault raised once the new task's state is
// loaded has been delivered in the new task -- or -1 with the fault recorded (v->exc) that
// stopped the switch before anything changed.
int task_switch(struct vcpu *v, uint16_t sel, uint64_t d, enum task_source src,
                uint32_t next_eip, bool has_err, uint32_t err);

#endif
