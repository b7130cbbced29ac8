// Tasks and the round-robin scheduler: the kernel runs with IF=0 throughout (interrupt gates),
// tasks run in ring 3 with IF=1 and lose the CPU only at a timer tick (yield) or at exit.
#include "tasks.h"

struct task tasks[NTASKS];
struct task *current;
static struct context *sched_ctx;

// A task's first run: swtch() "returns" into trapret, which irets to entry(arg) in ring 3
// on the task's user stack.
void task_create(struct task *t, char name, void (*entry)(int), int arg)
{
    uint32_t *usp = (uint32_t *)(t->ustack + TASK_STACK);
    *--usp = (uint32_t)arg;
    *--usp = 0;  // entry's return address: entry never returns

    struct trapframe *tf = (struct trapframe *)(t->kstack + TASK_STACK) - 1;
    memset(tf, 0, sizeof(*tf));
    tf->ds = tf->es = tf->fs = tf->gs = SEL_UDATA;
    tf->cs = SEL_UCODE;
    tf->eip = (uint32_t)entry;
    tf->eflags = FL_1 | FL_IF;
    tf->esp = (uint32_t)usp;
    tf->ss = SEL_UDATA;

    struct context *c = (struct context *)tf - 1;
    memset(c, 0, sizeof(*c));
    c->eip = (uint32_t)trapret;
    t->ctx = c;
    t->name = name;
    t->state = RUNNABLE;
}

// Run every runnable task in turn until none is left.
void scheduler(void)
{
    for (int ran = 1; ran;) {
        ran = 0;
        for (struct task *t = tasks; t < tasks + NTASKS; t++) {
            if (t->state != RUNNABLE)
                continue;
            current = t;
            tss_set_esp0((uint32_t)(t->kstack + TASK_STACK));
            swtch(&sched_ctx, t->ctx);
            current = 0;
            ran = 1;
        }
    }
}

// Give the CPU back to the scheduler; returns when this task is next picked.
void yield(void)
{
    swtch(&current->ctx, sched_ctx);
}
