// Emulation of the sensitive instructions (docs/design.md §2) against the virtual CPU. Each case
// follows the instruction's "Operation" section in Intel SDM vol. 2; the privilege checks
// are the guest's (CPL, virtual IOPL, CR4), never the host's.
#include "emulate.h"

#include <string.h>

#include "cpuid.h"
#include "hypercall.h"
#include "interrupt.h"
#include "mem.h"
#include "mmio.h"
#include "pio.h"
#include "segment.h"
#include "task.h"
#include "vcpu.h"
#include "x86.h"

const char *const kind_names[R1_KIND_MAX] = {
#define R1_KIND_NAME(name, n) [n] = #name,
    R1_KIND_LIST(R1_KIND_NAME)
#undef R1_KIND_NAME
};

// Result of one case: 0 done, -1 fault recorded (or vCPU stopped), 1 not ours.
#define UNHANDLED 1

// ---- operand helpers ------------------------------------------------------------------------
static uint32_t mem_lin(const struct vcpu *v, const struct insn *in)
{
    return v->seg[insn_seg(in)].base + insn_ea(in, v->gpr);
}

static int rm_read(struct vcpu *v, const struct insn *in, int size, uint32_t *val)
{
    if (!insn_has_mem(in)) {
        *val = vcpu_reg(v, in->rm, size);
        return 0;
    }
    *val = 0;
    return vmem_read(v, mem_lin(v, in), val, (unsigned)size, 0);
}

static int rm_write(struct vcpu *v, const struct insn *in, int size, uint32_t val)
{
    if (!insn_has_mem(in)) {
        vcpu_set_reg(v, in->rm, size, val);
        return 0;
    }
    return vmem_write(v, mem_lin(v, in), &val, (unsigned)size, 0);
}

static uint32_t sp_mask(const struct vcpu *v)
{
    return (ATTR_FLAGS(v->seg[R1_SREG_SS].attr) & DESC_F_DB) ? 0xffffffffu : 0xffffu;
}

int emu_push(struct vcpu *v, uint32_t val, int size)
{
    uint32_t m = sp_mask(v), esp = (v->gpr[R_ESP] - (uint32_t)size) & m;
    if (vmem_write(v, v->seg[R1_SREG_SS].base + esp, &val, (unsigned)size, 0) < 0)
        return -1;
    v->gpr[R_ESP] = (v->gpr[R_ESP] & ~m) | esp;
    return 0;
}

int emu_pop(struct vcpu *v, uint32_t *val, int size)
{
    uint32_t m = sp_mask(v), esp = v->gpr[R_ESP] & m;
    *val = 0;
    if (vmem_read(v, v->seg[R1_SREG_SS].base + esp, val, (unsigned)size, 0) < 0)
        return -1;
    v->gpr[R_ESP] = (v->gpr[R_ESP] & ~m) | ((esp + (uint32_t)size) & m);
    return 0;
}

// Read at SS:ESP+off without popping.
static int stack_peek(struct vcpu *v, uint32_t off, uint32_t *val, int size)
{
    *val = 0;
    uint32_t esp = (v->gpr[R_ESP] + off) & sp_mask(v);
    return vmem_read(v, v->seg[R1_SREG_SS].base + esp, val, (unsigned)size, 0);
}

static unsigned viopl(const struct vcpu *v)
{
    return (v->page[R1_VCPU_VFLAGS / 4] & FL_IOPL) >> FL_IOPL_SHIFT;
}

#define NEED_CPL0() do { if (v->cpl != 0) return emu_fault(v, T_GP, 0); } while (0)

static void set_zf(struct vcpu *v, bool z)
{
    v->eflags = z ? v->eflags | FL_ZF : v->eflags & ~FL_ZF;
}

// I/O permission: CPL <= IOPL, else the TSS I/O bitmap (SDM vol. 1 §19.5).
static int io_check(struct vcpu *v, uint16_t port, int size)
{
    if ((unsigned)v->cpl <= viopl(v))
        return 0;
    const struct seg *tr = &v->tr;
    if (!(tr->sel & ~3u) || DESC_TYPE(ATTR_ACCESS(tr->attr)) != DESC_T_TSS_BUSY ||
        tr->limit < TSS_MIN_LIMIT)
        return emu_fault(v, T_GP, 0);
    uint16_t base;
    if (vmem_read(v, tr->base + TSS_IOMAP, &base, 2, ACC_SYS) < 0)
        return -1;
    uint32_t off = base + port / 8u;
    if (off + 1 > tr->limit)
        return emu_fault(v, T_GP, 0);
    uint16_t bits;
    if (vmem_read(v, tr->base + off, &bits, 2, ACC_SYS) < 0)
        return -1;
    if ((bits >> (port & 7)) & ((1u << size) - 1))
        return emu_fault(v, T_GP, 0);
    return 0;
}

