// Guest ring-0 code written at run time: trap sites the runtime owns, in a patched copy of the
// frame (rtcode.h; docs/code-copies.md, "Code written at run time").
#include "rtcode.h"

#include <string.h>

#include "abi.h"
#include "decode.h"
#include "emulate.h"
#include "mem.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

// Per slot: which bytes of the page decoded instructions cover, where each starts, which are
// trap sites (bitmaps by page offset); whether the copy is filled with int3 elsewhere; how many
// bytes of the next page the last instruction of this one covers (an instruction cut by the
// page boundary: the next page's copy must keep them).
struct rt {
    bool armed, fill;
    uint8_t spill;
    uint8_t cover[PGSIZE / 8], start[PGSIZE / 8], site[PGSIZE / 8];
};
static struct rt rt[RT_SLOTS];
enum rt_mode rtcode_mode = RT_FILL;

static bool bit(const uint8_t *m, unsigned i) { return m[i >> 3] & (1u << (i & 7)); }
static void bit_set(uint8_t *m, unsigned i) { m[i >> 3] |= (uint8_t)(1u << (i & 7)); }

bool rtcode_armed(unsigned k) { return k < RT_SLOTS && rt[k].armed; }
bool rtcode_filled(unsigned k) { return k < RT_SLOTS && rt[k].armed && rt[k].fill; }

void rtcode_forget(unsigned k)
{
    if (k < RT_SLOTS)
        rt[k].armed = false;
}

// The silent ones (rewriter/classify.py's catalogue, "silent" on the host): run natively in
// host ring 3 they give the host's answer or ignore what the guest asked for. The others trap
// on the host (#GP, #UD, SIGTRAP, SIGSYS for int $0x80) and are emulated from there already.
static bool silent(const struct insn *in)
{
    switch (insn_kind(in)) {
    case R1_KIND_PUSHF: case R1_KIND_POPF: case R1_KIND_IRET:
    case R1_KIND_SGDT: case R1_KIND_SIDT: case R1_KIND_SLDT: case R1_KIND_STR:
    case R1_KIND_SMSW: case R1_KIND_LAR: case R1_KIND_LSL: case R1_KIND_VERR: case R1_KIND_VERW:
    case R1_KIND_MOV_FROM_SREG: case R1_KIND_PUSH_SREG: case R1_KIND_MOV_TO_SREG:
    case R1_KIND_POP_SREG: case R1_KIND_LOAD_FAR_PTR:
    case R1_KIND_LCALL: case R1_KIND_LJMP: case R1_KIND_LRET:
    case R1_KIND_CPUID: case R1_KIND_RDTSC: case R1_KIND_RDTSCP:
    case R1_KIND_SYSENTER: case R1_KIND_SYSCALL: case R1_KIND_VMX_SVM:
        return true;
    default:
        return false;
    }
}

// Does the instruction name an address inside the page [page_lin, +4 KiB) -- an absolute
// memory operand, or a 32-bit immediate that may be a pointer -- that is not where an
// instruction starts? Then the page may hold data its code reads through this very mapping,
// where an int3 fill would be seen.
static bool refers_into(const struct vcpu *v, const struct insn *in, uint32_t page_lin,
                        const struct rt *r)
{
    uint32_t a;
    bool absolute = in->modrm && in->mod == 0 &&
                    ((!in->sib && in->rm == 5) || (in->sib && in->base == 5));
    if (in->adsize == 4 && absolute) {
        a = v->seg[insn_seg(in)].base + (uint32_t)in->disp;
        if (a - page_lin < PGSIZE)
            return true;
    }
    if (in->adsize == 4 && in->op >= 0xa0 && in->op <= 0xa3) {   // mov moffs
        a = v->seg[in->seg >= 0 ? in->seg : R1_SREG_DS].base + in->imm;
        if (a - page_lin < PGSIZE)
            return true;
    }
    bool imm32 = in->opsize == 4 && ((in->op >= 0xb8 && in->op <= 0xbf) || in->op == 0x68 ||
                                     (in->op == 0xc7 && in->reg == 0));
    if (imm32 && in->imm - page_lin < PGSIZE && !bit(r->start, in->imm - page_lin))
        return true;
    return false;
}

