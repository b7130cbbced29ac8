"""Stage 4 — the patch plan: for every sensitive site, which tactic and which bytes.

Tactics are tried in order for each site, like E9Patch's (docs/design.md §3):
  1. inline      — the site's instruction and enough neighbours of its basic block to free 5
                   bytes (a "region") move to a trampoline that translates it without the runtime;
  2. trampoline  — the same region, but the translation is a hypercall;
  3. trap        — `int3` at the site; the runtime looks it up and emulates it.
A region is only ever made of whole consecutive instructions, none of whose bytes after the first
is a value any data or immediate points to or a branch target reached from outside the region
(a target reached only by jmp/jcc inside it moves with them: trampoline.py re-aims them; an
__ex_table fixup may be any instruction start of it, see _branch_sources_only), with no control
transfer but a conditional branch before its last instruction, and no direct branch whose target
is not an instruction start of proven code (it would keep that target in the trampoline:
_movable); a site just after a region joins it. A second pass, for the sites the first left to
trap, relaxes two of these (_Reaim): a target inside may be reached by jmp/jcc from anywhere
if each of them moves too (into a region already made, or a site-less one made for it), and a
jmp/ret may come before the last instruction. Its first bytes become `jmp rel32`, the rest
`int3`. A region that falls through may carry a "tail": copies of the few straight-line
instructions after it (sites among them translated as in a region of their own), so that its
trampoline jumps back further on; the originals stay as they are for every other path to them
(_tail). Nothing is written here: the plan is data
(to_json), and trampoline.py / emit.py turn it into bytes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .abi import Kind, Tactic
from .cfg import CFG
from .classify import CATALOGUE, control_register, is_register_form, operand_size
from .classify import PREFIXES as _PREFIXES
from .disasm import CALL, ICALL, IJMP, JCC, JMP, NO_FALLTHROUGH, PADDING, RET

JMP_LEN = 5
ALL_TACTICS = (Tactic.INLINE, Tactic.TRAMPOLINE, Tactic.TRAP)
NO_REGION = "no 5-byte region of whole, movable, untargeted instructions"


@dataclass
class Site:
    addr: int
    length: int
    code: bytes
    kind: Kind
    tactic: Tactic = Tactic.TRAP
    region: int | None = None          # start address of the region that moved it
    reason: str = ""                   # why a fallback tactic was taken

    def to_json(self) -> dict:
        d = {"addr": self.addr, "len": self.length, "bytes": self.code.hex(),
             "kind": self.kind.name.lower(), "tactic": self.tactic.name.lower()}
        if self.region is not None:
            d["region"] = self.region
        if self.reason:
            d["reason"] = self.reason
        return d


@dataclass
class Region:
    start: int
    end: int
    insns: list[tuple[int, int]]       # (addr, len) of every instruction moved
                                       # (end may include dead padding after the last one)
    sites: list[int]                   # addresses of the sensitive ones among them
    tail: list[tuple[int, int]] = field(default_factory=list)
                                       # (addr, len) of the instructions after `end` copied
                                       # into the trampoline (left in place too)

    @property
    def back(self) -> int:
        """Where the trampoline jumps back to when its last copied instruction falls through."""
        return self.tail[-1][0] + self.tail[-1][1] if self.tail else self.end

    def to_json(self) -> dict:
        d = {"start": self.start, "end": self.end, "insns": [a for a, _ in self.insns],
             "sites": self.sites}
        if self.tail:
            d["tail"] = [a for a, _ in self.tail]
        return d


@dataclass
class Plan:
    window_base: int
    tactics: tuple[Tactic, ...]
    sites: list[Site] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)   # candidates in bytes not proven code
    copied: list[dict] = field(default_factory=list)    # sites in code the kernel copies

    def to_json(self) -> dict:
        counts: dict[str, int] = {}
        for s in self.sites:
            counts[s.tactic.name.lower()] = counts.get(s.tactic.name.lower(), 0) + 1
        return {"window_base": self.window_base,
                "tactics": [t.name.lower() for t in self.tactics],
                "counts": dict(sorted(counts.items())),
                "sites": [s.to_json() for s in self.sites],
                "regions": [r.to_json() for r in self.regions],
                "unknown": self.unknown, "copied": self.copied}


def inline_supported(kind: Kind, code: bytes) -> bool:
    """Whether trampoline.py has an inline (hypercall-free) translation for this form."""
    if kind in (Kind.CLI, Kind.STI):
        return True
    if kind in (Kind.PUSHF, Kind.POPF):
        return operand_size(code) == 32
    if kind == Kind.MOV_FROM_SREG:
        return is_register_form(code)
    if kind == Kind.PUSH_SREG:
        return True
    if kind == Kind.MOV_FROM_CR:
        return control_register(code) in (0, 2, 3, 4)
    return False


def _movable(d, addr: int, is_last: bool) -> str | None:
    """Why the instruction at addr cannot move into a trampoline, or None if it can."""
    f = d.flow.get(addr)
    if f is None:
        return None
    t, tgt = f
    code = d.insn_bytes(addr)
    i = 0
    while code[i] in _PREFIXES:
        i += 1
    if 0x66 in code[:i] and t in (JMP, JCC, CALL):
        return "16-bit branch (66 prefix) truncates its target"
    op = code[i]
    if t in (JMP, JCC, CALL) and tgt is not None and op not in (0x9A, 0xEA) and \
            not d.is_code_start(tgt):
        # Moved, it keeps its target (rel32 from the trampoline), and verify holds every
        # trampoline branch to an instruction start of the code: a target outside the code
        # ranges, in data, undecodable, or inside another instruction (overlapping decodes)
        # is bytes the analysis did not prove, so the branch stays where it is (its site
        # traps if no other region fits). The far forms are copied as they are.
        return "branch target is not an instruction start of proven code"
    if t == JCC:
        if op in (0xE0, 0xE1, 0xE2, 0xE3, 0x67):
            return "loop/jecxz has no rel32 form"
        return None if tgt is not None else "unresolved branch"
    if not is_last:
        return "control transfer inside a region"
    if t == ICALL:
        return "indirect call would expose a trampoline return address"
    if t in (JMP, CALL) and tgt is None:
        return "unresolved branch"
    return None                        # direct jmp/call (re-encoded), ret, ijmp, stop


def _jumps_away(d, addr: int) -> bool:
    """A jmp, ret or indirect jmp: nothing after it in a region runs but through a branch to
    it, which the region's rules move with it (the second pass may put one before a region's
    last instruction: _straight_line's `far`)."""
    f = d.flow.get(addr)
    return f is not None and f[0] in (JMP, RET, IJMP)


