// Ring 3's system calls without a host signal.
//
// A guest's user program enters its kernel with `int $N`; on the host that is a host signal
// (#GP: the host's gate N is not for ring 3; SIGSYS for `int $0x80`), ~2.5 us, where QEMU
// takes ~0.5 us. Ring 3 is never rewritten ahead of time, so its hot system call sites are
// patched at run time, in the form C libraries' stubs have (xv6's usys.S, many libcs'
// syscall stubs):
//
//     b8 <nr:4>  cd N        mov $nr, %eax; int $N
//  -> 9a <nr:4>  cd N        lcall $0xNNcd, $nr
//
// One byte changes. The far call's selector is the int's own two bytes: 0xNNcd, an LDT
// selector (TI = 1, RPL 1) of index N * 32 + 25, which ring1 describes to the host (once per
// N, modify_ldt) as a 32-bit ring-3 code segment based at the gate in the window's entry page
// (HC_GATE_OFF: HC_GATE_SLED nops, then the hypercall stub's far jump). The offset, nr, lands
// in the sled for any nr below HC_GATE_SLED, so the gate needs no table. A branch to the int
// itself (site + 5) still finds `int $N` there; only a branch into the mov's immediate --
// which no compiler makes -- would see a difference.
//
// The gate's hypercall (hypercall.c: from ring 3) reads the far call's return frame from
// ring 3's stack, checks that it comes from a site patched here -- that the page shows the
// patched copy now, with the patch at that address -- and then does what the two original
// instructions do: EAX = nr, ESP as before the call, and `int $N` delivered from EIP = site + 5
// (the same emulation as the host signal's). Anything else entering the gate (a program doing
// its own far call through 0xNNcd, or a guest in 64-bit mode jumping into the stub) stops the
// run with a diagnosis, as a forged hypercall does.
//
// The guest's view. The patch is made in a copy of the frame (mem.c, "Patched copies"), shown
// only to ring 3's executable mappings of it: the kernel reading the frame (fork copying the
// page, exec, a checksum through its own mapping) reads the original; a write to the frame
// through any mapping drops the copy (the site is patched again when it is hot again). What
// differs from a PC, deliberately: a program reading its own text through the page sees the
// one patched byte (0x9a for 0xb8), and the far call writes its 8-byte return frame below
// ring 3's ESP, where the ABI keeps nothing (a signal handler's frame overwrites the same
// bytes). A fault of the far call itself (its push onto a stack page not mapped yet) runs the
// two original instructions instead, so the guest never sees a fault the int would not make;
// a signal that interrupts ring 3 inside the gate (a timer, its own TF) puts it back between
// the two instructions, after the mov, before the int -- a state the original code has too.
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
#include "mem.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

#define HOT 4u          // int exits at a site before it is patched
#define HOT_SLOTS 512u  // sites counted at once (a direct-mapped table: a clash restarts one)
static struct { uint32_t lin, hits; } hot[HOT_SLOTS];
static uint8_t gate_state[256];   // per vector: 0 not yet, 1 described to the host, 2 refused

static uint16_t gate_sel(uint8_t vec)
{
    return (uint16_t)(vec << 8 | 0xcd);
}

static bool gate_setup(uint8_t vec)
{
    if (gate_state[vec])
        return gate_state[vec] == 1;
    struct user_desc ud;
    memset(&ud, 0, sizeof ud);
    ud.entry_number = gate_sel(vec) >> 3;
    ud.base_addr = mem_window + R1_ENTRY_OFF + HC_GATE_OFF;
    ud.limit = HC_GATE_LEN - 1;
    ud.seg_32bit = 1;
    ud.contents = MODIFY_LDT_CONTENTS_CODE;
    ud.useable = 1;
    gate_state[vec] = syscall(SYS_modify_ldt, 1, &ud, sizeof ud) == 0 ? 1 : 2;
    if (gate_state[vec] == 2)
        stats_count("user-syscall-gate-refused");   // (the host's modify_ldt said no)
    return gate_state[vec] == 1;
}

// The original bytes at linear site (the frame's, not the copy's): `mov $nr, %eax; int $vec`
// with nr in the sled?
static bool site_bytes(struct vcpu *v, uint32_t site, uint32_t *nr, uint8_t *vec)
{
    uint8_t b[7];
    if ((site & (PGSIZE - 1)) > PGSIZE - 7 || vmem_fetch(v, site, b, 7) != 7 ||
        b[0] != 0xb8 || b[5] != 0xcd)
        return false;
    *nr = b[1] | b[2] << 8 | b[3] << 16 | (uint32_t)b[4] << 24;
    *vec = b[6];
    return *nr < HC_GATE_SLED;
}

