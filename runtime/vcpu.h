// The virtual CPU: guest registers, system state, the exit record, and the run loop's API.
#ifndef RING1_VCPU_H
#define RING1_VCPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "abi.h"
#include "decode.h"

// General registers in x86 encoding order (ModRM.reg / .rm).
enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };

// Why enter_guest() returned (entry.S). Values are shared with the assembly.
#define EXIT_TRAP       1   // a signal reported a guest fault or trap (vcpu.exit has details)
#define EXIT_HYPERCALL  2   // the guest called R1_ENTRY (registers saved by the window stub)
#define EXIT_ASYNC      3   // a host signal (timer, I/O, timeout) needs the run loop
#define EXIT_SYSCALL    4   // Syscall User Dispatch caught int $0x80 / syscall / sysenter
#define EXIT_ESCAPE     5   // a signal found guest code running in 64-bit mode

// A segment register: the visible selector and the descriptor cache loaded with it.
struct seg {
    uint16_t sel;
    uint32_t base;
    uint32_t limit;        // byte granular, already scaled by G
    uint16_t attr;         // access byte | flags nibble << 8
};

// GDTR / IDTR.
struct dtr {
    uint32_t base;
    uint16_t limit;
};

// What a signal reported when it interrupted guest code.
struct exit_info {
    int      signo;
    int      code;         // si_code
    int      trapno;       // hardware vector (uc_mcontext REG_TRAPNO)
    uint32_t err;          // hardware error code (REG_ERR)
    uint64_t addr;         // si_addr / CR2 for a page fault
    bool     eip_lost;     // at the host kernel's landing pad (signals.c landing_pad_fault)
};

struct vcpu {
    // ---- layout shared with entry.S (offsets checked in vcpu.c) ----
    uint32_t gpr[8];       // 0x00 guest eax..edi
    uint32_t eip;          // 0x20
    uint32_t eflags;       // 0x24 as the host holds them (IF=1, IOPL=0; no virtual bits)
    uint64_t host_rsp;     // 0x28 run loop stack pointer while the guest runs
    volatile uint32_t async;  // 0x30 ASYNC_* bits set by signal handlers
    uint32_t exit_reason;  // 0x34
    uint64_t fsbase;       // 0x38 host TLS base, restored if the guest left FS loaded
    uint64_t unused_40;    // 0x40
    uint64_t guest_fsbase; // 0x48 the guest's FS base, written with wrfsbase on entry
    uint32_t seen_fs;      // 0x50 FS/GS/DS/ES selectors found at the last exit when they
    uint32_t seen_gs;      // 0x54 were not the host's 0x2b: a guest selector the host GDT
    uint32_t seen_ds;      // 0x58 accepted natively (no trap) shows up here
    uint32_t seen_es;      // 0x5c
    uint64_t xsave_mask;   // 0x60 XSAVE components switched between guest and host
    uint64_t guest_gsbase; // 0x68 the guest's GS base (the host does not use GS)
    uint32_t fpu_live;     // 0x70 the CPU's x87/SSE/AVX registers hold the guest's state
    uint16_t hsel_cs;      // 0x74 host selectors entered for CS, SS, DS, ES: 0x23/0x2b for
    uint16_t hsel_ss;      // 0x76 flat 32-bit guest segments, else an LDT slot of this process
    uint16_t hsel_ds;      // 0x78 holding the guest's base and limit (segment.c)
    uint16_t hsel_es;      // 0x7a
    uint16_t hsel_fs;      // 0x7c host selectors for FS and GS: 0x2b, or in ring 3 under a
    uint16_t hsel_gs;      // 0x7e user limit (mem.c) a limited LDT slot, or null for null
    uint8_t  fpu[4096] __attribute__((aligned(64)));  // 0x80 guest FPU/SSE/AVX/AVX-512 (XSAVE area)

    // ---- everything below is C-only ----
    volatile uint32_t *page;  // the vCPU page (window, or a host page for trap-only images)
    struct exit_info exit;
    uint16_t exit_cs;      // the host CS a signal interrupted the guest with (0: no signal)
    struct {               // exception raised by the emulator (emu_fault), vector -1 = none
        int      vector;
        uint32_t err;
    } exc;

