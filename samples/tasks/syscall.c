// int $0x80 from the tasks: SYS_ROUND reports progress, SYS_EXIT ends the task.
#include "tasks.h"

void on_syscall(struct trapframe *tf)
{
    struct task *t = current;
    switch (tf->eax) {
    case SYS_ROUND: {
        // The trap frame must sit on this task's own kernel stack (the TSS's esp0).
        int own = (uint8_t *)tf >= t->kstack && (uint8_t *)tf < t->kstack + TASK_STACK;
        t->rounds++;
        printf("task %c: round %u from cs=0x%04x, frame on its own kernel stack: %s\n",
               t->name, tf->ebx, tf->cs, own ? "yes" : "no");
        break;
    }
    case SYS_EXIT:
        t->state = EXITED;
        yield();  // never resumes
        break;
    default:
        printf("task %c: bad system call %u\n", t->name, tf->eax);
        qemu_exit(EXIT_UNEXPECTED_TRAP);
    }
}
