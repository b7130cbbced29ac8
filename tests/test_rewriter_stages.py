"""Unit tests, stage by stage, on tiny synthetic kernels built here (keystone + the ELF32 writer
in conftest.py), where every address, block and site is known; the sample kernel covers the
properties that must hold everywhere.

image -> disasm -> cfg -> plan -> trampoline -> emit -> verify. The trampolines are also
*executed*, in the unicorn emulator (skipped if `unicorn` is not installed; the static checks
still run), against the vCPU page of abi.h.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
from functools import lru_cache
from pathlib import Path

import capstone
import lief
import pytest

from rewriter import abi, cfg as cfg_mod, disasm, emit, image, pipeline, plan as plan_mod
from rewriter import trampoline, verify as verify_mod
from rewriter.abi import Kind, Tactic
from rewriter.errors import BadInput

from conftest import (EM_ARM, EM_X86_64, ROOT, Prog, Seg, make_aout_kludge, make_elf32,
                      multiboot_header)

CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
W = abi.WINDOW_DEFAULT
TEXT, DATA = 0x100000, 0x101000


def load_bytes(raw: bytes, name: str = "synthetic.elf") -> image.Image:
    return image.load(name, raw)


def decode(code: bytes, addr: int) -> list[tuple[int, int, str, str]]:
    return list(CS.disasm_lite(code, addr))


# =============================================================================================
# Synthetic kernels
# =============================================================================================
@lru_cache(maxsize=None)
def flow_kernel(vbase: int = TEXT, pbase: int | None = None):
    """Entry code with a direct call, an indirect call through a pointer in .data, a jcc; data
    inside .text; a function reached from nothing (a gap); one reached only via .data."""
    data_addr = vbase + 0x1000
    p = Prog(vbase)
    p.label("entry").asm("call {f}", f"mov eax, dword ptr [{data_addr:#x}]", "call eax",
                         "test eax, eax", "je {l1}", "mov ebx, 2")
    p.label("l1").asm("jmp {done}")
    p.label("data").raw("fa ee 0f 04 0f 04")            # cli, out, then undecodable: data
    p.label("f").asm("mov ecx, 5", "ret")
    p.label("done").asm("hlt", "jmp {done}")
    p.label("pad1").align(16, 0x90)
    p.label("gap").asm("pushfd", "pop eax", "popfd", "ret")
    p.label("pad2").align(16, 0xCC)
    p.label("viaptr").asm("cli", "mov eax, 1", "mov ebx, 2", "sti", "ret")
    p.label("end")
    text, L = p.build()
    dat = struct.pack("<II", L["viaptr"], 0x12345678)
    pb = vbase if pbase is None else pbase
    raw = make_elf32([Seg(vbase, text, "rx", paddr=pb, name=".text"),
                      Seg(data_addr, dat, "rw", paddr=pb + 0x1000, name=".data")], L["entry"],
                     symbols=[("f", L["f"], "func"), ("table", data_addr, "object")])
    return raw, L


@lru_cache(maxsize=None)
def cfg_kernel():
    p = Prog(TEXT)
    p.label("b0").asm("mov eax, 1", "cmp eax, 2", "jne {b2}")
    p.label("b1").asm("call {b4}")
    p.label("b1b").asm("call eax")
    p.label("b1c").asm("jmp {b3}")
    p.label("b2").asm("mov ecx, 3", "jmp ecx")
    p.label("b3").asm("hlt", "jmp {b3}")
    p.label("b4").asm("ret")
    p.label("end")
    text, L = p.build()
    return make_elf32([Seg(TEXT, text, "rx", name=".text")], L["b0"]), L


@lru_cache(maxsize=None)
def plan_kernel():
    p = Prog(TEXT)
    fns = ["s_room", "s_tramp", "s_tgt", "s_back", "s_jcc", "s_jecxz", "s_dead", "s_int",
           "far"]
    p.label("entry").asm(*[f"call {{{f}}}" for f in fns], "hlt", "jmp {entry}")
    p.label("s_room").asm("cli", "mov eax, 1", "mov ebx, 2", "ret")
    p.label("s_tramp").asm("in al, dx", "mov ebx, 0x12345678", "ret")
    p.label("s_tgt").asm("cli")
    p.label("t_tgt").asm("mov eax, 1", "dec ecx", "jne {t_tgt}", "ret")
    p.label("s_back").asm("mov eax, 0x11111111", "sti")
    p.label("t_back").asm("dec ecx", "jne {t_back}", "ret")
    p.label("s_jcc").asm("cli", "jne {s_jcc_out}", "mov eax, 0x22222222")
    p.label("s_jcc_out").asm("ret")
    p.label("s_jecxz").asm("cli", "jecxz {s_jecxz_out}", "mov eax, 0x33333333")
    p.label("s_jecxz_out").asm("ret")
    p.align(16, 0xCC)
    p.label("s_dead").asm("cli", "ret")
    p.align(16, 0xCC)
    # a loop whose only way in is its own branch: it moves whole, the branch re-aimed inside
    p.label("s_int").asm("sti")
    p.label("t_int").asm("dec ecx", "jne {t_int}", "ret")
    # branches from far away make t_tgt and t_back targets no region may swallow
    p.align(64, 0xCC).raw("cc" * 64)
    p.label("far").asm("test eax, eax", "je {t_tgt}", "jmp {t_back}")
    p.align(16, 0xCC)
    p.label("end")
    text, L = p.build()
    return make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]), L


# one function per inline / hypercall form: the site, then a 5-byte mov so the region has room
TRAMP_FORMS = {
    "cli": "fa", "sti": "fb", "pushf": "9c", "popf": "9d",
    "mov_eax_ds": "8c d8", "mov_ax_es": "66 8c c0", "push_ds": "1e", "push_fs": "0f a0",
    "in": "ec",
}


@lru_cache(maxsize=None)
def tramp_kernel():
    p = Prog(TEXT)
    names = list(TRAMP_FORMS) + ["k_call", "k_jcc"]
    p.label("entry").asm(*[f"call {{{n}}}" for n in names], "hlt", "jmp {entry}")
    for i, (name, hexcode) in enumerate(TRAMP_FORMS.items()):
        p.label(name).raw(hexcode).asm(f"mov ebx, {0x11111111 * (i + 1) & 0xFFFFFFFF:#x}")
        p.label(name + "_end").asm("ret")
    p.label("k_call").asm("cli", "call {k_callee}")
    p.label("k_call_ret").asm("ret")
    p.label("k_callee").asm("ret")
    p.label("k_jcc").asm("cli", "jne {k_jcc_t}", "mov eax, 0x66666666")
    p.label("k_jcc_t").asm("ret")
    p.label("end")
    text, L = p.build()
    return make_elf32([Seg(TEXT, text, "rx", name=".text"), Seg(DATA, b"\0" * 16, "rw",
                                                                 name=".data")], L["entry"]), L


def analyse(raw: bytes):
    img = load_bytes(raw)
    d = disasm.disassemble(img)
    return img, d, cfg_mod.build(d)


def rewrite_bytes(raw: bytes, tmp_path: Path, name="k.elf", **opts):
    src = tmp_path / name
    src.write_bytes(raw)
    rw = pipeline.rewrite(str(src), **opts)
    out = tmp_path / (name + ".r1")
    out.write_bytes(rw.patched.data)
    return src, out, rw


# =============================================================================================
# the stage list
# =============================================================================================
def test_one_stage_list(tmp_path):
    """pipeline.STAGES is the one list of the stages: README.md draws it (pipeline.diagram()),
    docs/design.md names the same stages in the same order, every module it names is one, and
    a rewrite times exactly these stages, in this order."""
    names = [s.name for s in pipeline.STAGES]
    assert pipeline.diagram() in (ROOT / "README.md").read_text(), \
        "README.md's stage diagram is not pipeline.diagram():\n" + pipeline.diagram()
    design = (ROOT / "docs" / "design.md").read_text().splitlines()
    line = next(ln for ln in design if "─► kernel.r1.elf" in ln)
    assert [w.strip() for w in line.split("─►")][:len(names)] == names, line
    for s in pipeline.STAGES:
        for module, _ in s.modules:
            assert (ROOT / "rewriter" / f"{module}.py").is_file(), module
    raw, _ = tramp_kernel()
    _, _, rw = rewrite_bytes(raw, tmp_path)
    assert list(rw.analysis.timings) == names


# =============================================================================================
# image
# =============================================================================================
def test_image_elf_multiboot_form_and_symbols():
    raw, L = flow_kernel()
    img = load_bytes(raw)
    assert img.kind == "elf32" and img.machine == "i386" and img.bits == 32
    assert img.entry == L["entry"]
    assert img.multiboot is not None and not img.multiboot.aout_kludge
    assert img.multiboot.offset == 52 + 2 * 32 and img.multiboot.to_json()["form"] == "elf"
    assert img.symbols == {L["f"]: "f"}                 # FUNC symbols only, not OBJECT
    assert [r.name for r in img.code] == [".text"] and [r.name for r in img.data] == [".data"]
    assert img.code[0].addr == TEXT and img.has_sections
    assert img.sha256 == hashlib.sha256(raw).hexdigest()
    assert img.ring1_note is None


def test_image_physical_vs_virtual_addresses():
    raw, L = flow_kernel(0xC0100000, 0x00100000)
    img = load_bytes(raw)
    text, data = img.segments
    assert (text.vaddr, text.paddr) == (0xC0100000, 0x00100000)
    assert (data.vaddr, data.paddr) == (0xC0101000, 0x00101000)
    assert text.executable and not data.executable
    assert img.file_offset(0xC0100000) == text.offset
    assert img.file_offset(0x00100000) is None          # addresses are virtual
    assert img.read(L["f"], 1) == b"\xb9"               # mov ecx, imm32
    assert img.code[0].addr == 0xC0100000 and img.entry == L["entry"]
    # the analysis runs at virtual addresses, the summary shows both
    d = disasm.disassemble(img)
    assert d.is_code_start(L["viaptr"]) and Kind.CLI in d.sites.values()
    s = pipeline.summary(pipeline.analyze_image(img))
    assert s["segments"][0]["vaddr"] == 0xC0100000 and s["segments"][0]["paddr"] == 0x100000


def test_image_aout_kludge_form():
    load = 0x100000
    code = Prog(load + 32).label("start").asm("cli", "mov eax, 1", "hlt", "jmp {start}").build()[0]
    raw = make_aout_kludge(load, code, entry=load + 32, bss=0x1000)
    img = load_bytes(raw, "kernel.aout")
    assert img.kind == "multiboot-aout" and img.machine == "i386"
    assert img.multiboot.aout_kludge and img.multiboot.offset == 0
    assert img.multiboot.to_json()["form"] == "a.out-kludge"
    assert img.entry == load + 32
    (seg,) = img.segments
    assert (seg.vaddr, seg.offset, seg.filesz, seg.memsz) == (load, 0, len(raw), len(raw) + 0x1000)
    assert img.code[0].addr == load and img.code[0].data == raw
    assert img.data_in_code() == [(load, load + 32)]
    d = disasm.disassemble(img)
    # the header is data: its checksum must never be decoded or patched
    assert not any(load <= a < load + 32 for a in list(d.sites) + list(d.unknown_sites))


# Regression: a root (entry point, symbol) off the linear sweep's instruction grid used to be
# dropped, so nothing was traversed from it.


def test_disasm_entry_right_after_aout_header_is_traversed():
    load = 0x100000
    code = Prog(load + 32).label("start").asm("cli", "mov eax, 1", "hlt", "jmp {start}").build()[0]
    img = load_bytes(make_aout_kludge(load, code, entry=load + 32), "kernel.aout")
    d = disasm.disassemble(img)
    assert d.roots["entry"] == 1
    assert d.sites == {load + 32: Kind.CLI, load + 38: Kind.HLT}


def test_disasm_entry_off_the_sweep_grid_is_traversed():
    p = Prog(TEXT)
    p.raw("b8")                                   # one stray byte before the entry point
    p.label("entry").asm("cli", "call {f}", "hlt", "jmp {entry}")
    p.label("f").asm("sti", "ret")
    text, L = p.build()
    img = load_bytes(make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]))
    d = disasm.disassemble(img)
    assert d.roots["entry"] == 1
    assert d.sites == {L["entry"]: Kind.CLI, L["entry"] + 6: Kind.HLT, L["f"]: Kind.STI}


def test_image_aout_kludge_with_lead_bytes():
    """The header need not be at offset 0: load_addr is header_addr minus its offset."""
    load = 0x200000
    lead = b"\x90" * 16
    code = bytes.fromhex("fa f4")
    raw = make_aout_kludge(load, code, entry=load + 48, lead=lead)
    img = load_bytes(raw, "k")
    assert img.multiboot.offset == 16 and img.segments[0].vaddr == load
    assert img.file_offset(load + 48) == 48


@pytest.mark.parametrize("at,ok", [(0, True), (8192 - 12, True), (8192, False), (6, False)])
def test_find_multiboot_placement(at, ok):
    raw = bytearray(9000)
    raw[at:at + 12] = multiboot_header()
    mb = image.find_multiboot(bytes(raw))
    assert (mb is not None and mb.offset == at) == ok


def test_find_multiboot_checksum():
    h = bytearray(multiboot_header())
    h[8] ^= 1
    assert image.find_multiboot(bytes(h) + b"\0" * 64) is None


def _elf_patch(raw: bytes, fmt: str, off: int, value) -> bytes:
    b = bytearray(raw)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def _bad_inputs():
    good, _ = flow_kernel()
    noexec = make_elf32([Seg(DATA, b"\0" * 16, "rw", name=".data")], DATA)
    mb_plain = multiboot_header() + b"\0" * 64
    load = 0x100000
    aout = make_aout_kludge(load, b"\xfa\xf4", load + 32)
    return [
        ("empty", b"", "empty file"),
        ("text", b"hello, world\n" * 20, "not an ELF file, a multiboot kernel or a Linux bzImage"),
        ("short-header", good[:40], "truncated ELF header"),
        ("bad-class", _elf_patch(good, "B", 4, 7), "bad ELF class"),
        ("big-endian", _elf_patch(good, "B", 5, 2), "big-endian"),
        ("arm", _elf_patch(good, "<H", 18, EM_ARM), "not x86"),
        ("elf32-x86-64", _elf_patch(good, "<H", 18, EM_X86_64), "not i386 or x86-64"),
        ("no-phdrs", _elf_patch(good, "<H", 44, 0), "no program headers"),
        ("phdrs-past-eof", _elf_patch(good, "<I", 28, len(good) - 8), "program header table"),
        ("segment-past-eof", good[:0x1010], "truncated"),
        ("shdrs-past-eof", _elf_patch(good, "<I", 32, len(good) - 10), "section header table"),
        ("no-exec", noexec, "no executable segment"),
        ("multiboot-not-elf", mb_plain, "multiboot header without load addresses"),
        ("aout-load-after-header", _aout_field(aout, 4, load + 64), "inconsistent load"),
        ("aout-before-file", _aout_field(aout, 3, load + 16), "before the start of the file"),
        ("aout-truncated", _aout_field(aout, 5, load + 4096), "truncated"),
    ]


def _aout_field(raw: bytes, index: int, value: int) -> bytes:
    """Set a.out-kludge header field `index` (3 header_addr, 4 load_addr, 5 load_end_addr)."""
    b = bytearray(raw)
    struct.pack_into("<I", b, 4 * index, value)
    return bytes(b)


@pytest.mark.parametrize("name,raw,needle", _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
def test_image_bad_input(name, raw, needle):
    with pytest.raises(BadInput) as e:
        image.load(f"/x/{name}", raw)
    msg = str(e.value)
    assert msg.startswith(f"/x/{name}: ") and needle.lower() in msg.lower(), msg
    assert "\n" not in msg


def test_image_bad_paths(tmp_path):
    for path, needle in [(tmp_path, "is a directory"), (tmp_path / "nope", "no such file")]:
        with pytest.raises(BadInput, match=needle):
            image.load(path)


# =============================================================================================
# disasm
# =============================================================================================
def test_disasm_traversal_pointer_gap_and_data():
    raw, L = flow_kernel()
    img, d, _ = analyse(raw)
    state_of = lambda a: d.state[0][a - TEXT]
    # recursive traversal from the entry: calls, jcc targets and fall-throughs
    for lab in ("entry", "l1", "f", "done"):
        assert state_of(L[lab]) == disasm.CODE, lab
    # a function reached only through a pointer in .data
    assert state_of(L["viaptr"]) == disasm.CODE and d.roots["data pointers"] >= 1
    assert L["viaptr"] in d.targets
    # an unreferenced function after nop padding: accepted as a validated gap
    assert state_of(L["gap"]) == disasm.GAP_CODE and d.roots.get("validated gaps", 0) >= 1
    # data in .text (cli/out bytes followed by an undecodable one) is not code
    for a in range(L["data"], L["f"]):
        assert not d.is_code_start(a) and state_of(a) not in (disasm.CODE, disasm.GAP_CODE)
    assert d.sites == {L["done"]: Kind.HLT, L["gap"]: Kind.PUSHF, L["gap"] + 2: Kind.POPF,
                       L["viaptr"]: Kind.CLI, L["viaptr"] + 11: Kind.STI}
    assert d.unknown_sites == {L["data"]: Kind.CLI, L["data"] + 1: Kind.OUT}
    # instruction boundaries as assembled
    assert [a for a, _ in d.iter_code() if L["viaptr"] <= a < L["end"]] == \
        [L["viaptr"], L["viaptr"] + 1, L["viaptr"] + 6, L["viaptr"] + 11, L["viaptr"] + 12]
    assert d.insn_len(L["entry"]) == 5 and d.insn_bytes(L["f"]) == bytes.fromhex("b905000000")


def test_disasm_coverage_numbers():
    raw, L = flow_kernel()
    _, d, _ = analyse(raw)
    (c,) = d.coverage()
    size = L["end"] - TEXT
    padding = (L["gap"] - L["pad1"]) + (L["viaptr"] - L["pad2"])
    gap_fn = L["pad2"] - L["gap"]
    assert c["section"] == ".text" and c["addr"] == TEXT and c["size"] == size
    assert c["unknown"] == L["f"] - L["data"] == 6
    assert c["data_or_padding"] == padding
    assert c["code"] == size - padding - 6
    assert c["traversed"] == c["code"] - gap_fn
    assert d.ninsns == sum(1 for _ in d.iter_code())


def test_disasm_data_that_decodes_before_a_function_is_not_code():
    p = Prog(TEXT)
    p.label("entry").asm("call {g}", "hlt", "jmp {entry}")
    p.label("table").raw("41 fa 42")        # a 3-byte table, like GNU Mach's IDT pointer
    p.label("g").asm("in al, dx", "ret")
    text, L = p.build()
    _, d, _ = analyse(make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]))
    assert L["g"] in d.sites                               # the real site is found
    assert L["table"] + 1 not in d.sites, "data byte 0xfa was taken for a cli in code"


@pytest.mark.parametrize("zeros", [1, 3])
def test_disasm_function_after_odd_zero_padding_is_found(zeros):
    p = Prog(TEXT)
    p.label("entry").asm("call {f}", "hlt", "jmp {entry}")
    p.label("f").asm("mov ecx, 5", "ret")
    p.raw(b"\0" * zeros)
    p.label("gap").asm("pushfd", "pop eax", "popfd", "ret")
    p.align(16, 0x90)
    p.label("h").asm("mov eax, 1", "mov ebx, 2", "ret")
    text, L = p.build()
    _, d, _ = analyse(make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]))
    found = set(d.sites) | set(d.unknown_sites)
    assert L["gap"] in found and L["gap"] + 2 in found, "pushf/popf silently missed"
    assert d.sites.get(L["gap"]) == Kind.PUSHF and d.sites.get(L["gap"] + 2) == Kind.POPF


def test_disasm_function_after_even_zero_padding_is_found():
    p = Prog(TEXT)
    p.label("entry").asm("call {f}", "hlt", "jmp {entry}")
    p.label("f").asm("mov ecx, 5", "ret")
    p.raw(b"\0" * 2)
    p.label("gap").asm("pushfd", "pop eax", "popfd", "ret")
    p.align(16, 0x90)
    p.label("h").asm("mov eax, 1", "mov ebx, 2", "ret")
    text, L = p.build()
    _, d, _ = analyse(make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]))
    assert d.sites.get(L["gap"]) == Kind.PUSHF and d.sites.get(L["gap"] + 2) == Kind.POPF


def test_disasm_no_sections_uses_segments():
    raw, L = flow_kernel()
    img = load_bytes(make_elf32([Seg(TEXT, load_bytes(raw).code[0].data, "rx")], L["entry"],
                                sections=False))
    assert not img.has_sections and [r.name for r in img.code] == ["segment0"]
    d = disasm.disassemble(img)
    assert L["done"] in d.sites and L["gap"] in d.sites


# =============================================================================================
# cfg
# =============================================================================================
def test_cfg_blocks_and_edge_kinds():
    raw, L = cfg_kernel()
    _, d, g = analyse(raw)
    b = L
    assert g.starts == [b["b0"], b["b1"], b["b1b"], b["b1c"], b["b2"], b["b3"], b["b4"]]
    assert g.ends == [b["b1"], b["b1b"], b["b1c"], b["b2"], b["b3"], b["b4"], b["end"]]
    terms = dict(zip(g.starts, (g.to_json()["blocks"][i]["term"] for i in range(g.nblocks))))
    assert terms == {b["b0"]: "branch", b["b1"]: "call", b["b1b"]: "indirect-call",
                     b["b1c"]: "jump", b["b2"]: "indirect-jump", b["b3"]: "jump",
                     b["b4"]: "return"}
    edges = {(u, v, k) for u, v, k in g.to_json()["edges"]}
    assert edges == {
        (b["b0"], b["b2"], "jump"), (b["b0"], b["b1"], "fallthrough"),
        (b["b1"], b["b4"], "call"), (b["b1"], b["b1b"], "fallthrough"),
        (b["b1b"], "indirect", "indirect"), (b["b1b"], b["b1c"], "fallthrough"),
        (b["b1c"], b["b3"], "jump"),
        (b["b2"], "indirect", "indirect"),
        (b["b3"], b["b3"], "jump"),
        (b["b4"], "return", "return"),
    }
    assert g.block_of(b["b0"] + 5) == (b["b0"], b["b1"])
    assert g.block_of(b["end"]) is None
    assert g.instructions(b["b2"], b["b3"]) == [(b["b2"], 5), (b["b2"] + 5, 2)]
    # the networkx view agrees with the lists
    assert set(g.graph.nodes) == set(g.starts) | {"indirect", "return"}
    assert {(u, v, k) for u, v, k in g.graph.edges(data="kind")} == edges


def test_cfg_blocks_cover_code_exactly():
    raw, _ = flow_kernel()
    _, d, g = analyse(raw)
    code = [a for a, _ in d.iter_code()]
    covered = [a for s, e in zip(g.starts, g.ends) for a, _ in g.instructions(s, e)]
    assert covered == code
    # only a block's first byte may be a known branch target
    for s, e in zip(g.starts, g.ends):
        for a in range(s + 1, e):
            assert a not in d.targets, f"target {a:#x} inside block {s:#x}-{e:#x}"


def test_cfg_json_and_dot_export(tmp_path):
    raw, L = cfg_kernel()
    _, _, g = analyse(raw)
    g.write(str(tmp_path / "cfg.json"))
    j = json.loads((tmp_path / "cfg.json").read_text())
    assert j["schema"] == "ring1-cfg/1"
    assert [int(blk["start"], 16) for blk in j["blocks"]] == g.starts
    assert all(set(blk) >= {"start", "end", "insns", "term"} for blk in j["blocks"])
    h = lambda v: f"{v:#010x}" if isinstance(v, int) else v
    assert sorted(map(tuple, j["edges"]), key=str) == \
        sorted(((h(u), h(v), k) for u, v, k in g.to_json()["edges"]), key=str)
    assert set(j["sinks"]) == {"indirect", "return"}
    g.write(str(tmp_path / "cfg.dot"))
    dot = (tmp_path / "cfg.dot").read_text()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes = re.findall(r'^\s*"(0x[0-9a-f]+)" \[label=', dot, flags=re.M)
    edges = re.findall(r'^\s*"(0x[0-9a-f]+)" -> "([^"]+)" \[label="(\w+)"\]', dot, flags=re.M)
    assert [int(n, 16) for n in nodes] == g.starts
    assert len(edges) == len(j["edges"])
    assert {k for _, _, k in edges} == {"fallthrough", "jump", "call", "indirect", "return"}
    # same CFG, same bytes
    g.write(str(tmp_path / "again.dot"))
    assert (tmp_path / "again.dot").read_text() == dot


# =============================================================================================
# plan
# =============================================================================================
def _plan(raw: bytes, tactics=plan_mod.ALL_TACTICS):
    _, d, g = analyse(raw)
    return d, g, plan_mod.make_plan(g, W, tactics)


def check_region_invariants(d, p) -> None:
    """What the planner promises about every region (module docstring of plan.py)."""
    sites = {s.addr: s for s in p.sites}
    sources: dict[int, list] = {}
    for a, (t, tgt) in d.flow.items():
        if tgt is not None:
            sources.setdefault(tgt, []).append((a, t))
    prev_end = None
    moved = {a for r in p.regions for a, _ in r.insns}
    interior = {a: r for r in p.regions for a, _ in r.insns[1:]}
    for r in sorted(p.regions, key=lambda r: r.start):
        assert prev_end is None or r.start >= prev_end, "regions overlap"
        prev_end = r.end
        assert r.insns and r.insns[0][0] == r.start
        for (a, n), (b, _) in zip(r.insns, r.insns[1:]):
            assert a + n == b, f"region {r.start:#x}: instructions not consecutive"
        last_end = r.insns[-1][0] + r.insns[-1][1]
        assert r.end - r.start >= 5 and r.end >= last_end
        for a in range(last_end, r.end):
            assert d.is_padding(a), f"{a:#x}: region {r.start:#x} overwrites non-padding"
        for a in range(r.start + 1, r.end):
            assert a not in d.maybe_targets and a not in d.root_targets, \
                f"region {r.start:#x}-{r.end:#x} covers pointer or root {a:#x}"
            if a in d.targets:   # only if every way in moves, with it or into another region
                assert sources.get(a) and all(s in moved and t in (disasm.JMP, disasm.JCC)
                                              for s, t in sources[a]), \
                    f"region {r.start:#x}-{r.end:#x} covers branch target {a:#x} reached from outside"
        for (a, _), (b, _) in zip(r.insns, r.insns[1:]):
            f = d.flow.get(a)
            # a jmp/ret before the last: what follows runs only through branches that moved
            assert f is None or f[0] == disasm.JCC or \
                f[0] in (disasm.JMP, disasm.RET, disasm.IJMP) and \
                all(s in moved for s, _ in sources.get(b, [])), \
                f"{a:#x}: control transfer {f} before the end of region {r.start:#x}"
        assert all(sites[a].region == r.start for a in r.sites)
        if not r.sites:          # site-less: it moves a branch into another region's middle
            assert any(d.flow.get(a, (None, None))[1] in interior and
                       interior[d.flow[a][1]] is not r for a, _ in r.insns), \
                f"site-less region {r.start:#x} moves no branch into another region"
        assert all(d.is_code_start(a) for a, _ in r.insns)
    for s in p.sites:
        if s.tactic == Tactic.TRAP:
            assert s.region is None
        else:
            assert s.region is not None and any(s.addr in r.sites for r in p.regions)


def test_plan_tactics_per_site():
    raw, L = plan_kernel()
    d, g, p = _plan(raw)
    by = {s.addr: s for s in p.sites}
    regions = {r.start: r for r in p.regions}
    # room after the site: inline for cli, hypercall trampoline for in
    assert by[L["s_room"]].tactic == Tactic.INLINE and by[L["s_room"]].region == L["s_room"]
    assert by[L["s_tramp"]].tactic == Tactic.TRAMPOLINE
    assert regions[L["s_tramp"]].insns == [(L["s_tramp"], 1), (L["s_tramp"] + 1, 5)]
    # both neighbours are branch targets: nothing can move, trap
    s = by[L["s_tgt"]]
    assert s.tactic == Tactic.TRAP and s.region is None and s.reason
    # the instruction after the site is a target: the region reaches backwards instead
    s = by[L["s_back"] + 5]
    assert s.tactic == Tactic.INLINE and s.region == L["s_back"]
    assert regions[L["s_back"]].end == L["t_back"]
    # a conditional branch inside a region is fine
    r = regions[L["s_jcc"]]
    assert [a for a, _ in r.insns] == [L["s_jcc"], L["s_jcc"] + 1, L["s_jcc"] + 3]
    assert d.flow[L["s_jcc"] + 1][0] == disasm.JCC
    # jecxz has no rel32 form: it cannot move, and nothing else gives 5 bytes
    assert by[L["s_jecxz"]].tactic == Tactic.TRAP
    # after a final ret, dead int3 padding completes the 5 bytes
    r = regions[L["s_dead"]]
    assert r.insns == [(L["s_dead"], 1), (L["s_dead"] + 1, 1)] and r.end == L["s_dead"] + 5
    check_region_invariants(d, p)
    # the plan is data
    j = json.loads(json.dumps(p.to_json()))
    traps = {s.addr for s in p.sites if s.tactic == Tactic.TRAP}
    assert traps == {L["entry"] + 5 * 9, L["s_tgt"], L["s_jecxz"]}    # hlt; jmp: no room
    assert j["counts"] == {"inline": 5, "trampoline": 1, "trap": 3}
    # the internal target: the region starts at the site and holds the loop and its branch
    s = by[L["s_int"]]
    assert s.tactic == Tactic.INLINE and s.region == L["s_int"]
    assert [a for a, _ in regions[L["s_int"]].insns] == \
        [L["s_int"], L["t_int"], L["t_int"] + 1, L["t_int"] + 3]
    assert [s["addr"] for s in j["sites"]] == sorted(by)


def test_plan_trap_only_and_no_inline():
    raw, L = plan_kernel()
    _, _, p = _plan(raw, (Tactic.TRAP,))
    assert {s.tactic for s in p.sites} == {Tactic.TRAP} and not p.regions
    d, _, p = _plan(raw, (Tactic.TRAMPOLINE, Tactic.TRAP))
    assert Tactic.INLINE not in {s.tactic for s in p.sites}
    assert {s.addr: s.tactic for s in p.sites}[L["s_room"]] == Tactic.TRAMPOLINE
    check_region_invariants(d, p)
    d, _, p = _plan(raw, (Tactic.INLINE, Tactic.TRAP))
    t = {s.addr: s.tactic for s in p.sites}
    assert t[L["s_room"]] == Tactic.INLINE and t[L["s_tramp"]] == Tactic.TRAP
    check_region_invariants(d, p)


@lru_cache(maxsize=None)
def pad_kernel():
    """Functions too short for a region of their own instructions, each ending in ret (or a
    jmp) followed by the multi-byte nops GNU as and the kernel's compiler put between
    functions (syscall_enter_from_user_mode_prepare in Debian's i386 Linux 6.1 is `sti; ret`
    then `lea esi, [esi + 0]`), and two whose following nops something reaches."""
    p = Prog(TEXT)
    fns = ["p_lea7", "p_lea4", "p_xchg", "p_jmp", "p_reached", "p_pointed", "p_edge", "far"]
    p.label("entry").asm(*[f"call {{{f}}}" for f in fns], "hlt", "jmp {entry}")
    p.align(16, 0xCC)
    p.label("p_lea7").raw("fb c3 8d b4 26 00 00 00 00 8d b4 26 00 00 00 00")   # sti; ret
    p.label("p_lea4").raw("fa c3 8d 74 26 00 8d b4 26 00 00 00 00 66 90 90")   # cli; ret
    p.label("p_xchg").raw("ec c3 66 90 66 90 66 90 66 90 66 90 66 90 66 90")   # in al, dx; ret
    p.label("p_jmp").asm("sti", "jmp {p_jmp_to}")
    p.label("p_jmp_pad").raw("89 f6 8d bc 27 00 00 00 00 8d 74 26 00")          # mov esi, esi...
    p.label("p_jmp_to").asm("ret")
    p.align(16, 0x90)
    # the nop after the ret is a branch target (far's jmp reaches it): code, not padding
    p.label("p_reached").raw("fb c3")
    p.label("p_reached_nop").raw("8d b4 26 00 00 00 00 8d b4 26 00 00 00 00 c3")
    p.align(16, 0x90)
    # a pointer-like immediate names a byte of the padding after the ret
    p.label("p_pointed").raw("fb c3 8d b4")
    p.label("p_pointed_mid").raw("26 00 00 00 00 8d b4 26 00 00 00 00")
    p.align(16, 0x90)
    # the ret ends at a 16-byte boundary: the nop after it could be an unreached function's
    # first instruction
    p.raw("90" * 14).label("p_edge").raw("fb c3 8d b4 26 00 00 00 00 8d b4 26 00 00 00 00")
    p.align(64, 0xCC).raw("cc" * 64)
    p.label("far").asm("mov eax, {p_pointed_mid}", "test eax, eax", "je {p_reached_nop}",
                       "ret")
    p.align(16, 0xCC)
    p.label("end")
    text, L = p.build()
    return make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]), L


def test_plan_region_over_dead_multibyte_nops():
    """After a final ret or jmp, the alignment nops no traversal reached and nothing points to
    (lea esi, [esi + 0] in its forms, xchg ax, ax, mov esi, esi: disasm marks them padding) are
    dead bytes a region may overwrite, as int3/nop/zero fill is; a nop that a branch reaches
    or a pointer names is not, nor one past the next 16-byte boundary."""
    raw, L = pad_kernel()
    d, g, p = _plan(raw)
    by = {s.addr: s for s in p.sites}
    regions = {r.start: r for r in p.regions}
    for name, n in (("p_lea7", 2), ("p_lea4", 2), ("p_xchg", 2), ("p_jmp", 2)):
        s = by[L[name]]
        assert s.tactic in (Tactic.INLINE, Tactic.TRAMPOLINE) and s.region == L[name], name
        r = regions[L[name]]
        assert [a for a, _ in r.insns][0] == L[name] and len(r.insns) == n, name
        assert r.end == L[name] + 5 and r.tail == [], name
        last, ln = r.insns[-1]
        assert all(d.is_padding(a) for a in range(last + ln, r.end)), name
    assert by[L["p_lea7"]].kind == Kind.STI and by[L["p_lea7"]].tactic == Tactic.INLINE
    assert by[L["p_xchg"]].tactic == Tactic.TRAMPOLINE
    for name in ("p_pointed", "p_edge"):
        s = by[L[name]]
        assert s.tactic == Tactic.TRAP and s.region is None and s.reason, name
    assert d.is_code_start(L["p_reached_nop"]) and not d.is_padding(L["p_reached"] + 2)
    # the nop far's je reaches is no padding: the second pass moves it as an instruction after
    # the ret, and far's je with it, into a site-less region that aims it at the nop's piece
    r = regions[L["p_reached"]]
    assert [a for a, _ in r.insns] == [L["p_reached"], L["p_reached"] + 1, L["p_reached_nop"]]
    assert any(not q.sites and any(d.flow.get(a, (None, None))[1] == L["p_reached_nop"]
                                   for a, _ in q.insns) for q in p.regions)
    check_region_invariants(d, p)
    # the trampoline of sti; ret: the inline sti; in the ret's piece the pending check before
    # it (from there the runtime keeps sti's shadow over the ret), the ret, nothing after it
    img, d, g = analyse(raw)
    p = plan_mod.make_plan(g, W)
    out = emit.emit(img, p, d)
    ps = pieces(out.layout, next(r for r in p.regions if r.start == L["p_lea7"]))
    assert (ps[0][0][2], ps[0][0][3]) == ("mov", f"dword ptr [{vcpu(abi.VCPU_VIF)}], "
                                                 f"{abi.EFLAGS_IF:#x}")
    assert len(ps[0]) == 1
    k = [i[2] for i in ps[1]].index("ret")
    assert any(f"[{vcpu(abi.VCPU_PENDING)}]" in i[3] for i in ps[1][:k])
    assert ps[1][k + 1][2] == "int3"                  # no jmp back: the ret never falls through
    # in the image: the jmp over sti, ret and the lea's first 3 bytes; the rest as it was
    off = img.file_offset(L["p_lea7"], 16)
    assert out.data[off:off + 5] == trampoline.jmp_rel32(L["p_lea7"],
                                                         out.layout.region_tramp[L["p_lea7"]])
    assert out.data[off + 5:off + 16] == raw[off + 5:off + 16] == \
        bytes.fromhex("00 00 00 00 8d b4 26 00 00 00 00")


def test_plan_tail_ends_in_a_translated_iret():
    """Linux's return to user mode: `verw; iret`, the iret reached by jmps from far away too
    (no region may hold it after its first byte) and followed at once by the next function (no
    padding to give it a region of its own). The verw's region falls through: its trampoline
    carries a copy of the iret translated to a hypercall (the site's own tactic stays trap,
    its int3 for the jmps) and ends there, with no jmp back."""
    p = Prog(TEXT)
    p.label("entry").asm("call {v}", "call {far}", "hlt", "jmp {entry}")
    p.align(16, 0xCC)
    p.label("v").asm(f"verw word ptr cs:[{DATA:#x}]")
    p.label("v_iret").asm("iretd")
    p.label("next").asm("mov eax, 1", "ret")
    p.align(128, 0xCC).raw("cc" * 64)
    p.label("far").asm("jmp {v_iret}")
    text, L = p.build()
    raw = make_elf32([Seg(TEXT, text, "rx", name=".text"), Seg(DATA, b"\0" * 16, "rw",
                                                               name=".data")], L["entry"])
    img, d, g = analyse(raw)
    p = plan_mod.make_plan(g, W)
    sites = {s.addr: s for s in p.sites}
    assert sites[L["v"]].kind == Kind.VERW and sites[L["v"]].tactic == Tactic.TRAMPOLINE
    iret = sites[L["v_iret"]]
    assert iret.kind == Kind.IRET and iret.tactic == Tactic.TRAP and iret.region is None
    [r] = [r for r in p.regions if r.start == L["v"]]
    assert r.insns == [(L["v"], 8)] and r.end == L["v_iret"] and r.tail == [(L["v_iret"], 1)]
    assert plan_mod.copy_translation(iret, p.tactics) == "hypercall"
    check_region_invariants(d, p)
    out = emit.emit(img, p, d)
    lay = out.layout
    tramp = lay.region_tramp[L["v"]]
    ins = list(CS.disasm_lite(bytes(lay.code[tramp - lay.base:]), tramp))
    calls = [k for k, i in enumerate(ins) if i[2] == "call" and i[3] == f"{abi.entry(W):#x}"]
    index = [s.addr for s in p.sites]
    # two hypercalls: the verw's (its resume = the site's), then the iret copy's, which pushes
    # the iret site's index and resumes where t2o says "after the iret"; then nothing runs on
    assert len(calls) >= 2
    k1, k2 = calls[:2]
    push = lambda k: int(ins[k - 1][3], 0)
    assert push(k1) == index.index(L["v"]) and push(k2) == index.index(L["v_iret"])
    assert lay.resume[L["v"]] == ins[k1][0] + ins[k1][1]
    assert L["v_iret"] not in lay.resume
    resume2 = ins[k2][0] + ins[k2][1]
    assert (L["v_iret"] + 1, resume2) in lay.t2o and (L["v_iret"], ins[k1 + 1][0]) in lay.t2o
    assert L["v_iret"] not in dict(lay.o2t)
    assert ins[k2 + 1][2] == "int3"                   # the iret never falls through
    off = img.file_offset(L["v_iret"], 1)
    assert out.data[off] == 0xCC                      # the original: a trap site for the jmp
    # `ring1 inspect --profile` says so: the site's count is its hypercalls in the copy too
    from rewriter import cli, profile
    prof = profile.Profile(img.sha256, W, {(L["v_iret"], "iret"): 100})
    [row] = cli._profile_rows(pipeline.Analysis(img, d, g), prof, "p")["hottest"]
    assert row["action"].startswith("sensitive site, trap (") and row["action"].endswith(
        f"; copied, a hypercall, into the tail of the region at {L['v']:#x}"), row


def far_branch_kernel():
    """Sites whose only possible region holds an instruction that a branch from far away
    reaches (Linux's exc_page_fault: `cli` at its start, the next instruction the target of a
    jmp 92 bytes on): a jne (movable), a loop (which has no rel32 form, so cannot move), a
    2-byte jmp whose site-less region needs the instruction before it, and `sti; jmp` whose
    region holds the jmp and the instruction after it, reached only from far away."""
    p = Prog(TEXT)
    p.label("entry").asm("call {f}", "call {g}", "call {h}", "call {k}", "call {g2}", "call {m}",
                         "call {g3}")
    p.label("after").asm("hlt", "jmp {entry}")
    p.align(16, 0xCC)
    p.label("f").asm("cli")
    p.label("f_in").asm("mov eax, 1", "ret")
    p.align(16, 0xCC)
    p.label("h").asm("sti")
    p.label("h_in").asm("mov eax, 2", "ret")
    p.align(16, 0xCC)
    p.label("k").asm("cli")
    p.label("k_in").asm("mov eax, 3", "ret")
    p.align(16, 0xCC)
    p.label("m").asm("sti", "jmp {m_out}")      # a jmp before the region's last instruction
    p.label("m_in").asm("mov eax, 6", "ret")
    p.label("m_out").asm("mov eax, 7", "ret")
    p.align(128, 0xCC).raw("cc" * 16)
    p.label("g").asm("mov ecx, 3", "test eax, eax")
    p.label("g_jne").asm("jne {f_in}", "mov eax, 4", "ret")
    p.label("g2").asm("mov ecx, 1")
    p.label("g2_loop").asm("loop {h_in}", "add eax, 5")
    p.label("g2_jmp").raw("eb 00")          # jmp rel8 to the next instruction, patched below
    p.label("g2_ret").asm("ret")
    p.label("g3").asm("test eax, eax", "jne {m_in}", "mov eax, 8", "ret")
    p.align(16, 0xCC)
    p.label("end")
    text, L = p.build()
    # aim the 2-byte jmp at k_in (-128 <= rel8: k_in is within reach, but more than 64 away)
    at = L["g2_jmp"] - TEXT
    rel = L["k_in"] - (L["g2_jmp"] + 2)
    assert -128 <= rel < -64, rel
    text = text[:at + 1] + struct.pack("<b", rel) + text[at + 2:]
    return make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]), L


def test_plan_moves_far_branches_into_a_region(tmp_path):
    """A site whose region would hold a target of branches from far away gets it if every such
    branch can move too (into a site-less region of its own: plan._Reaim), each re-aimed at the
    target's piece; a loop cannot move (no rel32 form), so its target stays and the site traps.
    verify checks it independently: no branch left in the original code, and none in the
    trampolines, lands inside a region."""
    raw, L = far_branch_kernel()
    img, d, g = analyse(raw)
    p = plan_mod.make_plan(g, W)
    by = {s.addr: s for s in p.sites}
    regions = {r.start: r for r in p.regions}
    assert by[L["f"]].tactic == Tactic.INLINE and by[L["f"]].region == L["f"]
    assert [a for a, _ in regions[L["f"]].insns][:2] == [L["f"], L["f_in"]]
    r = regions[L["g_jne"]]                  # jne rel8 and the mov after it
    assert r.sites == [] and r.insns == [(L["g_jne"], 2), (L["g_jne"] + 2, 5)]
    assert by[L["h"]].tactic == Tactic.TRAP and by[L["h"]].reason == plan_mod.NO_REGION
    # the 2-byte jmp moves with the instructions before it (not the loop: it cannot move)
    assert by[L["k"]].tactic == Tactic.INLINE
    r = next(r for r in p.regions if any(a == L["g2_jmp"] for a, _ in r.insns))
    assert r.sites == [] and r.start > L["g2_loop"] and r.end - r.start >= 5
    # sti; jmp m_out; then m_in, which only g3's jne reaches: the jmp may stand before the
    # region's last instruction (nothing falls into m_in)
    assert by[L["m"]].tactic == Tactic.INLINE
    assert [a for a, _ in regions[L["m"]].insns] == [L["m"], L["m"] + 1, L["m_in"]]
    check_region_invariants(d, p)
    out = emit.emit(img, p, d)
    lay = out.layout
    o2t = dict(lay.o2t)
    # the jne's piece is a jne rel32 to f_in's piece, not to f_in (inside f's jmp now)
    tramp = lay.region_tramp[L["g_jne"]]
    ins = next(CS.disasm_lite(bytes(lay.code[tramp - lay.base:]), tramp))
    assert (ins[2], int(ins[3], 16)) == ("jne", o2t[L["f_in"]])
    off = img.file_offset(L["f"], 5)
    assert out.data[off:off + 5] == trampoline.jmp_rel32(L["f"], lay.region_tramp[L["f"]])
    # run it: g with eax != 0 takes the jne into f's trampoline, which sets eax = 1 and
    # returns; g2's jmp reaches k's piece (eax = 3). No hypercall, no int3 on the way.
    window = 0x40000000                      # unicorn does not wrap Jcc past 4 GiB
    p2 = plan_mod.make_plan(g, window)
    out2 = emit.emit(img, p2, d)
    m = Machine(out2.data, window)
    for start, eax, want in ((L["g"], 7, 1), (L["g"], 0, 4), (L["g2"], 0, 3), (L["m"], 0, 7),
                             (L["g3"], 1, 6), (L["g3"], 0, 8)):
        _fresh(m, IF, eax=eax)
        m.set(esp=STACK - 4)
        m.put32(STACK - 4, L["after"])
        assert m.run(start, L["after"]) is None
        assert m.reg("eip") == L["after"] and m.reg("eax") == want, (hex(start), eax)
    # verify: OK as written; a re-aimed branch put back on its original target is caught
    # by the independent check as well as by the re-run
    path = tmp_path / "k.r1.elf"
    path.write_bytes(out.data)
    assert verify_mod.verify(str(path)).ok
    bad = bytearray(out.data)
    t_off = image.load("k.r1.elf", out.data).file_offset(tramp, 6)
    assert bad[t_off:t_off + 2] == b"\x0f\x85"
    bad[t_off + 2:t_off + 6] = trampoline._rel32(tramp + 6, L["f_in"])
    path.write_bytes(bytes(bad))
    res = verify_mod.verify(str(path))
    assert any(f"jne to {L['f_in']:#x}, inside region {L['f']:#x}" in x for x in res.problems), \
        res.problems


def test_plan_invariants_on_sample(sample_rewritten):
    _, _, rw = sample_rewritten
    d = rw.analysis.d
    check_region_invariants(d, rw.plan)
    assert {s.addr for s in rw.plan.sites} == set(d.sites)
    assert len({t for t in (s.tactic for s in rw.plan.sites)}) >= 2


# =============================================================================================
# trampoline: static decoding
# =============================================================================================
@lru_cache(maxsize=None)
def tramp_rewrite(window: int = W):
    raw, L = tramp_kernel()
    img, d, g = analyse(raw)
    p = plan_mod.make_plan(g, window)
    out = emit.emit(img, p, d)
    return raw, L, d, p, out


def pieces(lay, region) -> list[list[tuple[int, int, str, str]]]:
    """Decoded instructions of each piece of a region's trampoline (one per moved insn), the
    last piece running to the region's final jmp back (included), or with a tail (plan.py) to
    the copied ret it ends in."""
    o2t = dict(lay.o2t)
    starts = [o2t[a] for a, _ in region.insns]
    base = lay.base
    out = []
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        code = bytes(lay.code[s - base:(end - base) if end else len(lay.code)])
        insns = []
        for ins in CS.disasm_lite(code, s):
            insns.append(ins)
            if end is None and (ins[2] == "jmp" and ins[3] == f"{region.back:#x}" or
                                region.tail and ins[2] == "ret"):
                break
        out.append(insns)
    return out


def vcpu(field_off: int) -> str:
    return f"{abi.vcpu(W, field_off):#x}"


FLAG_WRITERS = re.compile(r"^(add|sub|and|or|xor|cmp|test|inc|dec|neg|shl|shr|sar|rol|ror|adc|"
                          r"sbb|popfd|popf|sahf|bt|bts|btr|imul|mul|div|idiv)$")


def test_trampoline_inline_translations_decode_as_intended():
    raw, L, d, p, out = tramp_rewrite()
    lay = out.layout
    regions = {r.start: r for r in p.regions}
    sel = lambda r: vcpu(abi.VCPU_SEL + 4 * r)
    expect_first = {
        "cli": ("mov", f"dword ptr [{vcpu(abi.VCPU_VIF)}], 0"),
        "sti": ("mov", f"dword ptr [{vcpu(abi.VCPU_VIF)}], {abi.EFLAGS_IF:#x}"),
        "mov_eax_ds": ("mov", f"eax, dword ptr [{sel(abi.SREG_DS)}]"),
        "mov_ax_es": ("mov", f"ax, word ptr [{sel(abi.SREG_ES)}]"),
        "push_ds": ("push", f"dword ptr [{sel(abi.SREG_DS)}]"),
        "push_fs": ("push", f"dword ptr [{sel(abi.SREG_FS)}]"),
    }
    for name, (mn, ops) in expect_first.items():
        r = regions[L[name]]
        site = next(s for s in p.sites if s.addr == L[name])
        assert site.tactic == Tactic.INLINE, name
        first = pieces(lay, r)[0]
        assert (first[0][2], first[0][3]) == (mn, ops), f"{name}: {first}"
        if name not in ("sti",):
            assert len(first) == 1, f"{name}: one instruction expected, got {first}"
    # the moved mov ebx, then the copy of the `ret` after the region (its tail): no jmp back;
    # after a popf (which may set TF) no tail, the jmp back
    t2o = set(lay.t2o)
    for name in TRAMP_FORMS:
        r = regions[L[name]]
        ps = pieces(lay, r)
        assert ps[1][0][2:] == ("mov", f"ebx, {0x11111111 * (list(TRAMP_FORMS).index(name) + 1) & 0xFFFFFFFF:#x}"), name
        if name == "popf":
            assert r.tail == [] and ps[-1][-1][2:] == ("jmp", f"{r.end:#x}"), name
            continue
        assert r.tail == [(L[name + "_end"], 1)], name
        assert ps[-1][-1][2:] == ("ret", ""), name
        assert (L[name + "_end"], ps[-1][-1][0]) in t2o, name
        assert L[name + "_end"] not in dict(lay.o2t), name
    # pushf: host flags - IF + vif + vflags, computed without touching the arithmetic flags
    ps = pieces(lay, regions[L["pushf"]])[0]
    mns = [i[2] for i in ps]
    assert mns[0] == "pushfd" and "lea" in mns
    assert not [m for m in mns if FLAG_WRITERS.match(m)], f"pushf writes flags: {mns}"
    assert any(vcpu(abi.VCPU_VIF) in i[3] for i in ps) and any(vcpu(abi.VCPU_VFLAGS) in i[3]
                                                               for i in ps)
    # popf: the host popfd comes last among the flag writers (then only lea/mov/jumps)
    ps = pieces(lay, regions[L["popf"]])[0]
    mns = [i[2] for i in ps]
    k = mns.index("popfd")
    assert not [m for m in mns[k + 1:] if FLAG_WRITERS.match(m)], f"popf: {mns}"
    assert any(f"[{vcpu(abi.VCPU_PENDING)}]" in i[3] for i in ps), "popf: no pending check"


def test_trampoline_hypercall_sequence():
    raw, L, d, p, out = tramp_rewrite()
    lay = out.layout
    r = next(r for r in p.regions if r.start == L["in"])
    index = [s.addr for s in p.sites].index(L["in"])
    first = pieces(lay, r)[0]
    # the port cache's fast path (abi.h, R1_VCPU_PORTC; tests/test_rewriter_exec.py runs it),
    # then the hypercall sequence itself, ending the piece
    assert any(f"[{vcpu(abi.VCPU_PORTFAST)}]" in i[3] for i in first[:-4])
    assert [(i[2], i[3]) for i in first[-4:]] == [
        ("mov", f"dword ptr [{vcpu(abi.VCPU_SAVED_ESP)}], esp"),
        ("mov", f"esp, {abi.hcstack_top(W):#x}"),
        ("push", f"{index:#x}" if index > 9 else f"{index}"),
        ("call", f"{abi.entry(W):#x}"),
    ]
    resume = first[-1][0] + first[-1][1]
    assert lay.resume[L["in"]] == resume
    assert (L["in"] + 1, resume) in lay.t2o


def test_trampoline_relocated_branches():
    raw, L, d, p, out = tramp_rewrite()
    lay = out.layout
    r = next(r for r in p.regions if r.start == L["k_call"])
    call_piece = pieces(lay, r)[1]
    # a moved call pushes the ORIGINAL return address, then jumps: no trampoline address leaks
    assert [(i[2], i[3]) for i in call_piece[:2]] == [
        ("push", f"{L['k_call_ret']:#x}"), ("jmp", f"{L['k_callee']:#x}")]
    r = next(r for r in p.regions if r.start == L["k_jcc"])
    jcc_piece = pieces(lay, r)[1]
    assert (jcc_piece[0][1], jcc_piece[0][2], jcc_piece[0][3]) == (6, "jne", f"{L['k_jcc_t']:#x}")


def test_trampoline_maps():
    raw, L, d, p, out = tramp_rewrite()
    lay = out.layout
    moved = [a for r in p.regions for a, _ in r.insns]
    assert [o for o, _ in lay.o2t] == sorted(moved)
    assert [t for _, t in lay.t2o] == sorted(t for _, t in lay.t2o)
    lo, hi = lay.base, lay.base + len(lay.code)
    assert all(lo <= t < hi for _, t in lay.o2t + lay.t2o)
    assert set(lay.region_tramp) == {r.start for r in p.regions}
    assert all(t % trampoline.ALIGN == 0 for t in lay.region_tramp.values())


# =============================================================================================
# trampoline: executed in unicorn
# =============================================================================================
ARITH = 0x8D5 | 0x400            # CF PF AF ZF SF OF, and DF
IF = abi.EFLAGS_IF
VIRT_OTHER = abi.EFLAGS_VIRT & ~IF
STACK = 0x00300000


class Machine:
    """The patched image's segments and the window's vCPU, stack and entry pages in unicorn.
    run(addr, until) starts at an ORIGINAL address (which holds the region's jmp) and stops at
    `until` or at the hypercall entry."""

    def __init__(self, out_bytes: bytes, window: int = W):
        uc_mod = pytest.importorskip("unicorn")
        self.w = window
        from unicorn import x86_const as X
        self.X = X
        self.uc_mod = uc_mod
        self.uc = uc = uc_mod.Uc(uc_mod.UC_ARCH_X86, uc_mod.UC_MODE_32)
        img = image.load("out", out_bytes)
        for s in img.segments:
            lo = s.vaddr & ~0xFFF
            hi = (s.vaddr + s.memsz + 0xFFF) & ~0xFFF
            uc.mem_map(lo, hi - lo)
            uc.mem_write(s.vaddr, out_bytes[s.offset:s.offset + s.filesz])
        uc.mem_map(window, abi.IMAGE_OFF)                 # vCPU, hypercall stack, entry
        uc.mem_map(STACK - 0x10000, 0x20000)
        self.entry_hit = None
        self.r1 = emit.read_ring1(img)

        def hook(uc_, addr, size, _):
            if addr == abi.entry(window):
                self.entry_hit = self.regs()
                uc_.emu_stop()
        # only at the entry: a hook on every instruction makes unicorn 2.1 re-execute stores
        # into the vCPU page with wrong lazy flags (see test_rewriter_exec.py)
        uc.hook_add(uc_mod.UC_HOOK_CODE, hook, None, abi.entry(window), abi.entry(window))

    def reg(self, name: str) -> int:
        return self.uc.reg_read(getattr(self.X, f"UC_X86_REG_{name.upper()}"))

    def set(self, **regs) -> None:
        for k, v in regs.items():
            self.uc.reg_write(getattr(self.X, f"UC_X86_REG_{k.upper()}"), v)

    def regs(self) -> dict:
        return {r: self.reg(r) for r in ("eax", "ebx", "ecx", "edx", "esp", "eflags", "eip")}

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.uc.mem_read(addr, 4))[0]

    def put32(self, addr: int, v: int) -> None:
        self.uc.mem_write(addr, struct.pack("<I", v & 0xFFFFFFFF))

    def vcpu(self, field_off: int) -> int:
        return self.u32(abi.vcpu(self.w, field_off))

    def set_vcpu(self, field_off: int, v: int) -> None:
        self.put32(abi.vcpu(self.w, field_off), v)

    def copy_of(self, addr: int) -> int | None:
        """The trampoline address of the one copy of the original instruction at addr that a
        region's tail holds (a t2o entry that is neither a piece nor a hypercall's resume)."""
        pieces = set(self.r1.o2t)
        code, base = self.r1.tramp_code, self.r1.tramp_addr
        resumes = {t for _, t in self.r1.t2o
                   if code[t - base - 5:t - base - 4] == b"\xE8" and
                   t + struct.unpack("<i", code[t - base - 4:t - base])[0] == abi.entry(self.w)}
        copies = [t for o, t in self.r1.t2o
                  if o == addr and (o, t) not in pieces and t not in resumes]
        assert len(copies) <= 1, f"{addr:#x} is copied {len(copies)} times"
        return copies[0] if copies else None

    def run(self, start: int, until: int, count: int = 200) -> dict | None:
        """Run from start until the original instruction at `until` would run: there, or at
        the copy of it a region's tail holds (the trampoline runs that copy instead of jumping
        back)."""
        self.entry_hit = None
        copy = self.copy_of(until)
        if copy is None:
            self.uc.emu_start(start, until, count=count)
            return self.entry_hit

        def stop(uc_, addr, size, _):
            uc_.emu_stop()
        h = self.uc.hook_add(self.uc_mod.UC_HOOK_CODE, stop, None, until, until)
        try:
            self.uc.emu_start(start, copy, count=count)
        finally:
            self.uc.hook_del(h)
        return self.entry_hit

    def resume_from_hypercall(self) -> int:
        """What the runtime does when it has nothing to emulate: continue at [esp] (resume)
        with the guest's ESP from saved_esp. Returns the resume address."""
        resume = self.u32(self.reg("esp"))
        self.set(esp=self.vcpu(abi.VCPU_SAVED_ESP))
        return resume


