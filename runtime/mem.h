// Guest memory: the host address-space layout, guest physical RAM, the guest's view of it in
// the low 4 GiB, and guest-linear access for the emulator (a software page walk).
#ifndef RING1_MEM_H
#define RING1_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vcpu;

#define GUEST_SPACE     0x100000000ull   // the guest owns [0, 4 GiB) of this process

extern uint8_t *mem_ram;        // the hypervisor's mapping of guest physical RAM (above 4 GiB)
extern uint32_t mem_ram_size;   // bytes of guest RAM
extern uint32_t mem_window;     // hypervisor window base (inside the guest's 4 GiB), 0 = none

// Reserve [0, 4 GiB) PROT_NONE, create the RAM memfd and map it above 4 GiB. Exits on failure.
void mem_init(uint32_t ram_size);

// Hypervisor pointer to guest physical [paddr, paddr+len), or NULL if not all of it is RAM.
void *mem_phys(uint32_t paddr, uint32_t len);

// ---- the guest's view (what native guest code can touch) ----------------------------------
// Paging off: linear = physical; map all RAM at 0 in one mapping (big chunks, 1 VMA).
// Paging on: start empty; shadow pages are filled on demand by mem_shadow_fault().
void mem_view_reset(struct vcpu *v);
// The A20 gate: off masks physical address bit 20 (the 8086's 1 MiB wrap-around).
void mem_set_a20(struct vcpu *v, bool on);
// Drop one page's shadow mapping (invlpg).
void mem_view_invlpg(struct vcpu *v, uint32_t lin);
// CR3 written (paging on): keep the mappings the new tables give too, drop the others.
void mem_view_cr3(struct vcpu *v);
// Guest CPL changed. Entering ring 3: set v->user_limit, the limit of the segments ring 3
// runs on (segment.c), and drop the pages mapped with ring-0 rights below it.
void mem_view_cpl_changed(struct vcpu *v, int old_cpl, int new_cpl);
// Ring 3 faulted at its segment limit: run it unlimited (dropping every page mapped with
// ring-0 rights) until it next enters ring 3; the caller resyncs the host segments.
void mem_view_unlimit(struct vcpu *v);
// Ring 3 faulted at its segment limit, or runs code above it: raise the limit (by steps, and
// above linear address need), dropping the ring-0 pages below the new one; past the window,
// mem_view_unlimit. keep: for a segment's base -- later entries to ring 3 keep the limit at
// least this high. The caller resyncs the host segments.
void mem_view_raise_limit(struct vcpu *v, uint32_t need, bool keep);
// Ring 3 made an access past its limit through an offset that wrapped around 4 GiB (below a
// thread pointer's base): true, the caller emulates it; false, too many in this stay in
// ring 3 -- the limit is given up (mem_view_unlimit) and the caller runs the instruction again.
bool mem_view_wrapped(struct vcpu *v);
// A host page fault at guest linear address lin. Returns 0 if the shadow was filled (retry
// the instruction), 1 if the guest gets a #PF (*pferr set), -1 if the physical address *pa
// is not RAM (MMIO or nothing), -2 if lin is in the hypervisor window, -3 if lin is in the
// window's physical alias while it is live and the guest's page tables map it too. fetch: the
// access was an instruction fetch (copies of patched code: mem.c).
int  mem_shadow_fault(struct vcpu *v, uint32_t lin, bool write, bool fetch, uint32_t *pferr,
                      uint32_t *pa);
