// Multiboot modules as the loader hands them over (QEMU -initrd "f1 args,f2" / ring1-run
// --module "f1 args" --module f2): the info structure's module list, each module's address,
// size, command line and a checksum of its bytes, and where the kernel's command line is.
#include "glib.h"

static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const uint32_t *mbi = (const uint32_t *)info;
    kv("flags", mbi[0]);
    kv("mods_count", mbi[5]);
    kv("mods_addr", mbi[6]);
    kv("cmdline_addr", mbi[4]);
    puts("cmdline='"); puts((const char *)mbi[4]); puts("'\n");
    kv("loader_addr", mbi[16]);
    const uint32_t *m = (const uint32_t *)mbi[6];
    for (uint32_t i = 0; i < mbi[5]; i++, m += 4) {
        uint32_t sum = 0;
        for (const uint8_t *p = (const uint8_t *)m[0]; p < (const uint8_t *)m[1]; p++)
            sum = sum * 31 + *p;
        puts("mod "); putdec(i); puts(": start="); puthex(m[0]); puts(" end="); puthex(m[1]);
        puts(" cmdline@"); puthex(m[2]); puts(" '"); puts((const char *)m[2]);
        puts("' sum="); puthex(sum); puts("\n");
    }
    return 0;
}
