// Processes: creation (the first one, fork), exit and wait, the scheduler, sleep and wakeup,
// kill. Process states change only with interrupts off (cli.c): interrupt handlers wake
// sleepers.
#include "defs.h"
#include "file.h"

struct cpu cpu;
static struct proc ptable[NPROC];
static struct proc *initproc;
static int nextpid = 1;

extern void trapret(void);   // trapasm.S
static void forkret(void);

// An UNUSED slot made EMBRYO, with a kernel stack laid out so that the first swtch() to it
// runs forkret() and then returns through trapret with the (still empty) trap frame:
//   top: [trap frame][address of trapret][context, eip = forkret]
static struct proc *allocproc(void)
{
    struct proc *p;
    pushcli();
    for (p = ptable; p < &ptable[NPROC]; p++)
        if (p->state == UNUSED)
            break;
    if (p == &ptable[NPROC]) {
        popcli();
        return 0;
    }
    p->state = EMBRYO;
    p->pid = nextpid++;
    popcli();

    if (!(p->kstack = kalloc())) {
        p->state = UNUSED;
        return 0;
    }
    char *sp = p->kstack + KSTACKSIZE;
    sp -= sizeof(*p->tf);
    p->tf = (struct trapframe *)sp;
    sp -= 4;
    *(uint32_t *)sp = (uint32_t)trapret;
    sp -= sizeof(*p->context);
    p->context = (struct context *)sp;
    memset(p->context, 0, sizeof(*p->context));
    p->context->eip = (uint32_t)forkret;
    return p;
}

// A trap frame that enters ring 3 at eip 0 with interrupts on; exec() fills in eip and esp.
static void usertf(struct trapframe *tf)
{
    memset(tf, 0, sizeof(*tf));
    tf->cs = (SEG_UCODE << SEL_INDEX_SHIFT) | DPL_USER;
    tf->ds = tf->es = tf->fs = tf->gs = tf->ss = (SEG_UDATA << SEL_INDEX_SHIFT) | DPL_USER;
    tf->eflags = FL_IF;
}

// The first process: no user memory yet. When it first runs, forkret() mounts the file
// system and execs /init in it.
void userinit(void)
{
    struct proc *p = allocproc();
    if (!p || !(p->pgdir = setupkvm()))
        panic("userinit: out of memory");
    initproc = p;
    p->sz = 0;
    usertf(p->tf);
    safestrcpy(p->name, "initproc", sizeof(p->name));
    p->state = RUNNABLE;
}

// A new process starts here, on its own kernel stack, from the scheduler (which has
// interrupts pushed off); it returns to trapret.
static void forkret(void)
{
    static int first = 1;
    popcli();
    if (first) {
        // The file system needs a process context: reading the disk sleeps.
        first = 0;
        fsinit(ROOTDEV);
        myproc()->cwd = namei("/");
        char *argv[] = { "init", 0 };
        if (exec("/init", argv) < 0)
            panic("cannot exec /init");
    }
}

// Grow or shrink the current process's memory by n bytes.
int growproc(int n)
{
    struct proc *p = myproc();
    uint32_t sz = p->sz;
    if (n > 0) {
        if (!(sz = allocuvm(p->pgdir, sz, sz + n)))
            return -1;
    } else if (n < 0) {
        sz = deallocuvm(p->pgdir, sz, sz + n);
    }
    p->sz = sz;
    switchuvm(p);   // reload CR3: the TLB may hold pages just unmapped
    return 0;
}

// A copy of the current process that returns 0 from the system call.
int fork(void)
{
    struct proc *cur = myproc(), *np = allocproc();
    if (!np)
        return -1;
    if (!(np->pgdir = copyuvm(cur->pgdir, cur->sz))) {
        kfree(np->kstack);
        np->kstack = 0;
        np->state = UNUSED;
        return -1;
    }
    np->sz = cur->sz;
    np->parent = cur;
    *np->tf = *cur->tf;
    np->tf->eax = 0;
    for (int i = 0; i < NOFILE; i++)
        if (cur->ofile[i])
            np->ofile[i] = filedup(cur->ofile[i]);
    np->cwd = idup(cur->cwd);
    safestrcpy(np->name, cur->name, sizeof(cur->name));
    int pid = np->pid;
    pushcli();
    np->state = RUNNABLE;
    popcli();
    return pid;
}

// Wake the processes sleeping on chan. Interrupts must be off.
static void wakeup1(void *chan)
{
    for (struct proc *p = ptable; p < &ptable[NPROC]; p++)
        if (p->state == SLEEPING && p->chan == chan)
            p->state = RUNNABLE;
}

