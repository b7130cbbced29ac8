// Reference probe, run under qemu-system-i386: prints the machine state a multiboot kernel
// finds at entry (registers, descriptor tables, multiboot info, CPUID), so the runtime's
// virtual platform can be made to match QEMU's (see runtime/cpuid.c, runtime/loader.c).
#include "glib.h"

extern uint32_t boot_esp;

static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }

int gmain(uint32_t magic, uint32_t info)
{
    uint32_t r[4], cr0, efl;
    uint16_t cs, ds, ss, es, fs, gs;
    struct __attribute__((packed)) { uint16_t lim; uint32_t base; } gdtr, idtr;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("pushf; pop %0" : "=r"(efl));
    __asm__ volatile("mov %%cs,%0; mov %%ds,%1; mov %%ss,%2" : "=r"(cs), "=r"(ds), "=r"(ss));
    __asm__ volatile("mov %%es,%0; mov %%fs,%1; mov %%gs,%2" : "=r"(es), "=r"(fs), "=r"(gs));
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    kv("magic", magic); kv("info", info); kv("esp", boot_esp);
    kv("cr0", cr0); kv("eflags", efl);
    kv("cs", cs); kv("ds", ds); kv("ss", ss); kv("es", es); kv("fs", fs); kv("gs", gs);
    kv("gdtr.base", gdtr.base); kv("gdtr.limit", gdtr.lim);
    kv("idtr.base", idtr.base); kv("idtr.limit", idtr.lim);
    for (uint32_t i = 0; i <= gdtr.lim / 8 && i < 8; i++) {
        uint32_t *d = (uint32_t *)(gdtr.base + 8 * i);
        puts("gdt["); putdec(i); puts("]="); puthex(d[1]); puts(":"); puthex(d[0]); puts("\n");
    }
    uint32_t *mbi = (uint32_t *)info;
    for (int i = 0; i < 22; i++) {
        puts("mbi["); putdec(4 * i); puts("]="); puthex(mbi[i]); puts("\n");
    }
    if (mbi[0] & 4) { puts("cmdline='"); puts((const char *)mbi[4]); puts("'\n"); }
    if (mbi[0] & (1 << 9)) { puts("loader='"); puts((const char *)mbi[16]); puts("'\n"); }
    if (mbi[0] & (1 << 6)) {
        uint32_t p = mbi[12], end = mbi[12] + mbi[11];
        while (p < end) {
            uint32_t *e = (uint32_t *)p;
            puts("mmap size="); puthex(e[0]); puts(" base="); puthex(e[2]); puthex(e[1]);
            puts(" len="); puthex(e[4]); puthex(e[3]); puts(" type="); putdec(e[5]); puts("\n");
            p += e[0] + 4;
        }
    }
    uint32_t leaves[] = {0, 1, 2, 3, 4, 5, 6, 7, 0xa, 0xd, 0x80000000, 0x80000001, 0x80000002,
                         0x80000003, 0x80000004, 0x80000005, 0x80000006, 0x80000007, 0x80000008};
    for (unsigned i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        cpuid(leaves[i], 0, r);
        puts("cpuid "); puthex(leaves[i]); puts(": ");
        for (int j = 0; j < 4; j++) { puthex(r[j]); puts(" "); }
        puts("\n");
    }
    for (uint32_t sub = 0; sub < 5; sub++) {
        cpuid(4, sub, r);
        puts("cpuid 4."); putdec(sub); puts(": ");
        for (int j = 0; j < 4; j++) { puthex(r[j]); puts(" "); }
        puts("\n");
    }
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x1b));
    kv("apicbase.lo", lo);
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x10));
    kv("tsc.hi", hi);
    return 0;
}
