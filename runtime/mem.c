// Guest memory: address-space layout, guest RAM (one memfd), the guest's view, page walks.
//
// Layout of this process (docs/design.md §5):
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
#include "mmio.h"
#include "patched.h"
#include "rtcode.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

uint8_t *mem_ram;
uint32_t mem_ram_size;
uint32_t mem_window;
static int ram_fd = -1;
static bool page0_ok;    // could map guest page 0 (root, or mmap_min_addr 0)
static uint32_t win_entry_end, win_image_end;  // readable parts of the window (offsets)

static unsigned maps_max;   // (below: "Shadow pages")
static uint64_t mem_stat_shadow_faults, mem_stat_flushes, mem_stat_pages, mem_stat_dropped,
                mem_stat_cr3_kept, mem_stat_downgraded, mem_stat_evicted, mem_stat_tlb_hits,
                mem_stat_maps;

void mem_print_stats(FILE *f)
{
    fprintf(f, "  shadow pages: %llu faults filled, %llu most mapped at once, %llu dropped, "
            "%llu kept across CR3 writes (%llu of them made read-only), %llu full flushes, "
            "%llu evicted at the cap\n",
            (unsigned long long)mem_stat_shadow_faults, (unsigned long long)mem_stat_pages,
            (unsigned long long)mem_stat_dropped, (unsigned long long)mem_stat_cr3_kept,
            (unsigned long long)mem_stat_downgraded,
            (unsigned long long)mem_stat_flushes, (unsigned long long)mem_stat_evicted);
    fprintf(f, "  runtime accesses to guest memory translated by a shadow page (no walk): %llu\n",
            (unsigned long long)mem_stat_tlb_hits);
    fprintf(f, "  host mappings of shadow and parked pages: %llu at most, %u allowed\n",
            (unsigned long long)mem_stat_maps, maps_max);
}

void mem_json_stats(FILE *f)
{
    fprintf(f, "{\"shadow_pages\": {\"faults_filled\": %llu, \"most_mapped_at_once\": %llu, "
            "\"dropped\": %llu, \"kept_across_cr3_writes\": %llu, \"made_read_only\": %llu, "
            "\"full_flushes\": %llu, \"evicted_at_the_cap\": %llu}, "
            "\"translated_by_a_shadow_page\": %llu, "
            "\"host_mappings\": {\"at_most\": %llu, \"allowed\": %u}}",
            (unsigned long long)mem_stat_shadow_faults, (unsigned long long)mem_stat_pages,
            (unsigned long long)mem_stat_dropped, (unsigned long long)mem_stat_cr3_kept,
            (unsigned long long)mem_stat_downgraded, (unsigned long long)mem_stat_flushes,
            (unsigned long long)mem_stat_evicted, (unsigned long long)mem_stat_tlb_hits,
            (unsigned long long)mem_stat_maps, maps_max);
}

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

// Shadow pages currently mapped while paging is on. sp_ent[page] is the physical page it
// maps plus SP_* bits (0: not mapped); sp_list holds the mapped pages in no order and
// sp_pos[page] their place in it, so that lookups, removal and whole-set walks are O(1) per
// page. Any number of pages may be mapped; what vm.max_map_count (65,530 by default) bounds
// is the number of host mappings they make (see "Runs" below), kept under maps_max by
// evicting: the host's limit, read at start, less MAPS_SPARE for what the count leaves out --
// the runtime's own mappings (about 60), a PROT_NONE remainder per linear chunk (at most
// 1,024) and a margin -- or three quarters of a limit below 8,192; MAPS_MAX where a build
// sets it.
#define SHADOW_MAX (1u << 20)
static unsigned maps_max = 32768;
#define MAPS_SPARE 2048u
#define SP_MAPPED 0x1u   // mapped
#define SP_W      0x2u   // mapped writable
#define SP_SYS    0x4u   // with more rights than CPL 3 has: must not stay reachable from ring 3
#define SP_DROP   0x8u   // marked for dropping (drop_marked)
#define SP_DOWN   0x10u  // marked for read-only (downgrade_marked)
#define SP_X      0x20u  // mapped executable (see "Copies of patched code")
#define SP_G      0x40u  // from a global translation (CR4.PGE): a CR3 write keeps it (below)
#define SP_PATCH  0x80u  // maps the frame's patched copy, not the frame (see "Patched copies")
static uint32_t sp_ent[1u << 20], sp_pos[1u << 20];
static uint32_t sp_list[SHADOW_MAX];
static unsigned nshadow;

// Copies of patched code (patched.h, docs/code-copies.md). With copy tracking on (an image
// with patched ranges), every RAM frame but the kernel image's own is in one of two states:
// FX_DATA, not executed since it was last written, whose shadow pages are mapped without
// PROT_EXEC; or FX_CODE, looked through for copies of patched ranges (and repaired) when it was
// first executed, whose shadow pages are mapped without PROT_WRITE. An instruction fetch from
// a FX_DATA frame, or a write to a FX_CODE one, faults and switches it (frame_executed,
// frame_written), through the reverse map below. FX_FREE frames follow neither rule: the
// kernel image's (patched in place, and often holding data the kernel writes beside its code),
// frames that switched more than FX_FLIPS_MAX times (code and hot data in one page: scanning
// at each switch would cost more than the guest's own work; counted in --stats), and every
// frame when tracking is off.
#define FX_DATA 0
#define FX_CODE 1
#define FX_FREE 2
#define FX_FLIPS_MAX 64
static uint8_t *fx, *fx_flips;
static bool fx_track;
// Ring 0's code written at run time (rtcode.h): rt_seen[frame], looked at since the frame was
// last executed as FX_DATA (armed, or left to run natively: the image's own code, or no site
// found with descent only); img_hash[frame], a hash of the bytes [img_lo, img_hi) of the frame
// that the kernel image loaded there (0: none), so that the image's code as loaded -- which the
// rewriter covered -- is told from code written over it.
static uint8_t *rt_seen;
static uint64_t *img_hash;
static uint16_t *img_lo, *img_hi;
// The reverse map: the shadow pages mapping each frame, as a doubly linked list through page
// numbers + 1 (0 ends it). sp_set keeps it.
static uint32_t *rm_head;
static uint32_t rm_next[1u << 20], rm_prev[1u << 20];

// Parked pages. Making a host mapping costs far more than changing one's protection (on
// this nested host: a page's own mmap of the RAM memfd with its page-table entry ~7-10 us,
// putting the reservation back over it ~5 us; mprotect of a whole single-page mapping
// ~1.5 us, and the host keeps its page-table entry, so no second fault follows). Pages are
// dropped and mapped again constantly -- a CR3 write drops the other process's pages, which
// come back, onto the same frames, when it runs again; ring 3's entry drops the kernel's
// pages below the limit -- so a dropped page that had a mapping of its own keeps it,
// PROT_NONE (no access reaches it: as unmapped as before for the guest), and remembers its
// frame: park_frame[page] = frame + 1. Mapping it again onto that frame is one mprotect.
// Every mapping made over guest space forgets the parked pages under it (park_clear); they
// count toward the host mappings budget with the shadow pages' runs (host_maps).
// Each parked page also remembers the page directory it was mapped under (park_cr3), and is
// on that directory's list (a bucket of park_head: intrusive, through page numbers + 1), so
// that when the directory is loaded again its pages that still translate as they did, onto
// the same frame and with the accessed bit set, are mapped again at once (park_restore):
// one mprotect each instead of a host fault and one (a process switched back to -- a shell
// after its child -- touches most of what it had). A fill does the same for the parked pages
// around it in its page table (park_restore_near): those parked under another directory that
// the new one maps the same way, or at ring 3's entry, which no CR3 load brings back (in the
// busybox session 144,000 of 147,000 fills were such refills of accessed pages; this takes
// a quarter of them, docs/exits.md).
#define PARK_BUCKETS 64u
static uint32_t park_frame[1u << 20], park_cr3[1u << 20];
static uint32_t park_next[1u << 20], park_prev[1u << 20];
static uint32_t park_head[PARK_BUCKETS];
static unsigned nparked;
static uint32_t view_cr3;   // the page directory the shadow pages are filled from

