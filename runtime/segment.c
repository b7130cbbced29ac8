// Segmentation: descriptor tables, selector loads and the virtual CPU's descriptor caches
// (SDM 3A §3.4-3.5 and §5.5-5.8; the checks are those of MOV, LDS, JMP, RET and IRET in vol. 2).
//
// The guest's selectors live only in the virtual CPU (and the vCPU page); the host runs the
// guest with its own flat 0x23/0x2b, or, for a guest segment with a base, with an LDT slot
// of this process holding it (seg_sync_host). FS and GS bases are switched with
// wrfsbase/wrgsbase (entry.S) instead. Segment limits are the host's to check when a
// segment has an LDT slot; flat ones are not limited, except in ring 3, whose segments are
// cut below the user limit that keeps it away from the kernel's pages (mem.c).
#include "segment.h"

#include <asm/ldt.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

void desc_decode(uint64_t d, uint32_t *base, uint32_t *limit, uint16_t *attr)
{
    *base = (uint32_t)((d >> 16) & 0xffffff) | (uint32_t)((d >> 56) & 0xff) << 24;
    uint32_t lim = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 48) & 0xf) << 16;
    uint16_t a = (uint16_t)(((d >> 40) & 0xff) | ((d >> 52) & 0xf) << 8);
    if (ATTR_FLAGS(a) & DESC_F_G)
        lim = (lim << 12) | 0xfff;
    *limit = lim;
    *attr = a;
}

// Linear address of a selector's descriptor; false if outside its table.
static bool desc_addr_quiet(const struct vcpu *v, uint16_t sel, uint32_t *lin)
{
    uint32_t base, limit, off = sel & ~7u;
    if (sel & SEL_TI) {
        if (!(v->ldtr.sel & ~3u) || !v->ldtr.attr)
            return false;
        base = v->ldtr.base;
        limit = v->ldtr.limit;
    } else {
        base = v->gdtr.base;
        limit = v->gdtr.limit;
    }
    if (off + 7 > limit)
        return false;
    *lin = base + off;
    return true;
}

// The same, or -1 with #GP(sel) if outside the table.
static int desc_addr(struct vcpu *v, uint16_t sel, uint32_t *lin)
{
    return desc_addr_quiet(v, sel, lin) ? 0 : emu_fault(v, T_GP, sel & ~3u);
}

int desc_lookup(struct vcpu *v, uint16_t sel, uint64_t *d)
{
    uint32_t lin = 0;
    if (!desc_addr_quiet(v, sel, &lin))
        return 1;
    return vmem_read(v, lin, d, 8, ACC_SYS);
}

int desc_read(struct vcpu *v, uint16_t sel, uint64_t *d)
{
    uint32_t lin = 0;
    if (desc_addr(v, sel, &lin) < 0)
        return -1;
    return vmem_read(v, lin, d, 8, ACC_SYS);
}

int desc_write(struct vcpu *v, uint16_t sel, uint64_t d)
{
    uint32_t lin = 0;
    if (desc_addr(v, sel, &lin) < 0)
        return -1;
    return vmem_write(v, lin, &d, 8, ACC_SYS);
}

// Set the accessed bit in the table, as the processor does on a load.
static int desc_touch(struct vcpu *v, uint16_t sel, uint64_t *d)
{
    uint64_t bit = (uint64_t)DESC_A << 40;
    if (*d & bit)
        return 0;
    *d |= bit;
    return desc_write(v, sel, *d);
}

// ---- host reflection ----------------------------------------------------------------------
#define HOST_USER32_CS 0x23
#define HOST_USER_DS   0x2b

static bool ldt_broken;

// Set when host_ldt rewrites a slot: a segment register holding its selector keeps the old
// descriptor until it is loaded again. CS and SS are, by every entry's iretq; DS and ES by
// the host kernel's modify_ldt itself (refresh_ldt_segments); FS and GS are not: seg_sync_host
// loads them again (a limit raised for ring 3, mem.c, used to stay the old one in %gs).
static bool ldt_rewritten;

