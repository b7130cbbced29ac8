"""Stage 2 — find the code: a linear sweep, then recursive traversal, then a validated sweep of
the gaps.

Capstone's `disasm_lite` (no detail) is the only decoder run over every byte; it costs ~4 s on
Debian's 686 vmlinux, while asking for detail would cost ~40 s (docs/design.md §1). Everything is kept
compact so that 3 M instructions fit: per code range one bytearray of instruction lengths and one
of per-byte states; dicts only for control flow (~20 % of instructions) and sensitive candidates.

The sweep's decoding is trusted only where traversal confirms it: traversal starts from the entry
point, function symbols, kernel-table targets (ktables.py) and code pointers found in data and
in instruction immediates, and decodes afresh wherever it lands off the sweep's instruction
boundaries. Known data never becomes code: the multiboot header, every absolute memory operand
that points into a code range, and the descriptor tables lgdt/lidt operands describe. What
traversal never reaches is examined chunk by chunk (the "gaps", see _validate_gaps): padding
(00/90/cc runs, multi-byte nops) is marked as such; a chunk whose branches all land on the
instruction grid and that ends in an unconditional transfer, or runs on into code or padding
after a substantial stretch, is accepted as code and traversed from too; the rest stays unknown
and its sensitive-looking bytes are reported, not patched.
"""

from __future__ import annotations

import array
import bisect
import re
import struct
from dataclasses import dataclass, field

import capstone

from .classify import CANDIDATE_MNEMONICS, classify
from .image import Image
from .ktables import KTables, scan as scan_ktables

# Per-byte states of a code range.
UNKNOWN, CODE, CODE_INNER, GAP_CODE, GAP_CODE_INNER, PADDING, DATA = range(7)

# Control-flow types recorded in Disassembly.flow: addr -> (type, target or None).
JMP, JCC, CALL, IJMP, ICALL, RET, STOP = "jmp", "jcc", "call", "ijmp", "icall", "ret", "stop"
NO_FALLTHROUGH = frozenset((JMP, IJMP, RET, STOP))

_JCC = frozenset("ja jae jb jbe je jne jg jge jl jle jo jno jp jnp js jns jcxz jecxz loop loope "
                 "loopne".split())
_RET = frozenset("ret retf iret iretd sysexit sysret".split())
_STOP = frozenset(("ud2", "int3"))   # no fall-through we can trust (BUG(), padding)
_FLOW_MNEMONICS = _JCC | _RET | _STOP | {"jmp", "call", "ljmp", "lcall"}
_PTR_MNEMONICS = frozenset(("mov", "push", "lea", "cmp", "movl"))
_INTERESTING = _FLOW_MNEMONICS | CANDIDATE_MNEMONICS | _PTR_MNEMONICS
_NEAR_OR_FAR = frozenset(("call", "jmp"))   # far only as "ptr [..]" (FF /3, FF /5)
_MEM_ABS = re.compile(r"\[(?:[a-z]+\*\d \+ )?(0x[0-9a-f]{5,8})\]")   # [abs] or [reg*s + abs]
_PTR_SIZE = {"byte": 1, "word": 2, "dword": 4, "qword": 8, "fword": 6, "tbyte": 10,
             "xmmword": 16}
_REF_SIZE = {"lgdt": 6, "lidt": 6, "sgdt": 6, "sidt": 6}
_HEX = re.compile(r"0x[0-9a-f]{5,8}\b")
_PADDING_BYTES = frozenset(b"\x00\x90\xcc")
FALLTHROUGH_MIN_BYTES = 16
FALLTHROUGH_MIN_INSNS = 4
_ZEROS = [bytes(n - 1) if n else b"" for n in range(17)]
_FILL = {st: [bytes([st]) * (n - 1) if n else b"" for n in range(17)]
         for st in (1, 2, 3, 4)}