// Patched copies of ring 3's code frames (usergate.c patches a hot system call site). A
// frame's patched copy is a page of its own memfd (code_fd, slot k at k * PGSIZE): the frame's
// bytes with the patches applied. A ring-3 page mapping the frame executable is mapped onto
// the copy instead (SP_PATCH: read and execute only) -- at the patch, and at every later fill
// that does not write -- so that the patch survives the page's drops at CR3 writes; every
// other mapping of the frame (the kernel's own, a read through another address) shows the
// frame itself. The frame is FX_CODE while it has a copy, so a write to it through any mapping,
// or by the runtime, is seen (frame_written): its copies are dropped and the copy forgotten.
// Nothing else may map the copy: an SP_PATCH page is never parked (its mapping is not the
// frame's), never part of a run, and given back to the reservation when dropped.
// Ring 0's code written at run time has copies too (rtcode.h: *armed* copies, made at the
// frame's first instruction fetch in guest ring 0-2, with trap sites the runtime owns): every
// instruction fetch through any page mapping such a frame, ring 0's or ring 3's, runs the
// copy; a read fill maps the frame itself, without PROT_EXEC, so that reads through a page
// not yet executed see the guest's bytes (a page executed and read shows the copy to both).
// A slot reused while its frame is armed makes the frame data again (FX_DATA), so that its
// next execution arms it again: an armed frame's code never runs from the frame.
#define SLOTS RT_SLOTS
static int code_fd = -1;
static uint8_t *code_mem;              // the runtime's mapping of the copies (above 4 GiB)
static uint32_t slot_frame[SLOTS];     // frame + 1 of each copy; 0: free
static uint16_t *frame_slot;           // slot + 1 of each frame's copy; 0: none
static unsigned slot_hand;

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
#ifdef MAPS_MAX   // (the tests build a runtime with a small cap: tests/test_shadow_cap.py)
    maps_max = MAPS_MAX;
#else
    FILE *mmc = fopen("/proc/sys/vm/max_map_count", "r");
    unsigned long count = 0;
    if (mmc && fscanf(mmc, "%lu", &count) == 1 && count >= 4096)
        maps_max = count > (1ul << 30) ? 1u << 29
                   : count >= 8192 ? (unsigned)(count - MAPS_SPARE) : (unsigned)(count / 4 * 3);
    if (mmc)
        fclose(mmc);
#endif
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
    uint32_t frames = ram_size >> 12;
    fx = malloc(frames);
    fx_flips = calloc(frames, 1);
    rm_head = calloc(frames, sizeof *rm_head);
    frame_slot = calloc(frames, sizeof *frame_slot);
    rt_seen = calloc(frames, 1);
    img_hash = calloc(frames, sizeof *img_hash);
    img_lo = calloc(frames, sizeof *img_lo);
    img_hi = calloc(frames, sizeof *img_hi);
    if (!fx || !fx_flips || !rm_head || !frame_slot || !rt_seen || !img_hash || !img_lo || !img_hi)
        die("allocate the frame tables");
    code_fd = memfd_create("ring1-code", MFD_CLOEXEC);
    if (code_fd < 0 || ftruncate(code_fd, (off_t)SLOTS * PGSIZE) < 0)
        die("make the patched code memfd");
    code_mem = mmap(NULL, (size_t)SLOTS * PGSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, code_fd, 0);
    if (code_mem == MAP_FAILED)
        die("map the patched code memfd");
    memset(fx, FX_FREE, frames);
}

void mem_track_copies(void)
{
    fx_track = true;
    memset(fx, FX_DATA, mem_ram_size >> 12);
}

void mem_frames_exempt(uint32_t pa, uint32_t len)
{
    for (uint64_t a = pa & ~(PGSIZE - 1); a < (uint64_t)pa + len && a < mem_ram_size; a += PGSIZE)
        fx[a >> 12] = FX_FREE;
}

static uint64_t bytes_hash(const uint8_t *p, unsigned n)
{
    uint64_t h = 0xcbf29ce484222325ull, w;
    unsigned i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h | 1;   // (0: no image bytes)
}

void mem_image_bytes(uint32_t pa, uint32_t len)
{
    for (uint64_t a = pa; a < (uint64_t)pa + len && a < mem_ram_size;) {
        uint32_t f = (uint32_t)(a >> 12);
        uint64_t end = ((uint64_t)f + 1) << 12;
        if (end > (uint64_t)pa + len)
            end = (uint64_t)pa + len;
        if (end > mem_ram_size)
            end = mem_ram_size;
        uint32_t lo = (uint32_t)(a & (PGSIZE - 1)), hi = (uint32_t)(end - ((uint64_t)f << 12));
        if (img_hi[f] > img_lo[f]) {   // (two loads in one frame: the span of both)
            lo = lo < img_lo[f] ? lo : img_lo[f];
            hi = hi > img_hi[f] ? hi : img_hi[f];
        }
        img_lo[f] = (uint16_t)lo;
        img_hi[f] = (uint16_t)hi;
        img_hash[f] = bytes_hash(mem_ram + ((size_t)f << 12) + lo, hi - lo);
        a = end;
    }
}

void *mem_phys(uint32_t paddr, uint32_t len)
{
    if (paddr >= mem_ram_size || len > mem_ram_size - paddr)
        return NULL;
    return mem_ram + paddr;
}

// Make [lo, hi) of the guest's space PROT_NONE again (never touching the window).
static void park_clear(uint64_t lo, uint64_t hi);

static void reserve(uint64_t lo, uint64_t hi)
{
    if (!page0_ok && lo < PGSIZE)
        lo = PGSIZE;
    if (lo >= hi)
        return;
    park_clear(lo, hi);
    if (mmap((void *)lo, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
             MAP_FIXED, -1, 0) == MAP_FAILED)
        die("reserve guest space");
}

// Linear chunks. Mapping a page with its own mmap costs ~6 us here (a new mapping split out
// of the reservation), changing the protection of a page of an existing mapping ~1 us. Where
// the guest maps a 4 MiB chunk of linear space linearly onto RAM -- a kernel's direct map --
// the chunk becomes one PROT_NONE mapping of the RAM memfd at that offset the first time a
// page of it is mapped, and its pages are then mapped and dropped with mprotect. A page mapped
// elsewhere (not linearly) gets its own mmap and leaves the chunk's mapping for good, until
// the next full flush. Never for the chunks of the window or its aliases, or of page 0.
#define CHUNK_NONE INT64_MIN
static int64_t chunk_off[1024];             // memfd offset at the chunk's first page
static uint8_t chunk_backed[(1u << 20) / 8];   // the page is backed by its chunk's mapping

static bool backed(uint32_t pn)
{
    return chunk_backed[pn >> 3] & (1u << (pn & 7));
}

static void set_backed(uint32_t pn, bool on)
{
    if (on)
        chunk_backed[pn >> 3] |= (uint8_t)(1u << (pn & 7));
    else
        chunk_backed[pn >> 3] &= (uint8_t)~(1u << (pn & 7));
}

static void chunks_forget(void)
{
    for (unsigned c = 0; c < 1024; c++)
        chunk_off[c] = CHUNK_NONE;
    memset(chunk_backed, 0, sizeof chunk_backed);
}

// ---- parked pages (above) ------------------------------------------------------------------
static int sp_prot(uint32_t e);

static unsigned park_bucket(uint32_t cr3)
{
    return (cr3 >> 12) * 2654435761u >> 26;   // PARK_BUCKETS = 2^6
}

static void host_ent_out(uint32_t pn), host_ent_in(uint32_t pn);

static void park_del(uint32_t pn)
{
    uint32_t n = park_next[pn], p = park_prev[pn];
    host_ent_out(pn);
    if (p)
        park_next[p - 1] = n;
    else
        park_head[park_bucket(park_cr3[pn])] = n;
    if (n)
        park_prev[n - 1] = p;
    park_frame[pn] = 0;
    nparked--;
    host_ent_in(pn);
}

static void park_add(uint32_t pn, uint32_t frame)
{
    if (park_frame[pn])
        park_del(pn);
    unsigned b = park_bucket(view_cr3);
    host_ent_out(pn);
    park_frame[pn] = frame + 1;
    park_cr3[pn] = view_cr3;
    park_prev[pn] = 0;
    park_next[pn] = park_head[b];
    if (park_head[b])
        park_prev[park_head[b] - 1] = pn + 1;
    park_head[b] = pn + 1;
    nparked++;
    host_ent_in(pn);
}

// The host mappings of [lo, hi) (byte addresses) are being replaced: forget the parked pages
// there, walking whichever is shorter, the range or the parked lists.
static void park_clear(uint64_t lo, uint64_t hi)
{
    uint64_t plo = lo >> 12, phi = (hi + PGSIZE - 1) >> 12;
    if (phi - plo > nparked) {
        for (unsigned b = 0; b < PARK_BUCKETS && nparked; b++)
            for (uint32_t i = park_head[b]; i;) {
                uint32_t pn = i - 1;
                i = park_next[pn];
                if (pn >= plo && pn < phi)
                    park_del(pn);
            }
        return;
    }
    for (uint64_t pn = plo; pn < phi; pn++)
        if (park_frame[pn])
            park_del((uint32_t)pn);
}

