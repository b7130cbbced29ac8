// Guest memory: address-space layout, guest RAM (one memfd), the guest's view, page walks.
//
// Layout of this process (DESIGN §5):
//   [0, 4 GiB)      the guest's. Reserved PROT_NONE at start; guest RAM is mapped into it as
//                   the guest's view, and the hypervisor window sits at mem_window.
//   above 4 GiB     the runtime: its PIE image, heap, stacks, and the second mapping of RAM
//                   (mem_ram) through which the hypervisor reads and writes guest memory.
// Guest RAM is one memfd, so the same physical page can appear at any number of guest-linear
// addresses (shadow paging) and at mem_ram + paddr, all coherent.
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi.h"
#include "emulate.h"
#include "mmio.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

uint8_t *mem_ram;
uint32_t mem_ram_size;
uint32_t mem_window;
static int ram_fd = -1;
static bool page0_ok;    // could map guest page 0 (root, or mmap_min_addr 0)
static uint32_t win_entry_end, win_image_end;  // readable parts of the window (offsets)

uint64_t mem_stat_shadow_faults, mem_stat_flushes, mem_stat_pages;

// The A20 gate (port 0x92, keyboard controller output port): when the guest turns it off,
// physical address bit 20 reads as 0 everywhere -- instruction fetches, data, page walks --
// as on a PC and in QEMU (a20_mask).
static uint32_t a20_mask = 0xffffffffu;

// Aliases of the window (see "window aliases" below).
#define ALIAS_MAX 4
struct alias { uint32_t base, delta; bool mapped, boot; };
static struct alias alias[ALIAS_MAX];
static unsigned nalias;
static void alias_map(unsigned i);
static bool alias_live(const struct vcpu *v, unsigned i);
static int alias_at(uint64_t lin);

// Shadow pages currently mapped while paging is on, with the ring they were mapped for.
// Bounded well below vm.max_map_count (65530): past that, everything is flushed.
#define SHADOW_MAX 24576
static struct shadow { uint32_t lin; uint8_t sys; } shadow[SHADOW_MAX];
static unsigned nshadow;

static void die(const char *what)
{
    fprintf(stderr, "ring1-run: %s: %s\n", what, strerror(errno));
    exit(2);
}

void mem_init(uint32_t ram_size)
{
    // The guest's 4 GiB. Page 0 needs root (vm.mmap_min_addr); without it the guest's page 0
    // stays unmapped and any access to it is reported as a fault.
    void *p = mmap((void *)0, GUEST_SPACE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    page0_ok = (p == (void *)0);
    if (!page0_ok) {
        p = mmap((void *)PGSIZE, GUEST_SPACE - PGSIZE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != (void *)PGSIZE)
            die("cannot reserve the low 4 GiB for the guest (is something mapped there?)");
        fprintf(stderr, "ring1-run: warning: cannot map guest page 0 (not root, "
                        "vm.mmap_min_addr > 0): guest accesses to [0, 4096) will fault\n");
    }
    ram_fd = memfd_create("ring1-ram", MFD_CLOEXEC);
    if (ram_fd < 0)
        die("memfd_create");
    if (ftruncate(ram_fd, ram_size) < 0)
        die("ftruncate guest RAM");
    mem_ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
    if (mem_ram == MAP_FAILED)
        die("mmap guest RAM");
    if ((uintptr_t)mem_ram < GUEST_SPACE) {
        fprintf(stderr, "ring1-run: RAM landed below 4 GiB\n");
        exit(2);
    }
    mem_ram_size = ram_size;
}

void *mem_phys(uint32_t paddr, uint32_t len)
{
    if (paddr >= mem_ram_size || len > mem_ram_size - paddr)
        return NULL;
    return mem_ram + paddr;
}

// Make [lo, hi) of the guest's space PROT_NONE again (never touching the window).
static void reserve(uint64_t lo, uint64_t hi)
{
    if (!page0_ok && lo < PGSIZE)
        lo = PGSIZE;
    if (lo >= hi)
        return;
    if (mmap((void *)lo, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
             MAP_FIXED, -1, 0) == MAP_FAILED)
        die("reserve guest space");
}

static void reserve_all(void)
{
    for (unsigned i = 0; i < nalias; i++)
        alias[i].mapped = false;
    if (mem_window) {
        reserve(0, mem_window);
        reserve((uint64_t)mem_window + R1_WINDOW_SIZE, GUEST_SPACE);
    } else {
        reserve(0, GUEST_SPACE);
    }
}

void mem_view_reset(struct vcpu *v)
{
    reserve_all();
    nshadow = 0;
    mem_stat_flushes++;
    if (v->cr0 & CR0_PG)
        return;  // shadow paging: filled on demand
    // Paging off: linear = physical. One mapping of all RAM below the window; with A20 off,
    // one per MiB, each odd MiB showing the even one below it.
    uint64_t lo = page0_ok ? 0 : PGSIZE, hi = mem_ram_size;
    if (mem_window && hi > mem_window)
        hi = mem_window;
    if (a20_mask == 0xffffffffu) {
        if (mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_SHARED | MAP_FIXED, ram_fd, (off_t)lo) == MAP_FAILED)
            die("map guest RAM at its physical addresses");
    } else {
        for (uint64_t at = lo; at < hi;) {
            uint64_t end = ((at >> 20) + 1) << 20;
            if (end > hi)
                end = hi;
            if (mmap((void *)at, end - at, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_SHARED | MAP_FIXED, ram_fd, (off_t)(at & a20_mask)) == MAP_FAILED)
                die("map guest RAM with A20 off");
            at = end;
        }
    }
    for (unsigned i = 0; i < nalias; i++)
        alias_map(i);
}