@dataclass
class Disassembly:
    image: Image
    lens: list[bytearray]                 # per code range: instruction length at each start
    state: list[bytearray]                # per code range: byte state (UNKNOWN, CODE, ...)
    flow: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    sites: dict[int, int] = field(default_factory=dict)        # addr -> Kind, code only
    unknown_sites: dict[int, int] = field(default_factory=dict)  # addr -> Kind, in unknown bytes
    copied_sites: dict[int, int] = field(default_factory=dict)   # addr -> Kind, in copied code
    protected: set[int] = field(default_factory=set)  # bytes the kernel rewrites at boot
    data_refs: list[tuple[int, int]] = field(default_factory=list)  # data read in code ranges
    ktables: KTables | None = None
    targets: set[int] = field(default_factory=set)    # known branch targets and code pointers
    maybe_targets: set[int] = field(default_factory=set)  # any pointer-like value into code
    roots: dict[str, int] = field(default_factory=dict)   # how many roots of each origin
    root_targets: set[int] = field(default_factory=set)   # targets for a reason other than a
                                                          # direct branch (roots, gap seeds)
    fixup_only: set[int] = field(default_factory=set)     # roots only because __ex_table names
                                                          # them (reached by an emulated iret)
    ninsns: int = 0

    # --- lookups ---------------------------------------------------------------------------
    def locate(self, addr: int) -> tuple[int, int] | None:
        """(range index, offset) of addr, or None if it is not in a code range."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.image.code[i].end:
            return i, addr - self.image.code[i].addr
        return None

    def is_code_start(self, addr: int) -> bool:
        loc = self.locate(addr)
        return loc is not None and self.state[loc[0]][loc[1]] in (CODE, GAP_CODE)

    def is_padding(self, addr: int) -> bool:
        loc = self.locate(addr)
        return loc is not None and self.state[loc[0]][loc[1]] == PADDING

    def insn_len(self, addr: int) -> int:
        i, off = self.locate(addr)
        return self.lens[i][off]

    def insn_bytes(self, addr: int) -> bytes:
        i, off = self.locate(addr)
        return self.image.code[i].data[off:off + self.lens[i][off]]

    def iter_code(self):
        """(addr, length) of every code instruction, in address order."""
        for i, rng in enumerate(self.image.code):
            st, ln, base = self.state[i], self.lens[i], rng.addr
            off = 0
            n = len(st)
            while off < n:
                s = st[off]
                if s == CODE or s == GAP_CODE:
                    yield base + off, ln[off]
                    off += ln[off]
                else:
                    off += 1

    def coverage(self) -> list[dict]:
        """Bytes of each code range that are code, padding/data, or unknown."""
        out = []
        for i, rng in enumerate(self.image.code):
            st = self.state[i]
            code = sum(st.count(s) for s in (CODE, CODE_INNER, GAP_CODE, GAP_CODE_INNER))
            pad = st.count(PADDING) + st.count(DATA)
            out.append({"section": rng.name, "addr": rng.addr, "size": len(st), "code": code,
                        "traversed": st.count(CODE) + st.count(CODE_INNER),
                        "data_or_padding": pad, "unknown": len(st) - code - pad})
        return out

    def __post_init__(self):
        self._starts = [r.addr for r in self.image.code]


def _common_hex_prefix(lo: int, hi: int) -> str:
    """The printed prefix every address in [lo, hi] shares ("0xc1" for 0xc1000000-0xc1ffffff):
    a cheap test before looking for pointers in an operand string."""
    a, b = f"{lo:#x}", f"{hi:#x}"
    if len(a) != len(b):
        return "0x"
    n = 0
    while n < len(a) and a[n] == b[n]:
        n += 1
    return a[:n]


def _cs(bits: int) -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32)
    cs.skipdata = True
    return cs


def _flow_of(mnem: str, op: str) -> tuple[str, int | None] | None:
    """Control-flow type and direct target of an instruction, from capstone's lite output."""
    if mnem == "jmp":
        return (JMP, int(op, 16)) if op.startswith("0x") else (IJMP, None)
    if mnem == "call":
        return (CALL, int(op, 16)) if op.startswith("0x") else (ICALL, None)
    if mnem in _JCC:
        return (JCC, int(op, 16)) if op.startswith("0x") else (JCC, None)
    if mnem in _RET:
        return (RET, None)
    if mnem in _STOP:
        return (STOP, None)
    if mnem in ("ljmp", "lcall"):
        # ptr16:32 forms print "sel:off" or "sel, off"; memory forms are indirect
        m = re.fullmatch(r"(0x[0-9a-f]+|\d+)(?::|, )(0x[0-9a-f]+|\d+)", op)
        tgt = int(m.group(2), 0) if m else None
        if mnem == "ljmp":
            return (JMP, tgt) if tgt is not None else (IJMP, None)
        return (CALL, tgt) if tgt is not None else (ICALL, None)
    if mnem.startswith("rep") or mnem.startswith("lock"):
        return _flow_of(mnem.split()[-1], op)
    return None