// Give every parked page's mapping back to the reservation (the host mappings budget).
static void park_release(void)
{
    if (!nparked)
        return;
    stats_add("shadow-park-released", nparked);
    for (unsigned b = 0; b < PARK_BUCKETS; b++)
        while (park_head[b]) {
            uint32_t lo = park_head[b] - 1, hi = lo + 1;
            while (lo > 0 && park_frame[lo - 1])
                lo--;
            while (hi < (1u << 20) && park_frame[hi])
                hi++;
            reserve((uint64_t)lo << 12, (uint64_t)hi << 12);   // forgets them
        }
}

// Make pages [lo, hi) inaccessible: PROT_NONE in their chunk's mapping where they belong to
// it; else, with park, PROT_NONE in their own mappings, kept with their frames (sp_ent still
// holds them: the caller forgets the pages after this); else the reservation again.
static void unmap_pages(uint32_t lo, uint32_t hi, bool park)
{
    while (lo < hi) {
        if (sp_ent[lo] & SP_PATCH) {   // (its mapping is the copy's: not for parking)
            reserve((uint64_t)lo << 12, ((uint64_t)lo + 1) << 12);
            lo++;
            continue;
        }
        bool b = backed(lo);
        uint32_t end = lo + 1;
        while (end < hi && backed(end) == b && !(sp_ent[end] & SP_PATCH))
            end++;
        if (b || park) {
            if (mprotect((void *)((uintptr_t)lo << 12), (size_t)(end - lo) << 12, PROT_NONE) < 0)
                die("unmap shadow pages");
            for (uint32_t pn = lo; !b && pn < end; pn++)
                park_add(pn, sp_ent[pn] >> 12);
        } else {
            reserve((uint64_t)lo << 12, (uint64_t)end << 12);
        }
        lo = end;
    }
}

static void reserve_all(void)
{
    for (unsigned i = 0; i < nalias; i++)
        alias[i].mapped = false;
    chunks_forget();
    if (mem_window) {
        reserve(0, mem_window);
        reserve((uint64_t)mem_window + R1_WINDOW_SIZE, GUEST_SPACE);
    } else {
        reserve(0, GUEST_SPACE);
    }
}

// ---- shadow page bookkeeping ----------------------------------------------------------------
// For ring 3's limit (mem_view_cpl_changed): user_hi is one past the highest page mapped with
// no more rights than CPL 3 has since the last full flush; sys_below counts the pages mapped
// with ring-0 rights below limit_pn, the limit last used (in pages).
static uint32_t user_hi, limit_pn, sys_below;
// The lowest limit ring 3's segments have needed since the last full flush beyond user_hi's
// (a segment based above every page mapped for ring 3: mem_view_raise_limit with keep), in
// pages; kept, as user_hi is, so that entering ring 3 does not cut the limit back below the
// segment -- each cut and raise rewrites the host's LDT slots (modify_ldt). Not for accesses:
// one to a user page raises user_hi when the page is mapped, and one to a kernel page must not
// leave the kernel's pages below the limit (dropped at every entry to ring 3).
static uint32_t limit_floor;
static uint16_t pd_count[1024];   // mapped pages per 4 MiB of linear space
static uint16_t pd_local[1024];   // ... of them not SP_G
static uint16_t pd_w[1024];       // ... of them mapped writable

// What each 4 MiB region's shadow pages were last checked against: a copy of its page table
// (snap_pt) and directory entry (snap_pde), taken when a CR3 load checked the region and kept
// up to date by every fill in it (snap_note). A CR3 load whose region has the same entries
// again but for dirty bits, and no page mapped writable there -- a process switched back to;
// the kernel's part of a directory when the kernel gives every process its own copy of its
// page tables (xv6), copies that differ in what each process dirtied -- has nothing to change
// there: one pass over the table comparing words instead of a look at every page. A region
// whose directory entry changed since (a fill found another) has no snapshot until the next
// load.
static uint32_t snap_pt[1024][1024], snap_pde[1024];
static uint8_t snap_ok[1024];
static uint32_t snap_mode;   // CR0.WP, CR4.PSE, CR4.PGE the snapshots were taken under

static uint32_t view_mode(const struct vcpu *v)
{
    return (v->cr0 & CR0_WP) | (v->cr4 & (CR4_PSE | CR4_PGE));
}

// Page pn was mapped from the current tables: its entry, as used, into its region's snapshot.
static void snap_note(struct vcpu *v, uint32_t pn)
{
    uint32_t pdx = pn >> 10;
    uint32_t *pde = mem_phys(((v->cr3 & PTE_ADDR) + 4 * pdx) & a20_mask, 4);
    uint32_t *pt = !pde || !(*pde & PTE_P) || (*pde & PTE_PS) ? NULL
                   : mem_phys(*pde & PTE_ADDR & a20_mask, PGSIZE);
    if (!pt || view_mode(v) != snap_mode) {
        snap_ok[pdx] = 0;
        return;
    }
    if (!snap_ok[pdx] || ((snap_pde[pdx] ^ *pde) & ~PTE_A)) {
        // No snapshot, or another page table than the snapshot's: a new one only if this is
        // the region's one page (the others were checked against what no snapshot holds).
        if (pd_count[pdx] > 1) {
            snap_ok[pdx] = 0;
            return;
        }
        memcpy(snap_pt[pdx], pt, PGSIZE);
        snap_ok[pdx] = 1;
    }
    snap_pde[pdx] = *pde;
    snap_pt[pdx][pn & 1023] = pt[pn & 1023];
}

static unsigned sys_low(uint32_t pn, uint32_t e)
{
    return (e & SP_SYS) && pn < limit_pn;
}

// Runs: neighbouring shadow pages with consecutive frames and the same rights are one host
// mapping (the host merges them). Segments: neighbouring mapped pages whatever their frames;
// the reservation around them is split once more per segment. So the shadow pages make
// nruns + nsegs host mappings, and a parked page (above) at most two: a guest that maps its
// memory linearly (a direct map, a big contiguous buffer) costs few however many pages it
// touches; one that scatters frames over neighbouring pages (a vmalloc area, a heap) one per
// page; one that scatters them over the address space two.
static unsigned nruns, nsegs;

static unsigned host_maps(void)
{
    return nruns + nsegs;
}

// What page pn has of its own in the host: its shadow entry, or a parked page's mapping
// (PROT_NONE, onto its frame), or nothing (the reservation, or its chunk's mapping).
#define SP_PARKED 0x100u
static uint32_t host_ent(uint32_t pn)
{
    uint32_t e = sp_ent[pn];
    return e ? e : park_frame[pn] ? (park_frame[pn] - 1) << 12 | SP_PARKED | SP_MAPPED : 0;
}

static unsigned seg_start(uint32_t pn)
{
    return host_ent(pn) && (!pn || !host_ent(pn - 1));
}

static unsigned segs_at(uint32_t pn)
{
    return seg_start(pn) + (pn + 1 < (1u << 20) ? seg_start(pn + 1) : 0);
}

static unsigned run_start(uint32_t pn)
{
    uint32_t e = host_ent(pn), p = pn ? host_ent(pn - 1) : 0;
    return e && (!p || (p & ~(PGSIZE - 1)) + PGSIZE != (e & ~(PGSIZE - 1)) ||
                 ((p ^ e) & (SP_W | SP_X | SP_PARKED)) || ((p | e) & SP_PATCH));
}

static unsigned runs_at(uint32_t pn)
{
    return run_start(pn) + (pn + 1 < (1u << 20) ? run_start(pn + 1) : 0);
}

// Page pn's host entry is about to change (park_add, park_del: sp_set does its own).
static void host_ent_out(uint32_t pn)
{
    nruns -= runs_at(pn);
    nsegs -= segs_at(pn);
}

static void host_ent_in(uint32_t pn)
{
    nruns += runs_at(pn);
    nsegs += segs_at(pn);
}

static void rm_unlink(uint32_t pn, uint32_t frame)
{
    uint32_t n = rm_next[pn], p = rm_prev[pn];
    if (p)
        rm_next[p - 1] = n;
    else
        rm_head[frame] = n;
    if (n)
        rm_prev[n - 1] = p;
}

static void rm_link(uint32_t pn, uint32_t frame)
{
    uint32_t h = rm_head[frame];
    rm_prev[pn] = 0;
    rm_next[pn] = h;
    if (h)
        rm_prev[h - 1] = pn + 1;
    rm_head[frame] = pn + 1;
}

