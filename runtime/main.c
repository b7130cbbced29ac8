// ring1-run: load a (patched or unpatched) 32-bit multiboot kernel and run it natively.
//
//   ring1-run IMAGE [--mem 128M] [--serial stdio|FILE] [--cmdline "..."] [--timeout SECONDS]
//                   [--stats] [--trace] [--kernel-name NAME]
//
// --kernel-name: the file name the multiboot command line starts with (QEMU's -kernel puts
// its path there, "<path> <append>"); default IMAGE. Lets a patched image boot with exactly
// the command line its unpatched original had under QEMU.
//
// Exit status: (v << 1) | 1 when the guest writes v to the debug-exit port 0xf4 (as QEMU's
// isa-debug-exit), otherwise one of the even STATUS_* verdicts in vcpu.h.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpuid.h"
#include "hypercall.h"
#include "loader.h"
#include "mem.h"
#include "platform.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"

static void usage(void)
{
    fprintf(stderr, "usage: ring1-run IMAGE [--mem SIZE] [--serial stdio|FILE] "
                    "[--cmdline STRING] [--timeout SECONDS] [--stats] [--trace] "
                    "[--kernel-name NAME]\n");
    exit(STATUS_LOAD_ERROR);
}

// Seconds with an optional fraction ("2", "0.5") in nanoseconds, without floating point
// (the runtime is built with -mgeneral-regs-only).
static uint64_t parse_seconds(const char *s)
{
    uint64_t ns = 0, scale = 1000000000u;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        ns = ns * 10 + (uint64_t)(*p++ - '0');
    ns *= scale;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ns += (scale /= 10) * (uint64_t)(*p - '0');
    if (*p || p == s) {
        fprintf(stderr, "ring1-run: --timeout %s: want seconds, e.g. 10 or 0.5\n", s);
        exit(STATUS_LOAD_ERROR);
    }
    return ns;
}

static uint32_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 0);
    switch (*end) {
    case 'k': case 'K': n <<= 10; end++; break;
    case 'm': case 'M': n <<= 20; end++; break;
    case 'g': case 'G': n <<= 30; end++; break;
    case '\0': n <<= 20; break;   // a bare number is MiB, like QEMU's -m
    }
    if (errno || *end || n < (2u << 20) || n > 0xc0000000ull) {
        fprintf(stderr, "ring1-run: --mem %s: want 2M..3G\n", s);
        exit(STATUS_LOAD_ERROR);
    }
    return (uint32_t)(n & ~0xfffull);
}

// The code at R1_ENTRY: a compat-mode far jump to the 64-bit stub right after it.
static size_t build_entry(uint8_t *buf, uint32_t window)
{
    const uint32_t stub_off = 16;
    uint32_t stub = window + R1_ENTRY_OFF + stub_off;
    uint8_t jmp[7] = {0xea, (uint8_t)stub, (uint8_t)(stub >> 8), (uint8_t)(stub >> 16),
                      (uint8_t)(stub >> 24), 0x33, 0x00};   // ljmp $0x33, $stub
    memset(buf, 0xcc, stub_off);
    memcpy(buf, jmp, sizeof jmp);
    size_t n = (size_t)(hc_stub64_end - hc_stub64_start);
    memcpy(buf + stub_off, hc_stub64_start, n);
    return stub_off + n;
}

int main(int argc, char **argv)
{
    const char *image = NULL, *serial = "stdio", *cmdline = "", *kernel_name = NULL;
    uint32_t ram = 128u << 20;
    uint64_t timeout_ns = 0;
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--mem") && i + 1 < argc)
            ram = parse_size(argv[++i]);
        else if (!strcmp(a, "--serial") && i + 1 < argc)
            serial = argv[++i];
        else if (!strcmp(a, "--cmdline") && i + 1 < argc)
            cmdline = argv[++i];
        else if (!strcmp(a, "--timeout") && i + 1 < argc)
            timeout_ns = parse_seconds(argv[++i]);
        else if (!strcmp(a, "--kernel-name") && i + 1 < argc)
            kernel_name = argv[++i];
        else if (!strcmp(a, "--stats"))
            stats = true;
        else if (!strcmp(a, "--trace"))
            vcpu_trace = true;
        else if (a[0] == '-' || image)
            usage();
        else
            image = a;
    }
    if (!image)
        usage();

    struct vcpu *v = &vcpu0;
    mem_init(ram);
    struct image img;
    loader_load(image, &img);
    if (kernel_name)
        img.path = kernel_name;

    // The vCPU page: in the window for a patched image (its trampolines use it), else a
    // host page (an unpatched kernel owns all 4 GiB).
    if (img.has_note) {
        uint8_t entry[256];
        size_t n = build_entry(entry, img.note.window_base);
        v->page = mem_window_map(img.note.window_base, entry, n,
                                 img.ring1_vaddr - img.note.window_base, img.ring1,
                                 img.ring1_len);
        if (r1_init((const struct r1_header *)(uintptr_t)img.note.image_vaddr, img.ring1_vaddr,
                    img.ring1_len) < 0)
            exit(STATUS_LOAD_ERROR);
        r1_set_alias_deltas(img.deltas, img.ndeltas);
    } else {
        v->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    vcpu_reset(v);
    mem_view_reset(v);
    platform_init(v, serial, ram);
    loader_boot(v, &img, cmdline);
    signals_init(v);
    if (timeout_ns)
        signals_arm_timeout(timeout_ns);

    uint64_t t0 = host_ns();
    int status = vcpu_run(v);
    if (stats)
        stats_print(stderr, host_ns() - t0);
    host_fpu_begin();
    fflush(stdout);
    return status;
}
