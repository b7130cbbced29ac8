// The patched image's .ring1 tables and the hypercall handler (abi.h, "hypercall entry").
#include "hypercall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "emulate.h"
#include "mem.h"
#include "mmio.h"
#include "stats.h"
#include "usergate.h"
#include "vcpu.h"
#include "x86.h"

static const struct r1_header *hdr;
static const struct r1_site *sites;
static uint32_t nsites;
static const struct r1_map *o2t, *t2o;
static uint32_t no2t, nt2o;
static uint32_t tramp_lo, tramp_hi;
static uint32_t *by_addr;   // site indices sorted by addr (abi.h does not promise an order)

static int cmp_site_addr(const void *a, const void *b)
{
    uint32_t x = sites[*(const uint32_t *)a].addr, y = sites[*(const uint32_t *)b].addr;
    return x < y ? -1 : x > y;
}

static struct decoded { struct insn in; uint8_t state; } *decoded;   // 0 not yet, 1 ok, 2 bad

int r1_init(const struct r1_header *h, uint32_t seg_vaddr, uint32_t seg_len)
{
    uint32_t hv = (uint32_t)(uintptr_t)h;
    const char *why = NULL;
    // The note names the header's address: it must lie in the segment before it is read.
    if (hv < seg_vaddr || (uint64_t)hv + sizeof *h > (uint64_t)seg_vaddr + seg_len || hv & 3) {
        fprintf(stderr, "ring1-run: .ring1 header at %#x: outside the .ring1 segment or misaligned "
                "(%#x, %u bytes)\n", hv, seg_vaddr, seg_len);
        return -1;
    }
    if (memcmp(h->magic, R1_MAGIC, 8) != 0)
        why = "bad magic";
    else if (h->abi_version != R1_ABI_VERSION)
        why = "ABI version mismatch";
    else if (h->header_size < sizeof *h)
        why = "header too small";
    else if ((h->sites_off | h->map_o2t_off | h->map_t2o_off) & 3)
        why = "a table is not 4-byte aligned";   // abi.h: naturally aligned
    if (!why) {
        uint64_t end = (uint64_t)seg_vaddr + seg_len;
        uint64_t s_end = (uint64_t)hv + h->sites_off + (uint64_t)h->nsites * sizeof *sites;
        uint64_t o_end = (uint64_t)hv + h->map_o2t_off + (uint64_t)h->nmap_o2t * sizeof *o2t;
        uint64_t t_end = (uint64_t)hv + h->map_t2o_off + (uint64_t)h->nmap_t2o * sizeof *t2o;
        uint64_t tr_end = (uint64_t)hv + h->tramp_off + h->tramp_size;
        if (s_end > end || o_end > end || t_end > end || tr_end > end)
            why = "a table lies outside the .ring1 segment";
    }
    if (why) {
        fprintf(stderr, "ring1-run: .ring1 header at %#x: %s (runtime ABI %u, image ABI %u)\n",
                hv, why, R1_ABI_VERSION, h->abi_version);
        return -1;
    }
    hdr = h;
    sites = (const struct r1_site *)((const uint8_t *)h + h->sites_off);
    nsites = h->nsites;
    o2t = (const struct r1_map *)((const uint8_t *)h + h->map_o2t_off);
    t2o = (const struct r1_map *)((const uint8_t *)h + h->map_t2o_off);
    no2t = h->nmap_o2t;
    nt2o = h->nmap_t2o;
    tramp_lo = hv + h->tramp_off;
    tramp_hi = tramp_lo + h->tramp_size;
    free(by_addr);   // a second image (the fuzz harness loads one per input)
    free(decoded);
    by_addr = malloc((nsites ? nsites : 1) * sizeof *by_addr);
    decoded = calloc(nsites ? nsites : 1, sizeof *decoded);
    if (!by_addr || !decoded) {
        fprintf(stderr, "ring1-run: out of memory for %u sites\n", nsites);
        return -1;
    }
    for (uint32_t i = 0; i < nsites; i++)
        by_addr[i] = i;
    qsort(by_addr, nsites, sizeof *by_addr, cmp_site_addr);
    return 0;
}

bool r1_present(void) { return hdr != NULL; }

const struct r1_site *r1_site(uint32_t index)
{
    return index < nsites ? &sites[index] : NULL;
}

