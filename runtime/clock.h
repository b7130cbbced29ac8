// The guest's time (clock.c): the host's monotonic clock plus the time skipped while the
// guest waited for a timer (--clock warp), and the recogniser of pure wait loops.
#ifndef RING1_CLOCK_H
#define RING1_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct vcpu;

extern bool clock_warp;            // --clock warp (default) / host

void clock_host(clockid_t id, struct timespec *ts);   // the host's clocks (never the vDSO)
uint64_t clock_host_ns(clockid_t id);                  // the same in ns
static inline uint64_t ts_ns(struct timespec t)
{
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
uint64_t clock_ns(void);           // guest monotonic time, ns
uint64_t clock_realtime_ns(void);  // host wall-clock time + skipped, ns (the RTC)
uint64_t clock_skipped_ns(void);   // total skipped so far
void clock_skip(uint64_t ns);      // the guest's time jumps ahead by ns

// One host timer (SIG_SPIN, ASYNC_SPIN) samples where the guest is (every millisecond while
// it runs: a wait loop is found soon after the guest enters it), or probes: tells the run
// loop the guest, back in a wait loop, has had time for thousands of passes -- and to leave
// it, had its condition changed. Both only with clock_warp.
void clock_init(void);
void clock_probe_arm(void);
// The probe fired: has the guest had PROBE_NS of this thread's CPU time since it was armed?
// If not, it is armed again for the rest.
bool clock_probe_ripe(void);
void clock_sampling(bool on);   // off while the guest is halted

// Is the guest (at its EIP) in a loop that only reads memory and compares -- waiting for
// something an interrupt handler will change? [*lo, *hi) is then the loop's code.
bool clock_spin_loop(struct vcpu *v, uint32_t *lo, uint32_t *hi);

#endif
