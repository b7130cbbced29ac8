// Host signals. Every handler runs on an alternate stack (the interrupted stack pointer may
// be a guest address) and starts in sig_entry (entry.S), which gives FS/GS back to the host
// before any C code runs. Then:
//
//   - a fault or trap (SIGSEGV SIGBUS SIGILL SIGTRAP SIGFPE SIGSYS) that interrupted guest code
//     (CS 0x23) is an exit: the guest's registers go into the vCPU and the ucontext is
//     rewritten to resume at guest_exit_landing in 64-bit mode, on the run loop's stack. The
//     run loop then emulates with no signal-safety constraints at all. The same fault in the
//     runtime's own code (CS 0x33) is a runtime bug: diagnose and exit.
//   - an asynchronous signal (PIT, APIC or RTC timer, input, timeout, SIGINT) only sets a
//     vcpu.async bit. If it interrupted guest code it also forces an exit, so that the run
//     loop can deliver a virtual interrupt now; if it interrupted the runtime (or the
//     hypercall path in the window), the runtime finds the bit before it next enters the
//     guest. The one window where that check has already happened, enter_guest's critical
//     section, is redirected to enter_guest_abort.
#include "signals.h"

#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "disk.h"
#include "jail.h"
#include "mem.h"
#include "platform.h"
#include "vcpu.h"

// entry.S (sig_entry, UC_CS) reads the interrupted CS at this offset.
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs) + REG_CSGSFS * sizeof(greg_t) == 184,
               "entry.S UC_CS");

#define USER_CS   0x33
#define USER_DS   0x2b

#define ALTSTACK_SIZE (256 * 1024)

void sig_entry(int signo, siginfo_t *si, void *ctx);        // entry.S
void signal_dispatch(int signo, siginfo_t *si, void *ctx);  // called by sig_entry

static timer_t timeout_timer;
static sigset_t async_set;

// The host kernel's int80 landing pad (README "Guest system calls"). A compat-mode `syscall`
// (AMD) or `sysenter` (Intel) enters the host kernel, whose do_fast_syscall_32 sets
// regs->ip = mm->context.vdso + vdso_image_32.sym_int80_landing_pad: the 64-bit vDSO's base
// (a 64-bit process has no 32-bit vDSO) plus an offset in the 32-bit image's first code
// (0x5e9 on the 6.18 host this was measured on), above 4 GiB. A blocked call then brings a
// SIGSYS there. When the kernel cannot read the guest's [ESP] (Intel: the ESP it took from
// EBP) it makes no system call: it sets EAX to -EFAULT and EBP to 0 (get_user's failure
// value) and returns there with IRET and the guest's CS, and what that return does depends on
// the vendor (landing_pad_fault). [vdso_lo, vdso_lo + vdso_len): the vDSO's mapping, read
// from AT_SYSINFO_EHDR and its ELF header (8 KiB here, at an address ASLR draws each run).
static uint64_t vdso_lo, vdso_len;

static void landing_pad_init(void)
{
    if (vdso_len)
        return;
    vdso_lo = getauxval(AT_SYSINFO_EHDR);
    vdso_len = 2 * 4096;   // no vDSO (vdso=0): the landing pad is the bare offset, here
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(uintptr_t)vdso_lo;
    if (!vdso_lo || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(uintptr_t)(vdso_lo + eh->e_phoff +
                                                               (uint64_t)i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD)
            continue;
        lo = ph->p_vaddr < lo ? ph->p_vaddr : lo;
        hi = ph->p_vaddr + ph->p_memsz > hi ? ph->p_vaddr + ph->p_memsz : hi;
    }
    if (hi > lo)
        vdso_len = (hi - lo + 4095) & ~4095ull;
}

void signals_landing_window(uint32_t *lo, uint32_t *len)
{
    landing_pad_init();
    *lo = (uint32_t)vdso_lo;
    *len = (uint32_t)vdso_len;
}

