// The Intel MultiProcessor configuration table (MP spec 1.4, §4): where the local APIC and
// the IOAPIC are. This kernel has no other way to find them, so it refuses to boot without
// the table. It runs on the boot processor only; other processors are counted, not started.
// Called before kvmalloc(): the BIOS areas are reached through entry.S's map of [0, 4 MiB).
#include "defs.h"

uint32_t lapicpa;    // physical address of the local APIC's registers
uint32_t ioapicpa;   // physical address of the IOAPIC's registers
uint8_t ioapicid;    // its id, as the MP table gives it

static uint8_t sum(const uint8_t *p, int len)
{
    uint8_t s = 0;
    for (int i = 0; i < len; i++)
        s += p[i];
    return s;
}

// Look for a floating pointer structure in [pa, pa+len): 16-byte aligned, checksummed.
static struct mp *mpsearch1(uint32_t pa, int len)
{
    uint8_t *p = P2V(pa), *e = p + len;
    for (; p < e; p += sizeof(struct mp))
        if (memcmp(p, MP_SIGNATURE, 4) == 0 && sum(p, sizeof(struct mp)) == 0)
            return (struct mp *)p;
    return 0;
}

// The three places MP spec §4 allows: the first KiB of the EBDA; else the last KiB of base
// memory; else the BIOS ROM between 0xF0000 and 0xFFFFF.
static struct mp *mpsearch(void)
{
    const uint8_t *bda = P2V(0);
    struct mp *mp;
    uint32_t ebda = (uint32_t)(bda[BDA_EBDA_SEG + 1] << 8 | bda[BDA_EBDA_SEG]) << 4;
    if (ebda && (mp = mpsearch1(ebda, 1024)))
        return mp;
    uint32_t basemem = (uint32_t)(bda[BDA_BASEMEM_KB + 1] << 8 | bda[BDA_BASEMEM_KB]) * 1024;
    if (basemem >= 1024 && (mp = mpsearch1(basemem - 1024, 1024)))
        return mp;
    return mpsearch1(BIOS_ROM, BIOS_ROM_SIZE);
}

// The configuration table the floating pointer names, checked. A floating pointer with no
// table (physaddr 0) describes one of the spec's default configurations: not supported.
static struct mpconf *mpconfig(struct mp **pmp)
{
    struct mp *mp = mpsearch();
    if (!mp)
        panic("no MP floating pointer (\"_MP_\" in the EBDA, base memory or BIOS ROM): this "
              "kernel finds the local APIC and IOAPIC only through the MP table; refusing to boot");
    if (mp->physaddr == 0)
        panic("MP default configuration %d without a table: not supported", mp->type);
    if (mp->physaddr >= ENTRYMAP)
        panic("MP configuration table out of reach (%x)", mp->physaddr);
    struct mpconf *conf = P2V(mp->physaddr);
    if (memcmp(conf, MPCONF_SIGNATURE, 4) != 0)
        panic("MP configuration table: bad signature");
    if (conf->version != 1 && conf->version != 4)
        panic("MP configuration table: version %d", conf->version);
    if (sum((uint8_t *)conf, conf->length) != 0)
        panic("MP configuration table: bad checksum");
    *pmp = mp;
    return conf;
}

void mpinit(void)
{
    struct mp *mp;
    struct mpconf *conf = mpconfig(&mp);
    int ncpu = 0, nioapic = 0;

    lapicpa = conf->lapicaddr;
    uint8_t *p = (uint8_t *)(conf + 1), *e = (uint8_t *)conf + conf->length;
    while (p < e) {
        switch (*p) {
        case MPPROC:
            if (((struct mpproc *)p)->flags & MPPROC_EN)
                ncpu++;
            p += sizeof(struct mpproc);
            break;
        case MPIOAPIC: {
            struct mpioapic *io = (struct mpioapic *)p;
            if ((io->flags & MPIOAPIC_EN) && nioapic++ == 0) {   // the first one serves ISA
                ioapicpa = io->addr;
                ioapicid = io->apicno;
            }
            p += sizeof(struct mpioapic);
            break;
        }
        case MPBUS:
        case MPIOINTR:
        case MPLINTR:
            p += MPENTRY_SIZE;
            break;
        default:
            panic("MP configuration table: unknown entry type %d", *p);
        }
    }
    if (ncpu == 0 || lapicpa == 0)
        panic("MP configuration table: no processor or no local APIC");
    if (nioapic == 0)
        panic("MP configuration table: no IOAPIC");
    if (lapicpa < KERNBASE + phystop || ioapicpa < KERNBASE + phystop)
        panic("APIC registers inside the kernel's map of memory (%x, %x)", lapicpa, ioapicpa);

    // A board in PIC mode wires the 8259A straight to the CPU; the IMCR reroutes its
    // interrupts through the APICs (MP spec §3.6.2.1). Virtual-wire boards have no IMCR.
    if (mp->imcrp & MP_IMCRP) {
        outb(IMCR_ADDR, IMCR_SELECT);
        outb(IMCR_DATA, inb(IMCR_DATA) | IMCR_APIC);
    }
    cprintf("mp: %d cpu%s (using one), local APIC at %x, IOAPIC at %x\n",
            ncpu, ncpu == 1 ? "" : "s", lapicpa, ioapicpa);
}
