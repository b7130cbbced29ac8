"""Differential execution: random little functions full of flag arithmetic, forward branches,
calls and the sensitive instructions cli/sti/pushfd/popfd run twice in the unicorn emulator -
unpatched (the CPU's own IF) and rewritten (virtual IF in the vCPU page; trampolines, hypercalls
and int3 traps handled by a small model of the runtime written from abi.h) - and must end in the
same state: registers, arithmetic flags, stack contents, and IF == the virtual IF.

The runtime model (what abi.h promises the runtime does):
  hypercall  at window_base + R1_ENTRY_OFF: [esp] = resume, [esp+4] = site index, guest ESP in
             vcpu.saved_esp. TRAMPOLINE sites: emulate the instruction, continue at resume.
             INLINE sites (sti/popf slow path): deliver the pending interrupt (here: clear
             pending), continue at resume.
  trap       int3 at a TRAP site: emulate it, continue at addr + len.
Host IF stays 1 as it does in ring 3 (unicorn runs at CPL 0, where popfd could clear it).

Unicorn 2.1 caveats, both emulator artifacts, not ring1's: a UC_HOOK_CODE on every instruction
makes it re-execute stores into the vCPU page with wrong lazy flags (so hooks are placed on
single addresses), and it does not wrap a Jcc target past 4 GiB (so the window is at
0x40000000 here).

Skipped without `unicorn` (pip install unicorn).
"""

from __future__ import annotations

import random
import struct

import pytest

from rewriter import abi, emit, image, pipeline
from rewriter.abi import Kind, Tactic

from conftest import Prog, Seg, make_elf32

uc_mod = pytest.importorskip("unicorn")
from unicorn import x86_const as X  # noqa: E402

TEXT, STACK_TOP, SENTINEL = 0x100000, 0x00300000, 0x00500000
W = 0x40000000            # away from 4 GiB: unicorn does not wrap Jcc targets (see stages)
IF = abi.EFLAGS_IF
ARITH = 0x8D5 | 0x400     # CF PF AF ZF SF OF DF
POPF_BITS = ARITH | IF | abi.EFLAGS_IOPL | abi.EFLAGS_NT | abi.EFLAGS_AC | 0x200000   # + ID
REGS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
ARITH_OPS = ["add {r}, {s}", "sub {r}, {i}", "xor {r}, {s}", "inc {r}", "dec {r}", "cmp {r}, {s}",
             "adc {r}, {i}", "sbb {r}, {s}", "shl {r}, 1", "neg {r}", "test {r}, {s}",
             "mov {r}, {i}", "lea {r}, [{s} + {r} * 2 + {i}]", "and {r}, {i}", "or {r}, {s}"]
JCCS = ["je", "jne", "jb", "jae", "jl", "jg", "js", "jns", "jo", "jp"]


def random_function(rng: random.Random, p: Prog, name: str, n: int) -> None:
    """A function of about n instructions; the stack is balanced at every label and at ret."""
    p.label(name)
    depth = 0
    labels = []
    pending_labels: list[str] = []
    for k in range(n):
        # place a label (a branch target) now and then, only at stack depth 0
        if pending_labels and depth == 0 and rng.random() < 0.3:
            p.label(pending_labels.pop(0))
        r, s = rng.choice(REGS), rng.choice(REGS)
        imm = rng.choice([1, 3, 0x7F, 0x80, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
        roll = rng.random()
        if roll < 0.12:
            p.asm("cli")
        elif roll < 0.24:
            p.asm("sti")
        elif roll < 0.36:
            p.raw("9c")                                    # pushfd
            if rng.random() < 0.5:
                p.asm(f"pop {r}")
            else:
                depth += 1
        elif roll < 0.46:
            v = (rng.getrandbits(32) & POPF_BITS) | 0x2
            p.asm(f"push {v:#x}").raw("9d")              # popfd of a chosen value
        elif roll < 0.52 and depth > 0:
            p.raw("9d")                                    # popfd of an earlier pushfd
            depth -= 1
        elif roll < 0.60 and depth == 0:
            lab = f"{name}_l{len(labels)}"
            labels.append(lab)
            pending_labels.append(lab)
            p.asm(f"{rng.choice(JCCS)} {{{lab}}}")
            if rng.random() < 0.4:
                # a jmp over 80 bytes of int3: its target and the jcc's are reached from
                # further away than a region's own branches (plan._Reaim moves such branches)
                skip = f"{name}_s{len(labels)}"
                p.asm(f"jmp {{{skip}}}").raw("cc" * 80).label(skip)
        elif roll < 0.64:
            p.asm("call {helper}")
        elif roll < 0.70:
            p.raw(rng.choice(["8c d8", "8c c3", "66 8c d9", "8c e6", "8c d5"]))  # mov r, sreg
        elif roll < 0.73:
            p.raw(rng.choice(["1e", "06", "0f a0", "0f a8", "16"])).asm(f"pop {r}")  # push sreg
        elif roll < 0.80:
            port = rng.choice([0x20, 0x21, 0x40, 0x60, 0x3F8, 0x3FD, 0xCF8])
            if port < 0x100 and rng.random() < 0.5:
                p.raw(bytes([rng.choice([0xE4, 0xE5, 0xE6, 0xE7]), port]))
            else:
                p.asm(f"mov edx, {port:#x}").raw(rng.choice(["ec", "ed", "ee", "ef", "66 ed",
                                                               "66 ef"]))
        else:
            p.asm(rng.choice(ARITH_OPS).format(r=r, s=s, i=imm))
    while depth:
        p.asm(f"pop {rng.choice(REGS)}")
        depth -= 1
    for lab in pending_labels:
        p.label(lab)
    p.asm("ret")


def build_kernel(seed: int, nfuncs: int = 6, n: int = 24):
    rng = random.Random(seed)
    p = Prog(TEXT)
    names = [f"f{i}" for i in range(nfuncs)]
    p.label("entry").asm(*[f"call {{{f}}}" for f in names], "hlt", "jmp {entry}")
    p.label("helper").asm("add eax, 0x11", "ret")
    for f in names:
        random_function(rng, p, f, n)
        p.align(16, rng.choice([0x90, 0xCC]))
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"), Seg(0x200000, b"\0" * 64, "rw",
                                                               name=".data")], labels["entry"])
    return raw, labels, names


