// The virtual CPU and the run loop: enter the guest, take its exits, emulate, deliver
// interrupts, repeat (kvmtool's loop, with enter_guest() in place of KVM_RUN).
#include "vcpu.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "clock.h"
#include "entry.h"
#include "gdbstub.h"
#include "cpuid.h"
#include "emulate.h"
#include "hypercall.h"
#include "interrupt.h"
#include "mem.h"
#include "mmio.h"
#include "patched.h"
#include "rtcode.h"
#include "pio.h"
#include "platform.h"
#include "segment.h"
#include "signals.h"
#include "stats.h"
#include "usergate.h"
#include "x86.h"

struct vcpu vcpu0;
bool vcpu_trace;
static bool gdb_tf;   // the run loop entered the guest with the host's TF for gdb (gdbstub.c)
uint32_t vcpu_break_addr, vcpu_break_count;

bool vcpu_break_check(struct vcpu *v, uint32_t addr)
{
    static uint32_t hits;
    if (!vcpu_break_count || addr != vcpu_break_addr || ++hits < vcpu_break_count)
        return false;
    vcpu_stop(v, STATUS_BREAK, "--break: the instruction at %#x reached for the %u%s time",
              addr, hits, hits % 10 == 1 && hits % 100 != 11 ? "st" :
                          hits % 10 == 2 && hits % 100 != 12 ? "nd" :
                          hits % 10 == 3 && hits % 100 != 13 ? "rd" : "th");
    return true;
}

// entry.S addresses these fields by fixed offsets.
_Static_assert(offsetof(struct vcpu, eip) == 0x20, "entry.S V_EIP");
_Static_assert(offsetof(struct vcpu, eflags) == 0x24, "entry.S V_EFLAGS");
_Static_assert(offsetof(struct vcpu, host_rsp) == 0x28, "entry.S V_HOST_RSP");
_Static_assert(offsetof(struct vcpu, async) == 0x30, "entry.S V_ASYNC");
_Static_assert(offsetof(struct vcpu, fsbase) == 0x38, "entry.S V_FSBASE");
_Static_assert(HC_ENTRY_OFF == R1_ENTRY_OFF, "entry.h HC_ENTRY_OFF");
_Static_assert(offsetof(struct vcpu, guest_fsbase) == 0x48, "entry.S V_GUEST_FSB");
_Static_assert(offsetof(struct vcpu, seen_fs) == 0x50, "entry.S V_SEEN_FS");
_Static_assert(offsetof(struct vcpu, seen_es) == 0x5c, "entry.S V_SEEN_ES");
_Static_assert(offsetof(struct vcpu, xsave_mask) == 0x60, "entry.S V_XMASK");
_Static_assert(offsetof(struct vcpu, guest_gsbase) == 0x68, "entry.S V_GUEST_GSB");
_Static_assert(offsetof(struct vcpu, fpu_live) == 0x70, "entry.S V_FPU_LIVE");
_Static_assert(offsetof(struct vcpu, hsel_cs) == 0x74, "entry.S V_HSEL_CS");
_Static_assert(offsetof(struct vcpu, hsel_es) == 0x7a, "entry.S V_HSEL_ES");
_Static_assert(offsetof(struct vcpu, hsel_gs) == 0x7e, "entry.S V_HSEL_GS");
_Static_assert(offsetof(struct vcpu, fpu) == 0x80, "entry.S V_FPU");

void host_fpu_save(struct vcpu *v);   // entry.S

void host_fpu_begin(void)
{
    if (vcpu0.fpu_live)
        host_fpu_save(&vcpu0);
}

FILE *vcpu_trace_file;

void vcpu_tracef(const char *fmt, ...)
{
    host_fpu_begin();
    FILE *f = vcpu_trace_file ? vcpu_trace_file : stderr;
    va_list ap;
    va_start(ap, fmt);
    fputs("ring1-run: ", f);
    vfprintf(f, fmt, ap);
    va_end(ap);
}

void rlog(const char *fmt, ...)
{
    host_fpu_begin();
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

uint32_t vcpu_eflags(const struct vcpu *v)
{
    uint32_t fl = v->eflags & ~(R1_EFLAGS_VIRT | FL_RF);
    if (v->step_for_shadow)
        fl &= ~FL_TF;
    return fl | FL_1 | vcpu_vif(v) | (v->page[R1_VCPU_VFLAGS / 4] & (R1_EFLAGS_VIRT & ~FL_IF));
}

void vcpu_set_eflags(struct vcpu *v, uint32_t fl, uint32_t mask)
{
    uint32_t cur = vcpu_eflags(v);
    fl = (cur & ~mask) | (fl & mask);
    v->page[R1_VCPU_VIF / 4] = fl & FL_IF;
    v->page[R1_VCPU_VFLAGS / 4] = fl & (R1_EFLAGS_VIRT & ~FL_IF);
    // The host holds the rest, NT included; IF=1, IOPL=0, AC=0 on the host side always.
    v->eflags = (fl & ~(R1_EFLAGS_VIRT | FL_VM | FL_RF)) | FL_IF | FL_1;
}

uint32_t host_pkru, host_pkru_valid;   // entry.S: the host's PKRU, restored at every exit

// The XSAVE components switched between guest and host: every user component the host
// enables, not only those qemu32 reports (x87, SSE): compat-mode code can run AVX and AVX-512
// (EVEX: k0-k7, all of zmm0-7) whatever CPUID says, and would otherwise read what the runtime
// and the C library left there. Not PKRU (host memory protection, not the guest's) and not AMX
// (64-bit mode only; its tile data would not fit). Each component must fit in vcpu.fpu.
static uint64_t xsave_guest_mask_read(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t mask = ((uint64_t)hi << 32 | lo) & ~((1ull << 9) | (1ull << 17) | (1ull << 18));
    for (unsigned i = 2; i < 64; i++) {
        if (!(mask >> i & 1))
            continue;
        uint32_t r[4];
        host_cpuid(0xd, i, r);
        if ((uint64_t)r[1] + r[0] > sizeof vcpu0.fpu || (r[2] & 1))   // too big, or supervisor
            mask &= ~(1ull << i);
    }
    return mask;
}

// What the runtime needs of the host's CPUID, read once before the guest first runs: after
// that, cpuid faults in this process (vcpu_cpuid_faulting).
static uint64_t host_xsave_mask;
static bool host_amd, host_ospke;

static void host_cpu_read(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    host_xsave_mask = xsave_guest_mask_read();
    uint32_t r[4];
    host_cpuid(0, 0, r);
    host_amd = r[1] == 0x68747541u;   // "Auth"enticAMD
    host_cpuid(7, 0, r);
    host_ospke = r[2] & (1u << 4);
}

void vcpu_cpuid_faulting(void)
{
    host_cpu_read();
    // The guest's cpuid instructions the rewriter patched are emulated already; the others --
    // ring 3's, code written at run time, an unpatched image's -- would run natively and give
    // the host's answers. With CPUID faulting (Intel, and Linux's ARCH_SET_CPUID) they raise
    // #GP and are emulated with the CPU model like any trapped sensitive instruction.
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) == 0)
        stats_count("cpuid-faulting");
    else
        stats_count("cpuid-faulting-unavailable");
}