void mem_set_a20(struct vcpu *v, bool on)
{
    uint32_t mask = on ? 0xffffffffu : ~(1u << 20);
    if (mask == a20_mask)
        return;
    a20_mask = mask;
    mem_view_reset(v);
}

void mem_view_invlpg(struct vcpu *v, uint32_t lin)
{
    if (!(v->cr0 & CR0_PG))
        return;
    lin &= ~(PGSIZE - 1);
    if (mem_in_window(lin))
        return;
    for (unsigned i = 0; i < nshadow; i++) {
        if (shadow[i].lin == lin) {
            reserve(lin, (uint64_t)lin + PGSIZE);
            shadow[i] = shadow[--nshadow];
            return;
        }
    }
}

void mem_view_cpl_changed(struct vcpu *v, int old_cpl, int new_cpl)
{
    if (!(v->cr0 & CR0_PG) || new_cpl != 3 || old_cpl == 3)
        return;
    // Entering ring 3: pages mapped with ring-0 rights (supervisor-only ones, or writable
    // because CR0.WP=0) must not stay reachable.
    for (unsigned i = 0; i < nshadow;) {
        if (shadow[i].sys) {
            reserve(shadow[i].lin, (uint64_t)shadow[i].lin + PGSIZE);
            shadow[i] = shadow[--nshadow];
        } else {
            i++;
        }
    }
}

// 32-bit page walk (SDM 3A §4.3), setting A and D bits as the processor does.
// acc: ACC_WRITE / ACC_FETCH / ACC_SYS; user = the access is from CPL 3 (and not ACC_SYS).
// On success *pa is the physical address and *wr whether the access path allows writes for
// this privilege (so a shadow mapping may be made writable).
static int walk(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, bool *wr, uint32_t *pferr)
{
    bool user = v->cpl == 3 && !(acc & ACC_SYS);
    bool write = acc & ACC_WRITE;
    uint32_t err = (write ? PFERR_W : 0) | (user ? PFERR_U : 0);
    uint32_t *pde = mem_phys(((v->cr3 & PTE_ADDR) + 4 * PDX(lin)) & a20_mask, 4);
    if (!pde || !(*pde & PTE_P))
        goto notpresent;
    if ((*pde & PTE_PS) && (v->cr4 & CR4_PSE)) {
        bool w = *pde & PTE_W, u = *pde & PTE_U;
        if ((user && !u) || (write && !w && (user || (v->cr0 & CR0_WP))))
            goto protection;
        *pde |= PTE_A | (write ? PTE_D : 0);
        *pa = ((*pde & PDE_ADDR_4M) | (lin & (PGSIZE_4M - 1))) & a20_mask;
        *wr = (user || (v->cr0 & CR0_WP)) ? w : true;
        if (!(*pde & PTE_D))
            *wr = false;  // map read-only until the first write sets D
        return 0;
    }
    uint32_t *pte = mem_phys(((*pde & PTE_ADDR) + 4 * PTX(lin)) & a20_mask, 4);
    if (!pte || !(*pte & PTE_P))
        goto notpresent;
    bool w = (*pde & PTE_W) && (*pte & PTE_W);
    bool u = (*pde & PTE_U) && (*pte & PTE_U);
    if ((user && !u) || (write && !w && (user || (v->cr0 & CR0_WP))))
        goto protection;
    *pde |= PTE_A;
    *pte |= PTE_A | (write ? PTE_D : 0);
    *pa = ((*pte & PTE_ADDR) | (lin & (PGSIZE - 1))) & a20_mask;
    *wr = (user || (v->cr0 & CR0_WP)) ? w : true;
    if (!(*pte & PTE_D))
        *wr = false;
    return 0;
protection:
    err |= PFERR_P;
notpresent:
    *pferr = err;
    return -1;
}

