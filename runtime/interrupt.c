// Exceptions and interrupts through the guest's IDT (SDM 3A §6.10-6.14), iret (vol. 2, IRET),
// and the double/triple-fault rules (SDM 3A §6.15, "Interrupt 8").
//
// The guest's frames are built with its virtual EFLAGS (IF, IOPL from the vCPU page), its
// virtual CS selector, and original addresses only (a trampoline address is mapped back).
// Privilege changes take ESP/SS from the guest's TSS, as the processor does.
#include "interrupt.h"

#include <stdio.h>
#include <string.h>

#include "hypercall.h"
#include "mem.h"
#include "segment.h"
#include "stats.h"
#include "task.h"
#include "vcpu.h"
#include "x86.h"

static void remember(struct vcpu *v, int vector)
{
    v->last_vectors[v->nlast++ % 8] = vector;
}

// One delivery attempt. Returns 0, or -1 with the fault that stopped it in v->exc.
static int deliver_once(struct vcpu *v, int vector, enum event_kind kind, bool has_err,
                        uint32_t err, uint32_t ret_eip)
{
    uint32_t ext = (kind == EV_EXT) ? 1 : 0;
    uint32_t gate_err = (uint32_t)vector * 8 + 2 + ext;  // IDT bit set, EXT as needed
    if ((uint32_t)vector * 8 + 7 > v->idtr.limit)
        return emu_fault(v, T_GP, gate_err);
    uint64_t g;
    if (vmem_read(v, v->idtr.base + (uint32_t)vector * 8, &g, 8, ACC_SYS) < 0)
        return -1;
    uint32_t access = (uint32_t)(g >> 40) & 0xff;
    unsigned type = DESC_TYPE(access), dpl = DESC_DPL(access);
    if (type != DESC_T_INTGATE && type != DESC_T_TRAPGATE && type != DESC_T_INT16 &&
        type != DESC_T_TRAP16 && type != DESC_T_TASKGATE)
        return emu_fault(v, T_GP, gate_err);
    if ((kind == EV_SOFT || kind == EV_SOFT_EXC) && (unsigned)v->cpl > dpl)
        return emu_fault(v, T_GP, gate_err);
    if (!(access & DESC_P))
        return emu_fault(v, T_NP, gate_err);
    if (type == DESC_T_TASKGATE) {   // the handler is a task (task.c)
        if (task_switch(v, (uint16_t)(vector * 8), g, TASK_CALL, ret_eip, has_err, err) < 0)
            return -1;
        v->halted = false;
        remember(v, vector);
        stats_vector(vector);
        return 0;
    }
    bool gate32 = type == DESC_T_INTGATE || type == DESC_T_TRAPGATE;
    if (!gate32) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "vector %d uses a 16-bit gate: not emulated", vector);
        return 0;
    }
    uint16_t cs = (uint16_t)(g >> 16);
    uint32_t target = (uint32_t)(g & 0xffff) | (uint32_t)(g >> 48) << 16;

    // The handler's code segment decides the new privilege level.
    uint64_t csd;
    if (!(cs & ~3u))
        return emu_fault(v, T_GP, ext);
    if (desc_read(v, cs, &csd) < 0)
        return -1;
    uint32_t csa = (uint32_t)(csd >> 40) & 0xff;
    unsigned new_cpl = (csa & DESC_DC) ? (unsigned)v->cpl : DESC_DPL(csa);
    if (!(csa & DESC_S) || !(csa & DESC_X) || new_cpl > (unsigned)v->cpl)
        return emu_fault(v, T_GP, (cs & ~3u) + ext);
    if (seg_check_code(v, cs, (int)new_cpl, &csd, T_GP) < 0)
        return -1;

    uint32_t eflags = vcpu_eflags(v);
    uint32_t old_esp = v->gpr[R_ESP];
    uint16_t old_ss = v->seg[R1_SREG_SS].sel;
    uint16_t old_cs = v->seg[R1_SREG_CS].sel;
    uint64_t ssd = 0;
    uint16_t new_ss = old_ss;
    uint32_t esp = old_esp;
    bool outer = new_cpl < (unsigned)v->cpl;
    if (outer && tss_stack(v, new_cpl, ext, &esp, &new_ss, &ssd) < 0)
        return -1;

    // Build the frame on the (possibly new) stack; supervisor accesses.
    uint32_t frame[6];
    int n = 0;
    if (outer) {
        frame[n++] = old_ss;
        frame[n++] = old_esp;
    }
    frame[n++] = eflags;
    frame[n++] = old_cs;
    frame[n++] = r1_t2o(v, ret_eip);
    if (has_err)
        frame[n++] = err;
    uint32_t ss_base = outer ? 0 : v->seg[R1_SREG_SS].base;
    if (outer) {
        uint32_t lim;
        uint16_t at;
        desc_decode(ssd, &ss_base, &lim, &at);
    }
    for (int i = 0; i < n; i++) {
        esp -= 4;
        if (vmem_write(v, ss_base + esp, &frame[i], 4, ACC_SYS) < 0)
            return -1;
    }

    // Commit.
    if (outer)
        seg_commit(v, R1_SREG_SS, new_ss, ssd);
    v->gpr[R_ESP] = esp;
    seg_commit_cs(v, cs, csd, (int)new_cpl);
    v->eip = r1_o2t(v, target);
    uint32_t clear = FL_TF | FL_NT | FL_RF | FL_VM;
    if (type == DESC_T_INTGATE)
        clear |= FL_IF;
    vcpu_set_eflags(v, eflags & ~clear, clear);
    v->halted = false;
    remember(v, vector);
    stats_vector(vector);
    return 0;
}