void vcpu_reset(struct vcpu *v)
{
    // The state a multiboot loader leaves (Multiboot 0.6.96 §3.2), as QEMU's does: flat
    // CS 0x08 / data 0x10, CR0 = PE|ET, IF=0, ESP whatever QEMU's loader had (0x6f08).
    v->cr0 = CR0_PE | CR0_ET;
    v->cr2 = v->cr3 = v->cr4 = 0;
    v->dr[6] = DR6_FIXED1;
    v->dr[7] = DR7_FIXED1;
    v->cpl = 0;
    v->hsel_fs = v->hsel_gs = 0x2b;   // what host_segments_init loads below
    v->user_limit = GUEST_SPACE;
    seg_set_flat(v, R1_SREG_CS, 0x08, true, 0);
    static const int data[] = {R1_SREG_ES, R1_SREG_SS, R1_SREG_DS, R1_SREG_FS, R1_SREG_GS};
    for (unsigned i = 0; i < 5; i++)
        seg_set_flat(v, data[i], 0x10, false, 0);
    v->ldtr = (struct seg){0};
    v->tr = (struct seg){0};
    v->idtr = (struct dtr){.base = 0, .limit = 0x3ff};   // the real-mode IVT, as QEMU leaves it
    v->msr_apic_base = APIC_BASE_DEFAULT | APIC_BASE_BSP | APIC_BASE_EN;
    v->msr_pat = 0x0007040600070406ull;
    v->msr_misc_enable = 1;   // fast strings
    v->msr_mtrr_def = v->msr_star = v->msr_mcg_status = 0;
    memset(v->msr_mtrr_var, 0, sizeof v->msr_mtrr_var);
    memset(v->msr_mtrr_fixed, 0, sizeof v->msr_mtrr_fixed);
    v->tsc_offset = -(int64_t)(clock_ns() * VTSC_MHZ / 1000u);   // the TSC counts from reset
    v->eflags = FL_1 | FL_IF;
    v->page[R1_VCPU_VIF / 4] = 0;
    v->page[R1_VCPU_VFLAGS / 4] = 0;
    v->page[R1_VCPU_PENDING / 4] = 0;
    seg_fast_flush(v);
    mmio_cache_flush();
    pio_cache_flush();
    v->delivering = -1;
    v->nmi_pending = v->nmi_blocked = false;
    v->pf.on = false;
    v->exc.vector = -1;
    // The guest's FPU/SSE/AVX state starts in the processor's init state: an XSAVE area whose
    // header marks every component as initial, with MXCSR at its reset value.
    memset(v->fpu, 0, sizeof v->fpu);
    v->fpu[24] = 0x80;          // MXCSR 0x1f80
    v->fpu[25] = 0x1f;
    host_cpu_read();
    v->xsave_mask = host_xsave_mask;
    __asm__ volatile("rdfsbase %0" : "=r"(v->fsbase));
    host_segments_init(v->fsbase);
    // Protection keys in use by the host (CPUID.7.0:ECX.OSPKE): the exit landing puts the
    // host's PKRU back (entry.S), whatever the guest wrote with wrpkru.
    if (host_ospke) {
        uint32_t lo, hi;
        __asm__ volatile("rdpkru" : "=a"(lo), "=d"(hi) : "c"(0));
        host_pkru = lo;
        host_pkru_valid = 1;
    }
}