def _sweep(d: Disassembly, cs, i: int, lo: int, hi: int, cands: dict,
           imm_pointers: list | None = None, ptr_prefix: str = "",
           data_refs: list | None = None) -> None:
    """Linear sweep of code range i over [lo, hi): instruction lengths, control flow,
    sensitive candidates, pointer-like immediates and absolute memory operands (data_refs:
    (address, size), e.g. `lgdt [0x1000082]`); the last two only when lists are given (a
    re-sweep of a gap adds no new roots). Anything recorded in that span before
    (an earlier sweep out of step with this one) is forgotten first."""
    rng = d.image.code[i]
    base, data, lens, flow = rng.addr, rng.data, d.lens[i], d.flow
    code_lo, code_hi = d.image.code[0].addr, d.image.code[-1].end
    if lo or hi != len(data):
        for off in range(lo, hi):
            if lens[off]:
                lens[off] = 0
                flow.pop(base + off, None)
                cands.pop(base + off, None)
    for addr, size, mnem, op in cs.disasm_lite(data[lo:hi], base + lo):
        if mnem not in _INTERESTING:
            if " " not in mnem:
                if mnem != ".byte":
                    lens[addr - base] = size
                continue
            mnem_last = mnem.rsplit(" ", 1)[-1]     # rep insd, lock ..., bnd jmp
            if mnem_last not in _INTERESTING:
                lens[addr - base] = size
                continue
        else:
            mnem_last = mnem
        lens[addr - base] = size
        if mnem_last in _FLOW_MNEMONICS:
            f = _flow_of(mnem, op)
            if f is not None:
                flow[addr] = f
        if mnem_last in CANDIDATE_MNEMONICS and \
                (mnem_last not in _NEAR_OR_FAR or op[:3] == "ptr"):
            off = addr - base
            k = classify(data[off:off + size])
            if k is not None:
                cands[addr] = k
        if imm_pointers is not None and mnem_last in _PTR_MNEMONICS and ptr_prefix in op:
            for h in _HEX.findall(op.split("[", 1)[0] if "[" in op else op):
                v = int(h, 16)
                if code_lo <= v < code_hi:
                    imm_pointers.append(v)
        if data_refs is not None and ("[0x" in op or ("*" in op and "+ 0x" in op)):
            m = _MEM_ABS.search(op)
            if m is not None:
                size = _REF_SIZE.get(mnem_last) or _PTR_SIZE.get(op.split(" ptr", 1)[0], 4)
                if "*4 + " in op and mnem_last in ("jmp", "call", "mov"):
                    size = -4                    # a table of dwords indexed by a register
                data_refs.append((int(m.group(1), 16), size))


