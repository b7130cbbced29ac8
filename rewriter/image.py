"""Stage 1 — load a kernel image: ELF32 i386 (rewritable), ELF64 x86-64 (analysis only), or a
raw multiboot a.out-kludge binary, with its multiboot header, load addresses and symbols.

The ELF is read with LIEF after a structural check of our own, so that a bad file gets one clear
sentence instead of LIEF's log noise or a half-parsed object.
"""

from __future__ import annotations

import hashlib
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import abi, elf
from .elf import EM_386, EM_X86_64, PF_X, PT_LOAD, PT_NOTE, SHT_NOTE
from .errors import BadInput
from .multiboot import Multiboot, find_multiboot

@dataclass
class Segment:
    """A loadable segment: file bytes [offset, offset+filesz) at vaddr (and paddr)."""
    vaddr: int
    paddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int

    @property
    def executable(self) -> bool:
        return bool(self.flags & PF_X)


@dataclass
class CodeRange:
    """A range of bytes to disassemble: an executable section (or segment, without sections)."""
    name: str
    addr: int
    data: bytes
    offset: int | None = None    # file offset of the bytes, when they come from a section

    @property
    def end(self) -> int:
        return self.addr + len(self.data)


@dataclass
class Image:
    path: str
    raw: bytes
    kind: str                            # "elf32", "elf64" or "multiboot-aout"
    machine: str                         # "i386" or "x86-64"
    entry: int
    segments: list[Segment]
    code: list[CodeRange]                # what to disassemble, sorted by address
    data: list[CodeRange]                # allocated non-executable sections, for pointer scans
    symbols: dict[int, str] = field(default_factory=dict)   # function symbols: addr -> name
    multiboot: Multiboot | None = None
    ring1_note: dict | None = None       # present if the image was already patched
    ring1_options: dict | None = None    # struct r1_options after the note, if recorded
    has_sections: bool = False

    @property
    def bits(self) -> int:
        return 64 if self.kind == "elf64" else 32

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def file_offset(self, vaddr: int, size: int = 1) -> int | None:
        """File offset of [vaddr, vaddr+size) if it lies wholly in one segment's file bytes."""
        for s in self.segments:
            if s.vaddr <= vaddr and vaddr + size <= s.vaddr + s.filesz:
                return s.offset + (vaddr - s.vaddr)
        return None

    def read(self, vaddr: int, size: int) -> bytes | None:
        off = self.file_offset(vaddr, size)
        return None if off is None else self.raw[off:off + size]

    def data_in_code(self) -> list[tuple[int, int]]:
        """Address ranges known to be data even where they lie in an executable range: the
        multiboot header (its checksum often decodes as sti/in), and an ELF32's own header and
        program header table when a segment loads them (emit rewrites the ELF header: a patch
        there would collide with it)."""
        files = []
        if self.multiboot is not None:
            files.append((self.multiboot.offset, self.multiboot.size))
        h = elf.header(self.raw) if self.kind == "elf32" else None
        if h is not None:
            files += [(0, h.size), (h.phoff, h.phentsize * h.phnum)]
        out = []
        for off, size in files:
            for s in self.segments:
                lo, hi = max(off, s.offset), min(off + size, s.offset + s.filesz)
                if lo < hi:
                    out.append((s.vaddr + lo - s.offset, s.vaddr + hi - s.offset))
        return out

    def code_range_of(self, addr: int) -> CodeRange | None:
        for r in self.code:
            if r.addr <= addr < r.end:
                return r
        return None


def _ring1_note_in(raw: bytes, off: int, size: int) -> bytes | None:
    """The descriptor of the ring1 note in the notes at raw[off:off+size], as the runtime's
    loader finds it (the first one whose name and type match; None if that one is too short)."""
    p, end = off, off + size
    while p + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", raw, p)
        name = p + 12
        desc = name + ((namesz + 3) & ~3)
        nxt = desc + ((descsz + 3) & ~3)
        if nxt > end:
            return None
        if ntype == abi.NOTE_ABI and raw[name:name + namesz] == abi.NOTE_NAME + b"\0":
            return raw[desc:desc + descsz] if descsz >= abi.NOTE.size else None
        p = nxt
    return None


def find_ring1_note(raw: bytes) -> bytes | None:
    """The ring1 note's descriptor in an ELF32 file, found the way runtime/loader.c finds it:
    PT_NOTE segments in program-header order, then (only if none has it) SHT_NOTE sections.
    Note names are compared as bytes (a name need not be text)."""
    h = elf.header(raw)
    for p in elf.program_headers(raw, h):
        if p.type == PT_NOTE and p.offset + p.filesz <= len(raw):
            desc = _ring1_note_in(raw, p.offset, p.filesz)
            if desc is not None:
                return desc
    if h.shoff and h.shentsize == elf.SHDR.size and h.shoff + h.shnum * h.shentsize <= len(raw):
        for s in elf.section_headers(raw, h):
            if s.type == SHT_NOTE and s.offset + s.size <= len(raw):
                desc = _ring1_note_in(raw, s.offset, s.size)
                if desc is not None:
                    return desc
    return None