void vcpu_stop(struct vcpu *v, int status, const char *why, ...)
{
    if (v->stop)
        return;
    v->stop = true;
    v->exit_status = status;
    if (why) {
        host_fpu_begin();
        va_list ap;
        va_start(ap, why);
        fprintf(stderr, "ring1-run: ");
        vfprintf(stderr, why, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        vcpu_dump(v, stderr);
    }
}

void vcpu_dump(const struct vcpu *v, FILE *f)
{
    host_fpu_begin();
    static const char *const names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
    fprintf(f, "  guest: eip=%#010x eflags=%#010x cpl=%d%s\n", v->eip, vcpu_eflags(v), v->cpl,
            v->halted ? " (halted)" : "");
    fprintf(f, "  ");
    for (int i = 0; i < 8; i++)
        fprintf(f, "%s=%#010x%s", names[i], v->gpr[i], i == 3 ? "\n  " : " ");
    fprintf(f, "\n  cs=%#06x ss=%#06x ds=%#06x es=%#06x fs=%#06x gs=%#06x tr=%#06x ldtr=%#06x\n",
            v->seg[R1_SREG_CS].sel, v->seg[R1_SREG_SS].sel, v->seg[R1_SREG_DS].sel,
            v->seg[R1_SREG_ES].sel, v->seg[R1_SREG_FS].sel, v->seg[R1_SREG_GS].sel, v->tr.sel,
            v->ldtr.sel);
    fprintf(f, "  cr0=%#010x cr2=%#010x cr3=%#010x cr4=%#010x gdtr=%#x/%#x idtr=%#x/%#x\n",
            v->cr0, v->cr2, v->cr3, v->cr4, v->gdtr.base, v->gdtr.limit, v->idtr.base,
            v->idtr.limit);
    fprintf(f, "  last vectors (oldest first):");
    unsigned n = v->nlast < 8 ? v->nlast : 8;
    for (unsigned i = 0; i < n; i++)
        fprintf(f, " %d", v->last_vectors[(v->nlast - n + i) % 8]);
    fprintf(f, "%s\n", n ? "" : " none");
    fprintf(f, "  last exit: signal %d trap %d err %#x addr %#llx; %llu exits\n", v->exit.signo,
            v->exit.trapno, v->exit.err, (unsigned long long)v->exit.addr,
            (unsigned long long)v->nexits);
    uint8_t code[16];
    unsigned nb = vmem_fetch((struct vcpu *)v, vcpu_lin_eip(v), code, sizeof code);
    fprintf(f, "  bytes at eip:");
    for (unsigned i = 0; i < nb; i++)
        fprintf(f, " %02x", code[i]);
    fprintf(f, "%s\n", nb ? "" : " (unreadable)");
}

// ---- exits -----------------------------------------------------------------------------------
// Fetch, decode and emulate the sensitive instruction at v->eip. False if it is not one.
static bool emulate_here(struct vcpu *v)
{
    uint8_t buf[INSN_MAX];
    unsigned n = vmem_fetch(v, vcpu_lin_eip(v), buf, sizeof buf);
    struct insn in;
    if (decode(buf, n, &in) < 0)
        return false;
    int kind = insn_kind(&in);
    if (!kind)
        return false;
    uint32_t addr = v->eip;
    if (vcpu_trace)
        vcpu_tracef("trap %s at %#x\n", kind_names[kind], addr);
    if (vcpu_break_check(v, addr))
        return true;
    stats_exit(kind, addr);
    return emulate(v, &in, addr, addr + in.len, addr + in.len) == EMU_OK;
}

// The guest loaded a segment register natively with a selector the host's GDT or LDT accepts
// without trapping (0x23, 0x2b, 0x33, 0x7b: Linux's user data and TLS selectors among them),
// so the host register holds the host's segment, not the one the guest's tables describe.
// At the next exit the load is made again as the processor would have made it -- from the
// guest's descriptor, base and limit included (a C library's %gs: thread pointer) -- and the
// instruction that exited runs again if it faulted: the fault may have been the host's
// segment's (the wrong base). A load the guest's tables refuse would have faulted at the load
// itself, which is past: the selector is kept as before.
static void native_load(struct vcpu *v, int sreg, uint16_t sel, const char *event)
{
    v->exc.vector = -1;
    if (seg_load(v, sreg, sel) < 0) {
        v->exc.vector = -1;
        v->seg[sreg].sel = sel;
    }
    v->page[R1_VCPU_SEL / 4 + sreg] = sel;
    v->native_load = true;
    stats_count(event);
}

static void check_host_segments(struct vcpu *v)
{
    v->native_load = false;
    if (v->seen_ds != v->hsel_ds)
        native_load(v, R1_SREG_DS, (uint16_t)v->seen_ds, "native-ds-load");
    if (v->seen_es != v->hsel_es)
        native_load(v, R1_SREG_ES, (uint16_t)v->seen_es, "native-es-load");
    if (v->seen_fs)   // the selector, with bit 16 set (entry.S)
        native_load(v, R1_SREG_FS, (uint16_t)v->seen_fs, "native-fs-load");
    if (v->seen_gs)
        native_load(v, R1_SREG_GS, (uint16_t)v->seen_gs, "native-gs-load");
    v->seen_fs = v->seen_gs = 0;
}

// A data access to the window's range where the window is PROT_NONE (everything but its
// first pages: vCPU page, hypercall stack, entry code and .ring1 -- those the guest reaches
// natively, unseen). On the PC that range holds what the guest's page tables give, or with
// paging off the physical address itself: RAM, a device, ROM or nothing (the default window,
// the top 4 MiB, is nothing but the BIOS ROM's last 256 KiB). The access is emulated there,
// as for MMIO: a #PF if the guest's tables say so, RAM read and written through mem_ram,
// unassigned addresses reading 0 with writes dropped (ROM too: ring1 has no BIOS code to show
// there, and QEMU drops writes to ROM). Instruction fetches, and instructions the MMIO
// emulation does not handle, still stop the run.
static bool window_range_access(struct vcpu *v, uint32_t lin, bool write)
{
    uint32_t pc = vcpu_lin_eip(v), pa, pferr = 0;
    if ((v->exit.err & PFERR_I) || (lin >= pc && lin - pc < INSN_MAX))
        return false;
    if (vmem_translate(v, lin, write ? ACC_WRITE : ACC_READ, &pa, &pferr) < 0) {
        v->cr2 = lin;
        stats_count("guest-page-fault");
        intr_deliver(v, T_PF, EV_EXC, pferr, v->eip);
        return true;
    }
    if (!mmio_emulate(v, lin, pa))
        return false;
    stats_count("window-range-access");
    return true;
}

static bool read_guest(void *ctx, uint32_t lin, uint8_t *buf, unsigned len)
{
    return vmem_fetch(ctx, lin, buf, len) == len;
}

// An instruction fetch from where nothing can run: the jump of a copy of patched code that
// ring1 did not repair (docs/code-copies.md, "still missing")? Then say so and stop.
static bool copy_jumped(struct vcpu *v)
{
    uint32_t copy, site, at = vcpu_lin_eip(v);
    if (!(v->exit.err & PFERR_I) || !patched_explain(at, read_guest, v, &copy, &site))
        return false;
    vcpu_stop(v, STATUS_UNSUPPORTED, "the guest ran a copy of patched code: the trampoline "
              "jump of the patched range at %#x, copied to %#x, landed at %#x. ring1 repairs a "
              "copy before it runs, but not one in a page of patched code, made while paging "
              "is off, or cut by a page boundary (docs/code-copies.md)", site, copy, at);
    return true;
}

static void page_fault(struct vcpu *v)
{
    uint32_t lin = (uint32_t)v->exit.addr, pferr = 0, pa = 0;
    bool write = v->exit.err & PFERR_W;
    int r = mem_shadow_fault(v, lin, write, v->exit.err & PFERR_I, &pferr, &pa);
    if (r && v->cpl == 3 && usergate_fault(v))
        return;   // the far call of a patched site faulted where its original would not
    switch (r) {
    case 0:
        return;   // shadow filled: retry
    case 1:
        v->cr2 = lin;
        stats_count("guest-page-fault");
        v->pf.on = true;
        v->pf.write = write;
        v->pf.fetch = v->exit.err & PFERR_I;
        v->pf.cpl = v->cpl;
        v->pf.eip = r1_t2o(v, v->eip);
        v->pf.lin = lin;
        v->pf.cr3 = v->cr3;
        intr_deliver(v, T_PF, EV_EXC, pferr, v->eip);
        return;
    case -3:
        vcpu_stop(v, STATUS_WINDOW, "the guest maps %#x (to physical %#x) while it still runs "
                  "its boot code at physical addresses, where ring1 keeps an alias of the "
                  "hypervisor window (%#x-%#x less the image's p_vaddr - p_paddr): rewrite the "
                  "image with the window elsewhere (ring1 rewrite --window BASE)", lin, pa,
                  mem_window, mem_window + R1_WINDOW_SIZE - 1);
        return;
    case -2:
        if (mem_in_window(lin) && window_range_access(v, lin, write))
            return;
        if (copy_jumped(v))
            return;
        vcpu_stop(v, STATUS_WINDOW, "the guest touched the hypervisor window at %#x (window "
                  "%#x-%#x): rewrite the image with the window elsewhere (ring1 rewrite "
                  "--window BASE)", lin, mem_window, mem_window + R1_WINDOW_SIZE - 1);
        return;
    default:
        // Not RAM: device registers, or nothing. The page stays unmapped; the instruction is
        // decoded and its access emulated.
        uint32_t pc = vcpu_lin_eip(v);
        if ((v->exit.err & PFERR_I) || (lin >= pc && lin - pc < INSN_MAX &&
                                         !vmem_fetch(v, pc, (uint8_t[1]){0}, 1))) {
            uint32_t to = lin == pc ? r1_alias_return(v, v->eip) : 0;
            if (to) {
                // A moved call's linked return address, reached at its physical alias.
                stats_count("alias-return");
                v->eip = to;
                return;
            }
            if (copy_jumped(v))
                return;
            vcpu_stop(v, STATUS_UNSUPPORTED, "the guest jumped to %#x (physical %#x), which "
                      "is not RAM", v->eip, pa);
            return;
        }
        uint32_t at = v->eip;
        stats_insn(R1_KIND_MMIO, r1_t2o(v, at));
        if (!mmio_emulate(v, lin, pa))
            vcpu_stop(v, STATUS_UNSUPPORTED, "guest %s at %#x (physical %#x, not RAM) by an "
                      "instruction the MMIO emulation does not handle", write ? "write" : "read",
                      lin, pa);
        else {
            stats_exit(R1_KIND_MMIO, r1_t2o(v, at));   // by site: for --stats and the profile
            stats_count("mmio-fault");
        }
        return;
    }
}

// syscall (AMD) or sysenter (Intel) from compat mode -- the other one is #UD on that vendor's
// processors and arrives as SIGILL with its EIP. The host kernel replaced the return address
// with the (nonexistent) 32-bit vDSO landing pad before our seccomp filter stopped it (or,
// when it could not read [ESP], returned there with -EFAULT and the return faulted). What is
// left: AMD's SYSCALL put the return EIP in ECX (the guest's ECX is gone with it), and the
// kernel kept the guest's EBP in RCX and loaded EBP from [ESP]; Intel's SYSENTER saves no EIP
// at all and the kernel takes ESP from EBP. Neither the guest's EIP nor the registers to
// raise #UD / #GP(0) with survive: diagnosed, not emulated. (README "Guest system calls".)
static void fast_syscall_lost(struct vcpu *v, bool blocked)
{
    bool amd = host_amd;
    if (amd) {
        v->gpr[R_EBP] = v->gpr[R_ECX];
        v->gpr[R_ECX] = 0;
    }
    vcpu_stop(v, STATUS_UNSUPPORTED, "the guest executed syscall or sysenter natively (here: "
              "%s), at an EIP the host kernel discards on that path (%s): on a PC it would "
              "raise %s, which cannot be "
              "emulated without the EIP. The eip below is the host's landing pad, %s. The "
              "rewriter patches the instances it sees; this one was written at run time or "
              "left unpatched", amd ? "syscall" : "sysenter",
              blocked ? "the host system call was blocked"
                      : "the host kernel could not read the guest's [ESP]",
              amd ? "#UD (EFER.SCE is 0: qemu32 has no SYSCALL)"
                  : "#GP(0) if SYSENTER_CS is 0, else enter the kernel",
              amd ? "ecx is lost (the processor put the return address there)"
                  : "esp and ebp are not the guest's");
}

// An Intel host's sysenter from compat mode, blocked by the seccomp filter (the host kernel
// put its landing pad in RIP first). SYSENTER itself keeps no EIP or ESP -- it loads both from
// the SYSENTER MSRs -- so what the guest's kernel receives is its general registers, and those
// survived: the host's entry took the user stack pointer from EBP (the vDSO's convention), so
// the signal's RSP is the guest's EBP, and it loaded RBP from [EBP], which is not the guest's;
// EAX is the system call number again (seccomp's rollback for SECCOMP_RET_TRAP); the others
// are untouched. So the instruction is emulated as the PC would run it, whenever it does not
// fault: with SYSENTER_CS 0 it raises #GP(0) at its own EIP, which is gone (fast_syscall_lost).
// Linux's i386 vDSO enters every system call this way on a CPU with SEP, as qemu32 has.
static void sysenter_blocked(struct vcpu *v)
{
    v->gpr[R_EBP] = v->gpr[R_ESP];
    stats_count("sysenter-via-host");     // no address: the guest's EIP is gone
    const uint8_t b[2] = {0x0f, 0x34};
    struct insn in;
    if (decode(b, 2, &in) != 2) {
        vcpu_stop(v, STATUS_INTERNAL, "sysenter does not decode");
        return;
    }
    emulate(v, &in, v->eip, v->eip, v->eip);
}

// An int3 that is no trap site, just run: if it is a copy of one (with enough of the code
// around the site to say so, patched.h), put the site's original bytes back there, whatever
// the guest's page protections, and run them.
static bool trap_copy(struct vcpu *v)
{
    uint8_t w[32];
    uint32_t cc = vcpu_lin_eip(v) - 1, lo = 0, hi = vmem_fetch(v, cc - 16, w, sizeof w);
    if (hi <= 16) {   // the page before is not there: from the int3 on
        lo = 16;
        hi = 16 + vmem_fetch(v, cc, w + 16, 16);
    }
    const uint8_t *orig;
    uint32_t len;
    if (hi <= 16 || !patched_trap_copy(w, lo, hi, 16, &orig, &len))
        return false;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t pa, pferr;
        if (vmem_translate(v, cc + i, ACC_SYS, &pa, &pferr) < 0 || !mem_phys(pa, 1))
            return false;   // (the bytes were just read: not reached)
        mem_frame_stored(pa, 1);
        *(uint8_t *)mem_phys(pa, 1) = orig[i];
    }
    v->eip--;
    stats_count("code-copy-repaired");
    return true;
}

