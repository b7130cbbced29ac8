// Hardware task switching (task.h). SDM 3A §7.3 says what a task switch does; where the SDM
// leaves an order or a detail open, this does what QEMU's TCG does (target/i386, switch_tss):
// the new TSS is read whole before anything changes, the old task's state is saved, busy bits
// and the back link are written, then the new state is loaded -- first without checks, then
// the LDT and the segment registers with them, so that a fault there is the new task's.
// 32-bit TSSs only: a 16-bit TSS (286 tasks) stops the run with a diagnosis.
#include "task.h"

#include "hypercall.h"
#include "interrupt.h"
#include "mem.h"
#include "segment.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

// 32-bit TSS layout (SDM 3A Figure 7-2).
#define TSS_LINK     0x00
#define TSS_CR3      0x1c
#define TSS_EIP      0x20
#define TSS_EFLAGS   0x24
#define TSS_GPR      0x28   // EAX ECX EDX EBX ESP EBP ESI EDI, 4 bytes each
#define TSS_SREG     0x48   // ES CS SS DS FS GS, 4 bytes each (selector in the low 2)
#define TSS_LDT      0x60
#define TSS32_LIMIT  0x67   // the smallest limit a 32-bit TSS may have
#define BUSY         (1u << 9)   // in a TSS descriptor's high dword: type 9 <-> 11
#define DR7_LOCAL    0x55u  // L0-L3

static int set_busy(struct vcpu *v, uint16_t sel, bool busy)
{
    uint32_t at = v->gdtr.base + (sel & ~7u) + 4, hi;
    if (vmem_read(v, at, &hi, 4, ACC_SYS) < 0)
        return -1;
    hi = busy ? hi | BUSY : hi & ~BUSY;
    return vmem_write(v, at, &hi, 4, ACC_SYS);
}