// Did this fault of compat-mode code come from the host kernel's return to its landing pad,
// with the guest's EIP gone? The CS is the guest's, so the return lands in compat mode:
//   - AMD keeps the landing pad's high bits, and the fetch faults at a RIP above 4 GiB,
//     where compat code gets no other way.
//   - Intel drops them: the fetch is at the landing pad's low 32 bits, a guest address, which
//     the guest's page tables may map (or RAM, paging off). RIP alone cannot tell: an
//     instruction fetch fault (#PF with I/D set, CR2 = RIP) at the low 32 bits of an address
//     in the vDSO's mapping, with EAX = -EFAULT, is the landing pad. (A fetch fault of the
//     guest's own passes for it only at those 8 KiB and with that EAX.) Checked here, before
//     the run loop takes it for a page fault and fills a shadow page there, which would run
//     the guest's code at that address, with those registers, without a word. So that such a
//     fetch faults at all, mem.c maps those pages without PROT_EXEC (the landing guard) until
//     the guest's own fetch there asks for it; while it does, or if the window's code is
//     there, the return runs on unseen. It takes a sysenter written at run time whose EBP
//     the host cannot read.
static bool landing_pad_fault(int signo, const greg_t *g)
{
    uint64_t rip = (uint64_t)g[REG_RIP];
    if (rip >> 32)
        return true;
    return signo == SIGSEGV && g[REG_TRAPNO] == 14 && (g[REG_ERR] & 0x10) &&
           (uint64_t)g[REG_CR2] == rip && (uint32_t)g[REG_RAX] == (uint32_t)-EFAULT &&
           (uint32_t)rip - (uint32_t)vdso_lo < vdso_len;
}

static void save_guest(struct vcpu *v, const greg_t *g)
{
    v->gpr[R_EAX] = (uint32_t)g[REG_RAX];
    v->gpr[R_ECX] = (uint32_t)g[REG_RCX];
    v->gpr[R_EDX] = (uint32_t)g[REG_RDX];
    v->gpr[R_EBX] = (uint32_t)g[REG_RBX];
    v->gpr[R_ESP] = (uint32_t)g[REG_RSP];
    v->gpr[R_EBP] = (uint32_t)g[REG_RBP];
    v->gpr[R_ESI] = (uint32_t)g[REG_RSI];
    v->gpr[R_EDI] = (uint32_t)g[REG_RDI];
    v->eip = (uint32_t)g[REG_RIP];
    v->eflags = (uint32_t)g[REG_EFL];
    v->exit_cs = (uint16_t)g[REG_CSGSFS];   // (ring 3 inside its system call gate: usergate.c)
}

// Resume at guest_exit_landing (64-bit, run loop stack) instead of the guest.
static void redirect(struct vcpu *v, greg_t *g, uint32_t reason)
{
    g[REG_RIP] = (greg_t)(uintptr_t)guest_exit_landing;
    g[REG_RSP] = (greg_t)v->host_rsp;
    g[REG_RAX] = reason;
    g[REG_EFL] = 0x202;
    // cs in bits 0-15, ss in bits 48-63 (struct sigcontext_64); gs/fs are not restored.
    g[REG_CSGSFS] = (greg_t)(((uint64_t)g[REG_CSGSFS] & 0x0000ffffffff0000ull) | USER_CS |
                             ((uint64_t)USER_DS << 48));
}

// The end of a run decided inside a handler: the diagnosis's guest part, the terminal and the
// disks as every exit leaves them, then the status.
static void handler_exit(int status)
{
    vcpu_dump(&vcpu0, stderr);
    platform_restore_stdin();
    disk_flush_all();   // the guest's disk writes are durable on this exit too
    _exit(status);
}

static void host_crash(int signo, const siginfo_t *si, const greg_t *g)
{
    host_fpu_begin();
    fprintf(stderr, "ring1-run: internal error: signal %d (code %d) in the runtime at rip %#llx, "
            "address %p, trap %lld err %#llx, rflags %#llx rsp %#llx\n", signo, si->si_code,
            (unsigned long long)g[REG_RIP], si->si_addr, (long long)g[REG_TRAPNO],
            (unsigned long long)g[REG_ERR], (unsigned long long)g[REG_EFL],
            (unsigned long long)g[REG_RSP]);
    const uint64_t *frame = (const uint64_t *)(uintptr_t)g[REG_RSP];
    if (g[REG_RIP] == (greg_t)(uintptr_t)enter_guest_critical_end)
        fprintf(stderr, "  iretq frame: rip %#llx cs %#llx rflags %#llx rsp %#llx ss %#llx\n",
                (unsigned long long)frame[0], (unsigned long long)frame[1],
                (unsigned long long)frame[2], (unsigned long long)frame[3],
                (unsigned long long)frame[4]);
    handler_exit(STATUS_INTERNAL);
}