    // System state.
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];
    struct dtr gdtr, idtr;
    struct seg seg[6];     // R1_SREG_* order
    struct seg ldtr, tr;
    int      cpl;
    // U/S for ring 3 (mem.c, mem_view_cpl_changed): in ring 3 every host segment is limited
    // below user_limit (GUEST_SPACE: not limited).
    uint64_t user_limit;
    uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip;
    uint64_t msr_apic_base, msr_pat, msr_misc_enable;
    // What QEMU's TCG keeps though qemu32 reports neither MTRRs nor MCA nor SYSCALL (cpuid.c).
    uint64_t msr_mtrr_def, msr_mtrr_var[16], msr_mtrr_fixed[11], msr_star, msr_mcg_status;
    int64_t  tsc_offset;   // virtual TSC = host ns * tsc_mhz / 1000 + tsc_offset

    // Interrupt state.
    uint32_t shadow_eip;   // sti / mov ss shadow: no interrupt before this EIP moves on
    bool     shadow;
    bool     step_for_shadow;  // host TF set by us to end the shadow
    int      delivering;   // vector being delivered (-1 none): double/triple fault rules
    bool     halted;
    // The last #PF reflected to the guest, for mapping its page at once when the handler's
    // iret returns to the faulting instruction (vcpu_pf_return).
    struct { bool on, write, fetch; int cpl; uint32_t eip, lin, cr3; } pf;
    bool     native_load;  // check_host_segments made a native segment load again this exit
    bool     nmi_pending;  // an NMI waits (vcpu_nmi)
    bool     nmi_blocked;  // in an NMI handler: no NMI until the next iret (SDM 3A §6.7.1)
    uint32_t spin_lo, spin_hi;  // a wait loop the guest was found in (clock.c), or 0, 0
    bool     spin_probe;        // the clock_probe timer is armed
    bool     step_in_tramp;     // the guest's TF stepped into the window (vcpu.c, #DB)

    // Run state.
    bool     stop;
    int      exit_status;
    uint64_t nexits;
    int      last_vectors[8];  // ring of recently delivered vectors, for diagnoses
    unsigned nlast;
};

// Process exit statuses of ring1-run. A guest's debug-exit write v gives (v << 1) | 1, always
// odd (QEMU's isa-debug-exit); the runtime's own verdicts are even, so they never collide.
#define STATUS_POWEROFF     0   // the guest turned the machine off (ACPI S5), as QEMU exits
#define STATUS_LOAD_ERROR   2   // bad arguments or image
#define STATUS_TRIPLE_FAULT 4   // the guest triple-faulted (QEMU -no-reboot would exit 0)
#define STATUS_HALTED       6   // hlt with interrupts disabled / nothing left to wake it
#define STATUS_TIMEOUT      8   // --timeout expired
#define STATUS_UNSUPPORTED 10   // the guest did something the runtime cannot emulate (yet)
#define STATUS_WINDOW      12   // the guest touched the hypervisor window
#define STATUS_INTERNAL    14   // a fault in the runtime itself, or a host-side failure
#define STATUS_SIGNAL      16   // SIGINT / SIGTERM / SIGHUP
#define STATUS_RESET       18   // the guest reset the machine (QEMU -no-reboot would exit 0)
#define STATUS_BREAK       20   // --break: the instruction was reached its COUNTth time
#define STATUS_ESCAPE      22   // guest code ran in 64-bit mode (the host's selector 0x33)
#define STATUS_JAIL        24   // the jail stopped a system call of the runtime

// Bits of vcpu.async.
#define ASYNC_TIMER    0x1u   // the PIT's host timer expired
#define ASYNC_INPUT    0x2u   // stdin became readable
#define ASYNC_TIMEOUT  0x4u   // --timeout expired
#define ASYNC_KICK     0x8u   // anything else: just re-examine state
#define ASYNC_SIGNAL   0x10u  // SIGINT/SIGTERM/SIGHUP: stop
#define ASYNC_LAPIC    0x20u  // the local APIC timer's host timer expired
#define ASYNC_RTC      0x40u  // the RTC's host timer expired
#define ASYNC_SPIN     0x80u  // the guest spun in a wait loop for a while (clock.c)
#define ASYNC_HPET     0x100u // the HPET's host timer expired
#define ASYNC_GDB      0x200u // the gdb stub's socket is readable: Ctrl-C, or a connection