def _is_target(d, addr: int) -> bool:
    return addr in d.targets or addr in d.maybe_targets


# How far from its sources a target may be and still be moved with them (region sizes are a
# few instructions; this bounds the search, not the regions).
_NEAR = 64


def _branch_sources(d) -> dict[int, list[tuple[int, str]]]:
    """The (source, flow kind) of every direct transfer to each target (computed once per
    disassembly)."""
    src = getattr(d, "_branch_sources", None)
    if src is None:
        src = {}
        for a, (t, tgt) in d.flow.items():
            if tgt is not None:
                src.setdefault(tgt, []).append((a, t))
        d._branch_sources = src
    return src


def _branch_sources_only(d, addr: int) -> list[int] | None:
    """The sources of every transfer to addr if it is a target only of direct jmp/jcc
    instructions, at any distance, and of nothing else (no root: entry, symbol, kernel table,
    jump table, validated gap; no pointer-like value; no call's return) -- or only an
    __ex_table fixup (d.fixup_only), with or without such branches: the kernel's exception
    handler reaches it by setting the frame's EIP and returning with iret, which the runtime
    always emulates and sends through the o2t map to the instruction's piece (a fault in a
    piece is reported at its original address). None otherwise. Such a target may move into
    a region if every one of those branches moves too (into the same region or another): a
    moved branch is re-aimed at the target's piece (trampoline.py)."""
    if addr in d.maybe_targets or addr in d.protected:
        return None
    fixup = addr in d.fixup_only
    if addr in d.root_targets and not fixup:
        return None
    srcs = _branch_sources(d).get(addr, [])
    if (not srcs and not fixup) or any(t not in (JMP, JCC) for _, t in srcs):
        return None
    if any(d.flow.get(p, (None,))[0] in (CALL, ICALL)
           for p in range(max(0, addr - 7), addr) if d.is_code_start(p) and
           p + d.insn_len(p) == addr):
        return None
    return [s for s, _ in srcs]


