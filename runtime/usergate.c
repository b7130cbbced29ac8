// Ring 3's system calls without a host signal.
//
// A guest's user program enters its kernel with `int $N` or `sysenter`; on the host each is a
// host signal (#GP: the host's gate N is not for ring 3; SIGSYS for `int $0x80` and, on Intel,
// for a sysenter from compat mode), ~2.5-4 us, where QEMU takes ~0.5 us. Ring 3 is never
// rewritten ahead of time, so its hot system call sites are patched at run time, in the two
// forms C libraries enter by (xv6's usys.S and many libcs' stubs; Linux's vDSO):
//
//     b8 <nr:4>  cd N          mov $nr, %eax; int $N
//  -> 9a <nr:4>  cd N          lcall $0xNNcd, $nr
//     55 89 e5 0f 34  cd 80    push %ebp; mov %esp, %ebp; sysenter; int $0x80
//  -> 9a 89 e5 0f 34  cd 80    lcall $0x80cd, $0x340fe589
//
// One byte changes. The far call's selector is the int's own two bytes: 0xNNcd, an LDT
// selector (TI = 1, RPL 1) of index N * 32 + 25, which ring1 describes to the host (once per
// N, modify_ldt) as a 32-bit ring-3 code segment based so that the offset lands in the gate in
// the window's entry page (HC_GATE_OFF: HC_GATE_SLED nops, then the hypercall stub's far
// jump): at the sled for the first form (any nr below HC_GATE_SLED: no table), at the sled
// less 0x340fe589, with a 4 GiB limit, for the second. A vector serves the form first patched
// for it (Linux: the vDSO's, so busybox's one `mov $nr, %eax; int $0x80` stub stays a host
// signal). Every byte after the first is the original's: a branch to the int (site + 5), or a
// return into the vDSO entry after its push, still finds the original instructions there.
// Linux's vDSO site is found where the kernel's sysexit returns (its int80 landing, right
// after the `int $0x80`): on Intel the sysenter's own signal has lost the guest's EIP.
//
// The gate's hypercall (hypercall.c: from ring 3) reads the far call's return frame from
// ring 3's stack, checks that it comes from a site patched here -- that the page shows the
// patched copy now, with the patch at that address -- and then does what the original
// instructions do, with ESP as before the call: EAX = nr and `int $N` delivered from
// EIP = site + 5; or the push of EBP, EBP = ESP and the sysenter emulated (the same emulation
// as the host signal's). Anything else entering the gate (a program doing
// its own far call through 0xNNcd, or a guest in 64-bit mode jumping into the stub) stops the
// run with a diagnosis, as a forged hypercall does.
//
// The guest's view. The patch is made in a copy of the frame (mem.c, "Patched copies"), shown
// only to ring 3's executable mappings of it: the kernel reading the frame (fork copying the
// page, exec, a checksum through its own mapping) reads the original; a write to the frame
// through any mapping drops the copy (the site is patched again when it is hot again). What
// differs from a PC, deliberately: a program reading its own text through the page sees the
// one patched byte (0x9a for 0xb8, or for 0x55), and the far call writes its 8-byte return
// frame below ring 3's ESP, where the ABI keeps nothing (a signal handler's frame overwrites
// the same bytes). A fault of the far call itself that the guest would see (its push onto a
// page the guest's tables do not map; one that only needs a shadow page is filled and the
// call runs again) runs the original instructions instead, so the guest never sees a fault
// they would not make; a signal that interrupts ring 3 inside the gate (a timer, its own TF)
// puts it back after the first original instruction (the mov, the push) -- a state the
// original code has too.
#include "usergate.h"

#include <asm/ldt.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi.h"
#include "decode.h"
#include "emulate.h"
#include "entry.h"
#include "interrupt.h"
#include "mem.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

#define HOT 4u          // exits at a site before it is patched
#define HOT_SLOTS 512u  // sites counted at once (a direct-mapped table: a clash restarts one)
static struct { uint32_t lin, hits; } hot[HOT_SLOTS];