@pytest.fixture
def machine():
    raw, L, d, p, out = tramp_rewrite()
    return Machine(out.data), L, p


def _fresh(m: Machine, eflags: int, **regs):
    m.set(esp=STACK, eax=0xA0A0A0A0, ebx=0xB0B0B0B0, ecx=0xC0C0C0C0, edx=0xD0D0D0D0,
          eflags=eflags | 0x2)
    m.set(**regs)
    for f in (abi.VCPU_VIF, abi.VCPU_VFLAGS, abi.VCPU_PENDING, abi.VCPU_SAVED_ESP):
        m.set_vcpu(f, 0)


@pytest.mark.parametrize("arith", [0, ARITH, 0x041, 0x880])
@pytest.mark.parametrize("vif,vflags", [(0, 0), (IF, 0), (IF, 0x3000), (0, 0x4000 | 0x40000)])
def test_exec_pushf(machine, arith, vif, vflags):
    m, L, p = machine
    host = arith | IF | 0x2
    _fresh(m, host)
    m.set_vcpu(abi.VCPU_VIF, vif)
    m.set_vcpu(abi.VCPU_VFLAGS, vflags)
    assert m.run(L["pushf"], L["pushf_end"]) is None
    assert m.reg("esp") == STACK - 4
    pushed = m.u32(STACK - 4)
    assert pushed == (host & ~IF) | vif | vflags, f"pushed {pushed:#x}"
    assert m.reg("eflags") & (ARITH | IF) == host & (ARITH | IF), "pushf changed host flags"
    assert (m.reg("eax"), m.reg("ecx"), m.reg("edx")) == (0xA0A0A0A0, 0xC0C0C0C0, 0xD0D0D0D0)
    assert m.reg("ebx") == 0x33333333                 # the moved instruction ran