class Emu:
    def __init__(self, raw: bytes):
        self.uc = uc = uc_mod.Uc(uc_mod.UC_ARCH_X86, uc_mod.UC_MODE_32)
        img = image.load("k", raw)
        for s in img.segments:
            lo, hi = s.vaddr & ~0xFFF, (s.vaddr + s.memsz + 0xFFF) & ~0xFFF
            uc.mem_map(lo, hi - lo)
            uc.mem_write(s.vaddr, raw[s.offset:s.offset + s.filesz])
        uc.mem_map(STACK_TOP - 0x10000, 0x10000)
        uc.mem_map(SENTINEL, 0x1000)
        uc.mem_write(SENTINEL, b"\xf4")
        self.img = img
        self.io: list[tuple] = []
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._in, None, 1, 0, X.UC_X86_INS_IN)
        uc.hook_add(uc_mod.UC_HOOK_INSN, self._out, None, 1, 0, X.UC_X86_INS_OUT)

    @staticmethod
    def port_value(port: int, size: int) -> int:
        return (port * 0x01010101 + 0x5A5A5A5A) & ((1 << (8 * size)) - 1)

    def _in(self, uc, port, size, _):
        self.io.append(("in", port, size))
        return self.port_value(port, size)

    def _out(self, uc, port, size, value, _):
        self.io.append(("out", port, size, value & ((1 << (8 * size)) - 1)))

    def reg(self, n):
        return self.uc.reg_read(getattr(X, f"UC_X86_REG_{n.upper()}"))

    def set(self, **kw):
        for n, v in kw.items():
            self.uc.reg_write(getattr(X, f"UC_X86_REG_{n.upper()}"), v & 0xFFFFFFFF)

    def u32(self, a):
        return struct.unpack("<I", self.uc.mem_read(a, 4))[0]

    def put(self, a, v):
        self.uc.mem_write(a, struct.pack("<I", v & 0xFFFFFFFF))

    def call(self, fn: int, regs: dict, eflags: int) -> None:
        self.io = []
        self.uc.mem_write(STACK_TOP - 0x1000, b"\0" * 0x1000)
        self.set(**regs, esp=STACK_TOP - 0x100, eflags=eflags)
        self.put(STACK_TOP - 0x100, SENTINEL)
        self.set(esp=STACK_TOP - 0x100)
        self.run(fn)

    def run(self, start: int) -> None:
        self.uc.emu_start(start, SENTINEL, timeout=2_000_000)

    def state(self) -> dict:
        out = {r: self.reg(r) for r in REGS}
        out["io"] = list(self.io)
        out["esp"] = self.reg("esp")
        out["arith"] = self.reg("eflags") & ARITH
        # the live stack only: below ESP the trampolines keep scratch, as interrupts would
        esp = out["esp"]
        out["stack"] = bytes(self.uc.mem_read(esp, STACK_TOP - esp)) if esp < STACK_TOP else b""
        return out