// Ring 3 faulted with #GP(0) or #SS(0) while it runs under a user limit (mem.c): was it that
// limit? The instruction tells. Its explicit memory operand past the limit the host enforces on
// its segment (segment.c cuts each at the user limit) but within the guest's own limit: if the
// operand's linear address lies at or above the user limit, ring 3 reaches further than
// before -- raise the limit over it and run the instruction again. If it lies below, the offset
// wrapped around 4 GiB, as a C library's accesses below the thread pointer in %gs do (errno at
// %gs:-0x40: every i386 program with thread-local storage), and no limit short of none admits
// it: emulate the instruction, its access made with the guest's paging rights -- or, past what
// that has cost in this stay in ring 3, give the limit up (mem.c, mem_view_wrapped). (Giving the
// limit up instead dropped every ring-0 page at each such access and at each return to ring 3
// after it: Linux's kernel mapped again page by page, 1.67 million shadow fills in a busybox
// session.) Operands the decoder does not place (the stack's, string moves'): the limit goes
// up a step, and a fault that was not the limit's comes back until there is none. False: not
// the limit's fault (a sensitive instruction, an operand within the host's limit or past the
// guest's): the caller goes on as with any #GP.
// Raise ring 3's limit over linear address top (0: a step), then run on the new one.
static bool raise_limit(struct vcpu *v, uint64_t top)
{
    stats_count("user-limit-raised");
    mem_view_raise_limit(v, top > 0xffffffffu ? 0xffffffffu : (uint32_t)top, false);
    seg_resync_host(v);
    return true;
}

