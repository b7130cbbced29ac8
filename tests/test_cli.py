"""The `ring1` command, end to end, through subprocess (.venv/bin/ring1).

Contract under test (rewriter/errors.py, `ring1 --help`): exit 0 success, 1 verification failed
(or a batch with a failed image), 2 bad input, 3 internal error; a bad input gives exactly one
line on stderr, starting "ring1:", and never a traceback.

Each `ring1` process costs about a second of imports, so independent invocations are started
together (a thread pool of subprocesses) in module fixtures and the tests look at the results.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from rewriter import abi, cli, emit, image, pipeline
from rewriter.abi import Tactic

from conftest import (run_main, EM_ARM, RING1, Run, Seg, assert_one_line_error, make_aout_kludge,
                      make_elf32, run_ring1)

pytestmark = pytest.mark.skipif(RING1 is None, reason="the ring1 command is not installed")

WORKERS = max(2, min(6, (os.cpu_count() or 2) + 1))


def run_all(cmds: dict[str, tuple]) -> dict:
    """Run many `ring1` invocations concurrently: {id: (args, env)} -> {id: Run}."""
    with cf.ThreadPoolExecutor(WORKERS) as ex:
        futs = {k: ex.submit(run_ring1, *args, env=env) for k, (args, env) in cmds.items()}
        return {k: f.result() for k, f in futs.items()}


def make_elf64_x86_64() -> bytes:
    """A minimal ELF64 x86-64 executable with one executable segment (`ret`)."""
    code = b"\xc3"
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1,
                       0x401000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x401000, 0x401000, len(code), len(code),
                       0x1000)
    out = bytearray(ehdr + phdr)
    out += b"\0" * (0x1000 - len(out)) + code
    return bytes(out)


# =============================================================================================
# bad input
# =============================================================================================
@pytest.fixture(scope="module")
def files(sample_elf, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_inputs")
    raw = sample_elf.read_bytes()
    ph_end = max(o + f for o, f in _load_extents(raw))
    blobs = {
        "notelf": b"this is not a kernel\n" * 50,
        "empty": b"",
        "trunc_header": raw[:40],
        "trunc_segment": raw[:ph_end - 100],
        "trunc_shdrs": raw[:ph_end + 16] if ph_end + 16 < len(raw) else raw[:-8],
        "arm": _set(raw, "<H", 18, EM_ARM),
        "elf64": make_elf64_x86_64(),
        "noexec": make_elf32([Seg(0x101000, b"\0" * 64, "rw", name=".data")], 0x101000),
        "aout": make_aout_kludge(0x100000, b"\xfa\xf4\xeb\xfc", 0x100020),
    }
    out = {}
    for name, blob in blobs.items():
        out[name] = d / f"{name}.elf"
        out[name].write_bytes(blob)
    out["sample"] = sample_elf
    patched = d / "patched.r1.elf"
    patched.write_bytes(pipeline.rewrite(str(sample_elf)).patched.data)
    out["patched"] = patched
    # patched images with a broken .ring1 segment or note
    img = image.load(patched)
    r1 = emit.read_ring1(img)
    seg = next(sg for sg in img.segments if sg.vaddr == r1.addr)
    bad = bytearray(patched.read_bytes())
    bad[seg.offset:seg.offset + 8] = b"NOTRING1"
    out["bad_magic"] = d / "bad_magic.r1.elf"
    out["bad_magic"].write_bytes(bad)
    out["trunc_patched"] = d / "trunc_patched.r1.elf"
    out["trunc_patched"].write_bytes(patched.read_bytes()[:seg.offset + 100])
    other = bytearray(patched.read_bytes())
    desc = bytes(abi.NOTE.pack(*(r1.note[k] for k in abi.NOTE_FIELDS)))
    at = other.find(desc)
    assert at > 0
    struct.pack_into("<I", other, at, abi.ABI_VERSION + 1)
    out["other_abi"] = d / "other_abi.r1.elf"
    out["other_abi"].write_bytes(other)
    out["dir"] = d
    (d / "afile").write_text("x")
    out["afile"] = d / "afile"
    return out


def _load_extents(raw: bytes):
    e = struct.unpack_from("<16sHHIIIIIHHHHHH", raw)
    phoff, phnum = e[5], e[10]
    for i in range(phnum):
        p_type, p_offset, _, _, p_filesz, _, _, _ = struct.unpack_from("<IIIIIIII", raw,
                                                                       phoff + 32 * i)
        if p_type == 1:
            yield p_offset, p_filesz


def _set(raw: bytes, fmt: str, off: int, v: int) -> bytes:
    b = bytearray(raw)
    struct.pack_into(fmt, b, off, v)
    return bytes(b)


# (id, argv builder, exit code, needles in the one stderr line)
def _cases(f: dict, out: Path) -> list[tuple[str, list, int, tuple, dict | None]]:
    o = str(out / "out.r1.elf")
    s = f["sample"]
    return [
        ("rewrite-not-elf", ["rewrite", f["notelf"], "-o", o], 2, ("not an ELF",), None),
        ("rewrite-empty", ["rewrite", f["empty"], "-o", o], 2, ("empty",), None),
        ("rewrite-truncated-header", ["rewrite", f["trunc_header"], "-o", o], 2,
         ("truncated",), None),
        ("rewrite-truncated-segment", ["rewrite", f["trunc_segment"], "-o", o], 2,
         ("truncated",), None),
        ("rewrite-truncated-shdrs", ["rewrite", f["trunc_shdrs"], "-o", o], 2,
         ("section header",), None),
        ("rewrite-wrong-machine", ["rewrite", f["arm"], "-o", o], 2, ("machine 40",), None),
        ("rewrite-elf64", ["rewrite", f["elf64"], "-o", o], 2, ("64-bit", "inspected but not rewritten"),
         None),
        ("rewrite-no-exec", ["rewrite", f["noexec"], "-o", o], 2, ("no executable",), None),
        ("rewrite-already-patched", ["rewrite", f["patched"], "-o", o], 2,
         ("already patched",), None),
        ("rewrite-aout", ["rewrite", f["aout"], "-o", o], 2, ("only ELF32",), None),
        ("rewrite-dir-input", ["rewrite", f["dir"], "-o", o], 2, ("is a directory",), None),
        ("rewrite-missing-input", ["rewrite", f["dir"] / "nope.elf", "-o", o], 2,
         ("no such file",), None),
        ("rewrite-out-proc", ["rewrite", s, "-o", "/proc/ring1-test.r1.elf"], 2,
         ("cannot write",), None),
        ("rewrite-out-no-dir", ["rewrite", s, "-o", out / "nodir" / "x.elf"], 2,
         ("does not exist",), None),
        ("rewrite-out-parent-file", ["rewrite", s, "-o", f["afile"] / "x.elf"], 2,
         ("not a directory",), None),
        ("rewrite-out-is-input", ["rewrite", s, "-o", s], 2, ("overwrite the input",), None),
        ("rewrite-report-proc", ["rewrite", s, "-o", o, "--report", "/proc/r.json"], 2,
         ("cannot write",), None),
        ("rewrite-window-misaligned", ["rewrite", s, "-o", o, "--window", "0x123"], 2,
         ("--window",), None),
        ("rewrite-window-nan", ["rewrite", s, "-o", o, "--window", "top"], 2,
         ("--window", "not a number"), None),
        ("rewrite-window-overlap", ["rewrite", s, "-o", o, "--window", "0x0"], 2,
         ("overlaps the hypervisor window", "--window"), None),
        ("rewrite-tactics-unknown", ["rewrite", s, "-o", o, "--tactics", "inline,magic,trap"], 2,
         ("unknown tactic",), None),
        ("rewrite-tactics-no-trap", ["rewrite", s, "-o", o, "--tactics", "inline"], 2,
         ("must include trap",), None),
        ("rewrite-jobs-zero", ["rewrite", s, "-o", o, "-j", "0"], 2, ("-j",), None),
        ("inspect-not-elf", ["inspect", f["notelf"]], 2, ("not an ELF",), None),
        ("inspect-truncated", ["inspect", f["trunc_segment"]], 2, ("truncated",), None),
        ("inspect-wrong-machine", ["inspect", f["arm"]], 2, ("not x86",), None),
        ("inspect-no-exec", ["inspect", f["noexec"]], 2, ("no executable",), None),
        ("inspect-missing", ["inspect", f["dir"] / "nope.elf"], 2, ("no such file",), None),
        ("inspect-cfg-proc", ["inspect", s, "--cfg", "/proc/cfg.json"], 2, ("cannot write",),
         None),
        ("verify-unpatched", ["verify", s], 2, ("not a ring1-patched image",), None),
        ("verify-not-elf", ["verify", f["notelf"]], 2, ("not an ELF",), None),
        ("verify-missing", ["verify", f["dir"] / "nope.elf"], 2, ("no such file",), None),
        ("run-no-runtime", ["run", f["patched"], "--serial", "stdio"], 2,
         ("runtime is not built", "/nonexistent"), {"RING1_RUNTIME": "/nonexistent/ring1-run"}),
        ("boot-no-runtime", ["boot", s], 2, ("runtime is not built",),
         {"RING1_RUNTIME": "/nonexistent/ring1-run", "RING1_CACHE": str(out / "cache")}),
        ("batch-same-name", ["rewrite", s, s, "-o", f"{out}/"], 2, ("both write",), None),
        ("batch-out-is-file", ["rewrite", s, f["notelf"], "-o", f["afile"]], 2,
         ("output directory",), None),
        ("batch-out-proc", ["rewrite", s, f["notelf"], "-o", "/proc/ring1-batch/"], 2,
         ("output directory",), None),
        ("batch-report", ["rewrite", s, f["notelf"], "-o", f"{out}/", "--report", "r.json"], 2,
         ("--report",), None),
        ("verify-bad-magic", ["verify", f["bad_magic"]], 2, ("bad magic",), None),
        ("verify-truncated-patched", ["verify", f["trunc_patched"]], 2, ("truncated",), None),
        ("verify-other-abi", ["verify", f["other_abi"]], 2, ("ABI version",), None),
    ]


# The list runs as real processes; the other bad-input cases go through cli.main() in
# this process (same code, same output, a second each saved).
SUBPROCESS_CASES = {
    "rewrite-not-elf", "rewrite-truncated-header", "rewrite-truncated-segment",
    "rewrite-wrong-machine", "rewrite-no-exec", "rewrite-already-patched", "rewrite-out-proc",
    "inspect-truncated", "verify-unpatched", "run-no-runtime", "boot-no-runtime",
}


@pytest.fixture(scope="module")
def bad_runs(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_out")
    cases = [c for c in _cases(files, out) if c[0] in SUBPROCESS_CASES]
    runs = run_all({c[0]: (c[1], c[4]) for c in cases})
    return {c[0]: (runs[c[0]], c[2], c[3]) for c in cases}, out


BAD_IDS = [c[0] for c in _cases({k: Path("/x") for k in (
    "notelf", "empty", "trunc_header", "trunc_segment", "trunc_shdrs", "arm", "elf64", "noexec",
    "patched", "aout", "dir", "sample", "afile", "bad_magic", "trunc_patched", "other_abi")},
    Path("/x"))]


@pytest.mark.parametrize("case", sorted(SUBPROCESS_CASES))
def test_bad_input_one_clear_line(bad_runs, case):
    runs, out = bad_runs
    r, code, needles = runs[case]
    line = assert_one_line_error(r, code, *needles)
    assert len(line) < 400
    assert r.stdout == "", f"nothing on stdout for a failed command\n{r}"


@pytest.mark.parametrize("case", [c for c in BAD_IDS if c not in SUBPROCESS_CASES])
def test_bad_input_one_clear_line_in_process(files, tmp_path, capsys, monkeypatch, case):
    (c,) = [c for c in _cases(files, tmp_path) if c[0] == case]
    r = run_main(c[1], capsys, monkeypatch, c[4])
    line = assert_one_line_error(r, c[2], *c[3])
    assert len(line) < 400 and r.stdout == "", str(r)
    assert not (tmp_path / "out.r1.elf").exists()


def test_bad_input_leaves_no_output(bad_runs):
    runs, out = bad_runs
    assert not (out / "out.r1.elf").exists()
    assert not list(out.glob(".ring1-*")), "temporary files left behind"
    assert not (out / "cache").exists() or not list((out / "cache").rglob("*.elf")), \
        "boot rewrote before noticing the runtime is missing"
    assert not Path("/proc/ring1-test.r1.elf").exists()


def test_argparse_errors_are_bad_input(capsys, monkeypatch):
    r = run_main(["rewrite", "x.elf"], capsys, monkeypatch)           # -o missing
    assert r.returncode == 2 and "Traceback" not in r.stderr and "-o" in r.stderr
    r = run_main(["frobnicate"], capsys, monkeypatch)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_main([], capsys, monkeypatch)
    assert r.returncode == 2 and "usage" in (r.stdout + r.stderr).lower()


def test_internal_error_is_exit_3(monkeypatch, capsys, sample_elf):
    def boom(*a, **k):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr(pipeline, "analyze", boom)
    assert cli.main(["inspect", str(sample_elf)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ring1: internal error"), err


def test_verify_failure_lists_problems(files, tmp_path):
    data = bytearray(files["patched"].read_bytes())
    img = image.load(files["patched"])
    r1 = emit.read_ring1(img)
    seg = next(s for s in img.segments if s.vaddr == r1.addr)
    # drop the last site from the table: verify must name it
    h = dict(r1.header, nsites=r1.header["nsites"] - 1)
    data[seg.offset:seg.offset + abi.HEADER.size] = abi.HEADER.pack(
        *(h[f] for f in abi.HEADER_FIELDS))
    bad = tmp_path / "bad.r1.elf"
    bad.write_bytes(data)
    # and flip a byte of the original code in another copy
    code = next(s for s in img.segments if s.executable)
    patched = {i for off, orig in r1.undo for i in range(off, off + len(orig))}
    off = next(i for i in range(code.offset + 0x100, code.offset + code.filesz) if i not in patched)
    flipped = bytearray(files["patched"].read_bytes())
    flipped[off] ^= 0x20
    bad2 = tmp_path / "flipped.r1.elf"
    bad2.write_bytes(flipped)
    runs = run_all({"mixed": (["verify", files["patched"], bad], None),
                    "json": (["verify", "--json", bad2], None)})
    r = runs["mixed"]
    assert r.returncode == 1 and r.stderr == "", str(r)
    good_line, *rest = r.stdout.splitlines()
    assert good_line.startswith(f"{files['patched']}: OK:"), r.stdout
    assert rest[0].startswith(f"{bad}: FAILED:")
    victim = r1.sites[-1]["addr"]
    assert any(ln.strip().startswith(f"{victim:#x}: sensitive") and "not in the site table" in ln
               for ln in rest), r.stdout
    doc = json.loads(runs["json"].stdout)
    assert doc["schema"] == "ring1-verify/1" and len(doc["images"]) == 1
    j = doc["images"][0]
    assert runs["json"].returncode == 1 and j["ok"] is False and j["problems"]
    assert any("sha-256" in p.lower() for p in j["problems"])


# =============================================================================================
# help
# =============================================================================================
@pytest.mark.parametrize("cmd", [[], ["inspect"], ["rewrite"], ["verify"], ["run"], ["boot"],
                                 ["fetch"]])
def test_help(cmd, capsys, monkeypatch):
    r = run_ring1("--help") if not cmd else run_main([*cmd, "--help"], capsys, monkeypatch)
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert r.stdout.startswith("usage: ring1" + (f" {cmd[0]}" if cmd else ""))
    if not cmd:
        text = " ".join(r.stdout.split())
        for code, word in (("0", "success"), ("1", "verification failed"), ("2", "bad input"),
                           ("3", "internal error")):
            assert f"{code} {word}" in text, f"exit status {code} undocumented"
        for sub in ("inspect", "rewrite", "verify", "run"):
            assert sub in r.stdout
    if cmd == ["rewrite"]:
        for opt in ("-o", "--report", "-j", "--window", "--tactics", "summary"):
            assert opt in r.stdout
    if cmd == ["inspect"]:
        assert "--cfg" in r.stdout and "--json" in r.stdout and ".dot" in r.stdout


# =============================================================================================
# inspect
# =============================================================================================
@pytest.fixture(scope="module")
def inspect_runs(files, tmp_path_factory):
    d = tmp_path_factory.mktemp("inspect")
    s = files["sample"]
    runs = run_all({
        "text": (["inspect", s, "--cfg", d / "cfg.dot"], None),
        "json": (["inspect", "--json", s, "--cfg", d / "cfg.json"], None),
    })
    return runs, d


def test_inspect_text(inspect_runs, files):
    runs, _ = inspect_runs
    r = runs["text"]
    assert r.returncode == 0 and r.stderr == "", str(r)
    a = pipeline.analyze(str(files["sample"]))
    out = r.stdout
    assert "ELF32 i386" in out and f"entry {a.image.entry:#x}" in out
    assert f"multiboot v1 header at file offset {a.image.multiboot.offset:#x}" in out
    assert "code range .text" in out and "%" in out
    assert f"CFG {a.cfg.nblocks} blocks" in out
    assert f"sensitive sites in code: {len(a.d.sites)}" in out
    for kind, n in pipeline.site_counts(a.d.sites.values()).items():
        assert any(line.split() == [kind, str(n)] for line in out.splitlines()), kind


def test_inspect_json(inspect_runs, files):
    runs, _ = inspect_runs
    r = runs["json"]
    assert r.returncode == 0 and r.stderr == "", str(r)
    j = json.loads(r.stdout)
    img = image.load(files["sample"])
    assert j["schema"] == "ring1-inspect/1"
    assert (j["format"], j["machine"], j["entry"]) == ("elf32", "i386", f"{img.entry:#010x}")
    assert j["multiboot"]["form"] == "elf" and \
        j["multiboot"]["offset"] == f"{img.multiboot.offset:#010x}"
    assert j["sha256"] == img.sha256
    cov = j["coverage"][0]
    assert cov["code"] + cov["data_or_padding"] + cov["unknown"] == cov["size"]
    assert j["cfg"]["blocks"] > 0 and j["cfg"]["edges"] > 0 and j["instructions"] > 0
    assert sum(j["sites"]["by_kind"].values()) == j["sites"]["total"] > 0
    assert j["ring1"] is None


def test_inspect_cfg_files(inspect_runs):
    runs, d = inspect_runs
    j = json.loads((d / "cfg.json").read_text())
    assert j["blocks"] and j["edges"]
    starts = [b["start"] for b in j["blocks"]]
    assert starts == sorted(starts)
    assert {k for _, _, k in j["edges"]} <= {"fallthrough", "jump", "call", "indirect", "return"}
    dot = (d / "cfg.dot").read_text()
    assert dot.startswith("digraph") and dot.count("->") == len(j["edges"])
    assert dot.count("[label=") == len(j["blocks"]) + len(j["edges"])


def test_inspect_other_formats(files, capsys, monkeypatch):
    p = run_main(["inspect", files["patched"]], capsys, monkeypatch)
    assert p.returncode == 0 and "already patched by ring1" in p.stdout, str(p)
    a = run_main(["inspect", "--json", files["aout"]], capsys, monkeypatch)
    assert a.returncode == 0, str(a)
    j = json.loads(a.stdout)
    assert j["format"] == "multiboot-aout" and j["multiboot"]["form"] == "a.out-kludge"
    e = run_main(["inspect", "--json", files["elf64"]], capsys, monkeypatch)
    assert e.returncode == 0, str(e)
    assert json.loads(e.stdout)["machine"] == "x86-64"


def test_inspect_sites_lists_what_rewrite_plans(files, capsys, monkeypatch, tmp_path):
    """`inspect --sites`: one objdump-style line per site (address, bytes, instruction, kind,
    tactic, region or why it traps) -- the same sites and tactics as the rewrite's report --
    and the regions without a site with the branches they move (--json: the same, hex)."""
    r = run_main(["rewrite", files["sample"], "-o", tmp_path / "s.r1.elf", "--report",
                  tmp_path / "s.json"], capsys, monkeypatch)
    assert r.returncode == 0, str(r)
    report = json.loads((tmp_path / "s.json").read_text())
    j = run_main(["inspect", "--json", "--sites", files["sample"]], capsys, monkeypatch)
    assert j.returncode == 0, str(j)
    listing = json.loads(j.stdout)["site_listing"]
    assert [(x["addr"], x["tactic"]) for x in listing["sites"]] == \
        [(x["addr"], x["tactic"]) for x in report["sites"]]
    t = run_main(["inspect", "--sites", files["sample"]], capsys, monkeypatch)
    lines = [ln for ln in t.stdout.splitlines() if re.match(r"    [0-9a-f]{8}:  ", ln)]
    assert len(lines) == len(report["sites"]) > 0
    first = report["sites"][0]
    spaced = " ".join(first["bytes"][i:i + 2] for i in range(0, len(first["bytes"]), 2))
    assert lines[0].startswith(f"    {first['addr'][2:]}:  {spaced} "), lines[0]
    # the far-branch kernel of test_rewriter_stages: its jne moves into a region of its own
    from test_rewriter_stages import far_branch_kernel
    raw, L = far_branch_kernel()
    k = tmp_path / "far.elf"
    k.write_bytes(raw)
    f = run_main(["inspect", "--sites", k], capsys, monkeypatch)
    assert f.returncode == 0, str(f)
    assert f"{L['g_jne']:#010x} jne {L['f_in']:#x} -> region {L['f']:#x}-" in f.stdout, f.stdout
    e = run_main(["inspect", "--sites", "--tactics", "bogus", k], capsys, monkeypatch)
    assert_one_line_error(e, 2, "--tactics", "bogus")


# =============================================================================================
# rewrite: single, batch, determinism, options
# =============================================================================================
@pytest.fixture(scope="module")
def rewrites(files, tmp_path_factory):
    """Every rewrite the tests below look at, started together."""
    d = tmp_path_factory.mktemp("rewrites")
    s = files["sample"]
    batch_in = d / "in"
    batch_in.mkdir()
    names = ["alpha.elf", "bad.elf", "gamma.elf"]
    shutil.copyfile(s, batch_in / "alpha.elf")
    shutil.copyfile(files["notelf"], batch_in / "bad.elf")
    shutil.copyfile(s, batch_in / "gamma.elf")
    inputs = [batch_in / n for n in names]
    runs = run_all({
        "one": (["rewrite", s, "-o", d / "one.r1.elf", "--report", d / "one.json"], None),
        "two": (["rewrite", s, "-o", d / "two.r1.elf", "--report", d / "two.json"], None),
        "batch_j2": (["rewrite", *inputs, "-o", f"{d / 'b2'}/", "-j", "2"], None),
        "batch_j1": (["rewrite", *inputs, "-o", f"{d / 'b1'}/", "-j", "1"], None),
        "window": (["rewrite", s, "-o", d / "w.r1.elf", "--window", "0x80000000"], None),
        "trap": (["rewrite", s, "-o", d / "trap.r1.elf", "--tactics", "trap"], None),
    })
    runs["verify"] = run_ring1("verify", "--json", d / "one.r1.elf", d / "w.r1.elf",
                               d / "trap.r1.elf", d / "b2" / "alpha.r1.elf",
                               d / "b2" / "gamma.r1.elf")
    return runs, d


def json_docs(text: str) -> list:
    """The images of `verify --json`'s one document."""
    doc = json.loads(text)
    assert doc["schema"] == "ring1-verify/1", doc
    return doc["images"]