class Patched(Emu):
    """The rewritten image plus a model of the runtime."""

    def __init__(self, raw: bytes, pending: int):
        super().__init__(raw)
        uc = self.uc
        uc.mem_map(W, abi.IMAGE_OFF)
        self.r1 = emit.read_ring1(self.img)
        self.sites = {s["addr"]: (i, s) for i, s in enumerate(self.r1.sites)}
        self.pending = pending
        self.events = {"hypercall": 0, "trap": 0, "deliver": 0}
        self.host_if_fix = set()
        self.stop: tuple | None = None
        import capstone
        cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        for a, size, mn, _ in cs.disasm_lite(self.r1.tramp_code, self.r1.tramp_addr):
            if mn == "popfd":
                self.host_if_fix.add(a + size)             # host IF back to 1 (ring 3)
        # code hooks only where they are needed: a hook on every instruction makes unicorn
        # 2.1 re-execute stores into the vCPU page with the wrong lazy flags
        for a in sorted(self.host_if_fix | {abi.entry(W)}):
            uc.hook_add(uc_mod.UC_HOOK_CODE, self._code, None, a, a)
        uc.hook_add(uc_mod.UC_HOOK_INTR, self._intr)

    def v(self, off):
        return self.u32(abi.vcpu(W, off))

    def setv(self, off, val):
        self.put(abi.vcpu(W, off), val)

    def call(self, fn, regs, eflags):
        for f in (abi.VCPU_VIF, abi.VCPU_VFLAGS, abi.VCPU_SAVED_ESP, abi.VCPU_SCRATCH):
            self.setv(f, 0)
        self.setv(abi.VCPU_VIF, eflags & IF)
        self.setv(abi.VCPU_VFLAGS, eflags & (abi.EFLAGS_VIRT & ~IF))
        self.setv(abi.VCPU_PENDING, self.pending)
        for i, sreg in enumerate(abi.SREG_NAMES):          # the guest's selectors
            self.setv(abi.VCPU_SEL + 4 * i, self.reg(sreg))
        super().call(fn, regs, (eflags & ~(abi.EFLAGS_VIRT)) | IF)

    def emulate(self, kind: int, esp: int, site_bytes: bytes = b"") -> int:
        """Emulate cli/sti/pushfd/popfd on the guest; returns the new guest ESP."""
        fl = self.reg("eflags")
        if kind == Kind.CLI:
            self.setv(abi.VCPU_VIF, 0)
        elif kind == Kind.STI:
            self.setv(abi.VCPU_VIF, IF)
        elif kind == Kind.PUSHF:
            esp -= 4
            self.put(esp, (fl & ~abi.EFLAGS_VIRT) | self.v(abi.VCPU_VIF) |
                     self.v(abi.VCPU_VFLAGS))
        elif kind == Kind.POPF:
            val = self.u32(esp)
            esp += 4
            self.setv(abi.VCPU_VIF, val & IF)
            self.setv(abi.VCPU_VFLAGS, val & (abi.EFLAGS_VIRT & ~IF))
            keep = ~(POPF_BITS & ~abi.EFLAGS_VIRT) & 0xFFFFFFFF
            self.set(eflags=(fl & keep) | (val & POPF_BITS & ~abi.EFLAGS_VIRT) | IF)
        elif kind in (Kind.IN, Kind.OUT):
            code = bytes(site_bytes)
            opsize = 2 if code[0] == 0x66 else 4
            op = code[1] if code[0] == 0x66 else code[0]
            port = code[-1] if op in (0xE4, 0xE5, 0xE6, 0xE7) else self.reg("edx") & 0xFFFF
            size = 1 if op in (0xE4, 0xE6, 0xEC, 0xEE) else opsize
            eax = self.reg("eax")
            mask = (1 << (8 * size)) - 1
            if kind == Kind.IN:
                self.io.append(("in", port, size))
                self.set(eax=(eax & ~mask) | self.port_value(port, size))
            else:
                self.io.append(("out", port, size, eax & mask))
        elif kind == Kind.MOV_FROM_SREG:                  # 8c /r, register form only here
            code = site_bytes
            wide = code[0] != 0x66
            modrm = code[-1]
            sel = self.v(abi.VCPU_SEL + 4 * ((modrm >> 3) & 7))
            reg = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")[modrm & 7]
            old = self.reg(reg)
            self.set(**{reg: sel if wide else (old & 0xFFFF0000) | (sel & 0xFFFF)})
        elif kind == Kind.PUSH_SREG:
            sreg = {b"\x06": 0, b"\x0e": 1, b"\x16": 2, b"\x1e": 3, b"\x0f\xa0": 4,
                    b"\x0f\xa8": 5}[bytes(site_bytes)]
            esp -= 4
            self.put(esp, self.v(abi.VCPU_SEL + 4 * sreg))
        else:
            raise AssertionError(f"unexpected site kind {kind}")
        return esp

    def run(self, start: int) -> None:
        """Run to the sentinel; the hooks only stop emulation, and the runtime model acts
        between two emu_start calls, as the runtime does between two guest entries."""
        for _ in range(2000):
            self.stop = None
            self.uc.emu_start(start, SENTINEL, timeout=2_000_000)
            if self.stop is None:
                return
            what, at = self.stop
            start = self.hypercall() if what == "hypercall" else self.trap(at)
        raise AssertionError("too many runtime entries")

    def _code(self, uc, addr, size, _):
        if addr in self.host_if_fix:
            self.set(eflags=self.reg("eflags") | IF)
        if addr == abi.entry(W):
            self.stop = ("hypercall", addr)
            uc.emu_stop()

    def _intr(self, uc, intno, _):
        assert intno == 3, f"interrupt {intno}"
        self.stop = ("trap", self.reg("eip") - 1)
        uc.emu_stop()

    def hypercall(self) -> int:
        self.events["hypercall"] += 1
        esp = self.reg("esp")
        resume, index = self.u32(esp), self.u32(esp + 4)
        site = self.r1.sites[index]
        # its own region's hypercall, or a tail's copy of it (the t2o map names the original
        # instruction after the site at the copy's resume)
        assert site["resume"] == resume or site["tactic"] == Tactic.INLINE or \
            (site["addr"] + site["len"], resume) in self.r1.t2o, \
            f"hypercall resume {resume:#x} vs site table {site}"
        guest_esp = self.v(abi.VCPU_SAVED_ESP)
        if site["tactic"] == Tactic.INLINE:
            assert self.v(abi.VCPU_VIF) == IF and self.v(abi.VCPU_PENDING), \
                "slow path taken without IF=1 and a pending interrupt"
            self.events["deliver"] += 1
            self.setv(abi.VCPU_PENDING, 0)
        else:
            guest_esp = self.emulate(site["kind"], guest_esp, site["bytes"][:site["len"]])
        self.set(esp=guest_esp)
        return resume

    def trap(self, at: int) -> int:
        assert at in self.sites, f"int3 at {at:#x} is not a site"
        index, site = self.sites[at]
        assert site["tactic"] == Tactic.TRAP
        self.events["trap"] += 1
        esp = self.emulate(site["kind"], self.reg("esp"), site["bytes"][:site["len"]])
        self.set(esp=esp)
        return at + site["len"]


@pytest.mark.parametrize("tactics", [
    (Tactic.INLINE, Tactic.TRAMPOLINE, Tactic.TRAP), (Tactic.TRAMPOLINE, Tactic.TRAP),
    (Tactic.TRAP,)], ids=["all", "trampoline", "trap"])
@pytest.mark.parametrize("seed", range(10))
def test_patched_code_behaves_like_the_original(seed, tactics, tmp_path):
    raw, L, names = build_kernel(seed)
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W, tactics=tactics)
    kinds = {s.kind for s in rw.plan.sites}
    assert kinds <= {Kind.CLI, Kind.STI, Kind.PUSHF, Kind.POPF, Kind.HLT, Kind.IN, Kind.OUT,
                     Kind.MOV_FROM_SREG, Kind.PUSH_SREG}
    orig = Emu(raw)
    for pending in (0, 1):
        pat = Patched(rw.patched.data, pending)
        rng = random.Random(seed * 100 + pending)
        for f in names:
            regs = {r: rng.getrandbits(32) for r in REGS}
            eflags = (rng.getrandbits(32) & (ARITH & ~0x400)) | IF | 0x2
            orig.call(L[f], regs, eflags)
            want = orig.state()
            want_if = orig.reg("eflags") & IF
            pat.call(L[f], regs, eflags)
            got = pat.state()
            where = f"seed {seed}, {f} at {L[f]:#x}, tactics {tactics}, pending {pending}"
            for k in want:
                if k == "stack":
                    if want[k] != got[k]:
                        diff = [hex(want["esp"] + i) for i in range(0, len(want[k]), 4)
                                if want[k][i:i + 4] != got[k][i:i + 4]]
                        pytest.fail(f"{where}: stack differs at {diff[:8]}")
                else:
                    assert want[k] == got[k], f"{where}: {k} {want[k]:#x} != {got[k]:#x}"
            assert pat.v(abi.VCPU_VIF) == want_if, f"{where}: virtual IF"
            assert pat.reg("eflags") & IF, f"{where}: host IF cleared"
        if tactics == (Tactic.TRAP,):
            assert pat.events["hypercall"] == 0 and pat.events["trap"] > 0
        elif Tactic.INLINE in tactics and pending:
            assert pat.events["deliver"] > 0


