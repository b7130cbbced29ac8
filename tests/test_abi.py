"""runtime/include/abi.h (the source of truth) against rewriter/abi.py (its Python mirror).

A C probe is generated from abi.h itself — every object-like `#define R1_*`, every field of
every struct, every entry of R1_KIND_LIST — compiled with gcc and run; its output is compared
with the Python side: constants, struct sizes, field names, offsets and sizes (from the
struct.Struct formats and *_FIELDS lists), Kind and Tactic in both directions.

Then a round trip: an image rewritten by the rewriter is read by a second, independent parser —
a C program that includes abi.h and <elf.h>, walks the program headers, finds the note and the
.ring1 segment and prints the header, site table, maps and undo records — and the result must
equal rewriter.emit.read_ring1's.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rewriter import __version__, abi, image, pipeline
from rewriter.abi import Kind, Tactic
from rewriter.emit import read_ring1, reconstruct_input

from conftest import ABI_H

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

# object-like macros of abi.h that are not ABI constants
NOT_CONSTANTS = {"R1_STATIC_ASSERT"}
STRUCTS = ("r1_note", "r1_options", "r1_header", "r1_site", "r1_map", "r1_undo", "r1_segc", "r1_mmioc",
           "r1_portc")


def py_layouts() -> dict:
    """struct name -> (struct.Struct, field names) on the Python side."""
    return {"r1_note": (abi.NOTE, abi.NOTE_FIELDS),
            "r1_options": (abi.OPTIONS, abi.OPTIONS_FIELDS),
            "r1_header": (abi.HEADER, abi.HEADER_FIELDS),
            "r1_site": (abi.SITE, abi.SITE_FIELDS), "r1_map": (abi.MAP, abi.MAP_FIELDS),
            "r1_undo": (abi.UNDO, abi.UNDO_FIELDS), "r1_segc": (abi.SEGC, abi.SEGC_FIELDS),
            "r1_mmioc": (abi.MMIOC, abi.MMIOC_FIELDS),
            "r1_portc": (abi.PORTC, abi.PORTC_FIELDS)}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_defines() -> dict[str, str]:
    """Object-like #defines of abi.h: name -> replacement text (comments stripped)."""
    out = {}
    for line in _strip_comments(ABI_H.read_text()).splitlines():
        m = re.match(r"\s*#\s*define\s+(R1_\w+)(\(?)\s*(.*)", line)
        if m and not m.group(2) and m.group(1) not in NOT_CONSTANTS:
            out[m.group(1)] = m.group(3).strip()
    return out


def header_structs() -> dict[str, list[tuple[str, int | None]]]:
    """struct name -> [(field, array length or None)] in declaration order, parsed from abi.h."""
    text = _strip_comments(ABI_H.read_text())
    out = {}
    for name, body in re.findall(r"struct\s+(r1_\w+)\s*\{(.*?)\}\s*;", text, flags=re.S):
        fields = []
        for typ, field, n in re.findall(r"(\w+)\s+(\w+)\s*(?:\[(\d+)\])?\s*;", body):
            fields.append((field, int(n) if n else None))
        out[name] = fields
    return out


def compile_and_run(tmp_path: Path, name: str, source: str, *args) -> str:
    c = tmp_path / f"{name}.c"
    exe = tmp_path / name
    c.write_text(source)
    cc = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
                         str(ABI_H.parent), "-o", str(exe), str(c)],
                        capture_output=True, text=True)
    assert cc.returncode == 0, f"gcc failed on the probe:\n{cc.stderr}\n--- source\n{source}"
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, f"probe failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


