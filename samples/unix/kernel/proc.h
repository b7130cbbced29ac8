// Processes, and the state of the one CPU this kernel runs on.
#ifndef UNIX_PROC_H
#define UNIX_PROC_H

#include <stdint.h>
#include "param.h"
#include "x86.h"

// Callee-saved registers of a kernel thread stopped in swtch(); esp is the struct's address.
struct context {
    uint32_t edi, esi, ebx, ebp;
    uint32_t eip;
};

enum procstate { UNUSED, EMBRYO, SLEEPING, RUNNABLE, RUNNING, ZOMBIE };

struct proc {
    uint32_t sz;                  // bytes of user memory, from virtual address 0
    pde_t *pgdir;                 // page directory
    char *kstack;                 // bottom of the kernel stack
    enum procstate state;
    int pid;
    struct proc *parent;
    struct trapframe *tf;         // trap frame of the current system call
    struct context *context;      // swtch() here to run the process
    void *chan;                   // if SLEEPING, what it waits for
    int killed;                   // kill() was called: exit at the next return to user
    int xstatus;                  // exit status, for the parent's wait()
    struct file *ofile[NOFILE];
    struct inode *cwd;
    char name[16];                // for trap messages
};

struct cpu {
    struct context *scheduler;    // swtch() here to enter the scheduler
    struct taskstate ts;          // esp0 = top of the running process's kernel stack
    struct proc *proc;            // the running process, or 0 in the scheduler
    int ncli;                     // depth of pushcli nesting
    int intena;                   // were interrupts enabled before the outermost pushcli?
    int apicid;                   // its local APIC's ID (lapicinit), which mycpu() checks
};

extern struct cpu cpu;

// A spinlock (cli.c). On this one CPU it never spins; it costs what an SMP kernel's does.
struct spinlock {
    volatile uint32_t locked;
    const char *name;             // for panics
    struct cpu *cpu;              // the holder
};

#endif