def disassemble(image: Image, progress=None) -> Disassembly:
    cs = _cs(image.bits)
    d = Disassembly(image=image, lens=[], state=[])
    cands: dict[int, int] = {}
    code_lo = image.code[0].addr
    code_hi = image.code[-1].end
    imm_pointers: list[int] = []
    data_refs: list[tuple[int, int]] = []
    ptr_prefix = _common_hex_prefix(code_lo, code_hi - 1)
    for i, rng in enumerate(image.code):
        d.lens.append(bytearray(len(rng.data)))
        d.state.append(bytearray(len(rng.data)))
        _sweep(d, cs, i, 0, len(rng.data), cands, imm_pointers, ptr_prefix, data_refs)
        if progress:
            progress(f"swept {rng.name}: {len(rng.data)} bytes")

    # Roots: entry, function symbols, pointers in data and in instruction immediates.
    roots: list[int] = []

    def add_roots(origin: str, addrs, trusted: bool):
        """Trusted roots (entry, symbols, kernel tables) are decoded wherever they are; a
        value merely found in data must also start an instruction of the sweep."""
        n = 0
        for a in addrs:
            loc = d.locate(a)
            if loc is not None and (trusted or d.lens[loc[0]][loc[1]]) and \
                    d.state[loc[0]][loc[1]] != DATA:
                roots.append(a)
                n += 1
        d.roots[origin] = d.roots.get(origin, 0) + n

    _mark_data(d, image.data_in_code())
    refs = _code_data_refs(image, data_refs)
    _mark_data(d, refs)
    table_entries = [w for lo, hi in refs if (hi - lo) % 4 == 0 and hi - lo >= 8
                     for a in range(lo, hi, 4)
                     for w in [_word(image, a)] if w is not None and image.code_range_of(w)]
    kt = d.ktables = scan_ktables(image)
    d.protected = kt.protected_bytes()
    add_roots("entry", [_virtual(image, image.entry)], True)
    add_roots("kernel tables", sorted(kt.targets | kt.fixups), True)
    add_roots("symbols", sorted(image.symbols), True)
    data_ptrs = _scan_pointers(image, code_lo, code_hi)
    d.maybe_targets.update(data_ptrs)
    d.maybe_targets.update(imm_pointers)
    add_roots("data pointers", sorted(set(data_ptrs)), False)
    add_roots("jump tables in code", sorted(set(table_entries)), True)
    d.maybe_targets.update(table_entries)
    add_roots("immediates", sorted(set(imm_pointers)), False)
    d.targets.update(roots)
    d.root_targets.update(roots)
    d.fixup_only = set(kt.fixups) - set(kt.targets) - set(image.symbols) - \
        {_virtual(image, image.entry)} - set(data_ptrs) - set(table_entries) - set(imm_pointers)

    _traverse(d, cs, roots, cands, CODE, CODE_INNER)
    _validate_gaps(d, cs, cands)
    copied = sorted(kt.copied)
    for a, k in cands.items():
        loc = d.locate(a)
        if d.state[loc[0]][loc[1]] == DATA:
            continue                                # known data, e.g. the multiboot header
        if any(lo <= a < hi for lo, hi in copied):
            d.copied_sites[a] = k
        elif d.is_code_start(a):
            d.sites[a] = k
        else:
            d.unknown_sites[a] = k
    return d


def _word(image: Image, addr: int) -> int | None:
    """The 32-bit word at addr, or None where no segment has file bytes (a code section need
    not lie inside one)."""
    b = image.read(addr, 4)
    return None if b is None else struct.unpack("<I", b)[0]


def _mark_data(d: Disassembly, ranges) -> None:
    """Mark [lo, hi) ranges as known data, unless already proven code (a reference into code is
    then self-inspection, not evidence of data)."""
    for lo, hi in ranges:
        for a in range(lo, hi):
            loc = d.locate(a)
            if loc is not None and d.state[loc[0]][loc[1]] in (UNKNOWN, PADDING):
                d.state[loc[0]][loc[1]] = DATA
                d.lens[loc[0]][loc[1]] = 0
        d.data_refs.append((lo, hi))


def _virtual(image: Image, v: int) -> int:
    """v itself if it lies in a code range, else the virtual address it stands for when it lies
    in a segment's physical range (kernels that run their boot code at physical addresses)."""
    if image.code_range_of(v) is None:
        for s in image.segments:
            if s.paddr != s.vaddr and s.paddr <= v < s.paddr + s.memsz:
                return v + (s.vaddr - s.paddr)
    return v