def test_rewrite_single(rewrites, files):
    runs, d = rewrites
    r = runs["one"]
    assert r.returncode == 0 and r.stderr == "", str(r)
    assert "one.r1.elf" in r.stdout and "sites" in r.stdout
    rep = json.loads((d / "one.json").read_text())
    a = pipeline.analyze(str(files["sample"]))
    assert rep["input_sha256"] == a.image.sha256
    assert rep["schema"] == "ring1-report/1"
    assert rep["window_base"] == f"{abi.WINDOW_DEFAULT:#010x}"
    assert {int(s["addr"], 16) for s in rep["sites"]} == set(a.d.sites)
    assert sum(rep["counts"].values()) == len(rep["sites"])
    assert all(s["tactic"] in ("inline", "trampoline", "trap") for s in rep["sites"])
    assert all("tramp" in s for s in rep["sites"] if s["tactic"] != "trap")


def test_rewrite_deterministic(rewrites, files):
    runs, d = rewrites
    one, two = (d / "one.r1.elf").read_bytes(), (d / "two.r1.elf").read_bytes()
    assert one == two, "two runs, different bytes"
    inproc = pipeline.rewrite(str(files["sample"])).patched.data
    assert one == inproc
    # and across -j 1 / -j 2 and batch / single mode (the batch inputs have other names)
    for name in ("alpha", "gamma"):
        assert (d / "b1" / f"{name}.r1.elf").read_bytes() == one
        assert (d / "b2" / f"{name}.r1.elf").read_bytes() == one
    strip = lambda rep: {k: v for k, v in rep.items() if k not in ("timings", "input", "output")}
    r1 = json.loads((d / "one.json").read_text())
    r2 = json.loads((d / "two.json").read_text())
    assert strip(r1) == strip(r2)
    rb = json.loads((d / "b2" / "alpha.report.json").read_text())
    assert strip(rb) == strip(r1)