static bool user_limit_fault(struct vcpu *v)
{
    uint32_t eip = vcpu_lin_eip(v);
    if ((uint64_t)eip + INSN_MAX > v->user_limit)   // the instruction itself lies past it
        return raise_limit(v, (uint64_t)eip + INSN_MAX);
    uint8_t buf[INSN_MAX];
    unsigned n = vmem_fetch(v, eip, buf, sizeof buf);
    struct insn in;
    if (decode(buf, n, &in) < 0 || insn_kind(&in))
        return false;
    bool moffs = in.op >= 0xa0 && in.op <= 0xa3;
    bool rel = in.op == 0xe8 || in.op == 0xe9 || in.op == 0xeb ||
               (in.op >= 0x70 && in.op <= 0x7f) || (in.op >= 0x0f80 && in.op <= 0x0f8f);
    if (rel) {
        // A branch past the limit (a patched kernel's own ring-3 code jumping to its
        // trampoline in the window): raise the limit over the target (past the window: none).
        uint32_t to = v->eip + in.len + (in.op == 0xeb || in.op < 0x80 ? (uint32_t)(int8_t)in.imm
                                                                      : in.imm);
        if (in.opsize == 2)
            to &= 0xffff;
        to += v->seg[R1_SREG_CS].base;
        if ((uint64_t)to + INSN_MAX <= v->user_limit)
            return false;
        return raise_limit(v, (uint64_t)to + INSN_MAX);
    }
    if (!insn_has_mem(&in) && !moffs)
        return raise_limit(v, 0);
    const struct seg *s = &v->seg[moffs ? (in.seg >= 0 ? in.seg : R1_SREG_DS) : insn_seg(&in)];
    uint32_t ea = moffs ? in.imm : insn_ea(&in, v->gpr);
    uint64_t room = v->user_limit > s->base ? ((v->user_limit - s->base) & ~0xfffull) : 0;
    // (Up to 16 bytes accessed: an operand that starts within the host's limit may end past it.)
    if ((uint64_t)ea + 16 <= room || ea > s->limit)
        return false;
    uint64_t lin = (uint32_t)(s->base + ea);
    if (lin + 16 > v->user_limit)
        return raise_limit(v, lin + 15);
    if (mem_view_wrapped(v)) {
        if (mmio_emulate_ram(v, &in)) {
            stats_count("user-limit-emulated");
            return true;
        }
        stats_count("user-limit-off");   // an instruction the emulation does not handle
        mem_view_unlimit(v);
    }
    seg_resync_host(v);
    return true;
}