@pytest.mark.parametrize("value", [0x2, 0x2 | ARITH, 0x2 | IF | 0x41, 0x2 | IF | 0x3000 | 0x880,
                                   0x2 | 0x4000 | 0x40000 | 0x4])
def test_exec_popf_no_pending(machine, value):
    m, L, p = machine
    _fresh(m, IF | (ARITH & ~value))                   # host flags differ from the value
    m.put32(STACK, value)
    m.set_vcpu(abi.VCPU_PENDING, 0)
    assert m.run(L["popf"], L["popf_end"]) is None
    assert m.reg("esp") == STACK + 4
    assert m.reg("eflags") & ARITH == value & ARITH, "popf did not load the arithmetic flags"
    assert m.vcpu(abi.VCPU_VIF) == value & IF
    assert m.vcpu(abi.VCPU_VFLAGS) == value & VIRT_OTHER
    assert (m.reg("eax"), m.reg("ecx"), m.reg("edx")) == (0xA0A0A0A0, 0xC0C0C0C0, 0xD0D0D0D0)
    assert m.reg("ebx") == 0x44444444


def test_exec_popf_pending_interrupt(machine):
    m, L, p = machine
    value = 0x2 | IF | 0x41
    _fresh(m, IF)
    m.put32(STACK, value)
    m.set_vcpu(abi.VCPU_PENDING, 1)
    hit = m.run(L["popf"], L["popf_end"])
    assert hit is not None, "virtual IF=1 with a pending interrupt must reach the runtime"
    index = [s.addr for s in p.sites].index(L["popf"])
    assert hit["esp"] == abi.hcstack_top(W) - 8
    assert m.u32(hit["esp"] + 4) == index
    assert m.vcpu(abi.VCPU_SAVED_ESP) == STACK + 4
    assert hit["ecx"] == 0xC0C0C0C0 and hit["ebx"] == 0xB0B0B0B0   # delivered before the mov
    assert hit["eflags"] & ARITH == value & ARITH
    # the frame would show the original address after popf (t2o of the resume point)
    resume = m.u32(hit["esp"])
    assert (L["popf"] + 1, resume) in m.r1.t2o
    # the runtime resumes: the guest continues to the end of the region
    m.set_vcpu(abi.VCPU_PENDING, 0)
    start = m.resume_from_hypercall()
    assert m.run(start, L["popf_end"]) is None
    assert m.reg("ebx") == 0x44444444 and m.reg("esp") == STACK + 4
    assert m.reg("ecx") == 0xC0C0C0C0


