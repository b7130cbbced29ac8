// The driver both builds share: parse the command line, run one workload (or every one, for
// `check`, or a nano loop), print markers. The markers carry nothing time-dependent; the
// benchmark runner (bench/run.py) timestamps their arrival from outside, which treats every
// machine alike (a guest's rdtsc is virtual under ring1 and under QEMU).
#include "work.h"

// size: default per repetition (in the file's unit); check_size: for `check` (and the tests).
const struct workload workloads[] = {
    {"coremark",   2000, 20, coremark_setup,   coremark_rep},    // iterations
    {"sha256",        8,  1, sha256_setup,     sha256_rep},      // MiB hashed
    {"matmul",      384, 24, matmul_setup,     matmul_rep},      // N (N x N doubles)
    {"memops",       32,  1, memops_setup,     memops_rep},      // MiB per buffer
    {"pagetouch",    64,  2, pagetouch_setup,  pagetouch_rep},   // MiB region
    {"demandpage",   32,  1, demandpage_setup, demandpage_rep},  // MiB region
    {0, 0, 0, 0, 0},
};

// ---- output: one plat_write per call (a line is usually one call) --------------------------
void out_str(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    plat_write(s, n);
}

void out_hex(uint32_t v)
{
    char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
    plat_write(b, 8);
}

void out_dec(uint32_t v)
{
    char b[10];
    int n = 10;
    do {
        b[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    plat_write(b + n, (size_t)(10 - n));
}

// ---- command line ---------------------------------------------------------------------------
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// The value of word "key=value" (copied into buf, at most len-1 chars), or 0 if absent.
static const char *arg(const char *cmdline, const char *key, char *buf, size_t len)
{
    const char *s = cmdline;
    while (*s) {
        while (is_space(*s))
            s++;
        const char *k = key;
        const char *w = s;
        while (*k && *w == *k)
            k++, w++;
        if (!*k && (*w == '=' || (*w == 0 || is_space(*w)))) {
            size_t n = 0;
            if (*w == '=')
                for (w++; *w && !is_space(*w) && n + 1 < len; w++)
                    buf[n++] = *w;
            buf[n] = 0;
            return buf;
        }
        while (*s && !is_space(*s))
            s++;
    }
    return 0;
}

static uint32_t number(const char *s, uint32_t dflt)
{
    if (!s || !*s)
        return dflt;
    uint32_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint32_t)(*s - '0');
    return v;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static const struct workload *find(const char *name)
{
    for (const struct workload *w = workloads; w->name; w++)
        if (streq(w->name, name))
            return w;
    return 0;
}

// ---- modes ----------------------------------------------------------------------------------
static int run(const struct workload *w, uint32_t size, uint32_t reps)
{
    out_str("bench ");
    out_str(w->name);
    out_str(" size=");
    out_dec(size);
    out_str("\n");
    w->setup(size);
    out_str("@0\n");
    for (uint32_t i = 1; i <= reps; i++) {
        uint32_t c = w->rep(i);
        out_str("@");
        out_dec(i);
        out_str(" ");
        out_hex(c);
        out_str("\n");
    }
    out_str("done\n");
    return 0;
}

// Batch k (from 1) runs 1024 << (k - 1) operations; the runner stops us when a batch is long
// enough and takes (time of batch k - time of batch k-1) / (ops of k - ops of k-1).
static int nano(const char *op)
{
    void (*fn)(uint32_t) = 0;
    if (streq(op, "callret"))
        fn = nano_callret;
    else if (!plat_nano(op, &fn)) {
        out_str("nano: unknown operation ");
        out_str(op);
        out_str("\n");
        return 2;
    }
    out_str("nano ");
    out_str(op);
    out_str("\n@0 0\n");
    for (uint32_t k = 1; k <= 22; k++) {
        uint32_t n = 1024u << (k - 1);
        fn(n);
        out_str("@");
        out_dec(k);
        out_str(" ");
        out_dec(n);
        out_str("\n");
    }
    out_str("done\n");
    return 0;
}

static int check(void)
{
    static const uint8_t abc[3] = {'a', 'b', 'c'};
    uint8_t d[32];
    out_str("bench check\nsha256(abc) ");
    sha256(abc, 3, d);
    for (int i = 0; i < 32; i += 4)
        out_hex((uint32_t)d[i] << 24 | (uint32_t)d[i + 1] << 16 | (uint32_t)d[i + 2] << 8 | d[i + 3]);
    out_str("\n");
    for (const struct workload *w = workloads; w->name; w++) {
        w->setup(w->check_size);
        for (uint32_t i = 1; i <= 2; i++) {
            uint32_t c = w->rep(i);
            out_str(w->name);
            out_str(" size=");
            out_dec(w->check_size);
            out_str(" rep ");
            out_dec(i);
            out_str(": ");
            out_hex(c);
            out_str("\n");
        }
    }
    out_str("done\n");
    return 0;
}

static int nanocheck(void)
{
    out_str("bench nanocheck\n");
    nano_callret(64);
    out_str("nano callret ok\n");
    for (const char *const *op = plat_nano_ops; *op; op++) {
        void (*fn)(uint32_t) = 0;
        plat_nano(*op, &fn);
        fn(64);
        out_str("nano ");
        out_str(*op);
        out_str(" ok\n");
    }
    out_str("done\n");
    return 0;
}

int bench_main(const char *cmdline)
{
    char name[32], val[16];
    if (arg(cmdline, "run", name, sizeof name)) {
        const struct workload *w = find(name);
        if (!w) {
            out_str("bench: unknown workload ");
            out_str(name);
            out_str("\n");
            return 2;
        }
        uint32_t size = number(arg(cmdline, "size", val, sizeof val), w->size);
        uint32_t reps = number(arg(cmdline, "reps", val, sizeof val), 5);
        return run(w, size, reps);
    }
    if (arg(cmdline, "nano", name, sizeof name))
        return nano(name);
    if (arg(cmdline, "check", name, sizeof name))
        return check();
    if (arg(cmdline, "nanocheck", name, sizeof name))
        return nanocheck();
    out_str("bench: say run=WORKLOAD [reps=R] [size=S], nano=OP, check or nanocheck\n");
    return 2;
}

// ---- shared helpers -------------------------------------------------------------------------
uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

void fill_random(void *p, size_t bytes, uint32_t seed)
{
    uint32_t *w = p;
    uint32_t s = seed ? seed : 1;
    for (size_t i = 0; i < bytes / 4; i++)
        w[i] = xorshift32(&s);
}