// Direct branch target of the instruction at lin (len bytes), or false.
static bool branch_target(const struct insn *in, uint32_t lin, uint32_t *to)
{
    uint32_t next = lin + in->len;
    if ((in->op >= 0x70 && in->op <= 0x7f) || in->op == 0xeb || (in->op >= 0xe0 && in->op <= 0xe3)) {
        *to = next + (uint32_t)(int32_t)(int8_t)in->imm;
        return true;
    }
    if (in->op == 0xe8 || in->op == 0xe9 || (in->op >= 0x0f80 && in->op <= 0x0f8f)) {
        *to = next + (in->opsize == 2 ? (uint32_t)(int32_t)(int16_t)in->imm : in->imm);
        return true;
    }
    return false;
}

// Whether execution never goes on to the next instruction.
static bool ends_path(const struct insn *in)
{
    switch (in->op) {
    case 0xc3: case 0xc2: case 0xcb: case 0xca: case 0xcf:   // ret, lret, iret
    case 0xeb: case 0xe9: case 0xea:                         // jmp
    case 0x0f0b:                                             // ud2
        return true;
    case 0xff:
        return in->reg == 4 || in->reg == 5;                 // jmp *, ljmp *
    default:
        return false;
    }
}

// The guest's bytes at page offset off: the frame's, then the next page's (next[0, nnext)).
static int decode_at(const uint8_t *frame, const uint8_t *next, unsigned nnext, unsigned off,
                     struct insn *in)
{
    uint8_t b[INSN_MAX];
    unsigned n = 0;
    for (; n < INSN_MAX && off + n < PGSIZE; n++)
        b[n] = frame[off + n];
    for (unsigned i = 0; n < INSN_MAX && i < nnext; i++)
        b[n++] = next[i];
    return decode(b, n, in);
}

#define WORK_MAX 512u

// Recursive descent from page offset off through the direct branches that stay in the page.
// Marks what it decodes in r and writes those bytes (the original, or an int3 for a site)
// into copy. Sets *data if an instruction refers to data in the page. Returns the number of
// instructions decoded.
static unsigned descend(struct vcpu *v, struct rt *r, uint8_t *copy, const uint8_t *frame,
                        uint32_t page_lin, unsigned off, bool *data)
{
    uint8_t next[INSN_MAX];
    unsigned nnext = vmem_fetch(v, page_lin + PGSIZE, next, sizeof next);
    unsigned work[WORK_MAX], nwork = 0, ninsn = 0, nsites = 0;
    work[nwork++] = off;
    while (nwork) {
        unsigned at = work[--nwork];
        while (at < PGSIZE) {
            if (bit(r->cover, at))
                break;   // known already (or the middle of a known instruction: not followed)
            struct insn in;
            int len = decode_at(frame, next, nnext, at, &in);
            if (len <= 0)
                break;   // invalid: left as it is (run natively, it faults as on a PC)
            unsigned end = at + (unsigned)len, in_page = end > PGSIZE ? PGSIZE : end;
            bool clash = false;
            for (unsigned i = at; i < in_page; i++)
                clash |= bit(r->cover, i);
            if (clash)
                break;   // overlaps a known instruction: not followed
            for (unsigned i = at; i < in_page; i++) {
                bit_set(r->cover, i);
                copy[i] = frame[i];
            }
            bit_set(r->start, at);
            if (end > PGSIZE)
                r->spill = (uint8_t)(end - PGSIZE);
            ninsn++;
            if (silent(&in)) {
                bit_set(r->site, at);
                copy[at] = 0xcc;
                nsites++;
            }
            if (refers_into(v, &in, page_lin, r))
                *data = true;
            uint32_t to;
            if (branch_target(&in, page_lin + at, &to) && to - page_lin < PGSIZE &&
                nwork < WORK_MAX)
                work[nwork++] = to - page_lin;
            if (ends_path(&in))
                break;
            at = end;
        }
    }
    stats_add("runtime-code-insns", ninsn);
    stats_add("runtime-code-sites", nsites);
    return ninsn;
}

// Keep [0, n) of slot k's page (the end of an instruction that starts in the page before).
static void keep_head(struct rt *r, uint8_t *copy, const uint8_t *frame, unsigned n)
{
    for (unsigned i = 0; i < n && i < PGSIZE; i++) {
        bit_set(r->cover, i);
        copy[i] = frame[i];
    }
}