@pytest.mark.parametrize("mode", ["batch_j1", "batch_j2"])
def test_rewrite_batch_continues_past_bad_image(rewrites, mode):
    runs, d = rewrites
    r = runs[mode]
    outdir = d / ("b1" if mode == "batch_j1" else "b2")
    assert "Traceback" not in r.stderr + r.stdout, str(r)
    assert r.returncode == 1, str(r)
    # progress: one line per image, and the plan on the first line
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("[")]
    assert len(progress) == 3 and {ln.split("]")[0] for ln in progress} == \
        {"[1/3", "[2/3", "[3/3"}, r.stderr
    assert ("2 worker(s)" if mode == "batch_j2" else "1 worker(s)") in r.stderr
    # one summary, naming the failure
    assert "2 of 3 images rewritten" in r.stdout and "1 failed" in r.stdout, r.stdout
    fail_lines = [ln for ln in r.stdout.splitlines() if "bad.elf" in ln]
    assert len(fail_lines) == 1 and "FAILED" in fail_lines[0] and "not an ELF" in fail_lines[0]
    summary = json.loads((outdir / "summary.json").read_text())
    st = [(Path(i["input"]).name, i["status"]) for i in summary["images"]]
    assert st == [("alpha.elf", "ok"), ("bad.elf", "bad input"), ("gamma.elf", "ok")]
    bad = summary["images"][1]
    assert bad["exit"] == 2 and "not an ELF" in bad["error"] and "trace" not in bad
    assert sorted(p.name for p in outdir.iterdir()) == [
        "alpha.r1.elf", "alpha.report.json", "gamma.r1.elf", "gamma.report.json", "summary.json"]