def test_the_seeds_move_branch_targets_with_their_branches(tmp_path):
    """Regions that hold a branch target after their first instruction (every branch to it
    inside, or moved into another region: trampoline.py re-aims them at its piece), and
    site-less regions that move such a branch (plan._Reaim), are among those the test above
    runs."""
    internal = siteless = 0
    for seed in range(10):
        raw, _, _ = build_kernel(seed)
        src = tmp_path / f"k{seed}.elf"
        src.write_bytes(raw)
        rw = pipeline.rewrite(str(src), window=W)
        d = rw.analysis.d
        internal += sum(any(a in d.targets for a, _ in r.insns[1:]) for r in rw.plan.regions)
        siteless += sum(not r.sites for r in rw.plan.regions)
    assert internal >= 5 and siteless >= 5


# --- the segment-load fast path (abi.h, R1_VCPU_SEGFAST) --------------------------------------
# `mov sreg, r16` and `pop sreg` for ES/DS/FS/GS: with SEGFAST set and the selector's cache entry
# matching the descriptor in the guest's table, the trampoline loads it alone (the selector into
# the vCPU page, every register and flag as the instruction leaves them); otherwise the
# hypercall, which the model below emulates as the runtime would.
GDT = 0x200000            # the .data segment: a guest descriptor table
FLAT = 0x00CF93000000FFFF  # base 0, 4 GiB, data RW, accessed
SREG_FORMS = [("mov ds, ax", "ds", 0), ("mov es, bx", "es", 0), ("mov fs, cx", "fs", 0),
              ("mov gs, dx", "gs", 0), ("mov ds, si", "ds", 0), ("mov es, di", "es", 0),
              ("mov fs, bp", "fs", 0), ("pop ds", "ds", 4), ("pop es", "es", 4),
              ("pop fs", "fs", 4), ("pop gs", "gs", 4), ("popw ds", "ds", 2)]
# (keystone assembles `pop ds` and `pop es` with an operand-size prefix: raw bytes for the pops)
_POP_BYTES = {"pop ds": "1f", "pop es": "07", "pop fs": "0fa1", "pop gs": "0fa9",
              "popw ds": "661f"}
_SREG_SRC = {"ax": "eax", "bx": "ebx", "cx": "ecx", "dx": "edx", "si": "esi", "di": "edi",
             "bp": "ebp"}


class SregPatched(Patched):
    def emulate(self, kind, esp, site_bytes=b""):
        code = bytes(site_bytes)
        if kind == Kind.MOV_TO_SREG:
            m = code[-1]
            reg = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")[m & 7]
            self.setv(abi.VCPU_SEL + 4 * ((m >> 3) & 7), self.reg(reg) & 0xFFFF)
            return esp
        if kind == Kind.POP_SREG:
            wide = code[0] != 0x66
            op = code[-1] if code[-2:-1] != b"\x0f" else 0x100 | code[-1]
            sreg = {0x07: 0, 0x17: 2, 0x1F: 3, 0x1A1: 4, 0x1A9: 5}[op]
            self.setv(abi.VCPU_SEL + 4 * sreg, self.u32(esp) & 0xFFFF)
            return esp + (4 if wide else 2)
        return super().emulate(kind, esp, site_bytes)


def _sreg_kernel(form: str):
    p = Prog(TEXT)
    p.label("entry")
    if form in _POP_BYTES:
        p.raw(_POP_BYTES[form])
    else:
        p.asm(form)
    p.asm("nop", "nop", "nop", "nop", "nop", "ret")
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"),
                      Seg(GDT, b"\0" * 0x100, "rw", name=".data")], labels["entry"])
    return raw, labels["entry"]


@pytest.mark.parametrize("form,sreg,pop", SREG_FORMS, ids=[f[0] for f in SREG_FORMS])
@pytest.mark.parametrize("case", ["hit", "null", "off", "other-selector", "table-changed"])
def test_segment_load_fast_path(form, sreg, pop, case, tmp_path):
    raw, entry = _sreg_kernel(form)
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    [site] = rw.plan.sites
    assert site.tactic == Tactic.TRAMPOLINE
    pat = SregPatched(rw.patched.data, 0)
    n = abi.SREG_NAMES.index(sreg)
    sel = 0 if case == "null" else 0x10 | 3 * (case == "other-selector")
    cached = sel if case != "other-selector" else 0x10
    lin = GDT + (cached & ~7)
    pat.put(lin, FLAT & 0xFFFFFFFF)
    pat.put(lin + 4, FLAT >> 32)
    if case == "table-changed":
        pat.put(lin + 4, (FLAT >> 32) & ~0x100)          # the accessed bit cleared since
    e = abi.vcpu(W, abi.VCPU_SEGC) + abi.SEGC.size * ((cached >> 3) % abi.SEGC_N)
    pat.uc.mem_write(e, abi.SEGC.pack(cached | abi.SEGC_VALID, lin if cached else 0,
                                      FLAT & 0xFFFFFFFF, FLAT >> 32))
    rng = random.Random(hash((form, case)) & 0xFFFF)
    for trial in range(4):
        regs = {r: rng.getrandbits(32) for r in REGS}
        if not pop:
            src_reg = _SREG_SRC[form.split(", ")[1]]
            regs[src_reg] = (regs[src_reg] & 0xFFFF0000) | sel
        eflags = (rng.getrandbits(32) & (ARITH & ~0x400)) | IF | 0x2
        pat.setv(abi.VCPU_SEGFAST + 4 * n, case != "off")
        pat.events["hypercall"] = 0
        if not pop:
            pat.call(entry, regs, eflags)
        else:
            # the popped selector, then the return address: the stack the pop finds
            pat.call(SENTINEL, regs, eflags)              # (only sets the machine up)
            esp = STACK_TOP - 0x100
            pat.put(esp, SENTINEL)
            pat.put(esp - 4, 0xBEEF0000 | sel)
            if pop == 2:
                pat.uc.mem_write(esp - 2, struct.pack("<H", sel))
            pat.set(esp=esp - pop)
            pat.run(entry)
        got = pat.state()
        where = f"{form}, {case}, trial {trial}"
        for r in REGS:
            assert got[r] == regs[r], f"{where}: {r} {got[r]:#x} != {regs[r]:#x}"
        assert got["arith"] == eflags & ARITH, f"{where}: flags"
        assert got["esp"] == STACK_TOP - 0x100 + 4, f"{where}: esp"
        assert pat.v(abi.VCPU_SEL + 4 * n) == sel, f"{where}: selector"
        fast = case in ("hit", "null")
        assert pat.events["hypercall"] == (0 if fast else 1), f"{where}: hypercalls"