static void sp_set(uint32_t pn, uint32_t e)
{
    uint32_t old = sp_ent[pn];
    if (old && (!e || ((old ^ e) & PTE_ADDR)))
        rm_unlink(pn, old >> 12);
    if (e && (!old || ((old ^ e) & PTE_ADDR)))
        rm_link(pn, e >> 12);
    sys_below = sys_below - sys_low(pn, sp_ent[pn]) + sys_low(pn, e);
    if (e && !(e & SP_SYS) && pn >= user_hi)
        user_hi = pn + 1;
    pd_count[pn >> 10] += (e != 0) - (sp_ent[pn] != 0);
    pd_local[pn >> 10] += (e && !(e & SP_G)) - (old && !(old & SP_G));
    pd_w[pn >> 10] += !!(e & SP_W) - !!(old & SP_W);
    nruns -= runs_at(pn);
    nsegs -= segs_at(pn);
    sp_ent[pn] = e;
    nruns += runs_at(pn);
    nsegs += segs_at(pn);
}

static void sp_add(uint32_t pn, uint32_t ent)
{
    if (!sp_ent[pn]) {
        sp_pos[pn] = nshadow;
        sp_list[nshadow++] = pn;
    }
    sp_set(pn, ent | SP_MAPPED);
}

// Bookkeeping only: the caller unmaps.
static void sp_forget(uint32_t pn)
{
    uint32_t i = sp_pos[pn], last = sp_list[--nshadow];
    sp_list[i] = last;
    sp_pos[last] = i;
    sp_set(pn, 0);
}

static void sp_forget_all(void)
{
    for (unsigned i = 0; i < nshadow; i++) {
        rm_head[sp_ent[sp_list[i]] >> 12] = 0;
        sp_ent[sp_list[i]] = 0;
    }
    nshadow = 0;
    nruns = nsegs = 0;
    user_hi = sys_below = limit_floor = 0;
    memset(pd_count, 0, sizeof pd_count);
    memset(pd_local, 0, sizeof pd_local);
    memset(pd_w, 0, sizeof pd_w);
}

// The run of neighbouring pages around pn that carry mark, and are executable or not as pn
// is: [*lo, *hi).
static void marked_run(uint32_t pn, uint32_t mark, uint32_t *lo, uint32_t *hi)
{
    uint32_t x = sp_ent[pn] & SP_X;
    *lo = pn;
    *hi = pn + 1;
    while (*lo > 0 && (sp_ent[*lo - 1] & mark) && (sp_ent[*lo - 1] & SP_X) == x)
        (*lo)--;
    while (*hi < (1u << 20) && (sp_ent[*hi] & mark) && (sp_ent[*hi] & SP_X) == x)
        (*hi)++;
}

// Unmap every page marked SP_DROP, each run of neighbours with one call; parked (above)
// unless the point is to give host mappings back.
static void drop_marked(bool park)
{
    for (unsigned i = 0; i < nshadow;) {
        uint32_t pn = sp_list[i], lo, hi;
        if (!(sp_ent[pn] & SP_DROP)) {
            i++;
            continue;
        }
        marked_run(pn, SP_DROP, &lo, &hi);
        unmap_pages(lo, hi, park);
        for (uint32_t p = lo; p < hi; p++)
            sp_forget(p);   // pages before i are unmarked: whatever moves to i is new to us
        mem_stat_dropped += hi - lo;
    }
}

// At the cap on host mappings: give the parked pages' back, then drop whole 4 MiB ranges of
// shadow pages (dropping runs from the middle of a range of neighbours frees no mapping: a
// hole takes each one's place) until an eighth of the budget is free, the ranges taken in
// turn from where the last eviction stopped (a clock hand with no reference bits: the host
// keeps none for us to read). Pages dropped in use fault back in.
static void evict(void)
{
    static unsigned hand;
    park_release();
    unsigned before = nshadow;
    for (unsigned n = 0; n < 1024 && host_maps() > maps_max - maps_max / 8; n++) {
        uint32_t pdx = hand++ % 1024;
        if (!pd_count[pdx])
            continue;
        for (uint32_t pn = pdx << 10; pn < (pdx + 1) << 10; pn++)
            if (sp_ent[pn])
                sp_ent[pn] |= SP_DROP;
        drop_marked(false);
    }
    mem_stat_evicted += before - nshadow;
}

// Make every page marked SP_DOWN read-only, each run of neighbours with one call (the host
// merges neighbouring pages of the memfd at consecutive offsets into one mapping).
static void downgrade_marked(void)
{
    for (unsigned i = 0; i < nshadow; i++) {
        uint32_t pn = sp_list[i], lo, hi;
        if (!(sp_ent[pn] & SP_DOWN))
            continue;
        marked_run(pn, SP_DOWN, &lo, &hi);
        if (mprotect((void *)((uintptr_t)lo << 12), (size_t)(hi - lo) << 12,
                     PROT_READ | (sp_ent[pn] & SP_X ? PROT_EXEC : 0)) < 0)
            die("write-protect shadow pages");
        for (uint32_t p = lo; p < hi; p++)
            sp_set(p, sp_ent[p] & ~(SP_DOWN | SP_W));
        mem_stat_downgraded += hi - lo;
    }
}

// The landing guard. A return of the host kernel to its int80 landing pad that Intel truncates
// to 32 bits (signals.c, landing_pad_fault) is diagnosed only if the fetch there faults. With
// paging off all RAM is mapped executable at once (it would run whatever RAM holds there,
// about once in 32 runs with 128 MiB), and with paging on a shadow page is executable on any
// access to a frame that copy tracking does not keep as data. So the pages at the low 32 bits
// of the vDSO's mapping (guard_lo, guard_len) are mapped without PROT_EXEC, and a fetch there
// faults: the landing pad's, diagnosed by signals.c; or the guest's own, which makes that page
// executable (counted), until the next full mapping (paging off: all the guard's pages) or
// until the shadow page is dropped (paging on: that page).
static uint32_t guard_lo, guard_len;
static bool guard_on;

static bool guarded(uint32_t pn)
{
    return (uint32_t)((pn << 12) - guard_lo) < guard_len;
}

static void guard_set(uint64_t map_lo, uint64_t map_hi, int prot)
{
    for (uint32_t off = 0; off < guard_len; off += PGSIZE) {
        uint32_t page = (guard_lo + off) & ~(PGSIZE - 1);   // (wraps at 4 GiB, as the fetch)
        if (page >= map_lo && page < map_hi &&
            mprotect((void *)(uintptr_t)page, PGSIZE, prot) < 0)
            die("guard the landing pad");
    }
}

void mem_view_reset(struct vcpu *v)
{
    signals_landing_window(&guard_lo, &guard_len);
    mmio_cache_flush();   // the device-register read cache is keyed by linear address
    reserve_all();
    if (nshadow)
        stats_add("shadow-drop-flush", nshadow);
    sp_forget_all();
    memset(snap_ok, 0, sizeof snap_ok);
    view_cr3 = v->cr3 & PTE_ADDR;
    mem_stat_flushes++;
    if (v->cr0 & CR0_PG)
        return;  // shadow paging: filled on demand
    // Paging off: all RAM is mapped writable and executable at once, and copy tracking rests
    // until paging is on again; whatever is written meanwhile is looked at when next executed.
    if (fx_track)
        for (uint32_t f = 0; f < mem_ram_size >> 12; f++)
            if (fx[f] == FX_CODE)
                fx[f] = FX_DATA;
    for (unsigned k = 0; k < SLOTS; k++)   // (writes to RAM are not seen now)
        if (slot_frame[k]) {
            rtcode_forget(k);
            frame_slot[slot_frame[k] - 1] = 0;
            slot_frame[k] = 0;
        }
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
    guard_set(lo, hi, PROT_READ | PROT_WRITE);
    guard_on = true;
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
    mmio_cache_flush();   // the device-register read cache is keyed by linear address
    if (!(v->cr0 & CR0_PG))
        return;
    uint32_t pn = lin >> 12;
    if (sp_ent[pn]) {
        stats_count("shadow-drop-invlpg");
        unmap_pages(pn, pn + 1, true);
        sp_forget(pn);
    }
}

// A 32-bit page walk without side effects (SDM 3A §4.3): the physical address, what the
// whole path allows CPL 3 (u, w), whether the page is dirty, and the entries to set A and D in.
struct xlate {
    uint32_t pa;
    bool u, w, d, g;
    uint32_t *pde, *pte;   // pte NULL for a 4 MiB page
};