const struct r1_site *r1_site_at(uint32_t addr)
{
    uint32_t lo = 0, hi = nsites;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t a = sites[by_addr[mid]].addr;
        if (a == addr)
            return &sites[by_addr[mid]];
        if (a < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool r1_in_tramp(uint32_t addr)
{
    return hdr && addr >= tramp_lo && addr < tramp_hi;
}

// Index of the last entry of m[0..n) whose key (tramp or orig) is <= addr, or -1.
static long map_floor(const struct r1_map *m, uint32_t n, uint32_t addr, bool by_tramp)
{
    long lo = 0, hi = (long)n - 1, best = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        uint32_t k = by_tramp ? m[mid].tramp : m[mid].orig;
        if (k <= addr) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

static uint32_t alias_delta[4];
static unsigned nalias;

void r1_set_alias_deltas(const uint32_t *deltas, unsigned n)
{
    for (unsigned i = 0; i < n && nalias < 4; i++)
        alias_delta[nalias++] = deltas[i];
}

// abi.h: the guest-visible EIP for trampoline address T is the orig of the last t2o entry
// with tramp <= T.
static uint32_t t2o_real(uint32_t addr)
{
    if (!r1_in_tramp(addr))
        return addr;
    long i = map_floor(t2o, nt2o, addr, true);
    if (i < 0) {
        stats_count("t2o-miss");
        return addr;
    }
    return t2o[i].orig;
}

uint32_t r1_t2o(const struct vcpu *v, uint32_t addr)
{
    uint32_t d = mem_window_alias_delta(v, addr);   // a trampoline run at its alias
    return t2o_real(addr + d) - d;
}

static uint32_t o2t_exact(uint32_t addr, bool *hit)
{
    long i = map_floor(o2t, no2t, addr, false);
    *hit = i >= 0 && o2t[i].orig == addr;
    return *hit ? o2t[i].tramp : addr;
}

uint32_t r1_o2t(const struct vcpu *v, uint32_t addr)
{
    if (!hdr || !no2t)
        return addr;
    bool hit;
    uint32_t t = o2t_exact(addr, &hit);
    // A kernel linked high running at its physical addresses (its boot code, while the
    // window's alias is live): the piece's alias.
    for (unsigned k = 0; !hit && k < nalias; k++) {
        if (addr >= alias_delta[k] || !mem_window_alias_live(v, alias_delta[k]))
            continue;
        t = o2t_exact(addr + alias_delta[k], &hit) - alias_delta[k];
        if (!hit)
            t = addr;
    }
    return t;
}

uint32_t r1_alias_return(const struct vcpu *v, uint32_t eip)
{
    if (!hdr || !no2t || eip < 5)
        return 0;
    bool hit;
    o2t_exact(eip - 5, &hit);   // the moved call rel32 (5 bytes) that returns here
    if (!hit)
        return 0;
    for (unsigned k = 0; k < nalias; k++)
        if (eip >= alias_delta[k] && mem_window_alias_live(v, alias_delta[k]) &&
            mem_phys(eip - alias_delta[k], 1))
            return eip - alias_delta[k];
    return 0;
}

// An interrupt may be taken at the start of a piece or at a resume point (exact t2o
// entries), never in the middle of a piece: restarting a half-done translation is not
// restarting the original instruction.
bool r1_interruptible(const struct vcpu *v, uint32_t addr)
{
    addr += mem_window_alias_delta(v, addr);
    if (!r1_in_tramp(addr))
        return !mem_in_window(addr);
    long i = map_floor(t2o, nt2o, addr, true);
    return i >= 0 && t2o[i].tramp == addr;
}

// Emulate site s, which the guest reached at address `at` (s->addr, or an alias of it: a
// kernel's early code runs at its physical addresses, see r1_set_alias_deltas).
static void emulate_site(struct vcpu *v, const struct r1_site *s, uint32_t at, uint32_t next_run)
{
    // Decoded once per site (the site table is read-only to the guest).
    struct decoded *dc = &decoded[s - sites];
    if (!dc->state)
        dc->state = decode(s->bytes, s->len, &dc->in) == s->len ? 1 : 2;
    if (dc->state != 1) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "site at %#x: its %u recorded bytes do not decode", s->addr, s->len);
        return;
    }
    const struct insn in = dc->in;
    v->eip = at;
    if (vcpu_break_check(v, s->addr))
        return;
    if (s->kind == R1_KIND_MMIO) {
        // A memory access a profile saw reach a device (abi.h): this time, a device or RAM.
        stats_insn(R1_KIND_MMIO, s->addr);
        int device = mmio_emulate_site(v, &in);
        if (device < 0) {
            vcpu_stop(v, STATUS_UNSUPPORTED, "site at %#x (kind MMIO): not an access the MMIO "
                      "emulation handles (the profile that made it a site is not this image's?)",
                      s->addr);
            return;
        }
        stats_exit(device ? R1_KIND_MMIO : STATS_KIND_MMIO_RAM, s->addr);
        stats_count(device ? "mmio-site" : "mmio-site-ram");
        if (v->exc.vector < 0)
            v->eip = next_run;   // done (else a fault was raised at the instruction)
        return;
    }
    stats_exit((int)s->kind, s->addr);
    if (emulate(v, &in, at, at + s->len, next_run) == EMU_UNHANDLED)
        vcpu_stop(v, STATUS_UNSUPPORTED, "site at %#x (kind %s): the runtime cannot emulate it", s->addr,
                  s->kind < R1_KIND_MAX && kind_names[s->kind] ? kind_names[s->kind] : "?");
    else if (s->kind == R1_KIND_SYSEXIT && v->cpl == 3)
        usergate_note_sysexit(v);   // (a vDSO's sysenter before where it returns?)
}

void hypercall_handle(struct vcpu *v)
{
    uint32_t esp = v->gpr[R_ESP];
    uint32_t lo = mem_window + R1_HCSTACK_OFF, hi = lo + R1_HCSTACK_SIZE;
    if (v->cpl == 3 && mem_window && (esp < lo || esp + 8 > hi)) {
        usergate_enter(v);   // not a trampoline's (the kernel's own ring-3 code): the gate
        return;
    }
    if (!mem_window || esp < lo || esp + 8 > hi) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "hypercall with ESP %#x outside the hypercall stack", esp);
        return;
    }
    const uint32_t *stk = (const uint32_t *)(uintptr_t)esp;
    uint32_t resume = stk[0], index = stk[1];
    const struct r1_site *s = r1_site(index);
    if (!s) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "hypercall for site %u: the image has %u sites", index, nsites);
        return;
    }
    stats_count("hypercall");
    if (vcpu_trace)
        vcpu_tracef("hypercall: site %u, %s at %#x\n", index, s->kind < R1_KIND_MAX &&
                    kind_names[s->kind] ? kind_names[s->kind] : "?", s->addr);
    v->gpr[R_ESP] = v->page[R1_VCPU_SAVED_ESP / 4];
    if (s->tactic == R1_TACTIC_INLINE && s->kind == R1_KIND_MOV_FROM_CR) {
        // An inline `mov r32, crN` found CPL != 0 (abi.h, R1_VCPU_CPL): the instruction,
        // emulated, raises #GP as the processor would.
        uint32_t d = mem_window_alias_delta(v, resume);
        emulate_site(v, s, s->addr - d, resume);
        return;
    }
    if (s->tactic == R1_TACTIC_INLINE) {
        // sti/popf translated inline found an interrupt pending (abi.h): the translation is
        // done; resume, and the run loop delivers the interrupt. For sti, the rewriter may
        // have checked PENDING only after the instruction in sti's shadow (then resume stands
        // for the address after that one); if it checked right after sti, the shadow still
        // holds for one instruction.
        v->eip = resume;
        uint32_t d = mem_window_alias_delta(v, resume);
        if (s->kind == R1_KIND_STI && r1_t2o(v, resume) == s->addr - d + s->len) {
            v->shadow = true;
            v->shadow_eip = resume;
        }
        stats_count("inline-pending");
        return;
    }
    // From a trampoline run at its physical alias (abi.h), the original ran at s->addr - d.
    uint32_t d = mem_window_alias_delta(v, resume);
    emulate_site(v, s, s->addr - d, resume);
}

bool r1_trap_site(struct vcpu *v, uint32_t int3_addr, bool ran)
{
    const struct r1_site *s = r1_site_at(int3_addr);
    for (unsigned i = 0; !s && i < nalias; i++)
        s = r1_site_at(int3_addr + alias_delta[i]);   // the same code, run at its paddr
    if (!s)
        return false;
    stats_count(ran ? "trap-site" : "trap-site-ahead");
    emulate_site(v, s, int3_addr, int3_addr + s->len);
    return true;
}