def test_control_register_reads_come_from_the_vcpu_page(tmp_path):
    """`mov r32, crN` is translated inline: it reads the value the runtime wrote into the vCPU
    page before the entry (abi.h, R1_VCPU_CR), for every register it can name."""
    p = Prog(TEXT)
    p.label("entry").asm("mov eax, cr0", "mov ebx, cr2", "mov ecx, cr3", "mov edx, cr4",
                         "mov esi, cr2", "mov edi, cr0", "mov ebp, cr3", "nop", "nop", "ret")
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text")], labels["entry"])
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    assert {(s.kind, s.tactic) for s in rw.plan.sites} == {(Kind.MOV_FROM_CR, Tactic.INLINE)}
    pat = Patched(rw.patched.data, 0)
    crs = {0: 0x80050033, 2: 0xC0DE1234, 3: 0x00123000, 4: 0x000006F0}
    for n, val in crs.items():
        pat.setv(abi.VCPU_CR + 4 * n, val)
    pat.call(labels["entry"], {r: 0 for r in REGS}, IF | 0x2)
    got = pat.state()
    assert (got["eax"], got["ebx"], got["ecx"], got["edx"], got["esi"], got["edi"],
            got["ebp"]) == (crs[0], crs[2], crs[3], crs[4], crs[2], crs[0], crs[3])
    assert pat.events["hypercall"] == 0


# --- profile-made MMIO sites (abi.h, R1_KIND_MMIO) ----------------------------------------------
# A data access a profile saw reach a device moves into a trampoline whose hypercall the runtime
# serves with one emulated access -- on the device (a page unicorn leaves unmapped here, so a
# native access would stop the test) or on RAM, when the same instruction sees RAM this time.
DEV = 0xFEE00000


class MmioPatched(Patched):
    def __init__(self, raw, device: dict):
        super().__init__(raw, 0)
        self.device = device                       # offset -> value; writes recorded too
        self.writes: list[tuple[int, int]] = []
        import capstone
        self.cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self.cs.detail = True

    def emulate(self, kind, esp, site_bytes=b""):
        if kind != Kind.MMIO:
            return super().emulate(kind, esp, site_bytes)
        from capstone import x86_const as C
        insn = next(self.cs.disasm(bytes(site_bytes), 0))
        dst, src = insn.operands
        mem = dst if dst.type == C.X86_OP_MEM else src
        addr = (self.reg(insn.reg_name(mem.mem.base)) if mem.mem.base else 0) + mem.mem.disp
        addr &= 0xFFFFFFFF
        if dst.type == C.X86_OP_MEM:               # a store: register or immediate
            val = src.imm if src.type == C.X86_OP_IMM else self.reg(insn.reg_name(src.reg))
            if DEV <= addr < DEV + 0x1000:
                self.writes.append((addr - DEV, val & 0xFFFFFFFF))
            else:
                self.put(addr, val)
        else:                                      # a load into a register
            val = self.device[addr - DEV] if DEV <= addr < DEV + 0x1000 else self.u32(addr)
            self.set(**{insn.reg_name(dst.reg): val})
        return esp


def _mmio_kernel():
    p = Prog(TEXT)
    p.label("entry").asm("mov eax, dword ptr [ebx + 0x20]",      # read the ID register
                         "add eax, 7",
                         "mov dword ptr [ebx + 0xb0], ecx",      # write EOI
                         "mov edx, dword ptr [ebx + 0x30]",
                         "nop", "nop", "nop", "nop", "nop", "ret")
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"),
                      Seg(0x200000, b"\0" * 0x100, "rw", name=".data")], labels["entry"])
    e = labels["entry"]
    return raw, e, [e, e + 3 + 3, e + 3 + 3 + 6]


@pytest.mark.parametrize("where", ["device", "ram"])
def test_mmio_sites_make_one_hypercall_per_access(where, tmp_path):
    raw, entry, sites = _mmio_kernel()
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W, mmio=sites)
    assert {s.addr for s in rw.plan.sites if s.kind == Kind.MMIO and
            s.tactic == Tactic.TRAMPOLINE} == set(sites)
    pat = MmioPatched(rw.patched.data, {0x20: 0x05000000, 0x30: 0x00050014})
    base = DEV if where == "device" else 0x200000
    regs = {"eax": 1, "ebx": base, "ecx": 0xC0FFEE, "edx": 2, "esi": 3, "edi": 4, "ebp": 5}
    if where == "ram":
        orig = Emu(raw)                             # RAM: the original runs natively too
        orig.put(0x200020, 0x11111111)
        orig.put(0x200030, 0x22222222)
        orig.call(entry, regs, IF | 0x2)
        want = orig.state()
        pat.put(0x200020, 0x11111111)
        pat.put(0x200030, 0x22222222)
    pat.call(entry, regs, IF | 0x2)
    got = pat.state()
    assert pat.events["hypercall"] == 3
    if where == "device":
        assert (got["eax"], got["edx"]) == (0x05000007, 0x00050014)
        assert pat.writes == [(0xB0, 0xC0FFEE)]
    else:
        for k in REGS:
            assert got[k] == want[k], k
        assert pat.u32(0x2000B0) == 0xC0FFEE and not pat.writes


