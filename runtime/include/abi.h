/* ring1 ABI: the contract between the rewriter (rewriter/abi.py mirrors it) and the runtime.
 *
 * This header is the single source of truth. tests/test_abi.py compiles a probe against it and
 * checks that every constant, offset and size matches the Python mirror; change both together
 * and bump R1_ABI_VERSION whenever the layout of anything below changes.
 *
 * The guest owns the whole 32-bit address space except the hypervisor window, R1_WINDOW_SIZE
 * bytes at window_base (a rewrite option, recorded in the image note; default R1_WINDOW_DEFAULT,
 * the top 4 MiB, where VMware kept its monitor). The window is laid out as:
 *
 *   window_base + R1_VCPU_OFF     vCPU page: the fields inline translations read and write (RW)
 *   window_base + R1_HCSTACK_OFF  hypercall stack (R1_HCSTACK_SIZE bytes, RW)
 *   window_base + R1_ENTRY_OFF    runtime entry code (RX): trampolines `call` R1_ENTRY here
 *   window_base + R1_IMAGE_OFF    the image's .ring1 segment: struct r1_header, site table,
 *                                 address maps, trampolines (loaded from the ELF, RX)
 *
 * All multi-byte values are little-endian; all structures are packed, naturally aligned.
 */
#ifndef RING1_ABI_H
#define RING1_ABI_H

#include <stdint.h>

#define R1_ABI_VERSION      5u

/* ---- the window --------------------------------------------------------------------------- */
#define R1_WINDOW_DEFAULT   0xffc00000u  /* default window base: top 4 MiB */
#define R1_WINDOW_SIZE      0x00400000u  /* 4 MiB; the base must be aligned to this */
#define R1_VCPU_OFF         0x00000000u  /* vCPU page */
#define R1_HCSTACK_OFF      0x00001000u  /* hypercall stack, grows down from OFF + SIZE */
#define R1_HCSTACK_SIZE     0x00002000u
#define R1_ENTRY_OFF        0x00003000u  /* hypercall entry (runtime code) */
#define R1_IMAGE_OFF        0x00010000u  /* .ring1 segment of the image */
#define R1_IMAGE_MAX        (R1_WINDOW_SIZE - R1_IMAGE_OFF)

/* ---- vCPU page: offsets from window_base + R1_VCPU_OFF, each a uint32_t ------------------- */
#define R1_VCPU_VIF         0x00u  /* virtual EFLAGS.IF: 0 or R1_EFLAGS_IF, nothing else   */
#define R1_VCPU_VFLAGS      0x04u  /* virtual EFLAGS bits in R1_EFLAGS_VIRT other than IF  */
#define R1_VCPU_PENDING     0x08u  /* nonzero: an interrupt waits for virtual IF=1          */
#define R1_VCPU_SAVED_ESP   0x0cu  /* guest ESP, stored by a trampoline before a hypercall  */
#define R1_VCPU_SCRATCH     0x10u  /* one register's worth of trampoline scratch           */
#define R1_VCPU_SEL         0x20u  /* guest selectors, zero-extended: SEL + 4 * R1_SREG_x  */
/* The segment-load fast path. A trampoline for `mov sreg, r16` or `pop sreg` (ES, DS, FS, GS)
 * may load the selector without a hypercall when SEGFAST + 4 * R1_SREG_x is nonzero (the
 * runtime sets it while CPL is 0 and the host already holds that register and DS as its flat
 * selector with base 0) and the selector's entry in the cache below -- at index
 * (sel >> 3) & (R1_SEGC_N - 1) -- has key sel | R1_SEGC_VALID, and, unless its lin is 0 (a null
 * selector), the 8 bytes at guest linear address lin (read through DS) still equal desc: then
 * the processor would load exactly what the runtime loaded before, with the same checks passing
 * and nothing to write back (the accessed bit is set). The trampoline then only stores the
 * selector in SEL; the runtime brings its descriptor cache up to date at the next exit
 * (segment.c). The runtime fills an entry after each load it checked that leaves the host
 * flat, and empties the cache on lgdt and lldt. Otherwise: the usual hypercall. */