void usergate_note_int(struct vcpu *v, uint32_t at, uint8_t vec)
{
    if (v->cpl != 3 || !mem_window || gate_state[vec] == 2)
        return;
    uint32_t site = v->seg[R1_SREG_CS].base + at - 5;
    unsigned h = (site * 2654435761u) >> 23;   // HOT_SLOTS = 2^9
    if (hot[h].lin != site) {
        hot[h].lin = site;
        hot[h].hits = 0;
    }
    if (++hot[h].hits < HOT)
        return;
    hot[h].hits = 0;
    uint32_t nr;
    uint8_t b6;
    if (!site_bytes(v, site, &nr, &b6) || b6 != vec || !gate_setup(vec))
        return;
    if (mem_code_patch(v, site, 0x9a))
        stats_count("user-syscall-patched");
}

// Run the site's `int $N` as its host signal would have: EAX already holds nr, EIP = site + 5.
static void deliver_int(struct vcpu *v, uint8_t vec)
{
    uint8_t b[2] = {0xcd, vec};
    struct insn in;
    uint32_t at = v->eip;
    if (decode(b, 2, &in) != 2) {
        vcpu_stop(v, STATUS_INTERNAL, "usergate: cannot decode int $%#x", vec);
        return;
    }
    stats_exit(insn_kind(&in), at);
    emulate(v, &in, at, at + 2, at + 2);
}

// The far call's return frame on ring 3's stack, and the patched site it names: false, with
// *why, if it names none; *site is then where a 7-byte far call from this code segment before
// the return address would begin (0 if the frame says it cannot be one).
static bool gate_frame(struct vcpu *v, uint32_t *site, uint32_t *nr, uint8_t *vec,
                       const char **why)
{
    uint32_t frame[2];
    *site = 0;
    if (vmem_read(v, v->seg[R1_SREG_SS].base + v->gpr[R_ESP], frame, 8, ACC_READ) < 0) {
        v->exc.vector = -1;
        *why = "its return frame cannot be read";
        return false;
    }
    if ((uint16_t)frame[1] != v->hsel_cs) {
        *why = "its return frame names another code segment";
        return false;
    }
    *site = v->seg[R1_SREG_CS].base + frame[0] - 7;
    if (!mem_code_patched(*site, 0x9a) || !site_bytes(v, *site, nr, vec)) {
        *why = "its return address follows no site ring1 patched";
        return false;
    }
    return true;
}

// The program's own far call through a gate's selector (`lcall $0xNNcd, $off` in the guest's
// bytes, not a patch): what it does is the guest's tables' to say, as on a PC (#GP(0xNNcc)
// where its LDT has no such entry). Undone here; *eip is where it began.
static bool foreign_call(struct vcpu *v, uint32_t site, uint8_t b[7])
{
    if (!site || vmem_fetch(v, site, b, 7) != 7 || b[0] != 0x9a || b[5] != 0xcd)
        return false;
    v->gpr[R_ESP] += 8;
    v->eip = site - v->seg[R1_SREG_CS].base;
    return true;
}

void usergate_enter(struct vcpu *v)
{
    uint32_t site, nr;
    uint8_t vec, b[7];
    const char *why;
    struct insn in;
    if (gate_frame(v, &site, &nr, &vec, &why)) {
        stats_count("user-syscall-gate");
        v->gpr[R_ESP] += 8;
        v->gpr[R_EAX] = nr;
        v->eip = site + 5 - v->seg[R1_SREG_CS].base;
        deliver_int(v, vec);
    } else if (foreign_call(v, site, b) && decode(b, 7, &in) == 7) {
        stats_count("user-syscall-gate-foreign");
        stats_exit(insn_kind(&in), v->eip);
        emulate(v, &in, v->eip, v->eip + 7, v->eip + 7);   // (as when it traps)
    } else {
        vcpu_stop(v, STATUS_UNSUPPORTED, "hypercall from ring 3 with ESP %#x outside the "
                  "hypercall stack, and not ring 3's system call gate entered from a patched "
                  "site: %s", v->gpr[R_ESP], why);
    }
}

void usergate_rollback(struct vcpu *v)
{
    uint32_t site, nr;
    uint8_t vec, b[7];
    const char *why;
    if (gate_frame(v, &site, &nr, &vec, &why)) {
        stats_count("user-syscall-gate-interrupted");
        v->gpr[R_ESP] += 8;
        v->gpr[R_EAX] = nr;
        v->eip = site + 5 - v->seg[R1_SREG_CS].base;
    } else if (!foreign_call(v, site, b)) {   // (it runs again, and enters the gate)
        vcpu_stop(v, STATUS_UNSUPPORTED, "ring 3 ran in ring1's system call gate (at offset "
                  "%#x) and not from a patched site or a far call: %s", v->eip, why);
    }
}

bool usergate_fault(struct vcpu *v)
{
    uint32_t site = v->seg[R1_SREG_CS].base + v->eip, nr;
    uint8_t vec;
    if (v->cpl != 3 || !mem_code_patched(site, 0x9a) || !site_bytes(v, site, &nr, &vec))
        return false;
    stats_count("user-syscall-gate-fault");
    v->gpr[R_EAX] = nr;
    v->eip += 5;
    deliver_int(v, vec);
    return true;
}