@pytest.mark.parametrize("case", ["hit", "other-address", "ds-not-flat", "empty"])
def test_mmio_site_reads_a_stable_register_from_the_cache(case, tmp_path):
    """`mov r32, [mem]` at an MMIO site answers from the vCPU page's read cache (abi.h,
    R1_VCPU_MMIOC) when the runtime holds the register's value there and DS is flat at CPL 0
    (SEGFAST[DS]): no hypercall, every other register and the flags as they were. Otherwise the
    hypercall, as before."""
    raw, entry, sites = _mmio_kernel()
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W, mmio=sites)
    pat = MmioPatched(rw.patched.data, {0x20: 0x05000000, 0x30: 0x00050014})
    pat.setv(abi.VCPU_SEGFAST + 4 * abi.SREG_DS, 0 if case == "ds-not-flat" else 1)
    if case != "empty":
        for off, val in ((0x20, 0x07000000), (0x30, 0x00060015)):
            lin = DEV + off + (0x1000 if case == "other-address" else 0)
            e = abi.vcpu(W, abi.VCPU_MMIOC) + abi.MMIOC.size * ((lin >> 4) % abi.MMIOC_N)
            pat.uc.mem_write(e, abi.MMIOC.pack(lin | 1, val))
    regs = {"eax": 1, "ebx": DEV, "ecx": 0xC0FFEE, "edx": 2, "esi": 3, "edi": 4, "ebp": 5}
    eflags = 0x8D5 & ~0x400 | IF | 0x2            # every arithmetic flag set
    pat.call(entry, regs, eflags)
    got = pat.state()
    assert pat.writes == [(0xB0, 0xC0FFEE)]          # the store always goes to the device
    if case == "hit":
        assert (got["eax"], got["edx"]) == (0x07000007, 0x00060015)   # the cached values
        assert pat.events["hypercall"] == 1                            # the store's only
    else:
        assert (got["eax"], got["edx"]) == (0x05000007, 0x00050014)
        assert pat.events["hypercall"] == 3
    assert (got["ebx"], got["ecx"], got["esi"], got["edi"], got["ebp"]) == (DEV, 0xC0FFEE, 3, 4, 5)


def test_mmio_site_moffs_form_reads_from_the_cache(tmp_path):
    """`mov eax, [moffs32]` (A1: a kernel reading a fixed device address) takes the same cache."""
    p = Prog(TEXT)
    p.label("entry").raw("a120" + "00e0fe").asm("add eax, 1", "nop", "nop", "nop", "ret")
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text")], labels["entry"])
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W, mmio=[labels["entry"]])
    for cached in (False, True):
        pat = MmioPatched(rw.patched.data, {0x20: 0x05000000})
        pat.setv(abi.VCPU_SEGFAST + 4 * abi.SREG_DS, 1)
        if cached:
            lin = DEV + 0x20
            e = abi.vcpu(W, abi.VCPU_MMIOC) + abi.MMIOC.size * ((lin >> 4) % abi.MMIOC_N)
            pat.uc.mem_write(e, abi.MMIOC.pack(lin | 1, 0x09000000))
        pat.call(labels["entry"], {r: 0x1234 for r in REGS}, IF | 0x2)
        got = pat.state()
        assert got["eax"] == (0x09000001 if cached else 0x05000001)
        assert pat.events["hypercall"] == (0 if cached else 1)
        assert all(got[r] == 0x1234 for r in REGS if r != "eax")


# Port I/O answered in the trampoline (abi.h, R1_VCPU_PORTC): `in` from the vCPU page's port
# cache, `out` to a port whose writes have no effect dropped, when PORTFAST is set and the
# port's entry has the access's key and hits left.
PORT_FORMS = [("in al, 0x21", 0x21, 1, False), ("in ax, 0x60", 0x60, 2, False),
              ("in eax, 0xf8", 0xF8, 4, False), ("in al, dx", 0x3FD, 1, False),
              ("in ax, dx", 0x1F0, 2, False), ("in eax, dx", 0xCF8, 4, False),
              ("out 0x80, al", 0x80, 1, True), ("out 0xe0, eax", 0xE0, 4, True),
              ("out dx, al", 0x80, 1, True), ("out dx, ax", 0x3D4, 2, True),
              ("out dx, eax", 0xCF8, 4, True)]


@pytest.mark.parametrize("form,port,size,out", PORT_FORMS, ids=[f[0] for f in PORT_FORMS])
@pytest.mark.parametrize("case", ["hit", "off", "empty", "no-hits", "other-size",
                                  "other-port", "in-for-out"])
def test_port_io_fast_path(form, port, size, out, case, tmp_path):
    p = Prog(TEXT)
    p.label("entry").asm(form, "nop", "nop", "nop", "nop", "nop", "ret")
    text, labels = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text")], labels["entry"])
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    [site] = rw.plan.sites
    assert site.tactic == Tactic.TRAMPOLINE and site.kind == (Kind.OUT if out else Kind.IN)
    pat = Patched(rw.patched.data, 0)
    cached = 0xA5C3E1F7
    key_port = port ^ 0x11 if case == "other-port" else port    # same slot, another port
    assert abi.portc_slot(key_port) == abi.portc_slot(port)
    key_size = {1: 2, 2: 4, 4: 1}[size] if case == "other-size" else size
    key_out = (not out) if case == "in-for-out" else out
    e = abi.vcpu(W, abi.VCPU_PORTC) + abi.PORTC.size * abi.portc_slot(port)
    rng = random.Random(hash((form, case)) & 0xFFFF)
    for trial in range(4):
        hits = 0 if case == "no-hits" else rng.choice((1, 2, 256, 0xFFFFFFFF))
        key = 0 if case == "empty" else abi.portc_key(key_port, key_size, key_out)
        pat.uc.mem_write(e, abi.PORTC.pack(key, cached, hits, 0))
        pat.setv(abi.VCPU_PORTFAST, 0 if case == "off" else 1)
        regs = {r: rng.getrandbits(32) for r in REGS}
        if "dx" in form:
            regs["edx"] = (regs["edx"] & 0xFFFF0000) | port
        eflags = (rng.getrandbits(32) & (ARITH & ~0x400)) | IF | 0x2
        pat.events["hypercall"] = 0
        pat.call(labels["entry"], regs, eflags)
        got = pat.state()
        where = f"{form}, {case}, trial {trial}"
        hit = case == "hit"
        mask = (1 << (8 * size)) - 1
        want = dict(regs)
        if not out:
            val = cached if hit else Emu.port_value(port, size)
            want["eax"] = (regs["eax"] & ~mask) | (val & mask)
        for r in REGS:
            assert got[r] == want[r], f"{where}: {r} {got[r]:#x} != {want[r]:#x}"
        assert got["arith"] == eflags & ARITH, f"{where}: flags"
        assert got["esp"] == STACK_TOP - 0x100 + 4, f"{where}: esp"
        assert pat.events["hypercall"] == (0 if hit else 1), f"{where}: hypercalls"
        assert got["io"] == ([] if hit else
                             [("out", port, size, regs["eax"] & mask) if out
                              else ("in", port, size)]), where
        left = abi.PORTC.unpack(bytes(pat.uc.mem_read(e, abi.PORTC.size)))[2]
        assert left == (hits - 1 if hit else hits), f"{where}: hits left"


