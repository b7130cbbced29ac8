"""Stage 7 — verify a patched image from the image alone.

1. The input is rebuilt from the output and its undo records; its SHA-256 must equal the one in
   the note. That proves every byte outside the recorded patches is unchanged.
2. The rebuilt input is analysed again: every sensitive instruction found in code must be in the
   site table with the same bytes and kind, and nothing else may be.
3. Every patch must be what the tables say: a trap site holds int3; a region holds `jmp rel32` to
   its trampoline then int3 fill, and the o2t map lists exactly its original instruction starts.
4. The trampoline area decodes completely; every piece and resume point is an instruction
   boundary; every relative branch in it lands on a trampoline instruction, the runtime entry,
   or an instruction start of the original code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import capstone

from . import abi, image as image_mod, pipeline
from .abi import Tactic
from .emit import read_ring1, reconstruct_input
from .trampoline import jmp_rel32

_REL_BRANCH = frozenset("jmp call jecxz jcxz loop loope loopne ja jae jb jbe je jne jg jge jl jle "
                        "jo jno jp jnp js jns".split())


@dataclass
class VerifyResult:
    path: str
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str, progress=None) -> VerifyResult:
    res = VerifyResult(path)
    out_img = image_mod.load(path)
    r1 = read_ring1(out_img)
    prob = res.problems.append

    # 1. rebuild the input
    orig_raw = reconstruct_input(out_img, r1)
    if hashlib.sha256(orig_raw).digest() != r1.note["input_sha256"]:
        prob("rebuilt input does not match the note's SHA-256: bytes outside the recorded "
             "patches were changed")
        return res
    orig = image_mod.load(path + " (rebuilt input)", orig_raw)

    # 2. the site table against a fresh analysis
    a = pipeline.analyze_image(orig, progress)
    if progress:
        progress("checking sites, patches and trampolines…")
    d = a.d
    table = {s["addr"]: s for s in r1.sites}
    for addr, kind in sorted(d.sites.items()):
        s = table.get(addr)
        code = d.insn_bytes(addr)
        if s is None:
            prob(f"{addr:#x}: sensitive {abi.Kind(kind).name.lower()} "
                 f"({code.hex()}) is not in the site table")
        elif s["kind"] != kind or s["len"] != len(code) or s["bytes"][:len(code)] != code:
            prob(f"{addr:#x}: site table entry disagrees with the code "
                 f"({abi.Kind(s['kind']).name.lower()} {s['bytes'][:s['len']].hex()} vs "
                 f"{abi.Kind(kind).name.lower()} {code.hex()})")
    for addr in sorted(set(table) - set(d.sites)):
        prob(f"{addr:#x}: site table lists an address that is not a sensitive instruction")

    # 3. the patches
    def out_bytes(addr, n):
        return out_img.read(addr, n)

    tramp_lo = r1.tramp_addr
    tramp_hi = tramp_lo + r1.header["tramp_size"]
    o2t = dict(r1.o2t)
    regions = {}
    for s in r1.sites:
        t = s["tactic"]
        if t == Tactic.TRAP:
            if out_bytes(s["addr"], 1) != b"\xCC":
                prob(f"{s['addr']:#x}: trap site does not hold int3")
        elif t in (Tactic.INLINE, Tactic.TRAMPOLINE):
            if not tramp_lo <= s["tramp"] < tramp_hi:
                prob(f"{s['addr']:#x}: trampoline {s['tramp']:#x} outside the trampoline area")
            regions.setdefault(s["tramp"], []).append(s["addr"])
            if t == Tactic.TRAMPOLINE and not tramp_lo <= s["resume"] <= tramp_hi:
                prob(f"{s['addr']:#x}: resume {s['resume']:#x} outside the trampoline area")
        else:
            prob(f"{s['addr']:#x}: unknown tactic {t}")
    file_regions = {off: ln for off, ln in ((u[0], len(u[1])) for u in r1.undo) if ln >= 5}
    piece_orig = {t: o for o, t in r1.o2t}
    for tramp, addrs in regions.items():
        # the region starts at the original instruction whose piece opens the trampoline
        start = piece_orig.get(tramp)
        if start is None:
            prob(f"trampoline {tramp:#x}: no o2t entry maps to it")
            continue
        off = out_img.file_offset(start)
        ln = file_regions.get(off)
        if ln is None:
            prob(f"{start:#x}: region has no undo record")
            continue
        got = out_bytes(start, ln)
        if got[:5] != jmp_rel32(start, tramp) or got[5:] != b"\xCC" * (ln - 5):
            prob(f"{start:#x}: region bytes {got.hex()} are not jmp {tramp:#x} + int3 fill")
        starts = []
        x = start
        while x < start + ln:
            if not d.is_code_start(x):
                if not all(d.is_padding(y) for y in range(x, start + ln)):
                    prob(f"{x:#x}: region {start:#x} does not cover whole instructions "
                         f"(or dead padding after its last one)")
                break
            starts.append(x)
            x += d.insn_len(x)
        for x in starts:
            if x not in o2t:
                prob(f"{x:#x}: moved instruction missing from the o2t map")
        for a0 in addrs:
            if not start <= a0 < start + ln:
                prob(f"{a0:#x}: site outside the region of its trampoline {tramp:#x}")
    nregion_insns = sum(1 for o, _ in r1.o2t)
    if any(not tramp_lo <= t < tramp_hi for _, t in r1.o2t + r1.t2o):
        prob("a map entry points outside the trampoline area")
    if [o for o, _ in r1.o2t] != sorted(o for o, _ in r1.o2t):
        prob("o2t map is not sorted by original address")
    if [t for _, t in r1.t2o] != sorted(t for _, t in r1.t2o):
        prob("t2o map is not sorted by trampoline address")

    # 4. the trampolines decode and branch only to valid places
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    code = r1.tramp_code
    bounds = set()
    pos = 0
    branches = []
    pushes: dict[int, int] = {}          # call address -> immediate pushed just before it
    last_push = None
    while pos < len(code):
        for addr, size, mnem, op in cs.disasm_lite(code[pos:], tramp_lo + pos):
            bounds.add(addr)
            if mnem in _REL_BRANCH and op.startswith("0x"):
                branches.append((addr, mnem, int(op, 16)))
                if mnem == "call" and last_push is not None and last_push[0] + last_push[1] == addr:
                    pushes[addr] = last_push[2]
            if mnem == "push" and (op.startswith("0x") or op.isdigit()):
                last_push = (addr, size, int(op, 0))   # capstone prints 0-9 in decimal
            pos += size
        if pos < len(code):              # capstone stopped: an undecodable byte
            prob(f"{tramp_lo + pos:#x}: trampoline byte {code[pos]:#04x} does not decode")
            pos += 1
    entry = abi.entry(r1.header["window_base"])
    # every hypercall pushes the index of a site whose resume is the call's return address
    for addr, mnem, tgt in branches:
        if mnem != "call" or tgt != entry:
            continue
        idx = pushes.get(addr)
        if idx is None:
            prob(f"{addr:#x}: hypercall not preceded by push of a site index")
        elif not 0 <= idx < len(r1.sites):
            prob(f"{addr:#x}: hypercall pushes site index {idx}, the table has {len(r1.sites)}")
        elif r1.sites[idx]["resume"] != addr + 5:
            prob(f"{addr:#x}: hypercall pushes site index {idx} ({r1.sites[idx]['addr']:#x}) "
                 f"whose resume is {r1.sites[idx]['resume']:#x}, not {addr + 5:#x}")
    for s in r1.sites:
        if s["tactic"] != Tactic.TRAP and s["resume"] and s["resume"] not in bounds:
            prob(f"{s['addr']:#x}: resume {s['resume']:#x} is not a trampoline instruction "
                 f"boundary")
    for addr, mnem, tgt in branches:
        if tramp_lo <= tgt < tramp_hi:
            if tgt not in bounds:
                prob(f"{addr:#x}: {mnem} into the middle of a trampoline instruction ({tgt:#x})")
        elif tgt == entry:
            continue
        elif not d.is_code_start(tgt):
            prob(f"{addr:#x}: {mnem} to {tgt:#x}, not an instruction start of the original code")
    for o, t in r1.o2t + r1.t2o:
        if t not in bounds and t != tramp_hi:
            prob(f"map entry {o:#x} -> {t:#x} is not a trampoline instruction boundary")
    res.stats = {"sites": len(r1.sites), "regions": len(regions), "moved_insns": nregion_insns,
                 "tramp_bytes": len(code), "branches_checked": len(branches),
                 "unknown_candidates": len(d.unknown_sites),
                 "tactics": {t.name.lower(): sum(1 for s in r1.sites if s["tactic"] == t)
                             for t in Tactic}}
    return res