def test_rewritten_images_verify(rewrites):
    runs, d = rewrites
    v = runs["verify"]
    assert v.returncode == 0 and v.stderr == "", str(v)
    docs = json_docs(v.stdout)
    assert len(docs) == 5 and all(doc["ok"] and not doc["problems"] for doc in docs), v.stdout


def test_rewrite_window_moved(rewrites):
    runs, d = rewrites
    assert runs["window"].returncode == 0, str(runs["window"])
    img = image.load(d / "w.r1.elf")
    assert img.ring1_note["window_base"] == 0x80000000
    assert img.ring1_note["image_vaddr"] == 0x80010000
    assert any(s.vaddr == 0x80010000 and s.executable for s in img.segments)
    r1 = emit.read_ring1(img)
    assert r1.header["window_base"] == 0x80000000
    assert all(0x80010000 <= s["tramp"] < 0x80400000 for s in r1.sites if s["tramp"])


def test_rewrite_trap_only(rewrites, files):
    runs, d = rewrites
    assert runs["trap"].returncode == 0, str(runs["trap"])
    img = image.load(d / "trap.r1.elf")
    r1 = emit.read_ring1(img)
    assert r1.note["flags"] == abi.F_TRAP_ONLY == r1.header["flags"]
    assert {s["tactic"] for s in r1.sites} == {int(Tactic.TRAP)}
    assert r1.header["tramp_size"] == 0 and not r1.o2t and not r1.t2o
    for s in r1.sites:
        assert img.read(s["addr"], 1) == b"\xcc"
    (j,) = [doc for doc in json_docs(runs["verify"].stdout) if doc["image"].endswith("trap.r1.elf")]
    assert j["ok"]
    assert j["stats"]["tactics"] == {"inline": 0, "trampoline": 0, "trap": len(r1.sites)}