def load(path: str | Path, raw: bytes | None = None) -> Image:
    """Read and check an image (from `raw` if given, `path` then only names it). Raises
    BadInput with one clear sentence for anything unusable."""
    path = str(path)
    try:
        if raw is None:
            raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a kernel image")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file")
    except PermissionError:
        raise BadInput(f"{path}: permission denied")
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}")
    if raw[:4] == b"\x7fELF":
        return _load_elf(path, raw)
    mb = find_multiboot(raw)
    if mb is not None and mb.aout_kludge:
        return _load_aout_kludge(path, raw, mb)
    if not raw:
        raise BadInput(f"{path}: empty file")
    if mb is not None:
        raise BadInput(f"{path}: multiboot header without load addresses (flag 16) and not ELF")
    from .bzimage import is_bzimage
    if is_bzimage(raw):
        raise BadInput(f"{path}: a Linux bzImage: `ring1 boot` and `ring1 run` take it as it "
                       f"is; rewrite or inspect the ELF vmlinux inside it (`ring1 boot` keeps "
                       f"it in its cache)")
    raise BadInput(f"{path}: not an ELF file, a multiboot kernel or a Linux bzImage")


def _check_elf_structure(path: str, raw: bytes) -> tuple[int, int]:
    """Check what LIEF would otherwise half-parse silently; returns (class bits, machine)."""
    if len(raw) < elf.EHDR.size:
        raise BadInput(f"{path}: truncated ELF header ({len(raw)} bytes)")
    ei_class, ei_data = raw[4], raw[5]
    if ei_class not in (elf.ELFCLASS32, elf.ELFCLASS64):
        raise BadInput(f"{path}: bad ELF class {ei_class}")
    if ei_data != elf.ELFDATA2LSB:
        raise BadInput(f"{path}: big-endian ELF is not an x86 kernel")
    h = elf.header(raw)
    if h is None:                        # an ELF64 header is longer
        raise BadInput(f"{path}: truncated ELF header ({len(raw)} bytes)")
    bits, e_machine = h.bits, h.machine
    if e_machine not in (EM_386, EM_X86_64):
        raise BadInput(f"{path}: ELF machine {e_machine} is not x86 (want EM_386 or EM_X86_64)")
    if (bits, e_machine) not in ((32, EM_386), (64, EM_X86_64)):
        raise BadInput(f"{path}: ELF{bits} with machine {e_machine}: not i386 or x86-64")
    ph_size = (elf.PHDR if bits == 32 else elf.PHDR64).size
    if h.phnum == 0:
        raise BadInput(f"{path}: no program headers: not a loadable kernel")
    if h.phentsize != ph_size or h.phoff + h.phnum * ph_size > len(raw):
        raise BadInput(f"{path}: truncated or corrupt program header table")
    any_exec = False
    for i, p in enumerate(elf.program_headers(raw, h)):
        if p.type == PT_LOAD:
            if p.offset + p.filesz > len(raw):
                raise BadInput(f"{path}: truncated: segment {i} needs {p.offset + p.filesz} "
                               f"bytes, file has {len(raw)}")
            any_exec |= bool(p.flags & PF_X) and p.filesz > 0
    if not any_exec:
        raise BadInput(f"{path}: no executable segment")
    sh_size = (elf.SHDR if bits == 32 else elf.SHDR64).size
    if h.shnum and h.shentsize != sh_size:
        # LIEF reads the table sh_size apart whatever the field says, elf.py and emit.py
        # e_shentsize apart: the two would see different sections
        raise BadInput(f"{path}: corrupt section header table (entries of {h.shentsize} "
                       f"bytes, not {sh_size})")
    if h.shnum and (h.shoff + h.shnum * h.shentsize > len(raw)):
        raise BadInput(f"{path}: truncated or corrupt section header table")
    return bits, e_machine


def _load_elf(path: str, raw: bytes) -> Image:
    bits, machine = _check_elf_structure(path, raw)
    with warnings.catch_warnings():
        # LIEF reports a section, segment or symbol type outside its enums as a RuntimeWarning
        # (file and source line on stderr). An odd type is harmless here — only the PT_LOAD,
        # NOBITS and FUNC values matter — and the CLI's stderr is one clear line.
        warnings.simplefilter("ignore")
        return _load_elf_lief(path, raw, bits, machine)


def _name(n: str | bytes) -> str:
    """A section or symbol name: LIEF gives bytes for one that is not UTF-8."""
    return n if isinstance(n, str) else n.decode("utf-8", "backslashreplace")