int vmem_translate(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, uint32_t *pferr)
{
    if (!(v->cr0 & CR0_PG)) {
        *pa = lin & a20_mask;
        return 0;
    }
    bool wr;
    return walk(v, lin, acc, pa, &wr, pferr);
}

int mem_shadow_fault(struct vcpu *v, uint32_t lin, bool write, uint32_t *pferr, uint32_t *pa_out)
{
    *pa_out = lin;
    if (mem_in_window(lin))
        return -2;
    int ai = alias_at(lin);
    if (ai >= 0 && alias_live(v, (unsigned)ai)) {
        if (alias[ai].mapped) {
            *pa_out = lin + alias[ai].delta;   // the guest touched the window through it
            return -2;
        }
        if (v->cr0 & CR0_PG) {
            // The guest's own tables must leave the alias alone (it stands for the window).
            uint32_t gpa, gerr;
            bool gwr;
            if (walk(v, lin, ACC_SYS, &gpa, &gwr, &gerr) == 0) {
                *pa_out = gpa;
                return -3;
            }
        }
        alias_map((unsigned)ai);
        stats_count("window-alias-map");
        return 0;
    }
    if (!(v->cr0 & CR0_PG))
        return -1;  // paging off: everything that is RAM is already mapped
    uint32_t pa;
    bool wr;
    if (walk(v, lin, write ? ACC_WRITE : ACC_READ, &pa, &wr, pferr) < 0)
        return 1;
    *pa_out = pa;
    pa &= ~(PGSIZE - 1);
    if (!mem_phys(pa, PGSIZE))
        return -1;
    if (nshadow == SHADOW_MAX) {  // stay far from vm.max_map_count
        reserve_all();
        nshadow = 0;
        mem_stat_flushes++;
    }
    uint32_t page = lin & ~(PGSIZE - 1);
    if (!page0_ok && page == 0)
        return -1;
    int prot = PROT_READ | PROT_EXEC | (wr ? PROT_WRITE : 0);
    if (mmap((void *)(uintptr_t)page, PGSIZE, prot, MAP_SHARED | MAP_FIXED, ram_fd, pa) ==
        MAP_FAILED)
        die("map shadow page");
    // Replace an existing entry for this page (a write upgrade), else add one.
    unsigned i;
    for (i = 0; i < nshadow && shadow[i].lin != page; i++)
        ;
    if (i == nshadow)
        nshadow++;
    shadow[i].lin = page;
    shadow[i].sys = v->cpl < 3;
    mem_stat_shadow_faults++;
    if (nshadow > mem_stat_pages)
        mem_stat_pages = nshadow;
    return 0;
}

// The window is one memfd, so that it can be mapped a second time (the aliases below) with
// the vCPU page and the hypercall stack shared between both mappings.
static int win_fd = -1;

// Map the window's memfd at base with its protections: vCPU page and hypercall stack RW,
// entry code RX, .ring1 RX, the rest PROT_NONE.
static void window_map_at(uint32_t base)
{
    uint8_t *w = (uint8_t *)(uintptr_t)base;
    if (mmap(w, R1_WINDOW_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
             MAP_FIXED, -1, 0) == MAP_FAILED ||
        mmap(w, R1_ENTRY_OFF, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, win_fd, 0) ==
            MAP_FAILED ||
        mmap(w + R1_ENTRY_OFF, win_entry_end - R1_ENTRY_OFF, PROT_READ | PROT_EXEC,
             MAP_SHARED | MAP_FIXED, win_fd, R1_ENTRY_OFF) == MAP_FAILED ||
        (win_image_end > R1_IMAGE_OFF &&
         mmap(w + R1_IMAGE_OFF, win_image_end - R1_IMAGE_OFF, PROT_READ | PROT_EXEC,
              MAP_SHARED | MAP_FIXED, win_fd, R1_IMAGE_OFF) == MAP_FAILED))
        die("map the hypervisor window");
}