@pytest.mark.parametrize("pending", [0, 1])
def test_exec_sti_shadow(machine, pending):
    m, L, p = machine
    _fresh(m, IF | 0x41)
    m.set_vcpu(abi.VCPU_PENDING, pending)
    hit = m.run(L["sti"], L["sti_end"])
    assert m.vcpu(abi.VCPU_VIF) == IF
    if not pending:
        assert hit is None and m.reg("ebx") == 0x22222222
        assert m.reg("eflags") & ARITH == 0x41
    else:
        assert hit is not None
        assert hit["ebx"] == 0x22222222, "the instruction after sti runs before the interrupt"
        assert hit["ecx"] == 0xC0C0C0C0 and hit["eflags"] & ARITH == 0x41


def test_exec_cli(machine):
    m, L, p = machine
    _fresh(m, IF | ARITH)
    m.set_vcpu(abi.VCPU_VIF, IF)
    assert m.run(L["cli"], L["cli_end"]) is None
    assert m.vcpu(abi.VCPU_VIF) == 0 and m.reg("eflags") & (ARITH | IF) == ARITH | IF


@pytest.mark.parametrize("form,sreg,check", [
    ("mov_eax_ds", abi.SREG_DS, lambda m, v: m.reg("eax") == v),
    ("mov_ax_es", abi.SREG_ES, lambda m, v: m.reg("eax") == (0xA0A00000 | v)),
    ("push_ds", abi.SREG_DS, lambda m, v: m.reg("esp") == STACK - 4 and m.u32(STACK - 4) == v),
    ("push_fs", abi.SREG_FS, lambda m, v: m.reg("esp") == STACK - 4 and m.u32(STACK - 4) == v),
])
def test_exec_segment_reads(machine, form, sreg, check):
    m, L, p = machine
    _fresh(m, IF)
    for r in range(6):
        m.set_vcpu(abi.VCPU_SEL + 4 * r, 0x10 + 8 * r + 3)   # distinct guest selectors
    assert m.run(L[form], L[form + "_end"]) is None
    assert check(m, 0x10 + 8 * sreg + 3), f"{form}: {m.regs()}"


