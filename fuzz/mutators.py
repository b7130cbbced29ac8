"""Structure-aware mutations of kernel images, for the rewriter's fuzzers.

Each mutator takes the image bytes and a `random.Random` and returns new bytes; everything
random comes from that generator, so a seed gives the same mutations on every machine (the
smoke run in `make test` depends on it). The structures are found by a small parser of its
own (never the rewriter's: the point is to feed the rewriter what it would not produce):

- ELF32/ELF64 header fields, program header and section header fields;
- the multiboot v1 header (magic, flags, checksum kept valid or not) and its a.out kludge
  address fields;
- notes (PT_NOTE segments and SHT_NOTE sections): namesz, descsz, type, name and desc bytes,
  the ring1 note's fields;
- the .ring1 segment of a rewritten image: header fields, site table entries, map entries,
  undo records;
- code: sensitive and branch instruction bytes written into executable segments;
- truncation at structure boundaries, and plain byte-level mutations on top.
"""

from __future__ import annotations

import random
import struct

MULTIBOOT_MAGIC = 0x1BADB002
PT_LOAD, PT_NOTE = 1, 4
SHT_NOTE = 7
RING1_MAGIC = b"RING1IMG"

# A field: (file offset, size in bytes, name). Names only help when reading a finding.
Field = tuple[int, int, str]

_EHDR32 = [(16, 2, "e_type"), (18, 2, "e_machine"), (20, 4, "e_version"), (24, 4, "e_entry"),
           (28, 4, "e_phoff"), (32, 4, "e_shoff"), (36, 4, "e_flags"), (40, 2, "e_ehsize"),
           (42, 2, "e_phentsize"), (44, 2, "e_phnum"), (46, 2, "e_shentsize"),
           (48, 2, "e_shnum"), (50, 2, "e_shstrndx"), (4, 1, "ei_class"), (5, 1, "ei_data"),
           (6, 1, "ei_version")]
_PHDR32 = [(0, 4, "p_type"), (4, 4, "p_offset"), (8, 4, "p_vaddr"), (12, 4, "p_paddr"),
           (16, 4, "p_filesz"), (20, 4, "p_memsz"), (24, 4, "p_flags"), (28, 4, "p_align")]
_SHDR32 = [(0, 4, "sh_name"), (4, 4, "sh_type"), (8, 4, "sh_flags"), (12, 4, "sh_addr"),
           (16, 4, "sh_offset"), (20, 4, "sh_size"), (24, 4, "sh_link"), (28, 4, "sh_info"),
           (32, 4, "sh_addralign"), (36, 4, "sh_entsize")]
_MB = ["magic", "flags", "checksum", "header_addr", "load_addr", "load_end_addr",
       "bss_end_addr", "entry_addr"]
_R1_HEADER = ["abi_version", "window_base", "header_size", "flags", "nsites", "sites_off",
              "nmap_o2t", "map_o2t_off", "nmap_t2o", "map_t2o_off", "tramp_off", "tramp_size",
              "entry_point", "undo_off", "undo_size", "orig_file_size"]
_R1_SITE = [(0, 4, "addr"), (4, 4, "resume"), (8, 4, "tramp"), (12, 2, "kind"),
            (14, 1, "tactic"), (15, 1, "len")]

# Sensitive instructions and control transfers, the rewriter's business (any one of them
# written over code makes a site, a region boundary or a branch into the middle of one).
CODE_SNIPPETS = [bytes.fromhex(h) for h in (
    "fa", "fb", "f4", "9c", "9d", "cf", "66cf", "cc", "cd80", "ce", "f1", "e460", "e680", "ec",
    "ee", "6c", "6e", "f36d", "0f20c0", "0f22d8", "0f21c0", "0f23f8", "0f0115" + "00100000",
    "0f011d00100000", "0f00d8", "0f00d0", "0f017800", "0f09", "0f08", "0f06", "0f01f0",
    "0f32", "0f30", "0f33", "0f34", "0f35", "0fa2", "0f31", "0f01f9", "8ed8", "8cd8", "1f",
    "07", "17", "0fa1", "0fa9", "06", "0e", "c5f0", "c4f0", "0fb2f0", "ea000010000800",
    "9a000010000800", "cb", "ca0400", "0f01c8", "0f01c9", "0f01d1", "0f01ca", "0f01cb",
    "0f02c0", "0f03c0", "0f00e0", "0f00e8", "0f014000", "0f010000", "0f00c0", "0f00c8",
    "e900000000", "e8fbffffff", "ebfe", "74fe", "0f84faffffff", "c3", "c20400", "ffe0", "ff20",
    "ff2485" + "00100000", "e2fe", "e3fe", "90", "0f1f4000", "00", "f0", "66", "2e", "3e",
)]