// Describe a segment to the host as LDT slot `slot` of this process (modify_ldt); returns
// its selector, or the flat default if the kernel refuses. A slot keeps what it was last
// given, so that ring 3's limited segments cost no system call on each entry.
static uint16_t host_ldt(int slot, uint32_t base, uint32_t limit, uint16_t attr, bool code,
                         uint16_t flat)
{
    static struct user_desc slots[8];
    static bool filled[8];
    uint32_t access = ATTR_ACCESS(attr), flags = ATTR_FLAGS(attr);
    struct user_desc ud;
    memset(&ud, 0, sizeof ud);
    ud.entry_number = (unsigned)slot;
    ud.base_addr = base;
    ud.limit_in_pages = (flags & DESC_F_G) ? 1 : 0;
    ud.limit = ud.limit_in_pages ? limit >> 12 : limit;
    ud.seg_32bit = (flags & DESC_F_DB) ? 1 : 0;
    ud.contents = code ? MODIFY_LDT_CONTENTS_CODE
                       : (access & DESC_DC) ? MODIFY_LDT_CONTENTS_STACK : MODIFY_LDT_CONTENTS_DATA;
    ud.read_exec_only = (access & DESC_RW) ? 0 : 1;
    ud.useable = (flags & DESC_F_AVL) ? 1 : 0;
    uint16_t sel = (uint16_t)((slot << 3) | SEL_TI | 3);
    if (filled[slot] && !memcmp(&slots[slot], &ud, sizeof ud))
        return sel;
    if (syscall(SYS_modify_ldt, 1, &ud, sizeof ud) != 0) {
        if (!ldt_broken)
            rlog("ring1-run: warning: modify_ldt failed: a non-flat guest segment runs flat\n");
        ldt_broken = true;
        filled[slot] = false;
        return flat;
    }
    stats_count("modify-ldt");
    ldt_rewritten = true;
    slots[slot] = ud;
    filled[slot] = true;
    return sel;
}

static void seg_sync_host(struct vcpu *v, int sreg);

// The checks of a DS/ES/FS/GS load of a non-null selector with descriptor d (SDM vol. 2, MOV):
// data, or readable code; privilege checked unless conforming code; present. The fault vector,
// or 0 if the load may proceed.
static int data_load_fault(const struct vcpu *v, uint16_t sel, uint64_t d)
{
    uint32_t access = (uint32_t)(d >> 40) & 0xff;
    unsigned dpl = DESC_DPL(access), rpl = sel & SEL_RPL;
    if (!(access & DESC_S) || ((access & DESC_X) && !(access & DESC_RW)))
        return T_GP;
    bool conforming = (access & DESC_X) && (access & DESC_DC);
    if (!conforming && (rpl > dpl || (unsigned)v->cpl > dpl))
        return T_GP;
    if (!(access & DESC_P))
        return T_NP;
    return 0;
}

// ---- the segment-load fast path (abi.h, R1_VCPU_SEGFAST) -----------------------------------
// Trampolines for `mov sreg, r16` and `pop sreg` skip the hypercall when the load would leave
// the host as it is -- CPL 0, the register and DS already the host's flat 0x2b with base 0,
// the new selector's descriptor unchanged since the runtime last checked a load of it. The
// runtime keeps SEGFAST and the cache (both in the vCPU page) and catches up at each exit.

static volatile struct r1_segc *segc(struct vcpu *v)
{
    return (volatile struct r1_segc *)(v->page + R1_VCPU_SEGC / 4);
}

static bool host_flat(const struct vcpu *v, int sreg)
{
    switch (sreg) {
    case R1_SREG_ES: return v->hsel_es == HOST_USER_DS;
    case R1_SREG_DS: return v->hsel_ds == HOST_USER_DS;
    case R1_SREG_FS: return v->hsel_fs == HOST_USER_DS && v->guest_fsbase == 0;
    case R1_SREG_GS: return v->hsel_gs == HOST_USER_DS && v->guest_gsbase == 0;
    default: return false;
    }
}

static void seg_fast_update(struct vcpu *v)
{
    static const int regs[] = {R1_SREG_ES, R1_SREG_DS, R1_SREG_FS, R1_SREG_GS};
    bool base = v->cpl == 0 && host_flat(v, R1_SREG_DS);
    for (unsigned i = 0; i < 4; i++)
        v->page[R1_VCPU_SEGFAST / 4 + regs[i]] = base && host_flat(v, regs[i]);
}

void seg_fast_flush(struct vcpu *v)
{
    for (unsigned i = 0; i < R1_SEGC_N; i++)
        segc(v)[i].key = 0;
}

// A load seg_load checked and committed: remember it if a trampoline could repeat it alone.
static void seg_fast_fill(struct vcpu *v, int sreg, uint16_t sel, uint32_t lin, uint64_t d)
{
    if (v->cpl != 0 || !host_flat(v, sreg))   // (never SS or CS: host_flat says no)
        return;
    volatile struct r1_segc *e = &segc(v)[(sel >> 3) & (R1_SEGC_N - 1)];
    e->key = 0;
    e->lin = lin;
    e->desc_lo = (uint32_t)d;
    e->desc_hi = (uint32_t)(d >> 32);
    e->key = sel | R1_SEGC_VALID;
}