# Regression: these used to be refused only after the whole analysis (minutes and ~2 GB on
# Debian's 65 MB amd64 vmlinux).
@pytest.mark.parametrize("which", ["elf64", "patched", "aout", "overlap"])
def test_unrewritable_images_are_refused_before_the_analysis(which, files, tmp_path, capsys,
                                                             monkeypatch):
    from rewriter import disasm

    def no_analysis(*a, **k):
        raise AssertionError("analysis started for an image that cannot be rewritten")
    monkeypatch.setattr(disasm, "disassemble", no_analysis)
    argv = ["rewrite", files["sample" if which == "overlap" else which], "-o",
            tmp_path / "x.r1.elf"] + (["--window", "0x0"] if which == "overlap" else [])
    r = run_main(argv, capsys, monkeypatch)
    assert r.returncode == 2 and "analysis started" not in r.stderr, str(r)


def test_boot_of_a_cached_image_does_not_load_lief(tmp_path, sample_elf):
    """LIEF takes about a second to load (most of `ring1 boot`'s time before the runtime
    starts: the bench's Linux boot row counted it); a boot whose rewrite is in the cache, and
    --help, need none of it (rewriter/image.py imports it at first use). Both boots run in a
    process of their own, the runtime's exec replaced by a report of what was loaded."""
    probe = ("import os, sys\n"
             "def execv(path, argv):\n"
             "    print('lief' in sys.modules, os.path.basename(path), flush=True)\n"
             "    os._exit(0)\n"
             "os.execv = execv\n"
             "from rewriter import cli\n"
             "sys.exit(cli.main(sys.argv[1:]))\n")
    env = dict(os.environ, RING1_CACHE=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe, "boot", str(sample_elf)], env=env,
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    first, second = runs
    assert first.returncode == 0 and first.stdout == "True ring1-run\n", first.stderr
    assert second.returncode == 0 and second.stdout == "False ring1-run\n", second.stderr