#define R1_VCPU_SEGFAST     0x40u  /* uint32_t[6], per R1_SREG_x                           */
/* Control registers as `mov r32, crN` reads them (N = 0, 2, 3, 4; CR + 4 * N), written by the
 * runtime before every entry into the guest (an inline translation reads them). */
#define R1_VCPU_CR          0x80u  /* uint32_t[5]                                            */
#define R1_VCPU_TSCRATCH    0x60u  /* uint32_t[8]: registers a fast path saves and restores  */
/* Device registers read without a hypercall. A profile-made MMIO site of the form
 * `mov r32, [mem]` (no prefix, no ESP/EBP base) or `mov eax, [moffs32]` first looks for its
 * operand's linear address here while SEGFAST[DS] is nonzero (CPL 0, flat DS): the entry at
 * index (lin >> 4) & (R1_MMIOC_N - 1) with key lin | 1 holds the register's value. The
 * runtime fills an entry after a read its device calls stable (it changes only when written:
 * an APIC's ID, version, LVTs, ...) and empties the cache on a write to such a device (but
 * for the writes it calls harmless: an EOI), CR3 writes, invlpg, flushes, wrmsr and reset. */
#define R1_VCPU_MMIOC       0x100u /* struct r1_mmioc[R1_MMIOC_N]                          */
#define R1_MMIOC_N          64u
/* Port I/O without a hypercall. The trampoline of `in` and `out` (imm8 and DX forms, every
 * size) first looks in the port cache while PORTFAST is nonzero (the runtime sets it at each
 * entry: CPL 0, where every port is accessible): the entry at index
 * (port ^ (port >> R1_PORTC_SHIFT)) & (R1_PORTC_N - 1) with key
 * port | size << 16 | R1_PORTC_VALID (| R1_PORTC_OUT for `out`) and hits nonzero answers the
 * access -- `in` takes value's low `size` bytes into AL/AX/EAX, `out` does nothing -- and
 * hits is decremented; else the usual hypercall. The runtime fills an entry after a hypercall
 * for a port whose device can read it without a side effect (`in`) or ignores writes to it
 * (`out`), and rewrites every entry (value, hits; or empties it) before the guest runs again
 * after an exit that may have changed a device: a read answered here always returns what the
 * device would. hits bounds the reads answered without the device seeing one (a UART polled
 * for input with its FIFO empty, which looks for host input). */
#define R1_VCPU_PORTFAST    0xa0u  /* uint32_t                                              */
#define R1_VCPU_PORTC       0x300u /* struct r1_portc[R1_PORTC_N]                          */
#define R1_PORTC_N          16u
#define R1_PORTC_SHIFT      4u
#define R1_PORTC_VALID      0x1000000u
#define R1_PORTC_OUT        0x2000000u
#define R1_VCPU_SEGC        0x400u /* struct r1_segc[R1_SEGC_N]                            */
#define R1_SEGC_N           64u
#define R1_SEGC_VALID       0x10000u
/* Offsets 0x800-0xfff of the vCPU page are the runtime's own (the hypercall stub's save area
 * and scratch stack): trampolines never touch them. */

/* Segment register numbers: the x86 encoding order (ModRM.reg of 8C/8E). */
#define R1_SREG_ES 0
#define R1_SREG_CS 1
#define R1_SREG_SS 2
#define R1_SREG_DS 3
#define R1_SREG_FS 4
#define R1_SREG_GS 5

/* EFLAGS bits that are virtual: the host never holds them for the guest (host IF is always 1,
 * host IOPL/AC always 0). pushf = host flags - IF + vif + vflags; popf splits them back. NT is
 * not virtual: the host holds the guest's (a native iret with NT set faults in the host's
 * IA-32e mode and is emulated as a task return; pushf and popf see and set it natively). */
