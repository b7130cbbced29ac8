// The virtual CPU model: CPUID, model-specific registers, the virtual time-stamp counter.
#ifndef RING1_CPUID_H
#define RING1_CPUID_H

#include <stdint.h>

struct vcpu;

void cpuid_query(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
// The host processor's CPUID (not the model's): what the runtime itself must know about it.
static inline void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
                     : "a"(leaf), "c"(subleaf));
}
// 0, or -1 for an MSR the model does not have (the caller raises #GP(0)).
int msr_read(struct vcpu *v, uint32_t index, uint64_t *val);
int msr_write(struct vcpu *v, uint32_t index, uint64_t val);
// Virtual TSC: VTSC_MHZ ticks per microsecond of the guest's time (clock.c) since boot.
#define VTSC_MHZ 1000u
uint64_t vtsc_read(struct vcpu *v);

#endif