// The two forms a site may have (its original bytes, in the guest's frame), each patched by
// changing its first byte to 0x9a (lcall ptr16:32): the far call's selector is then the int's
// own two bytes, 0xNNcd, and its offset the four bytes after the first.
//   SITE_INT       b8 <nr:4> cd N            mov $nr, %eax; int $N            offset nr
//   SITE_SYSENTER  55 89 e5 0f 34 cd 80      push %ebp; mov %esp, %ebp;       offset
//                                            sysenter; int $0x80 (Linux's     0x340fe589
//                                            vDSO, __kernel_vsyscall)
// The gate segment of vector N is based so that the offset lands in the sled: at the sled for
// SITE_INT (any nr below HC_GATE_SLED), at the sled less 0x340fe589 for SITE_SYSENTER (limit
// 4 GiB). One vector has one: the form first patched for it.
enum { SITE_NONE, SITE_INT, SITE_SYSENTER };
#define SYSENTER_OFF 0x340fe589u
static const uint8_t sysenter_bytes[7] = {0x55, 0x89, 0xe5, 0x0f, 0x34, 0xcd, 0x80};
static uint8_t gate_kind[256];    // per vector: the form its gate segment serves; 0 none yet
static bool gate_refused[256];    // (the host's modify_ldt said no)

static uint16_t gate_sel(uint8_t vec)
{
    return (uint16_t)(vec << 8 | 0xcd);
}

static bool gate_setup(uint8_t vec, int kind)
{
    if (gate_kind[vec] || gate_refused[vec])
        return gate_kind[vec] == kind;
    uint32_t sled = mem_window + R1_ENTRY_OFF + HC_GATE_OFF;
    struct user_desc ud;
    memset(&ud, 0, sizeof ud);
    ud.entry_number = gate_sel(vec) >> 3;
    ud.seg_32bit = 1;
    ud.contents = MODIFY_LDT_CONTENTS_CODE;
    ud.useable = 1;
    if (kind == SITE_INT) {
        ud.base_addr = sled;
        ud.limit = HC_GATE_LEN - 1;
    } else {
        if (sled < SYSENTER_OFF)
            return false;   // (the base would wrap: not with the window where it is by default)
        ud.base_addr = sled - SYSENTER_OFF;
        ud.limit = 0xfffff;
        ud.limit_in_pages = 1;
    }
    if (syscall(SYS_modify_ldt, 1, &ud, sizeof ud) != 0) {
        gate_refused[vec] = true;
        stats_count("user-syscall-gate-refused");
        return false;
    }
    gate_kind[vec] = (uint8_t)kind;
    return true;
}

// The form of the original bytes at linear site (the frame's, not a patched copy's), with the
// system call number a SITE_INT sets (in the sled) and the vector.
static int site_kind(struct vcpu *v, uint32_t site, uint32_t *nr, uint8_t *vec)
{
    uint32_t pa, pferr;
    const uint8_t *b;
    if ((site & (PGSIZE - 1)) > PGSIZE - 7 || vmem_translate(v, site, ACC_FETCH, &pa, &pferr) < 0 ||
        !(b = mem_phys(pa, 7)) || b[5] != 0xcd)
        return SITE_NONE;   // (one translation: the 7 bytes lie in one page)
    *vec = b[6];
    if (!memcmp(b, sysenter_bytes, 7))
        return SITE_SYSENTER;
    *nr = b[1] | b[2] << 8 | b[3] << 16 | (uint32_t)b[4] << 24;
    return b[0] == 0xb8 && *nr < HC_GATE_SLED ? SITE_INT : SITE_NONE;
}

// Count an exit at site; patch it when it is hot and of the form want.
static void note(struct vcpu *v, uint32_t site, int want)
{
    if (mem_code_patched(site, 0x9a))
        return;   // (a sysexit after a system call that came through the gate)
    unsigned h = (site * 2654435761u) >> 23;   // HOT_SLOTS = 2^9
    if (hot[h].lin != site) {
        hot[h].lin = site;
        hot[h].hits = 0;
    }
    if (++hot[h].hits < HOT)
        return;
    hot[h].hits = 0;
    uint32_t nr;
    uint8_t vec;
    if (site_kind(v, site, &nr, &vec) != want || !gate_setup(vec, want))
        return;
    if (mem_code_patch(v, site, 0x9a))
        stats_count("user-syscall-patched");
}