// A segment register from the new TSS, with the checks QEMU makes (#TS for a bad selector or
// descriptor, #NP if not present); cpl is the new task's (its CS selector's RPL).
static int load_sreg(struct vcpu *v, int sreg, uint16_t sel, int cpl)
{
    if (!(sel & ~3u)) {
        if (sreg == R1_SREG_SS || sreg == R1_SREG_CS)
            return emu_fault(v, T_TS, sel & ~3u);
        seg_commit(v, sreg, sel, 0);
        return 0;
    }
    uint64_t d;
    int r = desc_lookup(v, sel, &d);
    if (r)
        return r < 0 ? -1 : emu_fault(v, T_TS, sel & ~3u);
    uint32_t a = (uint32_t)(d >> 40) & 0xff;
    unsigned dpl = DESC_DPL(a), rpl = sel & 3u;
    bool bad = !(a & DESC_S);
    if (sreg == R1_SREG_CS)
        bad |= !(a & DESC_X) || dpl != rpl;
    else if (sreg == R1_SREG_SS)
        bad |= (a & DESC_X) || !(a & DESC_RW) || dpl != (unsigned)cpl || dpl != rpl;
    else
        bad |= ((a & DESC_X) && !(a & DESC_RW)) ||
               (!((a & DESC_X) && (a & DESC_DC)) && (dpl < (unsigned)cpl || dpl < rpl));
    if (bad)
        return emu_fault(v, T_TS, sel & ~3u);
    if (!(a & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    if (sreg == R1_SREG_CS)
        seg_commit_cs(v, sel, d, cpl);
    else
        seg_commit(v, sreg, sel, d);
    return 0;
}

// The LDT the new TSS names (#TS if it is not a present LDT descriptor in the GDT).
static int load_ldt(struct vcpu *v, uint16_t sel)
{
    v->ldtr = (struct seg){.sel = (uint16_t)(sel & ~4u)};
    if (sel & 4u)
        return emu_fault(v, T_TS, sel & ~3u);
    if (!(sel & ~3u))
        return 0;
    uint64_t d;
    int r = desc_lookup(v, sel, &d);
    if (r)
        return r < 0 ? -1 : emu_fault(v, T_TS, sel & ~3u);
    uint32_t a = (uint32_t)(d >> 40) & 0xff;
    if ((a & DESC_S) || DESC_TYPE(a) != DESC_T_LDT || !(a & DESC_P))
        return emu_fault(v, T_TS, sel & ~3u);
    desc_decode(d, &v->ldtr.base, &v->ldtr.limit, &v->ldtr.attr);
    return 0;
}

// Everything after the new task's state is in place; a fault here belongs to the new task.
static int load_checked(struct vcpu *v, const uint32_t *t, uint32_t eip)
{
    seg_fast_flush(v);   // the LDT changes
    if (load_ldt(v, (uint16_t)t[TSS_LDT / 4]) < 0)
        return -1;
    int cpl = (int)(t[TSS_SREG / 4 + R1_SREG_CS] & 3u);
    static const int order[] = {R1_SREG_CS, R1_SREG_SS, R1_SREG_ES, R1_SREG_DS, R1_SREG_FS,
                                R1_SREG_GS};
    for (unsigned i = 0; i < 6; i++)
        if (load_sreg(v, order[i], (uint16_t)t[TSS_SREG / 4 + order[i]], cpl) < 0)
            return -1;
    if (eip > v->seg[R1_SREG_CS].limit)
        return emu_fault(v, T_GP, 0);
    return 0;
}

int task_switch(struct vcpu *v, uint16_t sel, uint64_t d, enum task_source src,
                uint32_t next_eip, bool has_err, uint32_t err)
{
    uint32_t a = (uint32_t)(d >> 40) & 0xff;
    if (DESC_TYPE(a) == DESC_T_TASKGATE) {
        if (!(a & DESC_P))
            return emu_fault(v, T_NP, sel & ~3u);
        sel = (uint16_t)(d >> 16);
        if (sel & SEL_TI)
            return emu_fault(v, T_TS, sel & ~3u);
        int r = desc_lookup(v, sel, &d);
        if (r)
            return r < 0 ? -1 : emu_fault(v, T_GP, sel & ~3u);
        a = (uint32_t)(d >> 40) & 0xff;
        if ((a & DESC_S) || (DESC_TYPE(a) & 7u) != 1)   // an available TSS
            return emu_fault(v, T_GP, sel & ~3u);
    }
    if (!(a & DESC_P))
        return emu_fault(v, T_NP, sel & ~3u);
    uint32_t base, limit;
    uint16_t attr;
    desc_decode(d, &base, &limit, &attr);
    if (!(v->tr.sel & ~3u) || !v->tr.attr) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "task switch to %#x with no task register loaded "
                  "(ltr): nowhere to save the current task", sel);
        return -1;
    }
    if (!(DESC_TYPE(a) & 8u) || !(DESC_TYPE(ATTR_ACCESS(v->tr.attr)) & 8u)) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "task switch %s a 16-bit TSS (%#x): only 32-bit tasks "
                  "are emulated", DESC_TYPE(a) & 8u ? "from" : "to",
                  DESC_TYPE(a) & 8u ? v->tr.sel : sel);
        return -1;
    }
    if ((sel & SEL_TI) || limit < TSS32_LIMIT)
        return emu_fault(v, T_TS, sel & ~3u);

    // Read the new TSS whole, and touch the old one's first and last bytes, so that a page
    // fault comes now, in the old task, before anything changed.
    uint32_t t[TSS32_LIMIT / 4 + 1];
    uint8_t b0, b1;
    uint32_t old = v->tr.base;
    if (vmem_read(v, base, t, sizeof t, ACC_SYS) < 0 ||
        vmem_read(v, old, &b0, 1, ACC_SYS) < 0 || vmem_write(v, old, &b0, 1, ACC_SYS) < 0 ||
        vmem_read(v, old + TSS32_LIMIT, &b1, 1, ACC_SYS) < 0 ||
        vmem_write(v, old + TSS32_LIMIT, &b1, 1, ACC_SYS) < 0)
        return -1;
    if (t[TSS_EFLAGS / 4] & FL_VM) {
        vcpu_stop(v, STATUS_UNSUPPORTED, "task switch to a virtual-8086 task (%#x): not "
                  "emulated", sel);
        return -1;
    }

    // The old task: busy bit (a jmp or iret leaves it), its state, the back link.
    if ((src == TASK_JMP || src == TASK_IRET) && set_busy(v, v->tr.sel, false) < 0)
        return -1;
    uint32_t eflags = vcpu_eflags(v);
    if (src == TASK_IRET)
        eflags &= ~FL_NT;
    uint32_t save[(TSS_SREG - TSS_EIP) / 4];
    save[0] = r1_t2o(v, next_eip);
    save[1] = eflags;
    for (unsigned i = 0; i < 8; i++)
        save[2 + i] = v->gpr[i];
    if (vmem_write(v, old + TSS_EIP, save, sizeof save, ACC_SYS) < 0)
        return -1;
    for (unsigned i = 0; i < 6; i++)   // selectors: the 16 bits, not the reserved ones above
        if (vmem_write(v, old + TSS_SREG + 4 * i, &v->seg[i].sel, 2, ACC_SYS) < 0)
            return -1;
    uint32_t new_eflags = t[TSS_EFLAGS / 4];
    if (src == TASK_CALL) {
        uint16_t link = v->tr.sel;
        if (vmem_write(v, base + TSS_LINK, &link, 2, ACC_SYS) < 0)
            return -1;
        new_eflags |= FL_NT;
    }
    if (src != TASK_IRET && set_busy(v, sel, true) < 0)
        return -1;

    // The new task, unchecked: TR, CR3, EIP, EFLAGS, registers.
    v->cr0 |= CR0_TS;
    v->tr.sel = sel;
    desc_decode(d | (uint64_t)BUSY << 32, &v->tr.base, &v->tr.limit, &v->tr.attr);
    if (v->cr0 & CR0_PG) {
        v->cr3 = t[TSS_CR3 / 4];
        mem_view_cr3(v);
    }
    uint32_t eip = t[TSS_EIP / 4];
    v->eip = r1_o2t(v, eip);
    vcpu_set_eflags(v, new_eflags, FL_ARITH | FL_DF | FL_TF | FL_AC | FL_ID | FL_IF | FL_IOPL |
                                       FL_RF | FL_NT);
    for (unsigned i = 0; i < 8; i++)
        v->gpr[i] = t[TSS_GPR / 4 + i];
    v->dr[7] &= ~DR7_LOCAL;
    stats_count("task-switch");

    // Then with the checks; from here a fault is delivered in the new task.
    v->exc.vector = -1;
    if (load_checked(v, t, eip) < 0 && !v->stop) {
        intr_raise_recorded(v);
        return 0;
    }
    if (has_err) {
        uint32_t esp = v->gpr[R_ESP] - 4;
        if (!(ATTR_FLAGS(v->seg[R1_SREG_SS].attr) & DESC_F_DB))
            esp = (v->gpr[R_ESP] & 0xffff0000u) | ((esp) & 0xffffu);
        if (vmem_write(v, v->seg[R1_SREG_SS].base + esp, &err, 4, ACC_SYS) < 0) {
            intr_raise_recorded(v);
            return 0;
        }
        v->gpr[R_ESP] = esp;
    }
    return 0;
}
