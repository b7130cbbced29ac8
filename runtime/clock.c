// The guest's time. Every device that tells time -- the PIT, the local APIC timer, the RTC,
// the TSC -- reads clock_ns(): the host's CLOCK_MONOTONIC plus the time skipped so far.
//
// Skipping (--clock warp, the default): when the guest can do nothing but wait for its next
// timer interrupt -- halted, or spinning in a loop that only reads memory (a jiffies or
// "ticks" wait) -- and no host input could end the wait sooner, the guest's time jumps to
// that timer's deadline instead of the host sleeping or the guest spinning through it. The
// guest sees what it would on a machine that happened to be busy elsewhere until then: every
// clock agrees, every interrupt comes in order, only sooner in host time. QEMU's
// -icount sleep=off does the same for halts. Boots that wait on their own timeouts (device
// probes, sleep system calls) then take a fraction of their host time.
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "mem.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"

bool clock_warp = true;
static uint64_t skipped;   // ns

void clock_host(clockid_t id, struct timespec *ts)
{
    // A system call, not the vDSO: the vDSO reads the TSC, and rdtsc traps in this process
    // (PR_TSC_SIGSEGV, so that the guest's rdtsc reads the guest's TSC).
    if (syscall(SYS_clock_gettime, id, ts) != 0)
        *ts = (struct timespec){0, 0};
}

uint64_t clock_host_ns(clockid_t id)
{
    struct timespec ts;
    clock_host(id, &ts);
    return ts_ns(ts);
}

uint64_t clock_ns(void)
{
    return clock_host_ns(CLOCK_MONOTONIC) + skipped;
}

uint64_t clock_realtime_ns(void)
{
    return clock_host_ns(CLOCK_REALTIME) + skipped;
}

uint64_t clock_skipped_ns(void)
{
    return skipped;
}

void clock_skip(uint64_t ns)
{
    skipped += ns;
}

// One host timer (SIG_SPIN) samples where the guest is every SAMPLE_NS while it runs, so
// that a wait loop is found soon after the guest enters it, and probes PROBE_NS after the
// guest re-enters a wait loop: long enough for thousands of passes, short next to any timer
// period.
#define SAMPLE_NS 1000000u
#define PROBE_NS  20000u
static timer_t probe;

static void probe_set(uint32_t first_ns, uint32_t every_ns)
{
    struct itimerspec its = {.it_value = {0, first_ns}, .it_interval = {0, every_ns}};
    timer_settime(probe, 0, &its, NULL);
}

void clock_init(void)
{
    // The guest's rdtsc (in code the rewriter did not patch: ring 3, an unpatched image)
    // traps and reads the guest's TSC, which follows the guest's time.
    if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) != 0)
        fprintf(stderr, "ring1-run: warning: cannot make rdtsc trap (PR_SET_TSC): unpatched "
                        "guest code reads the host's time-stamp counter\n");
    if (!clock_warp)
        return;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_SPIN};
    if (timer_create(CLOCK_MONOTONIC, &sev, &probe) < 0) {
        perror("ring1-run: timer_create");
        exit(STATUS_INTERNAL);
    }
    probe_set(SAMPLE_NS, SAMPLE_NS);
}

// The probe counts this thread's CPU time, not the host's: a guest descheduled by the host
// right after it came back to its loop has not re-read its condition yet.
static uint64_t probe_cpu0;

void clock_probe_arm(void)
{
    probe_cpu0 = clock_host_ns(CLOCK_THREAD_CPUTIME_ID);
    probe_set(PROBE_NS, SAMPLE_NS);
}

bool clock_probe_ripe(void)
{
    uint64_t ran = clock_host_ns(CLOCK_THREAD_CPUTIME_ID) - probe_cpu0;
    if (ran >= PROBE_NS)
        return true;
    probe_set((uint32_t)(PROBE_NS - ran), SAMPLE_NS);
    return false;
}

void clock_sampling(bool on)
{
    if (clock_warp)
        probe_set(on ? SAMPLE_NS : 0, on ? SAMPLE_NS : 0);
}

