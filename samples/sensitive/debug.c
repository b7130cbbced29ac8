// Debug registers: mov to/from dr0-dr3, dr6, dr7. No breakpoint is enabled, so none fires.
#include "sensitive.h"

#define DR_TEST_BASE 0x11111110   // dr0..dr3 get BASE * (n + 1): distinct, recognisable

#define GET_DR(n, v) __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v))
#define SET_DR(n, v) __asm__ volatile("mov %0, %%dr" #n : : "r"(v))

void check_debug(void)
{
    uint32_t v[4];

    SET_DR(0, DR_TEST_BASE * 1);
    SET_DR(1, DR_TEST_BASE * 2);
    SET_DR(2, DR_TEST_BASE * 3);
    SET_DR(3, DR_TEST_BASE * 4);
    GET_DR(0, v[0]);
    GET_DR(1, v[1]);
    GET_DR(2, v[2]);
    GET_DR(3, v[3]);
    printf("mov dr0-dr3: read 0x%08x 0x%08x 0x%08x 0x%08x\n", v[0], v[1], v[2], v[3]);

    SET_DR(6, 0);
    GET_DR(6, v[0]);
    printf("mov dr6: wrote 0x00000000 read 0x%08x\n", v[0]);

    // LE and GE enable nothing on P6 and later; bit 10 always reads 1.
    SET_DR(7, DR7_LE | DR7_GE);
    GET_DR(7, v[0]);
    SET_DR(7, 0);
    GET_DR(7, v[1]);
    printf("mov dr7: wrote 0x%08x read 0x%08x, wrote 0 read 0x%08x\n", DR7_LE | DR7_GE, v[0],
           v[1]);
    for (int i = 0; i < 4; i++)
        v[i] = 0;
    SET_DR(0, v[0]);
    SET_DR(1, v[1]);
    SET_DR(2, v[2]);
    SET_DR(3, v[3]);
}