def _only_near_branches(d, addr: int) -> bool:
    """Is addr a target only of direct jmp/jcc instructions close to it (and fixups), as
    _branch_sources_only says? Then a region holding it and all those branches may move it:
    the branches are re-aimed inside the trampoline (`internal` in trampoline.py)."""
    srcs = _branch_sources_only(d, addr)
    return srcs is not None and all(abs(s - addr) <= _NEAR for s in srcs)


def _internal(d, addr: int, start: int, end: int) -> bool:
    """addr (inside [start, end)) is reached only by branches that move with it."""
    return _only_near_branches(d, addr) and \
        all(start <= s < end for s, _ in _branch_sources(d).get(addr, []))


def _falls_through(d, addr: int) -> bool:
    """Execution can continue from this instruction to the next one without a branch target
    being involved: no flow at all, or a conditional branch (not taken)."""
    f = d.flow.get(addr)
    return f is None or f[0] == JCC


def _straight_line(cfg: CFG, d, site: int, limit: int = 6,
                   far: bool = False) -> tuple[list[tuple[int, int]], int]:
    """Instructions around `site` that a region may span, and the site's index among them.

    Backward: while the current first instruction is not a branch target (or only one of near
    jmp/jcc, which may move with it; with `far`, of jmp/jcc at any distance, which
    _Reaim may move) and the instruction before it falls through into it.
    Forward: while the current instruction falls through and the next one is not such a
    target. (Basic blocks are split at every branch, which is stricter
    than needed: only a branch *target* inside a region is unsafe.)"""
    def movable_target(x):
        return _branch_sources_only(d, x) is not None if far else _only_near_branches(d, x)

    before: list[tuple[int, int]] = []
    cur = site
    while len(before) < limit and (not _is_target(d, cur) or movable_target(cur)):
        blk = cfg.block_of(cur - 1)
        if blk is None:
            break
        prev = next((x for x in cfg.instructions(*blk) if x[0] + x[1] == cur), None)
        if prev is None or not _falls_through(d, prev[0]):
            break
        before.append(prev)
        cur = prev[0]
    before.reverse()
    after = [(site, d.insn_len(site))]
    while len(after) < limit:
        a, n = after[-1]
        f = d.flow.get(a)
        if f is not None and f[0] != JCC and not (far and _jumps_away(d, a)):
            break                          # call, jmp, ret...: the region ends here
        nxt = a + n
        if (_is_target(d, nxt) and not movable_target(nxt)) or not d.is_code_start(nxt):
            break
        after.append((nxt, d.insn_len(nxt)))
    return before + after, len(before)


def _dead_after(d, end: int, need: int) -> int:
    """How many of the `need` bytes after an unconditional transfer ending at `end` are padding
    that nothing executes or points to, so a region may overwrite them: bytes the disassembly
    left as padding, which no traversal reached and no branch target or pointer-like value
    names -- int3 / nop / zero fill, or the multi-byte nops between functions such as
    `lea esi, [esi + 0]` (disasm._is_nop) up to the next 16-byte boundary: past it, a nop
    could be the first instruction of a function the analysis never reached (an ftrace-style
    `nopl` at an aligned entry that only a table ring1 does not read leads to), while a fill
    byte is no instruction anyone would run. Part of a multi-byte nop may be overwritten:
    what is left of it is as dead as the rest."""
    loc = d.locate(end)
    if loc is None:
        return 0
    i, off = loc
    st, data = d.state[i], d.image.code[i].data
    bound = (end + 15) & ~15
    n = 0
    while n < need and off + n < len(st) and st[off + n] == PADDING and \
            (data[off + n] in (0xCC, 0x90, 0x00) or end + n < bound) and \
            not _is_target(d, end + n):
        n += 1
    return n


