// Counters for --stats.
#include "stats.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "emulate.h"
#include "vcpu.h"

static uint64_t by_kind[R1_KIND_MAX];
static uint64_t by_vector[256];

// Per-address counts: open addressing, addresses are never 0 in practice (0 = empty slot
// keyed by +1).
#define ADDR_SLOTS 8192
#define ADDR_PROBES 64
struct addr_count {
    uint32_t key;   // address + 1 (0 = empty slot)
    uint16_t kind;
    uint64_t n;
};
static struct addr_count by_addr[ADDR_SLOTS];
static unsigned naddr_overflow;

// Named events (stats_count): more than the runtime's ~55 names. (At 32, the names counted
// last in a long run -- trap-site-ahead, user-limit-emulated -- were silently not shown.)
#define NAMED_MAX 128
static struct { const char *name; uint64_t n; } named[NAMED_MAX];
static uint64_t named_overflow;

static const char *kind_name(unsigned kind)
{
    if (kind == STATS_KIND_MMIO_RAM)
        return "MMIO_RAM";
    return kind < R1_KIND_MAX && kind_names[kind] ? kind_names[kind] : "?";
}

static int cur_kind;
static uint32_t cur_eip;

void stats_insn(int kind, uint32_t eip)
{
    cur_kind = kind;
    cur_eip = eip;
}

uint32_t stats_unassigned(const char *space, uint32_t addr, int size, int write, uint32_t value,
                          const char **kind)
{
    *kind = cur_kind == R1_KIND_MMIO ? "memory access" : kind_name((unsigned)cur_kind);
    if (vcpu_trace)
        vcpu_tracef("%s %#x: nothing there: %s %#x (%d byte%s) by %s at %#x\n", space, addr,
             write ? "write" : "read", value, size, size == 1 ? "" : "s", *kind, cur_eip);
    return cur_eip;
}

void stats_trace_access(const char *space, uint32_t addr, int size, bool write, uint32_t value)
{
    const char *kind = cur_kind == R1_KIND_MMIO ? "memory access" : kind_name((unsigned)cur_kind);
    vcpu_tracef("%s %#x: %s %#x (%d byte%s) by %s at %#x\n", space, addr,
                write ? "write" : "read", value, size, size == 1 ? "" : "s", kind, cur_eip);
}

void stats_exit(int kind, uint32_t eip)
{
    stats_insn(kind, eip);
    if (kind > 0 && kind < R1_KIND_MAX)
        by_kind[kind]++;
    // A bounded probe: a guest with sensitive instructions at more addresses than the table
    // holds must not make every exit scan all of it. One slot per (address, kind).
    uint32_t key = eip + 1, h = ((key ^ (uint32_t)kind << 24) * 2654435761u) % ADDR_SLOTS;
    for (unsigned probe = 0; probe < ADDR_PROBES; probe++, h = (h + 1) % ADDR_SLOTS) {
        if ((by_addr[h].key == key && by_addr[h].kind == kind) || by_addr[h].key == 0) {
            by_addr[h].key = key;
            by_addr[h].kind = (uint16_t)kind;
            by_addr[h].n++;
            return;
        }
    }
    naddr_overflow++;
}

void stats_vector(int vector) { by_vector[vector & 0xff]++; }

// Called on the run loop's paths (several per exit): the name's own pointer is looked for first,
// in one pass of pointer compares; strcmp only for a name not counted yet from this string (the
// same name spelled in another file may be another copy of the literal).
void stats_add(const char *name, uint64_t n)
{
    int i;
    for (i = 0; i < NAMED_MAX && named[i].name; i++) {
        if (named[i].name == name) {
            named[i].n += n;
            return;
        }
    }
    for (i = 0; i < NAMED_MAX && named[i].name; i++) {
        if (strcmp(named[i].name, name) == 0) {
            named[i].n += n;
            return;
        }
    }
    if (i == NAMED_MAX) {
        named_overflow += n;
        return;
    }
    named[i].name = name;
    named[i].n = n;
}

void stats_count(const char *name)
{
    stats_add(name, 1);
}