def test_exec_hypercall_site(machine):
    m, L, p = machine
    _fresh(m, IF | ARITH)
    hit = m.run(L["in"], L["in_end"])
    assert hit is not None
    index = [s.addr for s in p.sites].index(L["in"])
    site = m.r1.sites[index]
    assert site["addr"] == L["in"] and site["tactic"] == Tactic.TRAMPOLINE
    assert m.u32(hit["esp"]) == site["resume"] and m.u32(hit["esp"] + 4) == index
    assert m.vcpu(abi.VCPU_SAVED_ESP) == STACK
    assert hit["eflags"] & ARITH == ARITH and hit["ecx"] == 0xC0C0C0C0
    start = m.resume_from_hypercall()
    assert m.run(start, L["in_end"]) is None and m.reg("ebx") == 0x99999999


def test_exec_moved_call(machine):
    m, L, p = machine
    _fresh(m, IF)
    assert m.run(L["k_call"], L["k_callee"]) is None
    assert m.reg("eip") == L["k_callee"]
    assert m.u32(m.reg("esp")) == L["k_call_ret"], "the callee sees a trampoline address"


def test_exec_moved_jcc():
    """jne rel32 from the trampoline back to the original code. With the default window that
    branch wraps past 4 GiB, which the CPU does (EIP is 32 bits) but unicorn 2.1 does not for
    Jcc (it fetches at 0x1_0010_008d), so this one runs with the window at 0x40000000."""
    window = 0x40000000
    raw, L, d, p, out = tramp_rewrite(window)
    m = Machine(out.data, window)
    for zf, eax in ((0, 0xA0A0A0A0), (0x40, 0x66666666)):    # jne taken / not taken
        _fresh(m, IF | zf)
        assert m.run(L["k_jcc"], L["k_jcc_t"]) is None
        # taken: the original target; not taken: the region's tail, a copy of its `ret`
        want = L["k_jcc_t"] if not zf else m.copy_of(L["k_jcc_t"])
        assert want is not None and m.reg("eip") == want and m.reg("eax") == eax


