"""ELF files (the System V gABI, the i386 and x86-64 psABI): the one module that knows their
header, program header and section header layouts, for reading and writing. Stdlib only, so
that the kernel fetcher can use it without LIEF.

Reading, in pyelftools' manner: `header(raw)` gives the file header (None if `raw` is not a
little-endian ELF32 or ELF64 file), then `program_headers(raw, h)` and `section_headers(raw,
h)` the tables it describes, each entry as a small dataclass; `extent(raw, h)` is how many
bytes the ELF's own structures cover (a vmlinux.bin is followed by other data). Nothing here
judges a file beyond that: the loader (image.py) says what makes a kernel unusable, in its
own words. Writing (emit.py): the ELF32 structures `EHDR`, `PHDR` and `SHDR`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB = 1
EM_386 = 3
EM_X86_64 = 62
PT_LOAD = 1
PT_NOTE = 4
PF_X, PF_W, PF_R = 1, 2, 4
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_NOTE = 7
SHT_NOBITS = 8
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

EHDR = struct.Struct("<16sHHIIIIIHHHHHH")      # Elf32_Ehdr
PHDR = struct.Struct("<IIIIIIII")              # Elf32_Phdr
SHDR = struct.Struct("<IIIIIIIIII")            # Elf32_Shdr
# Their fields' names in the ELF specification, in order (verify names a changed field by them).
EHDR_FIELDS = ("e_ident", "e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff",
               "e_flags", "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum",
               "e_shstrndx")
PHDR_FIELDS = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
               "p_align")
SHDR_FIELDS = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link",
               "sh_info", "sh_addralign", "sh_entsize")
EHDR64 = struct.Struct("<16sHHIQQQIHHHHHH")    # Elf64_Ehdr
PHDR64 = struct.Struct("<IIQQQQQQ")            # Elf64_Phdr
SHDR64 = struct.Struct("<IIQQQQIIQQ")          # Elf64_Shdr


@dataclass(frozen=True)
class Header:
    """The file header past e_ident (whose class is `cls`)."""
    cls: int                     # ELFCLASS32 or ELFCLASS64
    type: int
    machine: int
    version: int
    entry: int
    phoff: int
    shoff: int
    flags: int
    ehsize: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int

    @property
    def bits(self) -> int:
        return 32 if self.cls == ELFCLASS32 else 64

    @property
    def size(self) -> int:
        """Bytes of the file header itself."""
        return (EHDR if self.cls == ELFCLASS32 else EHDR64).size


@dataclass(frozen=True)
class ProgramHeader:
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    flags: int
    align: int


@dataclass(frozen=True)
class SectionHeader:
    name_off: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    name: str = ""               # from the section name table; "#i" if there is none


def header(raw: bytes) -> Header | None:
    """The file header, or None unless `raw` starts with a whole little-endian ELF32 or ELF64
    header."""
    if len(raw) < EHDR.size or raw[:4] != MAGIC or raw[4] not in (ELFCLASS32, ELFCLASS64) \
            or raw[5] != ELFDATA2LSB:
        return None
    s = EHDR if raw[4] == ELFCLASS32 else EHDR64
    if len(raw) < s.size:
        return None
    return Header(raw[4], *s.unpack_from(raw, 0)[1:])


def program_headers(raw: bytes, h: Header) -> list[ProgramHeader]:
    """The program header table (e_phentsize apart), up to the first entry the file cuts off;
    none if e_phoff is 0 (no table)."""
    out = []
    size = (PHDR if h.cls == ELFCLASS32 else PHDR64).size
    for i in range(h.phnum if h.phoff else 0):
        off = h.phoff + i * h.phentsize
        if off + size > len(raw):
            break
        if h.cls == ELFCLASS32:
            t, o, va, pa, fsz, msz, fl, al = PHDR.unpack_from(raw, off)
        else:
            t, fl, o, va, pa, fsz, msz, al = PHDR64.unpack_from(raw, off)
        out.append(ProgramHeader(t, o, va, pa, fsz, msz, fl, al))
    return out


def section_headers(raw: bytes, h: Header) -> list[SectionHeader]:
    """The section header table (e_shentsize apart), up to the first entry the file cuts off,
    each named from the section name table (decoded as Latin-1; "#i" without that table)."""
    secs = []
    s = SHDR if h.cls == ELFCLASS32 else SHDR64
    for i in range(h.shnum if h.shoff else 0):
        off = h.shoff + i * h.shentsize
        if off + s.size > len(raw):
            break
        secs.append(SectionHeader(*s.unpack_from(raw, off)))
    if secs and h.shstrndx < len(secs):
        st = secs[h.shstrndx]
        strtab = raw[st.offset:st.offset + st.size]
        names = []
        for sec in secs:
            end = strtab.find(b"\0", sec.name_off)
            names.append(strtab[sec.name_off:end if end >= 0 else None].decode("latin-1"))
    else:
        names = [f"#{i}" for i in range(len(secs))]
    return [replace(sec, name=n) for sec, n in zip(secs, names)]


def extent(raw: bytes, h: Header) -> int:
    """The end of the last byte the ELF's own structures cover: the file header, both tables,
    every section with file bytes, every segment's file bytes."""
    end = h.size
    if h.phoff:
        end = max(end, h.phoff + h.phnum * h.phentsize)
    if h.shoff:
        end = max(end, h.shoff + h.shnum * h.shentsize)
    for s in section_headers(raw, h):
        if s.type != SHT_NOBITS and s.type != 0:
            end = max(end, s.offset + s.size)
    for p in program_headers(raw, h):
        if p.filesz:
            end = max(end, p.offset + p.filesz)
    return end