// Exception classes for the double-fault table (SDM 3A Table 6-5).
static int fault_class(int vec)
{
    if (vec == T_PF)
        return 2;
    return T_CONTRIBUTORY(vec) ? 1 : 0;
}

static const char *vector_name(int vec, char buf[8])
{
    static const char *const names[20] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD",
                                          "#NM", "#DF", "#MF9", "#TS", "#NP", "#SS", "#GP",
                                          "#PF", "vec15", "#MF", "#AC", "#MC", "#XM"};
    if (vec >= 0 && vec < 20)
        return names[vec];
    snprintf(buf, 8, "%#x", vec);
    return buf;
}

void intr_deliver(struct vcpu *v, int vector, enum event_kind kind, uint32_t err,
                  uint32_t ret_eip)
{
    // A fault while delivering an event: a benign pair is handled serially (the new
    // exception is delivered instead), a contributory or page-fault pair becomes #DF, and a
    // fault while delivering #DF shuts the processor down. The follow-up exceptions are
    // faults of the instruction at v->eip (the caller's).
    int chain[6], n = 0;
    for (;;) {
        bool has_err = kind == EV_EXC && T_HAS_ERR(vector);
        v->exc.vector = -1;
        if (deliver_once(v, vector, kind, has_err, err, ret_eip) == 0 || v->stop)
            return;
        int next = v->exc.vector;
        uint32_t next_err = v->exc.err;
        v->exc.vector = -1;
        chain[n++] = vector;
        remember(v, vector);
        if (vector == T_DF || n == 5) {
            char line[160], b[8];
            int len = 0;
            for (int i = 0; i < n; i++)
                len += snprintf(line + len, sizeof line - (size_t)len, "%s -> ",
                                vector_name(chain[i], b));
            snprintf(line + len, sizeof line - (size_t)len, "%s(%#x)", vector_name(next, b),
                     next_err);
            vcpu_stop(v, STATUS_TRIPLE_FAULT, "triple fault (shutdown): %s, each raised while "
                      "delivering the one before", line);
            return;
        }
        bool df = kind == EV_EXC && ((fault_class(vector) == 1 && fault_class(next) == 1) ||
                                     (fault_class(vector) == 2 && fault_class(next) != 0));
        vector = df ? T_DF : next;
        err = df ? 0 : next_err;
        kind = EV_EXC;
        ret_eip = v->eip;
    }
}

void intr_raise_recorded(struct vcpu *v)
{
    int vec = v->exc.vector;
    if (vec < 0)
        return;
    intr_deliver(v, vec, EV_EXC, v->exc.err, v->eip);
}