# =============================================================================================
# emit
# =============================================================================================
def readelf(path: Path, *opts: str) -> subprocess.CompletedProcess:
    return subprocess.run(["readelf", *opts, str(path)], capture_output=True, text=True)


def _emitted_cases(sample_rewritten, tmp_path):
    """(name, (input, output, Rewrite)): the sample, a section-less synthetic kernel, and one
    linked at virtual 0xc0100000 / physical 0x100000 rewritten with the window moved."""
    raw, L = flow_kernel()
    text = load_bytes(raw).code[0].data
    nosec = make_elf32([Seg(TEXT, text, "rx"), Seg(DATA, struct.pack("<I", L["viaptr"]), "rw")],
                       L["entry"], sections=False)
    virt, _ = flow_kernel(0xC0100000, 0x00100000)
    yield "sample", sample_rewritten
    yield "no-sections", rewrite_bytes(nosec, tmp_path, "nosec.elf")
    yield "virtual", rewrite_bytes(virt, tmp_path, "virt.elf", window=0x80000000)


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) not installed")
def test_emit_output_is_valid_elf(sample_rewritten, tmp_path):
    for name, (src, out, rw) in _emitted_cases(sample_rewritten, tmp_path):
        r = readelf(out, "-W", "-h", "-l", "-S", "-n")
        assert r.returncode == 0 and not r.stderr.strip(), f"{name}: readelf: {r.stderr}"
        assert "warning" not in r.stdout.lower() and "error" not in r.stdout.lower()
        w = rw.plan.window_base
        ring1 = f"{abi.image_base(w):#010x}"
        loads = [ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith("LOAD")]
        assert any(f[2] == ring1 and f[3] == ring1 and f[6] == "R" and f[7] == "E"
                   for f in loads), f"{name}: no R E LOAD at {ring1}:\n{r.stdout}"
        assert "ring1" in r.stdout and "0x52310001" in r.stdout.lower() or \
            "ring1" in r.stdout, r.stdout
        if name != "no-sections":
            assert ".ring1" in r.stdout and ".note.ring1" in r.stdout
        # symbols/relocs readers must not choke either
        r2 = readelf(out, "-W", "-a")
        assert r2.returncode == 0 and not r2.stderr.strip(), f"{name}: {r2.stderr}"