// The jail (jail.c) refused a system call of the runtime's own code: report it and end the
// run before the caller gets a result it could use.
static void jail_stopped(const siginfo_t *si, const greg_t *g)
{
    host_fpu_begin();
    fprintf(stderr, "ring1-run: the jail stopped system call %d (%s) made at rip %#llx: a guest "
            "that took the runtime over, or a runtime bug\n", si->si_syscall,
            jail_syscall_name(si->si_syscall), (unsigned long long)g[REG_RIP]);
    handler_exit(STATUS_JAIL);
}

// Guest code running in 64-bit mode (entry.S, "Hostile guests"): end the run at this exit.
static void escaped(struct vcpu *v, greg_t *g, int signo)
{
    save_guest(v, g);
    v->exit.signo = signo;
    v->exit.addr = (uint64_t)g[REG_RIP];
    redirect(v, g, EXIT_ESCAPE);
}

void signal_dispatch(int signo, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    struct vcpu *v = &vcpu0;
    // The runtime's own code always runs with CS 0x33; the guest with 0x23 or an LDT
    // code segment (non-flat guest CS, segment.c).
    bool compat = ((uint64_t)g[REG_CSGSFS] & 0xffff) != USER_CS;
    uint64_t rip = (uint64_t)g[REG_RIP];
    // 64-bit code below 4 GiB is the guest's, which reached the host's 64-bit selector, unless
    // it is the hypercall stub between its far jump and the landing (which never faults).
    bool low64 = !compat && rip < (1ull << 32);

    switch (signo) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGTRAP: case SIGFPE: case SIGSYS:
        if (low64) {
            escaped(v, g, signo);
            return;
        }
        if (!compat && signo == SIGSYS && si->si_code == 1 /* SYS_SECCOMP */)
            jail_stopped(si, g);
        if (!compat)
            host_crash(signo, si, g);
        save_guest(v, g);
        v->exit.signo = signo;
        v->exit.code = si->si_code;
        v->exit.trapno = (int)g[REG_TRAPNO];
        v->exit.err = (uint32_t)g[REG_ERR];
        v->exit.addr = (signo == SIGSEGV && g[REG_TRAPNO] == 14) ? (uint64_t)g[REG_CR2]
                                                                 : (uint64_t)(uintptr_t)si->si_addr;
        if (signo == SIGSYS)
            v->exit.addr = (uint64_t)g[REG_RIP];   // full: above 4 GiB means "EIP lost"
        v->exit.eip_lost = landing_pad_fault(signo, g);   // (SIGSYS: RIP above 4 GiB says so)
        redirect(v, g, signo == SIGSYS ? EXIT_SYSCALL : EXIT_TRAP);
        return;
    }

    uint32_t bit = ASYNC_KICK;
    if (signo == SIG_PIT)
        bit = ASYNC_TIMER;
    else if (signo == SIG_TIMEOUT)
        bit = ASYNC_TIMEOUT;
    else if (signo == SIG_LAPIC)
        bit = ASYNC_LAPIC;
    else if (signo == SIG_RTC)
        bit = ASYNC_RTC;
    else if (signo == SIG_SPIN)
        bit = ASYNC_SPIN;
    else if (signo == SIG_HPET)
        bit = ASYNC_HPET;
    else if (signo == SIG_GDB)
        bit = ASYNC_GDB;
    else if (signo == SIG_INPUT)
        bit = ASYNC_INPUT;
    else if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP)
        bit = ASYNC_SIGNAL;
    __atomic_or_fetch(&v->async, bit, __ATOMIC_SEQ_CST);

    if (low64 && !mem_in_entry_code(rip)) {
        escaped(v, g, signo);
    } else if (compat) {
        if (mem_in_entry_code(rip))
            return;   // the hypercall path: it exits by itself, and the runtime sees the bit
        if (rip >> 32) {
            // Delivered on the host kernel's way back to its landing pad (the frame holds the
            // RIP the kernel set, whole, on either vendor): the guest's EIP is gone, as in
            // landing_pad_fault. An exit that says so, not an interrupt at the low 32 bits.
            save_guest(v, g);
            v->exit = (struct exit_info){.signo = signo, .code = si->si_code, .trapno = -1,
                                         .addr = rip, .eip_lost = true};
            redirect(v, g, EXIT_TRAP);
            return;
        }
        // Guest code, trampolines included (a loop can live entirely in relocated pieces):
        // exit now; the run loop never delivers an interrupt mid-piece.
        save_guest(v, g);
        redirect(v, g, EXIT_ASYNC);
    } else if (rip >= (uintptr_t)enter_guest_critical_start &&
               rip <= (uintptr_t)enter_guest_critical_end) {
        g[REG_RIP] = (greg_t)(uintptr_t)enter_guest_abort;
    }
}

