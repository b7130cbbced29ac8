// Every kernel function called from another file, grouped by the file that defines it.
#ifndef UNIX_DEFS_H
#define UNIX_DEFS_H

#include <stddef.h>
#include <stdint.h>
#include "x86.h"
#include "memlayout.h"
#include "param.h"
#include "fs.h"
#include "stat.h"
#include "proc.h"

struct buf;
struct file;
struct inode;
struct pipe;

// bio.c
void binit(void);
struct buf *bread(uint32_t dev, uint32_t blockno);
void bwrite(struct buf *b);
void brelse(struct buf *b);

// cga.c
void cgainit(void);
void cgaputc(int c);

// cli.c
struct cpu *mycpu(void);
struct proc *myproc(void);
void pushcli(void);
void popcli(void);
void initlock(struct spinlock *lk, const char *name);
int holding(struct spinlock *lk);
void acquire(struct spinlock *lk);
void release(struct spinlock *lk);

// console.c
void consoleinit(void);
void consputc(int c);
int consoleroom(void);
void consoleinput(int c);

// exec.c
int exec(const char *path, char **argv);

// file.c
struct file *filealloc(void);
struct file *filedup(struct file *f);
void fileclose(struct file *f);
int filestat(struct file *f, struct stat *st);
int fileread(struct file *f, char *dst, int n);
int filewrite(struct file *f, const char *src, int n);

// fs.c
void fsinit(uint32_t dev);
struct inode *ialloc(uint32_t dev, int16_t type);
void iupdate(struct inode *ip);
struct inode *idup(struct inode *ip);
void ilock(struct inode *ip);
void iunlock(struct inode *ip);
void iput(struct inode *ip);
void iunlockput(struct inode *ip);
void itrunc(struct inode *ip);
void stati(struct inode *ip, struct stat *st);
int readi(struct inode *ip, char *dst, uint32_t off, uint32_t n);
int writei(struct inode *ip, const char *src, uint32_t off, uint32_t n);
int namecmp(const char *s, const char *t);
struct inode *dirlookup(struct inode *dp, const char *name, uint32_t *poff);
int dirlink(struct inode *dp, const char *name, uint32_t inum);
struct inode *namei(const char *path);
struct inode *nameiparent(const char *path, char *name);

// halt.c
void halt(int code) __attribute__((noreturn));

// ide.c
void ideinit(void);
void ideintr(void);
void iderw(struct buf *b);

// ioapic.c
void ioapicinit(void);
void ioapicenable(int irq, int vec);

// kalloc.c
void kinit(void *vstart, void *vend);
void kfree(char *v);
char *kalloc(void);
void kinitdone(void);

// lapic.c
void lapicinit(void);
int lapicid(void);
void lapiceoi(void);

// main.c
extern uint32_t phystop;

// mp.c
extern uint32_t lapicpa, ioapicpa;
extern uint8_t ioapicid;
void mpinit(void);

// picirq.c
void picdisable(void);

// pipe.c
int pipealloc(struct file **f0, struct file **f1);
void pipeclose(struct pipe *p, int writable);
int piperead(struct pipe *p, char *dst, int n);
int pipewrite(struct pipe *p, const char *src, int n);

// printf.c
void cprintf(const char *fmt, ...);
void panic(const char *fmt, ...) __attribute__((noreturn));

// proc.c
void userinit(void);
int growproc(int n);
int fork(void);
void exit(int status) __attribute__((noreturn));
int wait(int *status);
void scheduler(void) __attribute__((noreturn));
void sched(void);
void yield(void);
void sleep(void *chan);
void sleeplk(void *chan, struct spinlock *lk);
void wakeup(void *chan);
int kill(int pid);

// seg.c
void seginit(void);
void tss_setesp0(uint32_t esp0);

// string.c
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int strncmp(const char *p, const char *q, size_t n);
char *strncpy(char *s, const char *t, size_t n);
char *safestrcpy(char *s, const char *t, int n);
size_t strlen(const char *s);

// swtch.S
void swtch(struct context **old, struct context *new);

// syscall.c
int fetchint(uint32_t addr, int *ip);
int fetchstr(uint32_t addr, char **pp);
int argint(int n, int *ip);
int argptr(int n, char **pp, int size);
int argstr(int n, char **pp);
void syscall(void);

// trap.c
extern uint32_t ticks;
extern struct spinlock tickslock;
void idtinit(void);

// uart.c
void uartinit(void);
void uartenable(void);
void uartputc(int c);
void uartintr(void);
void uartunthrottle(void);

// vm.c
pde_t *setupkvm(void);
void kvmalloc(void);
void switchkvm(void);
void switchuvm(struct proc *p);
int loaduvm(pde_t *pgdir, char *va, struct inode *ip, uint32_t offset, uint32_t sz);
uint32_t allocuvm(pde_t *pgdir, uint32_t oldsz, uint32_t newsz);
uint32_t deallocuvm(pde_t *pgdir, uint32_t oldsz, uint32_t newsz);
void freevm(pde_t *pgdir);
void clearpteu(pde_t *pgdir, char *uva);
pde_t *copyuvm(pde_t *pgdir, uint32_t sz);
int copyout(pde_t *pgdir, uint32_t va, const void *p, uint32_t len);

#endif