def test_emit_lief_reads_output(sample_rewritten, tmp_path):
    for name, (src, out, rw) in _emitted_cases(sample_rewritten, tmp_path):
        w = rw.plan.window_base
        elf = lief.ELF.parse(str(out))
        assert elf is not None, name
        assert elf.header.entrypoint == image.load(src).entry
        segs = [s for s in elf.segments if s.type == lief.ELF.Segment.TYPE.LOAD
                and s.virtual_address == abi.image_base(w)]
        assert len(segs) == 1, name
        seg = segs[0]
        assert seg.physical_size == rw.patched.ring1_size
        assert seg.has(lief.ELF.Segment.FLAGS.X) and not seg.has(lief.ELF.Segment.FLAGS.W)
        notes = [n for n in elf.notes if n.name.rstrip("\0") == "ring1"]
        assert len(notes) == 1 and notes[0].original_type == abi.NOTE_ABI
        raw_desc = bytes(notes[0].description)
        assert len(raw_desc) == abi.NOTE.size + abi.OPTIONS.size       # r1_note + r1_options
        desc = dict(zip(abi.NOTE_FIELDS, abi.NOTE.unpack_from(raw_desc)))
        opts = dict(zip(abi.OPTIONS_FIELDS, abi.OPTIONS.unpack_from(raw_desc, abi.NOTE.size)))
        assert abi.tactics_of(opts["tactics"]) == rw.plan.tactics
        assert desc["abi_version"] == abi.ABI_VERSION and desc["window_base"] == w
        assert desc["image_vaddr"] == abi.image_base(w)
        assert desc["input_sha256"] == hashlib.sha256(src.read_bytes()).digest()
        # the original segments are all still there, same addresses, same file offsets
        orig = lief.ELF.parse(str(src))
        assert [(s.type, s.virtual_address, s.physical_address, s.file_offset, s.physical_size)
                for s in orig.segments] == \
            [(s.type, s.virtual_address, s.physical_address, s.file_offset, s.physical_size)
             for s in elf.segments][:len(orig.segments)]


def test_emit_undo_rebuilds_input(sample_rewritten, tmp_path):
    for name, (src, out, rw) in _emitted_cases(sample_rewritten, tmp_path):
        img = image.load(out)
        r1 = emit.read_ring1(img)
        rebuilt = emit.reconstruct_input(img, r1)
        assert rebuilt == src.read_bytes(), name
        assert hashlib.sha256(rebuilt).digest() == r1.note["input_sha256"]
        # outside the undo records, the first orig_file_size bytes are the input's
        data = out.read_bytes()
        changed = {i for off, orig in r1.undo for i in range(off, off + len(orig))}
        inp = src.read_bytes()
        assert all(data[i] == inp[i] for i in range(len(inp)) if i not in changed)
        # the multiboot header still loads
        mb_in, mb_out = image.find_multiboot(inp), image.find_multiboot(data)
        assert (mb_in and mb_in.offset) == (mb_out and mb_out.offset)


def test_emit_is_deterministic(sample_elf, tmp_path):
    a = pipeline.rewrite(str(sample_elf)).patched.data
    other = tmp_path / "elsewhere.elf"
    shutil.copyfile(sample_elf, other)
    b = pipeline.rewrite(str(other)).patched.data
    assert a == b, "output depends on the input's path or on run-to-run state"


def test_emit_refuses_overlapping_window(tmp_path):
    raw, _ = flow_kernel()
    src = tmp_path / "k.elf"
    src.write_bytes(raw)
    with pytest.raises(BadInput, match="overlaps the hypervisor window"):
        pipeline.rewrite(str(src), window=0)
    big = make_elf32([Seg(0xFFD00000, b"\xfa\xc3", "rx", name=".text")], 0xFFD00000)
    src.write_bytes(big)
    with pytest.raises(BadInput, match="overlaps"):
        pipeline.rewrite(str(src))
    # bss (memsz beyond filesz) counts too
    bss = make_elf32([Seg(TEXT, b"\xfa\xc3", "rx", name=".text"),
                      Seg(0xFFB00000, b"\0" * 4, "rw", memsz=0x200000, name=".bss")], TEXT)
    src.write_bytes(bss)
    with pytest.raises(BadInput, match="overlaps"):
        pipeline.rewrite(str(src))


def test_emit_aout_kludge_is_refused_clearly(tmp_path):
    raw = make_aout_kludge(0x100000, b"\xfa\xf4", 0x100020)
    src = tmp_path / "k.aout"
    src.write_bytes(raw)
    with pytest.raises(BadInput, match="only ELF32"):
        pipeline.rewrite(str(src))


# =============================================================================================
# verify
# =============================================================================================
def test_verify_clean_image_passes(sample_rewritten):
    _, out, rw = sample_rewritten
    r = verify_mod.verify(str(out))
    assert r.ok, r.problems
    assert r.stats["sites"] == len(rw.plan.sites)
    assert r.stats["regions"] == len(rw.plan.regions)
    assert sum(r.stats["tactics"].values()) == len(rw.plan.sites)


