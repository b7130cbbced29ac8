"""`ring1 verify` cannot be fooled: every sample's rewrite verifies (byte for byte against a
re-run of the rewrite), every class of field an attacker can edit in a patched image is caught
with exit 1 and a message naming it, and malformed images get one line and exit 2, never a
traceback.

The tampered images are made here from the rewritten `sensitive` sample with small byte edits:
one row of TAMPERS per edit, each naming the words the problem must contain.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from rewriter import abi, emit, image, pipeline, verify as verify_mod
from rewriter.abi import Kind, Tactic

from conftest import (run_main, SAMPLE_BUILD, Prog, Run, Seg, assert_one_line_error, make_elf32,
                      sample_elfs)

EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
E_ENTRY, E_PHOFF, E_SHOFF, E_FLAGS = 24, 28, 32, 36


# --- every sample ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [p.stem for p in sample_elfs()] or ["sensitive"])
def test_every_sample_rewrite_verifies(name, samples_built, tmp_path):
    src = tmp_path / f"{name}.elf"
    shutil.copyfile(SAMPLE_BUILD / f"{name}.elf", src)
    rw = pipeline.rewrite(str(src))
    out = tmp_path / f"{name}.r1.elf"
    out.write_bytes(rw.patched.data)
    r = verify_mod.verify(str(out))
    assert r.ok, r.problems
    assert r.stats["rerun"] == "identical"
    assert r.stats["options"] == {"window": abi.WINDOW_DEFAULT, "source": "recorded",
                                  "tactics": ["inline", "trampoline", "trap"]}
    assert r.stats["sites"] == len(rw.plan.sites)


@pytest.mark.parametrize("opts", [{"window": 0x80000000}, {"tactics": (Tactic.TRAP,)},
                                  {"tactics": (Tactic.INLINE, Tactic.TRAP)},
                                  {"tactics": (Tactic.TRAMPOLINE, Tactic.TRAP)}],
                         ids=["window", "trap", "inline-trap", "trampoline-trap"])
def test_rewrite_options_are_recorded_and_reused(opts, sample_elf, tmp_path):
    rw = pipeline.rewrite(str(sample_elf), **opts)
    out = tmp_path / "x.r1.elf"
    out.write_bytes(rw.patched.data)
    img = image.load(out)
    assert abi.tactics_of(img.ring1_options["tactics"]) == opts.get("tactics", tuple(Tactic))
    r = verify_mod.verify(str(out))
    assert r.ok and r.stats["rerun"] == "identical", r.problems
    assert r.stats["options"]["window"] == opts.get("window", abi.WINDOW_DEFAULT)


def test_window_at_address_zero_verifies(samples_built, tmp_path):
    """--window 0 puts the virtual IF at address 0, which capstone prints as `[0]`, not `[0x0]`
    (found by the fuzz smoke run: the inline cli/sti check rejected the rewriter's own output).
    The unix sample, linked at 0x80100000, leaves the bottom 4 MiB free for it."""
    rw = pipeline.rewrite(str(SAMPLE_BUILD / "unix.elf"), window=0)
    assert rw.plan.to_json()["counts"].get("inline")
    out = tmp_path / "w0.r1.elf"
    out.write_bytes(rw.patched.data)
    r = verify_mod.verify(str(out))
    assert r.ok, r.problems


@pytest.mark.parametrize("tactics", [tuple(Tactic), (Tactic.TRAP,)], ids=["default", "trap"])
def test_image_without_recorded_options_still_verifies(tactics, sample_elf, tmp_path):
    """An image made before struct r1_options existed (a 48-byte note): verify infers the
    tactics from the trap-only flag and re-runs the rewrite without the options record."""
    rw = pipeline.rewrite(str(sample_elf), tactics=tactics)
    legacy = emit.emit(rw.analysis.image, rw.plan, rw.analysis.d, record_options=False).data
    assert len(legacy) < len(rw.patched.data)
    out = tmp_path / "legacy.r1.elf"
    out.write_bytes(legacy)
    img = image.load(out)
    assert img.ring1_note is not None and img.ring1_options is None
    r = verify_mod.verify(str(out))
    assert r.ok and r.stats["rerun"] == "identical", r.problems
    assert r.stats["options"]["source"] != "recorded"
    assert r.stats["options"]["tactics"] == [t.name.lower() for t in tactics]
    bad = bytearray(legacy)
    struct.pack_into("<I", bad, E_ENTRY, struct.unpack_from("<I", bad, E_ENTRY)[0] + 1)
    out.write_bytes(bad)
    r = verify_mod.verify(str(out))
    assert not r.ok and any("e_entry" in p for p in r.problems), r.problems


# --- tampered images ---------------------------------------------------------------------------
class Edit:
    """A rewritten sample's bytes and where its parts are."""

    def __init__(self, out: Path):
        self.img = image.load(out)
        self.r1 = emit.read_ring1(self.img)
        self.data = bytearray(out.read_bytes())
        e = EHDR.unpack_from(self.data, 0)
        self.phoff, self.phnum = e[5], e[10]
        self.shoff, self.shnum = e[6], e[12]
        self.seg_ph = self.phoff + (self.phnum - 2) * 32        # the .ring1 PT_LOAD
        self.note_ph = self.phoff + (self.phnum - 1) * 32       # the ring1 PT_NOTE
        self.seg_off = struct.unpack_from("<I", self.data, self.seg_ph + 4)[0]
        note_off = struct.unpack_from("<I", self.data, self.note_ph + 4)[0]
        self.desc = note_off + 12 + 8                            # namesz 6, padded to 8
        self.opts = self.desc + abi.NOTE.size

    def u32(self, off: int, fn) -> None:
        struct.pack_into("<I", self.data, off, fn(struct.unpack_from("<I", self.data, off)[0])
                         & 0xFFFFFFFF)

    def hdr(self, name: str) -> int:
        """File offset of a .ring1 header field."""
        return self.seg_off + _offset(abi.HEADER, abi.HEADER_FIELDS, name)

    def note(self, name: str) -> int:
        return self.desc + _offset(abi.NOTE, abi.NOTE_FIELDS, name)

    def tramp(self, addr: int) -> int:
        return self.seg_off + (addr - self.r1.addr)

    def site(self, i: int, name: str) -> int:
        return self.seg_off + self.r1.header["sites_off"] + i * abi.SITE.size + \
            _offset(abi.SITE, abi.SITE_FIELDS, name)


def _offset(st: struct.Struct, names, name: str) -> int:
    fmt = st.format[1:]
    import re
    off = 0
    for n, code in zip(names, re.findall(r"\d*[a-zA-Z]", fmt)):
        if n == name:
            return off
        off += struct.calcsize("<" + code)
    raise KeyError(name)


def _inline_cli_sets_vif(e: Edit) -> None:
    """The `cli` translation `mov dword [vif], 0` made to store 0x200: cli acts as sti."""
    s = next(s for s in e.r1.sites if s["tactic"] == Tactic.INLINE and s["kind"] == Kind.CLI)
    piece = dict(e.r1.o2t)[s["addr"]]
    off = e.tramp(piece)
    assert e.data[off:off + 2] == b"\xc7\x05"          # mov dword [abs32], imm32
    struct.pack_into("<I", e.data, off + 6, abi.EFLAGS_IF)


def _inline_sti_clears_vif(e: Edit) -> None:
    s = next(s for s in e.r1.sites if s["tactic"] == Tactic.INLINE and s["kind"] == Kind.STI)
    off = e.tramp(dict(e.r1.o2t)[s["addr"]])
    assert e.data[off:off + 2] == b"\xc7\x05"
    struct.pack_into("<I", e.data, off + 6, 0)


def _inline_sreg_slot(e: Edit) -> None:
    """An inline `push sreg` made to push another segment register's vCPU slot."""
    s = next(s for s in e.r1.sites if s["tactic"] == Tactic.INLINE and s["kind"] == Kind.PUSH_SREG)
    off = e.tramp(dict(e.r1.o2t)[s["addr"]])
    assert e.data[off:off + 2] == b"\xff\x35"         # push dword [abs32]
    e.u32(off + 2, lambda v: v ^ 4)


def _hypercall_becomes_nops(e: Edit) -> None:
    """A trampoline's `call entry` replaced by five nops: the site is never emulated."""
    s = next(s for s in e.r1.sites if s["tactic"] == Tactic.TRAMPOLINE)
    off = e.tramp(s["resume"] - 5)
    assert e.data[off] == 0xE8
    e.data[off:off + 5] = b"\x90" * 5


def _t2o(i_from_end: int, field: int, delta: int):
    def edit(e: Edit) -> None:
        i = e.r1.header["nmap_t2o"] - i_from_end
        e.u32(e.seg_off + e.r1.header["map_t2o_off"] + 8 * i + 4 * field, lambda v: v + delta)
    return edit


def _o2t(field: int, delta: int):
    def edit(e: Edit) -> None:
        i = e.r1.header["nmap_o2t"] // 2
        e.u32(e.seg_off + e.r1.header["map_o2t_off"] + 8 * i + 4 * field, lambda v: v + delta)
    return edit


def _field(where, delta=None, value=None):
    def edit(e: Edit) -> None:
        e.u32(where(e), (lambda v: value) if value is not None else (lambda v: v + delta))
    return edit


def _site_tactic_trap(e: Edit) -> None:
    i = next(i for i, s in enumerate(e.r1.sites) if s["tactic"] == Tactic.TRAMPOLINE)
    e.data[e.site(i, "tactic")] = int(Tactic.TRAP)


def _site_byte(e: Edit) -> None:
    e.data[e.site(3, "bytes")] ^= 0x01


def _undo_byte(e: Edit) -> None:
    off = e.seg_off + e.r1.header["undo_off"] + abi.UNDO.size + 30    # in the ELF header's
    e.data[off] ^= 0x40


def _rewriter_version(e: Edit) -> None:
    e.data[e.opts + 8:e.opts + 32] = b"ring1 9.9.9".ljust(24, b"\0")


def _tactics_trap_only(e: Edit) -> None:
    struct.pack_into("<I", e.data, e.opts, abi.tactic_bits((Tactic.TRAP,)))


def _section_addr(e: Edit) -> None:
    e.u32(e.shoff + (e.shnum - 2) * 40 + 12, lambda v: v + 0x1000)   # .ring1's sh_addr


def _padding(e: Edit) -> None:
    e.data[e.seg_off - 1] = 0x90               # the zero fill before the .ring1 segment


def _appended(e: Edit) -> None:
    e.data += b"\xcc" * 4


# (id, class, edit, words the problems must contain)
TAMPERS = [
    ("tramp-cli-acts-as-sti", "trampoline bytes", _inline_cli_sets_vif,
     ("inline cli", "mov dword ptr [0xffc00000], 0x200",
      "inline translation of `cli` is `mov dword ptr [0xffc00000], 0x200`")),
    ("tramp-sti-acts-as-cli", "trampoline bytes", _inline_sti_clears_vif,
     ("inline sti", "inline translation of `sti`")),
    ("tramp-push-sreg-slot", "trampoline bytes", _inline_sreg_slot,
     ("inline translation of `push", "sreg")),
    ("tramp-hypercall-removed", "trampoline bytes", _hypercall_becomes_nops,
     ("trampoline", "nop")),
    ("t2o-orig", "t2o map", _t2o(1, 0, 1), ("t2o map entry",)),
    ("t2o-tramp", "t2o map", _t2o(2, 1, 2), ("t2o map",)),
    ("o2t-tramp", "o2t map", _o2t(1, 1), ("o2t map",)),
    ("hdr-entry-point", ".ring1 header", _field(lambda e: e.hdr("entry_point"), 0x10),
     ("entry_point",)),
    ("hdr-flags", ".ring1 header", _field(lambda e: e.hdr("flags"), value=abi.F_TRAP_ONLY),
     (".ring1 header flags",)),
    ("hdr-abi-version", ".ring1 header", _field(lambda e: e.hdr("abi_version"), 1),
     ("abi_version",)),
    ("hdr-window-base", ".ring1 header", _field(lambda e: e.hdr("window_base"),
                                                -abi.WINDOW_SIZE), ("window_base",)),
    ("hdr-header-size", ".ring1 header", _field(lambda e: e.hdr("header_size"), 8),
     ("header_size",)),
    ("hdr-input-sha256", ".ring1 header", _field(lambda e: e.hdr("input_sha256"), 1),
     ("input_sha256",)),
    ("hdr-tramp-size", ".ring1 header", _field(lambda e: e.hdr("tramp_size"), -16),
     ("tramp_size",)),
    ("note-window-base", "note", _field(lambda e: e.note("window_base"), -abi.WINDOW_SIZE),
     ("window_base",)),
    ("note-flags", "note", _field(lambda e: e.note("flags"), value=abi.F_TRAP_ONLY),
     ("note flags",)),
    ("note-options-tactics", "note", _tactics_trap_only, ("tactics",)),
    ("note-options-rewriter", "note", _rewriter_version, ("rewriter", "ring1 9.9.9")),
    ("ph-ring1-vaddr", "program header", _field(lambda e: e.seg_ph + 8, 0x1000), ("p_vaddr",)),
    ("ph-ring1-paddr", "program header", _field(lambda e: e.seg_ph + 12, 0x1000),
     ("p_paddr",)),
    ("ph-ring1-memsz", "program header", _field(lambda e: e.seg_ph + 20, 0x1000),
     ("p_memsz",)),
    ("ph-ring1-flags", "program header", _field(lambda e: e.seg_ph + 24, value=7),
     ("p_flags",)),
    ("ph-ring1-align", "program header", _field(lambda e: e.seg_ph + 28, value=16),
     ("p_align",)),
    ("ph-input-filesz", "program header", _field(lambda e: e.phoff + 16, value=0x100),
     ("program header 0", "p_filesz")),
    ("e-entry", "ELF header", _field(lambda e: E_ENTRY, 0x10), ("e_entry",)),
    ("e-flags", "ELF header", _field(lambda e: E_FLAGS, 1), ("e_flags",)),
    ("site-tactic", "site table", _site_tactic_trap, ("site table entry", "tactic")),
    ("site-bytes", "site table", _site_byte, ("site table entry", "bytes")),
    ("undo-record", "undo records", _undo_byte, ("sha-256",)),
    ("section-header", "section headers", _section_addr, ("section header", "sh_addr")),
    ("padding", "padding", _padding, ("padding",)),
    ("appended-bytes", "file length", _appended, ("the file is",)),
]


@pytest.fixture(scope="module")
def clean(tmp_path_factory, samples_built) -> Path:
    d = tmp_path_factory.mktemp("tamper")
    src = d / "sensitive.elf"
    shutil.copyfile(SAMPLE_BUILD / "sensitive.elf", src)
    out = d / "sensitive.r1.elf"
    out.write_bytes(pipeline.rewrite(str(src)).patched.data)
    return out


def test_tamper_matrix_covers_every_field_class():
    classes = {c for _, c, _, _ in TAMPERS}
    assert {"trampoline bytes", "t2o map", ".ring1 header", "note", "program header",
            "ELF header"} <= classes
    assert len(classes) >= 10


@pytest.mark.parametrize("edit,needles", [(t[2], t[3]) for t in TAMPERS],
                         ids=[t[0] for t in TAMPERS])
def test_tampered_image_fails_verify(clean, tmp_path, capsys, edit, needles):
    e = Edit(clean)
    before = bytes(e.data)
    edit(e)
    assert bytes(e.data) != before
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    r = run_main(["verify", bad], capsys)
    assert "Traceback" not in r.stdout + r.stderr, str(r)
    assert r.returncode == 1, str(r)
    assert r.stdout.startswith(f"{bad}: FAILED:"), str(r)
    text = r.stdout.lower()
    for n in needles:
        assert n.lower() in text, f"{n!r} not named:\n{r.stdout}"


# --- malformed input: one line, exit 2 ---------------------------------------------------------
def _sections(raw: bytes):
    e = EHDR.unpack_from(raw, 0)
    shoff, shnum, shstrndx = e[6], e[12], e[13]
    sh = [list(struct.unpack_from("<IIIIIIIIII", raw, shoff + 40 * i)) for i in range(shnum)]
    names = raw[sh[shstrndx][4]:sh[shstrndx][4] + sh[shstrndx][5]]
    by_name = {names[s[0]:names.index(b"\0", s[0])].decode(): (i, shoff + 40 * i)
               for i, s in enumerate(sh)}
    return sh, by_name


@pytest.fixture(scope="module")
def sample_raw(samples_built) -> bytes:
    return (SAMPLE_BUILD / "sensitive.elf").read_bytes()


@pytest.mark.parametrize("field,value,cmd", [(4, "past_eof", "inspect"), (5, 0x100000, "inspect"),
                                             (4, "past_eof", "rewrite")],
                         ids=["offset-past-eof", "size-huge", "rewrite"])
def test_section_outside_the_file_is_bad_input(sample_raw, tmp_path, capsys, field, value, cmd):
    raw = bytearray(sample_raw)
    _, by = _sections(raw)
    _, at = by[".text"]
    struct.pack_into("<I", raw, at + 4 * field, len(raw) + 0x1000 if value == "past_eof"
                     else value)
    bad = tmp_path / "bad.elf"
    bad.write_bytes(raw)
    argv = [cmd, bad] + (["-o", tmp_path / "o.elf"] if cmd == "rewrite" else [])
    assert_one_line_error(run_main(argv, capsys), 2, ".text", "outside the file")


@pytest.mark.parametrize("cmd", ["inspect", "rewrite", "verify"])
def test_bad_input_line_escapes_a_newline_in_a_name(sample_raw, tmp_path, capsys, cmd):
    """A section name with a newline (and U+2028, a line break to str.splitlines) in a message:
    one line still, the characters escaped (the line was two; found by the rewriter fuzzer,
    fuzz/corpus/rewriter/section-name-with-newline.elf)."""
    raw = bytearray(sample_raw)
    sh, by = _sections(raw)
    i, at = by[".text"]
    name_at = sh[struct.unpack_from("<H", raw, 50)[0]][4] + sh[i][0]
    raw[name_at:name_at + 6] = b"\n\xe2\x80\xa8x\0"
    struct.pack_into("<I", raw, at + 16, len(raw) + 0x1000)
    bad = tmp_path / "bad.elf"
    bad.write_bytes(raw)
    argv = [cmd, bad] + (["-o", tmp_path / "o.elf"] if cmd == "rewrite" else [])
    line = assert_one_line_error(run_main(argv, capsys), 2, "outside the file")
    assert "section \\n\\u2028x (file offset" in line, line


@pytest.mark.parametrize("cmd", ["inspect", "rewrite"])
def test_section_entry_size_not_40_is_bad_input(sample_raw, tmp_path, capsys, cmd):
    """e_shentsize 32 in an ELF32: LIEF read the sections 40 bytes apart, emit.py 32 apart, so
    the rewrite wrote garbage section headers and its output failed to load in its own verify
    ('section (unnamed) (file offset 0x6, 0x100000 bytes) lies outside the file'). Found by
    the rewriter fuzzer; fuzz/corpus/rewriter/section-entry-size-not-40.elf (the timer
    sample, e_shentsize 32)."""
    raw = bytearray(sample_raw)
    struct.pack_into("<H", raw, 46, 32)
    bad = tmp_path / "bad.elf"
    bad.write_bytes(raw)
    argv = [cmd, bad] + (["-o", tmp_path / "o.elf"] if cmd == "rewrite" else [])
    assert_one_line_error(run_main(argv, capsys), 2, "section header table", "32", "40")


def test_code_outside_every_segment_is_bad_input(sample_raw, tmp_path, capsys):
    """.text's sh_addr moved where no PT_LOAD has file bytes: the analysis finds sites there
    that no patch can reach (was 'region ... is not backed by file bytes', exit 3)."""
    raw = bytearray(sample_raw)
    _, by = _sections(raw)
    struct.pack_into("<I", raw, by[".text"][1] + 12, 0x200000)
    bad = tmp_path / "bad.elf"
    bad.write_bytes(raw)
    assert_one_line_error(run_main(["rewrite", bad, "-o", tmp_path / "o.elf"], capsys), 2,
                          "0x200", "section .text", "PT_LOAD")


@pytest.mark.parametrize("tactics", ["trap", "inline,trampoline,trap"])
def test_window_rewrite_refuses_is_not_re_run(samples_built, tmp_path, capsys, tactics):
    """A note window_base that `rewrite --window` refuses (0xfffff000: unaligned, its image
    would end past 4 GiB) is reported and not re-run: the re-run of a trap-only image packed
    the header address into the note (struct.error, exit 3). Found by the rewriter fuzzer on a
    mutated trap-only rewrite; fuzz/corpus/rewriter/note-window-past-4gib.elf."""
    out = tmp_path / "s.r1.elf"
    r = run_main(["rewrite", SAMPLE_BUILD / "sensitive.elf", "-o", out, "--tactics", tactics],
                 capsys)
    assert r.returncode == 0, str(r)
    e = Edit(out)
    struct.pack_into("<I", e.data, e.note("window_base"), 0xFFFFF000)
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    r = run_main(["verify", bad], capsys)
    assert "Traceback" not in r.stdout + r.stderr and r.returncode == 1, str(r)
    assert "window_base 0xfffff000 is not a multiple" in r.stdout
    assert "cannot be re-run with the recorded options (window 0xfffff000" in r.stdout


def test_note_name_not_utf8(clean, tmp_path, capsys):
    """A patched image whose ring1 note name is not text (was a UnicodeDecodeError in LIEF's
    note names): the note is not the ring1 note, so inspect works and verify says so."""
    e = Edit(clean)
    note_off = struct.unpack_from("<I", e.data, e.note_ph + 4)[0]
    assert e.data[note_off + 12:note_off + 18] == b"ring1\0"
    e.data[note_off + 12] = 0xFF
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    r = run_main(["inspect", bad], capsys)
    assert r.returncode == 0 and "Traceback" not in r.stderr, str(r)
    assert_one_line_error(run_main(["verify", bad], capsys), 2, "no ring1 note")


def test_branch_into_a_moved_instruction_traps_the_site(tmp_path, capsys):
    """`jne` into the immediate of the next instruction (overlapping code): no region may move
    them (trampoline.py raised 'branch target inside region is not an instruction', exit 3);
    the cli is trapped and the result verifies."""
    text_at = 0x100000
    p = Prog(text_at)
    p.label("entry").asm("call {k}", "hlt", "jmp {entry}")
    p.label("k").asm("cli").raw("75 01").raw("b8 90 90 90 90").asm("ret")
    text, L = p.build()
    src = tmp_path / "overlap.elf"
    src.write_bytes(make_elf32([Seg(text_at, text, "rx", name=".text")], L["entry"]))
    out = tmp_path / "overlap.r1.elf"
    r = run_main(["rewrite", src, "-o", out], capsys)
    assert r.returncode == 0, str(r)
    r1 = emit.read_ring1(image.load(out))
    cli_site = next(s for s in r1.sites if s["addr"] == L["k"])
    assert cli_site["kind"] == Kind.CLI and cli_site["tactic"] == Tactic.TRAP
    assert verify_mod.verify(str(out)).ok


def _unproven_target_prog(layout: str):
    """A cli next to a `je` whose target the analysis does not hold as an instruction start:
    outside every code range (`outside`, and `tail`, where the je would be a tail's copy) or
    inside another instruction of the code (`overlap`: f, reached later from a data pointer,
    decodes over the je's target)."""
    text_at = 0x100000
    p = Prog(text_at)
    p.label("entry").asm("call {k}", "hlt", "jmp {entry}")
    if layout == "outside":
        p.label("k").asm("cli").label("br").asm("je 0x200000", "ret")
    elif layout == "tail":
        p.label("k").asm("cli", "nop", "nop", "nop", "nop").label("br").asm("je 0x200000",
                                                                            "ret")
    else:
        p.label("k").asm("cli").label("br").asm("je {f}+2", "ret")
        p.align(16, 0xCC)
        p.label("f").raw("b8 90 90 90 90").asm("ret")
    text, L = p.build()
    segs = [Seg(text_at, text, "rx", name=".text")]
    if layout == "overlap":
        segs.append(Seg(0x108000, struct.pack("<I", L["f"]), "rw", name=".data"))
    return make_elf32(segs, L["entry"]), L


@pytest.mark.parametrize("layout", ["outside", "tail", "overlap"])
def test_branch_to_unproven_bytes_is_not_moved(tmp_path, capsys, layout):
    """A branch keeps its target when it moves into a trampoline, and verify holds every
    trampoline branch to an instruction start of the code: so a branch whose target is not one
    (outside the code, or inside another instruction) stays where it is, in no region and no
    tail, and the rewrite verifies (the rewriter moved it and verify rejected its own output:
    '0x...: je to 0x..., not an instruction start of the original code'; found by the
    rewriter fuzzer on mutants of the samples, fuzz/corpus/rewriter/jcc-into-an-instruction.elf)."""
    raw, L = _unproven_target_prog(layout)
    src = tmp_path / f"{layout}.elf"
    src.write_bytes(raw)
    out = tmp_path / f"{layout}.r1.elf"
    r = run_main(["rewrite", src, "-o", out], capsys)
    assert r.returncode == 0, str(r)
    res = verify_mod.verify(str(out))
    assert res.ok, res.problems
    r1 = emit.read_ring1(image.load(out))
    assert L["br"] not in {o for o, _ in r1.o2t + r1.t2o}
    assert image.load(out).read(L["br"], 6) == image.load(src).read(L["br"], 6)
    cli = next(s for s in r1.sites if s["addr"] == L["k"])
    # with four nops after it the cli still moves (its tail stops before the je)
    assert cli["tactic"] == (Tactic.INLINE if layout == "tail" else Tactic.TRAP)


def test_verify_unknown_site_kind_is_bad_input(clean, tmp_path, capsys):
    e = Edit(clean)
    struct.pack_into("<H", e.data, e.site(0, "kind"), 999)
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    assert_one_line_error(run_main(["verify", bad], capsys), 2, "unknown kind 999")


@pytest.mark.parametrize("size,needle", [(64, "truncated"), (0x200, "site table"),
                                         ("-200", "undo records")])
def test_verify_short_ring1_segment_is_bad_input(clean, tmp_path, capsys, size, needle):
    e = Edit(clean)
    filesz = struct.unpack_from("<I", e.data, e.seg_ph + 16)[0]
    struct.pack_into("<I", e.data, e.seg_ph + 16, filesz - 200 if size == "-200" else size)
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    assert_one_line_error(run_main(["verify", bad], capsys), 2, needle)


def test_verify_huge_table_count_is_bad_input(clean, tmp_path, capsys):
    """nsites = 2**32 - 1 is refused from the header, not looped over."""
    e = Edit(clean)
    struct.pack_into("<I", e.data, e.hdr("nsites"), 0xFFFFFFFF)
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    assert_one_line_error(run_main(["verify", bad], capsys), 2, "site table", "runs past")


# --- JSON --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["--json", "--json-lines"])
def test_verify_json(clean, tmp_path, capsys, mode):
    """`verify --json a b c`: one JSON document, an object per image in order -- including a
    failing image and one that cannot be read; `--json-lines`: the same objects one per line,
    each with its schema."""
    e = Edit(clean)
    _inline_cli_sets_vif(e)
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(e.data)
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"not a kernel\n" * 10)
    r = run_main(["verify", mode, clean, bad, junk], capsys)
    assert r.returncode == 2, str(r)                  # the worst: bad input
    if mode == "--json":
        whole = json.loads(r.stdout)
        assert whole["schema"] == "ring1-verify/1" and whole["exit"] == 2 and not whole["ok"]
        docs = whole["images"]
    else:
        lines = r.stdout.splitlines()
        assert len(lines) == 3, r.stdout
        docs = [json.loads(ln) for ln in lines]
        assert all(d.pop("schema") == "ring1-verify/1" for d in docs)
    assert [d["image"] for d in docs] == [str(clean), str(bad), str(junk)]
    assert docs[0]["ok"] and docs[0]["stats"]["rerun"] == "identical"
    assert not docs[1]["ok"] and any("inline cli" in p for p in docs[1]["problems"])
    assert not docs[2]["ok"] and docs[2]["exit"] == 2 and "not an ELF" in docs[2]["error"]
