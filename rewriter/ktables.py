"""Kernel tables that change what may be patched: code the kernel rewrites or copies at boot, and
code reached only through relative offsets that a pointer scan cannot see.

Linux (x86, 32-bit; layouts of v6.1, each table checked for a whole number of entries and every
decoded address inside the image before it is trusted):
  .altinstructions     struct alt_instr {s32 instr, repl; u16 cpuid; u8 instrlen, repllen}: the
                       kernel overwrites [instr, +instrlen) at boot -> protected, and what
                       follows it becomes reachable -> branch target; the replacement
                       in .altinstr_replacement is copied there -> "copied" (never patched: a
                       jmp rel32 moved elsewhere would land wrong)
  .parainstructions    struct paravirt_patch_site {u8 *instr; u8 type, len} -> protected
  .smp_locks           s32 -> a `lock` prefix the kernel toggles -> protected (1 byte)
  __jump_table         {s32 code, target; long key} -> site protected (its jmp/nop), target
                       and the code after the site are branch targets; a stripped vmlinux has
                       no such section: the table is then found by its shape in .rodata/.data
  __ex_table           {s32 insn, fixup, data} -> fixup is a code root reached only by the
                       exception handler's return (`fixups`: the runtime emulates that iret and
                       sends it to a moved instruction's piece, so a region may hold one)
  .static_call_sites   {s32 addr, key} -> protected (5 bytes)
  __mcount_loc         u32 addresses of `call __fentry__` -> protected (5 bytes)
Sections absent from an image are simply skipped; GNU Mach has none of these.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .image import Image


@dataclass
class KTables:
    protected: list[tuple[int, int, str]] = field(default_factory=list)  # [start, end), table
    copied: list[tuple[int, int]] = field(default_factory=list)          # code run elsewhere
    targets: set[int] = field(default_factory=set)
    fixups: set[int] = field(default_factory=set)                        # __ex_table fixups
    tables: dict[str, int] = field(default_factory=dict)                 # table -> entries used
    warnings: list[str] = field(default_factory=list)

    def protected_bytes(self) -> set[int]:
        out: set[int] = set()
        for a, b, _ in self.protected:
            out.update(range(a, b))
        return out


def _section(image: Image, name: str):
    for r in image.data + image.code:
        if r.name == name:
            return r
    return None


def _rel_table(image: Image, kt: KTables, name: str, size: int, fn) -> None:
    sec = _section(image, name)
    if sec is None:
        return
    if len(sec.data) % size:
        kt.warnings.append(f"{name}: {len(sec.data)} bytes is not a whole number of "
                           f"{size}-byte entries; ignored")
        return
    lo = min(s.vaddr for s in image.segments)
    hi = max(s.vaddr + s.memsz for s in image.segments)
    n = 0
    pending = []
    for off in range(0, len(sec.data), size):
        for item in fn(sec.addr + off, sec.data, off):
            kind, a, b = item
            if not (lo <= a < hi):
                kt.warnings.append(f"{name}: entry at {sec.addr + off:#x} points outside the "
                                   f"image ({a:#x}); table ignored")
                return
            pending.append(item)
        n += 1
    for kind, a, b in pending:
        if kind == "protect":
            kt.protected.append((a, b, name))
        elif kind == "copied":
            kt.copied.append((a, b))
        elif kind == "fixup":
            kt.fixups.add(a)
        else:
            kt.targets.add(a)
    kt.tables[name] = n


_JUMP_LABEL_INSNS = (b"\x3e\x8d\x74\x26\x00", b"\x0f\x1f\x44\x00\x00", b"\x66\x90")
_JUMP_TABLE_MIN = 16


def _jump_label_len(image: Image, addr: int) -> int:
    """Length of the jump-label instruction at addr (jmp rel8/rel32 or a 2/5-byte nop), or 0."""
    b = image.read(addr, 5) or b""
    if b[:1] == b"\xeb":
        return 2
    if b[:1] == b"\xe9":
        return 5
    for nop in _JUMP_LABEL_INSNS:
        if b.startswith(nop):
            return len(nop)
    return 0


def _find_jump_tables(image: Image, kt: KTables, entry_fn) -> None:
    """A stripped vmlinux keeps __jump_table inside .rodata/.data, with no section of its own
    and no __start symbol. Find it by shape: runs of at least _JUMP_TABLE_MIN 12-byte entries
    {s32 code, s32 target, long key} whose code and target are in code ranges and whose code
    holds a jump-label instruction. Only for images that look like Linux (they have the
    .altinstructions or __ex_table sections)."""
    if _section(image, ".altinstructions") is None and _section(image, "__ex_table") is None:
        return
    ranges = [(r.addr, r.end) for r in image.code]
    lo, hi = ranges[0][0], ranges[-1][1]
    s32 = struct.Struct("<ii").unpack_from

    def entry_ok(e, data, off):
        code, tgt = s32(data, off)
        code, tgt = e + code, e + 4 + tgt
        return lo <= code < hi and lo <= tgt < hi and _jump_label_len(image, code) > 0

    found = 0
    for sec in image.data:
        data = sec.data
        i = (-sec.addr) & 3
        while i + 12 <= len(data):
            if not entry_ok(sec.addr + i, data, i):
                i += 4
                continue
            j = i
            while j + 12 <= len(data) and entry_ok(sec.addr + j, data, j):
                j += 12
            if (j - i) // 12 >= _JUMP_TABLE_MIN:
                for off in range(i, j, 12):
                    for kind, a, b in entry_fn(sec.addr + off, data, off):
                        if kind == "protect":
                            kt.protected.append((a, b, "__jump_table"))
                        else:
                            kt.targets.add(a)
                found += (j - i) // 12
            i = j if j > i else i + 4
    if found:
        kt.tables["__jump_table (found by shape)"] = found


def scan(image: Image) -> KTables:
    kt = KTables()
    if image.bits != 32:
        return kt
    u32 = struct.Struct("<I").unpack_from
    s32 = struct.Struct("<i").unpack_from

    def alt(e, data, off):
        i, r = s32(data, off)[0], s32(data, off + 4)[0]
        ilen, rlen = data[off + 10], data[off + 11]
        # the site is overwritten at boot, and the code after it becomes reachable through the
        # replacement (e.g. `jmp 1f` over a verw, replaced by nops on affected CPUs)
        out = [("protect", e + i, e + i + ilen), ("target", e + i + ilen, 0)]
        if rlen:
            out.append(("copied", e + 4 + r, e + 4 + r + rlen))
        return out

    _rel_table(image, kt, ".altinstructions", 12, alt)
    _rel_table(image, kt, ".parainstructions", 8,
               lambda e, data, off: [("protect", u32(data, off)[0],
                                      u32(data, off)[0] + data[off + 5])])
    _rel_table(image, kt, ".smp_locks", 4,
               lambda e, data, off: [("protect", e + s32(data, off)[0], e + s32(data, off)[0] + 1)])
    def jump(e, data, off):
        code, tgt = e + s32(data, off)[0], e + 4 + s32(data, off + 4)[0]
        n = _jump_label_len(image, code) or 5
        # the kernel flips the site between jmp and nop at boot: protect it; both the target
        # and the code after it are reachable
        return [("protect", code, code + n), ("target", tgt, 0), ("target", code + n, 0)]

    if _section(image, "__jump_table") is not None:
        _rel_table(image, kt, "__jump_table", 12, jump)
    else:
        _find_jump_tables(image, kt, jump)
    _rel_table(image, kt, "__ex_table", 12,
               lambda e, data, off: [("fixup", e + 4 + s32(data, off + 4)[0], 0)])
    _rel_table(image, kt, ".static_call_sites", 8,
               lambda e, data, off: [("protect", e + s32(data, off)[0], e + s32(data, off)[0] + 5)])
    _rel_table(image, kt, "__mcount_loc", 4,
               lambda e, data, off: [("protect", u32(data, off)[0], u32(data, off)[0] + 5)])
    return kt