# --- __ex_table fixups inside regions, and tails ------------------------------------------------
# An __ex_table fixup is reached only by the kernel's exception handler returning with iret to
# it, which the runtime emulates and sends through the o2t map: a region may hold one at any of
# its instruction starts, and "the iret" is modelled here as starting at its piece. A region that
# falls through carries a tail: copies of the straight-line instructions after it (sites
# translated as in a region of their own), so that a path through the region runs on without
# coming back to the original code (or trapping there).
DATA = 0x200000


def _ex_table_seg(entries: list[tuple[int, int]]) -> Seg:
    """__ex_table: {s32 insn, s32 fixup, s32 data}, each relative to its own field."""
    base = 0x210000
    out = b""
    for i, (insn, fixup) in enumerate(entries):
        e = base + 12 * i
        out += struct.pack("<iii", insn - e, fixup - (e + 4), 0)
    return Seg(base, out, "r", name="__ex_table")


def _fixup_kernel(pointer: bool):
    """f: cli; fx: add eax, 2; mov ebx, eax; ret -- with fx an __ex_table fixup (the faulting
    instruction named by the entry is `mov [esi], ecx` in g), and with `pointer` also a value
    in .data that points at it."""
    p = Prog(TEXT)
    p.label("entry").asm("call {f}", "call {g}", "hlt", "jmp {entry}")
    p.label("g").asm("mov ecx, 1").label("g_fault").asm("mov dword ptr [esi], ecx", "ret")
    p.label("f").asm("cli").label("fx").asm("add eax, 2", "mov ebx, eax", "ret")
    text, L = p.build()
    data = struct.pack("<I", L["fx"] if pointer else 0)
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"), Seg(DATA, data, "rw", name=".data"),
                      _ex_table_seg([(L["g_fault"], L["fx"])])], L["entry"])
    return raw, L


def test_a_region_holds_an_ex_table_fixup_and_an_iret_to_it_runs_its_piece(tmp_path):
    raw, L = _fixup_kernel(pointer=False)
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    assert L["fx"] in rw.analysis.d.fixup_only
    site = next(s for s in rw.plan.sites if s.addr == L["f"])
    assert site.tactic == Tactic.INLINE and site.region == L["f"]
    r = next(r for r in rw.plan.regions if r.start == L["f"])
    assert [a for a, _ in r.insns][:2] == [L["f"], L["fx"]]
    o2t = dict(emit.read_ring1(image.load("k", rw.patched.data)).o2t)
    assert L["fx"] in o2t                      # the runtime's emulated iret lands on its piece
    # the exception handler's iret to fx, as the runtime performs it: at fx's piece
    orig, pat = Emu(raw), Patched(rw.patched.data, 0)
    regs = {r_: 0x1000 * i + 7 for i, r_ in enumerate(REGS)}
    orig.call(L["fx"], regs, IF | 0x2)
    pat.call(o2t[L["fx"]], regs, IF | 0x2)
    want, got = orig.state(), pat.state()
    for k in REGS + ("esp", "arith"):
        assert want[k] == got[k], k
    assert pat.events == {"hypercall": 0, "trap": 0, "deliver": 0}
    out = tmp_path / "k.r1.elf"
    out.write_bytes(rw.patched.data)
    from rewriter import verify as verify_mod
    v = verify_mod.verify(str(out))
    assert v.ok, v.problems


def test_a_fixup_with_another_reason_to_be_a_target_stays_out_of_regions(tmp_path):
    """Pointed at from data too (it may be called or jumped to): as strict as any target."""
    raw, L = _fixup_kernel(pointer=True)
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    assert L["fx"] not in rw.analysis.d.fixup_only
    site = next(s for s in rw.plan.sites if s.addr == L["f"])
    assert site.tactic == Tactic.TRAP
    assert not any(r.start <= L["fx"] < r.end for r in rw.plan.regions)


def _tail_kernel():
    """g's region (cli; mov ebx) falls through into jne, a cli at gs (reached from h too, and
    followed by gn, reached from h and named by a pointer in .data, so no region may hold it
    after its first byte: no region of its own, a trap site), mov ecx and ret: all of
    them become g's tail. k's region (cli; mov ebx) falls into three nops and then ks, which
    begins another region: the tail stops there. m's region falls into a `lock inc` whose lock
    prefix the kernel toggles at boot (.smp_locks): no tail. q's region ends in a popf (which
    may set TF: the guest's single step after the next instruction must stay visible): no
    tail."""
    p = Prog(TEXT)
    p.label("entry").asm("call {g}", "call {h}", "call {k}", "call {m}", "hlt", "jmp {entry}")
    p.label("h").asm("test eax, eax", "jne {gn}", "jmp {gs}")
    p.align(128, 0xCC)                          # h's branches are far from their targets
    p.label("g").asm("cli", "mov ebx, 0x11111111", "jne {g_out}")
    p.label("gs").asm("cli")
    p.label("gn").asm("mov ecx, 0x22222222", "ret")
    p.label("g_out").asm("mov edx, 0x33333333", "ret")
    p.align(16, 0xCC)
    p.label("k").asm("cli", "mov ebx, 0x44444444", "nop", "nop", "nop")
    p.label("ks").asm("cli", "mov ecx, 0x55555555", "ret")
    p.align(16, 0xCC)
    p.label("m").asm("cli", "mov ebx, 0x66666666")
    p.label("m_lock").asm(f"lock inc dword ptr [{DATA:#x}]", "ret")
    p.label("jk").asm("jmp {ks}")               # ks is a target from outside: a region start
    p.align(16, 0xCC)
    p.label("q").asm("pushfd", "cli", "mov ebx, 0x77777777", "popfd", "nop", "ret")
    text, L = p.build()
    locks = struct.pack("<i", L["m_lock"] - 0x220000)
    data = b"\0" * 4 + struct.pack("<I", L["gn"]) + b"\0" * 8
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"), Seg(DATA, data, "rw", name=".data"),
                      Seg(0x220000, locks, "r", name=".smp_locks")], L["entry"])
    return raw, L


