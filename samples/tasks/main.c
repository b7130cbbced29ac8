// tasks: two ring-3 tasks entering the kernel by int $0x80 on their own kernel stacks (TSS
// esp0), preempted by a PIT-driven round-robin scheduler. Each task reports only on its own
// turn and the kernel summarizes at the end, so nothing depends on when the ticks fall.
#include "tasks.h"

static void on_tick(struct trapframe *tf)
{
    pic_eoi(IRQ_PIT);
    if (current && (tf->cs & SEL_RPL_MASK) == 3) {  // only ring 3 is preemptible
        current->preemptions++;
        yield();
    }
}

int main(void)
{
    trap_register(IRQ_BASE + IRQ_PIT, on_tick);
    trap_register(SYSCALL_VECTOR, on_syscall);
    idt_set_gate(SYSCALL_VECTOR, DESC_T_INTGATE, 3);
    tss_init(&gdt[SEG_TSS], (uint32_t)(tasks[0].kstack + TASK_STACK));
    ltr(SEL_TSS);

    task_create(&tasks[0], 'A', task_main, 0);
    task_create(&tasks[1], 'B', task_main, 1);
    printf("tasks: %d tasks, %d rounds each, PIT %u Hz\n", NTASKS, ROUNDS, HZ);

    pit_periodic(HZ);
    pic_unmask(IRQ_PIT);
    scheduler();
    pic_mask(IRQ_PIT);

    // Every handoff but the last needs the spinning task to be preempted.
    for (int i = 0; i < NTASKS; i++)
        printf("task %c: exited after %u rounds, preempted at least %d times: %s\n",
               tasks[i].name, tasks[i].rounds, ROUNDS - 1,
               tasks[i].preemptions >= ROUNDS - 1 ? "yes" : "no");
    printf("tasks: done\n");
    return 0;
}
