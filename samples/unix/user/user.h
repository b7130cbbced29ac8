// The interface user programs see: system calls (usys.S) and the small C library.
#ifndef UNIX_USER_H
#define UNIX_USER_H

#include <stddef.h>
#include <stdint.h>
#include "fcntl.h"
#include "stat.h"
#include "syscall.h"

// System calls (usys.S).
int fork(void);
void exit(int status) __attribute__((noreturn));
int wait(int *status);              // a child's pid; its exit status in *status if not 0
int pipe(int fd[2]);
int write(int fd, const void *buf, int n);
int read(int fd, void *buf, int n);
int close(int fd);
int kill(int pid);
int exec(const char *path, char **argv);
int open(const char *path, int omode);
int unlink(const char *path);
int fstat(int fd, struct stat *st);
int link(const char *old, const char *new);
int mkdir(const char *path);
int chdir(const char *path);
int dup(int fd);
int getpid(void);
char *sbrk(int n);
int sleep(int ticks);
int uptime(void);
int halt(void);

// ulib.c
int stat(const char *path, struct stat *st);
char *strcpy(char *dst, const char *src);
int strcmp(const char *p, const char *q);
int strncmp(const char *p, const char *q, size_t n);
size_t strlen(const char *s);
char *strchr(const char *s, int c);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
char *gets(char *buf, int max);
int atoi(const char *s);

// printf.c: %d %u %x %s %c %%, with an optional width
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// umalloc.c
void *malloc(size_t n);
void free(void *p);

#endif
