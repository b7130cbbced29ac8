// System call dispatch, and fetching arguments from the user stack. A system call's
// arguments are where a cdecl call left them: at esp+4, esp+8, ... in the trap frame's esp.
// Every user address is checked against the process's size before the kernel touches it.
#include "defs.h"
#include "syscall.h"

// Fetch the int at user address addr.
int fetchint(uint32_t addr, int *ip)
{
    struct proc *p = myproc();
    if (addr >= p->sz || addr + 4 > p->sz || addr + 4 < addr)
        return -1;
    *ip = *(int *)addr;
    return 0;
}

// Point *pp at the NUL-terminated string at user address addr: its length, or -1.
int fetchstr(uint32_t addr, char **pp)
{
    struct proc *p = myproc();
    if (addr >= p->sz)
        return -1;
    *pp = (char *)addr;
    for (char *s = *pp, *e = (char *)p->sz; s < e; s++)
        if (*s == 0)
            return s - *pp;
    return -1;
}

// The n'th argument, as an int.
int argint(int n, int *ip)
{
    return fetchint(myproc()->tf->esp + 4 + 4 * n, ip);
}

// The n'th argument, as a pointer to size bytes of user memory.
int argptr(int n, char **pp, int size)
{
    int i;
    struct proc *p = myproc();
    if (argint(n, &i) < 0)
        return -1;
    if (size < 0 || (uint32_t)i >= p->sz || (uint32_t)i + size > p->sz ||
        (uint32_t)i + size < (uint32_t)i)
        return -1;
    *pp = (char *)i;
    return 0;
}

// The n'th argument, as a NUL-terminated string.
int argstr(int n, char **pp)
{
    int addr;
    if (argint(n, &addr) < 0)
        return -1;
    return fetchstr(addr, pp);
}

extern int sys_fork(void), sys_exit(void), sys_wait(void), sys_pipe(void), sys_read(void),
    sys_kill(void), sys_exec(void), sys_fstat(void), sys_chdir(void), sys_dup(void),
    sys_getpid(void), sys_sbrk(void), sys_sleep(void), sys_uptime(void), sys_open(void),
    sys_write(void), sys_halt(void), sys_unlink(void), sys_link(void), sys_mkdir(void),
    sys_close(void);

static int (*const syscalls[])(void) = {
    [SYS_fork] = sys_fork,     [SYS_exit] = sys_exit,     [SYS_wait] = sys_wait,
    [SYS_pipe] = sys_pipe,     [SYS_read] = sys_read,     [SYS_kill] = sys_kill,
    [SYS_exec] = sys_exec,     [SYS_fstat] = sys_fstat,   [SYS_chdir] = sys_chdir,
    [SYS_dup] = sys_dup,       [SYS_getpid] = sys_getpid, [SYS_sbrk] = sys_sbrk,
    [SYS_sleep] = sys_sleep,   [SYS_uptime] = sys_uptime, [SYS_open] = sys_open,
    [SYS_write] = sys_write,   [SYS_halt] = sys_halt,     [SYS_unlink] = sys_unlink,
    [SYS_link] = sys_link,     [SYS_mkdir] = sys_mkdir,   [SYS_close] = sys_close,
};
#define NSYSCALLS (int)(sizeof(syscalls) / sizeof(syscalls[0]))

void syscall(void)
{
    struct proc *p = myproc();
    int num = p->tf->eax;
    if (num > 0 && num < NSYSCALLS && syscalls[num]) {
        p->tf->eax = syscalls[num]();
    } else {
        cprintf("pid %d %s: unknown system call %d\n", p->pid, p->name, num);
        p->tf->eax = -1;
    }
}
