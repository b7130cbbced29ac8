// Guest ring-0 code written at run time (docs/code-copies.md, "Code written at run time").
//
// The rewriter patched the kernel image; code the kernel writes later -- a routine it copies
// and runs, a module it loads, a JIT's output -- runs natively, and its silent sensitive
// instructions (pushf, popf, sgdt, sidt, smsw, str, sldt, lar, lsl, verr, verw, moves and
// pushes of segment registers, segment loads, far transfers, iret, cpuid, rdtsc, sysenter,
// syscall) would give the host's answers. mem.c calls rtcode_arm at a frame's first execution
// in guest ring 0-2 (the fault of its first instruction fetch), with a patched copy of the
// frame (mem.c, "Patched copies") that every executable mapping of the frame shows from then
// on, until the frame is written. rtcode decodes the frame from the faulting EIP (recursive
// descent through direct branches inside the page) and writes the copy: every silent
// sensitive instruction found becomes a trap site (its first byte an int3, its original bytes
// still in the frame), and, unless the frame's code refers to data inside its own page
// or is a frame of the kernel image (mem.c: then "descent only"), every byte no decoded
// instruction covers is an int3 too: code entered later where the descent did not go (an
// indirect call, another function in the page) traps, and is decoded from there
// (rtcode_trap). A frame still holding the image's bytes as loaded is never armed (mem.c).
#ifndef RING1_RTCODE_H
#define RING1_RTCODE_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

#define RT_SLOTS 256u   // patched copies (mem.c's slots)

// --runtime-code: fill (the default), descent (never fill: the copy is the frame with the
// sites' int3s), off (no copies: ring 0's run-time code runs natively, as before).
enum rt_mode { RT_FILL, RT_DESCENT, RT_OFF };
extern enum rt_mode rtcode_mode;

// Slot k (its copy at copy, PGSIZE bytes) now holds the frame whose bytes are at frame, mapped
// at linear page page_lin, first executed at linear address eip (in the page, or an
// instruction before it that runs into it). Writes the whole copy; may_fill false: descent
// only (a frame of the kernel image, which may hold the image's data). False: the copy is not
// needed (descent only, and no site found): the caller frees the slot.
bool rtcode_arm(struct vcpu *v, unsigned k, uint8_t *copy, const uint8_t *frame,
                uint32_t page_lin, uint32_t eip, bool may_fill);
// Slot k's copy is gone (the frame was written, or the slot reused).
void rtcode_forget(unsigned k);
bool rtcode_armed(unsigned k);
// Whether slot k's copy is filled with int3 where nothing was decoded (false: descent only;
// reads of the page through the mapping the guest executes see only the sites' int3s).
bool rtcode_filled(unsigned k);

// The guest ran an int3 (SIGTRAP, EIP past it): if it is one of an armed copy's -- a trap site
// (emulated) or a byte the descent had not reached (decoded from there, then run) -- handle it
// and return true.
bool rtcode_trap(struct vcpu *v);

#endif