static void handle_trap(struct vcpu *v)
{
    const struct exit_info *x = &v->exit;
    if (x->eip_lost) {   // the host kernel's return to its landing pad faulted
        fast_syscall_lost(v, false);
        return;
    }
    if (vcpu_trace)
        vcpu_tracef("exit signal %d trap %d err %#x at %#x\n", x->signo, x->trapno, x->err,
             v->eip);
    switch (x->signo) {
    case SIGSEGV:
    case SIGBUS:
        if (v->native_load) {   // the fault may be the host segment's: again, with the guest's
            stats_count("native-load-retry");
            return;
        }
        switch (x->trapno) {
        case T_PF:
            page_fault(v);
            return;
        case T_OF:   // into, with OF set: a trap, EIP already after it
            intr_deliver(v, T_OF, EV_SOFT_EXC, 0, v->eip);
            return;
        case T_BR:
            intr_deliver(v, T_BR, EV_EXC, 0, v->eip);
            return;
        case T_AC:
            intr_deliver(v, T_AC, EV_EXC, 0, v->eip);
            return;
        default:     // #GP, #NP, #SS, #TS: a privileged instruction, or the guest's own fault
            if (v->cpl == 3 && v->user_limit < GUEST_SPACE && x->err == 0 &&
                (x->trapno == T_GP || x->trapno == T_SS) && user_limit_fault(v))
                return;
            if (v->cpl == 3 && usergate_fault(v))
                return;   // (the far call of a patched site: its original runs instead)
            if (v->cpl == 3 && x->trapno == T_GP && (x->err & 7) == 2)   // int $N: the IDT's
                usergate_note_int(v, v->eip, (uint8_t)(x->err >> 3));
            if (emulate_here(v))
                return;
            intr_deliver(v, T_GP, EV_EXC, 0, v->eip);
            return;
        }
    case SIGILL:     // #UD: sysenter on this host, or the guest's own invalid opcode
        if (emulate_here(v))
            return;
        intr_deliver(v, T_UD, EV_EXC, 0, v->eip);
        return;
    case SIGTRAP:
        if (gdb_on && gdb_trap(v, gdb_tf))
            return;   // gdb's breakpoint, or the end of its single step
        if (x->trapno == T_BP) {
            // EIP is past the int3 (CC) or int $3 (CD 03). A patched image's trap site is
            // an int3 at the site's address.
            if (rtcode_trap(v))
                return;   // a trap site of ring 0's run-time code, or code not decoded yet
            uint8_t b = 0;
            uint32_t next = v->eip;
            vmem_fetch(v, vcpu_lin_eip(v) - 1, &b, 1);
            if (b == 0xcc && (r1_trap_site(v, next - 1, true) || trap_copy(v)))
                return;
            v->eip = next - (b == 0xcc ? 1 : 2);
            stats_exit(R1_KIND_INT, v->eip);
            intr_deliver(v, T_BP, EV_SOFT_EXC, 0, next);
            return;
        }
        // #DB: the single step that ends an interrupt shadow, icebp (F1), or the guest's TF.
        if (v->step_for_shadow) {   // interrupt_check decides whether the shadow is over
            v->step_for_shadow = false;
            v->eflags &= ~FL_TF;
            stats_count("single-step");
            return;
        }
        if (!(v->eflags & FL_TF) && x->code != TRAP_TRACE) {
            // Not single-stepping, so icebp (the host says TRAP_TRACE for a step, also for
            // the one after a popf that cleared TF: TF counts as it was when the instruction
            // began). This host reports icebp at the instruction (a fault), the SDM says after
            // it (a trap): accept both, deliver the trap.
            uint8_t b = 0;
            vmem_fetch(v, vcpu_lin_eip(v), &b, 1);
            if (b == 0xf1)
                v->eip++;
            stats_exit(R1_KIND_INT1, v->eip - 1);
            intr_deliver(v, T_DB, EV_SOFT_EXC, 0, v->eip);
            return;
        }
        // The guest's own TF. Through patched code it steps the host's instructions: a step
        // that ends in the window (a trampoline's translations, a moved instruction) is not
        // a guest instruction boundary, nor is the jump back out of it. A region thus takes
        // one step (an inline popf that sets TF traps after the next guest instruction).
        uint32_t w = vcpu_lin_eip(v);
        w += mem_window_alias_delta(v, w);
        if (mem_in_window(w)) {
            v->step_in_tramp = true;
            stats_count("guest-step-in-trampoline");
            return;
        }
        if (v->step_in_tramp) {
            v->step_in_tramp = false;
            return;
        }
        v->dr[6] |= DR6_BS;   // single step
        intr_deliver(v, T_DB, EV_EXC, 0, v->eip);
        return;
    case SIGFPE:
        intr_deliver(v, x->trapno == T_MF || x->trapno == T_XM ? x->trapno : T_DE, EV_EXC, 0,
                     v->eip);
        return;
    default:
        vcpu_stop(v, STATUS_INTERNAL, "unexpected exit signal %d", x->signo);
    }
}

// SIGSYS from Syscall User Dispatch: int $0x80, syscall or sysenter executed by the guest.
// EIP is already past the 2-byte instruction.
static void handle_syscall(struct vcpu *v)
{
    if (v->exit.addr >> 32) {
        if (!host_amd && (v->msr_sysenter_cs & ~3u)) {
            sysenter_blocked(v);
            return;
        }
        fast_syscall_lost(v, true);
        return;
    }
    uint8_t b[2] = {0, 0};
    uint32_t at = v->eip - 2;
    vmem_fetch(v, vcpu_lin_eip(v) - 2, b, 2);
    if (vcpu_trace)
        vcpu_tracef("guest system call instruction %02x %02x at %#x\n", b[0], b[1], at);
    v->eip = at;
    struct insn in;
    if (decode(b, 2, &in) == 2) {
        int kind = insn_kind(&in);
        if (b[0] == 0xcd && v->cpl == 3)
            usergate_note_int(v, at, b[1]);
        stats_exit(kind, at);
        emulate(v, &in, at, at + 2, at + 2);
        return;
    }
    vcpu_stop(v, STATUS_INTERNAL, "SIGSYS at %#x: not a system call instruction", at);
}

// ---- interrupts ---------------------------------------------------------------------------------
// May the run loop single-step the guest from where it is (host TF, to reach the end of an
// interrupt shadow or of a trampoline piece)? Never into the runtime: not in the window's
// entry code, not over a trampoline's `call R1_ENTRY` (a hypercall exits by itself, at an
// interruptible resume point), and not over a native pushf (it would push the host's TF).
// The part of it that holds for gdb's single steps too (gdbstub.c takes care of a pushf).
static bool step_enters_runtime(struct vcpu *v)
{
    uint32_t eip = vcpu_lin_eip(v), w = eip + mem_window_alias_delta(v, eip);
    if (mem_in_window(w) && !r1_in_tramp(w))
        return true;
    uint8_t b[6] = {0};
    unsigned n = vmem_fetch(v, eip, b, sizeof b);
    if (n >= 5 && b[0] == 0xe8) {
        uint32_t rel, target;
        memcpy(&rel, b + 1, 4);
        target = eip + 5 + rel;
        target += mem_window_alias_delta(v, target);
        if (mem_window && target == mem_window + R1_ENTRY_OFF)
            return true;
    }
    return false;
}

static bool may_step(struct vcpu *v)
{
    if (step_enters_runtime(v))
        return false;
    uint8_t b[2] = {0};
    unsigned n = vmem_fetch(v, vcpu_lin_eip(v), b, sizeof b);
    unsigned p = n && b[0] == 0x66 ? 1 : 0;
    return !(n > p && b[p] == 0x9c);
}

// Trampoline glue the run loop runs itself rather than single-step it (a host trap each) on
// the way to where an interrupt may be delivered: a `jmp rel32` (back to the original code,
// out of a slow path) and the restore of the vCPU page's scratch into ECX. Neither does more
// than set EIP or ECX, whatever it stands for.
static void skip_glue(struct vcpu *v)
{
    if (!mem_window || v->seg[R1_SREG_CS].base != 0)
        return;
    for (int i = 0; i < 4; i++) {
        uint32_t eip = v->eip;
        if (!r1_in_tramp(eip + mem_window_alias_delta(v, eip)))
            return;
        uint8_t b[6];
        if (vmem_fetch(v, eip, b, sizeof b) < sizeof b)
            return;
        uint32_t imm;
        memcpy(&imm, b + (b[0] == 0xe9 ? 1 : 2), 4);
        if (b[0] == 0xe9) {
            v->eip = eip + 5 + imm;
        } else if (b[0] == 0x8b && b[1] == 0x0d && imm == mem_window + R1_VCPU_SCRATCH) {
            v->gpr[R_ECX] = v->page[R1_VCPU_SCRATCH / 4];
            v->eip = eip + 6;
        } else {
            return;
        }
        stats_count("glue-run");
    }
}