// Is the cache entry for sel one the runtime made: a load it would make again now?
static bool segc_entry_ok(const struct vcpu *v, uint32_t sel, uint64_t *d)
{
    volatile struct r1_segc *e = &segc((struct vcpu *)v)[(sel >> 3) & (R1_SEGC_N - 1)];
    uint32_t lin = 0;
    *d = (uint64_t)e->desc_hi << 32 | e->desc_lo;
    if (sel > 0xffff || e->key != (sel | R1_SEGC_VALID))
        return false;
    if (!(sel & ~3u))
        return e->lin == 0 && *d == 0;
    return desc_addr_quiet(v, (uint16_t)sel, &lin) && lin == e->lin &&
           !data_load_fault(v, (uint16_t)sel, *d) && (*d >> 40 & DESC_A);
}

void seg_fast_catch_up(struct vcpu *v)
{
    static const int regs[] = {R1_SREG_ES, R1_SREG_DS, R1_SREG_FS, R1_SREG_GS};
    for (unsigned i = 0; i < 4; i++) {
        int sreg = regs[i];
        uint32_t sel = v->page[R1_VCPU_SEL / 4 + sreg];
        if (sel == v->seg[sreg].sel)
            continue;
        if (v->cpl != 0) {
            // No trampoline loads alone outside CPL 0 (SEGFAST is 0): ring 3 wrote the vCPU
            // page (reachable only with its user limit lifted, mem.c). The register is as it was.
            v->page[R1_VCPU_SEL / 4 + sreg] = v->seg[sreg].sel;
            stats_count("segment-sel-overwritten");
            continue;
        }
        // A trampoline loaded sel from the cache: its descriptor is the entry's (the guest
        // kernel can write the vCPU page, so the entry is checked again like any load).
        stats_count("segment-load-fast");
        uint64_t d;
        if (segc_entry_ok(v, sel, &d)) {
            seg_commit(v, sreg, (uint16_t)sel, d);
            continue;
        }
        vcpu_stop(v, STATUS_UNSUPPORTED, "the vCPU page's segment cache was changed by the guest: "
                  "%s selector %#x has no entry the runtime made", sreg == R1_SREG_DS ? "ds" :
                  sreg == R1_SREG_ES ? "es" : sreg == R1_SREG_FS ? "fs" : "gs", sel);
        return;
    }
}

void seg_resync_host(struct vcpu *v)
{
    for (int sreg = 0; sreg < 6; sreg++)
        seg_sync_host(v, sreg);
}

