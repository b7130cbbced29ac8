"""Stage 7 — verify a patched image from the image alone.

1. The input is rebuilt from the output and its undo records (which must lie inside the input,
   sorted, disjoint); its SHA-256 must equal the one in the note and in the .ring1 header. That
   proves every byte outside the recorded patches is unchanged.
2. The rewrite is re-run on the rebuilt input with the options the note records (window,
   tactics) and its output compared with the file byte for byte: rewriting is deterministic, so
   every byte of the output is accounted for -- the ELF header (rebuilt from its undo record, so
   an edit to it is otherwise invisible), the program and section headers, the note, the .ring1
   header, trampolines, site table, maps and undo records. A difference is reported by what it
   is ("trampoline of region 0x..., the inline cli at 0x...", "program header 4 (.ring1 PT_LOAD)
   p_vaddr", ...).
3. Independently of the re-run (which shares the rewriter's code, and so its bugs), every field
   the runtime reads is checked against the rebuilt input and the ABI: the ELF header and
   program headers the loader walks, the note, the .ring1 header, site table and maps.
4. The rebuilt input is analysed again: every sensitive instruction found in code must be in the
   site table with the same bytes and kind, and nothing else may be.
5. Every patch must be what the tables say: a trap site holds int3; a region holds `jmp rel32` to
   its trampoline then int3 fill, and the o2t map lists exactly its original instruction starts.
6. The trampoline area decodes completely; every piece and resume point is an instruction
   boundary; every relative branch in it lands on a trampoline instruction, the runtime entry,
   an instruction start of the original code or the end of a region (where the region's last
   instruction falls through to, even when that is the end of its section). A hypercall pushes
   a site whose resume is its return address, or it is in a tail's copy of the site (t2o maps
   its return address to the instruction after the original); a copy (a t2o entry that is no
   piece and no resume) is of proven code the kernel does not rewrite.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import struct
import time
from dataclasses import dataclass, field

import capstone

from . import abi, emit as emit_mod, image as image_mod, pipeline, plan as plan_mod
from .abi import Tactic
from .elf import (EHDR, EHDR_FIELDS, PHDR, PHDR_FIELDS, PF_R, PF_X, PT_LOAD, PT_NOTE, SHDR,
                  SHDR_FIELDS)
from .emit import read_ring1, reconstruct_input
from .errors import Ring1Error
from .trampoline import jmp_rel32

_REL_BRANCH = frozenset("jmp call jecxz jcxz loop loope loopne ja jae jb jbe je jne jg jge jl jle "
                        "jo jno jp jnp js jns".split())
MAX_DIFFS = 40                         # differences listed one by one; the rest are counted


@dataclass
class VerifyResult:
    path: str
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _layout(st: struct.Struct, names) -> list[tuple[str, int, int]]:
    """(field, offset, size) of a packed little-endian struct.Struct."""
    out, off = [], 0
    for name, code in zip(names, re.findall(r"\d*[a-zA-Z]", st.format[1:])):
        size = struct.calcsize("<" + code)
        out.append((name, off, size))
        off += size
    assert off == st.size
    return out


_EHDR_L = _layout(EHDR, EHDR_FIELDS)
_PHDR_L = _layout(PHDR, PHDR_FIELDS)
_SHDR_L = _layout(SHDR, SHDR_FIELDS)
_NOTE_L = _layout(abi.NOTE, abi.NOTE_FIELDS)
_OPT_L = _layout(abi.OPTIONS, abi.OPTIONS_FIELDS)
_HDR_L = _layout(abi.HEADER, abi.HEADER_FIELDS)
_SITE_L = _layout(abi.SITE, abi.SITE_FIELDS)
_MAP_L = _layout(abi.MAP, abi.MAP_FIELDS)


def _field_at(lay, rel: int) -> tuple[str, int, int]:
    for name, off, size in lay:
        if off <= rel < off + size:
            return name, off, size
    raise AssertionError(rel)


# --- what every byte of an output file is ----------------------------------------------------
class OutputMap:
    """Names the part of a (correct) rewrite output that a file offset belongs to: a list of
    disjoint intervals, each with a function that labels an offset inside it and returns the
    field it lies in."""

    def __init__(self, data: bytes, orig: image_mod.Image, plan: plan_mod.Plan, patched):
        self.iv: list[tuple[int, int, object]] = []
        lay = patched.layout
        ehdr = dict(zip(EHDR_FIELDS, EHDR.unpack_from(data, 0)))
        self._struct(0, _EHDR_L, "ELF header")
        for r in plan.regions:
            off = orig.file_offset(r.start, r.end - r.start)
            self.iv.append((off, off + r.end - r.start,
                            lambda o, r=r: (f"patched code of the region at {r.start:#x}-"
                                            f"{r.end:#x} (jmp to its trampoline, int3 fill)",
                                            None)))
        for s in plan.sites:
            if s.tactic == Tactic.TRAP:
                off = orig.file_offset(s.addr, s.length)
                self.iv.append((off, off + 1, lambda o, s=s: (
                    f"int3 of the trap site {s.addr:#x} ({s.kind.name.lower()})", None)))
        phoff, phnum = ehdr["e_phoff"], ehdr["e_phnum"]
        seg = PHDR.unpack_from(data, phoff + (phnum - 2) * PHDR.size)
        note = PHDR.unpack_from(data, phoff + (phnum - 1) * PHDR.size)
        for k in range(phnum):
            what = ("the .ring1 PT_LOAD" if k == phnum - 2 else "the ring1 PT_NOTE"
                    if k == phnum - 1 else "of the input")
            self._struct(phoff + k * PHDR.size, _PHDR_L, f"program header {k} ({what})")
        self._ring1(data, seg[1], seg[2], lay, plan)
        self._note(note[1], struct.unpack_from("<I", data, note[1] + 4)[0])
        shoff, shnum = ehdr["e_shoff"], ehdr["e_shnum"]
        if shnum and shoff >= len(orig.raw):
            strtab = SHDR.unpack_from(data, shoff + ehdr["e_shstrndx"] * SHDR.size)
            self.iv.append((strtab[4], strtab[4] + strtab[5],
                            lambda o: ("section name strings", None)))
            for k in range(shnum):
                self._struct(shoff + k * SHDR.size, _SHDR_L, f"section header {k}")
        self.iv.sort(key=lambda t: t[0])
        self.starts = [t[0] for t in self.iv]

    def _struct(self, base: int, lay, what: str) -> None:
        size = lay[-1][1] + lay[-1][2]

        def label(o, base=base, lay=lay, what=what):
            name, off, sz = _field_at(lay, o - base)
            return f"{what} {name}", (base + off, base + off + sz)
        self.iv.append((base, base + size, label))

    def _table(self, base: int, n: int, st: struct.Struct, lay, what: str, key) -> None:
        def label(o, base=base):
            i, rel = divmod(o - base, st.size)
            name, off, sz = _field_at(lay, rel)
            start = base + i * st.size
            return f"{what} entry {i} ({key(i)}) {name}", (start + off, start + off + sz)
        self.iv.append((base, base + n * st.size, label))

    def _ring1(self, data: bytes, seg_off: int, seg_addr: int, lay, plan) -> None:
        hdr = dict(zip(abi.HEADER_FIELDS, abi.HEADER.unpack_from(data, seg_off)))
        self._struct(seg_off, _HDR_L, ".ring1 header")
        t0 = seg_off + hdr["tramp_off"]
        tramp_base = seg_addr + hdr["tramp_off"]
        regions = sorted((t, r) for r in plan.regions
                         for t in [lay.region_tramp[r.start]])
        rstarts = [t for t, _ in regions]
        pieces = sorted((t, o) for o, t in lay.o2t)
        pstarts = [t for t, _ in pieces]
        sites = {s.addr: s for s in plan.sites}

        code = data[t0:t0 + hdr["tramp_size"]]

        def tramp_label(o):
            a = tramp_base + (o - t0)
            i = bisect.bisect_right(rstarts, a) - 1
            j = bisect.bisect_right(pstarts, a) - 1
            span = None
            # the trampoline instruction holding the byte: decode from its piece (or region)
            frm = max(pstarts[j] if j >= 0 else tramp_base, rstarts[i] if i >= 0 else tramp_base)
            for x, n, _, _ in _CS.disasm_lite(code[frm - tramp_base:a - tramp_base + 16], frm):
                if x <= a < x + n:
                    span = (t0 + x - tramp_base, t0 + x - tramp_base + n, x)
                    break
                if x > a:
                    break
            where = f"trampoline code at {(span[2] if span else a):#x}"
            if i >= 0:
                r = regions[i][1]
                where += f" (trampoline of the region at {r.start:#x}"
                if j >= 0 and r.start <= pieces[j][1] < r.end:
                    orig = pieces[j][1]
                    s = sites.get(orig)
                    where += (f", the {s.tactic.name.lower()} {s.kind.name.lower()} at {orig:#x}"
                              if s else f", moved instruction {orig:#x}")
                where += ")"
            return where, span
        self.iv.append((t0, t0 + hdr["tramp_size"], tramp_label))
        self._table(seg_off + hdr["sites_off"], hdr["nsites"], abi.SITE, _SITE_L, "site table",
                    lambda i: f"{plan.sites[i].addr:#x}")
        self._table(seg_off + hdr["map_o2t_off"], hdr["nmap_o2t"], abi.MAP, _MAP_L, "o2t map",
                    lambda i: f"{lay.o2t[i][0]:#x} -> {lay.o2t[i][1]:#x}")
        self._table(seg_off + hdr["map_t2o_off"], hdr["nmap_t2o"], abi.MAP, _MAP_L, "t2o map",
                    lambda i: f"{lay.t2o[i][1]:#x} -> {lay.t2o[i][0]:#x}")
        u0 = seg_off + hdr["undo_off"]
        self.iv.append((u0, u0 + hdr["undo_size"], lambda o: ("undo records", None)))

    def _note(self, off: int, descsz: int) -> None:
        self.iv.append((off, off + 12, lambda o: ("ring1 note header (namesz, descsz, type)",
                                                  None)))
        self.iv.append((off + 12, off + 20, lambda o: ("ring1 note name", None)))
        self._struct(off + 20, _NOTE_L, "ring1 note")
        if descsz >= abi.NOTE.size + abi.OPTIONS.size:
            self._struct(off + 20 + abi.NOTE.size, _OPT_L, "ring1 note options")

    def label(self, o: int) -> tuple[str, tuple[int, int] | None]:
        i = bisect.bisect_right(self.starts, o) - 1
        if i >= 0 and o < self.iv[i][1]:
            return self.iv[i][2](o)
        return "padding between the output's parts", None


def _diff_offsets(a: bytes, b: bytes):
    """Offsets where a and b differ (over their common length), found a chunk at a time."""
    n = min(len(a), len(b))
    step = 1 << 16
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        if a[lo:hi] != b[lo:hi]:
            for o in range(lo, hi):
                if a[o] != b[o]:
                    yield o


_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


def _show(b: bytes, addr: int | None = None) -> str:
    if addr is not None:            # code: as an instruction
        ins = list(_CS.disasm_lite(b, addr))
        if ins and sum(x[1] for x in ins) == len(b):
            return "`" + "; ".join((m + " " + op).strip() for _, _, m, op in ins) + "`"
        return b.hex()
    if len(b) in (1, 2, 4):
        return f"{int.from_bytes(b, 'little'):#x}"
    text = b.rstrip(b"\0")
    if len(b) > 4 and text and all(32 <= c < 127 for c in text):
        return repr(text.decode())                 # a NUL-padded string field
    return b[:16].hex() + ("…" if len(b) > 16 else "")


def compare_with_rerun(raw: bytes, expected: bytes, omap: OutputMap) -> tuple[list[str], int]:
    """Problems naming every part of `raw` that differs from `expected`, and the number of
    differing bytes."""
    probs: list[str] = []
    if len(raw) != len(expected):
        probs.append(f"the file is {len(raw)} bytes; the rewrite, re-run, gives {len(expected)}")
    seen: set[str] = set()
    nbytes = 0
    more = False
    skip = -1
    for o in _diff_offsets(raw, expected):
        nbytes += 1
        if o < skip:
            continue                       # inside a field or instruction already reported
        if len(seen) >= MAX_DIFFS:
            more = True                    # only counted from here on (labelling costs)
            continue
        label, span = omap.label(o)
        lo, hi = span[:2] if span else (o, o + 1)
        addr = span[2] if span and len(span) > 2 else None
        if span is None:
            # a run of differing bytes under the same label
            while hi < min(len(raw), len(expected), o + 64) and raw[hi] != expected[hi]:
                hi += 1
        skip = hi
        if label in seen:
            continue
        seen.add(label)
        probs.append(f"{label} is {_show(raw[lo:hi], addr)}, the rewrite gives "
                     f"{_show(expected[lo:hi], addr)} (file offset {lo:#x})")
    if more:
        probs.append(f"… and more differences elsewhere in the file ({nbytes} bytes differ in "
                     f"all)")
    return probs, nbytes


# --- the independent checks of what the runtime reads -----------------------------------------
def check_structure(out_img, r1, orig, tactics) -> list[str]:
    """The fields runtime/loader.c and hypercall.c read, checked against the ABI and against
    the rebuilt input without the rewriter's own code."""
    probs: list[str] = []
    prob = probs.append
    raw = out_img.raw
    note, h = r1.note, r1.header
    w = note["window_base"]
    # the note
    if w % abi.WINDOW_SIZE:
        prob(f"note window_base {w:#x} is not a multiple of the window size "
             f"{abi.WINDOW_SIZE:#x}")
    if note["image_vaddr"] != abi.image_base(w):
        prob(f"note image_vaddr {note['image_vaddr']:#x} is not window_base + "
             f"{abi.IMAGE_OFF:#x} ({abi.image_base(w) & 0xFFFFFFFF:#x})")
    want_flags = abi.F_TRAP_ONLY if tactics == (Tactic.TRAP,) else 0
    if note["flags"] != want_flags:
        prob(f"note flags {note['flags']:#x}: the rewrite's tactics "
             f"({','.join(t.name.lower() for t in tactics)}) give {want_flags:#x}")
    opts = out_img.ring1_options
    if opts is not None and opts["reserved"]:
        prob(f"note options reserved field is {opts['reserved']:#x}, not 0")
    # the .ring1 header
    if h["abi_version"] != abi.ABI_VERSION:
        prob(f".ring1 header abi_version {h['abi_version']}, the note and this ring1 say "
             f"{abi.ABI_VERSION}")
    if h["window_base"] != w:
        prob(f".ring1 header window_base {h['window_base']:#x} disagrees with the note's "
             f"{w:#x}")
    if h["header_size"] != abi.HEADER.size:
        prob(f".ring1 header header_size {h['header_size']}, not {abi.HEADER.size}")
    if h["flags"] != note["flags"]:
        prob(f".ring1 header flags {h['flags']:#x} disagree with the note's flags "
             f"{note['flags']:#x}")
    if h["entry_point"] != orig.entry:
        prob(f".ring1 header entry_point {h['entry_point']:#x} is not the input's entry point "
             f"{orig.entry:#x}")
    if h["input_sha256"] != note["input_sha256"]:
        prob(".ring1 header input_sha256 disagrees with the note's")
    if h["orig_file_size"] != len(orig.raw):
        prob(f".ring1 header orig_file_size {h['orig_file_size']} is not the input's size")
    tramp_off = emit_mod.tramp_base(w) - abi.image_base(w)
    if h["tramp_off"] != tramp_off:
        prob(f".ring1 header tramp_off {h['tramp_off']:#x}, not {tramp_off:#x} (right after "
             f"the header)")
    spans = sorted((off, off + n, what) for what, off, n in (
        ("header", 0, abi.HEADER.size), ("trampolines", h["tramp_off"], h["tramp_size"]),
        ("site table", h["sites_off"], h["nsites"] * abi.SITE.size),
        ("o2t map", h["map_o2t_off"], h["nmap_o2t"] * abi.MAP.size),
        ("t2o map", h["map_t2o_off"], h["nmap_t2o"] * abi.MAP.size),
        ("undo records", h["undo_off"], h["undo_size"])) if n)
    for (a0, a1, x), (b0, b1, y) in zip(spans, spans[1:]):
        if b0 < a1:
            prob(f".ring1 {x} and {y} overlap (segment offsets {a0:#x}-{a1:#x} and "
                 f"{b0:#x}-{b1:#x})")
    # the ELF header: the input's, but for the program and section header tables
    e_out = dict(zip(EHDR_FIELDS, EHDR.unpack_from(raw, 0)))
    e_in = dict(zip(EHDR_FIELDS, EHDR.unpack_from(orig.raw, 0)))
    for f in ("e_ident", "e_type", "e_machine", "e_version", "e_entry", "e_flags", "e_ehsize",
              "e_shstrndx"):
        if e_out[f] != e_in[f]:
            show = (lambda v: v.hex()) if f == "e_ident" else (lambda v: f"{v:#x}")
            prob(f"ELF header {f} is {show(e_out[f])}, the input's is {show(e_in[f])}")
    if e_out["e_phnum"] != e_in["e_phnum"] + 2 or e_out["e_phentsize"] != PHDR.size:
        prob(f"ELF header e_phnum {e_out['e_phnum']} / e_phentsize {e_out['e_phentsize']}: "
             f"want the input's {e_in['e_phnum']} program headers + 2, {PHDR.size} bytes each")
        return probs
    if e_out["e_phoff"] < len(orig.raw) or e_out["e_phoff"] % 4:
        prob(f"ELF header e_phoff {e_out['e_phoff']:#x} does not point past the input "
             f"({len(orig.raw):#x} bytes) to the new program header table")
    # program headers: the input's, unchanged, then the .ring1 PT_LOAD and the PT_NOTE
    ph_in = orig.raw[e_in["e_phoff"]:e_in["e_phoff"] + e_in["e_phnum"] * PHDR.size]
    ph_out = raw[e_out["e_phoff"]:e_out["e_phoff"] + e_out["e_phnum"] * PHDR.size]
    for k in range(e_in["e_phnum"]):
        a, b = ph_out[k * PHDR.size:(k + 1) * PHDR.size], ph_in[k * PHDR.size:(k + 1) * PHDR.size]
        if a != b:
            fa, fb = PHDR.unpack(a), PHDR.unpack(b)
            names = [n for n, x, y in zip(PHDR_FIELDS, fa, fb) if x != y]
            prob(f"program header {k} differs from the input's ({', '.join(names)})")
    n_in = e_in["e_phnum"]
    seg = dict(zip(PHDR_FIELDS, PHDR.unpack_from(ph_out, n_in * PHDR.size)))
    nph = dict(zip(PHDR_FIELDS, PHDR.unpack_from(ph_out, (n_in + 1) * PHDR.size)))
    want = {"p_type": PT_LOAD, "p_vaddr": note["image_vaddr"], "p_paddr": note["image_vaddr"],
            "p_filesz": len(r1.segment), "p_memsz": len(r1.segment), "p_flags": PF_R | PF_X,
            "p_align": emit_mod.PAGE}
    for f, v in want.items():
        if seg[f] != v:
            prob(f"program header {n_in} (the .ring1 PT_LOAD) {f} is {seg[f]:#x}, want {v:#x}")
    if seg["p_offset"] < len(orig.raw) or seg["p_offset"] % emit_mod.PAGE:
        prob(f"program header {n_in} (the .ring1 PT_LOAD) p_offset {seg['p_offset']:#x} is not "
             f"a page past the input")
    if nph["p_type"] != PT_NOTE or nph["p_offset"] < len(orig.raw) or \
            nph["p_offset"] + nph["p_filesz"] > len(raw):
        prob(f"program header {n_in + 1} is not the ring1 PT_NOTE after the input "
             f"(type {nph['p_type']}, offset {nph['p_offset']:#x}, size {nph['p_filesz']:#x})")
    in_window = [k for k in range(e_out["e_phnum"])
                 for p in [PHDR.unpack_from(ph_out, k * PHDR.size)]
                 if p[0] == PT_LOAD and p[5] and 0 <= p[2] - w < abi.WINDOW_SIZE]
    if in_window != [n_in]:
        prob(f"the PT_LOAD segments in the window are {in_window}, want only the .ring1 "
             f"segment ({n_in})")
    for s in orig.segments:
        if s.vaddr < w + abi.WINDOW_SIZE and w < s.vaddr + s.memsz:
            prob(f"the input's segment at {s.vaddr:#x}-{s.vaddr + s.memsz:#x} overlaps the "
                 f"window at {w:#x}")
    # the site table and maps: what the runtime searches
    addrs = [s["addr"] for s in r1.sites]
    if addrs != sorted(set(addrs)):
        prob("site table is not sorted by address with unique addresses")
    for s in r1.sites:
        if not 1 <= s["len"] <= 15:
            prob(f"{s['addr']:#x}: site len {s['len']} is not an x86 instruction length")
        elif any(s["bytes"][s["len"]:]):
            prob(f"{s['addr']:#x}: site bytes after its {s['len']} instruction bytes are not "
                 f"zero")
        if s["tactic"] == Tactic.TRAP:
            if s["tramp"] != 0 or s["resume"] != s["addr"] + s["len"]:
                prob(f"{s['addr']:#x}: trap site with tramp {s['tramp']:#x} and resume "
                     f"{s['resume']:#x} (want 0 and addr + len)")
        elif s["tactic"] in (Tactic.INLINE, Tactic.TRAMPOLINE) and s["tactic"] not in tactics:
            prob(f"{s['addr']:#x}: {Tactic(s['tactic']).name.lower()} site, but the rewrite's "
                 f"tactics were {','.join(t.name.lower() for t in tactics)}")
    o2t_o = [o for o, _ in r1.o2t]
    if o2t_o != sorted(set(o2t_o)):
        prob("o2t map is not sorted by original address with unique addresses")
    t2o_t = [t for _, t in r1.t2o]
    if t2o_t != sorted(set(t2o_t)):
        prob("t2o map is not sorted by trampoline address with unique addresses")
    t2o = set(r1.t2o)
    for o, t in r1.o2t:
        if (o, t) not in t2o:
            prob(f"o2t entry {o:#x} -> {t:#x} has no t2o entry")
    return probs