void vcpu_pf_return(struct vcpu *v)
{
    if (!v->pf.on)
        return;
    v->pf.on = false;
    if (r1_t2o(v, v->eip) != v->pf.eip || v->cr3 != v->pf.cr3 || v->cpl != v->pf.cpl)
        return;
    uint32_t pferr, pa;
    if (mem_shadow_fault(v, v->pf.lin, v->pf.write, v->pf.fetch, &pferr, &pa) == 0)
        stats_count("page-mapped-at-iret");   // (else the access faults again by itself)
}

void vcpu_nmi(struct vcpu *v)
{
    v->nmi_pending = true;
    stats_count("nmi");
}

static void interrupt_check(struct vcpu *v)
{
    if (v->nmi_pending && !v->nmi_blocked && !v->shadow && r1_interruptible(v, v->eip)) {
        v->nmi_pending = false;
        v->nmi_blocked = true;
        v->halted = false;
        intr_deliver(v, T_NMI, EV_EXT, 0, v->eip);
    }
    bool intr = platform_intr();
    v->page[R1_VCPU_PENDING / 4] = intr;
    if (intr && vcpu_vif(v) && (v->shadow || !r1_interruptible(v, v->eip)))
        skip_glue(v);
    // The sti / mov ss shadow lasts until the instruction after it has executed: while the
    // guest is still at that instruction (or in trampoline glue standing for it), no
    // interrupt. Compared through t2o, so a shadow survives the trampoline's jump back.
    if (v->shadow && r1_t2o(v, v->eip) != r1_t2o(v, v->shadow_eip))
        v->shadow = false;
    if (!intr || !vcpu_vif(v))
        return;
    if (v->shadow) {
        v->step_for_shadow = may_step(v);   // let one instruction run, then deliver
        return;
    }
    if (!r1_interruptible(v, v->eip)) {
        // Mid-piece: step on to the piece's end (or let the coming hypercall exit), so that
        // a cli a few instructions later cannot keep the interrupt out for good.
        stats_count("irq-deferred");
        v->step_for_shadow = may_step(v);
        return;
    }
    uint8_t vec = platform_intack();
    v->halted = false;
    v->spin_probe = false;   // a handler may change what a wait loop waits for: probe again
    intr_deliver(v, vec, EV_EXT, 0, v->eip);
    v->page[R1_VCPU_PENDING / 4] = platform_intr();
}

// The guest can only wait for its next timer (clock.c): its time jumps to that timer's
// deadline, and the timer fires now. Not with --clock host, nor while host input could end
// the wait first, nor if a timer has fired already and its signal is on the way: re-armed,
// it would fire again before that signal is taken, the two would merge into one (a lost
// tick) and the guest's time would have moved on by two periods for it.
static bool skip_to_next_timer(struct vcpu *v)
{
    if (!clock_warp || v->async || platform_waits_for_host() || !platform_warp_allowed())
        return false;
    sigset_t old;
    bool skipped = false;
    signals_block_async(&old);
    if (!v->async && !signals_timer_pending()) {
        uint64_t next = platform_next_timer_ns();
        if (next && !signals_timer_pending()) {
            platform_skip(next);
            skipped = true;
            if (vcpu_trace)
                vcpu_tracef("clock: skipped %llu ns at eip %#x, now %llu\n",
                     (unsigned long long)next, v->eip, (unsigned long long)clock_ns());
        }
    }
    signals_restore(&old);
    return skipped;
}

// hlt with IF=1: sleep until a signal brings work.
static void wait_for_event(struct vcpu *v)
{
    if (!platform_can_wake()) {
        vcpu_stop(v, STATUS_HALTED, "hlt with no interrupt source left (no timer armed, no "
                  "input, or every line that could bring one masked): the guest would sleep "
                  "forever");
        return;
    }
    // Nothing to do but wait for a timer: unless host input could come first, the guest's
    // time jumps to the timer's deadline (clock.c) and the wait is over at once.
    if (skip_to_next_timer(v))
        stats_count("clock-skip-halted");
    sigset_t old;
    signals_block_async(&old);
    clock_sampling(false);
    if (!v->async) {
        struct pollfd pfd = {.fd = platform_input_fd(), .events = POLLIN};
        int r = ppoll(&pfd, pfd.fd >= 0 ? 1 : 0, NULL, &old);
        if (r > 0)
            __atomic_or_fetch(&v->async, ASYNC_INPUT, __ATOMIC_SEQ_CST);
    }
    clock_sampling(true);
    signals_restore(&old);
    stats_count("halt-wait");
}

// Is the guest, about to run, in the wait loop clock_spin_loop found, with nothing but a
// timer to get it out?
static bool in_wait_loop(struct vcpu *v)
{
    uint32_t eip = vcpu_lin_eip(v);
    return v->spin_hi && eip >= v->spin_lo && eip < v->spin_hi && vcpu_vif(v) &&
           !v->step_for_shadow && !platform_intr();
}

// A trap site where the guest is about to run after an exit the run loop handled (Linux's
// entry_SYSENTER_32 begins with a pushf the rewriter could give no region, and every emulated
// sysenter lands on it): emulated now, as its int3 would have it emulated one host signal
// later. Not while anything steps the guest (its #DB comes after the instruction it ran).
static bool trap_site_ahead(struct vcpu *v)
{
    uint8_t b = 0;
    if (v->step_for_shadow || (v->eflags & FL_TF) || !vmem_fetch(v, vcpu_lin_eip(v), &b, 1) ||
        b != 0xcc || (gdb_on && gdb_breakpoint_at(v, vcpu_lin_eip(v))))
        return false;
    return r1_trap_site(v, v->eip, false);
}