def _check_disjoint(path: str, code: list[CodeRange]) -> None:
    """The analysis keeps one state per code address: two executable sections (or segments)
    that share addresses would make it loop."""
    rs = sorted(code, key=lambda r: r.addr)
    for a, b in zip(rs, rs[1:]):
        if b.addr < a.end:
            raise BadInput(f"{path}: executable sections '{a.name}' ({a.addr:#x}-{a.end:#x}) and "
                           f"'{b.name}' ({b.addr:#x}-{b.end:#x}) overlap")


def _lief():
    """LIEF, imported at its first use: loading it takes about a second, which `ring1 boot`
    of an image already in the cache (and `--help`, `--version`, `cache`, `fetch`) need not
    spend."""
    import lief
    lief.logging.disable()
    return lief


def _load_elf_lief(path: str, raw: bytes, bits: int, machine: int) -> Image:
    lief = _lief()
    elf = lief.ELF.parse(raw)
    if elf is None:
        raise BadInput(f"{path}: LIEF cannot parse this ELF file")
    segments = [Segment(vaddr=s.virtual_address, paddr=s.physical_address, offset=s.file_offset,
                        filesz=s.physical_size, memsz=s.virtual_size, flags=s.raw_flags)
                for s in elf.segments if s.type == lief.ELF.Segment.TYPE.LOAD]
    code: list[CodeRange] = []
    data: list[CodeRange] = []
    sections = [s for s in elf.sections if s.name or s.size]
    has_sections = any(s.virtual_address for s in sections)
    for s in sections:
        if not s.virtual_address or not s.size or s.type == lief.ELF.Section.TYPE.NOBITS:
            continue
        if not s.has(lief.ELF.Section.FLAGS.ALLOC):
            continue
        if s.file_offset + s.size > len(raw):
            raise BadInput(f"{path}: section {_name(s.name) or '(unnamed)'} (file offset "
                           f"{s.file_offset:#x}, {s.size:#x} bytes) lies outside the file "
                           f"({len(raw):#x} bytes)")
        blob = bytes(raw[s.file_offset:s.file_offset + s.size])
        rng = CodeRange(_name(s.name), s.virtual_address, blob, s.file_offset)
        if s.has(lief.ELF.Section.FLAGS.EXECINSTR):
            code.append(rng)
        else:
            data.append(rng)
    if not has_sections:
        for i, s in enumerate(segments):
            rng = CodeRange(f"segment{i}", s.vaddr, raw[s.offset:s.offset + s.filesz])
            (code if s.executable else data).append(rng)
    if not code:
        raise BadInput(f"{path}: no executable code (no executable section or segment)")
    _check_disjoint(path, code)
    symbols = {}
    for sym in elf.symbols:
        if sym.type == lief.ELF.Symbol.TYPE.FUNC and sym.value:
            symbols.setdefault(sym.value, _name(sym.name))
    ring1_note = ring1_options = None
    desc = find_ring1_note(raw) if bits == 32 else None
    if desc is not None:
        ring1_note = dict(zip(abi.NOTE_FIELDS, abi.NOTE.unpack_from(desc)))
        if len(desc) >= abi.NOTE.size + abi.OPTIONS.size:
            ring1_options = dict(zip(abi.OPTIONS_FIELDS,
                                     abi.OPTIONS.unpack_from(desc, abi.NOTE.size)))
    return Image(path=path, raw=raw, kind=f"elf{bits}",
                 machine="i386" if machine == EM_386 else "x86-64",
                 entry=elf.header.entrypoint, segments=segments,
                 code=sorted(code, key=lambda r: r.addr), data=sorted(data, key=lambda r: r.addr),
                 symbols=symbols, multiboot=find_multiboot(raw), ring1_note=ring1_note,
                 ring1_options=ring1_options, has_sections=has_sections)


def _load_aout_kludge(path: str, raw: bytes, mb: Multiboot) -> Image:
    """A raw binary whose multiboot header gives the load addresses (spec §3.1.3)."""
    if mb.load_addr > mb.header_addr or (mb.load_end_addr and mb.load_end_addr < mb.load_addr):
        raise BadInput(f"{path}: multiboot header has inconsistent load addresses")
    start = mb.offset - (mb.header_addr - mb.load_addr)
    if start < 0:
        raise BadInput(f"{path}: multiboot load_addr lies before the start of the file")
    end = len(raw) if mb.load_end_addr == 0 else start + (mb.load_end_addr - mb.load_addr)
    if end > len(raw):
        raise BadInput(f"{path}: truncated: multiboot header loads {end} bytes, file has {len(raw)}")
    memsz = max(end - start, (mb.bss_end_addr - mb.load_addr) if mb.bss_end_addr else 0)
    seg = Segment(vaddr=mb.load_addr, paddr=mb.load_addr, offset=start, filesz=end - start,
                  memsz=memsz, flags=7)
    return Image(path=path, raw=raw, kind="multiboot-aout", machine="i386", entry=mb.entry_addr,
                 segments=[seg], code=[CodeRange("image", mb.load_addr, raw[start:end])], data=[],
                 multiboot=mb)