def test_verify_clean_synthetic_images_pass(tmp_path):
    for raw, name in ((plan_kernel()[0], "plan"), (tramp_kernel()[0], "tramp"),
                      (flow_kernel()[0], "flow")):
        for tactics in (plan_mod.ALL_TACTICS, (Tactic.TRAP,)):
            _, out, _ = rewrite_bytes(raw, tmp_path, f"{name}.elf", tactics=tactics)
            r = verify_mod.verify(str(out))
            assert r.ok, (name, tactics, r.problems)


def test_verify_flipped_byte_outside_patches_fails(sample_rewritten, tmp_path):
    src, out, rw = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    patched = {i for off, orig in r1.undo for i in range(off, off + len(orig))}
    data = bytearray(out.read_bytes())
    # a code byte that no patch touched
    code_seg = next(s for s in img.segments if s.executable)
    off = next(i for i in range(code_seg.offset + 0x200, code_seg.offset + code_seg.filesz)
               if i not in patched)
    data[off] ^= 0x01
    bad = tmp_path / "flipped.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok and any("sha-256" in p.lower() or "sha256" in p.lower() for p in r.problems), \
        r.problems


def _region_jmp_offset(img, r1) -> tuple[int, int]:
    """(file offset of a region's jmp rel32, region start)."""
    tramp_starts = {s["tramp"] for s in r1.sites if s["tactic"] != Tactic.TRAP}
    orig_of = {t: o for o, t in r1.o2t}
    start = orig_of[min(tramp_starts)]
    return img.file_offset(start), start


def test_verify_corrupted_region_jmp_fails(sample_rewritten, tmp_path):
    _, out, _ = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    off, start = _region_jmp_offset(img, r1)
    data = bytearray(out.read_bytes())
    assert data[off] == 0xE9
    rel = struct.unpack_from("<i", data, off + 1)[0]
    struct.pack_into("<i", data, off + 1, rel + 16)     # jump to the wrong trampoline place
    bad = tmp_path / "badjmp.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok and any(f"{start:#x}" in p and "jmp" in p for p in r.problems), r.problems


def test_verify_corrupted_trampoline_jmp_fails(sample_rewritten, tmp_path):
    """The jmp back at the end of a trampoline pointed into the middle of an instruction."""
    _, out, rw = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    # find a trampoline's jmp back to its region's end
    region = next(r for r in rw.plan.regions
                  if (rw.analysis.d.flow.get(r.insns[-1][0]) or ("x",))[0] not in
                  disasm.NO_FALLTHROUGH)
    tramp = rw.patched.layout.region_tramp[region.start]
    code, base = r1.tramp_code, r1.tramp_addr
    jmp_at = next(a for a, n, mn, op in CS.disasm_lite(code[tramp - base:], tramp)
                  if mn == "jmp" and op == f"{region.back:#x}")   # (end, or a tail's end)
    seg = next(s for s in img.segments if s.vaddr == r1.addr)
    off = seg.offset + (jmp_at - r1.addr)
    data = bytearray(out.read_bytes())
    assert data[off] == 0xE9
    struct.pack_into("<i", data, off + 1, struct.unpack_from("<i", data, off + 1)[0] + 1)
    bad = tmp_path / "badtramp.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok and any(f"{jmp_at:#x}" in p for p in r.problems), r.problems


def test_verify_site_removed_from_table_fails(sample_rewritten, tmp_path):
    _, out, rw = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    seg = next(s for s in img.segments if s.vaddr == r1.addr)
    h = r1.header
    k = len(r1.sites) // 2
    victim = r1.sites[k]["addr"]
    data = bytearray(out.read_bytes())
    base = seg.offset + h["sites_off"]
    table = data[base:base + h["nsites"] * abi.SITE.size]
    del table[k * abi.SITE.size:(k + 1) * abi.SITE.size]
    table += b"\0" * abi.SITE.size
    data[base:base + len(table)] = table
    hdr = dict(h, nsites=h["nsites"] - 1)
    data[seg.offset:seg.offset + abi.HEADER.size] = abi.HEADER.pack(
        *(hdr[f] for f in abi.HEADER_FIELDS))
    bad = tmp_path / "nosite.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok
    assert any(p.startswith(f"{victim:#x}:") and "not in the site table" in p
               for p in r.problems), r.problems


def test_verify_unpatched_trap_site_fails(sample_elf, tmp_path):
    """A trap site whose int3 was put back to the original byte: the rebuilt input still matches,
    only the patch check can see it."""
    rw = pipeline.rewrite(str(sample_elf), tactics=(Tactic.TRAP,))
    out = tmp_path / "trap.r1.elf"
    data = bytearray(rw.patched.data)
    img = image.load("x", bytes(data))
    s = rw.plan.sites[0]
    off = img.file_offset(s.addr)
    assert data[off] == 0xCC
    data[off] = s.code[0]
    out.write_bytes(data)
    r = verify_mod.verify(str(out))
    assert not r.ok and any(f"{s.addr:#x}" in p and "int3" in p for p in r.problems), r.problems


def test_verify_unpatched_input_is_bad_input(sample_elf):
    with pytest.raises(BadInput, match="not a ring1-patched image"):
        verify_mod.verify(str(sample_elf))


def _hypercall_site(r1) -> tuple[int, dict, tuple]:
    """(index, site, decoded `push index`) of the first TRAMPOLINE site's hypercall."""
    k = next(i for i, s in enumerate(r1.sites) if s["tactic"] == Tactic.TRAMPOLINE)
    site = r1.sites[k]
    ins = list(CS.disasm_lite(r1.tramp_code, r1.tramp_addr))
    j = next(j for j, x in enumerate(ins) if x[0] + x[1] == site["resume"])
    assert ins[j][2] == "call" and ins[j - 1][2] == "push"
    return k, site, ins[j - 1]


def test_verify_hypercall_protocol_holds_on_clean_image(sample_rewritten):
    """abi.h: at entry [esp] = resume == sites[index].resume and [esp+4] = index."""
    _, out, _ = sample_rewritten
    r1 = emit.read_ring1(image.load(out))
    ins = list(CS.disasm_lite(r1.tramp_code, r1.tramp_addr))
    entry = f"{abi.entry(r1.header['window_base']):#x}"
    calls = [(ins[j - 1], x) for j, x in enumerate(ins) if x[2] == "call" and x[3] == entry]
    assert calls
    for push, call in calls:
        assert push[2] == "push"
        idx = int(push[3], 0)
        resume = call[0] + call[1]
        assert (r1.sites[idx]["resume"] == resume or
                (r1.sites[idx]["tactic"] == Tactic.INLINE and
                 any(t == resume for _, t in r1.t2o))), (hex(call[0]), idx)


def test_verify_resume_in_the_middle_of_an_instruction_fails(sample_rewritten, tmp_path):
    _, out, _ = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    seg = next(s for s in img.segments if s.vaddr == r1.addr)
    k, site, _ = _hypercall_site(r1)
    data = bytearray(out.read_bytes())
    off = seg.offset + r1.header["sites_off"] + k * abi.SITE.size + 4      # .resume
    struct.pack_into("<I", data, off, site["resume"] + 1)
    bad = tmp_path / "badresume.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok, "resume inside an instruction accepted"


def test_verify_wrong_hypercall_index_fails(sample_rewritten, tmp_path):
    _, out, _ = sample_rewritten
    img = image.load(out)
    r1 = emit.read_ring1(img)
    seg = next(s for s in img.segments if s.vaddr == r1.addr)
    k, site, push = _hypercall_site(r1)
    data = bytearray(out.read_bytes())
    off = seg.offset + (push[0] - r1.addr)
    assert data[off] in (0x6A, 0x68)                     # push imm8 / imm32
    data[off + 1] ^= 1                                   # index k -> k ^ 1
    bad = tmp_path / "badindex.r1.elf"
    bad.write_bytes(data)
    r = verify_mod.verify(str(bad))
    assert not r.ok, "hypercall naming the wrong site accepted"


def test_trampoline_prefixed_jcc_keeps_its_condition():
    p = Prog(TEXT)
    p.label("entry").asm("call {k}", "hlt", "jmp {entry}")
    p.label("k").asm("cli").raw("3e 75 05").asm("mov eax, 0x66666666")
    p.label("t").asm("ret")
    text, L = p.build()
    img, d, g = analyse(make_elf32([Seg(TEXT, text, "rx", name=".text")], L["entry"]))
    pl = plan_mod.make_plan(g, W)
    (r,) = [r for r in pl.regions if r.start == L["k"]]
    assert [a for a, _ in r.insns] == [L["k"], L["k"] + 1, L["k"] + 4]
    out = emit.emit(img, pl, d)
    jcc = pieces(out.layout, r)[1][0]
    assert (jcc[2], jcc[3]) == ("jne", f"{L['t']:#x}"), f"moved as {jcc[2]} {jcc[3]}"


def test_disasm_jump_table_in_text_is_data_and_its_cases_are_code():
    """`jmp [eax*4 + table]` with the table inside .text: the table is data (never decoded or
    patched) and every case it lists is a root, found by nothing else."""
    p = Prog(TEXT)
    p.label("entry").asm("and eax, 1", "jmp dword ptr [eax*4 + {table}]")
    p.label("table").raw(b"\0" * 8)                     # patched below, once labels are known
    p.label("case0").asm("cli", "hlt", "ret")
    p.label("case1").asm("pushfd", "pop eax", "ret")
    code, L = p.build()
    code = bytearray(code)
    struct.pack_into("<II", code, L["table"] - TEXT, L["case0"], L["case1"])
    img, d, _ = analyse(make_elf32([Seg(TEXT, bytes(code), "rx", name=".text")], L["entry"]))
    assert d.roots["jump tables in code"] == 2
    for lab in ("case0", "case1"):
        assert d.state[0][L[lab] - TEXT] == disasm.CODE, lab
    assert all(d.state[0][a - TEXT] == disasm.DATA for a in range(L["table"], L["table"] + 8))
    assert d.sites == {L["case0"]: Kind.CLI, L["case0"] + 1: Kind.HLT, L["case1"]: Kind.PUSHF}


def test_disasm_physical_entry_point_is_a_root():
    """A kernel linked high whose ELF entry is the physical address of its first instruction
    (Debian's vmlinux: e_entry 0x1000000, .text at 0xc1000000) is traversed from there."""
    vbase, pbase = 0xC0100000, 0x00100000
    raw, L = flow_kernel(vbase, pbase)
    img = load_bytes(raw)
    phys_entry = L["entry"] - vbase + pbase
    raw = bytearray(raw)
    struct.pack_into("<I", raw, 24, phys_entry)          # e_entry
    img, d, _ = analyse(bytes(raw))
    assert d.roots["entry"] == 1 and d.state[0][L["entry"] - vbase] == disasm.CODE