// The modules' own --stats lines, in the order registered (main.c wires them): stats.c
// reaches into no module, and a module tested alone needs no stats of the others. A module
// may give its figures as JSON too (stats_register_json); one that does not has its lines
// turned into figures for --stats-json (json_text_module).
#define PRINTERS_MAX 8
static struct {
    void (*print)(FILE *f);
    const char *key;
    void (*json)(FILE *f);
} printers[PRINTERS_MAX];
static unsigned nprinters;

void stats_register_json(void (*print)(FILE *f), const char *key, void (*json)(FILE *f))
{
    if (nprinters < PRINTERS_MAX) {
        printers[nprinters].print = print;
        printers[nprinters].key = key;
        printers[nprinters].json = json;
        nprinters++;
    }
}

void stats_register(void (*print)(FILE *f))
{
    stats_register_json(print, NULL, NULL);
}

#define TOP_SITES 20

// The busiest addresses into top (at most TOP_SITES, busiest first); returns how many
// distinct (address, kind) there are. Kept in order by insertion, not qsort (glibc's qsort
// asks the kernel for the machine's memory size, sysinfo, when the array passes 1 KiB: the
// jail refuses that call).
static unsigned busiest(struct addr_count top[TOP_SITES], unsigned *ntop)
{
    unsigned n = 0;
    *ntop = 0;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        if (!by_addr[i].key)
            continue;
        n++;
        unsigned j = *ntop < TOP_SITES ? (*ntop)++ : TOP_SITES;
        for (; j > 0 && top[j - 1].n < by_addr[i].n; j--)
            if (j < TOP_SITES)
                top[j] = top[j - 1];
        if (j < TOP_SITES)
            top[j] = by_addr[i];
    }
    return n;
}

static uint64_t emulated_total(void)
{
    uint64_t total = 0;
    for (int k = 0; k < R1_KIND_MAX; k++)
        total += k == R1_KIND_MMIO ? 0 : by_kind[k];
    return total;
}

void stats_print(FILE *f, uint64_t elapsed_ns, uint64_t cpu_ns)
{
    host_fpu_begin();
    uint64_t total = emulated_total();
    uint64_t cpu_us = cpu_ns / 1000u;
    fprintf(f, "ring1-run stats: %llu.%06llu s elapsed, %llu.%06llu s cpu, %llu sensitive "
            "instructions emulated\n", (unsigned long long)(elapsed_ns / 1000000000u),
            (unsigned long long)(elapsed_ns % 1000000000u / 1000u),
            (unsigned long long)(cpu_us / 1000000u), (unsigned long long)(cpu_us % 1000000u),
            (unsigned long long)total);
    for (int k = 1; k < R1_KIND_MAX; k++)
        if (by_kind[k])
            fprintf(f, "  kind %-14s %10llu\n", kind_names[k], (unsigned long long)by_kind[k]);
    for (int i = 0; i < NAMED_MAX && named[i].name; i++)
        fprintf(f, "  event %-13s %10llu\n", named[i].name, (unsigned long long)named[i].n);
    if (named_overflow)
        fprintf(f, "  events of more kinds than the table holds: %llu not shown\n",
                (unsigned long long)named_overflow);
    for (int vec = 0; vec < 256; vec++)
        if (by_vector[vec])
            fprintf(f, "  vector %-12d %10llu\n", vec, (unsigned long long)by_vector[vec]);
    struct addr_count top[TOP_SITES];
    unsigned ntop, n = busiest(top, &ntop);
    fprintf(f, "  sites (%u distinct%s), busiest first:\n", n,
            naddr_overflow ? ", table full" : "");
    for (unsigned i = 0; i < ntop; i++)
        fprintf(f, "    %#010x %-14s %10llu\n", top[i].key - 1, kind_name(top[i].kind),
                (unsigned long long)top[i].n);
    for (unsigned i = 0; i < nprinters; i++)
        printers[i].print(f);
}

// ---- --stats-json ---------------------------------------------------------------------------
// A kind's name as `ring1 inspect` and the profile print it: abi.h's, lowercase.
static const char *kind_lower(unsigned kind, char name[24])
{
    const char *k = kind_name(kind);
    unsigned c = 0;
    for (; k[c] && c + 1 < 24; c++)
        name[c] = (char)(k[c] >= 'A' && k[c] <= 'Z' ? k[c] - 'A' + 'a' : k[c]);
    name[c] = 0;
    return name;
}

