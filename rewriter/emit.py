"""Stage 6 — write the patched image, and read one back (the format's two sides in one place).

The output is the input file with (a) the patched bytes replaced in place and (b) appended: the
.ring1 segment (header, trampolines, site table, maps, undo records), a PT_NOTE with the ABI
note, a new program header table and, when the input has sections, a new section header table
naming .ring1 and .note.ring1. Only the ELF header changes among the original's own structures,
so every original file offset stays valid, and the input is exactly
`out[:orig_file_size]` with the undo records applied — which is how `ring1 verify` proves that
nothing else changed. Same input and options give the same bytes: nothing here depends on time,
order of a hash or the machine.

(LIEF's builder was the obvious choice for writing; it relocates the program header table and
can move sections, which would break the in-place guarantee above. LIEF reads every output in
the tests, as does readelf.)
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from . import __version__, abi
from .abi import Tactic
from .elf import (EHDR, PF_R, PF_X, PHDR, PT_LOAD, PT_NOTE, SHDR, SHF_ALLOC, SHF_EXECINSTR,
                  SHT_NOTE, SHT_PROGBITS)
from .errors import BadInput, Ring1Error
from .image import Image
from .plan import Plan
from . import trampoline
from .trampoline import ALIGN, Layout, jmp_rel32

PAGE = 0x1000
REWRITER = f"ring1 {__version__}"        # struct r1_options.rewriter


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)


def tramp_base(window_base: int) -> int:
    """Trampolines start right after the header, so their addresses are known before the
    tables (whose sizes depend on the trampolines) are laid out."""
    return abi.image_base(window_base) + _align(abi.HEADER.size, ALIGN)


@dataclass
class Patched:
    data: bytes                  # the whole output file
    layout: Layout
    undo: list[tuple[int, bytes]]
    ring1_size: int


def _range_name(image: Image, addr: int) -> str:
    r = image.code_range_of(addr)
    return f"section {r.name}" if r is not None else "no code section"


def patch_bytes(image: Image, plan: Plan, lay: Layout) -> tuple[bytearray, list]:
    """The input with every region and trap site rewritten, and the undo records."""
    out = bytearray(image.raw)
    undo: list[tuple[int, bytes]] = []
    for r in plan.regions:
        off = image.file_offset(r.start, r.end - r.start)
        if off is None:
            raise BadInput(f"{image.path}: code at {r.start:#x}-{r.end:#x} "
                           f"({_range_name(image, r.start)}) is not inside the file bytes of "
                           f"any PT_LOAD segment: the section and program headers disagree")
        undo.append((off, bytes(out[off:off + r.end - r.start])))
        new = jmp_rel32(r.start, lay.region_tramp[r.start])
        out[off:off + len(new)] = new
        out[off + len(new):off + r.end - r.start] = b"\xCC" * (r.end - r.start - len(new))
    for s in plan.sites:
        if s.tactic == Tactic.TRAP:
            off = image.file_offset(s.addr, s.length)
            if off is None:
                raise BadInput(f"{image.path}: sensitive instruction at {s.addr:#x} "
                               f"({_range_name(image, s.addr)}) is not inside the file bytes "
                               f"of any PT_LOAD segment: the section and program headers "
                               f"disagree")
            undo.append((off, bytes(out[off:off + 1])))
            out[off] = 0xCC
    return out, sorted(undo)


def ring1_segment(image: Image, plan: Plan, lay: Layout, undo: list, orig_size: int) -> bytes:
    w = plan.window_base
    hdr_addr = abi.image_base(w)
    tramp_off = tramp_base(w) - hdr_addr
    sites = bytearray()
    for s in plan.sites:
        tramp = lay.region_tramp.get(s.region, 0) if s.region is not None else 0
        if s.tactic == Tactic.TRAP:
            resume = s.addr + s.length
        else:
            resume = lay.resume.get(s.addr, 0)
        sites += abi.SITE.pack(s.addr, resume, tramp, int(s.kind), int(s.tactic), s.length,
                               s.code.ljust(16, b"\0"))
    o2t = b"".join(abi.MAP.pack(o, t) for o, t in lay.o2t)
    t2o = b"".join(abi.MAP.pack(o, t) for o, t in lay.t2o)
    und = bytearray()
    for off, orig in undo:
        und += abi.UNDO.pack(off, len(orig)) + orig + b"\0" * ((-len(orig)) % 4)
    body = bytearray(b"\0" * tramp_off) + lay.code
    sites_off = _align(len(body), 8)
    body += b"\0" * (sites_off - len(body)) + sites
    o2t_off = len(body)
    body += o2t
    t2o_off = len(body)
    body += t2o
    undo_off = len(body)
    body += und
    if len(body) > abi.IMAGE_MAX:
        raise Ring1Error(f".ring1 segment is {len(body)} bytes; the window holds {abi.IMAGE_MAX}")
    flags = abi.F_TRAP_ONLY if plan.tactics == (Tactic.TRAP,) else 0
    body[:abi.HEADER.size] = abi.HEADER.pack(
        abi.MAGIC, abi.ABI_VERSION, w, abi.HEADER.size, flags, len(plan.sites), sites_off,
        len(lay.o2t), o2t_off, len(lay.t2o), t2o_off, tramp_off, len(lay.code), image.entry,
        undo_off, len(und), orig_size, hashlib.sha256(image.raw).digest())
    return bytes(body)


def _note(desc: bytes) -> bytes:
    name = abi.NOTE_NAME + b"\0"
    return (struct.pack("<III", len(name), len(desc), abi.NOTE_ABI) + name +
            b"\0" * ((-len(name)) % 4) + desc + b"\0" * ((-len(desc)) % 4))


def check_rewritable(image: Image, window_base: int) -> None:
    """Refuse, before any analysis, an image this writer cannot produce an output for."""
    if image.ring1_note is not None:
        raise BadInput(f"{image.path}: already patched by ring1 (ABI "
                       f"{image.ring1_note['abi_version']}); rewrite the original image instead")
    if image.kind == "elf64":
        raise BadInput(f"{image.path}: 64-bit x86-64 images can be inspected but not rewritten")
    if image.kind != "elf32":
        raise BadInput(f"{image.path}: only ELF32 i386 images can be rewritten "
                       f"({image.kind} is analysis-only for now)")
    for r in image.code:
        # the code is analysed from its section's bytes and patched through the segments
        at = image.file_offset(r.addr)
        if r.offset is not None and at is not None and at != r.offset:
            raise BadInput(f"{image.path}: section '{r.name}' at {r.addr:#x} is at file offset "
                           f"{r.offset:#x}, but its segment puts that address at {at:#x}")
    w = window_base
    for s in image.segments:
        if s.vaddr < w + abi.WINDOW_SIZE and w < s.vaddr + s.memsz:
            raise BadInput(f"{image.path}: segment at {s.vaddr:#x}-{s.vaddr + s.memsz:#x} "
                           f"overlaps the hypervisor window at {w:#x}; choose another "
                           f"--window")


def emit(image: Image, plan: Plan, d, record_options: bool = True) -> Patched:
    """The output file. `record_options=False` leaves struct r1_options out of the note, as
    images made before it existed are (verify re-runs those that way)."""
    check_rewritable(image, plan.window_base)
    w = plan.window_base
    lay = trampoline.build(plan, d, tramp_base(w))

    raw = image.raw
    out, undo = patch_bytes(image, plan, lay)
    ehdr = EHDR.unpack_from(raw, 0)
    (ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
     e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = ehdr
    undo = sorted(undo + [(0, bytes(raw[:EHDR.size]))])
    seg = ring1_segment(image, plan, lay, undo, len(raw))
    hdr_addr = abi.image_base(w)

    seg_off = _align(len(out), PAGE)
    out += b"\0" * (seg_off - len(out)) + seg
    desc = abi.NOTE.pack(abi.ABI_VERSION, w, hdr_addr,
                         abi.F_TRAP_ONLY if plan.tactics == (Tactic.TRAP,) else 0,
                         hashlib.sha256(raw).digest())
    if record_options:
        desc += abi.OPTIONS.pack(abi.tactic_bits(plan.tactics), 0, REWRITER.encode())
    note_off = _align(len(out), 4)
    note = _note(desc)
    out += b"\0" * (note_off - len(out)) + note
    phdrs = bytearray(raw[e_phoff:e_phoff + e_phnum * PHDR.size])
    phdrs += PHDR.pack(PT_LOAD, seg_off, hdr_addr, hdr_addr, len(seg), len(seg), PF_R | PF_X, PAGE)
    phdrs += PHDR.pack(PT_NOTE, note_off, 0, 0, len(note), len(note), PF_R, 4)
    ph_off = _align(len(out), 4)
    out += b"\0" * (ph_off - len(out)) + phdrs
    new_shoff, new_shnum = e_shoff, e_shnum
    if e_shnum and e_shstrndx < e_shnum:
        shdrs = [list(SHDR.unpack_from(raw, e_shoff + i * e_shentsize)) for i in range(e_shnum)]
        strtab = shdrs[e_shstrndx]
        names = bytearray(raw[strtab[4]:strtab[4] + strtab[5]])
        n_ring1 = len(names)
        names += abi.SECTION_NAME.encode() + b"\0"
        n_note = len(names)
        names += b".note.ring1\0"
        str_off = len(out)
        out += names
        strtab[4], strtab[5] = str_off, len(names)
        shdrs.append([n_ring1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, hdr_addr, seg_off,
                      len(seg), 0, 0, 16, 0])
        shdrs.append([n_note, SHT_NOTE, 0, 0, note_off, len(note), 0, 0, 4, 0])
        new_shoff = _align(len(out), 4)
        out += b"\0" * (new_shoff - len(out))
        for sh in shdrs:
            out += SHDR.pack(*sh)
        new_shnum = len(shdrs)
        e_shentsize = SHDR.size
    out[:EHDR.size] = EHDR.pack(ident, e_type, e_machine, e_version, e_entry, ph_off, new_shoff,
                                e_flags, e_ehsize, PHDR.size, e_phnum + 2, e_shentsize,
                                new_shnum, e_shstrndx)
    return Patched(data=bytes(out), layout=lay, undo=undo, ring1_size=len(seg))


# --- reading a patched image back ------------------------------------------------------------
@dataclass
class Ring1:
    note: dict
    header: dict
    addr: int                           # address of the header
    segment: bytes                      # the whole .ring1 segment
    sites: list[dict]
    o2t: list[tuple[int, int]]
    t2o: list[tuple[int, int]]
    undo: list[tuple[int, bytes]]

    @property
    def tramp_addr(self) -> int:
        return self.addr + self.header["tramp_off"]

    @property
    def tramp_code(self) -> bytes:
        o = self.header["tramp_off"]
        return self.segment[o:o + self.header["tramp_size"]]


def read_ring1(image: Image) -> Ring1:
    """Parse the ring1 note and .ring1 segment of a patched image (raises BadInput if absent
    or malformed)."""
    if image.ring1_note is None:
        raise BadInput(f"{image.path}: not a ring1-patched image (no ring1 note)")
    note = image.ring1_note
    if note["abi_version"] != abi.ABI_VERSION:
        raise BadInput(f"{image.path}: ring1 ABI version {note['abi_version']}, this ring1 "
                       f"speaks {abi.ABI_VERSION}")
    addr = note["image_vaddr"]
    seg = next((s for s in image.segments if s.vaddr == addr), None)
    if seg is None:
        raise BadInput(f"{image.path}: no segment at the .ring1 address {addr:#x}")
    data = image.raw[seg.offset:seg.offset + seg.filesz]
    if len(data) < abi.HEADER.size:
        raise BadInput(f"{image.path}: .ring1 segment truncated ({len(data)} bytes, the header "
                       f"alone is {abi.HEADER.size})")
    hdr = dict(zip(abi.HEADER_FIELDS, abi.HEADER.unpack_from(data)))
    if hdr["magic"] != abi.MAGIC:
        raise BadInput(f"{image.path}: .ring1 segment has bad magic {hdr['magic']!r}")
    # every table inside the segment, checked before anything is read (a count of 2**32 - 1
    # must not become a loop)
    for what, off, n, size in (("site table", hdr["sites_off"], hdr["nsites"], abi.SITE.size),
                               ("o2t map", hdr["map_o2t_off"], hdr["nmap_o2t"], abi.MAP.size),
                               ("t2o map", hdr["map_t2o_off"], hdr["nmap_t2o"], abi.MAP.size),
                               ("trampoline area", hdr["tramp_off"], hdr["tramp_size"], 1),
                               ("undo records", hdr["undo_off"], hdr["undo_size"], 1)):
        if off + n * size > len(data):
            raise BadInput(f"{image.path}: .ring1 {what} ({n} x {size} bytes at offset "
                           f"{off:#x}) runs past the end of the {len(data)}-byte segment")
    sites = [dict(zip(abi.SITE_FIELDS, abi.SITE.unpack_from(data, hdr["sites_off"] + i *
                                                           abi.SITE.size)))
             for i in range(hdr["nsites"])]
    kinds = set(abi.Kind)
    for i, s in enumerate(sites):
        if s["kind"] not in kinds:
            raise BadInput(f"{image.path}: .ring1 site {i} ({s['addr']:#x}) has unknown kind "
                           f"{s['kind']}")
    o2t = [abi.MAP.unpack_from(data, hdr["map_o2t_off"] + i * 8) for i in range(hdr["nmap_o2t"])]
    t2o = [abi.MAP.unpack_from(data, hdr["map_t2o_off"] + i * 8) for i in range(hdr["nmap_t2o"])]
    undo = []
    p, end = hdr["undo_off"], hdr["undo_off"] + hdr["undo_size"]
    while p < end:
        if p + abi.UNDO.size > end:
            raise BadInput(f"{image.path}: .ring1 undo record at segment offset {p:#x} is cut "
                           f"off by the end of the undo records")
        off, ln = abi.UNDO.unpack_from(data, p)
        p += abi.UNDO.size
        if p + ln > end:
            raise BadInput(f"{image.path}: .ring1 undo record for file offset {off:#x} "
                           f"({ln} bytes) runs past the end of the undo records")
        undo.append((off, bytes(data[p:p + ln])))
        p += _align(ln, 4)
    return Ring1(note=note, header=hdr, addr=addr, segment=data, sites=sites, o2t=o2t, t2o=t2o,
                 undo=undo)


def reconstruct_input(image: Image, r1: Ring1) -> bytes:
    """The original input file, rebuilt from a patched image and its undo records."""
    out = bytearray(image.raw[:r1.header["orig_file_size"]])
    for off, orig in r1.undo:
        out[off:off + len(orig)] = orig
    return bytes(out)