void usergate_note_int(struct vcpu *v, uint32_t at, uint8_t vec)
{
    if (v->cpl != 3 || !mem_window || gate_refused[vec] || gate_kind[vec] == SITE_SYSENTER)
        return;
    note(v, v->seg[R1_SREG_CS].base + at - 5, SITE_INT);
}

void usergate_note_sysexit(struct vcpu *v)
{
    if (v->cpl != 3 || !mem_window || gate_refused[0x80] || gate_kind[0x80] == SITE_INT)
        return;
    note(v, v->seg[R1_SREG_CS].base + v->eip - 7, SITE_SYSENTER);   // (at the int80 landing)
}

// Run one instruction of a site's own (`int $N`, `sysenter`) as its host signal would have,
// from EIP at.
static void run_insn(struct vcpu *v, const uint8_t *b, unsigned len)
{
    struct insn in;
    uint32_t at = v->eip;
    if (decode(b, len, &in) != (int)len) {
        vcpu_stop(v, STATUS_INTERNAL, "usergate: a site's instruction does not decode");
        return;
    }
    stats_exit(insn_kind(&in), at);
    emulate(v, &in, at, at + len, at + len);
}

// `push %ebp`, as the CPU would (false, with the fault recorded, if the stack says no).
static bool push_ebp(struct vcpu *v)
{
    uint32_t esp = v->gpr[R_ESP] - 4;
    if (vmem_write(v, v->seg[R1_SREG_SS].base + esp, &v->gpr[R_EBP], 4, ACC_WRITE) < 0)
        return false;
    v->gpr[R_ESP] = esp;
    return true;
}

// What the site's original instructions do, from the site on (ESP as before the far call).
static void run_original(struct vcpu *v, uint32_t site, int kind, uint32_t nr, uint8_t vec)
{
    uint32_t base = v->seg[R1_SREG_CS].base;
    if (kind == SITE_INT) {
        v->gpr[R_EAX] = nr;
        v->eip = site + 5 - base;
        run_insn(v, (const uint8_t[]){0xcd, vec}, 2);
        return;
    }
    v->eip = site - base;
    if (!push_ebp(v)) {
        intr_raise_recorded(v);   // (a fault of the push: at the site, as on a PC)
        return;
    }
    v->gpr[R_EBP] = v->gpr[R_ESP];
    v->eip = site + 3 - base;
    run_insn(v, (const uint8_t[]){0x0f, 0x34}, 2);
}

// The far call's return frame on ring 3's stack, and the patched site it names: its form, or
// SITE_NONE with *why; *site is then where a 7-byte far call from this code segment before the
// return address would begin (0 if the frame says it cannot be one).
static int gate_frame(struct vcpu *v, uint32_t *site, uint32_t *nr, uint8_t *vec,
                      const char **why)
{
    uint32_t frame[2];
    *site = 0;
    if (vmem_read(v, v->seg[R1_SREG_SS].base + v->gpr[R_ESP], frame, 8, ACC_READ) < 0) {
        v->exc.vector = -1;
        *why = "its return frame cannot be read";
        return SITE_NONE;
    }
    if ((uint16_t)frame[1] != v->hsel_cs) {
        *why = "its return frame names another code segment";
        return SITE_NONE;
    }
    *site = v->seg[R1_SREG_CS].base + frame[0] - 7;
    int kind = mem_code_patched(*site, 0x9a) ? site_kind(v, *site, nr, vec) : SITE_NONE;
    if (!kind)
        *why = "its return address follows no site ring1 patched";
    return kind;
}

