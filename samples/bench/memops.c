// Bulk memory: memset and memcpy over tens of MiB with `rep stosl` / `rep movsl`, the way an
// i386 kernel's own memset/memcpy do it. size = MiB per buffer (two buffers).
#include "work.h"

void *bench_memset(void *d, int c, size_t n)
{
    uint32_t v = (uint8_t)c * 0x01010101u;
    void *p = d;
    size_t words = n / 4;
    __asm__ volatile("rep stosl" : "+D"(p), "+c"(words) : "a"(v) : "memory");
    uint8_t *t = (uint8_t *)d + (n & ~(size_t)3);
    for (size_t i = 0; i < (n & 3); i++)
        t[i] = (uint8_t)c;
    return d;
}

void *bench_memcpy(void *d, const void *s, size_t n)
{
    void *p = d;
    const void *q = s;
    size_t words = n / 4;
    __asm__ volatile("rep movsl" : "+D"(p), "+S"(q), "+c"(words) : : "memory");
    const uint8_t *qs = (const uint8_t *)s + (n & ~(size_t)3);
    uint8_t *pd = (uint8_t *)d + (n & ~(size_t)3);
    for (size_t i = 0; i < (n & 3); i++)
        pd[i] = qs[i];
    return d;
}

static uint8_t *src, *dst;
static uint32_t len;

void memops_setup(uint32_t size)
{
    len = size << 20;
    src = plat_alloc(len);
    dst = plat_alloc(len);
    fill_random(src, len, 0x3e3c0b5u);
}

// One repetition moves 8 x 3 x size MiB: memset dst, then memcpy src into it 64 bytes in,
// eight times over.
uint32_t memops_rep(uint32_t rep)
{
    for (uint32_t pass = 0; pass < 8; pass++) {
        bench_memset(dst, (int)(rep * 7 + pass), len);
        bench_memcpy(dst + 64 + pass * 4, src, len - 64 - pass * 4);
    }
    uint32_t h = 0;
    for (uint32_t off = (rep * 4) % BENCH_PAGE; off < len; off += BENCH_PAGE)
        h = h * 31 + *(uint32_t *)(dst + off);
    for (uint32_t i = 0; i < 64; i += 4)
        h = h * 31 + *(uint32_t *)(dst + i);
    return h;
}
