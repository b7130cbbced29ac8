// The rewrite's patched ranges and the repair of copies of them (patched.h).
//
// Finding copies: every range gets a fingerprint, 8 bytes of the patched image that a copy of
// it must contain: its first 8 bytes when it is that long (a trampoline jump: `jmp rel32` to
// its own trampoline, so no two ranges share one), else the 8 bytes that end where it ends
// (context before it) and the 8 that start where it starts (context after it) -- a short range
// (an `int3` trap site, a 5-byte jump) copied with at least 8 - len bytes of what surrounds it
// in the kernel is found. A frame is scanned at every byte offset: a bit filter answers most
// offsets, a hash table the rest, and a candidate counts only if its whole fingerprint and
// range match. Matches are collected first and repaired after, so that repairing one range
// cannot hide a neighbour's context.
#include "patched.h"

#include <stdlib.h>
#include <string.h>

#define FP_LEN 8
#define PAGE 4096u

struct range {
    uint32_t home, vaddr, len;
    uint32_t bytes;        // patched[len] then orig[len] at blob + bytes
};

struct key {
    uint64_t fp;
    uint32_t range;        // index + 1 (0: empty slot)
    uint32_t delta;        // range start - fingerprint start
};

static struct range *ranges;
static unsigned nranges, cap_ranges;
static uint8_t *blob;
static size_t blob_len, blob_cap;

struct pending { uint64_t fp; uint32_t range, delta; };
static struct pending *pend;
static unsigned npend, cap_pend;

static struct key *table;
static uint32_t table_mask;
#define FILTER_BITS 20
static uint8_t filter[(1u << FILTER_BITS) / 8];

static void *grow(void *p, unsigned *cap, unsigned need, size_t size)
{
    if (need <= *cap)
        return p;
    unsigned n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(p, (size_t)n * size);
    if (!q)
        abort();   // set-up time, a few MB at most
    *cap = n;
    return q;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t hash(uint64_t fp)
{
    return fp * 0x9e3779b97f4a7c15ull;
}

static void add_key(uint64_t fp, uint32_t range, uint32_t delta)
{
    pend = grow(pend, &cap_pend, npend + 1, sizeof *pend);
    pend[npend++] = (struct pending){fp, range, delta};
}

void patched_add(uint32_t home, uint32_t vaddr, const uint8_t *orig, uint32_t len,
                 const uint8_t *seg, uint32_t seg_pa, uint32_t seg_len)
{
    uint32_t at = home - seg_pa;
    if (!len || at > seg_len || len > seg_len - at)
        return;
    if (blob_len + 2 * (size_t)len > blob_cap) {
        size_t n = blob_cap ? blob_cap * 2 : 4096;
        while (n < blob_len + 2 * (size_t)len)
            n *= 2;
        uint8_t *b = realloc(blob, n);
        if (!b)
            abort();
        blob = b;
        blob_cap = n;
    }
    memcpy(blob + blob_len, seg + at, len);
    memcpy(blob + blob_len + len, orig, len);
    ranges = grow(ranges, &cap_ranges, nranges + 1, sizeof *ranges);
    ranges[nranges++] = (struct range){home, vaddr, len, (uint32_t)blob_len};
    blob_len += 2 * (size_t)len;
    uint32_t r = nranges;   // index + 1
    if (len >= FP_LEN) {
        add_key(load64(seg + at), r, 0);
        return;
    }
    if (at + len >= FP_LEN)                       // context before
        add_key(load64(seg + at + len - FP_LEN), r, FP_LEN - len);
    if ((uint64_t)at + FP_LEN <= seg_len)         // context after
        add_key(load64(seg + at), r, 0);
}

void patched_index(void)
{
    free(table);
    table = NULL;
    memset(filter, 0, sizeof filter);
    if (!npend)
        return;
    uint32_t size = 64;
    while (size < 2 * npend)
        size *= 2;
    table = calloc(size, sizeof *table);
    if (!table)
        abort();
    table_mask = size - 1;
    for (unsigned i = 0; i < npend; i++) {
        uint64_t h = hash(pend[i].fp);
        uint32_t f = (uint32_t)(h >> (64 - FILTER_BITS));
        filter[f >> 3] |= (uint8_t)(1u << (f & 7));
        uint32_t s = (uint32_t)(h >> 32) & table_mask;
        while (table[s].range)
            s = (s + 1) & table_mask;
        table[s] = (struct key){pend[i].fp, pend[i].range, pend[i].delta};
    }
}

bool patched_any(void)
{
    return nranges != 0;
}

unsigned patched_repair(uint8_t *f, uint32_t frame_pa)
{
    if (!table)
        return 0;
    enum { MAX_HITS = 512 };   // a page holds at most 4096 / 8 non-overlapping fingerprints
    struct hit { uint32_t at, range; } hit[MAX_HITS];
    unsigned nhit = 0;
    for (uint32_t o = 0; o + FP_LEN <= PAGE; o++) {
        uint64_t fp = load64(f + o), h = hash(fp);
        uint32_t b = (uint32_t)(h >> (64 - FILTER_BITS));
        if (!(filter[b >> 3] & (1u << (b & 7))))
            continue;
        for (uint32_t s = (uint32_t)(h >> 32) & table_mask; table[s].range;
             s = (s + 1) & table_mask) {
            const struct key *k = &table[s];
            if (k->fp != fp)
                continue;
            const struct range *r = &ranges[k->range - 1];
            uint32_t at = o + k->delta;
            if (at + r->len > PAGE || frame_pa + at == r->home)
                continue;   // cut off by the page's end, or the range itself
            if (r->len > FP_LEN && memcmp(f + at + FP_LEN, blob + r->bytes + FP_LEN,
                                          r->len - FP_LEN))
                continue;
            bool dup = false;
            for (unsigned i = 0; i < nhit; i++)
                dup |= hit[i].at == at && hit[i].range == k->range - 1;
            if (!dup && nhit < MAX_HITS)
                hit[nhit++] = (struct hit){at, k->range - 1};
        }
    }
    for (unsigned i = 0; i < nhit; i++) {
        const struct range *r = &ranges[hit[i].range];
        memcpy(f + hit[i].at, blob + r->bytes + r->len, r->len);
    }
    return nhit;
}

bool patched_explain(uint32_t at, bool (*read)(void *ctx, uint32_t lin, uint8_t *buf,
                                               unsigned len),
                     void *ctx, uint32_t *copy, uint32_t *site)
{
    uint8_t buf[256];
    for (unsigned i = 0; i < nranges; i++) {
        const struct range *r = &ranges[i];
        const uint8_t *p = blob + r->bytes;
        if (r->len < 5 || r->len > sizeof buf || p[0] != 0xe9)
            continue;   // not a trampoline jump
        uint32_t rel;
        memcpy(&rel, p + 1, 4);
        uint32_t target = r->vaddr + 5 + rel, c = r->vaddr + (at - target);
        if (c == r->vaddr || !read(ctx, c, buf, r->len) || memcmp(buf, p, r->len))
            continue;
        *copy = c;
        *site = r->vaddr;
        return true;
    }
    return false;
}