#define R1_EFLAGS_IF        0x00000200u
#define R1_EFLAGS_IOPL      0x00003000u
#define R1_EFLAGS_NT        0x00004000u
#define R1_EFLAGS_AC        0x00040000u
#define R1_EFLAGS_VIRT      (R1_EFLAGS_IF | R1_EFLAGS_IOPL | R1_EFLAGS_AC)

/* ---- hypercall entry ------------------------------------------------------------------------
 * A trampoline reaches the runtime with
 *     mov  %esp, vcpu.saved_esp
 *     mov  $(window_base + R1_HCSTACK_OFF + R1_HCSTACK_SIZE), %esp
 *     push $site_index
 *     call window_base + R1_ENTRY_OFF
 *   resume:
 * so at entry [esp] = resume (== sites[site_index].resume), [esp+4] = site_index, the guest's
 * ESP is in vcpu.saved_esp and every other register and EFLAGS bit is the guest's. The runtime
 * emulates sites[site_index] and continues the guest either at `resume` with ESP restored (from
 * saved_esp, as the instruction left it) or, for a control transfer, at its target. The guest
 * stack is never touched by the hypercall sequence itself.
 *
 * A hypercall from an R1_TACTIC_INLINE site (sti, popf) means the translation was already done
 * inline and virtual IF is now 1 with R1_VCPU_PENDING set: deliver the pending interrupt, then
 * resume. For sti the pending check follows the instruction after sti when that instruction is
 * in the same region (the interrupt shadow has then already been honoured; `sti; hlt` sleeps
 * correctly); the t2o entry of `resume` names the original address execution continues at. From an R1_TACTIC_TRAMPOLINE site it means: emulate the whole instruction.
 *
 * Kernels linked above where they are loaded (GNU Mach: p_vaddr 0xc1000000, p_paddr 0x01000000)
 * run their boot code at physical addresses, and some keep doing so after paging is on (xv6-
 * style kernels until their jump to the linked address) or reach their linked addresses through
 * segments based at -delta (GNU Mach). A patched site executed there jumps (rel32) to
 * trampoline - delta, where delta = p_vaddr - p_paddr of its segment. The runtime therefore
 * also maps the whole window at window_base - delta while the guest runs such code: the
 * trampolines' branches to original code are relative, so they return to the same alias, and
 * their absolute vCPU accesses may go through a segment based at -delta too. A trap site is
 * looked up at addr and at addr - delta. (runtime/README.md says when the alias is dropped.)
 *
 * Trap sites (R1_TACTIC_TRAP) hold `int3` at `addr` (rest of the instruction left as it was):
 * the runtime finds the site by address, emulates it, and continues at addr + len.
 */

/* ---- the image ---------------------------------------------------------------------------- */
#define R1_MAGIC            "RING1IMG"   /* r1_header.magic, 8 bytes, no NUL */
#define R1_NOTE_NAME        "ring1"      /* ELF note name (with NUL: namesz 6) */
#define R1_NOTE_ABI         0x52310001u  /* ELF note type: desc is struct r1_note */
#define R1_SECTION_NAME     ".ring1"

struct r1_note {
    uint32_t abi_version;      /* R1_ABI_VERSION */
    uint32_t window_base;      /* where the window is; the .ring1 segment is at + R1_IMAGE_OFF */
    uint32_t image_vaddr;      /* address of struct r1_header */
    uint32_t flags;            /* R1_F_* */
    uint8_t  input_sha256[32]; /* of the unpatched input file */
};

#define R1_F_TRAP_ONLY      0x1u /* every site uses R1_TACTIC_TRAP (rewrite --tactics trap) */

/* The rewrite's options, so that `ring1 verify` can re-run the (deterministic) rewrite on the
 * rebuilt input and compare every byte of the output. The note's descriptor is struct r1_note
 * followed by struct r1_options (n_descsz == sizeof both); an older image has r1_note alone.
 * Additive: the runtime reads the first sizeof(struct r1_note) bytes and may ignore the rest.
 * The window is r1_note.window_base. */