INTERESTING32 = [0, 1, 2, 3, 4, 7, 8, 0x10, 0x20, 0x34, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000,
                 0x7fff, 0x8000, 0xffff, 0x10000, 0x100000, 0x400000, 0x7fffffff, 0x80000000,
                 0xbfffffff, 0xc0000000, 0xc0100000, 0xffc00000, 0xffc10000, 0xfffff000,
                 0xfffffffc, 0xfffffffe, 0xffffffff]


def u(data, off: int, size: int) -> int:
    return int.from_bytes(data[off:off + size], "little")


def put(data: bytearray, off: int, size: int, value: int) -> None:
    if 0 <= off and off + size <= len(data):
        data[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class Layout:
    """Where the mutable structures of one image are (best effort: a broken image gives
    fewer fields, never an exception)."""

    def __init__(self, data: bytes):
        self.fields: dict[str, list[Field]] = {"elf": [], "phdr": [], "shdr": [], "mb": [],
                                              "note": [], "ring1": []}
        self.exec_ranges: list[tuple[int, int]] = []   # file offsets of executable bytes
        self.cuts: list[int] = []                       # interesting truncation points
        self.notes: list[tuple[int, int, int]] = []     # (header offset, namesz, descsz)
        self.mb: int | None = None
        self.ring1: int | None = None
        try:
            self._elf(data)
        except (struct.error, IndexError, ValueError):
            pass
        self._multiboot(data)
        self._ring1(data)

    def _elf(self, d: bytes) -> None:
        if d[:4] != b"\x7fELF" or len(d) < 52:
            return
        self.fields["elf"] = list(_EHDR32)
        if d[4] != 1:        # ELF64: only the identification and the fields they share
            self.fields["elf"] = [f for f in _EHDR32 if f[0] < 24]
            return
        phoff, shoff = u(d, 28, 4), u(d, 32, 4)
        phnum, shnum = min(u(d, 44, 2), 64), min(u(d, 48, 2), 128)
        self.cuts += [52, phoff, phoff + 32 * phnum, shoff, shoff + 40 * shnum]
        for i in range(phnum):
            base = phoff + 32 * i
            if base + 32 > len(d):
                break
            self.fields["phdr"] += [(base + o, s, f"phdr[{i}].{n}") for o, s, n in _PHDR32]
            ptype, off, filesz, flags = u(d, base, 4), u(d, base + 4, 4), u(d, base + 16, 4), \
                u(d, base + 24, 4)
            self.cuts += [off, off + filesz // 2, off + filesz]
            if ptype == PT_LOAD and flags & 1 and filesz:
                self.exec_ranges.append((off, min(off + filesz, len(d))))
            if ptype == PT_NOTE:
                self._note_area(d, off, filesz)
        for i in range(shnum):
            base = shoff + 40 * i
            if base + 40 > len(d):
                break
            self.fields["shdr"] += [(base + o, s, f"shdr[{i}].{n}") for o, s, n in _SHDR32]
            if u(d, base + 4, 4) == SHT_NOTE:
                self._note_area(d, u(d, base + 16, 4), u(d, base + 20, 4))

    def _note_area(self, d: bytes, off: int, size: int) -> None:
        end = min(off + size, len(d))
        p = off
        while p + 12 <= end and len(self.notes) < 16:
            namesz, descsz = u(d, p, 4), u(d, p + 4, 4)
            self.notes.append((p, namesz, descsz))
            self.fields["note"] += [(p, 4, "note.namesz"), (p + 4, 4, "note.descsz"),
                                    (p + 8, 4, "note.type")]
            desc = p + 12 + ((namesz + 3) & ~3)
            if d[p + 12:p + 12 + 5] == b"ring1":     # struct r1_note
                self.fields["note"] += [(desc + o, 4, f"ring1_note.{n}") for o, n in
                                        ((0, "abi_version"), (4, "window_base"),
                                         (8, "image_vaddr"), (12, "flags"))]
            p = desc + ((descsz + 3) & ~3)

    def _multiboot(self, d: bytes) -> None:
        for off in range(0, min(len(d), 8192) - 11, 4):
            if u(d, off, 4) == MULTIBOOT_MAGIC:
                self.mb = off
                self.fields["mb"] = [(off + 4 * i, 4, f"mb.{n}") for i, n in enumerate(_MB)]
                self.cuts += [off + 12, off + 32]
                return

    def _ring1(self, d: bytes) -> None:
        off = d.rfind(RING1_MAGIC)
        if off < 0:
            return
        self.ring1 = off
        hdr = [(off + 8 + 4 * i, 4, f"r1.{n}") for i, n in enumerate(_R1_HEADER)]
        self.fields["ring1"] = hdr
        sites_off, nsites = u(d, off + 28, 4), min(u(d, off + 24, 4), 4096)
        for i in range(nsites):
            base = off + sites_off + 32 * i
            if base + 32 > len(d):
                break
            self.fields["ring1"] += [(base + o, s, f"site[{i}].{n}") for o, s, n in _R1_SITE]
        for cnt, at, name in ((32, 36, "o2t"), (40, 44, "t2o")):
            n, moff = min(u(d, off + cnt, 4), 4096), u(d, off + at, 4)
            for i in range(n):
                base = off + moff + 8 * i
                if base + 8 > len(d):
                    break
                self.fields["ring1"] += [(base, 4, f"{name}[{i}].orig"),
                                         (base + 4, 4, f"{name}[{i}].tramp")]
        uoff = off + u(d, off + 60, 4)
        self.fields["ring1"] += [(uoff, 4, "undo[0].offset"), (uoff + 4, 4, "undo[0].len")]
        self.cuts += [off, off + 104, off + sites_off, uoff]


def _value(rng: random.Random, old: int, size: int, data_len: int) -> int:
    r = rng.random()
    if r < 0.35:
        v = rng.choice(INTERESTING32 + [data_len, data_len - 1, data_len + 1, data_len // 2])
    elif r < 0.6:
        v = old + rng.choice([-8, -4, -2, -1, 1, 2, 4, 8, 16, 0x1000, -0x1000])
    elif r < 0.8:
        v = old ^ (1 << rng.randrange(8 * size))
    elif r < 0.9:
        v = rng.getrandbits(8 * size)
    else:
        v = old * 2 or 1
    return v & ((1 << (8 * size)) - 1)


def _fix_mb_checksum(d: bytearray, lay: Layout) -> None:
    if lay.mb is not None and lay.mb + 12 <= len(d):
        magic, flags = u(d, lay.mb, 4), u(d, lay.mb + 4, 4)
        put(d, lay.mb + 8, 4, -(magic + flags))


# ---- the mutators ---------------------------------------------------------------------------
def mutate_field(data: bytes, rng: random.Random, lay: Layout, group: str | None = None) -> bytes:
    groups = [g for g, fs in lay.fields.items() if fs and (group is None or g == group)]
    if not groups:
        return mutate_bytes(data, rng, lay)
    g = rng.choice(groups)
    off, size, name = rng.choice(lay.fields[g])
    d = bytearray(data)
    put(d, off, size, _value(rng, u(d, off, size), size, len(d)))
    if g == "mb" and name != "mb.checksum" and rng.random() < 0.8:
        _fix_mb_checksum(d, lay)       # keep the header valid, so the loader reads the rest
    return bytes(d)


def mutate_multiboot(data: bytes, rng: random.Random, lay: Layout) -> bytes:
    """Flip the a.out kludge (flag 16) or other flags, or move the load addresses about."""
    if lay.mb is None:
        return mutate_field(data, rng, lay)
    d = bytearray(data)
    mb = lay.mb
    r = rng.random()
    if r < 0.4:
        put(d, mb + 4, 4, u(d, mb + 4, 4) ^ (1 << rng.choice([0, 1, 2, 16, 16, 16, 31])))
    else:
        # a.out kludge fields, consistent-looking or not
        load = rng.choice([0x100000, 0x101000, 0x200000, 0, 0xffffffff, u(d, mb + 16, 4)])
        header = load + mb if rng.random() < 0.7 else _value(rng, load, 4, len(d))
        end = load + rng.choice([len(d), len(d) // 2, len(d) + 0x1000, 0, 1])
        bss = end + rng.choice([0, 0x1000, 0x100000, -1])
        entry = load + rng.randrange(max(1, len(d)))
        put(d, mb + 4, 4, u(d, mb + 4, 4) | 0x10000)
        for i, v in enumerate((header, load, end, bss, entry)):
            put(d, mb + 12 + 4 * i, 4, v)
    _fix_mb_checksum(d, lay)
    return bytes(d)


def mutate_note(data: bytes, rng: random.Random, lay: Layout) -> bytes:
    if not lay.notes:
        return mutate_field(data, rng, lay)
    p, namesz, descsz = rng.choice(lay.notes)
    d = bytearray(data)
    r = rng.random()
    if r < 0.4:
        return mutate_field(data, rng, lay, "note")
    if r < 0.7 and namesz:      # name bytes: not UTF-8, no NUL, another name
        i = p + 12 + rng.randrange(min(namesz, 32))
        if i < len(d):
            d[i] = rng.choice([0xff, 0x80, 0xc3, 0x00, ord("X")])
    elif descsz:                # desc bytes
        i = p + 12 + ((namesz + 3) & ~3) + rng.randrange(min(descsz, 64))
        if i < len(d):
            d[i] = rng.getrandbits(8)
    return bytes(d)


def mutate_code(data: bytes, rng: random.Random, lay: Layout) -> bytes:
    if not lay.exec_ranges:
        return mutate_bytes(data, rng, lay)
    lo, hi = rng.choice(lay.exec_ranges)
    if hi <= lo:
        return data
    d = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        snip = rng.choice(CODE_SNIPPETS)
        at = rng.randrange(lo, hi)
        d[at:at + len(snip)] = snip[:max(0, hi - at)]
    return bytes(d[:len(data)])


def truncate(data: bytes, rng: random.Random, lay: Layout) -> bytes:
    cuts = [c for c in lay.cuts if 0 < c < len(data)]
    if cuts and rng.random() < 0.8:
        c = rng.choice(cuts) + rng.choice([0, 0, -1, 1, -4])
    else:
        c = rng.randrange(len(data) + 1)
    return data[:max(0, c)]


def mutate_bytes(data: bytes, rng: random.Random, lay: Layout | None = None) -> bytes:
    d = bytearray(data)
    if not d:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(64)))
    r = rng.random()
    if r < 0.5:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(d))
            d[i] ^= 1 << rng.randrange(8)
    elif r < 0.7:
        i = rng.randrange(len(d))
        d[i:i + 4] = rng.choice(INTERESTING32).to_bytes(4, "little")
    elif r < 0.85:               # insert or delete: every later offset moves
        i = rng.randrange(len(d))
        if rng.random() < 0.5:
            del d[i:i + rng.randint(1, 16)]
        else:
            d[i:i] = bytes(rng.randint(1, 16))
    else:                        # copy a chunk over another place
        n = rng.randint(1, 64)
        i, j = rng.randrange(len(d)), rng.randrange(len(d))
        d[j:j + n] = d[i:i + n]
    return bytes(d)


MUTATORS = [
    (mutate_field, 6),
    (mutate_multiboot, 2),
    (mutate_note, 2),
    (mutate_code, 3),
    (truncate, 1),
    (mutate_bytes, 2),
]


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> tuple[bytes, list[str]]:
    """Apply 1-3 mutations; returns the new bytes and the mutators' names (for the log)."""
    names = []
    fns, weights = zip(*MUTATORS)
    for _ in range(rounds or rng.choice([1, 1, 2, 3])):
        fn = rng.choices(fns, weights)[0]
        data = fn(data, rng, Layout(data))
        names.append(fn.__name__)
    return data, names
