// cpuid (only what the pinned CPU model fixes and this sample relies on), rdtsc, rdtscp.
#include "sensitive.h"
#include "probe.h"

#define TSC_SPINS 1000000  // give up waiting for the TSC to move after this many reads

void check_cpu(void)
{
    uint32_t a, b, c, d;

    cpuid(0, &a, &b, &c, &d);
    printf("cpuid 0: max leaf >= 1: %s\n", a >= 1 ? "yes" : "no");
    cpuid(1, &a, &b, &c, &d);
    printf("cpuid 1: pse=%u tsc=%u msr=%u sep=%u\n", !!(d & CPUID_1_EDX_PSE),
           !!(d & CPUID_1_EDX_TSC), !!(d & CPUID_1_EDX_MSR), !!(d & CPUID_1_EDX_SEP));

    // Only "it moved" is deterministic about a time stamp counter.
    uint64_t t0 = rdtsc(), t1 = t0;
    for (int i = 0; i < TSC_SPINS && t1 == t0; i++)
        t1 = rdtsc();
    printf("rdtsc: advanced: %s\n", t1 > t0 ? "yes" : "no");

    uint32_t lo = 0, hi = 0, aux = 0;
    __asm__ volatile(PROBE_ASM("rdtscp", "rdtscp") : "+a"(lo), "+d"(hi), "+c"(aux));
}