struct r1_options {
    uint32_t tactics;          /* bit (1u << R1_TACTIC_x) for every tactic the rewrite allowed */
    uint32_t reserved;         /* 0 */
    char     rewriter[24];     /* the rewriter's name and version, e.g. "ring1 0.1.0", NUL-padded */
};

struct r1_header {
    char     magic[8];         /* R1_MAGIC */
    uint32_t abi_version;
    uint32_t window_base;
    uint32_t header_size;      /* sizeof(struct r1_header) */
    uint32_t flags;
    uint32_t nsites;
    uint32_t sites_off;        /* offsets are from the header's own address; sites are sorted by
                                  addr, addresses unique (the runtime binary-searches them) */
    uint32_t nmap_o2t;         /* entries in the orig -> trampoline map */
    uint32_t map_o2t_off;      /* struct r1_map[nmap_o2t], sorted by orig, unique orig */
    uint32_t nmap_t2o;         /* entries in the trampoline -> orig map */
    uint32_t map_t2o_off;      /* struct r1_map[nmap_t2o], sorted by tramp, unique tramp */
    uint32_t tramp_off;
    uint32_t tramp_size;
    uint32_t entry_point;      /* the guest's entry point, unchanged */
    uint32_t undo_off;         /* undo records: the original bytes of everything rewritten */
    uint32_t undo_size;        /*   (bytes), so `ring1 verify` can rebuild the input exactly */
    uint32_t orig_file_size;   /* the input file is out[0, orig_file_size) with undo applied */
    uint8_t  input_sha256[32];
};

/* A segment-load cache entry (R1_VCPU_SEGC). */
struct r1_segc {
    uint32_t key;              /* selector | R1_SEGC_VALID; 0: empty */
    uint32_t lin;              /* guest linear address of its descriptor; 0: null selector */
    uint32_t desc_lo;          /* the descriptor as the runtime checked it (accessed bit set) */
    uint32_t desc_hi;
};

/* A device-register read cache entry (R1_VCPU_MMIOC). */
struct r1_mmioc {
    uint32_t key;              /* linear address | 1 (dword aligned); 0: empty */
    uint32_t value;
};

/* A port cache entry (R1_VCPU_PORTC). */
struct r1_portc {
    uint32_t key;              /* port | size << 16 | R1_PORTC_VALID [| R1_PORTC_OUT]; 0: empty */
    uint32_t value;            /* what an `in` of that port and size reads */
    uint32_t hits;             /* accesses the entry may still answer */
    uint32_t reserved;         /* 0 */
};

/* An undo record: `len` original bytes at file offset `offset` follow, padded to 4 bytes.
 * Record offsets are file offsets (the ELF header is one of them), not guest addresses. */
struct r1_undo {
    uint32_t offset;
    uint32_t len;
};

/* Tactics, in the order the rewriter tries them. */
#define R1_TACTIC_INLINE      1 /* jmp to a trampoline that translates without the runtime */
#define R1_TACTIC_TRAMPOLINE  2 /* jmp to a trampoline that makes a hypercall */
#define R1_TACTIC_TRAP        3 /* int3 at the site; the runtime emulates it */