static bool xlate(const struct vcpu *v, uint32_t lin, struct xlate *x)
{
    uint32_t *pde = mem_phys(((v->cr3 & PTE_ADDR) + 4 * PDX(lin)) & a20_mask, 4);
    if (!pde || !(*pde & PTE_P))
        return false;
    x->pde = pde;
    if ((*pde & PTE_PS) && (v->cr4 & CR4_PSE)) {
        x->pte = NULL;
        x->u = *pde & PTE_U;
        x->w = *pde & PTE_W;
        x->d = *pde & PTE_D;
        x->g = (*pde & PTE_G) && (v->cr4 & CR4_PGE);
        x->pa = ((*pde & PDE_ADDR_4M) | (lin & (PGSIZE_4M - 1))) & a20_mask;
        return true;
    }
    uint32_t *pte = mem_phys(((*pde & PTE_ADDR) + 4 * PTX(lin)) & a20_mask, 4);
    if (!pte || !(*pte & PTE_P))
        return false;
    x->pte = pte;
    x->u = (*pde & PTE_U) && (*pte & PTE_U);
    x->w = (*pde & PTE_W) && (*pte & PTE_W);
    x->d = *pte & PTE_D;
    x->g = (*pte & PTE_G) && (v->cr4 & CR4_PGE);
    x->pa = ((*pte & PTE_ADDR) | (lin & (PGSIZE - 1))) & a20_mask;
    return true;
}

// Set the accessed bits of the path, and the dirty bit of the page for a write, as the
// processor does when it fills a TLB entry.
static void set_accessed(struct xlate *x, bool write)
{
    uint32_t d = write ? PTE_D : 0;
    *x->pde |= PTE_A | (x->pte ? 0 : d);
    if (x->pte)
        *x->pte |= PTE_A | d;
    x->d = x->d || write;
}

// The page walk of an access (acc: ACC_WRITE / ACC_FETCH / ACC_SYS; user = the access is
// from CPL 3 and not ACC_SYS), with its protection checks and A/D updates. On success *pa is
// the physical address, *wr whether a shadow mapping may be writable (the path allows this
// privilege to write, and D is set: a page is mapped read-only until its first write sets
// D), *sys whether those rights exceed CPL 3's (the mapping must not be reachable from
// ring 3), and *glob whether the translation is global (CR4.PGE and G).
static int walk(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, bool *wr, bool *sys,
                bool *glob, uint32_t *pferr)
{
    bool user = v->cpl == 3 && !(acc & ACC_SYS);
    bool write = acc & ACC_WRITE;
    uint32_t err = (write ? PFERR_W : 0) | (user ? PFERR_U : 0);
    struct xlate x;
    if (!xlate(v, lin, &x)) {
        *pferr = err;
        return -1;
    }
    if ((user && !x.u) || (write && !x.w && (user || (v->cr0 & CR0_WP)))) {
        *pferr = err | PFERR_P;
        return -1;
    }
    set_accessed(&x, write);
    *pa = x.pa;
    *wr = ((user || (v->cr0 & CR0_WP)) ? x.w : true) && x.d;
    *sys = !x.u || (*wr && !x.w);
    *glob = x.g;
    return 0;
}

int vmem_translate(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, uint32_t *pferr)
{
    if (!(v->cr0 & CR0_PG)) {
        *pa = lin & a20_mask;
        return 0;
    }
    // A shadow page is a TLB entry (filled by a walk that set A, and D if writable; gone with
    // invlpg, a CR3 write or a flush): the runtime's own accesses -- interrupt frames, iret,
    // descriptors, emulated operands -- use it as the processor would, with no walk, where its
    // rights cover the access. Anything else walks (and faults as the walk says).
    uint32_t e = sp_ent[lin >> 12];
    bool user = v->cpl == 3 && !(acc & ACC_SYS);
    if ((e & (SP_MAPPED | SP_DROP | SP_DOWN)) == SP_MAPPED && (!(acc & ACC_WRITE) || (e & SP_W)) &&
        (!user || !(e & SP_SYS))) {
        *pa = (e & PTE_ADDR) | (lin & (PGSIZE - 1));
        mem_stat_tlb_hits++;
        return 0;
    }
    bool wr, sys, glob;
    return walk(v, lin, acc, pa, &wr, &sys, &glob, pferr);
}