def probe_source() -> str:
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "abi.h"', "",
             "int main(void) {"]
    for name, value in header_defines().items():
        if value.startswith('"'):
            lines.append(f'    printf("str {name} %s\\n", {name});')
        else:
            lines.append(f'    printf("int {name} %llu\\n", (unsigned long long)({name}));')
    lines.append('#define P(name, n) printf("kind %s %d %d\\n", #name, (int)R1_KIND_##name, n);')
    lines.append("    R1_KIND_LIST(P)")
    lines.append('    printf("int R1_KIND_MAX %d\\n", (int)R1_KIND_MAX);')
    for sname, fields in header_structs().items():
        lines.append(f'    printf("sizeof {sname} %zu\\n", sizeof(struct {sname}));')
        for f, _ in fields:
            lines.append(f'    printf("field {sname} {f} %zu %zu\\n", offsetof(struct {sname}, '
                         f'{f}), sizeof(((struct {sname} *)0)->{f}));')
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    out = compile_and_run(tmp_path_factory.mktemp("abi"), "abi_probe", probe_source())
    res = {"int": {}, "str": {}, "kind": {}, "sizeof": {}, "field": {}}
    for line in out.splitlines():
        tag, rest = line.split(" ", 1)
        if tag == "int":
            n, v = rest.split()
            res["int"][n] = int(v)
        elif tag == "str":
            n, v = rest.split(" ", 1)
            res["str"][n] = v
        elif tag == "kind":
            n, v, lv = rest.split()
            assert int(v) == int(lv), f"R1_KIND_{n}: enum value {v} != list value {lv}"
            res["kind"][n] = int(v)
        elif tag == "sizeof":
            n, v = rest.split()
            res["sizeof"][n] = int(v)
        elif tag == "field":
            s, f, off, size = rest.split()
            res["field"].setdefault(s, []).append((f, int(off), int(size)))
    return res


def python_value(cname: str):
    """The Python mirror of abi.h's constant `cname`."""
    short = cname[3:]
    if short.startswith("TACTIC_"):
        return int(Tactic[short[len("TACTIC_"):]])
    if short == "KIND_MAX":
        return max(Kind) + 1
    assert hasattr(abi, short), f"abi.h defines {cname}; rewriter/abi.py has no {short}"
    return getattr(abi, short)


