// Microbenchmark guest: repeat one sensitive instruction N times. The command line is
// "<path> KIND N" with KIND one of out, cli, nop; ring1-run --stats times the run, and the
// difference between N and 0 iterations is the per-instruction cost (trap, hypercall or
// inline translation, depending on how the image was rewritten).
#include "glib.h"

static const char *word(const char *s, int n)
{
    while (n--) {
        while (*s && *s != ' ')
            s++;
        while (*s == ' ')
            s++;
    }
    return s;
}

static uint32_t number(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    const char *kind = word(cmd, 1);
    uint32_t n = number(word(cmd, 2));
    if (kind[0] == 'o') {
        for (uint32_t i = 0; i < n; i++)
            __asm__ volatile("outb %%al, $0x80" ::"a"(0));
    } else if (kind[0] == 'c') {
        for (uint32_t i = 0; i < n; i++)
            __asm__ volatile("cli");
    } else {
        for (uint32_t i = 0; i < n; i++)
            __asm__ volatile("nop");
    }
    puts("done\n");
    return 0;
}