def _code_data_refs(image: Image, refs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The [start, end) ranges inside code ranges that instructions address as data (and the
    descriptor table an lgdt/lidt operand describes, and register-indexed dword tables up to
    their last entry that points into code). A kernel that runs its boot code at physical addresses (GNU Mach: linked at 0xc1000000, loaded at
    0x01000000) addresses its data there too, so a reference into a segment's physical range
    counts for the virtual address it stands for."""
    virt = lambda v: _virtual(image, v)
    out = set()
    for v, size in refs:
        v = virt(v)
        if image.code_range_of(v) is None:
            continue
        if size < 0:                        # a table: as many entries as point into code
            end = v
            while (w := image.read(end, 4)) and image.code_range_of(
                    struct.unpack("<I", w)[0]) is not None:
                end += 4
            if end > v:
                out.add((v, end))
            continue
        out.add((v, v + size))
        if size == 6:                       # lgdt/lidt: the table it describes is data too
            desc = image.read(v, 6)
            if desc:
                limit, base = struct.unpack("<HI", desc)
                base = virt(base)
                if image.code_range_of(base) is not None:
                    out.add((base, base + limit + 1))
    return sorted(out)


def _scan_pointers(image: Image, lo: int, hi: int) -> list[int]:
    """Every 4-aligned 32-bit value in allocated data that points into a code range."""
    out = []
    if image.bits != 32:
        return out
    ranges = [(r.addr, r.end) for r in image.code]
    for rng in image.data:
        pad = (-rng.addr) & 3
        body = rng.data[pad:]
        words = array.array("I", body[:len(body) & ~3])
        for v in words:
            if lo <= v < hi:
                for a, b in ranges:
                    if a <= v < b:
                        out.append(v)
                        break
    return out


def _decode_one(d: Disassembly, cs: capstone.Cs, i: int, off: int):
    rng = d.image.code[i]
    for _, size, mnem, op in cs.disasm_lite(rng.data[off:off + 16], rng.addr + off, 1):
        if mnem == ".byte":
            return None
        return size, mnem, op
    return None


def _traverse(d: Disassembly, cs, roots: list[int], cands: dict, start_state: int,
              inner_state: int) -> None:
    """Recursive traversal: mark instructions reachable from roots as code (start_state for an
    instruction's first byte, inner_state for the rest), decoding afresh off the sweep's grid."""
    flow = d.flow
    work = list(reversed(roots))
    code = d.image.code
    while work:
        addr = work.pop()
        loc = d.locate(addr)
        if loc is None:
            continue
        i, off = loc
        st, lens, base, data = d.state[i], d.lens[i], code[i].addr, code[i].data
        n = len(st)
        while off < n:
            s = st[off]
            if s == CODE or s == GAP_CODE:
                break                               # joined known code
            if s == DATA:
                break                               # known data (a multiboot header)
            a = base + off
            size = lens[off]
            if size == 0 or s != UNKNOWN and s != PADDING:
                # Off the sweep's boundaries (or inside an instruction seen before): decode here.
                dec = _decode_one(d, cs, i, off)
                if dec is None:
                    break                           # invalid instruction: stop this path
                size, mnem, op = dec
                lens[off] = size
                last = mnem.rsplit(" ", 1)[-1]
                f = _flow_of(mnem, op) if last in _FLOW_MNEMONICS else None
                if f is not None:
                    flow[a] = f
                else:
                    flow.pop(a, None)
                if "[0x" in op or ("*" in op and "+ 0x" in op):
                    m = _MEM_ABS.search(op)
                    if m is not None:
                        _mark_data(d, _code_data_refs(d.image, [(int(m.group(1), 16), _REF_SIZE.get(
                            last) or _PTR_SIZE.get(op.split(" ptr", 1)[0], 4))]))
                k = classify(data[off:off + size]) if last in CANDIDATE_MNEMONICS else None
                if k is not None:
                    cands[a] = k
                else:
                    cands.pop(a, None)
            end = off + size
            if end > n:
                break
            st[off] = start_state
            if size > 1:
                st[off + 1:end] = _FILL[inner_state][size]
                if lens[off + 1:end] != _ZEROS[size]:
                    for k in range(off + 1, end):   # the sweep was out of step here
                        if lens[k]:
                            lens[k] = 0
                            flow.pop(base + k, None)
                            cands.pop(base + k, None)
            d.ninsns += 1
            f = flow.get(a)
            if f is not None:
                t, tgt = f
                if tgt is not None:
                    d.targets.add(tgt)
                    work.append(tgt)
                if t in NO_FALLTHROUGH:
                    break
                if t in (CALL, ICALL):
                    d.targets.add(a + size)         # the return lands here
            off = end


def _is_nop(code: bytes) -> bool:
    """The alignment fillers compilers and assemblers emit: nop (any prefixes), nopl/nopw
    (0f 1f /0), `lea r, [r + 0]` in its disp8/disp32/SIB forms, and `mov r, r`."""
    i = 0
    while i < len(code) - 1 and code[i] in (0x66, 0x2E, 0x3E):
        i += 1
    op = code[i:]
    if not op:
        return False
    if op[0] == 0x90 or op[:2] == b"\x0f\x1f":
        return True
    if op[0] == 0x89 and len(op) == 2:                  # mov r, r
        return op[1] >> 6 == 3 and (op[1] >> 3) & 7 == op[1] & 7
    if op[0] == 0x8D and len(op) >= 3:                  # lea r, [r + 0]
        modrm = op[1]
        reg, rm, mod = (modrm >> 3) & 7, modrm & 7, modrm >> 6
        if mod not in (1, 2):
            return False
        if rm == 4:                                     # SIB: index none, base == reg
            sib = op[2]
            disp = op[3:]
            return (sib >> 3) & 7 == 4 and sib & 7 == reg and not any(disp)
        return rm == reg and not any(op[2:])
    return False


def _padding_run(st: bytearray, data: bytes, off: int) -> int:
    """End of a run of one padding byte value (00, 90 or cc) starting at off, or off."""
    b = data[off]
    if b not in _PADDING_BYTES:
        return off
    end = off
    n = len(st)
    while end < n and st[end] == UNKNOWN and data[end] == b:
        end += 1
    return end


def _sweep_boundary(d: Disassembly, addr: int) -> bool:
    """addr starts an instruction of the linear sweep in bytes not yet classified."""
    loc = d.locate(addr)
    return loc is not None and d.state[loc[0]][loc[1]] == UNKNOWN and d.lens[loc[0]][loc[1]] > 0


def _chunk_is_code(d: Disassembly, i: int, start: int, end: int) -> bool:
    """A gap chunk is accepted as code when every direct branch in it lands on an instruction
    boundary (of the chunk, of known code, or of the sweep in other unclassified bytes), never
    into the middle of something. Misdecoded data rarely keeps its branches on the grid."""
    rng = d.image.code[i]
    lens = d.lens[i]
    bounds = set()
    off = start
    while off < end:
        bounds.add(rng.addr + off)
        off += lens[off]
    for a in bounds:
        f = d.flow.get(a)
        if f is None or f[1] is None:
            continue
        tgt = f[1]
        if tgt in bounds or d.is_code_start(tgt) or _sweep_boundary(d, tgt):
            continue
        if d.locate(tgt) is None and f[0] in (CALL, JMP):
            continue                                # outside the code ranges: cannot judge
        return False
    return True


def _validate_gaps(d: Disassembly, cs, cands: dict) -> None:
    """Accept gap chunks that look like real code, traverse from them, and mark padding.

    A chunk is a run of sweep instructions in unclassified bytes ending in an unconditional
    transfer (ret, jmp, ...), or running into known code or padding after at least
    FALLTHROUGH_MIN_BYTES and FALLTHROUGH_MIN_INSNS: a function head nobody references falls
    into its own body that a fixup or pointer made known, and a function ending in a call to
    a noreturn function runs into alignment padding, while a few data bytes before a function
    can decode and fall onto it by chance. Where the sweep is off the grid after padding (an odd
    run of 00 swallows the next instruction's first byte), the gap is swept again from there."""
    seeds = []
    for i, rng in enumerate(d.image.code):
        st, lens, data, base = d.state[i], d.lens[i], rng.data, rng.addr
        n = len(st)
        off = 0
        while off < n:
            if st[off] != UNKNOWN:
                off += 1
                continue
            end = _padding_run(st, data, off)
            if end == off:                               # multi-byte nops between functions
                while end < n and st[end] == UNKNOWN and lens[end] and \
                        _is_nop(data[end:end + lens[end]]):
                    end += lens[end]
            if end > off:
                st[off:end] = bytes([PADDING]) * (end - off)
                off = end
                continue
            if lens[off] == 0:
                run_end = off
                while run_end < n and st[run_end] == UNKNOWN:
                    run_end += 1
                _sweep(d, cs, i, off, run_end, cands)
                if lens[off] == 0:
                    off += 1                            # undecodable byte
                    continue
            start = off
            ended = False
            count = 0
            while off < n and st[off] == UNKNOWN:
                size = lens[off]
                if size == 0:
                    break
                f = d.flow.get(base + off)
                off += size
                count += 1
                if f is not None and f[0] in NO_FALLTHROUGH:
                    ended = True
                    break
            # no transfer at the end: into known code, or into padding (a call to a noreturn
            # function such as panic() ends many functions), or the end of the range
            runs_on = not ended and (off >= n or st[off] in (CODE, GAP_CODE, PADDING) or
                                     data[off] in _PADDING_BYTES) and \
                off - start >= FALLTHROUGH_MIN_BYTES and count >= FALLTHROUGH_MIN_INSNS
            if (ended or runs_on) and off <= n and _chunk_is_code(d, i, start, off):
                seeds.append(base + start)
            off = max(off, start + 1)
    if seeds:
        d.roots["validated gaps"] = len(seeds)
        d.targets.update(seeds)
        d.root_targets.update(seeds)
        d.fixup_only.difference_update(seeds)
        _traverse(d, cs, seeds, cands, GAP_CODE, GAP_CODE_INNER)
