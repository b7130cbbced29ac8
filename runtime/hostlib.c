// The C library's string and memory functions the runtime calls while a guest runs, in
// versions that touch general registers only.
//
// The guest's x87/SSE/AVX registers stay live in the CPU while the runtime handles an exit
// (lazy FPU switching, vcpu.c host_fpu_begin): the runtime is compiled with
// -mgeneral-regs-only, and these definitions take the place of glibc's vectorised ones for
// every call the runtime makes (an executable's definitions come first in symbol lookup).
// Anything else in the C library that may use vector registers (stdio, qsort, malloc) is
// called only after host_fpu_begin().
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    void *r = d;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return r;
}

void *memmove(void *d, const void *s, size_t n)
{
    if ((uintptr_t)d - (uintptr_t)s >= n)
        return memcpy(d, s, n);
    void *r = d;
    const char *sp = (const char *)s + n - 1;
    char *dp = (char *)d + n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(dp), "+S"(sp), "+c"(n) : : "memory");
    return r;
}

void *memset(void *d, int c, size_t n)
{
    void *r = d;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

char *strcpy(char *restrict d, const char *restrict s)
{
    char *r = d;
    while ((*d++ = *s++))
        ;
    return r;
}