def python_layout(st: struct.Struct, names: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(field, offset, size) from a struct.Struct format and its field-name list."""
    fmt = st.format
    assert fmt[0] == "<", f"{fmt!r}: ABI structs are little-endian with no implicit padding"
    toks = _tokens(fmt[1:])
    assert len(toks) == len(names), f"{fmt!r} has {len(toks)} fields, names list {len(names)}"
    out, prefix = [], "<"
    for tok, name in zip(toks, names):
        pad = re.match(r"((?:\d*x)*)", tok).group(1)
        off = struct.calcsize(prefix + pad)
        out.append((name, off, struct.calcsize("<" + tok[len(pad):])))
        prefix += tok
    return out


def _tokens(fmt: str) -> list[str]:
    """Split a format into one token per field, keeping 'x' padding glued to the next field."""
    toks, pad = [], ""
    for count, code in re.findall(r"(\d*)([xcbB?hHiIlLqQefdsp])", fmt):
        if code == "x":
            pad += f"{count}x"
        elif code in "sp":
            toks.append(f"{pad}{count or 1}{code}")
            pad = ""
        else:
            for _ in range(int(count) if count else 1):
                toks.append(f"{pad}{code}")
                pad = ""
    return toks


# --- constants ----------------------------------------------------------------------------------
def test_probe_sees_every_constant(probe):
    names = set(probe["int"]) | set(probe["str"])
    assert set(header_defines()) <= names | {"R1_KIND_MAX"}
    # the ones the runtime and the rewriter both rely on are certainly there
    for n in ("R1_ABI_VERSION", "R1_WINDOW_DEFAULT", "R1_IMAGE_OFF", "R1_NOTE_ABI", "R1_MAGIC",
              "R1_VCPU_VIF", "R1_EFLAGS_VIRT", "R1_TACTIC_TRAP", "R1_F_TRAP_ONLY"):
        assert n in names, n


def test_integer_constants_agree(probe):
    bad = []
    for cname, cval in sorted(probe["int"].items()):
        py = python_value(cname)
        if int(py) != cval:
            bad.append(f"{cname}: abi.h {cval:#x}, abi.py {int(py):#x}")
    assert not bad, "abi.h and rewriter/abi.py disagree:\n  " + "\n  ".join(bad)


def test_string_constants_agree(probe):
    for cname, cval in probe["str"].items():
        py = python_value(cname)
        py = py.decode() if isinstance(py, bytes) else py
        assert py == cval, f"{cname}: abi.h {cval!r}, abi.py {py!r}"
    assert len(abi.MAGIC) == 8


def test_python_has_no_constant_the_header_lacks(probe):
    """Every upper-case int/bytes constant of abi.py is in abi.h (or derived from it)."""
    cnames = set(probe["int"]) | set(probe["str"])
    extra = []
    for name, v in vars(abi).items():
        if name.isupper() and isinstance(v, (int, bytes, str)) and not name.endswith("_NAMES"):
            if f"R1_{name}" not in cnames:
                extra.append(name)
    assert not extra, f"abi.py constants with no #define in abi.h: {extra}"


# --- enums --------------------------------------------------------------------------------------
def test_kind_enum_both_directions(probe):
    c = probe["kind"]
    py = {k.name: int(k) for k in Kind}
    only_c = {n: v for n, v in c.items() if n not in py}
    only_py = {n: v for n, v in py.items() if n not in c}
    differ = {n: (c[n], py[n]) for n in c.keys() & py.keys() if c[n] != py[n]}
    assert not (only_c or only_py or differ), \
        f"enum r1_kind vs abi.Kind: only in abi.h {only_c}, only in abi.py {only_py}, " \
        f"values differ (C, Python) {differ}"
    assert probe["int"]["R1_KIND_MAX"] == max(c.values()) + 1
    assert sorted(c.values()) == list(range(1, len(c) + 1)), "kinds are 1..N without gaps"


def test_tactic_values(probe):
    c = {n[len("R1_TACTIC_"):]: v for n, v in probe["int"].items() if n.startswith("R1_TACTIC_")}
    assert c == {t.name: int(t) for t in Tactic}


# --- structures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sname", STRUCTS)
def test_struct_layout(probe, sname):
    st, names = py_layouts()[sname]
    c_fields = probe["field"][sname]
    assert [f for f, _, _ in c_fields] == list(names), \
        f"struct {sname} fields {[f for f, _, _ in c_fields]} vs abi.py {list(names)}"
    assert probe["sizeof"][sname] == st.size, \
        f"sizeof(struct {sname}) = {probe['sizeof'][sname]}, abi.py {st.format!r} = {st.size}"
    py = python_layout(st, names)
    assert py == c_fields, f"struct {sname}: (field, offset, size) C {c_fields} vs Python {py}"


def test_every_struct_is_mirrored(probe):
    assert set(header_structs()) == set(STRUCTS), \
        "a struct was added to or removed from abi.h: mirror it in rewriter/abi.py and here"


def test_header_compiles_standalone_strict(tmp_path):
    """abi.h is self-contained and warning-free as C11 and C++ (the runtime may use either)."""
    src = tmp_path / "t.c"
    src.write_text('#include "abi.h"\n')
    cmds = [["gcc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"]]
    if shutil.which("g++"):
        cmds.append(["g++", "-std=c++11", "-x", "c++", "-Wall", "-Wextra", "-Werror",
                     "-fsyntax-only"])
    if subprocess.run(["gcc", "-m32", "-fsyntax-only", "-x", "c", "/dev/null"],
                      capture_output=True).returncode == 0:
        cmds.append(["gcc", "-m32", "-ffreestanding", "-std=c11", "-Wall", "-Werror",
                     "-fsyntax-only"])
    for cmd in cmds:
        p = subprocess.run(cmd + ["-I", str(ABI_H.parent), str(src)], capture_output=True,
                           text=True)
        assert p.returncode == 0, f"{' '.join(cmd)}:\n{p.stderr}"


@pytest.mark.parametrize("flags", [[], ["-m32", "-ffreestanding"]], ids=["host", "i386"])
def test_python_layout_holds_in_c(tmp_path, flags):
    """The Python layout, turned into _Static_asserts, compiles against abi.h for the host (the
    runtime) and for i386 (a guest-side consumer)."""
    if flags and subprocess.run(["gcc", "-m32", "-fsyntax-only", "-x", "c", "/dev/null"],
                                capture_output=True).returncode != 0:
        pytest.skip("gcc cannot target i386 here")
    lines = ["#include <stddef.h>", '#include "abi.h"']
    for sname, (st, names) in py_layouts().items():
        lines.append(f"_Static_assert(sizeof(struct {sname}) == {st.size}, \"{sname}\");")
        for f, off, size in python_layout(st, names):
            lines.append(f"_Static_assert(offsetof(struct {sname}, {f}) == {off} && "
                         f"sizeof(((struct {sname} *)0)->{f}) == {size}, \"{sname}.{f}\");")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    p = subprocess.run(["gcc", *flags, "-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I",
                        str(ABI_H.parent), str(src)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_window_helpers():
    w = 0x80000000
    assert abi.vcpu(w, abi.VCPU_PENDING) == w + abi.VCPU_OFF + abi.VCPU_PENDING
    assert abi.hcstack_top(w) == w + abi.HCSTACK_OFF + abi.HCSTACK_SIZE
    assert abi.entry(w) == w + abi.ENTRY_OFF
    assert abi.image_base(w) == w + abi.IMAGE_OFF
    assert abi.IMAGE_MAX == abi.WINDOW_SIZE - abi.IMAGE_OFF
    assert abi.WINDOW_DEFAULT % abi.WINDOW_SIZE == 0
    # the window's areas do not overlap and fit below the image
    assert abi.VCPU_OFF + 0x1000 <= abi.HCSTACK_OFF
    assert abi.HCSTACK_OFF + abi.HCSTACK_SIZE <= abi.ENTRY_OFF < abi.IMAGE_OFF
    assert abi.SREG_NAMES[abi.SREG_GS] == "gs" and abi.VCPU_SEL + 4 * 6 <= abi.VCPU_SEGFAST
    # the trampolines' half of the vCPU page (0x800 on is the runtime's): no field overlaps
    assert abi.VCPU_SEGFAST + 4 * 6 <= abi.VCPU_TSCRATCH
    assert abi.VCPU_TSCRATCH + 4 * 8 <= abi.VCPU_CR
    assert abi.VCPU_CR + 4 * 5 <= abi.VCPU_MMIOC
    assert abi.VCPU_MMIOC + abi.MMIOC_N * abi.MMIOC.size <= abi.VCPU_SEGC
    assert abi.VCPU_SEGC + abi.SEGC_N * abi.SEGC.size <= 0x800
    assert abi.SEGC_N & (abi.SEGC_N - 1) == 0


# --- round trip through an independent C reader -------------------------------------------------
READER = r"""
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"

static unsigned char *buf;
static long size;

static void need(unsigned long off, unsigned long n, const char *what) {
    if (off > (unsigned long)size || n > (unsigned long)size - off) {
        fprintf(stderr, "%s out of file\n", what);
        exit(2);
    }
}

static void hex(const unsigned char *p, unsigned n) {
    for (unsigned i = 0; i < n; i++) printf("%02x", p[i]);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(size);
    if (fread(buf, 1, size, f) != (size_t)size) return 2;
    fclose(f);
    need(0, sizeof(Elf32_Ehdr), "ehdr");
    Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS32) return 3;
    need(eh->e_phoff, (unsigned long)eh->e_phnum * sizeof(Elf32_Phdr), "phdrs");
    Elf32_Phdr *ph = (Elf32_Phdr *)(buf + eh->e_phoff);
    struct r1_note note;
    int found = 0;
    for (int i = 0; i < eh->e_phnum && !found; i++) {
        if (ph[i].p_type != PT_NOTE) continue;
        unsigned long p = ph[i].p_offset, end = p + ph[i].p_filesz;
        while (p + 12 <= end) {
            need(p, 12, "note");
            uint32_t namesz, descsz, type;
            memcpy(&namesz, buf + p, 4);
            memcpy(&descsz, buf + p + 4, 4);
            memcpy(&type, buf + p + 8, 4);
            unsigned long name = p + 12, desc = name + ((namesz + 3) & ~3u);
            need(desc, descsz, "note desc");
            if (type == R1_NOTE_ABI && namesz == sizeof(R1_NOTE_NAME) &&
                !memcmp(buf + name, R1_NOTE_NAME, sizeof(R1_NOTE_NAME)) &&
                descsz >= sizeof(note)) {
                memcpy(&note, buf + desc, sizeof(note));
                found = 1;
                if (descsz >= sizeof(note) + sizeof(struct r1_options)) {
                    struct r1_options o;
                    memcpy(&o, buf + desc + sizeof(note), sizeof(o));
                    printf("options %u %u ", o.tactics, o.reserved);
                    hex((const unsigned char *)o.rewriter, sizeof o.rewriter);
                    printf("\n");
                }
                break;
            }
            p = desc + ((descsz + 3) & ~3u);
        }
    }
    if (!found) { fprintf(stderr, "no ring1 note\n"); return 4; }
    printf("note %u %u %u %u ", note.abi_version, note.window_base, note.image_vaddr, note.flags);
    hex(note.input_sha256, 32);
    printf("\n");
    const unsigned char *seg = NULL;
    unsigned long segsz = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr == note.image_vaddr) {
            need(ph[i].p_offset, ph[i].p_filesz, ".ring1");
            seg = buf + ph[i].p_offset;
            segsz = ph[i].p_filesz;
            printf("segment %u %u %u %u %u\n", ph[i].p_vaddr, ph[i].p_paddr, ph[i].p_filesz,
                   ph[i].p_memsz, ph[i].p_flags);
        }
    if (!seg || segsz < sizeof(struct r1_header)) { fprintf(stderr, "no .ring1\n"); return 5; }
    struct r1_header h;
    memcpy(&h, seg, sizeof(h));
    printf("header %.8s %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u ", h.magic,
           h.abi_version, h.window_base, h.header_size, h.flags, h.nsites, h.sites_off,
           h.nmap_o2t, h.map_o2t_off, h.nmap_t2o, h.map_t2o_off, h.tramp_off, h.tramp_size,
           h.entry_point, h.undo_off, h.undo_size, h.orig_file_size);
    hex(h.input_sha256, 32);
    printf("\n");
    if (h.sites_off + (unsigned long)h.nsites * sizeof(struct r1_site) > segsz ||
        h.map_o2t_off + (unsigned long)h.nmap_o2t * sizeof(struct r1_map) > segsz ||
        h.map_t2o_off + (unsigned long)h.nmap_t2o * sizeof(struct r1_map) > segsz ||
        h.undo_off + (unsigned long)h.undo_size > segsz ||
        h.tramp_off + (unsigned long)h.tramp_size > segsz) {
        fprintf(stderr, "tables out of segment\n");
        return 6;
    }
    for (uint32_t i = 0; i < h.nsites; i++) {
        struct r1_site s;
        memcpy(&s, seg + h.sites_off + i * sizeof(s), sizeof(s));
        printf("site %u %u %u %u %u %u ", s.addr, s.resume, s.tramp, s.kind, s.tactic, s.len);
        hex(s.bytes, 16);
        printf("\n");
    }
    for (uint32_t i = 0; i < h.nmap_o2t; i++) {
        struct r1_map m;
        memcpy(&m, seg + h.map_o2t_off + i * sizeof(m), sizeof(m));
        printf("o2t %u %u\n", m.orig, m.tramp);
    }
    for (uint32_t i = 0; i < h.nmap_t2o; i++) {
        struct r1_map m;
        memcpy(&m, seg + h.map_t2o_off + i * sizeof(m), sizeof(m));
        printf("t2o %u %u\n", m.orig, m.tramp);
    }
    for (unsigned long p = h.undo_off; p < h.undo_off + h.undo_size;) {
        struct r1_undo u;
        memcpy(&u, seg + p, sizeof(u));
        p += sizeof(u);
        printf("undo %u %u ", u.offset, u.len);
        hex(seg + p, u.len);
        printf("\n");
        p += (u.len + 3) & ~3u;
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("reader")
    c, exe = d / "r1read.c", d / "r1read"
    c.write_text(READER)
    cc = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I",
                         str(ABI_H.parent), "-o", str(exe), str(c)], capture_output=True,
                        text=True)
    assert cc.returncode == 0, cc.stderr
    return exe


