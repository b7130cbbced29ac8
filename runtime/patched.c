// The rewrite's patched ranges and the repair of copies of them (patched.h).
//
// Finding copies: every range gets a fingerprint, 8 bytes of the patched image that a copy of
// it must contain: its first 8 bytes when it is that long, else the 8 bytes that end where it
// ends (context before it) and the 8 that start where it starts (context after it), so that a
// short range copied with at least 8 - len bytes of what surrounds it is found. A trampoline
// jump's fingerprints (its `jmp rel32` names its own trampoline: nothing else has those
// bytes) are looked for in a whole frame when it is first executed: a bit filter answers most
// offsets, a hash table the rest, and a candidate counts only if its whole fingerprint and
// range match; matches are collected first and repaired after, so that repairing one range
// cannot hide a neighbour's context. An int3 trap site's fingerprint is mostly code and int3,
// which padding between functions also is: it is compared only where an int3 runs that is no
// trap site (patched_trap_copy).
#include "patched.h"

#include <stdlib.h>
#include <string.h>

#define FP_LEN 8
#define PAGE 4096u

struct range {
    uint32_t home, vaddr, len;
    uint32_t bytes;        // patched[len] then orig[len] at blob + bytes
    uint64_t fp_before, fp_after;   // the fingerprints (below); a short range's may be absent
    uint64_t fo_before, fo_after;   // an int3 site's with the code around it original (its
    bool has_before, has_after;     // neighbours' copies already repaired), int3 kept
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
                 const uint8_t *seg, const uint8_t *seg_orig, uint32_t seg_pa, uint32_t seg_len)
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
    struct range rg = {home, vaddr, len, (uint32_t)blob_len, 0, 0, 0, 0, false, false};
    blob_len += 2 * (size_t)len;
    uint8_t o[FP_LEN];
    if (len >= FP_LEN) {
        rg.fp_after = load64(seg + at);
        rg.has_after = true;
    } else {
        if (at + len >= FP_LEN) {                       // context before
            rg.fp_before = load64(seg + at + len - FP_LEN);
            memcpy(o, seg_orig + at + len - FP_LEN, FP_LEN);
            o[FP_LEN - len] = seg[at];
            rg.fo_before = load64(o);
            rg.has_before = true;
        }
        if ((uint64_t)at + FP_LEN <= seg_len) {         // context after
            rg.fp_after = load64(seg + at);
            memcpy(o, seg_orig + at, FP_LEN);
            o[0] = seg[at];
            rg.fo_after = load64(o);
            rg.has_after = true;
        }
    }
    ranges = grow(ranges, &cap_ranges, nranges + 1, sizeof *ranges);
    ranges[nranges++] = rg;
    // Only a trampoline jump's fingerprints go into the index for looking through whole
    // frames: its `jmp rel32` names its own trampoline, so they occur nowhere but in a copy.
    // An int3 trap site's are `int3` and the code around it -- and kernels pad between
    // functions with int3 (Linux does): eight of them in a row would match a site at a
    // function's start. Those are matched when a copy's int3 runs (patched_trap_copy).
    if (seg[at] != 0xe9)
        return;
    if (rg.has_before)
        add_key(rg.fp_before, nranges, FP_LEN - len);
    if (rg.has_after)
        add_key(rg.fp_after, nranges, 0);
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

bool patched_trap_copy(const uint8_t *w, uint32_t lo, uint32_t hi, uint32_t cc,
                       const uint8_t **orig, uint32_t *len)
{
    for (unsigned i = 0; i < nranges; i++) {
        const struct range *r = &ranges[i];
        const uint8_t *p = blob + r->bytes;
        if (p[0] != 0xcc || cc + r->len > hi)
            continue;
        uint64_t before = cc + r->len >= lo + FP_LEN ? load64(w + cc + r->len - FP_LEN) : 0,
                 after = cc + FP_LEN <= hi ? load64(w + cc) : 0;
        // The context before is 7 bytes for a 1-byte record (the int3 of an `int $0x80`,
        // whose 0x80 the trap tactic left in place): the byte after the int3 must be the
        // site's too, or `mov $1, %eax; cpuid` would pass for `mov $1, %eax; int $0x80`.
        bool next = !r->has_after || (cc + 1 < hi && (w[cc + 1] == (uint8_t)(r->fp_after >> 8) ||
                                                      w[cc + 1] == (uint8_t)(r->fo_after >> 8)));
        bool a = r->has_before && cc + r->len >= lo + FP_LEN && next &&
                 (before == r->fp_before || before == r->fo_before);
        bool b = r->has_after && cc + FP_LEN <= hi &&
                 (after == r->fp_after || after == r->fo_after);
        if (!a && !b)
            continue;
        *orig = p + r->len;
        *len = r->len;
        return true;
    }
    return false;
}

// gdb's view (gdbstub.c): the input's bytes where the rewrite patched, wherever the bytes in
// RAM are still the patched ones (a guest that overwrote a range -- freed init code reused --
// shows what it wrote). Ranges are few thousand at most and gdb reads little: a linear scan.
bool patched_show_original(uint32_t pa, uint8_t *buf, uint32_t len)
{
    bool any = false;
    for (unsigned i = 0; i < nranges; i++) {
        const struct range *r = &ranges[i];
        if (r->home >= pa + (uint64_t)len || (uint64_t)r->home + r->len <= pa)
            continue;
        any = true;
        const uint8_t *patched = blob + r->bytes, *orig = patched + r->len;
        for (uint32_t k = 0; k < r->len; k++) {
            uint64_t a = (uint64_t)r->home + k;
            if (a >= pa && a < pa + (uint64_t)len && buf[a - pa] == patched[k])
                buf[a - pa] = orig[k];
        }
    }
    return any;
}