static void json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

// Words as a key: lowercase letters and digits, every other run of characters one '_'.
static void json_key(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    bool sep = false, any = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (sep && any)
                fputc('_', f);
            fputc(c, f);
            sep = false;
            any = true;
        } else {
            sep = true;
        }
    }
    fputs("\": ", f);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One line of a module's --stats text as figures: "TITLE: N" gives "title": N, and
// "TITLE: N words, N words (N words)" gives "title": {"words": N, ...}. Returns false (and
// writes nothing) for a line of another shape.
static bool json_text_line(FILE *f, const char *line, size_t len, bool first)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line || (size_t)(colon - line) + 1 >= len || colon[1] != ' ')
        return false;
    const char *rest = colon + 2, *end = line + len;
    // Every phrase must start with a number: else the line is not figures.
    unsigned phrases = 0;
    bool bare = true;
    for (const char *p = rest; p < end;) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '(' || *p == ')'))
            p++;
        if (p >= end)
            break;
        if (!is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
        if (p < end && *p != ' ' && *p != ',' && *p != '(' && *p != ')')
            return false;           // 0x12, 1.5: not a count
        const char *w = p;
        while (p < end && *p != ',' && *p != '(' && *p != ')')
            p++;
        for (const char *q = w; q < p; q++)
            if (*q != ' ')
                bare = false;
        phrases++;
    }
    if (!phrases || (bare && phrases > 1))
        return false;
    fputs(first ? "\n  " : ",\n  ", f);
    json_key(f, line, (size_t)(colon - line));
    if (bare) {
        fprintf(f, "%llu", strtoull(rest, NULL, 10));
        return true;
    }
    fputc('{', f);
    unsigned i = 0;
    for (const char *p = rest; p < end;) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '(' || *p == ')'))
            p++;
        if (p >= end)
            break;
        unsigned long long n = strtoull(p, NULL, 10);
        while (p < end && is_digit(*p))
            p++;
        const char *w = p;
        while (p < end && *p != ',' && *p != '(' && *p != ')')
            p++;
        fputs(i++ ? ", " : "", f);
        json_key(f, w, (size_t)(p - w));
        fprintf(f, "%llu", n);
    }
    fputc('}', f);
    return true;
}

// A module without a JSON writer: its text, captured, turned into figures line by line; the
// lines that are not figures are kept as they are in "unparsed_lines" (*other, *nother).
static char module_text[32768];
static bool json_text_module(FILE *f, void (*print)(FILE *f), bool first, FILE *other,
                             unsigned *nother)
{
    memset(module_text, 0, sizeof module_text);
    FILE *m = fmemopen(module_text, sizeof module_text - 1, "w");
    if (!m)
        return first;
    print(m);
    fclose(m);
    for (const char *l = module_text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *t = l;
        while (t < l + len && *t == ' ')
            t++;
        if (t < l + len) {
            if (json_text_line(f, t, (size_t)(l + len - t), first)) {
                first = false;
            } else if (other) {
                fputs((*nother)++ ? ", " : "", other);
                json_string(other, t, (size_t)(l + len - t));
            }
        }
        l = nl ? nl + 1 : l + len;
    }
    return first;
}

static char unparsed[8192];