// Reflect a segment register's new cache on the host. Flat 32-bit segments run as the host's
// own 0x23/0x2b; others (GNU Mach boots with base 0x40000000) get an LDT slot per register
// that enter_guest loads (CS and SS through the iretq frame). FS and GS bases go to
// wrfsbase/wrgsbase instead (entry.S, "Segments").
// In ring 3 under a user limit (mem.c, mem_view_cpl_changed) every segment is cut below it,
// FS and GS included (a null one is null on the host too), so that the kernel's mappings
// above it stay out of ring 3's reach.
static void seg_sync_host(struct vcpu *v, int sreg)
{
    struct seg *s = &v->seg[sreg];
    bool null = !(s->sel & ~3u) || !s->attr;
    uint32_t limit = s->limit;
    bool limited = v->cpl == 3 && v->user_limit < GUEST_SPACE, cut = false;
    if (limited && !null) {
        bool code = sreg == R1_SREG_CS;
        if (!code && (ATTR_ACCESS(s->attr) & DESC_DC)) {
            // Expand-down: the valid offsets are above the limit; no cut expresses "and
            // below user_limit". Give up the limit for this stay in ring 3.
            stats_count("user-limit-expand-down");
            mem_view_unlimit(v);
            seg_resync_host(v);
            return;
        }
        // The last offset whose page lies below user_limit (a page-granular limit covers
        // whole pages, so round down to one).
        uint64_t room = v->user_limit > s->base ? ((v->user_limit - s->base) & ~0xfffull) : 0;
        if (room == 0) {
            // The segment starts above everything ring 3 has reached (a thread pointer in
            // memory not touched yet): raise the limit over its base.
            stats_count("user-limit-raised");
            mem_view_raise_limit(v, s->base + PGSIZE - 1, true);
            seg_resync_host(v);
            return;
        }
        if ((uint64_t)limit + 1 > room) {
            limit = (uint32_t)(room - 1);
            cut = true;
        }
    }
    bool flat = s->base == 0 && limit == 0xffffffffu && (ATTR_FLAGS(s->attr) & DESC_F_DB) &&
                !(ATTR_ACCESS(s->attr) & DESC_DC);
    uint16_t attr = cut ? (uint16_t)(s->attr | (DESC_F_G << 8)) : s->attr;
    v->page[R1_VCPU_SEL / 4 + sreg] = s->sel;
    switch (sreg) {
    case R1_SREG_FS:
    case R1_SREG_GS: {
        ldt_rewritten = false;
        uint16_t h = !limited ? HOST_USER_DS
                     : null ? 0 : host_ldt(sreg, s->base, limit, attr, false, HOST_USER_DS);
        if (sreg == R1_SREG_FS) {
            v->guest_fsbase = null ? 0 : s->base;
            if (h != v->hsel_fs || ldt_rewritten) {
                // Kept in step at once: the exit landing takes an FS that differs from
                // hsel_fs for one the guest loaded itself (sig_entry ignores 64-bit code,
                // where a signal may fall between these two lines).
                v->hsel_fs = h;
                __asm__ volatile("movl %k0, %%fs\n\twrfsbase %1" ::"r"(h), "r"(v->fsbase));
            }
        } else {
            v->guest_gsbase = null ? 0 : s->base;
            if (h != v->hsel_gs || ldt_rewritten) {
                v->hsel_gs = h;
                __asm__ volatile("movl %k0, %%gs" ::"r"(h));
            }
            __asm__ volatile("wrgsbase %0" ::"r"(v->guest_gsbase));
        }
        break;
    }
    case R1_SREG_CS:
        v->hsel_cs = flat ? HOST_USER32_CS
                          : host_ldt(sreg, s->base, limit, attr, true, HOST_USER32_CS);
        break;
    default: {
        uint16_t h = null ? (limited && sreg != R1_SREG_SS ? 0 : HOST_USER_DS)
                     : flat ? HOST_USER_DS
                            : host_ldt(sreg, s->base, limit, attr, false, HOST_USER_DS);
        if (sreg == R1_SREG_SS)
            v->hsel_ss = h;
        else if (sreg == R1_SREG_DS)
            v->hsel_ds = h;
        else
            v->hsel_es = h;
    }
    }
    seg_fast_update(v);
}

void seg_cpl_changed(struct vcpu *v, int old_cpl)
{
    mem_view_cpl_changed(v, old_cpl, v->cpl);
    seg_resync_host(v);
}

void seg_commit(struct vcpu *v, int sreg, uint16_t sel, uint64_t d)
{
    struct seg *s = &v->seg[sreg];
    s->sel = sel;
    if (!(sel & ~3u)) {
        s->base = 0;
        s->limit = 0;
        s->attr = 0;   // unusable
    } else {
        desc_decode(d, &s->base, &s->limit, &s->attr);
    }
    seg_sync_host(v, sreg);
}

void seg_set_flat(struct vcpu *v, int sreg, uint16_t sel, bool code, unsigned dpl)
{
    struct seg *s = &v->seg[sreg];
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = (uint16_t)(DESC_P | DESC_S | DESC_RW | DESC_A | (code ? DESC_X : 0) |
                         dpl << DESC_DPL_SHIFT | (DESC_F_G | DESC_F_DB) << 8);
    seg_sync_host(v, sreg);
}

int seg_load(struct vcpu *v, int sreg, uint16_t sel)
{
    uint64_t d = 0;
    unsigned rpl = sel & SEL_RPL;
    if (!(sel & ~3u)) {
        if (sreg == R1_SREG_SS)
            return emu_fault(v, T_GP, 0);
        seg_commit(v, sreg, sel, 0);
        seg_fast_fill(v, sreg, sel, 0, 0);
        return 0;
    }
    uint32_t lin = 0;
    if (desc_addr(v, sel, &lin) < 0 || vmem_read(v, lin, &d, 8, ACC_SYS) < 0)
        return -1;
    uint32_t access = (uint32_t)(d >> 40) & 0xff;
    unsigned dpl = DESC_DPL(access);
    if (sreg == R1_SREG_SS) {
        // A writable data segment at exactly the current privilege.
        if (rpl != (unsigned)v->cpl || !(access & DESC_S) || (access & DESC_X) ||
            !(access & DESC_RW) || dpl != (unsigned)v->cpl)
            return emu_fault(v, T_GP, sel & ~3u);
        if (!(access & DESC_P))
            return emu_fault(v, T_SS, sel & ~3u);
    } else {
        int fault = data_load_fault(v, sel, d);
        if (fault)
            return emu_fault(v, fault, sel & ~3u);
    }
    if (desc_touch(v, sel, &d) < 0)
        return -1;
    seg_commit(v, sreg, sel, d);
    seg_fast_fill(v, sreg, sel, lin, d);
    return 0;
}

