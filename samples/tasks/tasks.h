// The tasks sample: two ring-3 tasks, a round-robin scheduler driven by the PIT, int $0x80.
#ifndef TASKS_H
#define TASKS_H

#include "lib.h"

#define NTASKS        2
#define ROUNDS        5
#define HZ            250
#define TASK_STACK    4096
#define SYSCALL_VECTOR 0x80

// System calls: number in EAX, argument in EBX.
#define SYS_ROUND     1   // report that this task has played round EBX
#define SYS_EXIT      2   // end this task

// What swtch() saves: callee-saved registers and the return address (lowest address first).
struct context {
    uint32_t edi, esi, ebx, ebp, eip;
};

enum task_state { UNUSED, RUNNABLE, EXITED };

struct task {
    char name;
    enum task_state state;
    struct context *ctx;      // where swtch() left its kernel stack
    uint32_t preemptions;     // timer interrupts that switched it out
    uint32_t rounds;
    uint8_t kstack[TASK_STACK] __attribute__((aligned(16)));
    uint8_t ustack[TASK_STACK] __attribute__((aligned(16)));
};

extern struct task tasks[NTASKS];
extern struct task *current;

void swtch(struct context **save, struct context *load);  // swtch.S
void trapret(void);                                        // lib/trapasm.S

void task_create(struct task *t, char name, void (*entry)(int), int arg);  // sched.c
void scheduler(void);                                                       // sched.c
void yield(void);                                                           // sched.c
void task_main(int me);                                                     // user.c (ring 3)
void on_syscall(struct trapframe *tf);                                      // syscall.c
#endif
