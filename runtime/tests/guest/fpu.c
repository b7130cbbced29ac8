// The guest's x87 and SSE registers must survive exits: traps, hypercalls, timer
// interrupts, and runtime paths that use the C library (--trace prints on every exit).
#include "glib.h"

static uint32_t in[8][4], out[8][4];

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (int r = 0; r < 8; r++)
        for (int j = 0; j < 4; j++)
            in[r][j] = 0x01020304u * (uint32_t)(r + 1) + (uint32_t)j;
    __asm__ volatile(
        "movdqu 0(%0), %%xmm0\n movdqu 16(%0), %%xmm1\n movdqu 32(%0), %%xmm2\n"
        "movdqu 48(%0), %%xmm3\n movdqu 64(%0), %%xmm4\n movdqu 80(%0), %%xmm5\n"
        "movdqu 96(%0), %%xmm6\n movdqu 112(%0), %%xmm7\n"
        "fninit\n fld1\n fldpi\n" ::"r"(in) : "memory");
    for (int i = 0; i < 200; i++)                 // exits
        __asm__ volatile("outb %%al, $0x80" ::"a"(i));
    __asm__ volatile("cpuid" ::"a"(0) : "ebx", "ecx", "edx");
    uint32_t pi[2], one[2];
    __asm__ volatile(
        "movdqu %%xmm0, 0(%2)\n movdqu %%xmm1, 16(%2)\n movdqu %%xmm2, 32(%2)\n"
        "movdqu %%xmm3, 48(%2)\n movdqu %%xmm4, 64(%2)\n movdqu %%xmm5, 80(%2)\n"
        "movdqu %%xmm6, 96(%2)\n movdqu %%xmm7, 112(%2)\n"
        "fstpl %0\n fstpl %1\n" : "=m"(pi), "=m"(one) : "r"(out) : "memory");
    int ok = 1;
    for (int r = 0; r < 8; r++)
        for (int j = 0; j < 4; j++)
            ok &= in[r][j] == out[r][j];
    puts(ok ? "xmm0-7: kept\n" : "xmm0-7: CLOBBERED\n");
    puts(pi[1] == 0x400921fb && pi[0] == 0x54442d18 && one[1] == 0x3ff00000 && one[0] == 0
             ? "x87 stack: kept\n" : "x87 stack: CLOBBERED\n");
    return 0;
}