// The program's own far call through a gate's selector (`lcall $0xNNcd, $off` in the guest's
// bytes, not a patch; or `lcall *m16:32` whose far pointer holds such a selector): what it
// does is the guest's tables' to say, as on a PC (#GP(0xNNcc) where its LDT has no such
// entry). Undone here (*in decoded, EIP where it began); false if no such call ends at the
// return address (site + 7).
static bool foreign_call(struct vcpu *v, uint32_t site, struct insn *in)
{
    if (!site)
        return false;
    uint32_t ret = site + 7;
    uint8_t b[INSN_MAX];
    for (unsigned len = 2; len <= 9; len++) {   // ff /3: ModRM, SIB, disp32, two prefixes
        if (vmem_fetch(v, ret - len, b, len) != len || decode(b, len, in) != (int)len)
            continue;
        bool direct = in->op == 0x9a && in->opsize == 4 && (in->imm2 & 0xff) == 0xcd;
        if (!direct) {
            if (in->op != 0xff || in->reg != 3 || !insn_has_mem(in) || in->opsize != 4)
                continue;
            // (the far call pushed 8 bytes: the operand's ESP is the one before)
            uint32_t gpr[8];
            memcpy(gpr, v->gpr, sizeof gpr);
            gpr[R_ESP] += 8;
            uint16_t sel;
            if (vmem_read(v, v->seg[insn_seg(in)].base + insn_ea(in, gpr) + 4, &sel, 2,
                          ACC_READ) < 0) {
                v->exc.vector = -1;   // (read just now by the far call itself: not reached)
                continue;
            }
            if ((sel & 0xff) != 0xcd)
                continue;
        }
        v->gpr[R_ESP] += 8;
        v->eip = ret - len - v->seg[R1_SREG_CS].base;
        return true;
    }
    return false;
}

void usergate_enter(struct vcpu *v)
{
    uint32_t site, nr = 0;
    uint8_t vec = 0;
    const char *why = NULL;
    struct insn in;
    int kind = gate_frame(v, &site, &nr, &vec, &why);
    if (kind) {
        stats_count(kind == SITE_INT ? "user-syscall-gate" : "user-sysenter-gate");
        v->gpr[R_ESP] += 8;
        run_original(v, site, kind, nr, vec);
    } else if (foreign_call(v, site, &in)) {
        stats_count("user-syscall-gate-foreign");
        stats_exit(insn_kind(&in), v->eip);
        emulate(v, &in, v->eip, v->eip + in.len, v->eip + in.len);   // (as when it traps)
    } else {
        vcpu_stop(v, STATUS_UNSUPPORTED, "hypercall from ring 3 with ESP %#x outside the "
                  "hypercall stack, and not ring 3's system call gate entered from a patched "
                  "site: %s", v->gpr[R_ESP], why);
    }
}

void usergate_rollback(struct vcpu *v)
{
    uint32_t site, nr = 0;
    uint8_t vec = 0;
    const char *why = NULL;
    struct insn in;
    int kind = gate_frame(v, &site, &nr, &vec, &why);
    uint32_t base = v->seg[R1_SREG_CS].base;
    if (kind == SITE_INT) {   // after the mov, at the int
        stats_count("user-syscall-gate-interrupted");
        v->gpr[R_ESP] += 8;
        v->gpr[R_EAX] = nr;
        v->eip = site + 5 - base;
    } else if (kind == SITE_SYSENTER) {   // after the push, at the mov (the bytes after the
        stats_count("user-syscall-gate-interrupted");   // patched one are the original's)
        v->gpr[R_ESP] += 8;
        v->eip = site - base;
        if (push_ebp(v))
            v->eip = site + 1 - base;
        else
            v->exc.vector = -1;   // (at the site: its far call runs again, and faults)
    } else if (!foreign_call(v, site, &in)) {   // (it runs again, and enters the gate)
        vcpu_stop(v, STATUS_UNSUPPORTED, "ring 3 ran in ring1's system call gate (at offset "
                  "%#x) and not from a patched site or a far call: %s", v->eip, why);
    }
}

bool usergate_fault(struct vcpu *v)
{
    uint32_t site = v->seg[R1_SREG_CS].base + v->eip, nr = 0;
    uint8_t vec = 0;
    int kind = v->cpl == 3 && mem_code_patched(site, 0x9a) ? site_kind(v, site, &nr, &vec)
                                                           : SITE_NONE;
    if (!kind)
        return false;
    stats_count("user-syscall-gate-fault");
    run_original(v, site, kind, nr, vec);
    return true;
}
