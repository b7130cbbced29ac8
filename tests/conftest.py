"""Shared helpers for the rewriter tests: a tiny assembler front end (keystone), a minimal ELF32
writer and a multiboot a.out-kludge writer for synthetic kernels, the sample kernels, and a way
to run the `ring1` command.

Synthetic kernels are built in the tests themselves so that every address, block and site is
known exactly; the sample kernels (samples/build/*.elf, `make -C samples`) and the real kernels
(kernels.fetch) cover the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RING1 = str(VENV_BIN / "ring1") if (VENV_BIN / "ring1").exists() else shutil.which("ring1")
SAMPLES = ROOT / "samples"
SAMPLE_BUILD = SAMPLES / "build"
ABI_H = ROOT / "runtime" / "include" / "abi.h"

MULTIBOOT_MAGIC = 0x1BADB002
EM_386, EM_X86_64, EM_ARM = 3, 62, 40
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4


# --- assembling ---------------------------------------------------------------------------------
_KS = None


def _ks():
    global _KS
    if _KS is None:
        import keystone
        _KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    return _KS


def asm(text: str, addr: int = 0) -> bytes:
    """Assemble Intel-syntax `text` (lines separated by ';' or newlines) at `addr`."""
    enc, _ = _ks().asm(text, addr)
    return bytes(enc or b"")


class Prog:
    """A straight list of labels, instructions and raw bytes laid out from `base`.

    Instructions may name labels as `{name}`; layout is iterated until every label's address is
    stable (a branch may change size once its target is known). Raw bytes (`raw`) are for the
    encodings keystone gets wrong (see tests/test_classify.py) and for data."""

    def __init__(self, base: int):
        self.base = base
        self.items: list[tuple[str, object]] = []

    def label(self, name: str) -> "Prog":
        self.items.append(("label", name))
        return self

    def asm(self, *lines: str) -> "Prog":
        for line in lines:
            for one in line.split(";"):
                if one.strip():
                    self.items.append(("asm", one.strip()))
        return self

    def raw(self, data: bytes | str) -> "Prog":
        self.items.append(("raw", bytes.fromhex(data) if isinstance(data, str) else data))
        return self

    def align(self, n: int, fill: int = 0x90) -> "Prog":
        self.items.append(("align", (n, fill)))
        return self

    def build(self) -> tuple[bytes, dict[str, int]]:
        names = [v for k, v in self.items if k == "label"]
        labels = dict.fromkeys(names, self.base)
        for _ in range(8):
            out = bytearray()
            new: dict[str, int] = {}
            for kind, v in self.items:
                here = self.base + len(out)
                if kind == "label":
                    new[v] = here
                elif kind == "raw":
                    out += v
                elif kind == "align":
                    n, fill = v
                    out += bytes([fill]) * ((-here) % n)
                else:
                    text = v.format(**{k: f"{a:#x}" for k, a in labels.items()})
                    code = asm(text, here)
                    if not code:
                        raise ValueError(f"keystone produced nothing for {text!r}")
                    out += code
            if new == labels:
                return bytes(out), labels
            labels = new
        raise RuntimeError("label layout did not converge")


# --- ELF32 writer -------------------------------------------------------------------------------
@dataclass
class Seg:
    """One PT_LOAD segment, optionally also one section named `name`."""
    vaddr: int
    data: bytes
    flags: str = "rx"                  # any of r, w, x
    paddr: int | None = None           # default: vaddr
    memsz: int | None = None           # default: len(data)
    name: str | None = None            # section name; None: no section for this segment

    @property
    def pflags(self) -> int:
        return (PF_R if "r" in self.flags else 0) | (PF_W if "w" in self.flags else 0) | \
            (PF_X if "x" in self.flags else 0)


def multiboot_header(flags: int = 0x3, aout: tuple[int, ...] | None = None) -> bytes:
    """A multiboot v1 header; `aout` = (header_addr, load_addr, load_end_addr, bss_end_addr,
    entry_addr) sets flag 16 (the a.out kludge)."""
    if aout is not None:
        flags |= 1 << 16
    h = struct.pack("<III", MULTIBOOT_MAGIC, flags, (-(MULTIBOOT_MAGIC + flags)) & 0xFFFFFFFF)
    if aout is not None:
        h += struct.pack("<IIIII", *aout)
    return h


def make_elf32(segs: list[Seg], entry: int, *, symbols=(), multiboot: bool = True,
               sections: bool = True, machine: int = EM_386, ei_class: int = 1,
               ei_data: int = 1, e_type: int = 2) -> bytes:
    """A minimal but well-formed ELF32 executable: ELF header, program headers, a multiboot
    header (ELF form) right after them, one page-aligned chunk per segment, then (if
    `sections`) a section per named segment, .symtab/.strtab for `symbols` ((name, addr,
    'func' | 'object') tuples) and .shstrtab."""
    phnum = len(segs)
    out = bytearray(52 + 32 * phnum)
    if multiboot:
        mb_off = len(out)
        out += multiboot_header()
    offsets = []
    for s in segs:
        off = ((len(out) + 0xFFF) & ~0xFFF) + (s.vaddr & 0xFFF)
        out += b"\0" * (off - len(out)) + s.data
        offsets.append(off)
    for i, s in enumerate(segs):
        struct.pack_into("<IIIIIIII", out, 52 + 32 * i, PT_LOAD, offsets[i], s.vaddr,
                         s.vaddr if s.paddr is None else s.paddr, len(s.data),
                         len(s.data) if s.memsz is None else s.memsz, s.pflags, 0x1000)
    shoff = shnum = shstrndx = 0
    if sections:
        shstr = bytearray(b"\0")

        def name_of(n: str) -> int:
            shstr.extend(n.encode() + b"\0")
            return len(shstr) - len(n) - 1

        shdrs = [struct.pack("<IIIIIIIIII", *([0] * 10))]
        sec_of_seg = {}
        for i, s in enumerate(segs):
            if s.name is None:
                continue
            sh_flags = 0x2 | (0x1 if "w" in s.flags else 0) | (0x4 if "x" in s.flags else 0)
            sec_of_seg[i] = len(shdrs)
            shdrs.append(struct.pack("<IIIIIIIIII", name_of(s.name), 1, sh_flags, s.vaddr,
                                     offsets[i], len(s.data), 0, 0, 4, 0))
        if symbols:
            strtab = bytearray(b"\0")
            syms = bytearray(16)
            for name, addr, typ in symbols:
                shndx = next((sec_of_seg[i] for i, s in enumerate(segs)
                              if i in sec_of_seg and s.vaddr <= addr < s.vaddr + len(s.data)), 0xFFF1)
                st_info = (1 << 4) | (2 if typ == "func" else 1)     # GLOBAL, FUNC/OBJECT
                syms += struct.pack("<IIIBBH", len(strtab), addr, 0, st_info, 0, shndx)
                strtab += name.encode() + b"\0"
            out += b"\0" * ((-len(out)) % 4)
            sym_off = len(out)
            out += syms
            str_off = len(out)
            out += strtab
            symtab_idx = len(shdrs)
            shdrs.append(struct.pack("<IIIIIIIIII", name_of(".symtab"), 2, 0, 0, sym_off,
                                     len(syms), symtab_idx + 1, 1, 4, 16))
            shdrs.append(struct.pack("<IIIIIIIIII", name_of(".strtab"), 3, 0, 0, str_off,
                                     len(strtab), 0, 0, 1, 0))
        shstrndx = len(shdrs)
        nm = name_of(".shstrtab")
        str_off = len(out)
        out += shstr
        shdrs.append(struct.pack("<IIIIIIIIII", nm, 3, 0, 0, str_off, len(shstr), 0, 0, 1, 0))
        out += b"\0" * ((-len(out)) % 4)
        shoff, shnum = len(out), len(shdrs)
        for sh in shdrs:
            out += sh
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1, 0]) + b"\0" * 8
    out[:52] = struct.pack("<16sHHIIIIIHHHHHH", ident, e_type, machine, 1, entry, 52, shoff, 0,
                           52, 32, phnum, 40 if sections else 0, shnum, shstrndx)
    return bytes(out)


def make_aout_kludge(load_addr: int, body: bytes, entry: int, bss: int = 0,
                     lead: bytes = b"") -> bytes:
    """A raw multiboot binary (not ELF) loaded whole at load_addr: `lead` bytes, the 32-byte
    header with the a.out-kludge address fields, then `body` at load_addr + len(lead) + 32."""
    assert len(lead) % 4 == 0
    total = len(lead) + 32 + len(body)
    hdr = multiboot_header(aout=(load_addr + len(lead), load_addr, load_addr + total,
                                 load_addr + total + bss, entry))
    return lead + hdr + body


# --- running ring1 ----------------------------------------------------------------------------
@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    def __str__(self) -> str:
        return (f"$ {' '.join(self.argv)}\n-> exit {self.returncode}\n--- stdout\n"
                f"{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}")


def run_ring1(*args, env: dict | None = None, cwd=None, timeout: float = 600) -> Run:
    argv = [RING1, *map(str, args)]
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout)
    return Run(argv, p.returncode, p.stdout, p.stderr)


def run_main(argv, capsys, monkeypatch=None, env: dict | None = None) -> Run:
    """cli.main() in this process, captured like a subprocess run (env: set through
    monkeypatch, so it is undone after the test)."""
    from rewriter import cli
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:                 # argparse
        code = e.code
    cap = capsys.readouterr()
    return Run(["ring1(main)", *map(str, argv)], code, cap.out, cap.err)


def assert_one_line_error(r: Run, code: int, *needles: str) -> str:
    """The bad-input contract: exit `code`, exactly one non-empty line on stderr, starting
    'ring1:', no traceback anywhere; the line mentions every needle (case-insensitive)."""
    assert "Traceback" not in r.stderr + r.stdout, str(r)
    assert r.returncode == code, str(r)
    assert len(r.err_lines) == 1, f"want exactly one line on stderr\n{r}"
    line = r.err_lines[0]
    assert line.startswith("ring1:"), str(r)
    for n in needles:
        assert n.lower() in line.lower(), f"{n!r} not in {line!r}"
    return line


# --- the sample kernels ------------------------------------------------------------------------
def sample_elfs() -> list[Path]:
    return sorted(SAMPLE_BUILD.glob("*.elf"))


@pytest.fixture(scope="session")
def samples_built() -> list[Path]:
    """samples/build/*.elf, building them with `make -C samples` only if none exists yet (the
    samples are being extended concurrently: a test never depends on their exact site counts)."""
    if not sample_elfs():
        if shutil.which("make") is None or shutil.which("gcc") is None:
            pytest.skip("samples/build/*.elf missing and no make/gcc to build them")
        p = subprocess.run(["make", "-C", str(SAMPLES)], capture_output=True, text=True)
        assert p.returncode == 0, f"make -C samples failed:\n{p.stdout}\n{p.stderr}"
    elfs = sample_elfs()
    assert elfs, "make -C samples built no samples/build/*.elf"
    return elfs


@pytest.fixture(scope="session")
def sample_elf(samples_built, tmp_path_factory) -> Path:
    """A private copy of samples/build/sensitive.elf (a concurrent `make` cannot change it
    under a test)."""
    src = SAMPLE_BUILD / "sensitive.elf"
    if not src.exists():
        src = samples_built[0]
    dst = tmp_path_factory.mktemp("sample") / src.name
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="session")
def sample_rewritten(sample_elf, tmp_path_factory):
    """The sample rewritten once with default options, in-process: (input path, output path,
    pipeline.Rewrite)."""
    from rewriter import pipeline
    rw = pipeline.rewrite(str(sample_elf))
    out = tmp_path_factory.mktemp("sample_r1") / "sensitive.r1.elf"
    out.write_bytes(rw.patched.data)
    return sample_elf, out, rw


def kernel(name: str) -> Path:
    """A real kernel from Debian's archive (cached by kernels.fetch); the test is skipped, not
    failed, only when the archive cannot be reached at all."""
    from kernels.fetch import FetchError, fetch
    try:
        return Path(fetch(name, progress=lambda m: None))
    except FetchError as e:
        if getattr(e, "unreachable", False):
            pytest.skip(f"{name}: Debian archive unreachable: {e}")
        raise