int intr_iret(struct vcpu *v, int opsize, uint32_t next_eip)
{
    uint32_t vfl = vcpu_eflags(v);
    if (vfl & FL_NT) {
        // Task return through the TSS back link (vol. 2, IRET "TASK-RETURN").
        uint16_t link = 0;
        if (vmem_read(v, v->tr.base, &link, 2, ACC_SYS) < 0)
            return -1;
        if ((link & SEL_TI) || (link | 7u) > v->gdtr.limit)
            return emu_fault(v, T_TS, link & ~3u);
        uint64_t d;
        if (desc_read(v, link, &d) < 0)
            return -1;
        uint32_t access = (uint32_t)(d >> 40) & 0xff;
        if ((access & DESC_S) || (DESC_TYPE(access) != DESC_T_TSS_BUSY &&
                                  DESC_TYPE(access) != DESC_T_TSS16B))
            return emu_fault(v, T_TS, link & ~3u);
        if (!(access & DESC_P))
            return emu_fault(v, T_NP, link & ~3u);
        if (task_switch(v, link, d, TASK_IRET, next_eip, false, 0) < 0)
            return -1;
        v->nmi_blocked = false;   // an iret ends an NMI handler
        return 0;
    }
    uint32_t esp = v->gpr[R_ESP], ssb = v->seg[R1_SREG_SS].base;
    uint32_t eip = 0, cs = 0, fl = 0;
    // Pop EIP, CS, EFLAGS (16 or 32 bits each) without committing ESP until all checks pass.
    if (vmem_read(v, ssb + esp, &eip, (unsigned)opsize, 0) < 0 ||
        vmem_read(v, ssb + esp + (unsigned)opsize, &cs, (unsigned)opsize, 0) < 0 ||
        vmem_read(v, ssb + esp + 2u * (unsigned)opsize, &fl, (unsigned)opsize, 0) < 0)
        return -1;
    esp += 3u * (unsigned)opsize;
    if (opsize == 2)
        fl = (vfl & 0xffff0000u) | (fl & 0xffff);
    if (fl & FL_VM) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "iret to virtual-8086 mode is not emulated");
        return 0;
    }
    unsigned rpl = cs & 3;
    if (rpl < (unsigned)v->cpl)
        return emu_fault(v, T_GP, cs & ~3u);
    uint64_t csd;
    if (seg_check_code(v, (uint16_t)cs, (int)rpl, &csd, T_GP) < 0)
        return -1;
    uint32_t new_esp = esp, ss = 0;
    uint64_t ssd = 0;
    bool outer = rpl > (unsigned)v->cpl;
    if (outer) {
        if (vmem_read(v, ssb + esp, &new_esp, (unsigned)opsize, 0) < 0 ||
            vmem_read(v, ssb + esp + (unsigned)opsize, &ss, (unsigned)opsize, 0) < 0)
            return -1;
        if (seg_check_stack(v, (uint16_t)ss, rpl, &ssd, T_GP, 0) < 0)
            return -1;
    }
    // Which EFLAGS bits this privilege may change (vol. 2, IRET; same rules as POPF).
    uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_RF | FL_AC | FL_ID;
    if (v->cpl == 0)
        mask |= FL_IOPL | FL_IF | FL_VIF | FL_VIP;
    else if ((unsigned)v->cpl <= ((vfl & FL_IOPL) >> FL_IOPL_SHIFT))
        mask |= FL_IF;
    if (opsize == 2)
        mask &= 0xffff;
    seg_commit_cs(v, (uint16_t)cs, csd, (int)rpl);
    v->eip = r1_o2t(v, opsize == 2 ? eip & 0xffff : eip);
    vcpu_set_eflags(v, fl, mask);
    if (outer) {
        seg_commit(v, R1_SREG_SS, (uint16_t)ss, ssd);
        v->gpr[R_ESP] = new_esp;
        seg_null_inaccessible(v);
    } else {
        v->gpr[R_ESP] = esp;
    }
    v->nmi_blocked = false;   // an iret ends an NMI handler
    vcpu_pf_return(v);
    return 0;
}