/* Kinds: one per entry of the sensitive-instruction catalogue (docs/design.md §2). */
#define R1_KIND_LIST(X) \
    X(CLI, 1) X(STI, 2) X(HLT, 3) X(IN, 4) X(OUT, 5) X(INS, 6) X(OUTS, 7) \
    X(LGDT, 8) X(LIDT, 9) X(LLDT, 10) X(LTR, 11) X(MOV_TO_CR, 12) X(MOV_FROM_CR, 13) \
    X(MOV_TO_DR, 14) X(MOV_FROM_DR, 15) X(INVLPG, 16) X(WBINVD, 17) X(INVD, 18) X(CLTS, 19) \
    X(LMSW, 20) X(RDMSR, 21) X(WRMSR, 22) X(RDPMC, 23) X(IRET, 24) X(INT, 25) X(INTO, 26) \
    X(INT1, 27) X(LCALL, 28) X(LJMP, 29) X(LRET, 30) X(MOV_TO_SREG, 31) X(POP_SREG, 32) \
    X(LOAD_FAR_PTR, 33) X(SYSENTER, 34) X(SYSEXIT, 35) X(PUSHF, 36) X(POPF, 37) X(SGDT, 38) \
    X(SIDT, 39) X(SLDT, 40) X(STR, 41) X(SMSW, 42) X(LAR, 43) X(LSL, 44) X(VERR, 45) \
    X(VERW, 46) X(MOV_FROM_SREG, 47) X(PUSH_SREG, 48) X(CPUID, 49) X(RDTSC, 50) \
    X(RDTSCP, 51) X(MONITOR, 52) X(MWAIT, 53) X(XSETBV, 54) X(CLAC, 55) X(STAC, 56) \
    X(SYSCALL, 57) X(SYSRET, 58) X(RSM, 59) \
    X(MMIO, 60)
/* R1_KIND_MMIO is no sensitive instruction: an ordinary memory access that a profile showed
 * reaching a device (rewrite --profile). Its trampoline makes a hypercall; the runtime performs
 * the access -- on the device, or on RAM when the address is RAM this time. */

enum r1_kind {
#define R1_KIND_ENUM(name, n) R1_KIND_##name = n,
    R1_KIND_LIST(R1_KIND_ENUM)
#undef R1_KIND_ENUM
    R1_KIND_MAX
};

struct r1_site {
    uint32_t addr;             /* guest virtual address of the original instruction */
    uint32_t resume;           /* where the guest continues after emulation (see above) */
    uint32_t tramp;            /* start of the trampoline covering this site, 0 for TRAP */
    uint16_t kind;             /* enum r1_kind */
    uint8_t  tactic;           /* R1_TACTIC_* */
    uint8_t  len;              /* length of the original instruction */
    uint8_t  bytes[16];        /* the original instruction, zero-padded */
};

/* A trampoline address and the original address it stands for.
 *
 * Every original instruction moved into a trampoline (a "piece": the instruction's translation)
 * has one entry in both maps: (its address, the piece's start). t2o also has an entry for every
 * hypercall resume point: (the original address execution logically continues at, resume).
 *
 * Guest-visible EIP for a trampoline address T: the orig of the last t2o entry with tramp <= T.
 * (A fault inside a piece restarts the original instruction; a frame built at a resume point
 * shows where the original code continues.) The runtime uses it for every frame it builds.
 * o2t sends a return or iret into overwritten bytes (any region address but the first, which
 * holds the jmp) to the piece that stands for it; an address inside a region that o2t lacks is
 * the middle of an original instruction: a guest bug to report, not to run. */
struct r1_map {
    uint32_t orig;
    uint32_t tramp;
};

#ifdef __cplusplus
#define R1_STATIC_ASSERT static_assert
#else
#define R1_STATIC_ASSERT _Static_assert
#endif
R1_STATIC_ASSERT(sizeof(struct r1_note) == 48, "r1_note layout");
R1_STATIC_ASSERT(sizeof(struct r1_options) == 32, "r1_options layout");
R1_STATIC_ASSERT(sizeof(struct r1_header) == 104, "r1_header layout");
R1_STATIC_ASSERT(sizeof(struct r1_undo) == 8, "r1_undo layout");
R1_STATIC_ASSERT(sizeof(struct r1_site) == 32, "r1_site layout");
R1_STATIC_ASSERT(sizeof(struct r1_map) == 8, "r1_map layout");
R1_STATIC_ASSERT(sizeof(struct r1_portc) * R1_PORTC_N <= R1_VCPU_SEGC - R1_VCPU_PORTC, "r1_portc room");

#endif /* RING1_ABI_H */