def c_read(reader: Path, path: Path) -> dict:
    p = subprocess.run([str(reader), str(path)], capture_output=True, text=True)
    assert p.returncode == 0, f"C reader failed on {path} ({p.returncode}): {p.stderr}"
    out = {"site": [], "o2t": [], "t2o": [], "undo": [], "segment": []}
    for line in p.stdout.splitlines():
        tag, *f = line.split()
        if tag == "note":
            out["note"] = dict(zip(abi.NOTE_FIELDS, [int(x) for x in f[:4]] +
                                   [bytes.fromhex(f[4])]))
        elif tag == "options":
            out["options"] = dict(zip(abi.OPTIONS_FIELDS, [int(f[0]), int(f[1]),
                                                           bytes.fromhex(f[2])]))
        elif tag == "header":
            out["header"] = dict(zip(abi.HEADER_FIELDS, [f[0].encode()] +
                                     [int(x) for x in f[1:17]] + [bytes.fromhex(f[17])]))
        elif tag == "segment":
            out["segment"].append([int(x) for x in f])
        elif tag == "site":
            out["site"].append(dict(zip(abi.SITE_FIELDS, [int(x) for x in f[:6]] +
                                        [bytes.fromhex(f[6])])))
        elif tag in ("o2t", "t2o"):
            out[tag].append((int(f[0]), int(f[1])))
        elif tag == "undo":
            out["undo"].append((int(f[0]), bytes.fromhex(f[2]) if len(f) > 2 else b""))
            assert int(f[1]) == len(out["undo"][-1][1])
    return out