def _cs_num(v: int) -> str:
    """A number as capstone prints it: decimal up to 9, hex above (a window at 0 puts the
    virtual IF at address 0)."""
    return str(v) if v <= 9 else f"{v:#x}"


def check_inline(r1, code: bytes, tramp_lo: int) -> list[str]:
    """The one-instruction inline translations, read from the original instruction (as capstone
    decodes it) and the vCPU page layout of abi.h, not from the rewriter's templates: cli and sti
    store 0 and IF to the virtual IF, `mov r, sreg` and `push sreg` read the selector's vCPU
    slot, `mov r, crN` the control register's. (pushf and popf are longer sequences, proven by
    the re-run.)"""
    probs = []
    w = r1.header["window_base"]
    vif = f"dword ptr [{_cs_num(abi.vcpu(w, abi.VCPU_VIF))}]"
    piece = dict(r1.o2t)
    for s in r1.sites:
        if s["tactic"] != Tactic.INLINE or s["addr"] not in piece:
            continue
        at = piece[s["addr"]] - tramp_lo
        got = next(_CS.disasm_lite(code[at:at + 16], piece[s["addr"]]), None)
        got = got and f"{got[2]} {got[3]}".strip()
        orig = next(_CS.disasm_lite(s["bytes"][:s["len"]], s["addr"]), None)
        k = s["kind"]
        if k == abi.Kind.CLI:
            want = f"mov {vif}, 0"
        elif k == abi.Kind.STI:
            want = f"mov {vif}, {abi.EFLAGS_IF:#x}"
        elif k == abi.Kind.MOV_FROM_CR and orig is not None:
            ops = [x.strip() for x in orig[3].split(",")]
            if len(ops) != 2 or ops[1] not in ("cr0", "cr2", "cr3", "cr4"):
                probs.append(f"{s['addr']:#x}: inline {orig[2]} {orig[3]} reads no control "
                             f"register the vCPU page holds")
                continue
            # mov [scratch], ecx / mov ecx, [cpl] / jecxz / jmp slow / mov ecx, [scratch] /
            # mov r32, [slot]: the CPL check, then the slot (the re-run proves the rest).
            slot = abi.vcpu(w, abi.VCPU_CR + 4 * int(ops[1][2]))
            scratch = f"dword ptr [{_cs_num(abi.vcpu(w, abi.VCPU_SCRATCH))}]"
            seq = [f"{x[2]} {x[3]}".strip() for x in
                   _CS.disasm_lite(code[at:at + 40], piece[s["addr"]], 6)]
            head = [f"mov {scratch}, ecx",
                    f"mov ecx, dword ptr [{_cs_num(abi.vcpu(w, abi.VCPU_CPL))}]"]
            if seq[:2] != head or len(seq) < 6 or not seq[2].startswith("jecxz") or \
                    not seq[3].startswith("jmp") or seq[4] != f"mov ecx, {scratch}":
                probs.append(f"{s['addr']:#x}: inline translation of `{orig[2]} {orig[3]}` "
                             f"does not check CPL first: {seq[:5]}")
                continue
            got = seq[5]
            want = f"mov {ops[0]}, dword ptr [{_cs_num(slot)}]"
        elif k in (abi.Kind.MOV_FROM_SREG, abi.Kind.PUSH_SREG) and orig is not None:
            ops = [x.strip() for x in orig[3].split(",")]
            sreg = ops[-1] if k == abi.Kind.MOV_FROM_SREG else ops[0]
            if sreg not in abi.SREG_NAMES:
                probs.append(f"{s['addr']:#x}: inline {orig[2]} {orig[3]} names no segment "
                             f"register")
                continue
            slot = abi.vcpu(w, abi.VCPU_SEL + 4 * abi.SREG_NAMES.index(sreg))
            if k == abi.Kind.MOV_FROM_SREG:
                size = "word" if ops[0] in ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di") \
                    else "dword"
                want = f"mov {ops[0]}, {size} ptr [{_cs_num(slot)}]"
            else:
                size = "word" if s["bytes"][0] == 0x66 else "dword"
                want = f"push {size} ptr [{_cs_num(slot)}]"
        else:
            continue
        if got != want:
            what = f"`{(orig[2] + ' ' + orig[3]).strip()}`" if orig else "site"
            probs.append(f"{s['addr']:#x}: inline translation of {what} is `{got}`, not "
                         f"`{want}`")
    return probs