volatile uint32_t *mem_window_map(uint32_t base, const void *entry, size_t entry_len,
                                  uint32_t image_off, const void *image, size_t image_len)
{
    mem_window = base;
    win_fd = memfd_create("ring1-window", MFD_CLOEXEC);
    if (win_fd < 0 || ftruncate(win_fd, R1_WINDOW_SIZE) < 0)
        die("create the hypervisor window");
    if (pwrite(win_fd, entry, entry_len, R1_ENTRY_OFF) != (ssize_t)entry_len ||
        (image_len && pwrite(win_fd, image, image_len, image_off) != (ssize_t)image_len))
        die("fill the hypervisor window");
    // Between the entry page and the image, and after the image: nothing.
    win_entry_end = (uint32_t)((R1_ENTRY_OFF + entry_len + PGSIZE - 1) & ~(size_t)(PGSIZE - 1));
    win_image_end = image_len ? (uint32_t)((image_off + image_len + PGSIZE - 1) &
                                           ~(size_t)(PGSIZE - 1))
                              : R1_IMAGE_OFF;
    window_map_at(base);
    return (volatile uint32_t *)(uintptr_t)(base + R1_VCPU_OFF);
}

// ---- window aliases -------------------------------------------------------------------------
// abi.h, "Kernels linked above where they are loaded": a kernel whose segments have
// p_vaddr = p_paddr + delta runs its boot code at physical addresses (paging off, or on with
// an identity map of low memory: xv6, Linux's head code) or at virtual addresses through
// segments based at -delta (GNU Mach). Either way a patched site's `jmp rel32` and the
// trampolines' absolute vCPU accesses land at window - delta. That alias is live
//   - while paging is off (mapped with RAM, which must not reach it);
//   - while CS, SS or DS has base -delta (the guest's linear window - delta is then the image
//     of the window's virtual addresses, which the guest must leave alone anyway);
//   - during the boot phase: until the guest is first seen running at its virtual addresses
//     (paging on, CS base 0, EIP at or above delta, below the window). A guest that maps the
//     alias range itself during that phase is diagnosed, not shadowed silently.
// It is mapped on the first fault there and dropped as soon as it stops being live.
void mem_window_alias_init(const uint32_t *deltas, unsigned n)
{
    for (unsigned i = 0; i < n && nalias < ALIAS_MAX; i++) {
        uint32_t a = mem_window - deltas[i];
        if (a & (R1_WINDOW_SIZE - 1))
            continue;   // a delta that is not a multiple of 4 MiB cannot alias the window
        if ((uint64_t)a < mem_ram_size || (a < mem_window + R1_WINDOW_SIZE &&
                                           a + R1_WINDOW_SIZE > mem_window)) {
            fprintf(stderr, "ring1-run: the window's physical alias %#x-%#x (window %#x - "
                    "(p_vaddr - p_paddr) %#x) overlaps guest RAM (%u MiB) or the window: run "
                    "with less --mem or rewrite with another --window\n", a,
                    a + R1_WINDOW_SIZE - 1, mem_window, deltas[i], mem_ram_size >> 20);
            exit(STATUS_LOAD_ERROR);
        }
        alias[nalias++] = (struct alias){a, deltas[i], false, true};
    }
}

static bool alias_live(const struct vcpu *v, unsigned i)
{
    uint32_t b = -alias[i].delta;
    return !(v->cr0 & CR0_PG) || alias[i].boot || v->seg[R1_SREG_CS].base == b ||
           v->seg[R1_SREG_SS].base == b || v->seg[R1_SREG_DS].base == b;
}

bool mem_window_alias_live(const struct vcpu *v, uint32_t delta)
{
    for (unsigned i = 0; i < nalias; i++)
        if (alias[i].delta == delta)
            return alias_live(v, i);
    return false;
}

static int alias_at(uint64_t lin)
{
    for (unsigned i = 0; i < nalias; i++)
        if (lin >= alias[i].base && lin - alias[i].base < R1_WINDOW_SIZE)
            return (int)i;
    return -1;
}

bool mem_in_window_or_alias(uint64_t a)
{
    return mem_in_window(a) || alias_at(a) >= 0;
}

