// Traps: the IDT, and trap(), where every exception, interrupt and system call arrives.
#include "defs.h"
#include "syscall.h"

static uint64_t idt[256];
extern uint32_t vectors[];      // vectors.S
uint32_t ticks;                 // timer interrupts since boot
struct spinlock tickslock;      // guards ticks

void idtinit(void)
{
    initlock(&tickslock, "ticks");
    for (int i = 0; i < 256; i++)
        idt[i] = GATE_DESC(SEG_KCODE << SEL_INDEX_SHIFT, vectors[i], DESC_T_INTGATE, 0);
    // The system call: reachable from ring 3, and a trap gate, so interrupts stay on.
    idt[T_SYSCALL] = GATE_DESC(SEG_KCODE << SEL_INDEX_SHIFT, vectors[T_SYSCALL],
                               DESC_T_TRAPGATE, DPL_USER);
    struct pseudodesc pd = { sizeof(idt) - 1, (uint32_t)idt };
    lidt(&pd);
}

static int from_user(const struct trapframe *tf)
{
    return (tf->cs & SEL_RPL_MASK) == DPL_USER;
}

void trap(struct trapframe *tf)
{
    struct proc *p = myproc();

    if (tf->trapno == T_SYSCALL) {
        if (p->killed)
            exit(-1);
        p->tf = tf;
        syscall();
        if (p->killed)
            exit(-1);
        return;
    }

    switch (tf->trapno) {
    case T_TIMER:
        acquire(&tickslock);
        ticks++;
        wakeup(&ticks);
        release(&tickslock);
        lapiceoi();
        break;
    case T_IDE:
        ideintr();
        lapiceoi();
        break;
    case T_COM1:
        uartintr();
        lapiceoi();
        break;
    case T_LAPIC_ERR:
        cprintf("lapic: error interrupt\n");
        lapiceoi();
        break;
    case T_SPURIOUS:            // not an interrupt: no EOI
        break;
    default:
        if (!p || !from_user(tf))
            panic("trap %d err %x at eip %x (cr2 %x)", tf->trapno, tf->err, tf->eip, rcr2());
        // A user program misbehaved: kill it.
        cprintf("pid %d %s: trap %d err %x at eip %x addr %x: killed\n",
                p->pid, p->name, tf->trapno, tf->err, tf->eip, rcr2());
        p->killed = 1;
    }

    // Only a process interrupted in ring 3 is preempted or made to exit here: kernel code
    // is never preempted (cli.c).
    if (p && from_user(tf)) {
        if (p->killed)
            exit(-1);
        if (tf->trapno == T_TIMER)
            yield();
        if (p->killed)
            exit(-1);
    }
}
