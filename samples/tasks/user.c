// Ring-3 task code: two tasks take turns through a shared variable. Neither ever yields, so
// each handoff needs the timer to preempt the task that is spinning: without preemption the
// run hangs (and the test's timeout says so); with it the output order is fixed.
#include "tasks.h"

static volatile int turn;  // whose round it is: 0 or 1

static void sys(uint32_t num, uint32_t arg)
{
    __asm__ volatile("int %0" : : "i"(SYSCALL_VECTOR), "a"(num), "b"(arg) : "memory");
}

void task_main(int me)
{
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        while (turn != me)
            ;
        sys(SYS_ROUND, round);
        turn = !me;
    }
    sys(SYS_EXIT, 0);
}