# --- verify -----------------------------------------------------------------------------------
def recorded_tactics(img) -> tuple[tuple[Tactic, ...], str]:
    """The rewrite's tactics, from the note's options (or, for an image made before they were
    recorded, from its trap-only flag), and where they came from."""
    opts = img.ring1_options
    if opts is None:
        if img.ring1_note["flags"] & abi.F_TRAP_ONLY:
            return (Tactic.TRAP,), "inferred from the trap-only flag"
        return plan_mod.ALL_TACTICS, "not recorded: assumed the default"
    try:
        t = abi.tactics_of(opts["tactics"])
    except ValueError:
        t = ()
    return t, "recorded"


def verify(path: str, progress=None) -> VerifyResult:
    res = VerifyResult(path)
    out_img = image_mod.load(path)
    prob = res.problems.append
    note = out_img.ring1_note
    if note is not None and note["abi_version"] == abi.ABI_VERSION and \
            not any(s.vaddr == note["image_vaddr"] for s in out_img.segments):
        near = [s.vaddr for s in out_img.segments
                if 0 <= s.vaddr - note["window_base"] < abi.WINDOW_SIZE]
        prob(f"no PT_LOAD segment starts at the note's image_vaddr {note['image_vaddr']:#x} "
             f"(segments in the window start at "
             f"{', '.join(f'{v:#x}' for v in near) or 'none'}): a program header's p_vaddr "
             f"or the note was changed")
        return res
    r1 = read_ring1(out_img)
    raw = out_img.raw
    h = r1.header

    # 1. rebuild the input
    prev = 0
    for off, orig_b in r1.undo:
        if off < prev or off + len(orig_b) > h["orig_file_size"] or not orig_b:
            prob(f"undo record for file offset {off:#x} ({len(orig_b)} bytes) is out of order, "
                 f"overlaps another or lies outside the input ({h['orig_file_size']} bytes)")
            return res
        prev = off + len(orig_b)
    if h["orig_file_size"] > len(raw):
        prob(f".ring1 header orig_file_size {h['orig_file_size']} is larger than the file")
        return res
    orig_raw = reconstruct_input(out_img, r1)
    digest = hashlib.sha256(orig_raw).digest()
    if digest != r1.note["input_sha256"]:
        prob("rebuilt input does not match the note's SHA-256: bytes outside the recorded "
             "patches, or the undo records themselves, were changed")
        return res
    if digest != h["input_sha256"]:
        prob("rebuilt input does not match the .ring1 header's input_sha256")
    orig = image_mod.load(path + " (rebuilt input)", orig_raw)
    if orig.kind != "elf32":
        prob(f"the rebuilt input is {orig.kind}, not an ELF32 image ring1 rewrites")
        return res

    # 2. the options the rewrite recorded
    tactics, how = recorded_tactics(out_img)
    if not tactics or Tactic.TRAP not in tactics:
        prob(f"note options tactics {out_img.ring1_options['tactics']:#x} name no valid set "
             f"of tactics (trap must be one)")
        return res

    # 3. the fields the runtime reads, independently
    res.problems += check_structure(out_img, r1, orig, tactics)

    # 4. re-run the rewrite and compare every byte
    a = pipeline.analyze_image(orig, progress)
    d = a.d
    if progress:
        progress("re-running the rewrite…")
    t = time.perf_counter()
    rerun = "identical"
    try:
        # a window `rewrite --window` refuses (the check above names it) cannot be re-run
        pipeline.parse_window(str(r1.note["window_base"]))
        emit_mod.check_rewritable(orig, r1.note["window_base"])
        # the sites a profile made (abi.h, R1_KIND_MMIO) are the one input besides the options
        mmio = sorted(x["addr"] for x in r1.sites if x["kind"] == abi.Kind.MMIO)
        plan = plan_mod.make_plan(a.cfg, r1.note["window_base"], tactics, mmio)
        patched = emit_mod.emit(orig, plan, d, record_options=out_img.ring1_options is not None)
    except Ring1Error as e:
        prob(f"the rewrite cannot be re-run with the recorded options (window "
             f"{r1.note['window_base']:#x}, tactics {','.join(x.name.lower() for x in tactics)}"
             f"): {e}")
        rerun = "failed"
    else:
        if patched.data != raw:
            diffs, nbytes = compare_with_rerun(raw, patched.data,
                                               OutputMap(patched.data, orig, plan, patched))
            made_by = out_img.ring1_options and \
                out_img.ring1_options["rewriter"].rstrip(b"\0").decode(errors="replace")
            if made_by and made_by != emit_mod.REWRITER:
                diffs.append(f"(the image was made by {made_by}, this is "
                             f"{emit_mod.REWRITER}: the re-run compares with this version's "
                             f"output)")
            elif how != "recorded":
                diffs.append(f"(the image does not record its rewrite options; tactics "
                             f"{how})")
            res.problems += [f"not what the rewrite gives: {x}" for x in diffs]
            rerun = f"{nbytes} bytes differ"
    rerun_s = round(time.perf_counter() - t, 3)

    # 5. the site table against the fresh analysis
    if progress:
        progress("checking sites, patches and trampolines…")
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
        s = table[addr]
        if s["kind"] == abi.Kind.MMIO:
            # made by a profile: a data access the runtime emulates once per hypercall
            why = plan_mod.mmio_unsuitable(d, addr)
            if why is None and (s["len"] != d.insn_len(addr) or
                                s["bytes"][:s["len"]] != d.insn_bytes(addr)):
                why = "its recorded bytes are not the instruction's"
            if why is None and s["tactic"] != Tactic.TRAMPOLINE:
                why = f"tactic {s['tactic']}, not a trampoline's hypercall"
            if why:
                prob(f"{addr:#x}: MMIO site: {why}")
            continue
        prob(f"{addr:#x}: site table lists an address that is not a sensitive instruction")

    # 6. the patches
    def out_bytes(addr, n):
        return out_img.read(addr, n) or b""

    tramp_lo = r1.tramp_addr
    tramp_hi = tramp_lo + h["tramp_size"]
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
    o2t_file = {}
    for o, t in r1.o2t:
        off = out_img.file_offset(o)
        if off is not None:
            o2t_file[off] = (o, t)
    # every region: a moved instruction whose bytes start an undo record of 5 or more (the
    # sites' regions, and the site-less ones that move branches into them: plan._Reaim)
    region_at = {o: (t, file_regions[off]) for off, (o, t) in o2t_file.items()
                 if off in file_regions}
    tramp_region = {t: o for o, (t, _) in region_at.items()}
    for tramp, addrs in regions.items():
        # the region starts at the original instruction whose piece opens the trampoline
        start = tramp_region.get(tramp)
        if start is None:
            if tramp not in piece_orig:
                prob(f"trampoline {tramp:#x}: no o2t entry maps to it")
            else:
                prob(f"{piece_orig[tramp]:#x}: region has no undo record")
            continue
        for a0 in addrs:
            if not start <= a0 < start + region_at[start][1]:
                prob(f"{a0:#x}: site outside the region of its trampoline {tramp:#x}")
    region_ends = set()
    interior = {}                      # moved instruction (but a region's first) -> its region
    for start, (tramp, ln) in sorted(region_at.items()):
        region_ends.add(start + ln)
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
            elif x != start:
                interior[x] = start
    # no branch left in the original code lands inside a region: where the moved instruction
    # was is int3 fill now (its branches moved too, and go to its piece)
    moved = set(interior) | set(region_at)
    for a, (t, tgt) in d.flow.items():
        if tgt in interior and a not in moved and d.is_code_start(a):
            prob(f"{a:#x}: branch to {tgt:#x}, inside region {interior[tgt]:#x}, stays in "
                 f"the original code")
    for o in sorted(set(o2t) - moved):
        prob(f"{o:#x}: o2t maps it to {o2t[o]:#x}, but no region (jmp + undo record) moved it")
    nregion_insns = len(r1.o2t)
    if any(not tramp_lo <= t < tramp_hi for _, t in r1.o2t + r1.t2o):
        prob("a map entry points outside the trampoline area")

    # 7. the trampolines decode and branch only to valid places
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
    entry = abi.entry(h["window_base"])
    t2o = set(r1.t2o)
    # every hypercall pushes the index of a site whose resume is the call's return address
    for addr, mnem, tgt in branches:
        if mnem != "call" or tgt != entry:
            continue
        idx = pushes.get(addr)
        if idx is None:
            prob(f"{addr:#x}: hypercall not preceded by push of a site index")
        elif not 0 <= idx < len(r1.sites):
            prob(f"{addr:#x}: hypercall pushes site index {idx}, the table has {len(r1.sites)}")
        elif r1.sites[idx]["resume"] != addr + 5 and \
                (r1.sites[idx]["addr"] + r1.sites[idx]["len"], addr + 5) not in t2o:
            # (a tail's copy of the site resumes at its own point, which t2o maps to the
            # original instruction after the site)
            prob(f"{addr:#x}: hypercall pushes site index {idx} ({r1.sites[idx]['addr']:#x}) "
                 f"whose resume is {r1.sites[idx]['resume']:#x}, not {addr + 5:#x}")
    calls = {addr for addr, mnem, tgt in branches if mnem == "call" and tgt == entry}
    # A t2o entry that is neither a moved instruction's piece nor a hypercall's resume is a
    # tail's copy of the original instruction at its address: proven code that the kernel
    # never rewrites at boot (a copy of such bytes would run stale).
    o2t_pairs = set(r1.o2t)
    for o, t in r1.t2o:
        if (o, t) in o2t_pairs or t - 5 in calls:
            continue
        if not d.is_code_start(o):
            prob(f"{t:#x}: copy of {o:#x}, which is not an instruction start of the original "
                 f"code")
        elif any(b in d.protected for b in range(o, o + d.insn_len(o))):
            prob(f"{t:#x}: copy of {o:#x}, whose bytes the kernel rewrites at boot")
    for s in r1.sites:
        if s["tactic"] == Tactic.TRAMPOLINE and s["resume"] - 5 not in calls:
            prob(f"{s['addr']:#x}: trampoline site without its hypercall (no call to the "
                 f"runtime entry returning to its resume {s['resume']:#x})")
        if s["tactic"] != Tactic.TRAP and s["resume"] and s["resume"] not in bounds:
            prob(f"{s['addr']:#x}: resume {s['resume']:#x} is not a trampoline instruction "
                 f"boundary")
    for addr, mnem, tgt in branches:
        if tramp_lo <= tgt < tramp_hi:
            if tgt not in bounds:
                prob(f"{addr:#x}: {mnem} into the middle of a trampoline instruction ({tgt:#x})")
        elif tgt == entry or tgt in region_ends:
            continue
        elif tgt in interior:
            prob(f"{addr:#x}: {mnem} to {tgt:#x}, inside region {interior[tgt]:#x} (not to "
                 f"its piece)")
        elif not d.is_code_start(tgt):
            prob(f"{addr:#x}: {mnem} to {tgt:#x}, not an instruction start of the original code")
    res.problems += check_inline(r1, code, tramp_lo)
    for o, t in r1.o2t + r1.t2o:
        if t not in bounds and t != tramp_hi:
            prob(f"map entry {o:#x} -> {t:#x} is not a trampoline instruction boundary")
    res.stats = {"sites": len(r1.sites), "regions": len(region_at), "moved_insns": nregion_insns,
                 "tramp_bytes": len(code), "branches_checked": len(branches),
                 "unknown_candidates": len(d.unknown_sites),
                 "tactics": {t.name.lower(): sum(1 for s in r1.sites if s["tactic"] == t)
                             for t in Tactic},
                 "rerun": rerun, "rerun_seconds": rerun_s,
                 "options": {"window": r1.note["window_base"],
                             "tactics": [t.name.lower() for t in tactics], "source": how}}
    return res