bool mem_in_entry_code(uint64_t a)
{
    int i = alias_at(a);
    uint64_t off = mem_in_window(a) ? a - mem_window : i >= 0 ? a - alias[i].base : ~0ull;
    return off < R1_IMAGE_OFF;
}

uint32_t mem_window_alias_delta(const struct vcpu *v, uint32_t addr)
{
    int i = alias_at(addr);
    return i >= 0 && alias_live(v, (unsigned)i) ? alias[i].delta : 0;
}

static void alias_map(unsigned i)
{
    if (!alias[i].mapped)
        window_map_at(alias[i].base);
    alias[i].mapped = true;
}

void mem_window_alias_sync(struct vcpu *v)
{
    uint32_t eip = vcpu_lin_eip(v);
    for (unsigned i = 0; i < nalias; i++) {
        if (alias[i].boot && (v->cr0 & CR0_PG) && v->seg[R1_SREG_CS].base == 0 &&
            eip >= alias[i].delta && eip < mem_window) {
            alias[i].boot = false;   // running at its virtual addresses: boot is over
            stats_count("window-alias-boot-over");
        }
        if (alias[i].mapped && !alias_live(v, i)) {
            reserve(alias[i].base, (uint64_t)alias[i].base + R1_WINDOW_SIZE);
            alias[i].mapped = false;
            stats_count("window-alias-drop");
        }
    }
}

// Copy between guest linear memory and buf, page by page.
static int vmem_copy(struct vcpu *v, uint32_t lin, void *buf, unsigned len, int acc)
{
    uint8_t *b = buf;
    while (len) {
        uint32_t pa, pferr;
        unsigned chunk = PGSIZE - (lin & (PGSIZE - 1));
        if (chunk > len)
            chunk = len;
        if (vmem_translate(v, lin, acc, &pa, &pferr) < 0) {
            v->cr2 = lin;
            return emu_fault(v, T_PF, pferr);
        }
        uint8_t *h = mem_phys(pa, chunk);
        if (!h && (chunk == 4 || chunk == 2) && !(pa & (chunk - 1))) {
            // Not RAM: the device registry, one access of the operand's size (device
            // registers care: QEMU's APIC ignores anything narrower than 32 bits).
            uint32_t val = 0;
            if (acc & ACC_WRITE) {
                memcpy(&val, b, chunk);
                mmio_write(pa, (int)chunk, val);
            } else {
                val = mmio_read(pa, (int)chunk);
                memcpy(b, &val, chunk);
            }
        } else if (!h) {
            // Unaligned or odd-sized: byte by byte (reads of nothing are zero, as in QEMU).
            for (unsigned i = 0; i < chunk; i++) {
                if (acc & ACC_WRITE)
                    mmio_write(pa + i, 1, b[i]);
                else
                    b[i] = (uint8_t)mmio_read(pa + i, 1);
            }
        } else if (acc & ACC_WRITE) {
            memcpy(h, b, chunk);
        } else {
            memcpy(b, h, chunk);
        }
        lin += chunk;
        b += chunk;
        len -= chunk;
    }
    return 0;
}

int vmem_read(struct vcpu *v, uint32_t lin, void *buf, unsigned len, int acc)
{
    return vmem_copy(v, lin, buf, len, acc & ~ACC_WRITE);
}

int vmem_write(struct vcpu *v, uint32_t lin, const void *buf, unsigned len, int acc)
{
    return vmem_copy(v, lin, (void *)buf, len, acc | ACC_WRITE);
}

unsigned vmem_fetch(struct vcpu *v, uint32_t lin, uint8_t *buf, unsigned len)
{
    unsigned n = 0;
    while (n < len) {
        uint32_t pa, pferr, at = lin + n;
        at += mem_window_alias_delta(v, at);   // the window seen through a live alias
        if (mem_in_window(at)) {  // trampolines and entry code live in the window
            uint32_t off = at - mem_window;
            if (off < R1_ENTRY_OFF || (off >= win_entry_end && off < R1_IMAGE_OFF) ||
                off >= win_image_end)
                break;
            const uint8_t *p = (const uint8_t *)(uintptr_t)at;
            buf[n] = *p;
            n++;
            continue;
        }
        if (vmem_translate(v, lin + n, ACC_FETCH, &pa, &pferr) < 0)
            break;
        uint8_t *h = mem_phys(pa, 1);
        if (!h)
            break;
        buf[n++] = *h;
    }
    return n;
}
