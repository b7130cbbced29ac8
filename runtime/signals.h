// Host signals: guest faults and traps become exits of enter_guest(); asynchronous signals
// (timers, input, timeout) become vcpu.async bits. Syscall User Dispatch for guest syscalls.
#ifndef RING1_SIGNALS_H
#define RING1_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define SIG_PIT      (SIGRTMIN + 0)   // the PIT's host timer
#define SIG_TIMEOUT  (SIGRTMIN + 1)   // --timeout
#define SIG_INPUT    SIGIO            // stdin readable
#define SIG_LAPIC    (SIGRTMIN + 2)   // the local APIC timer's host timer
#define SIG_RTC      (SIGRTMIN + 3)   // the RTC's host timer (CLOCK_REALTIME, absolute)
#define SIG_SPIN     (SIGRTMIN + 4)   // the guest has spun in a wait loop for a while (clock.c)
#define SIG_HPET     (SIGRTMIN + 5)   // the HPET's host timer
#define SIG_GDB      (SIGRTMIN + 6)   // the gdb stub's socket is readable (gdbstub.c)

struct vcpu;

// Install the handlers on an alternate stack, and turn on Syscall User Dispatch so that any
// system call made from below 4 GiB (guest code) arrives as SIGSYS.
void signals_init(struct vcpu *v);
// The two syscall filters (Syscall User Dispatch + an i386-ABI seccomp filter); exits on
// failure. Part of signals_init; separate for tests.
void guest_syscalls_off(void);
// Where a host kernel's return to its int80 landing pad lands when the processor drops the
// high half of its address (Intel): the low 32 bits of the vDSO's mapping, [*lo, *lo + *len)
// modulo 4 GiB (signals.c, landing_pad_fault).
void signals_landing_window(uint32_t *lo, uint32_t *len);
void signals_arm_timeout(uint64_t ns);
// The asynchronous signals: timers, input, --timeout, SIGINT/SIGTERM/SIGHUP.
void signals_async_set(sigset_t *set);
// Block / unblock the asynchronous signals (around the halt wait).
void signals_block_async(sigset_t *old);
void signals_restore(const sigset_t *old);
// With them blocked: has a guest timer (PIT, local APIC, RTC) expired, its signal waiting?
bool signals_timer_pending(void);

#endif
