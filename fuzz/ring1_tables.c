// libFuzzer target, links runtime/hypercall.c runtime/decode.c: the patched image's .ring1
// tables as the runtime reads them (r1_init, then every lookup a run makes).
// The input is a .ring1 segment (struct r1_header first, as the rewriter emits it); it is
// copied to the segment's place in a hypervisor window mapped at a fixed address below 4 GiB
// (the runtime takes guest addresses as host pointers), and the window after the segment is
// poisoned, so ASan reports any read past the segment. The stubs below stand in for the
// runtime's memory, emulator and statistics modules.
// Properties checked: r1_init accepts or refuses (one message) without reading outside the
// segment; once accepted, every lookup (r1_site, r1_site_at, r1_t2o, r1_o2t,
// r1_interruptible, r1_trap_site) stays inside the tables and returns what they say.
#include <assert.h>
#include <sanitizer/asan_interface.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decode.h"
#include "emulate.h"
#include "hypercall.h"
#include "mem.h"
#include "stats.h"
#include "vcpu.h"

#define WINDOW 0x40000000u
#define IMAGE  (WINDOW + R1_IMAGE_OFF)

// ---- stubs for mem.c, emulate.c, vcpu.c, stats.c, usergate.c -----------------------------
uint32_t mem_window;
static bool alias_live;
const char *const kind_names[R1_KIND_MAX] = {[R1_KIND_CLI] = "cli"};
bool vcpu_trace;   // (--trace: off)
void vcpu_tracef(const char *fmt, ...) { (void)fmt; }
static unsigned emulated;

uint32_t mem_window_alias_delta(const struct vcpu *v, uint32_t addr)
{
    (void)v;
    (void)addr;
    return 0;
}

bool mem_window_alias_live(const struct vcpu *v, uint32_t delta)
{
    (void)v;
    (void)delta;
    return alias_live;
}

// Guest RAM: the low 16 MiB (r1_alias_return only asks whether an address is RAM).
void *mem_phys(uint32_t paddr, uint32_t len)
{
    static uint8_t page[1];
    return (uint64_t)paddr + len <= (16u << 20) ? page : NULL;
}

enum emu_result emulate(struct vcpu *v, const struct insn *in, uint32_t addr, uint32_t next,
                        uint32_t next_run)
{
    (void)v;
    (void)addr;
    (void)next;
    (void)next_run;
    assert(in->len >= 1 && in->len <= INSN_MAX);
    emulated++;
    return EMU_UNHANDLED;
}

int mmio_emulate_site(struct vcpu *v, const struct insn *in)
{
    (void)v;
    assert(in->len >= 1 && in->len <= INSN_MAX);
    emulated++;
    return -1;
}

void usergate_enter(struct vcpu *v)
{
    (void)v;
    assert(!"a hypercall from ring 3 in the harness");
}

void usergate_note_sysexit(struct vcpu *v)
{
    (void)v;
}

bool vcpu_break_check(struct vcpu *v, uint32_t addr)
{
    (void)v;
    (void)addr;
    return false;
}

void vcpu_stop(struct vcpu *v, int status, const char *why, ...)
{
    (void)status;
    va_list ap;
    va_start(ap, why);
    char msg[256];
    vsnprintf(msg, sizeof msg, why, ap);   // the format's arguments must match
    va_end(ap);
    v->stop = true;
}

void stats_count(const char *name) { (void)name; }
void stats_exit(int kind, uint32_t eip) { (void)kind; (void)eip; }
void stats_insn(int kind, uint32_t eip) { (void)kind; (void)eip; }

// ---- the target ---------------------------------------------------------------------------
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mmap((void *)(uintptr_t)WINDOW, R1_WINDOW_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) !=
        (void *)(uintptr_t)WINDOW) {
        perror("ring1_tables: mmap of the window");
        exit(1);
    }
    mem_window = WINDOW;
    static const uint32_t deltas[] = {0xc0000000u};
    r1_set_alias_deltas(deltas, 1);
    return 0;
}

static void probe(const struct vcpu *v, uint32_t addr)
{
    (void)r1_t2o(v, addr);
    (void)r1_o2t(v, addr);
    (void)r1_interruptible(v, addr);
    (void)r1_in_tramp(addr);
    (void)r1_site_at(addr);
    (void)r1_alias_return(v, addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *img = (uint8_t *)(uintptr_t)IMAGE;
    size_t max = R1_IMAGE_MAX;
    if (size > max)
        size = max;
    size &= ~(size_t)7;                       // ASan poisons whole 8-byte granules
    ASAN_UNPOISON_MEMORY_REGION(img, max);
    memset(img, 0, max);
    memcpy(img, data, size);
    ASAN_POISON_MEMORY_REGION(img + size, max - size);

    alias_live = size && (data[size - 1] & 1);
    if (r1_init((const struct r1_header *)img, IMAGE, (uint32_t)size) < 0)
        return 0;
    assert(r1_present());
    const struct r1_header *h = (const void *)img;
    static struct vcpu v;
    memset(&v, 0, sizeof v);
    const struct r1_site *s;
    uint32_t n = 0;
    while ((s = r1_site(n)) != NULL) {
        assert((const uint8_t *)s >= img && (const uint8_t *)(s + 1) <= img + size);
        const struct r1_site *t = r1_site_at(s->addr);
        assert(t && t->addr == s->addr);
        if (n < 64) {
            probe(&v, s->addr);
            probe(&v, s->tramp);
            probe(&v, s->resume);
            v.stop = false;
            (void)r1_trap_site(&v, s->addr, true);
        }
        n++;
    }
    assert(n == h->nsites);
    uint32_t lo = IMAGE + h->tramp_off;
    for (uint32_t i = 0; i < 40 && i <= h->tramp_size + 1; i++)
        probe(&v, lo - 1 + i);
    probe(&v, 0);
    probe(&v, 0xffffffffu);
    probe(&v, IMAGE);
    return 0;
}