void stats_write_json(FILE *f, uint64_t elapsed_ns, uint64_t cpu_ns, int status)
{
    host_fpu_begin();
    uint64_t cpu_us = cpu_ns / 1000u;
    char name[24];
    fprintf(f, "{\"schema\": \"ring1-stats/1\", \"status\": %d,\n"
            " \"elapsed_seconds\": %llu.%06llu, \"cpu_seconds\": %llu.%06llu,\n"
            " \"emulated\": %llu,\n \"exits\": {", status,
            (unsigned long long)(elapsed_ns / 1000000000u),
            (unsigned long long)(elapsed_ns % 1000000000u / 1000u),
            (unsigned long long)(cpu_us / 1000000u), (unsigned long long)(cpu_us % 1000000u),
            (unsigned long long)emulated_total());
    unsigned n = 0;
    for (int k = 1; k < R1_KIND_MAX; k++)
        if (by_kind[k])
            fprintf(f, "%s\"%s\": %llu", n++ ? ", " : "", kind_lower((unsigned)k, name),
                    (unsigned long long)by_kind[k]);
    fputs("},\n \"events\": {", f);
    for (int i = 0; i < NAMED_MAX && named[i].name; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        json_string(f, named[i].name, strlen(named[i].name));
        fprintf(f, ": %llu", (unsigned long long)named[i].n);
    }
    fprintf(f, "},\n \"events_not_shown\": %llu,\n \"vectors\": [",
            (unsigned long long)named_overflow);
    n = 0;
    for (int vec = 0; vec < 256; vec++)
        if (by_vector[vec])
            fprintf(f, "%s{\"vector\": %d, \"count\": %llu}", n++ ? ", " : "", vec,
                    (unsigned long long)by_vector[vec]);
    struct addr_count top[TOP_SITES];
    unsigned ntop, distinct = busiest(top, &ntop);
    fprintf(f, "],\n \"sites\": {\"distinct\": %u, \"table_full\": %s, \"busiest\": [",
            distinct, naddr_overflow ? "true" : "false");
    for (unsigned i = 0; i < ntop; i++)
        fprintf(f, "%s\n  {\"addr\": \"0x%08x\", \"kind\": \"%s\", \"count\": %llu}",
                i ? "," : "", top[i].key - 1, kind_lower(top[i].kind, name),
                (unsigned long long)top[i].n);
    fputs("]},\n \"modules\": {", f);
    bool first = true;
    memset(unparsed, 0, sizeof unparsed);
    FILE *other = fmemopen(unparsed, sizeof unparsed - 1, "w");
    unsigned nother = 0;
    for (unsigned i = 0; i < nprinters; i++) {
        if (printers[i].json) {
            fputs(first ? "\n  " : ",\n  ", f);
            json_key(f, printers[i].key, strlen(printers[i].key));
            printers[i].json(f);
            first = false;
        } else {
            first = json_text_module(f, printers[i].print, first, other, &nother);
        }
    }
    if (other)
        fclose(other);
    fprintf(f, "%s\"unparsed_lines\": [%s]}}\n", first ? "\n  " : ",\n  ", unparsed);
}

// Every (address, kind) in address order: an insertion sort into a static array (no qsort:
// see above), then JSON (schema "ring1-profile/1"; "format" and "version" too, which readers
// of profiles made before the schema field go by). Kind names are abi.h's, lowercase, as
// `ring1 inspect` prints them.
void stats_write_profile(FILE *f, const uint8_t *sha256, uint32_t window_base)
{
    static struct addr_count all[ADDR_SLOTS];
    unsigned n = 0;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        if (!by_addr[i].key)
            continue;
        unsigned j = n++;
        for (; j > 0 && (all[j - 1].key > by_addr[i].key ||
                         (all[j - 1].key == by_addr[i].key && all[j - 1].kind > by_addr[i].kind));
             j--)
            all[j] = all[j - 1];
        all[j] = by_addr[i];
    }
    fprintf(f, "{\"schema\": \"ring1-profile/1\", \"format\": \"ring1-profile\", "
            "\"version\": 1,\n \"input_sha256\": ");
    if (sha256) {
        fputc('"', f);
        for (int i = 0; i < 32; i++)
            fprintf(f, "%02x", sha256[i]);
        fputc('"', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ", \"window_base\": \"0x%08x\", \"table_full\": %s,\n \"exits\": [",
            window_base, naddr_overflow ? "true" : "false");
    for (unsigned i = 0; i < n; i++) {
        char name[24];
        fprintf(f, "%s\n  {\"addr\": \"0x%08x\", \"kind\": \"%s\", \"count\": %llu}",
                i ? "," : "", all[i].key - 1, kind_lower(all[i].kind, name),
                (unsigned long long)all[i].n);
    }
    fprintf(f, "\n ]}\n");
}