// End the current process. It stays a ZOMBIE until its parent's wait() collects the status.
void exit(int status)
{
    struct proc *cur = myproc();
    if (cur == initproc)
        panic("init exiting");
    for (int fd = 0; fd < NOFILE; fd++)
        if (cur->ofile[fd]) {
            fileclose(cur->ofile[fd]);
            cur->ofile[fd] = 0;
        }
    iput(cur->cwd);
    cur->cwd = 0;

    pushcli();
    wakeup1(cur->parent);
    for (struct proc *p = ptable; p < &ptable[NPROC]; p++)   // orphans go to init
        if (p->parent == cur) {
            p->parent = initproc;
            if (p->state == ZOMBIE)
                wakeup1(initproc);
        }
    cur->xstatus = status;
    cur->state = ZOMBIE;
    sched();
    panic("zombie exit");
}

// Wait for a child to exit: its pid, and its status through *status if status is not 0.
// -1 if the process has no children (or is killed while waiting).
int wait(int *status)
{
    struct proc *cur = myproc();
    pushcli();
    for (;;) {
        int havekids = 0;
        for (struct proc *p = ptable; p < &ptable[NPROC]; p++) {
            if (p->parent != cur)
                continue;
            havekids = 1;
            if (p->state == ZOMBIE) {
                int pid = p->pid;
                if (status)
                    *status = p->xstatus;
                kfree(p->kstack);
                freevm(p->pgdir);
                memset(p, 0, sizeof(*p));   // state UNUSED
                popcli();
                return pid;
            }
        }
        if (!havekids || cur->killed) {
            popcli();
            return -1;
        }
        sleep(cur);   // exit() of a child wakes us
    }
}

// The scheduler: run each RUNNABLE process in turn, round robin, until it gives the CPU
// back through sched(). With nothing to run, wait for an interrupt.
void scheduler(void)
{
    for (;;) {
        int ran = 0;
        sti();      // let pending interrupts in between rounds
        pushcli();
        for (struct proc *p = ptable; p < &ptable[NPROC]; p++) {
            if (p->state != RUNNABLE)
                continue;
            ran = 1;
            cpu.proc = p;
            switchuvm(p);
            p->state = RUNNING;
            swtch(&cpu.scheduler, p->context);
            switchkvm();
            cpu.proc = 0;
        }
        if (ran) {
            popcli();
        } else {
            cpu.ncli = 0;   // what popcli would do, but enable and halt atomically
            sti_hlt();
        }
    }
}

// Give the CPU to the scheduler. Interrupts must be off, and the caller must have changed
// the state from RUNNING. The interrupt bookkeeping belongs to this thread: the scheduler's
// is its own (it holds one pushcli around swtch).
void sched(void)
{
    struct proc *p = myproc();
    if (readeflags() & FL_IF)
        panic("sched: interrupts on");
    if (p->state == RUNNING)
        panic("sched: running");
    int ncli = cpu.ncli, intena = cpu.intena;
    cpu.ncli = 1;
    swtch(&p->context, cpu.scheduler);
    cpu.ncli = ncli;
    cpu.intena = intena;
}

// Give up the CPU for one round (timer preemption).
void yield(void)
{
    pushcli();
    myproc()->state = RUNNABLE;
    sched();
    popcli();
}

// Sleep on chan until wakeup(chan). A caller whose condition an interrupt handler can change
// must have interrupts off (pushcli) from checking the condition until here, or the wakeup
// could come in between and be lost.
void sleep(void *chan)
{
    struct proc *p = myproc();
    if (!p)
        panic("sleep without a process");
    pushcli();
    p->chan = chan;
    p->state = SLEEPING;
    sched();
    p->chan = 0;
    popcli();
}

// Sleep on chan, releasing lk (held) for the sleep and holding it again after. Interrupts
// stay off from the release to the sleep, so a wakeup cannot come in between (one CPU).
void sleeplk(void *chan, struct spinlock *lk)
{
    pushcli();
    release(lk);
    sleep(chan);
    acquire(lk);
    popcli();
}

void wakeup(void *chan)
{
    pushcli();
    wakeup1(chan);
    popcli();
}

// Mark process pid killed: it exits the next time it returns to ring 3 (or leaves a sleep
// that checks for it).
int kill(int pid)
{
    pushcli();
    for (struct proc *p = ptable; p < &ptable[NPROC]; p++)
        if (p->pid == pid && p->state != UNUSED && p->state != ZOMBIE) {
            p->killed = 1;
            if (p->state == SLEEPING)
                p->state = RUNNABLE;
            popcli();
            return 0;
        }
    popcli();
    return -1;
}
