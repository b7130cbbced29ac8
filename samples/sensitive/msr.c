// rdmsr/wrmsr round trips on the sysenter MSRs, the APIC base MSR, and rdpmc.
#include "sensitive.h"
#include "probe.h"

static void msr_round_trip(const char *name, uint32_t msr, uint64_t v)
{
    wrmsr(msr, v);
    uint64_t r = rdmsr(msr);
    printf("wrmsr/rdmsr %s (0x%x): wrote 0x%08x read 0x%08x:%08x\n", name, msr, (uint32_t)v,
           (uint32_t)(r >> 32), (uint32_t)r);
}

void check_msr(void)
{
    msr_round_trip("SYSENTER_CS", MSR_SYSENTER_CS, SEL_KCODE);
    msr_round_trip("SYSENTER_ESP", MSR_SYSENTER_ESP, 0x12345678);
    msr_round_trip("SYSENTER_EIP", MSR_SYSENTER_EIP, 0x9abcdef0);

    uint32_t apic = (uint32_t)rdmsr(MSR_APIC_BASE);
    printf("rdmsr APIC_BASE: base=0x%08x BSP=%u EN=%u\n", apic & APIC_BASE_ADDR,
           !!(apic & APIC_BASE_BSP), !!(apic & APIC_BASE_EN));

    // rdpmc counter 0 from ring 0: QEMU does not model performance counters.
    uint32_t lo = 0, hi = 0;
    __asm__ volatile(PROBE_ASM("rdpmc 0", "rdpmc") : "+a"(lo), "+d"(hi) : "c"(0));
}