// Is the instruction one a pure wait loop may contain? Loads into a register, compares and
// tests, and register arithmetic on a register loaded earlier in the same pass (so that no
// register carries state from one pass to the next: `dec %ecx; jnz` counts, it does not
// wait). Never a store, a call, a port access or anything sensitive.
static bool spin_insn_ok(const struct insn *in, uint8_t *defined)
{
    uint16_t op = in->op;
    if (in->lock || (in->rep && !(op == 0x90 && in->rep == 0xf3)))
        return false;
    switch (op) {
    case 0x90:                       // nop, pause (f3 90)
        return true;
    case 0x0f1f:                     // nopl
        return true;
    case 0x8b: case 0x8a:            // mov r, r/m
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:   // movzx / movsx
        if (!insn_has_mem(in) && !(*defined & (1u << in->rm)))
            return false;            // a register copy of something not loaded this pass
        *defined |= (uint8_t)(1u << in->reg);
        return true;
    case 0xa0: case 0xa1:            // mov al/eax, moffs
        *defined |= 1u;
        return true;
    case 0x38: case 0x39: case 0x3a: case 0x3b:   // cmp
    case 0x84: case 0x85:                         // test
    case 0x3c: case 0x3d: case 0xa8: case 0xa9:   // cmp/test al/eax, imm
        return true;
    case 0x80: case 0x81: case 0x83:              // group 1 with an immediate
        if (in->reg == 7)
            return true;                          // cmp r/m, imm
        // and/or/xor/add/sub on a register loaded this pass
        return in->mod == 3 && in->reg != 2 && in->reg != 3 && (*defined & (1u << in->rm));
    case 0xf6: case 0xf7:
        return in->reg == 0;                      // test r/m, imm
    case 0x21: case 0x23: case 0x09: case 0x0b: case 0x31: case 0x33:
    case 0x01: case 0x03: case 0x29: case 0x2b:   // and/or/xor/add/sub between registers
        if (in->mod != 3)
            return false;
        {
            unsigned dst = (op & 2) ? in->reg : in->rm, src = (op & 2) ? in->rm : in->reg;
            return (*defined & (1u << dst)) && (*defined & (1u << src));
        }
    default:
        return false;
    }
}

bool clock_spin_loop(struct vcpu *v, uint32_t *lo, uint32_t *hi)
{
    // The loop's backward branch lies after EIP, its target at or before it, within 64
    // bytes. Decode forward from EIP to find it, then the body from its target.
    uint32_t eip = vcpu_lin_eip(v);
    uint8_t buf[128];
    uint32_t base = eip - 64;
    if (vmem_fetch(v, base, buf, sizeof buf) < sizeof buf)
        return false;
    unsigned at = 64;
    struct insn in;
    int32_t target = -1;
    unsigned branch_end = 0;
    for (int n = 0; n < 16 && at < sizeof buf; n++) {
        int len = decode(buf + at, sizeof buf - at, &in);
        if (len < 0)
            return false;
        bool jcc8 = in.op >= 0x70 && in.op <= 0x7f, jcc32 = in.op >= 0x0f80 && in.op <= 0x0f8f;
        if (jcc8 || in.op == 0xeb || jcc32 || in.op == 0xe9) {
            int32_t rel = (jcc8 || in.op == 0xeb) ? (int8_t)in.imm : (int32_t)in.imm;
            int32_t t = (int32_t)(at + (unsigned)len) + rel;
            if (t <= 64 && t >= 0) {
                target = t;
                branch_end = at + (unsigned)len;
                break;
            }
            if (in.op == 0xeb || in.op == 0xe9)
                return false;                 // leaves: not a loop around EIP
        }
        at += (unsigned)len;
    }
    if (target < 0)
        return false;
    // The body, from the target to the backward branch: pure waiting only. Forward
    // branches out of the loop are its exits.
    uint8_t defined = 0;
    bool through_eip = false;
    for (unsigned p = (unsigned)target; p < branch_end;) {
        through_eip |= p == 64;
        int len = decode(buf + p, branch_end - p, &in);
        if (len < 0)
            return false;
        bool jcc8 = in.op >= 0x70 && in.op <= 0x7f, jcc32 = in.op >= 0x0f80 && in.op <= 0x0f8f;
        if (p + (unsigned)len == branch_end)
            break;                            // the backward branch itself
        if (jcc8 || jcc32) {
            int32_t rel = jcc8 ? (int8_t)in.imm : (int32_t)in.imm;
            int32_t t = (int32_t)(p + (unsigned)len) + rel;
            if (t >= target && (unsigned)t < branch_end && t != target)
                return false;                 // branches inside the body: keep it simple
        } else if (!spin_insn_ok(&in, &defined)) {
            return false;
        }
        p += (unsigned)len;
    }
    if (!through_eip)
        return false;                         // EIP is not on this decoding of the body
    *lo = base + (uint32_t)target;
    *hi = base + branch_end;
    return true;
}
