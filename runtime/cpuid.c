// The virtual CPU model: exactly QEMU's default for qemu-system-i386, "qemu32"
// (target/i386/cpu.c: family 6 model 6 stepping 3, GenuineIntel, "QEMU Virtual CPU version
// 2.5+"), as QEMU 7.2 with TCG reports it. The values below were read from a guest under
// qemu-system-i386 (runtime/tests/guest/qemuinfo.c, pcprobe.c), so a guest prints the same
// CPUID on both machines. Features the model advertises and the runtime does not emulate yet are
// marked; a guest that uses them is stopped with a diagnosis, not silently misled.
//
//   leaf 1 EDX 0x0781abfd: FPU DE PSE TSC MSR PAE(not emulated) MCE CX8 APIC(not emulated)
//                          SEP PGE CMOV PAT MMX FXSR SSE SSE2
//   leaf 1 ECX 0x80000001: SSE3, hypervisor
#include "cpuid.h"

#include <time.h>

#include "clock.h"
#include "vcpu.h"
#include "x86.h"

static const struct { uint32_t leaf, sub, r[4]; } model[] = {
    {0x00000000, 0, {0x00000004, 0x756e6547, 0x6c65746e, 0x49656e69}},  // max 4, GenuineIntel
    {0x00000001, 0, {0x00000663, 0x00000800, 0x80000001, 0x0781abfd}},
    {0x00000002, 0, {0x00000001, 0x00000000, 0x0000004d, 0x002c307d}},  // cache descriptors
    {0x00000003, 0, {0, 0, 0, 0}},
    {0x00000004, 0, {0x00000121, 0x01c0003f, 0x0000003f, 0x00000001}},  // L1D
    {0x00000004, 1, {0x00000122, 0x01c0003f, 0x0000003f, 0x00000001}},  // L1I
    {0x00000004, 2, {0x00000143, 0x03c0003f, 0x00000fff, 0x00000001}},  // L2
    {0x00000004, 3, {0x00000163, 0x03c0003f, 0x00003fff, 0x00000006}},  // L3
    {0x40000000, 0, {0x40000001, 0x54474354, 0x43544743, 0x47435447}},  // "TCGTCGTCGTCG"
    {0x40000001, 0, {0, 0, 0, 0}},
    {0x80000000, 0, {0x80000004, 0x756e6547, 0x6c65746e, 0x49656e69}},
    {0x80000001, 0, {0x00000663, 0x00000000, 0x00000000, 0x00000000}},
    {0x80000002, 0, {0x554d4551, 0x72695620, 0x6c617574, 0x55504320}},  // "QEMU Virtual CPU"
    {0x80000003, 0, {0x72657620, 0x6e6f6973, 0x352e3220, 0x0000002b}},  // " version 2.5+"
    {0x80000004, 0, {0, 0, 0, 0}},
};
#define MAX_BASIC    0x00000004u
#define MAX_EXTENDED 0x80000004u
#define HYPERVISOR   0x40000000u   // QEMU's own leaves (TCG's signature), 0x40000000-1
#define MAX_HYPERVISOR 0x40000001u

void cpuid_query(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    // Out-of-range leaves answer as the highest basic leaf (Intel SDM vol. 2, CPUID).
    if ((leaf > MAX_BASIC && leaf < HYPERVISOR) ||
        (leaf > MAX_HYPERVISOR && leaf < 0x80000000u) || leaf > MAX_EXTENDED)
        leaf = MAX_BASIC;
    if (leaf != 4)
        sub = 0;
    for (unsigned i = 0; i < sizeof model / sizeof model[0]; i++) {
        if (model[i].leaf == leaf && model[i].sub == sub) {
            for (int j = 0; j < 4; j++)
                out[j] = model[i].r[j];
            return;
        }
    }
    out[0] = out[1] = out[2] = out[3] = 0;
}

uint64_t vtsc_read(struct vcpu *v)
{
    return clock_ns() * VTSC_MHZ / 1000u + (uint64_t)v->tsc_offset;
}

