// The rewrite's patched byte ranges, and copies of them the guest makes (docs/code-copies.md).
//
// The guest must never see the rewrite. A kernel that copies a routine of its own text -- into
// a user page to start its first process, onto a user stack as a signal-return stub -- copies
// the patched bytes: a `jmp rel32` to a trampoline that, moved, jumps nowhere. ring1 cannot
// make those reads return the original bytes (without memory protection keys an executable
// host page is readable), so it repairs the copy before it runs: mem.c maps guest frames other
// than the kernel image's without PROT_EXEC until the guest executes them, and then has
// patched_repair() look for copies of trampoline jumps in the frame and put the original
// bytes back -- what a PC would have there; a copy of an int3 trap site is repaired when its
// int3 runs (patched_trap_copy).
//
// Pure: no I/O, no globals of other modules; mem.c and loader.c call it.
#ifndef RING1_PATCHED_H
#define RING1_PATCHED_H

#include <stdbool.h>
#include <stdint.h>

// A patched range: len bytes at physical address home (virtual address vaddr), its patched
// bytes as loaded, orig[] the input's. seg[0, seg_len) are the loaded bytes around it (home =
// seg_pa + offset), for the fingerprint's context, and seg_orig the same bytes with every
// range's original bytes back. Call for every range, then patched_index().
void patched_add(uint32_t home, uint32_t vaddr, const uint8_t *orig, uint32_t len,
                 const uint8_t *seg, const uint8_t *seg_orig, uint32_t seg_pa, uint32_t seg_len);
void patched_index(void);
// Whether there are patched ranges at all (an unpatched image needs no copy tracking).
bool patched_any(void);

// Look in the 4 KiB frame at physical address frame_pa (bytes f) for copies of patched ranges
// that lie wholly inside it, not at their home, and write each one's original bytes back.
// Returns how many were repaired.
unsigned patched_repair(uint8_t *f, uint32_t frame_pa);

// The guest ran an int3 at w[cc] (w[lo, hi) are the guest's bytes around it) that is no trap
// site: is it a copy of one, with at least 8 - len bytes of the code around the site? Then
// *orig and *len are the site's original bytes, for the caller to put back and run.
bool patched_trap_copy(const uint8_t *w, uint32_t lo, uint32_t hi, uint32_t cc,
                       const uint8_t **orig, uint32_t *len);

// The guest reached `at` where nothing should be (the window's range, no RAM): was it the jump
// of a copy of a patched range that was not repaired (patched.h's limits)? read(ctx, lin, buf,
// len) reads guest memory (false: unreadable). True with *copy the copy's address and *site
// the range's own when a range's trampoline jump, moved to *copy, lands at `at` and the bytes
// there are the range's patched bytes.
bool patched_explain(uint32_t at, bool (*read)(void *ctx, uint32_t lin, uint8_t *buf,
                                               unsigned len),
                     void *ctx, uint32_t *copy, uint32_t *site);

// gdb's memory reads (gdbstub.c): buf holds the len bytes of RAM at physical address pa; put
// the input's original bytes back where a patched range's bytes are still the patched ones.
// True if any patched range overlaps [pa, pa + len) (gdb's writes there are refused).
bool patched_show_original(uint32_t pa, uint8_t *buf, uint32_t len);

#endif
