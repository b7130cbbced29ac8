// Interrupt disabling and spinlocks, as an SMP kernel has them (after xv6's spinlock.c).
//
// pushcli/popcli nest; popcli restores the interrupt flag the outermost pushcli found. On
// one CPU, holding interrupts off is what really excludes interrupt handlers; the spinlocks
// (acquire/release) guard the tables an SMP kernel would lock (ticks, the console, the IDE
// queue, the buffer and inode caches, the file table, the page allocator), and they do the
// work an SMP kernel's locks do: every pushcli, popcli, acquire, release and holding() asks
// mycpu() which CPU it runs on, and mycpu() reads the local APIC's ID register (one MMIO
// read: the cost real kernels pay, which a hypervisor must make cheap). A process in the
// kernel is never preempted (trap.c yields only on interrupts from ring 3); it gives up the
// CPU only by sleeping, and what must stay held across a sleep is marked busy (B_BUSY,
// I_BUSY). No spinlock is held across a sleep: sleeplk() releases it.
#include "defs.h"

// This CPU, found by its local APIC ID as an SMP kernel finds it. Interrupts must be off (a
// process could otherwise move to another CPU between the read and the use).
struct cpu *mycpu(void)
{
    if (readeflags() & FL_IF)
        panic("mycpu called with interrupts enabled");
    int id = lapicid();
    if (id != cpu.apicid)
        panic("mycpu: unknown apic id %d", id);
    return &cpu;
}

// The running process (0 in the scheduler), read with interrupts off.
struct proc *myproc(void)
{
    pushcli();
    struct proc *p = mycpu()->proc;
    popcli();
    return p;
}

void pushcli(void)
{
    uint32_t eflags = readeflags();
    cli();
    struct cpu *c = mycpu();
    if (c->ncli++ == 0)
        c->intena = eflags & FL_IF;
}

void popcli(void)
{
    if (readeflags() & FL_IF)
        panic("popcli: interrupts enabled");
    struct cpu *c = mycpu();
    if (--c->ncli < 0)
        panic("popcli: not pushed");
    if (c->ncli == 0 && c->intena)
        sti();
}

void initlock(struct spinlock *lk, const char *name)
{
    lk->name = name;
    lk->locked = 0;
    lk->cpu = 0;
}

// Does this CPU hold lk?
int holding(struct spinlock *lk)
{
    pushcli();
    int r = lk->locked && lk->cpu == mycpu();
    popcli();
    return r;
}

void acquire(struct spinlock *lk)
{
    pushcli();   // interrupts off while held: a handler taking lk would spin forever
    if (holding(lk))
        panic("acquire %s: already held", lk->name);
    while (xchg(&lk->locked, 1) != 0)
        ;
    __sync_synchronize();
    lk->cpu = mycpu();
}

void release(struct spinlock *lk)
{
    if (!holding(lk))
        panic("release %s: not held", lk->name);
    lk->cpu = 0;
    __sync_synchronize();
    __asm__ volatile("movl $0, %0" : "+m"(lk->locked) : : "memory");
    popcli();
}
