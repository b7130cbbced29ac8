// The Linux platform of the benchmarks (bench-native): a static 32-bit program with no C
// library (this machine has no 32-bit libc; gcc-multilib is not needed), linked from the same
// workload objects as the guest kernel. System calls go through int $0x80.
#include "work.h"

#define NR_write     4
#define NR_mmap      90    // old_mmap: one pointer to the six arguments
#define NR_madvise   219
#define PROT_RW      3
#define MAP_PRIVATE_ANON 0x22
#define MADV_DONTNEED 4
#define MADV_NOHUGEPAGE 15

static long sys3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

void plat_write(const char *s, size_t n)
{
    while (n) {
        long r = sys3(NR_write, 1, (long)s, (long)n);
        if (r <= 0)
            return;
        s += r;
        n -= (size_t)r;
    }
}

// Anonymous memory in 4 KiB pages, like the guest's (no transparent huge pages).
void *plat_alloc(size_t bytes)
{
    uint32_t args[6] = {0, ((uint32_t)bytes + BENCH_PAGE - 1) & ~(BENCH_PAGE - 1), PROT_RW,
                        MAP_PRIVATE_ANON, (uint32_t)-1, 0};
    long p = sys3(NR_mmap, (long)args, 0, 0);
    if ((unsigned long)p >= (unsigned long)-4095) {
        out_str("bench: mmap failed\n");
        sys3(252, 3, 0, 0);
    }
    sys3(NR_madvise, p, (long)args[1], MADV_NOHUGEPAGE);
    return (void *)p;
}

// MADV_DONTNEED on private anonymous memory: the next touch faults in a zero-filled page.
void plat_zap(void *p, size_t bytes)
{
    sys3(NR_madvise, (long)p, (long)bytes, MADV_DONTNEED);
}

const char *const plat_nano_ops[] = {0};

int plat_nano(const char *op, void (**fn)(uint32_t))
{
    (void)op;
    (void)fn;
    return 0;
}

int native_main(int argc, char **argv)
{
    static char line[512];
    size_t n = 0;  // the words, one space apart
    for (int i = 1; i < argc; i++) {
        for (const char *s = argv[i]; *s && n + 2 < sizeof line; s++)
            line[n++] = *s;
        line[n++] = ' ';
    }
    line[n] = 0;
    return bench_main(line);
}