// Whether parked page pn may be mapped again now, and with what shadow entry (*ent): it still
// translates onto its frame with the accessed bits set -- a translation a processor may cache
// at any time without a guest access (SDM 3A §4.10.2.3, translations cached speculatively) --
// mapped as a fill would map it: read-only unless dirty.
static bool park_restorable(struct vcpu *v, uint32_t pn, uint32_t *ent)
{
    struct xlate x;
    if (!park_frame[pn] || !xlate(v, pn << 12, &x) || (x.pa >> 12) != park_frame[pn] - 1 ||
        !(*x.pde & PTE_A) || (x.pte && !(*x.pte & PTE_A)))
        return false;
    uint32_t frame = x.pa >> 12;
    bool wr = ((v->cr0 & CR0_WP) ? x.w : true) && x.d, sys = !x.u || (wr && !x.w);
    if (sys && v->cpl == 3 && ((uint64_t)pn << 12) < v->user_limit)
        return false;   // (not when ring 3 runs: no page with more rights within its reach)
    if (frame_slot[frame] && !sys)
        return false;   // ring 3's view of it is its patched copy: a fill maps that
    uint32_t rights = (fx[frame] != FX_DATA && !guarded(pn) ? SP_X : 0) |
                      (wr && fx[frame] != FX_CODE ? SP_W : 0);
    *ent = (frame << 12) | rights | (sys ? SP_SYS : 0) | (x.g ? SP_G : 0);
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

// Parked pages (sorted page numbers) that may be mapped again now, mapped: each run of
// neighbours with the same rights by one mprotect (the host changes a range of mappings for
// about half what a call per page costs). Returns how many.
static unsigned park_restore_runs(struct vcpu *v, const uint32_t *pages, unsigned n)
{
    static uint32_t ents[SHADOW_MAX];   // ents[k]: pages[k]'s, once found
    unsigned restored = 0;
    for (unsigned k = 0; k < n;) {
        unsigned j = k;
        int prot = 0;
        // [k, j): neighbouring restorable pages with one protection
        while (j < n && (j == k || pages[j] == pages[j - 1] + 1) &&
               host_maps() + (j - k) < maps_max && park_restorable(v, pages[j], &ents[j]) &&
               (j == k || sp_prot(ents[j]) == prot)) {
            prot = sp_prot(ents[j]);
            j++;
        }
        if (j == k) {
            k++;
            continue;
        }
        if (mprotect((void *)((uintptr_t)pages[k] << 12), (size_t)(j - k) << 12, prot) < 0)
            die("map parked pages again");
        for (; k < j; k++) {
            park_del(pages[k]);
            sp_add(pages[k], ents[k]);
            snap_note(v, pages[k]);
            restored++;
        }
    }
    return restored;
}

// The page directory at v->cr3 is loaded again: its pages parked when it was last replaced
// that may be mapped again, at most RESTORE_MAX of them (the parked last). Bounded: a CR3 load
// costs what changed, not what a process ever touched. A process of 200 MiB touches a few
// hundred of its pages between two timer ticks; bringing all 51,200 back at each tick and
// dropping them again at the next took longer than the tick itself (the unix sample's
// memstress then made no progress); the rest come back one fault (or neighbour) at a time.
#define RESTORE_MAX 1024u
static void park_restore(struct vcpu *v)
{
    static uint32_t pages[SHADOW_MAX];
    uint32_t cr3 = v->cr3 & PTE_ADDR;
    unsigned n = 0;
    for (uint32_t i = park_head[park_bucket(cr3)]; i && n < RESTORE_MAX; i = park_next[i - 1])
        if (park_cr3[i - 1] == cr3)
            pages[n++] = i - 1;
    qsort(pages, n, sizeof *pages, cmp_u32);
    unsigned restored = park_restore_runs(v, pages, n);
    if (nshadow > mem_stat_pages)
        mem_stat_pages = nshadow;
    if (restored)
        stats_add("shadow-restored-at-cr3", restored);
}

// A fill of page pn: parked neighbours (within the same page table, NEAR_PARKED each way) that
// still translate onto their frames with the accessed bits set come back now, as
// park_restore would bring them back at a CR3 load -- a processor may cache those
// translations at any time.
#define NEAR_PARKED 8u
static void park_restore_near(struct vcpu *v, uint32_t pn)
{
    uint32_t lo = pn > NEAR_PARKED ? pn - NEAR_PARKED : 0, hi = pn + NEAR_PARKED;
    lo = lo < (pn & ~1023u) ? (pn & ~1023u) : lo;
    hi = hi > (pn | 1023u) ? (pn | 1023u) : hi;
    uint32_t pages[2 * NEAR_PARKED];
    unsigned n = 0;
    for (uint32_t k = lo; k <= hi; k++)
        if (k != pn && park_frame[k] && !sp_ent[k])   // (pn apart: no run reaches over it)
            pages[n++] = k;
    unsigned restored = park_restore_runs(v, pages, n);
    if (restored)
        stats_add("shadow-restored-near", restored);
}

void mem_view_cr3(struct vcpu *v)
{
    mmio_cache_flush();   // the device-register read cache is keyed by linear address
    // The TLB is flushed: every mapping must now be what a walk of the new tables gives.
    // Those that are keep their host mapping (the kernel's part of every address space, as a
    // rule); the others are dropped. A kept page gets its accessed bits set, as a refill
    // would (a processor may set them for translations it caches speculatively, SDM 3A
    // §4.8). Writable mappings stay writable only if the new path allows ring 0 to write
    // and the page is dirty, else they become read-only; a read-only one is upgraded on its
    // first write fault as usual.
    // Walked directory entry by directory entry, in address order: each page table is
    // read once, sequentially.
    // Global translations (CR4.PGE, G set) are not flushed by a CR3 write (SDM 3A §4.10.4.1):
    // their pages stay as they are, unchecked, until invlpg, a CR4.PGE toggle or a CR0 change
    // flushes them. A kernel that marks its own mappings global (Linux) then pays for what
    // differs between two processes, not for the kernel's pages at every switch: 4 MiB
    // ranges holding only global pages are not even looked at (pd_local).
    bool wp = v->cr0 & CR0_WP, pge = v->cr4 & CR4_PGE;
    unsigned drop = 0, down = 0, kept = 0, same = 0;
    if (view_mode(v) != snap_mode) {
        memset(snap_ok, 0, sizeof snap_ok);
        snap_mode = view_mode(v);
    }
    for (uint32_t pdx = 0; pdx < 1024; pdx++) {
        if (!pd_count[pdx] || (pge && !pd_local[pdx]))
            continue;
        uint32_t *pde = mem_phys(((v->cr3 & PTE_ADDR) + 4 * pdx) & a20_mask, 4);
        bool big = pde && (*pde & PTE_PS) && (v->cr4 & CR4_PSE);
        uint32_t *pt = !pde || !(*pde & PTE_P) ? NULL
                       : big ? pde : mem_phys(*pde & PTE_ADDR & a20_mask, PGSIZE);
        if (snap_ok[pdx] && pt && !big && !((*pde ^ snap_pde[pdx]) & ~PTE_ADDR) &&
            !pd_w[pdx]) {
            // The same entries as when the region was checked, but maybe for dirty bits
            // (and maybe in another copy of the page table): a dirty bit matters only to a
            // page mapped writable, and the region has none.
            uint32_t other = 0;
            const uint32_t *sn = snap_pt[pdx];
            for (unsigned i = 0; i < 1024; i++)
                other |= (pt[i] ^ sn[i]) & ~PTE_D;
            if (!other) {
                kept += pd_count[pdx];
                same++;
                memcpy(snap_pt[pdx], pt, PGSIZE);
                snap_pde[pdx] = *pde;
                continue;
            }
        }
        bool pde_accessed = false;
        for (uint32_t pn = pdx << 10, left = pd_count[pdx]; left; pn++) {
            uint32_t e = sp_ent[pn];
            if (!e)
                continue;
            left--;
            if (pge && (e & SP_G))
                continue;
            uint32_t pte = !pt ? 0 : big ? *pde : pt[pn & 1023];
            uint32_t pa = big ? ((pte & PDE_ADDR_4M) | ((pn << 12) & (PGSIZE_4M - 1)))
                              : pte & PTE_ADDR;
            if (!(pte & PTE_P) || (pa & a20_mask) != (e & PTE_ADDR)) {
                sp_ent[pn] = e | SP_DROP;
                drop++;
                continue;
            }
            bool u = (*pde & PTE_U) && (pte & PTE_U), w = (*pde & PTE_W) && (pte & PTE_W);
            pde_accessed = true;
            if (!big && !(pte & PTE_A))
                pt[pn & 1023] = pte | PTE_A;
            bool sys = !u || ((e & SP_W) && !w);
            if ((e & SP_W) && !((w || !wp) && (pte & PTE_D))) {
                // Not writable now, or not dirty in these tables (a kernel that gives every
                // address space its own copy of the kernel's page tables): read-only, until
                // a write fault sets D.
                e |= SP_DOWN;
                down++;
                sys = !u;
            }
            uint32_t ne = (e & ~SP_SYS) | (sys ? SP_SYS : 0);
            if (ne != sp_ent[pn])
                sp_set(pn, ne);
            kept++;
        }
        if (pde_accessed && !(*pde & PTE_A))
            *pde |= PTE_A;
        snap_ok[pdx] = pt && !big;
        if (snap_ok[pdx]) {
            memcpy(snap_pt[pdx], pt, PGSIZE);
            snap_pde[pdx] = *pde;
        }
    }
    if (same)
        stats_add("cr3-region-unchanged", same);
    mem_stat_cr3_kept += kept;
    if (drop) {
        drop_marked(true);   // parked under the directory they were filled from
        stats_add("shadow-drop-cr3", drop);
    }
    if (down)
        downgrade_marked();
    view_cr3 = v->cr3 & PTE_ADDR;
    park_restore(v);
}

// U/S protection for ring 3: pages mapped with ring-0 rights must not be reachable from
// ring 3. Instead of dropping all of them on every entry to ring 3 (and mapping them again
// on the next system call or interrupt), ring 3 runs on segments limited below the 4 MiB
// boundary above every page mapped for it so far (segment.c, seg_sync_host; compatibility
// mode checks segment limits, SDM 3A §5.3), so the kernel's mappings above that stay where
// they are. Only ring-0 mappings below the limit are dropped here. An access beyond the
// limit -- to a page ring 3 has not used before, or a genuine protection fault -- is #GP(0)
// or #SS(0) on the host; the run loop then calls mem_view_unlimit() and runs the instruction
// again (vcpu.c), and a page it maps raises the limit for the next time.
// Drop the pages mapped with ring-0 rights below page number lim.
static void drop_sys_below(uint32_t lim)
{
    unsigned before = nshadow;
    for (unsigned i = 0; i < nshadow; i++) {
        uint32_t pn = sp_list[i];
        if ((sp_ent[pn] & SP_SYS) && pn < lim)
            sp_ent[pn] |= SP_DROP;
    }
    drop_marked(true);
    if (before > nshadow)
        stats_add("shadow-drop-ring3", before - nshadow);
}

// Ring 3 runs limited below page number lim from now on: the ring-0 pages below it go.
static void limit_to(struct vcpu *v, uint32_t lim)
{
    if (lim != limit_pn) {
        limit_pn = lim;
        sys_below = 0;
        for (unsigned i = 0; i < nshadow; i++)
            sys_below += sys_low(sp_list[i], sp_ent[sp_list[i]]);
    }
    v->user_limit = (uint64_t)lim << 12;
    if (sys_below)
        drop_sys_below(lim);
}

// Giving ring 3's limit up for wrapping accesses (mem_view_wrapped): how many this stay in
// ring 3 has emulated; the ring-0 pages mapped again since the last time it was given up for
// them (counted until ring 3 is entered again, measuring, then averaged into refill_avg).
static unsigned wraps, refills, refill_avg = 128;
static bool measuring;

void mem_view_cpl_changed(struct vcpu *v, int old_cpl, int new_cpl)
{
    if (new_cpl == 3 && old_cpl != 3) {
        wraps = 0;
        if (measuring)
            refill_avg = (3 * refill_avg + refills) / 4;
        measuring = false;
    }
    if (!(v->cr0 & CR0_PG)) {
        v->user_limit = GUEST_SPACE;   // no pages, nothing to protect
        return;
    }
    if (new_cpl != 3 || old_cpl == 3)
        return;
    uint32_t lim = user_hi ? (user_hi + 1023) & ~1023u : 1024;   // pages, 4 MiB granules
    if (lim < limit_floor)
        lim = limit_floor;
    if (lim > mem_window >> 12 && mem_window)
        lim = 1u << 20;
    limit_to(v, lim);
}

void mem_view_unlimit(struct vcpu *v)
{
    v->user_limit = GUEST_SPACE;
    drop_sys_below(1u << 20);
}

bool mem_view_wrapped(struct vcpu *v)
{
    // Rent or buy: an emulation costs a host signal (~3 us); giving the limit up costs the
    // kernel's pages it then touches, mapped again one host fault each (~5 us) -- once per
    // stay, since back in ring 3 the limit holds again and what the kernel mapped meanwhile
    // lies above it. How many that is, is measured each time (refill_avg). Emulating up to
    // about that cost and then giving up is never more than about twice the better of the
    // two: a process touching its thread's errno and allocator a few times between system
    // calls is emulated; a shell's loop doing it thousands of times between timer ticks runs
    // unlimited (553,000 emulations in a busybox `while` loop of 5,000 iterations before).
    unsigned most = refill_avg * 5 / 3;
    if (++wraps <= (most < 16 ? 16 : most))
        return true;
    stats_count("user-limit-off");
    mem_view_unlimit(v);
    refills = 0;
    measuring = true;
    return false;
}

void mem_view_raise_limit(struct vcpu *v, uint32_t need, bool keep)
{
    // Over need, and at least one 4 MiB granule more; four times the limit when need is not
    // known. A process growing its heap crosses its limit every 4 MiB, and giving the limit
    // up there dropped every ring-0 page (the kernel, mapped again page by page: 116,000
    // shadow fills in the unix sample's memstress of 200 MiB). Here only those below the
    // new limit go -- as a rule none: kernels keep their own pages above their processes'.
    uint64_t lim = v->user_limit >> 12;
    uint64_t want = need ? (((uint64_t)need >> 12) + 1024) & ~1023ull : lim * 4;
    if (want < lim + 1024)
        want = lim + 1024;
    if (want >= (1u << 20) || (mem_window && want > mem_window >> 12)) {
        mem_view_unlimit(v);
        return;
    }
    if (keep && want > limit_floor)
        limit_floor = (uint32_t)want;
    limit_to(v, (uint32_t)want);
}

// Map page pn onto frame pa with prot through its chunk's mapping (see "Linear chunks"),
// making that mapping first if the chunk has none and nothing mapped yet. False if the page
// is not where the chunk maps it linearly.
static bool map_linear(uint32_t pn, uint32_t pa, int prot)
{
    uint32_t c = pn >> 10, base = c << 10;
    int64_t off = (int64_t)pa - ((int64_t)(pn - base) << 12);
    if (chunk_off[c] == CHUNK_NONE) {
        uint64_t lin = (uint64_t)base << 12;
        // (The window and its aliases are 4 MiB chunks of their own: loader.c checks the
        // window's alignment, mem_window_alias_init the aliases'.)
        if (pd_count[c] || c == 0 || mem_in_window_or_alias(lin))
            return false;
        // The pages whose frames are RAM: [lo, hi) of the chunk.
        int64_t lo = off < 0 ? (-off + PGSIZE - 1) >> 12 : 0;
        int64_t hi = ((int64_t)mem_ram_size - off) >> 12;
        if (hi > 1024)
            hi = 1024;
        if ((int64_t)(pn - base) < lo || (int64_t)(pn - base) >= hi)
            return false;
        park_clear((uint64_t)(base + lo) << 12, (uint64_t)(base + hi) << 12);
        if (mmap((void *)(uintptr_t)((uint64_t)(base + lo) << 12), (size_t)(hi - lo) << 12,
                 PROT_NONE, MAP_SHARED | MAP_FIXED, ram_fd, (off_t)(off + (lo << 12))) ==
            MAP_FAILED)
            die("map a chunk of guest RAM");
        chunk_off[c] = off;
        for (int64_t p = lo; p < hi; p++)
            set_backed(base + (uint32_t)p, true);
        stats_count("linear-chunk");
    }
    if (chunk_off[c] != off || !backed(pn))
        return false;
    if (mprotect((void *)((uintptr_t)pn << 12), PGSIZE, prot) < 0)
        die("map shadow page");
    return true;
}

// ---- patched copies of ring 3's code (above) --------------------------------------------------
// Map page pn onto copy k, read and execute only (the caller records it SP_PATCH).
static void map_copy(uint32_t pn, unsigned k)
{
    if (park_frame[pn])
        park_del(pn);
    if (mmap((void *)((uintptr_t)pn << 12), PGSIZE, PROT_READ | PROT_EXEC,
             MAP_SHARED | MAP_FIXED | MAP_POPULATE, code_fd, (off_t)k * PGSIZE) == MAP_FAILED)
        die("map a patched copy");
    set_backed(pn, false);
}

// A free slot: one never used, or one whose copy no page maps now (forgotten); -1 if none.
static int slot_alloc(void)
{
    for (unsigned n = 0; n < SLOTS; n++) {
        unsigned k = slot_hand++ % SLOTS;
        if (slot_frame[k]) {
            uint32_t f = slot_frame[k] - 1;
            for (uint32_t i = rm_head[f]; i; i = rm_next[i - 1])
                if (sp_ent[i - 1] & SP_PATCH)
                    goto in_use;
            frame_slot[f] = 0;
            slot_frame[k] = 0;
            if (rtcode_armed(k)) {   // (nothing maps it: no mapping of the frame executes)
                rtcode_forget(k);
                fx[f] = FX_DATA;
                stats_count("runtime-code-slot-reused");
            }
        }
        return (int)k;
    in_use:;
    }
    return -1;
}

bool mem_code_patch(struct vcpu *v, uint32_t lin, uint8_t byte)
{
    uint32_t pn = lin >> 12, e = sp_ent[pn];
    if (!(v->cr0 & CR0_PG) || !(e & SP_X) || (e & (SP_SYS | SP_W)))
        return false;
    uint32_t frame = e >> 12;
    if ((uint64_t)frame << 12 >= mem_ram_size || fx[frame] != FX_CODE)
        return false;   // (writes to it would not be seen)
    if (!(e & SP_PATCH) && host_maps() + 2 >= maps_max)
        return false;
    int k = frame_slot[frame] ? frame_slot[frame] - 1 : slot_alloc();
    if (k < 0)
        return false;
    uint8_t *copy = code_mem + (size_t)k * PGSIZE;
    if (!frame_slot[frame]) {
        memcpy(copy, mem_ram + ((size_t)frame << 12), PGSIZE);
        slot_frame[k] = frame + 1;
        frame_slot[frame] = (uint16_t)(k + 1);
    }
    copy[lin & (PGSIZE - 1)] = byte;
    if (!(e & SP_PATCH)) {
        map_copy(pn, (unsigned)k);
        sp_set(pn, e | SP_PATCH);
    }
    return true;
}

bool mem_code_patched(uint32_t lin, uint8_t byte)
{
    uint32_t e = sp_ent[lin >> 12];
    if (!(e & SP_PATCH) || !frame_slot[e >> 12])
        return false;
    return code_mem[(size_t)(frame_slot[e >> 12] - 1) * PGSIZE + (lin & (PGSIZE - 1))] == byte;
}

// Whether frame has an armed copy (rtcode.h): ring 0's code written at run time.
static bool rt_armed(uint32_t frame)
{
    return frame_slot[frame] && rtcode_armed(frame_slot[frame] - 1u);
}

// Arm frame (FX_CODE, no copy yet), first executed in ring 0-2 at linear address eip through
// page page_lin: a copy, written by rtcode_arm. False if the frame runs without one: the
// image's code as loaded (the rewriter covered it), code where descent only found no site, or
// no copy could be made (counted: its code then runs natively, as before this existed).
// Looked at once per execution after a write (rt_seen).
static bool rt_arm(struct vcpu *v, uint32_t frame, uint32_t page_lin, uint32_t eip)
{
    if (frame_slot[frame] || rt_seen[frame])
        return false;   // (a ring-3 patch's copy, usergate.c: ring 0 runs it as it is)
    rt_seen[frame] = 1;
    uint8_t *f = mem_ram + ((size_t)frame << 12);
    bool image = img_hash[frame] != 0;
    if (image) {
        uint32_t off = eip - page_lin;
        bool in_image = off < PGSIZE ? off >= img_lo[frame] && off < img_hi[frame]
                                     : img_lo[frame] == 0;
        if (in_image &&
            bytes_hash(f + img_lo[frame], img_hi[frame] - img_lo[frame]) == img_hash[frame]) {
            stats_count("runtime-code-image-frame");
            return false;
        }
    }
    int k = host_maps() + 2 < maps_max ? slot_alloc() : -1;
    if (k < 0) {
        stats_count("runtime-code-no-copy");
        return false;
    }
    slot_frame[k] = frame + 1;
    frame_slot[frame] = (uint16_t)(k + 1);
    if (!rtcode_arm(v, (unsigned)k, code_mem + (size_t)k * PGSIZE, f, page_lin, eip, !image)) {
        slot_frame[k] = 0;
        frame_slot[frame] = 0;
        return false;
    }
    return true;
}

int mem_rt_slot(struct vcpu *v, uint32_t lin, bool walk, uint8_t **copy, const uint8_t **frame)
{
    struct xlate x;
    uint32_t e = sp_ent[lin >> 12], pa;
    if (e & SP_PATCH)
        pa = e & PTE_ADDR;
    else if (walk && (v->cr0 & CR0_PG) && xlate(v, lin, &x))
        pa = x.pa & PTE_ADDR;
    else
        return -1;
    if ((uint64_t)pa + PGSIZE > mem_ram_size || !rt_armed(pa >> 12))
        return -1;
    unsigned k = frame_slot[pa >> 12] - 1u;
    *copy = code_mem + (size_t)k * PGSIZE;
    *frame = mem_ram + pa;
    return (int)k;
}

// ---- copies of patched code -----------------------------------------------------------------
static int sp_prot(uint32_t e)
{
    return PROT_READ | (e & SP_W ? PROT_WRITE : 0) | (e & SP_X ? PROT_EXEC : 0);
}

// Take right (SP_W or SP_X) from every shadow page that maps frame.
static void frame_revoke(uint32_t frame, uint32_t right)
{
    for (uint32_t i = rm_head[frame]; i;) {
        uint32_t pn = i - 1, e = sp_ent[pn];
        i = rm_next[pn];
        if (!(e & right))
            continue;
        if (e & SP_PATCH) {   // (only SP_X: a copy is never writable) the copy is stale
            unmap_pages(pn, pn + 1, false);
            sp_forget(pn);
            continue;
        }
        if (mprotect((void *)((uintptr_t)pn << 12), PGSIZE, sp_prot(e & ~right)) < 0)
            die("change a shadow page's rights");
        sp_set(pn, e & ~right);
    }
}

// The guest executes frame (FX_DATA): nothing may write it while it is code; then put back
// the original bytes of any copy of patched code in it.
static void frame_executed(uint32_t frame)
{
    frame_revoke(frame, SP_W);
    fx[frame] = FX_CODE;
    rt_seen[frame] = 0;
    stats_count("code-frame-scan");
    for (unsigned n = patched_repair(mem_ram + ((size_t)frame << 12), frame << 12); n; n--)
        stats_count("code-copy-repaired");
}

// The guest writes frame (FX_CODE): nothing may execute it until it is looked at again.
static void frame_written(uint32_t frame)
{
    frame_revoke(frame, SP_X);
    if (frame_slot[frame]) {
        rtcode_forget(frame_slot[frame] - 1u);
        slot_frame[frame_slot[frame] - 1] = 0;
        frame_slot[frame] = 0;
        stats_count("code-patch-dropped");
    }
    if (++fx_flips[frame] > FX_FLIPS_MAX) {
        fx[frame] = FX_FREE;
        stats_count("code-frame-untracked");
    } else {
        fx[frame] = FX_DATA;
    }
    stats_count("code-frame-written");
}

void mem_frame_stored(uint32_t pa, uint32_t len)
{
    for (uint64_t a = pa & ~(PGSIZE - 1); a < (uint64_t)pa + len; a += PGSIZE)
        if (fx[a >> 12] == FX_CODE)
            frame_written((uint32_t)(a >> 12));
}

int mem_shadow_fault(struct vcpu *v, uint32_t lin, bool write, bool fetch, uint32_t *pferr,
                     uint32_t *pa_out)
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
            struct xlate x;
            if (xlate(v, lin, &x)) {
                *pa_out = x.pa;
                return -3;
            }
        }
        alias_map((unsigned)ai);
        stats_count("window-alias-map");
        return 0;
    }
    if (!(v->cr0 & CR0_PG)) {
        if (fetch && guard_on && lin - guard_lo < guard_len && mem_phys(lin, 1)) {
            // The guest's own code where the landing guard is (signals.c ruled out the
            // landing pad): executable from now on.
            uint64_t hi = mem_window && mem_ram_size > mem_window ? mem_window : mem_ram_size;
            guard_set(page0_ok ? 0 : PGSIZE, hi, PROT_READ | PROT_WRITE | PROT_EXEC);
            guard_on = false;
            stats_count("landing-guard-lifted");
            return 0;
        }
        return -1;  // paging off: everything that is RAM is already mapped
    }
    uint32_t pa;
    bool wr, sys, glob;
    if (walk(v, lin, write ? ACC_WRITE : ACC_READ, &pa, &wr, &sys, &glob, pferr) < 0)
        return 1;
    *pa_out = pa;
    pa &= ~(PGSIZE - 1);
    if (!mem_phys(pa, PGSIZE))
        return -1;
    uint32_t page = lin & ~(PGSIZE - 1);
    if (!page0_ok && page == 0)
        return -1;
    if (host_maps() >= maps_max)   // stay far from vm.max_map_count
        evict();
    uint32_t frame = pa >> 12;
    if (write && fx[frame] == FX_CODE)
        frame_written(frame);
    if (fetch && fx[frame] == FX_DATA)
        frame_executed(frame);
    bool armed = rt_armed(frame);
    if (fetch && !armed && fx[frame] == FX_CODE && v->cpl != 3 && rtcode_mode != RT_OFF)
        armed = rt_arm(v, frame, page, vcpu_lin_eip(v));
    uint32_t rights = (fx[frame] != FX_DATA ? SP_X : 0) | (wr && fx[frame] != FX_CODE ? SP_W : 0);
    if (armed && !fetch)
        rights &= ~SP_X;   // a read: the frame itself; a fetch through the page maps the copy
    if (guarded(page >> 12) && (rights & SP_X)) {   // the landing guard
        if (fetch)
            stats_count("landing-guard-lifted");   // (signals.c ruled out the landing pad)
        else
            rights &= ~SP_X;
    }
    int prot = sp_prot(rights);
    if (!write && (!sys || armed) && (rights & SP_X) && frame_slot[frame]) {
        map_copy(page >> 12, frame_slot[frame] - 1);   // code with its patched copy
        rights = SP_X | SP_PATCH;
        stats_count("code-patch-mapped");
    } else if (!map_linear(page >> 12, pa, prot)) {
        uint32_t old = sp_ent[page >> 12];
        if (park_frame[page >> 12] == frame + 1 || (old && (old >> 12) == frame)) {
            // Parked on this frame, or mapped on it already (a write upgrade): one mprotect.
            if (mprotect((void *)(uintptr_t)page, PGSIZE, prot) < 0)
                die("map shadow page");
            if (!old) {
                park_del(page >> 12);
                stats_count("shadow-unpark");
            }
        } else {
            // MAP_POPULATE: the host's page-table entry now, not on a second (host) fault.
            if (park_frame[page >> 12])
                park_del(page >> 12);
            if (mmap((void *)(uintptr_t)page, PGSIZE, prot,
                     MAP_SHARED | MAP_FIXED | MAP_POPULATE, ram_fd, pa) == MAP_FAILED)
                die("map shadow page");
            stats_count("shadow-mmap");
        }
        set_backed(page >> 12, false);
    }
    if (measuring && sys)
        refills++;
    // A write upgrade replaces the entry.
    if (sp_ent[page >> 12])
        stats_count("shadow-write-upgrade");
    sp_add(page >> 12, pa | rights | (sys ? SP_SYS : 0) | (glob ? SP_G : 0));
    snap_note(v, page >> 12);
    park_restore_near(v, page >> 12);
    mem_stat_shadow_faults++;
    if (host_maps() > mem_stat_maps)
        mem_stat_maps = host_maps();
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
    park_clear(base, (uint64_t)base + R1_WINDOW_SIZE);
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