@pytest.mark.parametrize("opts", [{}, {"window": 0x80000000, "tactics": (Tactic.TRAP,)}],
                         ids=["default", "trap-only-window-0x80000000"])
def test_round_trip_c_reader(reader, sample_elf, tmp_path, opts):
    rw = pipeline.rewrite(str(sample_elf), **opts)
    out = tmp_path / "out.r1.elf"
    out.write_bytes(rw.patched.data)
    c = c_read(reader, out)
    img = image.load(out)
    py = read_ring1(img)
    window = opts.get("window", abi.WINDOW_DEFAULT)

    assert c["note"] == py.note
    assert c["options"] == img.ring1_options
    assert c["options"]["tactics"] == abi.tactic_bits(opts.get("tactics", tuple(Tactic)))
    assert abi.tactics_of(c["options"]["tactics"]) == opts.get("tactics", tuple(Tactic))
    assert c["options"]["reserved"] == 0
    assert c["options"]["rewriter"].rstrip(b"\0").decode() == f"ring1 {__version__}"
    assert c["header"] == py.header
    assert c["site"] == py.sites
    assert c["o2t"] == [tuple(m) for m in py.o2t]
    assert c["t2o"] == [tuple(m) for m in py.t2o]
    assert c["undo"] == py.undo
    assert len(c["segment"]) == 1
    vaddr, paddr, filesz, memsz, flags = c["segment"][0]
    assert vaddr == py.addr == abi.image_base(window) == c["note"]["image_vaddr"]
    assert filesz == len(py.segment) and flags == 5            # R+X

    # and the contents are what the rewrite planned
    digest = hashlib.sha256(sample_elf.read_bytes()).digest()
    h = c["header"]
    assert h["magic"] == abi.MAGIC and h["abi_version"] == abi.ABI_VERSION
    assert h["window_base"] == window == c["note"]["window_base"]
    assert h["header_size"] == abi.HEADER.size
    assert h["input_sha256"] == digest == c["note"]["input_sha256"]
    assert h["entry_point"] == image.load(sample_elf).entry
    assert h["orig_file_size"] == sample_elf.stat().st_size
    trap_only = opts.get("tactics") == (Tactic.TRAP,)
    assert h["flags"] == c["note"]["flags"] == (abi.F_TRAP_ONLY if trap_only else 0)
    assert [s["addr"] for s in c["site"]] == [s.addr for s in rw.plan.sites]
    for cs, ps in zip(c["site"], rw.plan.sites):
        assert cs["kind"] == int(ps.kind) and cs["tactic"] == int(ps.tactic)
        assert cs["len"] == ps.length and cs["bytes"] == ps.code.ljust(16, b"\0")
        if ps.tactic == Tactic.TRAP:
            assert cs["tramp"] == 0 and cs["resume"] == ps.addr + ps.length
    if trap_only:
        assert {s["tactic"] for s in c["site"]} == {int(Tactic.TRAP)}
        assert h["tramp_size"] == 0 and h["nmap_o2t"] == 0
    # the undo records, as the C reader saw them, rebuild the input exactly
    assert reconstruct_input(img, py) == sample_elf.read_bytes()
    rebuilt = bytearray(out.read_bytes()[:h["orig_file_size"]])
    for off, orig in c["undo"]:
        rebuilt[off:off + len(orig)] = orig
    assert hashlib.sha256(rebuilt).digest() == digest