def _try_region(d, claimed, insns: list[tuple[int, int]], i0: int, stop: int,
                reaim: _Reaim | None = None) -> tuple[int, int, int, list[Region]] | None:
    """Smallest [i, j] of insns containing index i0 and covering >= 5 bytes (with dead padding
    after a final unconditional transfer), preferring regions that start at the site, never
    starting before index `stop`. Returns (i, j, dead bytes, the site-less regions its
    re-aimed branches need: _region_ok)."""
    n = len(insns)
    for i in range(i0, stop - 1, -1):
        total = sum(ln for _, ln in insns[i:i0])
        for j in range(i0, n):
            total += insns[j][1]
            dead = 0
            if total < JMP_LEN and j == n - 1:
                f = d.flow.get(insns[j][0])
                if f is not None and f[0] in NO_FALLTHROUGH:
                    dead = _dead_after(d, insns[j][0] + insns[j][1], JMP_LEN - total)
            if total + dead >= JMP_LEN:
                new = _region_ok(d, claimed, insns, i, j, dead, reaim)
                if new is not None:
                    return i, j, dead, new
                break
    return None


def _region_ok(d, claimed, insns, i, j, dead, reaim: _Reaim | None = None) -> list[Region] | None:
    """None if insns[i..j] (and `dead` bytes after) cannot be a region; else the site-less
    regions that must move with it: none, unless `reaim` allows an instruction inside it to be
    a target of branches from outside (_Reaim.cover)."""
    start = insns[i][0]
    end = insns[j][0] + insns[j][1] + dead
    starts = {a for a, _ in insns[i:j + 1]}
    far = []                               # interior targets whose branches must move too
    for a in range(start, end):
        if a in claimed or a in d.protected:
            return None
        if a != start and a in d.maybe_targets:
            return None                    # something points into the middle: keep it intact
        if a != start and (a in d.targets or a in d.fixup_only) and \
                (a not in starts or not _internal(d, a, start, end)):
            if a not in starts or reaim is None:
                return None                # a branch from outside lands here (or an iret
                                           # where no piece begins)
            far.append(a)
    for a, _ in insns[i:j + 1]:
        f = d.flow.get(a)
        if f is not None and f[0] in (JMP, JCC) and f[1] is not None and start <= f[1] < end \
                and f[1] not in starts:
            return None                    # a branch into the middle of a moved instruction
    if not all(_movable(d, insns[k][0], k == j or (reaim is not None and
                                                  _jumps_away(d, insns[k][0]))) is None
               for k in range(i, j + 1)):
        return None
    return reaim.cover(far, start, end, claimed, starts) if far else []


class _Claimed:
    """Membership in any of several sets of bytes (claimed ones, a candidate's, sites')."""

    def __init__(self, *sets):
        self.sets = sets

    def __contains__(self, a: int) -> bool:
        return any(a in s for s in self.sets)


@dataclass
class _Reaim:
    """What lets a region hold a target of branches from outside it (the second planning
    pass, for sites the first left to trap): every such branch moves into a trampoline too --
    it is in a region already (`moved`), or a new site-less region is made around it, of
    whole movable instructions as any region, holding no site; its own interior targets'
    branches move the same way, `depth` levels deep. Each moved branch is re-encoded with
    rel32 to the target's piece (trampoline.py); the site's region then costs the paths
    through those branches one more jmp each, instead of an int3 trap at the site."""
    cfg: CFG
    d: object
    moved: set[int] | _Claimed             # instruction starts already in regions
    site_bytes: set[int]                   # every byte of every site
    depth: int = 3

    def cover(self, targets, start, end, claimed, starts) -> list[Region] | None:
        """Site-less regions for the branches from outside [start, end) (whose instruction
        starts are `starts`) to `targets` inside it, or None if one cannot move."""
        new: list[Region] = []
        taken: set[int] = set(range(start, end))
        moving: set[int] = set(starts)
        for a in targets:
            srcs = _branch_sources_only(self.d, a)
            if srcs is None:
                return None
            for src in srcs:
                if src in moving or src in self.moved:
                    continue
                got = self._around(src, _Claimed(claimed, taken, self.site_bytes), moving)
                if got is None:
                    return None
                for r in got:
                    new.append(r)
                    taken.update(range(r.start, r.end))
                    moving.update(x for x, _ in r.insns)
        return new

    def _around(self, src, claimed, moving) -> list[Region] | None:
        """A site-less region holding the branch at src, and those it needs, or None."""
        d = self.d
        if not d.is_code_start(src) or self.cfg.block_of(src) is None:
            return None
        sub = _Reaim(self.cfg, d, _Claimed(self.moved, moving), self.site_bytes,
                     self.depth - 1) if self.depth > 1 else None
        insns, i0 = _straight_line(self.cfg, d, src, far=sub is not None)
        rng = _try_region(d, claimed, insns, i0, 0, sub)
        if rng is None:
            return None
        i, j, dead, extra = rng
        moved = insns[i:j + 1]
        return [Region(start=moved[0][0], end=moved[-1][0] + moved[-1][1] + dead, insns=moved,
                       sites=[])] + extra