int seg_check_code(struct vcpu *v, uint16_t sel, int new_cpl, uint64_t *d, int fault_vec)
{
    (void)fault_vec;
    if (!(sel & ~3u))
        return emu_fault(v, T_GP, 0);
    if (desc_read(v, sel, d) < 0)
        return -1;
    uint32_t access = (uint32_t)(*d >> 40) & 0xff;
    unsigned dpl = DESC_DPL(access);
    if (!(access & DESC_S) || !(access & DESC_X))
        return emu_fault(v, T_GP, sel & ~3u);
    if (access & DESC_DC) {
        if (dpl > (unsigned)new_cpl)
            return emu_fault(v, T_GP, sel & ~3u);
    } else if (dpl != (unsigned)new_cpl) {
        return emu_fault(v, T_GP, sel & ~3u);
    }
    if (!(access & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    uint32_t base, limit;
    uint16_t attr;
    desc_decode(*d, &base, &limit, &attr);
    if (!(ATTR_FLAGS(attr) & DESC_F_DB)) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "guest code segment %#x (base %#x) is 16-bit: only "
                  "32-bit code is supported", sel, base);
        return -1;
    }
    return desc_touch(v, sel, d);
}

void seg_commit_cs(struct vcpu *v, uint16_t sel, uint64_t d, int cpl)
{
    int old = v->cpl;
    struct seg *s = &v->seg[R1_SREG_CS];
    s->sel = (uint16_t)((sel & ~3u) | (unsigned)cpl);
    desc_decode(d, &s->base, &s->limit, &s->attr);
    v->cpl = cpl;
    if (old != cpl)
        seg_cpl_changed(v, old);
    else
        seg_sync_host(v, R1_SREG_CS);
}

void seg_null_inaccessible(struct vcpu *v)
{
    static const int regs[] = {R1_SREG_ES, R1_SREG_DS, R1_SREG_FS, R1_SREG_GS};
    for (unsigned i = 0; i < 4; i++) {
        struct seg *s = &v->seg[regs[i]];
        uint32_t access = ATTR_ACCESS(s->attr);
        bool conforming_code = (access & DESC_X) && (access & DESC_DC);
        if ((s->sel & ~3u) && !conforming_code && DESC_DPL(access) < (unsigned)v->cpl)
            seg_commit(v, regs[i], 0, 0);
    }
}

int tss_stack(struct vcpu *v, unsigned dpl, uint32_t ext, uint32_t *esp, uint16_t *ss,
              uint64_t *ssd)
{
    if (!(v->tr.sel & ~3u) || !v->tr.attr)
        return emu_fault(v, T_TS, (v->tr.sel & ~3u) + ext);
    uint32_t off = TSS_ESP0 + 8 * dpl;
    if (off + 5 > v->tr.limit)
        return emu_fault(v, T_TS, (v->tr.sel & ~3u) + ext);
    uint32_t esp_ss[2];
    if (vmem_read(v, v->tr.base + off, esp_ss, 8, ACC_SYS) < 0)
        return -1;
    *esp = esp_ss[0];
    *ss = (uint16_t)esp_ss[1];
    return seg_check_stack(v, *ss, dpl, ssd, T_TS, ext);
}

int seg_check_stack(struct vcpu *v, uint16_t ss, unsigned pl, uint64_t *ssd, int fault_vec,
                    uint32_t ext)
{
    if (!(ss & ~3u) || (ss & 3u) != pl)
        return emu_fault(v, fault_vec, (ss & ~3u) + ext);
    if (desc_read(v, ss, ssd) < 0)
        return -1;
    uint32_t ssa = (uint32_t)(*ssd >> 40) & 0xff;
    if (!(ssa & DESC_S) || (ssa & DESC_X) || !(ssa & DESC_RW) || DESC_DPL(ssa) != pl)
        return emu_fault(v, fault_vec, (ss & ~3u) + ext);
    if (!(ssa & DESC_P))
        return emu_fault(v, T_SS, (ss & ~3u) + ext);
    return 0;
}