// The fixed-range MTRR an index names (0-10), or -1.
static int mtrr_fixed(uint32_t index)
{
    if (index == MSR_MTRR_FIX64K)
        return 0;
    if (index - MSR_MTRR_FIX16K < 2)
        return 1 + (int)(index - MSR_MTRR_FIX16K);
    if (index - MSR_MTRR_FIX4K < 8)
        return 3 + (int)(index - MSR_MTRR_FIX4K);
    return -1;
}

// The MSRs as QEMU's TCG has them for qemu32: it keeps some, answers constants for a few, and
// reads 0 and ignores writes for every other index -- no #GP either way (a kernel probing an
// MSR with a guarded rdmsr finds the same on both machines). It keeps the MTRRs, STAR and
// MCG_STATUS although the model reports neither MTRRs, SYSCALL nor MCA. One exception: QEMU
// 7.2 reads the TSC MSR as 0, ring1 reads the counter, as a processor does.
int msr_read(struct vcpu *v, uint32_t index, uint64_t *val)
{
    if (index - MSR_MTRR_PHYS < 16) {
        *val = v->msr_mtrr_var[index - MSR_MTRR_PHYS];
        return 0;
    }
    if (mtrr_fixed(index) >= 0) {
        *val = v->msr_mtrr_fixed[mtrr_fixed(index)];
        return 0;
    }
    switch (index) {
    case MSR_TSC:           *val = vtsc_read(v); return 0;
    case MSR_APIC_BASE:     *val = v->msr_apic_base; return 0;
    case MSR_UCODE_REV:     *val = 1ull << 32; return 0;           // revision 1
    case MSR_SYSENTER_CS:   *val = v->msr_sysenter_cs; return 0;
    case MSR_SYSENTER_ESP:  *val = v->msr_sysenter_esp; return 0;
    case MSR_SYSENTER_EIP:  *val = v->msr_sysenter_eip; return 0;
    case MSR_PERF_STATUS:   *val = 4ull << 40 | 1000; return 0;    // multiplier 4
    case MSR_MISC_ENABLE:   *val = v->msr_misc_enable; return 0;
    case MSR_PAT:           *val = v->msr_pat; return 0;
    case MSR_MTRR_DEF_TYPE: *val = v->msr_mtrr_def; return 0;
    case MSR_STAR:          *val = v->msr_star; return 0;
    case MSR_MCG_STATUS:    *val = v->msr_mcg_status; return 0;
    default:                *val = 0; return 0;   // MTRRcap, MCG_CAP, EFER...
    }
}

int msr_write(struct vcpu *v, uint32_t index, uint64_t val)
{
    if (index - MSR_MTRR_PHYS < 16) {
        v->msr_mtrr_var[index - MSR_MTRR_PHYS] = val;
        return 0;
    }
    if (mtrr_fixed(index) >= 0) {
        v->msr_mtrr_fixed[mtrr_fixed(index)] = val;
        return 0;
    }
    switch (index) {
    case MSR_TSC:
        v->tsc_offset = (int64_t)(val - clock_ns() * VTSC_MHZ / 1000u);
        return 0;
    case MSR_APIC_BASE:     v->msr_apic_base = val; return 0;
    case MSR_SYSENTER_CS:   v->msr_sysenter_cs = val & 0xffff; return 0;
    case MSR_SYSENTER_ESP:  v->msr_sysenter_esp = val & 0xffffffffu; return 0;
    case MSR_SYSENTER_EIP:  v->msr_sysenter_eip = val & 0xffffffffu; return 0;
    case MSR_MCG_STATUS:    v->msr_mcg_status = val; return 0;
    case MSR_MISC_ENABLE:   v->msr_misc_enable = val; return 0;
    case MSR_PAT:           v->msr_pat = val; return 0;
    case MSR_MTRR_DEF_TYPE: v->msr_mtrr_def = val; return 0;
    case MSR_STAR:          v->msr_star = val; return 0;
    default:                return 0;   // ignored, as QEMU's TCG does
    }
}