def _rewrite_tails(tmp_path):
    raw, L = _tail_kernel()
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), window=W)
    return raw, L, rw


def test_a_tail_carries_a_jcc_and_a_site_that_traps_on_its_own(tmp_path):
    raw, L, rw = _rewrite_tails(tmp_path)
    regions = {r.start: r for r in rw.plan.regions}
    sites = {s.addr: s for s in rw.plan.sites}
    r = regions[L["g"]]
    assert [a for a, _ in r.tail] == [L["g"] + 6, L["gs"], L["gn"], L["gn"] + 5]
    assert sites[L["gs"]].tactic == Tactic.TRAP and sites[L["gs"]].region is None
    r1 = emit.read_ring1(image.load("k", rw.patched.data))
    o2t, t2o = dict(r1.o2t), set(r1.t2o)
    for a, _ in r.tail:                        # copies: t2o only; o2t keeps the originals
        assert a not in o2t
        assert sum(1 for o, _ in t2o if o == a) == 1
    orig = Emu(raw)
    for zf in (0, 0x40):                       # jne taken (the original g_out) / not (the tail)
        pat = Patched(rw.patched.data, 0)
        regs = {r_: 0x1000 * i + 7 for i, r_ in enumerate(REGS)}
        orig.call(L["g"], regs, IF | 0x2 | zf)
        pat.call(L["g"], regs, IF | 0x2 | zf)
        want, got = orig.state(), pat.state()
        for k in REGS + ("esp", "arith", "stack"):
            assert want[k] == got[k], (zf, k)
        assert pat.v(abi.VCPU_VIF) == 0
        assert pat.events["trap"] == 0, "the copy of the cli at gs is translated inline"
    # reached from h, the cli at gs is the original: its int3
    pat = Patched(rw.patched.data, 0)
    pat.call(L["h"], {"eax": 0}, IF | 0x2)
    assert pat.events["trap"] == 1 and pat.reg("ecx") == 0x22222222 and pat.v(abi.VCPU_VIF) == 0


def test_a_tail_stops_before_another_region_and_before_bytes_the_kernel_rewrites(tmp_path):
    raw, L, rw = _rewrite_tails(tmp_path)
    regions = {r.start: r for r in rw.plan.regions}
    k, m = regions[L["k"]], regions[L["m"]]
    assert L["ks"] in regions                   # its own region: the tail ends at its jmp
    assert [a for a, _ in k.tail] == [L["ks"] - 3, L["ks"] - 2, L["ks"] - 1] and k.back == L["ks"]
    assert m.tail == [] and m.back == m.end == L["m_lock"]
    q = regions[L["q"]]
    assert any(s.kind == Kind.POPF for s in rw.plan.sites if s.addr in q.sites) and q.tail == []
    layout_code = emit.read_ring1(image.load("k", rw.patched.data))
    import capstone
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    jumps = {int(op, 16) for _, _, mn, op in cs.disasm_lite(layout_code.tramp_code,
                                                           layout_code.tramp_addr)
             if mn == "jmp" and op.startswith("0x")}
    assert L["ks"] in jumps and L["m_lock"] in jumps
    orig, pat = Emu(raw), Patched(rw.patched.data, 0)
    for fn in ("k", "m"):
        regs = {r_: 0x1000 * i + 7 for i, r_ in enumerate(REGS)}
        orig.call(L[fn], regs, IF | 0x2)
        pat.call(L[fn], regs, IF | 0x2)
        want, got = orig.state(), pat.state()
        for key in REGS + ("esp", "arith"):
            assert want[key] == got[key], (fn, key)
        assert pat.events["trap"] == 0


def test_verify_checks_tails(tmp_path):
    from rewriter import verify as verify_mod
    raw, L, rw = _rewrite_tails(tmp_path)
    out = tmp_path / "k.r1.elf"
    out.write_bytes(rw.patched.data)
    assert verify_mod.verify(str(out)).ok
    img = image.load(out)
    r1 = emit.read_ring1(img)
    seg_off = next(s.offset for s in img.segments if s.vaddr == r1.addr)
    pieces = set(r1.o2t)
    copy_of_gn = next(t for o, t in r1.t2o if o == L["gn"] and (o, t) not in pieces)
    # the copied `mov ecx, 0x22222222`: its immediate changed
    bad = bytearray(rw.patched.data)
    at = seg_off + copy_of_gn - r1.addr
    assert bad[at] == 0xB9
    bad[at + 1] ^= 0xFF
    out.write_bytes(bad)
    v = verify_mod.verify(str(out))
    assert not v.ok and any("trampoline" in p for p in v.problems), v.problems
    # the t2o entry of a copy moved to another original address
    bad = bytearray(rw.patched.data)
    i = r1.t2o.index((L["gn"], copy_of_gn))
    off = seg_off + r1.header["map_t2o_off"] + i * abi.MAP.size
    o, t = abi.MAP.unpack_from(bad, off)
    abi.MAP.pack_into(bad, off, o + 1, t)
    out.write_bytes(bad)
    v = verify_mod.verify(str(out))
    assert not v.ok and any("t2o" in p for p in v.problems), v.problems