unsigned mem_fds(int out[MEM_FDS_MAX])
{
    unsigned n = 0;
    if (ram_fd >= 0)
        out[n++] = ram_fd;
    if (win_fd >= 0)
        out[n++] = win_fd;
    if (code_fd >= 0)
        out[n++] = code_fd;
    return n;
}

bool mem_page0_mappable(void)
{
    return page0_ok;
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
// The runtime's accesses are an interrupt frame's words, a descriptor, a TSS field: a memcpy
// of a length known only here is `rep movsq`, whose start-up alone was ~11 % of a guest
// system call (perf, the bench's syscall_stub row; 2.61 -> 3.10 million round trips in 3 s).
static inline void copy_small(void *to, const void *from, unsigned n)
{
    switch (n) {
    case 1: memcpy(to, from, 1); return;
    case 2: memcpy(to, from, 2); return;
    case 4: memcpy(to, from, 4); return;
    case 8: memcpy(to, from, 8); return;
    default: memcpy(to, from, n);
    }
}

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
            mem_frame_stored(pa, chunk);
            copy_small(h, b, chunk);
        } else {
            copy_small(b, h, chunk);
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

bool mem_debug_translate(const struct vcpu *v, uint32_t lin, uint32_t *pa)
{
    if (!(v->cr0 & CR0_PG)) {
        *pa = lin & a20_mask;
        return true;
    }
    struct xlate x;
    if (!xlate(v, lin, &x))
        return false;
    *pa = x.pa;
    return true;
}

bool mem_window_poke(uint32_t addr, uint8_t *byte, bool write)
{
    if (win_fd < 0 || !mem_in_window(addr))
        return false;
    off_t off = (off_t)(addr - mem_window);
    uint8_t old;
    if (pread(win_fd, &old, 1, off) != 1 || (write && pwrite(win_fd, byte, 1, off) != 1))
        return false;
    *byte = old;
    return true;
}