void signals_async_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIG_PIT);
    sigaddset(set, SIG_TIMEOUT);
    sigaddset(set, SIG_INPUT);
    sigaddset(set, SIG_LAPIC);
    sigaddset(set, SIG_RTC);
    sigaddset(set, SIG_SPIN);
    sigaddset(set, SIG_HPET);
    sigaddset(set, SIG_GDB);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void signals_init(struct vcpu *v)
{
    (void)v;
    stack_t ss = {.ss_sp = malloc(ALTSTACK_SIZE), .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (!ss.ss_sp || sigaltstack(&ss, NULL) < 0) {
        perror("ring1-run: sigaltstack");
        exit(STATUS_INTERNAL);
    }
    signals_async_set(&async_set);
    landing_pad_init();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sig_entry;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sa.sa_mask = async_set;   // handlers never nest in each other's async work
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS, SIGIO,
                               SIGINT, SIGTERM, SIGHUP};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    sigaction(SIG_PIT, &sa, NULL);
    sigaction(SIG_TIMEOUT, &sa, NULL);
    sigaction(SIG_LAPIC, &sa, NULL);
    sigaction(SIG_RTC, &sa, NULL);
    sigaction(SIG_SPIN, &sa, NULL);
    sigaction(SIG_HPET, &sa, NULL);
    sigaction(SIG_GDB, &sa, NULL);

    guest_syscalls_off();
}

// No guest instruction may reach the host kernel (docs/design.md §5). Two filters, because neither
// alone is enough:
//
//  1. Syscall User Dispatch: a system call made from outside [4 GiB, 128 TiB) -- from guest
//     code -- raises SIGSYS instead. This catches int $0x80 with the guest's EIP intact, and a
//     (malicious) guest that far-jumps to a 64-bit code segment and calls the kernel from low
//     memory. No selector byte: nothing the guest can write switches it off.
//  2. seccomp: every system call with the i386 ABI raises SIGSYS. The runtime is 64-bit and
//     never makes one; compat-mode `syscall` (AMD) and `sysenter` (Intel) need this, because
//     the kernel rewrites their pt_regs->ip to the 32-bit vDSO's int80 landing pad before
//     any filter runs -- in a 64-bit process that is an address above 4 GiB, inside the range
//     SUD exempts. Measured here: without this filter a guest `syscall` runs a real host
//     system call and then jumps to garbage. The guest's EIP is lost in that case (the kernel
//     overwrote it), so such an exit can only be diagnosed, not emulated.
void guest_syscalls_off(void)
{
    const unsigned long lo = 0x100000000ul, len = (1ul << 47) - lo;
    if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, lo, len, 0) < 0) {
        perror("ring1-run: prctl(PR_SET_SYSCALL_USER_DISPATCH)");
        exit(STATUS_INTERNAL);
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),   // x32 ABI numbers
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        perror("ring1-run: seccomp");
        exit(STATUS_INTERNAL);
    }
}

void signals_arm_timeout(uint64_t ns)
{
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_TIMEOUT};
    if (timer_create(CLOCK_MONOTONIC, &sev, &timeout_timer) < 0)
        return;
    struct itimerspec its = {.it_value = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)}};
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timer_settime(timeout_timer, 0, &its, NULL);
}

void signals_block_async(sigset_t *old)
{
    sigprocmask(SIG_BLOCK, &async_set, old);
}

bool signals_timer_pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIG_PIT) == 1 || sigismember(&p, SIG_LAPIC) == 1 ||
           sigismember(&p, SIG_RTC) == 1 || sigismember(&p, SIG_HPET) == 1;
}

void signals_restore(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}
