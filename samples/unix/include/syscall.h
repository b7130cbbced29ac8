// The system-call contract between the kernel and user programs: the vector, the numbers
// and the limits both sides must agree on. A user program puts the number in EAX, its
// arguments on its stack (cdecl) and executes `int $T_SYSCALL`; the result comes back in EAX.
#ifndef UNIX_SYSCALL_H
#define UNIX_SYSCALL_H

#define T_SYSCALL  64   // the syscall vector: a DPL-3 trap gate

#define SYS_fork    1
#define SYS_exit    2
#define SYS_wait    3
#define SYS_pipe    4
#define SYS_read    5
#define SYS_kill    6
#define SYS_exec    7
#define SYS_fstat   8
#define SYS_chdir   9
#define SYS_dup    10
#define SYS_getpid 11
#define SYS_sbrk   12
#define SYS_sleep  13
#define SYS_uptime 14
#define SYS_open   15
#define SYS_write  16
#define SYS_halt   17   // end the machine through QEMU's isa-debug-exit port
#define SYS_unlink 18
#define SYS_link   19
#define SYS_mkdir  20
#define SYS_close  21

#define MAXARG     16   // most arguments exec accepts
#define MAXPATH   128   // longest path name

#endif