# At most this many instructions are copied after a region (the hot paths this is for are a
# return's last few instructions: a `verw` then `iret`).
TAIL_MAX = 6


def copy_translation(s: Site, tactics) -> str | None:
    """How a copy of site s in a tail is translated: "inline" as in a region of its own, or
    "hypercall" (the runtime emulates the whole instruction), or None (the tail stops before
    it). The runtime tells an inline translation's slow-path hypercall from a whole
    instruction's by the site table's tactic, so sti and popf, whose slow path is "the
    translation is done, deliver the pending interrupt", are inline only when their own site
    is; the other inline forms need no slow path or emulate the whole instruction in it."""
    if Tactic.INLINE in tactics and inline_supported(s.kind, s.code) and \
            (s.kind not in (Kind.STI, Kind.POPF) or s.tactic == Tactic.INLINE):
        return "inline"
    if Tactic.TRAMPOLINE in tactics:
        return "hypercall"
    return None


def _tail(d, r: Region, claimed: set[int], starts: set[int], sites: dict[int, Site],
          tactics, copied: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The instructions after region r that its trampoline runs as copies before jumping back.
    Only after a region that falls through (its last instruction no transfer or a jcc, no dead
    padding); then while each next one is proven code, none of its bytes the kernel rewrites
    at boot (a copy would go stale), copies elsewhere (`copied`, sorted ranges) or another
    region holds, and it can move as the last instruction of a region could, but no call (an
    indirect one cannot move; a direct one gains nothing: the return is to the original code
    anyway). A jcc is re-encoded to its original target and the tail goes on; it ends after a
    jmp, ret or iret, and before an int3 or ud2 (their handlers may go on after them: a
    copy's int3 would report an EIP in the trampoline, where nothing follows it). The jump
    back must land on an instruction start that still holds its instruction or a region's
    jmp (a trap site's int3 is one too).

    No popf, in the region or its tail: a popf may set TF, and the runtime counts the
    guest's single steps through a trampoline as one (its host steps inside the window are no
    guest instruction boundaries), so the instructions after a popf stay where the step after
    them is seen (the #DB after the instruction that follows the popf)."""
    last, n = r.insns[-1]
    if r.end != last + n or not _falls_through(d, last) or \
            any(sites[a].kind == Kind.POPF for a in r.sites):
        return []
    tail: list[tuple[int, int]] = []
    a = r.end
    while len(tail) < TAIL_MAX and d.is_code_start(a):
        ln = d.insn_len(a)
        if any(b in claimed or b in d.protected for b in range(a, a + ln)):
            break
        k = bisect.bisect_right(copied, (a, 1 << 32)) - 1
        if k >= 0 and copied[k][0] <= a < copied[k][1]:
            break                              # code the kernel copies elsewhere at boot
        f = d.flow.get(a)
        if f is not None and f[0] not in (JMP, JCC, IJMP, RET):
            break                              # a call; an int3 or ud2 (STOP), which a handler
            #                                    may go on after (a debugger, Linux's WARN)
            #                                    from where the trap says: a copy's cannot
        if _movable(d, a, True) is not None:
            break
        s = sites.get(a)
        if s is not None and (s.kind == Kind.POPF or copy_translation(s, tactics) is None):
            break
        tail.append((a, ln))
        a += ln
        if f is not None and f[0] != JCC:
            return tail                        # nothing falls through: no jump back
    while tail and not (d.is_code_start(a) and (a not in claimed or a in starts)):
        tail.pop()                             # the jump back would not land on an instruction
        a = tail[-1][0] + tail[-1][1] if tail else r.end
    return tail


_CS_DETAIL = None
_STRING_OPS = frozenset("movsb movsw movsd stosb stosw stosd lodsb lodsw lodsd cmpsb cmpsw "
                        "cmpsd scasb scasw scasd insb insw insd outsb outsw outsd".split())


def mmio_unsuitable(d, addr: int) -> str | None:
    """Why the instruction at addr cannot be a profile-made MMIO site (abi.h, R1_KIND_MMIO),
    or None: it must be an instruction of the code with a memory operand, neither sensitive
    nor a control transfer nor a string move (the runtime emulates one access of it)."""
    global _CS_DETAIL
    if not d.is_code_start(addr):
        return "not an instruction start in the kernel's code"
    if addr in d.sites:
        return "already a sensitive-instruction site"
    if d.flow.get(addr) is not None:
        return "a control transfer"
    import capstone
    from capstone.x86_const import X86_OP_MEM
    if _CS_DETAIL is None:                     # detail only here: a few instructions a profile names
        _CS_DETAIL = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        _CS_DETAIL.detail = True
    insn = next(_CS_DETAIL.disasm(d.insn_bytes(addr), addr), None)
    if insn is None:
        return "does not decode"
    if insn.mnemonic.split()[-1] in _STRING_OPS:
        return "a string move"
    if not any(op.type == X86_OP_MEM for op in insn.operands) or insn.mnemonic == "lea":
        return "has no memory operand"
    return None


def make_plan(cfg: CFG, window_base: int, tactics=ALL_TACTICS, mmio=()) -> Plan:
    """The plan. mmio: addresses a profile found reaching devices (rewrite --profile); those
    that qualify (mmio_unsuitable) become MMIO sites where a region can take them -- planned
    again without the ones none could take until every one left has a region, so that the
    same set given again (verify, from the site table) gives the same plan."""
    d = cfg.d
    tactics = tuple(tactics)
    if Tactic.TRAMPOLINE not in tactics:
        mmio = ()                              # an MMIO site is a hypercall or nothing
    mmio = sorted(a for a in set(mmio) if mmio_unsuitable(d, a) is None)
    while True:
        plan = _plan(d, cfg, window_base, tactics, mmio)
        placed = [s.addr for s in plan.sites if s.kind == Kind.MMIO and s.region is not None]
        if placed == mmio:
            return plan
        mmio = placed


def _plan(d, cfg: CFG, window_base: int, tactics, mmio) -> Plan:
    plan = Plan(window_base=window_base, tactics=tactics)
    claimed: set[int] = set()
    site_of: dict[int, Site] = {}
    for addr in sorted(d.sites):
        code = d.insn_bytes(addr)
        site_of[addr] = Site(addr=addr, length=len(code), code=code, kind=Kind(d.sites[addr]))
    for addr in mmio:
        code = d.insn_bytes(addr)
        site_of[addr] = Site(addr=addr, length=len(code), code=code, kind=Kind.MMIO)
    if Tactic.INLINE not in tactics and Tactic.TRAMPOLINE not in tactics:
        for site in site_of.values():
            site.tactic = Tactic.TRAP
    else:
        for addr in sorted(site_of):
            if site_of[addr].region is None:       # not moved with an earlier site's region
                _place(d, cfg, plan, site_of, claimed, tactics, addr)
        # Second pass: a site left to trap because a branch from outside lands inside every
        # region it could have gets one whose such branches all move too (_Reaim); after the
        # first pass, so that no site loses the region it has without this.
        reaim = _Reaim(cfg, d, {a for r in plan.regions for a, _ in r.insns},
                       {b for s in site_of.values() for b in range(s.addr, s.addr + s.length)})
        for addr in sorted(site_of):
            s = site_of[addr]
            if s.reason == NO_REGION:
                _place(d, cfg, plan, site_of, claimed, tactics, addr, reaim)
    # an MMIO site that found no region is no site: left as it was, it faults as before
    plan.sites = [site_of[a] for a in sorted(site_of)
                  if site_of[a].kind != Kind.MMIO or site_of[a].region is not None]
    if Tactic.INLINE in tactics or Tactic.TRAMPOLINE in tactics:
        sites = {s.addr: s for s in plan.sites}
        starts = {r.start for r in plan.regions}
        copied = sorted(d.ktables.copied) if d.ktables else []
        for r in plan.regions:
            r.tail = _tail(d, r, claimed, starts, sites, tactics, copied)
    plan.unknown = [{"addr": a, "kind": Kind(k).name.lower(),
                     "privileged": CATALOGUE[Kind(k)].privileged}
                    for a, k in sorted(d.unknown_sites.items())]
    plan.copied = [{"addr": a, "kind": Kind(k).name.lower(),
                    "privileged": CATALOGUE[Kind(k)].privileged}
                   for a, k in sorted(d.copied_sites.items())]
    return plan


def _place(d, cfg: CFG, plan: Plan, site_of: dict[int, Site], claimed: set[int], tactics,
           addr: int, reaim: _Reaim | None = None) -> None:
    """Find the site at addr a region (added to plan.regions, its bytes to claimed) or leave
    it to trap with the reason why; with `reaim`, the region may need site-less regions for
    branches into it (_Reaim), which are added too."""
    site = site_of[addr]
    insns, i0 = _straight_line(cfg, d, addr, far=reaim is not None)
    # never reach back over a site already handled (its bytes are claimed or trapped)
    stop = i0
    while stop > 0 and insns[stop - 1][0] not in site_of and insns[stop - 1][0] not in claimed:
        stop -= 1
    rng = _try_region(d, claimed, insns, i0, stop, reaim)
    if rng is None:
        site.tactic = Tactic.TRAP
        if any(b in d.protected for b in range(addr, addr + site.length)):
            site.reason = "the kernel rewrites these bytes at boot (kernel tables)"
        else:
            site.reason = NO_REGION
        return
    i, j, dead, extra = rng
    # A site just after the region (at most two other instructions between) joins it, with
    # what lies between: on its own it could find the bytes before it taken by this region
    # and be left to trap.
    while dead == 0:
        k = j + 1
        while k < len(insns) and k - j <= 2 and insns[k][0] not in site_of:
            k += 1
        more = _region_ok(d, claimed, insns, i, k, 0, reaim) \
            if k < len(insns) and insns[k][0] in site_of else None
        if more is None:
            break
        j, extra = k, more
    moved = insns[i:j + 1]
    region = Region(start=moved[0][0], end=moved[-1][0] + moved[-1][1] + dead, insns=moved,
                    sites=[a for a, _ in moved if a in site_of])
    for a in region.sites:
        s = site_of[a]
        s.region = region.start
        s.reason = ""
        if Tactic.INLINE in tactics and inline_supported(s.kind, s.code):
            s.tactic = Tactic.INLINE
        elif Tactic.TRAMPOLINE in tactics:
            s.tactic = Tactic.TRAMPOLINE
        else:
            s.tactic = Tactic.TRAP          # inline-only run: this site needs the runtime
            s.region = None
    if any(site_of[a].tactic == Tactic.TRAP for a in region.sites):
        # a site in the region cannot be translated: give the region up entirely
        for a in region.sites:
            site_of[a].region = None
            site_of[a].tactic = Tactic.TRAP
            site_of[a].reason = "region needs a hypercall and the trampoline tactic is off"
        return
    for r in [region] + extra:
        claimed.update(range(r.start, r.end))
        plan.regions.append(r)
        if reaim is not None:
            reaim.moved.update(a for a, _ in r.insns)