// An instruction of the page at page_lin runs into the next one: keep its bytes there, if the
// next page shows an armed copy; and the page before may run into this one.
static void neighbours(struct vcpu *v, unsigned k, uint8_t *copy, const uint8_t *frame,
                       uint32_t page_lin)
{
    uint8_t *ncopy;
    const uint8_t *nframe;
    int n;
    if (rt[k].spill && (n = mem_rt_slot(v, page_lin + PGSIZE, true, &ncopy, &nframe)) >= 0 &&
        (unsigned)n != k)
        keep_head(&rt[n], ncopy, nframe, rt[k].spill);
    if (page_lin && (n = mem_rt_slot(v, page_lin - PGSIZE, true, &ncopy, &nframe)) >= 0 &&
        (unsigned)n != k && rt[n].spill)
        keep_head(&rt[k], copy, frame, rt[n].spill);
}

// Descent only from now on: the copy is the frame with the sites' int3s.
static void unfill(struct rt *r, uint8_t *copy, const uint8_t *frame)
{
    memcpy(copy, frame, PGSIZE);
    for (unsigned i = 0; i < PGSIZE; i++)
        if (bit(r->site, i))
            copy[i] = 0xcc;
    r->fill = false;
    stats_count("runtime-code-descent-only");
}

bool rtcode_arm(struct vcpu *v, unsigned k, uint8_t *copy, const uint8_t *frame,
                uint32_t page_lin, uint32_t eip, bool may_fill)
{
    struct rt *r = &rt[k];
    memset(r, 0, sizeof *r);
    r->armed = true;
    r->fill = may_fill && rtcode_mode == RT_FILL;
    if (r->fill)
        memset(copy, 0xcc, PGSIZE);
    else
        memcpy(copy, frame, PGSIZE);
    stats_count("runtime-code-frame");
    unsigned off = eip - page_lin;
    if (off >= PGSIZE) {
        // The first instruction starts in the page before and runs into this one.
        uint8_t b[INSN_MAX];
        struct insn in;
        unsigned n = vmem_fetch(v, eip, b, sizeof b);
        int len = n ? decode(b, n, &in) : -1;
        off = len > 0 && page_lin - eip < (unsigned)len ? eip + (unsigned)len - page_lin : 0;
        keep_head(r, copy, frame, off);
    }
    bool data = false;
    descend(v, r, copy, frame, page_lin, off, &data);
    if (data && r->fill)
        unfill(r, copy, frame);
    if (!r->fill) {
        // Descent only: without a site the copy would be the frame.
        bool any = false;
        for (unsigned i = 0; i < sizeof r->site && !any; i++)
            any = r->site[i];
        if (!any) {
            r->armed = false;
            stats_count("runtime-code-no-site");
            return false;
        }
    }
    neighbours(v, k, copy, frame, page_lin);
    return true;
}

bool rtcode_trap(struct vcpu *v)
{
    uint32_t at = vcpu_lin_eip(v) - 1;
    uint8_t *copy;
    const uint8_t *frame;
    int k = mem_rt_slot(v, at, false, &copy, &frame);   // (it ran: the page shows the copy)
    unsigned off = at & (PGSIZE - 1);
    if (k < 0 || copy[off] != 0xcc)
        return false;
    struct rt *r = &rt[k];
    if (bit(r->site, off)) {
        // A trap site: the original instruction, emulated.
        uint8_t b[INSN_MAX];
        struct insn in;
        unsigned n = vmem_fetch(v, at, b, sizeof b);
        if (!n || decode(b, n, &in) <= 0)
            return false;   // (the frame changed under the copy: not reached, writes drop it)
        uint32_t eip = v->eip - 1;
        stats_count("runtime-code-trap");
        stats_exit(insn_kind(&in), eip);
        if (emulate(v, &in, eip, eip + in.len, eip + in.len) == EMU_UNHANDLED)
            vcpu_stop(v, STATUS_UNSUPPORTED, "run-time code at %#x: the runtime cannot emulate "
                      "its sensitive instruction", at);
        return true;
    }
    if (!r->fill || bit(r->cover, off))
        return false;   // the guest's own int3
    // Code entered where the descent had not gone: decode from here, then run it.
    stats_count("runtime-code-grown");
    bool data = false;
    unsigned page_lin = at - off;
    if (!descend(v, r, copy, frame, page_lin, off, &data)) {
        // Nothing decodes here: the guest's bytes, run natively (they fault as on a PC).
        unsigned n = PGSIZE - off < INSN_MAX ? PGSIZE - off : INSN_MAX;
        for (unsigned i = 0; i < n; i++)
            if (!bit(r->cover, off + i)) {
                bit_set(r->cover, off + i);
                copy[off + i] = frame[off + i];
            }
    }
    neighbours(v, (unsigned)k, copy, frame, page_lin);
    if (data && r->fill)
        unfill(r, copy, frame);
    v->eip--;
    return true;
}