int vcpu_run(struct vcpu *v)
{
    bool ahead = false;   // the last exit was a host signal: look for a trap site ahead
    while (!v->stop) {
        uint32_t a = __atomic_exchange_n(&v->async, 0, __ATOMIC_SEQ_CST);
        if (a & ASYNC_TIMEOUT)
            vcpu_stop(v, STATUS_TIMEOUT, "timeout");
        if (a & ASYNC_SIGNAL)
            vcpu_stop(v, STATUS_SIGNAL, "interrupted by a signal");
        if (a)
            platform_async(v, a);
        if (a & ASYNC_SPIN) {
            // The probe: still in the wait loop after thousands of passes and no interrupt
            // since it came back there, so it waits for the next timer. Its time jumps
            // there (clock.c). Or a sample: look for a wait loop where the guest is.
            bool probed = v->spin_probe;
            v->spin_probe = false;
            if (probed && in_wait_loop(v) && !clock_probe_ripe())
                v->spin_probe = true;   // descheduled meanwhile: not long enough in the loop
            else if (probed && in_wait_loop(v) && skip_to_next_timer(v))
                stats_count("clock-skip-spinning");
        }
        if ((a & (ASYNC_TIMER | ASYNC_LAPIC | ASYNC_RTC | ASYNC_HPET | ASYNC_SPIN)) &&
            clock_warp) {
            // A timer found the guest where it is now. In a loop that only reads memory
            // it waits for an interrupt handler to change what it reads: note the loop.
            if (!clock_spin_loop(v, &v->spin_lo, &v->spin_hi))
                v->spin_lo = v->spin_hi = 0;
            else if (vcpu_trace)
                vcpu_tracef("wait loop %#x-%#x (eip %#x)\n", v->spin_lo, v->spin_hi,
                     v->eip);
        }
        if (v->stop)
            break;
        if (gdb_on) {
            // gdb: a connection, Ctrl-C, a step completed; while the guest is stopped the
            // stub serves gdb here. No interrupt during gdb's single step (as QEMU's default).
            gdb_run_hook(v, a & ASYNC_GDB);
            if (v->stop)
                break;
        }
        if (!gdb_on || !gdb_stepping() || v->halted)
            interrupt_check(v);
        if (v->stop)
            break;
        if (v->halted) {
            wait_for_event(v);
            continue;
        }
        if (ahead) {
            ahead = false;
            if (trap_site_ahead(v)) {
                ahead = true;
                continue;
            }
        }
        // Host flags for the guest: IF=1, IOPL=0, AC=0 always; NT is the guest's own (abi.h:
        // a native iret with NT=1 traps); TF if we single-step to end an interrupt shadow.
        v->eflags = (v->eflags & ~(R1_EFLAGS_VIRT | FL_RF)) | FL_IF | FL_1;
        if (v->step_for_shadow)
            v->eflags |= FL_TF;
        gdb_tf = false;
        if (gdb_on && gdb_stepping() && !(v->eflags & FL_TF) && !step_enters_runtime(v)) {
            v->eflags |= FL_TF;   // (over a hypercall's call: none, the hypercall exits)
            gdb_tf = true;
        }
        mem_window_alias_sync(v);
        if (!v->spin_probe && in_wait_loop(v)) {
            // Back in the wait loop: if it is still there in a moment, it waits for a timer.
            clock_probe_arm();
            v->spin_probe = true;
        }
        if (v->cpl == 3 && v->user_limit < GUEST_SPACE && vcpu_lin_eip(v) >= v->user_limit) {
            // Ring 3 runs code above its limit (mem.c): a patched kernel's own ring-3 code
            // going through a trampoline in the window, say. Not from here on.
            raise_limit(v, vcpu_lin_eip(v));
        }
        v->exit.signo = 0;
        // Nothing seen unless the exit landing records what the guest left in DS and ES (an
        // entry aborted by a signal never reaches it: stale values would pass for the
        // guest's own selector loads).
        v->seen_ds = v->hsel_ds;
        v->seen_es = v->hsel_es;
        // What inline `mov r32, crN` translations read (abi.h): every change of a control
        // register is the runtime's, so this is always current.
        v->page[R1_VCPU_CPL / 4] = v->cpl;   // likewise: CPL changes only in the runtime
        v->page[R1_VCPU_CR / 4 + 0] = v->cr0;
        v->page[R1_VCPU_CR / 4 + 2] = v->cr2;
        v->page[R1_VCPU_CR / 4 + 3] = v->cr3;
        v->page[R1_VCPU_CR / 4 + 4] = v->cr4;
        pio_cache_sync(v->cpl);   // the port cache: current, and usable at CPL 0 only
        v->exit_cs = 0;
        int cpl = v->cpl;
        uint32_t reason = enter_guest(v);
        v->nexits++;
        if (gdb_tf)
            v->eflags &= ~FL_TF;
        if (usergate_is_gate_cs(v->exit_cs)) {
            usergate_rollback(v);   // (a signal inside ring 3's system call gate)
            if (v->stop)
                break;
        }
        seg_fast_catch_up(v);
        check_host_segments(v);
        // (A native popf setting AC is lost: AC cannot run on the host, it would arm #AC.)
        if (reason != EXIT_ASYNC && v->step_for_shadow && !(v->exit.signo == SIGTRAP &&
                                                           v->exit.trapno == T_DB)) {
            // The stepped instruction exited by itself (it was sensitive): stop stepping;
            // interrupt_check sees whether it moved past the shadow.
            v->step_for_shadow = false;
            v->eflags &= ~FL_TF;
        }
        // (and after ring 3's system call gate, which lands in the kernel as a signal's
        // system call does: Linux's sysenter entry begins with a trap site)
        ahead = reason == EXIT_TRAP || reason == EXIT_SYSCALL ||
                (reason == EXIT_HYPERCALL && cpl == 3);
        switch (reason) {
        case EXIT_TRAP:
            handle_trap(v);
            break;
        case EXIT_HYPERCALL:
            // The stub saved the guest's registers in the vCPU page (entry.S).
            for (int i = 0; i < 8; i++)
                v->gpr[i] = v->page[(HC_SAVE_OFF >> 2) + i];
            v->eflags = v->page[(HC_SAVE_OFF + HC_SAVE_EFLAGS) >> 2];
            if (gdb_tf)
                v->eflags &= ~FL_TF;
            hypercall_handle(v);
            break;
        case EXIT_SYSCALL:
            handle_syscall(v);
            break;
        case EXIT_ASYNC:
            break;
        case EXIT_ESCAPE:
            vcpu_stop(v, STATUS_ESCAPE, "guest code ran in 64-bit mode, at rip %#llx (found by "
                      "signal %d): it far-jumped through the host's 64-bit code selector 0x33, "
                      "which no i386 machine has (QEMU raises #GP at the far transfer); stopped",
                      (unsigned long long)v->exit.addr, v->exit.signo);
            break;
        default:
            vcpu_stop(v, STATUS_INTERNAL, "enter_guest returned %u", reason);
        }
    }
    return v->exit_status;
}
