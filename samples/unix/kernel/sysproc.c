// Process system calls: fork exit wait kill getpid sbrk sleep uptime halt.
#include "defs.h"

int sys_fork(void)
{
    return fork();
}

int sys_exit(void)
{
    int status;
    if (argint(0, &status) < 0)
        status = -1;
    exit(status);
    return 0;   // not reached
}

int sys_wait(void)
{
    char *status;
    int addr;
    if (argint(0, &addr) < 0)
        return -1;
    if (addr == 0)
        status = 0;
    else if (argptr(0, &status, sizeof(int)) < 0)
        return -1;
    return wait((int *)status);
}

int sys_kill(void)
{
    int pid;
    if (argint(0, &pid) < 0)
        return -1;
    return kill(pid);
}

int sys_getpid(void)
{
    return myproc()->pid;
}

// Grow (or shrink) memory by n bytes: the old end, where the new bytes start.
int sys_sbrk(void)
{
    int n;
    if (argint(0, &n) < 0)
        return -1;
    int addr = myproc()->sz;
    if (growproc(n) < 0)
        return -1;
    return addr;
}

// Sleep for n timer ticks.
int sys_sleep(void)
{
    int n;
    if (argint(0, &n) < 0)
        return -1;
    acquire(&tickslock);   // ticks changes in the timer interrupt: check and sleep as one
    uint32_t ticks0 = ticks;
    while (ticks - ticks0 < (uint32_t)n) {
        if (myproc()->killed) {
            release(&tickslock);
            return -1;
        }
        sleeplk(&ticks, &tickslock);
    }
    release(&tickslock);
    return 0;
}

// Timer ticks since boot.
int sys_uptime(void)
{
    acquire(&tickslock);
    uint32_t t = ticks;
    release(&tickslock);
    return t;
}

// Stop the machine (under QEMU: exit with status 1, a success).
int sys_halt(void)
{
    cprintf("unix: halt\n");
    halt(0);
    return 0;   // not reached
}