extern struct vcpu vcpu0;
extern bool vcpu_trace;   // --trace: one line per exit on stderr (or --trace-file)
extern FILE *vcpu_trace_file;   // --trace-file FILE (NULL: stderr)
// A --trace line: "ring1-run: " and the text, to the trace file or stderr.
void vcpu_tracef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// entry.S
uint32_t enter_guest(struct vcpu *v);
void host_segments_init(uint64_t tls_base);
// Before the runtime calls C library code that may use vector registers (stdio, qsort,
// malloc...): save the guest's live FPU state. enter_guest restores it when needed.
void host_fpu_begin(void);
// fprintf(stderr, ...) after host_fpu_begin(): for messages while a guest exists.
void rlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern const uint8_t hc_stub64_start[], hc_stub64_end[], hc_landing_slot[];
extern const uint8_t enter_guest_critical_start[], enter_guest_critical_end[], enter_guest_abort[];
extern const uint8_t guest_exit_landing[];

// vcpu.c: registers as the guest sees them.
uint32_t vcpu_eflags(const struct vcpu *v);            // host flags + virtual IF/IOPL/NT/AC
void vcpu_set_eflags(struct vcpu *v, uint32_t fl, uint32_t mask);  // split back, bits in mask
// Make every cpuid in this process fault from now on (the host's CPUID faulting), so that the
// guest's unpatched ones are emulated; the runtime reads what it needs of the host's before.
void vcpu_cpuid_faulting(void);
// An NMI for the processor: delivered at the next instruction boundary where no NMI handler
// runs (an iret ends one).
// An iret has just returned to v->eip: if that is the instruction whose page fault the guest
// handled last, in the same address space and privilege, fill its shadow page now (the
// access repeats at once, so this sets A and D as it would) instead of faulting again.
void vcpu_pf_return(struct vcpu *v);
void vcpu_nmi(struct vcpu *v);
void vcpu_reset(struct vcpu *v);
int  vcpu_run(struct vcpu *v);
void vcpu_stop(struct vcpu *v, int status, const char *why, ...)
    __attribute__((format(printf, 3, 4)));
void vcpu_dump(const struct vcpu *v, FILE *f);
// --break ADDR:COUNT: stop before the COUNTth execution of the sensitive instruction at ADDR
// (its link address). Called where the runtime emulates one; true if the run stops here.
extern uint32_t vcpu_break_addr, vcpu_break_count;
bool vcpu_break_check(struct vcpu *v, uint32_t addr);

// Linear address of the guest's EIP (CS base + EIP).
static inline uint32_t vcpu_lin_eip(const struct vcpu *v)
{
    return v->seg[R1_SREG_CS].base + v->eip;
}

// Record an exception for the instruction being emulated (v->exc; the emulator delivers it,
// reporting the instruction's address); returns -1, for `return emu_fault(...)`. Here, with
// the record it writes, so that the modules below the emulator (memory, segments,
// interrupts, task switches) raise faults without depending on it.
static inline int emu_fault(struct vcpu *v, int vector, uint32_t err)
{
    v->exc.vector = vector;
    v->exc.err = err;
    return -1;
}

static inline uint32_t vcpu_vif(const struct vcpu *v) { return v->page[R1_VCPU_VIF / 4]; }
static inline void vcpu_set_vif(struct vcpu *v, bool on)
{
    v->page[R1_VCPU_VIF / 4] = on ? R1_EFLAGS_IF : 0;
}

// A guest general register by its ModRM number and operand size in bytes (1: al..bh, where
// 4-7 are ah..bh; 2: ax..di; 4: eax..edi); setting one leaves the register's other bytes alone.
static inline uint32_t vcpu_reg(const struct vcpu *v, unsigned r, int size)
{
    if (size == 1)
        return r < 4 ? v->gpr[r] & 0xff : (v->gpr[r - 4] >> 8) & 0xff;
    return size == 2 ? v->gpr[r] & 0xffff : v->gpr[r];
}

static inline void vcpu_set_reg(struct vcpu *v, unsigned r, int size, uint32_t val)
{
    if (size == 1) {
        if (r < 4)
            v->gpr[r] = (v->gpr[r] & ~0xffu) | (val & 0xff);
        else
            v->gpr[r - 4] = (v->gpr[r - 4] & ~0xff00u) | (val & 0xff) << 8;
    } else if (size == 2) {
        v->gpr[r] = (v->gpr[r] & ~0xffffu) | (val & 0xffff);
    } else {
        v->gpr[r] = val;
    }
}

#endif