// Copies of patched code (patched.h): turn tracking on (every frame not yet executed), then
// exempt the kernel image's own frames [pa, pa + len). Without it no frame is tracked.
void mem_track_copies(void);
void mem_frames_exempt(uint32_t pa, uint32_t len);
// The kernel image's loaded bytes [pa, pa + len), as loaded (patched): code executed in ring 0
// from a frame that still holds them is the image's, which the rewriter covered (rtcode.h).
void mem_image_bytes(uint32_t pa, uint32_t len);
// The runtime stores to guest RAM [pa, pa + len) for the guest (an emulated instruction, an
// interrupt frame): as a guest write, it makes an executed frame data again. (RAM only.)
void mem_frame_stored(uint32_t pa, uint32_t len);
// Patched copies of ring 3's code (usergate.c): put byte at linear address lin in a copy of the
// frame that the page mapping lin shows, and show ring 3 the copy from now on, until the frame
// is written. Only for a page mapped now for ring 3, executable, not writable, whose frame's
// writes are tracked (copy tracking on); false if it is not, or no copy can be made.
bool mem_code_patch(struct vcpu *v, uint32_t lin, uint8_t byte);
// Whether the page at lin shows ring 3 a patched copy now, with byte at lin.
bool mem_code_patched(uint32_t lin, uint8_t byte);
// Ring 0's code written at run time (rtcode.h): the slot of the armed copy of the frame that
// linear address lin maps (through the shadow page; with walk, else through the guest's
// tables, without setting their accessed bits), its bytes at *copy and the frame's at *frame;
// -1 if none.
int mem_rt_slot(struct vcpu *v, uint32_t lin, bool walk, uint8_t **copy, const uint8_t **frame);
// --stats: the shadow pages' counters (registered with stats_register by main.c).
// For the gdb stub (gdbstub.c): the guest's translation of lin as its page tables give it now
// (paging off: lin itself), with no side effect -- no accessed or dirty bit set, no shadow page
// filled. False if the tables map nothing there.
bool mem_debug_translate(const struct vcpu *v, uint32_t lin, uint32_t *pa);
// Read, and if `write`, replace, the byte at window address addr (a trampoline) through the
// window's memfd (the guest's mapping of it is read-only): false if addr is outside the window.
bool mem_window_poke(uint32_t addr, uint8_t *byte, bool write);
void mem_print_stats(FILE *f);
void mem_json_stats(FILE *f);   // the same figures, one JSON object (--stats-json)

// ---- the hypervisor window ------------------------------------------------------------------
// Map the window at base: vCPU page and hypercall stack RW, entry page RX (code copied in),
// and the image's .ring1 bytes RX at base + image_off. Returns the vCPU page.
volatile uint32_t *mem_window_map(uint32_t base, const void *entry, size_t entry_len,
                                  uint32_t image_off, const void *image, size_t image_len);
static inline bool mem_in_window(uint64_t a)
{
    return mem_window && a >= mem_window && a - mem_window < 0x400000u;
}
// Window aliases (abi.h, "Kernels linked above where they are loaded"): the window mapped
// again at window - delta for each p_vaddr - p_paddr of the image, while the guest runs its
// boot code at physical addresses or through segments based at -delta. Exits if an alias
// would overlap guest RAM.
void mem_window_alias_init(const uint32_t *deltas, unsigned n);
// The delta of the live alias containing addr (addr + delta is then the window address it
// stands for), else 0.
uint32_t mem_window_alias_delta(const struct vcpu *v, uint32_t addr);
// Is the alias for this delta live (see mem.c)?
bool mem_window_alias_live(const struct vcpu *v, uint32_t delta);
// Before entering the guest: drop aliases that are no longer live (paging on, no segment
// based at -delta), so that the guest's own mappings there show through again.
void mem_window_alias_sync(struct vcpu *v);
// In the window or in one of its aliases (live or not).
bool mem_in_window_or_alias(uint64_t a);
// In the window's entry code (the hypercall path) or its alias: for signal handlers.
bool mem_in_entry_code(uint64_t a);
// The memfds of guest memory (RAM, then the window if there is one, then the patched copies of
// ring 3's code): the only files the jail lets the runtime map. Returns how many.
#define MEM_FDS_MAX 3
unsigned mem_fds(int out[MEM_FDS_MAX]);
// Whether guest page 0 can be mapped at linear 0 (root, or vm.mmap_min_addr 0).
bool mem_page0_mappable(void);

// ---- guest linear access (emulator) ---------------------------------------------------------
// Access kinds. ACC_SYS is an implicit supervisor access (descriptor tables, TSS, interrupt
// stack pushes) whatever the CPL.
#define ACC_READ   0x0
#define ACC_WRITE  0x1
#define ACC_FETCH  0x2
#define ACC_SYS    0x4

// Translate a linear address. Returns 0 and the physical address, or -1 with the #PF error
// code in *pferr (the caller raises #PF with CR2 = lin).
int vmem_translate(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, uint32_t *pferr);
// Copy to/from guest linear memory; on failure the exception is recorded with
// emu_fault() (#PF with CR2, or #GP for non-RAM) and -1 is returned.
int vmem_read(struct vcpu *v, uint32_t lin, void *buf, unsigned len, int acc);
int vmem_write(struct vcpu *v, uint32_t lin, const void *buf, unsigned len, int acc);
// Fetch up to len instruction bytes at lin (stops at the first unreadable page).
unsigned vmem_fetch(struct vcpu *v, uint32_t lin, uint8_t *buf, unsigned len);

#endif