def test_runtime_uses_the_one_header():
    """The runtime includes abi.h and never redefines its constants or structures."""
    runtime = ABI_H.parent.parent
    sources = [p for p in runtime.rglob("*") if p.suffix in (".c", ".h", ".S")
               and "build" not in p.relative_to(runtime).parts and p != ABI_H]
    if not sources:
        pytest.skip("no runtime sources yet")
    includes = [p for p in sources if re.search(r'#\s*include\s*[<"](?:\.\./)*(?:include/)?abi\.h[">]',
                                                p.read_text(errors="replace"))]
    assert includes, "no runtime source includes abi.h"
    names = set(header_defines())
    dup = []
    for p in sources:
        text = _strip_comments(p.read_text(errors="replace"))
        for m in re.finditer(r"#\s*define\s+(R1_\w+)(\(?)", text):
            if not m.group(2) and m.group(1) in names:
                dup.append(f"{p.relative_to(runtime)}: #define {m.group(1)}")
        for m in re.finditer(r"struct\s+(r1_(?:note|options|header|site|map|undo))\s*\{", text):
            dup.append(f"{p.relative_to(runtime)}: struct {m.group(1)} {{")
    assert not dup, "ABI definitions outside runtime/include/abi.h:\n  " + "\n  ".join(dup)