// ---- control transfers -------------------------------------------------------------------
// A far jmp/call target: a code segment at the current privilege, or a 32-bit call gate
// (a TSS or a task gate: a task switch, task.c).
struct far_dest {
    bool     task;        // a task switch happened instead (task.c): nothing else to do
    uint16_t cs;          // code selector to load
    uint64_t d;           // its descriptor
    uint32_t eip;
    int      cpl;         // privilege after the transfer
    unsigned params;      // call gate: dwords to copy to the new stack
};

static int far_target(struct vcpu *v, uint16_t sel, uint32_t off, bool call, uint32_t next,
                      struct far_dest *fd)
{
    uint64_t d;
    if (!(sel & ~3u))
        return emu_fault(v, T_GP, 0);
    if (desc_read(v, sel, &d) < 0)
        return -1;
    uint32_t access = (uint32_t)(d >> 40) & 0xff;
    fd->params = 0;
    fd->task = false;
    if (access & DESC_S) {
        if (!(access & DESC_DC) && (sel & 3) > (unsigned)v->cpl)
            return emu_fault(v, T_GP, sel & ~3u);
        if (seg_check_code(v, sel, v->cpl, &d, T_GP) < 0)
            return -1;
        fd->cs = sel;
        fd->d = d;
        fd->eip = off;
        fd->cpl = v->cpl;
        return 0;
    }
    unsigned type = DESC_TYPE(access);
    if (type == DESC_T_TSS || type == DESC_T_TSS16 || type == DESC_T_TASKGATE) {
        // A task switch (SDM vol. 2, JMP/CALL "TASK-GATE" and "TASK-STATE-SEGMENT").
        if (DESC_DPL(access) < (unsigned)v->cpl || DESC_DPL(access) < (sel & 3u))
            return emu_fault(v, T_GP, sel & ~3u);
        fd->task = true;
        return task_switch(v, sel, d, call ? TASK_CALL : TASK_JMP, next, false, 0);
    }
    if (type == DESC_T_CALL16) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "far %s through 16-bit call gate %#x: not emulated",
                  call ? "call" : "jmp", sel);
        return -1;
    }
    if (type != DESC_T_CALL)
        return emu_fault(v, T_GP, sel & ~3u);
    // Call gate (SDM vol. 2, CALL: "CALL-GATE"): gate DPL >= CPL and >= RPL, present.
    unsigned gdpl = DESC_DPL(access);
    if (gdpl < (unsigned)v->cpl || gdpl < (sel & 3u))
        return emu_fault(v, T_GP, sel & ~3u);
    if (!(access & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    uint16_t cs = (uint16_t)(d >> 16);
    uint64_t csd;
    if (!(cs & ~3u))
        return emu_fault(v, T_GP, 0);
    if (desc_read(v, cs, &csd) < 0)
        return -1;
    uint32_t csa = (uint32_t)(csd >> 40) & 0xff;
    if (!(csa & DESC_S) || !(csa & DESC_X) || DESC_DPL(csa) > (unsigned)v->cpl)
        return emu_fault(v, T_GP, cs & ~3u);
    int new_cpl = (csa & DESC_DC) ? v->cpl : (int)DESC_DPL(csa);
    if (!call && new_cpl != v->cpl)   // jmp through a gate never changes privilege
        return emu_fault(v, T_GP, cs & ~3u);
    if (seg_check_code(v, cs, new_cpl, &csd, T_GP) < 0)
        return -1;
    fd->cs = cs;
    fd->d = csd;
    fd->eip = (uint32_t)(d & 0xffff) | (uint32_t)(d >> 48) << 16;
    fd->cpl = new_cpl;
    fd->params = (unsigned)(d >> 32) & 0x1f;
    return 0;
}

static int far_jmp(struct vcpu *v, uint16_t sel, uint32_t off, uint32_t next)
{
    struct far_dest fd;
    if (far_target(v, sel, off, false, next, &fd) < 0)
        return -1;
    if (fd.task)
        return 0;
    seg_commit_cs(v, fd.cs, fd.d, fd.cpl);
    v->eip = r1_o2t(v, fd.eip);
    return 0;
}

static int far_call(struct vcpu *v, uint16_t sel, uint32_t off, int opsize, uint32_t ret)
{
    struct far_dest fd;
    if (far_target(v, sel, off, true, ret, &fd) < 0)
        return -1;
    if (fd.task)
        return 0;
    uint32_t old_esp = v->gpr[R_ESP];
    uint16_t old_cs = v->seg[R1_SREG_CS].sel;
    if (fd.cpl == v->cpl) {
        if (emu_push(v, old_cs, opsize) < 0 || emu_push(v, ret, opsize) < 0) {
            v->gpr[R_ESP] = old_esp;
            return -1;
        }
        seg_commit_cs(v, fd.cs, fd.d, fd.cpl);
        v->eip = r1_o2t(v, fd.eip);
        return 0;
    }
    // Inner privilege through a call gate: new stack from the TSS, then the caller's SS:ESP,
    // the gate's parameter dwords copied from the caller's stack, CS:EIP.
    uint32_t esp;
    uint16_t ss;
    uint64_t ssd;
    if (tss_stack(v, (unsigned)fd.cpl, 0, &esp, &ss, &ssd) < 0)
        return -1;
    uint32_t ssbase, sslim;
    uint16_t ssattr;
    desc_decode(ssd, &ssbase, &sslim, &ssattr);
    uint32_t frame[4 + 31];
    unsigned n = 0;
    frame[n++] = v->seg[R1_SREG_SS].sel;
    frame[n++] = old_esp;
    for (unsigned i = fd.params; i-- > 0;) {
        uint32_t p;
        if (stack_peek(v, 4 * i, &p, 4) < 0)
            return -1;
        frame[n++] = p;
    }
    frame[n++] = old_cs;
    frame[n++] = ret;
    for (unsigned i = 0; i < n; i++) {
        esp -= 4;
        if (vmem_write(v, ssbase + esp, &frame[i], 4, ACC_SYS) < 0)
            return -1;
    }
    seg_commit_cs(v, fd.cs, fd.d, fd.cpl);
    seg_commit(v, R1_SREG_SS, ss, ssd);
    v->gpr[R_ESP] = esp;
    v->eip = r1_o2t(v, fd.eip);
    return 0;
}

static int far_ret(struct vcpu *v, int opsize, uint32_t release)
{
    uint32_t eip, cs;
    if (stack_peek(v, 0, &eip, opsize) < 0 || stack_peek(v, (uint32_t)opsize, &cs, opsize) < 0)
        return -1;
    unsigned rpl = cs & 3;
    if (rpl < (unsigned)v->cpl)
        return emu_fault(v, T_GP, cs & ~3u);
    uint64_t d;
    if (seg_check_code(v, (uint16_t)cs, (int)rpl, &d, T_GP) < 0)
        return -1;
    uint32_t sz = 2u * (uint32_t)opsize + release;
    if (rpl == (unsigned)v->cpl) {
        seg_commit_cs(v, (uint16_t)cs, d, v->cpl);
        v->gpr[R_ESP] = (v->gpr[R_ESP] & ~sp_mask(v)) | ((v->gpr[R_ESP] + sz) & sp_mask(v));
        v->eip = r1_o2t(v, opsize == 2 ? eip & 0xffff : eip);
        return 0;
    }
    // Return to an outer level: the caller's ESP and SS follow (SDM vol. 2, RET).
    uint32_t esp, ss;
    if (stack_peek(v, sz, &esp, opsize) < 0 || stack_peek(v, sz + (uint32_t)opsize, &ss, opsize) < 0)
        return -1;
    uint64_t ssd;
    if (seg_check_stack(v, (uint16_t)ss, rpl, &ssd, T_GP, 0) < 0)
        return -1;
    seg_commit_cs(v, (uint16_t)cs, d, (int)rpl);
    seg_commit(v, R1_SREG_SS, (uint16_t)ss, ssd);
    v->gpr[R_ESP] = esp + release;
    v->eip = r1_o2t(v, opsize == 2 ? eip & 0xffff : eip);
    seg_null_inaccessible(v);
    return 0;
}

// Read a far pointer m16:16 or m16:32 (offset first).
static int read_farptr(struct vcpu *v, const struct insn *in, uint32_t *off, uint16_t *sel)
{
    if (!insn_has_mem(in))
        return emu_fault(v, T_UD, 0);
    uint32_t lin = mem_lin(v, in);
    *off = 0;
    if (vmem_read(v, lin, off, in->opsize, 0) < 0 ||
        vmem_read(v, lin + in->opsize, sel, 2, 0) < 0)
        return -1;
    return 0;
}

// ---- flags ---------------------------------------------------------------------------------
static int do_popf(struct vcpu *v, int opsize)
{
    uint32_t fl;
    if (emu_pop(v, &fl, opsize) < 0)
        return -1;
    // POPF in protected mode never changes VM, VIF, VIP and clears RF (SDM vol. 2, POPF).
    uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID | FL_RF;
    if (v->cpl == 0)
        mask |= FL_IOPL | FL_IF;
    else if ((unsigned)v->cpl <= viopl(v))
        mask |= FL_IF;
    if (opsize == 2)
        mask &= 0xffff;
    vcpu_set_eflags(v, fl & ~FL_RF, mask);
    return 0;
}

// ---- descriptor-table instructions ----------------------------------------------------------
static int do_lgdt_lidt(struct vcpu *v, const struct insn *in, struct dtr *t)
{
    NEED_CPL0();
    if (!insn_has_mem(in))
        return emu_fault(v, T_UD, 0);
    uint16_t limit;
    uint32_t base, lin = mem_lin(v, in);
    if (vmem_read(v, lin, &limit, 2, 0) < 0 || vmem_read(v, lin + 2, &base, 4, 0) < 0)
        return -1;
    t->limit = limit;
    t->base = in->opsize == 2 ? base & 0xffffff : base;
    return 0;
}

static int do_sgdt_sidt(struct vcpu *v, const struct insn *in, const struct dtr *t)
{
    if (!insn_has_mem(in))
        return emu_fault(v, T_UD, 0);
    uint32_t lin = mem_lin(v, in);
    uint32_t base = t->base;
    if (vmem_write(v, lin, &t->limit, 2, 0) < 0 || vmem_write(v, lin + 2, &base, 4, 0) < 0)
        return -1;
    return 0;
}

static int do_lldt(struct vcpu *v, uint16_t sel)
{
    NEED_CPL0();
    if (!(sel & ~3u)) {
        v->ldtr = (struct seg){.sel = sel};
        seg_fast_flush(v);
        return 0;
    }
    if (sel & SEL_TI)
        return emu_fault(v, T_GP, sel & ~3u);
    uint64_t d;
    if (desc_read(v, sel, &d) < 0)
        return -1;
    uint32_t access = (uint32_t)(d >> 40) & 0xff;
    if ((access & DESC_S) || DESC_TYPE(access) != DESC_T_LDT)
        return emu_fault(v, T_GP, sel & ~3u);
    if (!(access & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    v->ldtr.sel = sel;
    desc_decode(d, &v->ldtr.base, &v->ldtr.limit, &v->ldtr.attr);
    seg_fast_flush(v);
    return 0;
}

static int do_ltr(struct vcpu *v, uint16_t sel)
{
    NEED_CPL0();
    if (!(sel & ~3u) || (sel & SEL_TI))
        return emu_fault(v, T_GP, sel & ~3u);
    uint64_t d;
    if (desc_read(v, sel, &d) < 0)
        return -1;
    uint32_t access = (uint32_t)(d >> 40) & 0xff;
    unsigned type = DESC_TYPE(access);
    if ((access & DESC_S) || (type != DESC_T_TSS && type != DESC_T_TSS16))
        return emu_fault(v, T_GP, sel & ~3u);
    if (!(access & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    d |= (uint64_t)2 << 40;   // busy
    if (desc_write(v, sel, d) < 0)
        return -1;
    v->tr.sel = sel;
    desc_decode(d, &v->tr.base, &v->tr.limit, &v->tr.attr);
    return 0;
}

// lar/lsl/verr/verw: is the descriptor visible at this CPL and RPL? (SDM vol. 2, LAR.)
static bool desc_visible(struct vcpu *v, uint16_t sel, uint64_t *d)
{
    if (!(sel & ~3u))
        return false;
    if (desc_read(v, sel, d) < 0) {
        v->exc.vector = -1;   // out of the table: ZF=0, not a fault
        return false;
    }
    uint32_t access = (uint32_t)(*d >> 40) & 0xff;
    bool conforming = (access & DESC_S) && (access & DESC_X) && (access & DESC_DC);
    unsigned dpl = DESC_DPL(access);
    return conforming || (dpl >= (unsigned)v->cpl && dpl >= (sel & 3u));
}

static int do_lar_lsl(struct vcpu *v, const struct insn *in, bool lsl)
{
    uint32_t sel;
    if (rm_read(v, in, 2, &sel) < 0)
        return -1;
    uint64_t d;
    bool ok = desc_visible(v, (uint16_t)sel, &d);
    if (ok) {
        uint32_t access = (uint32_t)(d >> 40) & 0xff;
        if (!(access & DESC_S)) {
            static const bool lar_ok[16] = {[1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1,
                                            [9] = 1, [11] = 1, [12] = 1};
            static const bool lsl_ok[16] = {[1] = 1, [2] = 1, [3] = 1, [9] = 1, [11] = 1};
            ok = lsl ? lsl_ok[DESC_TYPE(access)] : lar_ok[DESC_TYPE(access)];
        }
    }
    set_zf(v, ok);
    if (ok) {
        uint32_t val;
        if (lsl) {
            uint32_t base, limit;
            uint16_t attr;
            desc_decode(d, &base, &limit, &attr);
            val = limit;
        } else {
            val = (uint32_t)(d >> 32) & 0x00f0ff00u;
        }
        vcpu_set_reg(v, in->reg, in->opsize, val);
    }
    return 0;
}

static int do_verr_verw(struct vcpu *v, const struct insn *in, bool write)
{
    uint32_t sel;
    if (rm_read(v, in, 2, &sel) < 0)
        return -1;
    uint64_t d;
    bool ok = desc_visible(v, (uint16_t)sel, &d);
    if (ok) {
        uint32_t access = (uint32_t)(d >> 40) & 0xff;
        if (!(access & DESC_S))
            ok = false;
        else if (write)
            ok = !(access & DESC_X) && (access & DESC_RW);
        else
            ok = !(access & DESC_X) || (access & DESC_RW);
    }
    set_zf(v, ok);
    return 0;
}

// ---- control registers ----------------------------------------------------------------------
static int write_cr(struct vcpu *v, unsigned cr, uint32_t val)
{
    switch (cr) {
    case 0: {
        if ((val & CR0_PG) && !(val & CR0_PE))
            return emu_fault(v, T_GP, 0);
        if ((val & CR0_NW) && !(val & CR0_CD))
            return emu_fault(v, T_GP, 0);
        if (!(val & CR0_PE)) {
            vcpu_stop(v, STATUS_UNSUPPORTED, "guest cleared CR0.PE: real mode is not emulated");
            return -1;
        }
        uint32_t old = v->cr0;
        v->cr0 = val | CR0_ET;
        if ((old ^ v->cr0) & (CR0_PG | CR0_WP | CR0_PE))
            mem_view_reset(v);
        return 0;
    }
    case 2:
        v->cr2 = val;
        return 0;
    case 3:
        v->cr3 = val;
        if (v->cr0 & CR0_PG)
            mem_view_cr3(v);
        return 0;
    case 4: {
        const uint32_t known = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE |
                               CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        if (val & ~known)
            return emu_fault(v, T_GP, 0);
        if (val & CR4_PAE) {
            vcpu_stop(v, STATUS_UNSUPPORTED, "guest set CR4.PAE: PAE paging is not emulated yet");
            return -1;
        }
        if (val & (CR4_VME | CR4_PVI)) {
            vcpu_stop(v, STATUS_UNSUPPORTED, "guest set CR4.VME/PVI: not emulated");
            return -1;
        }
        uint32_t old = v->cr4;
        v->cr4 = val;
        if (((old ^ val) & (CR4_PSE | CR4_PGE)) && (v->cr0 & CR0_PG))
            mem_view_reset(v);
        return 0;
    }
    default:
        return emu_fault(v, T_UD, 0);
    }
}

static int read_cr(struct vcpu *v, unsigned cr, uint32_t *val)
{
    switch (cr) {
    case 0: *val = v->cr0; return 0;
    case 2: *val = v->cr2; return 0;
    case 3: *val = v->cr3; return 0;
    case 4: *val = v->cr4; return 0;
    default: return emu_fault(v, T_UD, 0);
    }
}

static int mov_dr(struct vcpu *v, const struct insn *in, bool to)
{
    NEED_CPL0();
    unsigned dr = in->reg;
    if ((dr == 4 || dr == 5) && (v->cr4 & CR4_DE))
        return emu_fault(v, T_UD, 0);
    if (dr == 4)
        dr = 6;
    if (dr == 5)
        dr = 7;
    if (to) {
        uint32_t val = v->gpr[in->rm];
        if (dr == 6)
            val |= DR6_FIXED1;
        if (dr == 7)
            val |= DR7_FIXED1;
        v->dr[dr] = val;   // breakpoints are recorded, not armed (not emulated yet)
    } else {
        v->gpr[in->rm] = v->dr[dr];
    }
    return 0;
}

// ---- string I/O -------------------------------------------------------------------------------
static int string_io(struct vcpu *v, const struct insn *in, bool out)
{
    int size = (in->op & 1) ? in->opsize : 1;
    uint16_t port = (uint16_t)v->gpr[R_EDX];
    if (io_check(v, port, size) < 0)
        return -1;
    uint32_t amask = in->adsize == 4 ? 0xffffffffu : 0xffffu;
    unsigned idx = out ? R_ESI : R_EDI;
    int sreg = out ? (in->seg >= 0 ? in->seg : R1_SREG_DS) : R1_SREG_ES;
    uint32_t count = in->rep ? (v->gpr[R_ECX] & amask) : 1;
    uint32_t step = (v->eflags & FL_DF) ? (uint32_t)-size : (uint32_t)size;
    while (count) {
        uint32_t lin = v->seg[sreg].base + (v->gpr[idx] & amask), val = 0;
        if (out) {
            if (vmem_read(v, lin, &val, (unsigned)size, 0) < 0)
                return -1;
            pio_out(port, size, val);
        } else {
            // Check the destination before reading the port, so a fault leaves no trace.
            if (vmem_write(v, lin, &val, (unsigned)size, 0) < 0)
                return -1;
            val = pio_in(port, size);
            vmem_write(v, lin, &val, (unsigned)size, 0);
        }
        v->gpr[idx] = (v->gpr[idx] & ~amask) | ((v->gpr[idx] + step) & amask);
        count--;
        if (in->rep)
            v->gpr[R_ECX] = (v->gpr[R_ECX] & ~amask) | (count & amask);
        if (v->stop)
            return 0;
    }
    return 0;
}

// ---- fast system calls ---------------------------------------------------------------------
static int do_sysenter(struct vcpu *v)
{
    uint16_t cs = (uint16_t)v->msr_sysenter_cs;
    if (!(cs & ~3u))
        return emu_fault(v, T_GP, 0);
    int old = v->cpl;
    vcpu_set_eflags(v, 0, FL_VM | FL_IF | FL_RF);
    seg_set_flat(v, R1_SREG_CS, cs & 0xfffc, true, 0);
    seg_set_flat(v, R1_SREG_SS, (cs + 8) & 0xfffc, false, 0);
    v->cpl = 0;
    v->gpr[R_ESP] = (uint32_t)v->msr_sysenter_esp;
    v->eip = r1_o2t(v, (uint32_t)v->msr_sysenter_eip);
    if (old != 0)
        seg_cpl_changed(v, old);
    return 0;
}

static int do_sysexit(struct vcpu *v)
{
    uint16_t cs = (uint16_t)v->msr_sysenter_cs;
    if (!(cs & ~3u) || v->cpl != 0)
        return emu_fault(v, T_GP, 0);
    seg_set_flat(v, R1_SREG_CS, (uint16_t)((cs + 16) | 3), true, 3);
    seg_set_flat(v, R1_SREG_SS, (uint16_t)((cs + 24) | 3), false, 3);
    v->cpl = 3;
    v->gpr[R_ESP] = v->gpr[R_ECX];
    v->eip = r1_o2t(v, v->gpr[R_EDX]);
    seg_cpl_changed(v, 0);
    return 0;
}

// ---- the dispatcher ---------------------------------------------------------------------------
static int sreg_of_pop(uint16_t op)
{
    switch (op) {
    case 0x07: return R1_SREG_ES;
    case 0x17: return R1_SREG_SS;
    case 0x1f: return R1_SREG_DS;
    case 0x0fa1: return R1_SREG_FS;
    case 0x0fa9: return R1_SREG_GS;
    default: return -1;
    }
}

static int sreg_of_push(uint16_t op)
{
    switch (op) {
    case 0x06: return R1_SREG_ES;
    case 0x0e: return R1_SREG_CS;
    case 0x16: return R1_SREG_SS;
    case 0x1e: return R1_SREG_DS;
    case 0x0fa0: return R1_SREG_FS;
    case 0x0fa8: return R1_SREG_GS;
    default: return -1;
    }
}

static void start_shadow(struct vcpu *v, uint32_t next_run)
{
    v->shadow = true;
    v->shadow_eip = next_run;
}

static int emulate_one(struct vcpu *v, const struct insn *in, uint32_t next_orig,
                       uint32_t next_run)
{
    uint32_t val;
    int size;
    v->eip = next_run;   // the common case; transfers overwrite it

    switch (in->op) {
    case 0xfa:  // cli
        if ((unsigned)v->cpl > viopl(v))
            return emu_fault(v, T_GP, 0);
        vcpu_set_vif(v, false);
        return 0;
    case 0xfb:  // sti: interrupts are recognized only after the next instruction
        if ((unsigned)v->cpl > viopl(v))
            return emu_fault(v, T_GP, 0);
        if (!vcpu_vif(v))
            start_shadow(v, next_run);
        vcpu_set_vif(v, true);
        return 0;
    case 0xf4:  // hlt
        NEED_CPL0();
        if (!vcpu_vif(v)) {
            vcpu_stop(v, STATUS_HALTED, "hlt with interrupts disabled: the guest has stopped");
            return 0;
        }
        v->halted = true;
        return 0;

    case 0xe4: case 0xe5: case 0xec: case 0xed:  // in
    case 0xe6: case 0xe7: case 0xee: case 0xef: {  // out
        size = (in->op & 1) ? in->opsize : 1;
        uint16_t port = (in->op & 8) ? (uint16_t)v->gpr[R_EDX] : (uint16_t)in->imm;
        if (io_check(v, port, size) < 0)
            return -1;
        if (in->op & 2)
            pio_out(port, size, vcpu_reg(v, R_EAX, size));
        else
            vcpu_set_reg(v, R_EAX, size, pio_in(port, size));
        pio_cache_note(port, size, in->op & 2);   // for the trampolines (abi.h, R1_VCPU_PORTC)
        return 0;
    }
    case 0x6c: case 0x6d:  // ins
        return string_io(v, in, false);
    case 0x6e: case 0x6f:  // outs
        return string_io(v, in, true);

    case 0x9c:  // pushf
        return emu_push(v, vcpu_eflags(v) & ~(FL_VM | FL_RF), in->opsize);
    case 0x9d:  // popf
        return do_popf(v, in->opsize);

    case 0xcf:  // iret
        return intr_iret(v, in->opsize, next_orig);
    case 0xcd:  // int n
        v->eip = next_orig - in->len;   // a fault while delivering points at the int
        intr_deliver(v, (int)(in->imm & 0xff), EV_SOFT, 0, next_orig);
        return 0;
    case 0xcc:  // int3
        v->eip = next_orig - in->len;
        intr_deliver(v, T_BP, EV_SOFT_EXC, 0, next_orig);
        return 0;
    case 0xce:  // into
        if (v->eflags & FL_OF) {
            v->eip = next_orig - in->len;
            intr_deliver(v, T_OF, EV_SOFT_EXC, 0, next_orig);
        }
        return 0;
    case 0xf1:  // int1 (icebp)
        v->eip = next_orig - in->len;
        intr_deliver(v, T_DB, EV_SOFT_EXC, 0, next_orig);
        return 0;

    case 0xea:  // ljmp ptr16:32
        return far_jmp(v, in->imm2, in->imm, next_orig);
    case 0x9a:  // lcall ptr16:32
        return far_call(v, in->imm2, in->imm, in->opsize, next_orig);
    case 0xcb:  // lret
        return far_ret(v, in->opsize, 0);
    case 0xca:  // lret imm16
        return far_ret(v, in->opsize, in->imm & 0xffff);
    case 0xff: {
        uint32_t off;
        uint16_t sel;
        if (in->reg != 3 && in->reg != 5)
            return UNHANDLED;
        if (read_farptr(v, in, &off, &sel) < 0)
            return -1;
        return in->reg == 3 ? far_call(v, sel, off, in->opsize, next_orig) : far_jmp(v, sel, off, next_orig);
    }

    case 0x8e:  // mov Sreg, r/m16
        if (in->reg == R1_SREG_CS || in->reg > R1_SREG_GS)
            return emu_fault(v, T_UD, 0);
        if (rm_read(v, in, 2, &val) < 0 || seg_load(v, in->reg, (uint16_t)val) < 0)
            return -1;
        if (in->reg == R1_SREG_SS)
            start_shadow(v, next_run);
        return 0;
    case 0x8c:  // mov r/m, Sreg
        if (in->reg > R1_SREG_GS)
            return emu_fault(v, T_UD, 0);
        return rm_write(v, in, insn_has_mem(in) ? 2 : in->opsize, v->seg[in->reg].sel);
    case 0x07: case 0x17: case 0x1f: case 0x0fa1: case 0x0fa9: {  // pop Sreg
        int s = sreg_of_pop(in->op);
        uint32_t esp = v->gpr[R_ESP];
        if (emu_pop(v, &val, in->opsize) < 0)
            return -1;
        if (seg_load(v, s, (uint16_t)val) < 0) {
            v->gpr[R_ESP] = esp;
            return -1;
        }
        if (s == R1_SREG_SS)
            start_shadow(v, next_run);
        return 0;
    }
    case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x0fa0: case 0x0fa8:  // push Sreg
        return emu_push(v, v->seg[sreg_of_push(in->op)].sel, in->opsize);
    case 0xc4: case 0xc5: case 0x0fb2: case 0x0fb4: case 0x0fb5: {  // les lds lss lfs lgs
        uint32_t off;
        uint16_t sel;
        int s = in->op == 0xc4 ? R1_SREG_ES : in->op == 0xc5 ? R1_SREG_DS
              : in->op == 0x0fb2 ? R1_SREG_SS : in->op == 0x0fb4 ? R1_SREG_FS : R1_SREG_GS;
        if (read_farptr(v, in, &off, &sel) < 0 || seg_load(v, s, sel) < 0)
            return -1;
        vcpu_set_reg(v, in->reg, in->opsize, off);
        return 0;
    }

    case 0x0f00:  // group 6
        switch (in->reg) {
        case 0:  // sldt
            return rm_write(v, in, insn_has_mem(in) ? 2 : in->opsize, v->ldtr.sel);
        case 1:  // str
            return rm_write(v, in, insn_has_mem(in) ? 2 : in->opsize, v->tr.sel);
        case 2:  // lldt
            NEED_CPL0();
            return rm_read(v, in, 2, &val) < 0 ? -1 : do_lldt(v, (uint16_t)val);
        case 3:  // ltr
            NEED_CPL0();
            return rm_read(v, in, 2, &val) < 0 ? -1 : do_ltr(v, (uint16_t)val);
        case 4:
            return do_verr_verw(v, in, false);
        case 5:
            return do_verr_verw(v, in, true);
        default:
            return emu_fault(v, T_UD, 0);
        }
    case 0x0f01:  // group 7
        if (in->mod == 3) {
            switch (in->reg) {
            case 4:  // smsw r
                vcpu_set_reg(v, in->rm, in->opsize, v->cr0);
                return 0;
            case 6:  // lmsw r
                val = v->gpr[in->rm];
                break;
            default:
                // monitor/mwait, clac/stac, xgetbv/xsetbv, swapgs, rdtscp: not in qemu32.
                return emu_fault(v, T_UD, 0);
            }
        }
        switch (in->reg) {
        case 0: return do_sgdt_sidt(v, in, &v->gdtr);
        case 1: return do_sgdt_sidt(v, in, &v->idtr);
        case 2:
            if (do_lgdt_lidt(v, in, &v->gdtr) < 0)
                return -1;
            seg_fast_flush(v);
            return 0;
        case 3: return do_lgdt_lidt(v, in, &v->idtr);
        case 4: return rm_write(v, in, 2, v->cr0 & 0xffff);
        case 6:
            NEED_CPL0();
            if (in->mod != 3 && rm_read(v, in, 2, &val) < 0)
                return -1;
            // lmsw loads PE MP EM TS; it can set PE but never clear it.
            return write_cr(v, 0, (v->cr0 & ~(CR0_LMSW_MASK & ~CR0_PE)) | (val & CR0_LMSW_MASK));
        case 7:  // invlpg
            NEED_CPL0();
            mem_view_invlpg(v, mem_lin(v, in));
            return 0;
        default:
            return emu_fault(v, T_UD, 0);
        }
    case 0x0f02: return do_lar_lsl(v, in, false);
    case 0x0f03: return do_lar_lsl(v, in, true);
    case 0x0f06:  // clts
        NEED_CPL0();
        v->cr0 &= ~CR0_TS;
        return 0;
    case 0x0f08: case 0x0f09:  // invd, wbinvd
        NEED_CPL0();
        return 0;
    case 0x0f0b:  // ud2
        return emu_fault(v, T_UD, 0);
    case 0x0f20:  // mov r32, CRn
        NEED_CPL0();
        if (read_cr(v, in->reg, &val) < 0)
            return -1;
        v->gpr[in->rm] = val;
        return 0;
    case 0x0f22:  // mov CRn, r32
        NEED_CPL0();
        return write_cr(v, in->reg, v->gpr[in->rm]);
    case 0x0f21: return mov_dr(v, in, false);
    case 0x0f23: return mov_dr(v, in, true);
    case 0x0f30: {  // wrmsr
        mmio_cache_flush();   // IA32_APIC_BASE moves or disables the APIC's registers
        NEED_CPL0();
        uint64_t m = (uint64_t)v->gpr[R_EDX] << 32 | v->gpr[R_EAX];
        if (msr_write(v, v->gpr[R_ECX], m) < 0)
            return emu_fault(v, T_GP, 0);
        return 0;
    }
    case 0x0f32: {  // rdmsr
        NEED_CPL0();
        uint64_t m;
        if (msr_read(v, v->gpr[R_ECX], &m) < 0)
            return emu_fault(v, T_GP, 0);
        v->gpr[R_EAX] = (uint32_t)m;
        v->gpr[R_EDX] = (uint32_t)(m >> 32);
        return 0;
    }
    case 0x0f31: {  // rdtsc
        if ((v->cr4 & CR4_TSD) && v->cpl != 0)
            return emu_fault(v, T_GP, 0);
        uint64_t t = vtsc_read(v);
        v->gpr[R_EAX] = (uint32_t)t;
        v->gpr[R_EDX] = (uint32_t)(t >> 32);
        return 0;
    }
    case 0x0f33:  // rdpmc: the model has no counters; QEMU raises #UD past the CR4.PCE check
        if (!(v->cr4 & CR4_PCE) && v->cpl != 0)
            return emu_fault(v, T_GP, 0);
        return emu_fault(v, T_UD, 0);
    case 0x0fa2: {  // cpuid
        uint32_t r[4];
        cpuid_query(v->gpr[R_EAX], v->gpr[R_ECX], r);
        v->gpr[R_EAX] = r[0];
        v->gpr[R_EBX] = r[1];
        v->gpr[R_ECX] = r[2];
        v->gpr[R_EDX] = r[3];
        return 0;
    }
    case 0x0f34: return do_sysenter(v);
    case 0x0f35: return do_sysexit(v);
    case 0x0f05: case 0x0f07: case 0x0faa:  // syscall, sysret, rsm: not in qemu32
        return emu_fault(v, T_UD, 0);
    // VMX, SVM, SGX, SMX: not in qemu32 (vmcall, vmmcall and the rest of 0F 01 C0-DF are the
    // group 7 register forms above): #UD, as QEMU raises.
    case 0x0f37:                // getsec
    case 0x0f78: case 0x0f79:   // vmread, vmwrite (extrq/insertq with 66/F2: no SSE4a either)
        return emu_fault(v, T_UD, 0);
    case 0x0fc7:                // vmptrld, vmclear, vmxon (/6 m), vmptrst (/7 m)
        if (in->reg >= 6 && insn_has_mem(in))
            return emu_fault(v, T_UD, 0);
        return UNHANDLED;
    case 0x0f38:                // invept, invvpid
        if (in->op3 == 0x80 || in->op3 == 0x81)
            return emu_fault(v, T_UD, 0);
        return UNHANDLED;
    default:
        return UNHANDLED;
    }
}

enum emu_result emulate(struct vcpu *v, const struct insn *in, uint32_t addr,
                        uint32_t next_orig, uint32_t next_run)
{
    v->exc.vector = -1;
    uint32_t esp = v->gpr[R_ESP];
    int r = emulate_one(v, in, next_orig, next_run);
    if (r == UNHANDLED) {
        v->eip = addr;
        return EMU_UNHANDLED;
    }
    if (r < 0 && !v->stop && v->exc.vector >= 0) {
        // A fault: the instruction did not happen. Its frame points at the instruction.
        if (in->op != 0x6c && in->op != 0x6d && in->op != 0x6e && in->op != 0x6f)
            v->gpr[R_ESP] = esp;
        v->eip = addr;
        intr_raise_recorded(v);
    }
    return EMU_OK;
}
