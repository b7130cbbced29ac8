"""Profile-guided rewriting (docs/exits.md): a run records its exits by guest address
(`ring1-run --profile-out`), `ring1 rewrite --profile` turns the hot device accesses among them
into MMIO sites -- trampolines whose hypercall the runtime serves with one emulated access --
and `ring1 boot` does both by itself. Correctness stays differential: the unix sample's
transcript is QEMU's golden with and without a profile; the gain is counted in exits
(`--stats`), never timed."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess

import pytest

from rewriter import abi, pipeline, plan as plan_mod, profile
from rewriter.abi import Kind, Tactic
from rewriter.errors import BadInput

from conftest import (RING1, ROOT, SAMPLES, Prog, Seg, assert_one_line_error, make_elf32,
                      run_main)

RUNTIME = ROOT / "runtime" / "build" / "ring1-run"

UNIX = SAMPLES / "build" / "unix.elf"
UNIX_FS = SAMPLES / "build" / "unix-fs.img"
SESSION = SAMPLES / "unix" / "session.txt"
GOLDEN = SAMPLES / "golden" / "unix.txt"       # QEMU's transcript


def _stat(err: str, name: str) -> int:
    m = re.search(rf"^\s+event {re.escape(name)}\s+(\d+)$", err, re.M)
    return int(m.group(1)) if m else 0


def _run_unix(image, tmp_path, *extra):
    disk = tmp_path / "fs.img"
    shutil.copyfile(UNIX_FS, disk)
    p = subprocess.run([str(RUNTIME), str(image), "--kernel-name", str(UNIX), "--disk",
                        f"index=1,file={disk}", "--stats", *map(str, extra)],
                       input=SESSION.read_bytes(), capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def unix_profile(tmp_path_factory, samples_built):
    """The unix sample rewritten without a profile, run through its session with
    --profile-out: (plain image, profile path, stderr)."""
    d = tmp_path_factory.mktemp("prof")
    img = d / "unix.r1.elf"
    rw = pipeline.rewrite(str(UNIX))
    img.write_bytes(rw.patched.data)
    prof = d / "unix.profile.json"
    rc, out, err = _run_unix(img, d, "--profile-out", prof)
    assert rc == 1 and out == GOLDEN.read_bytes(), err
    return img, prof, err


def test_a_run_records_its_device_accesses_by_address(unix_profile):
    """The profile names the unix kernel's local APIC accesses (its EOI write and its ID read)
    as MMIO exits at their instructions, and its sensitive instructions by kind; it is the
    kernel's own: its SHA-256 is the unpatched image's."""
    _, prof, err = unix_profile
    doc = json.loads(prof.read_text())
    assert doc["schema"] == "ring1-profile/1"
    assert doc["format"] == "ring1-profile" and doc["version"] == 1
    p = profile.load(str(prof))
    assert p.input_sha256 == pipeline.analyze(str(UNIX)).image.sha256
    mmio = {a: n for (a, k), n in p.counts.items() if k == "mmio"}
    assert sum(mmio.values()) == _stat(err, "mmio-fault") > 100
    assert all(re.fullmatch(r"0x[0-9a-f]{8}", e["addr"]) for e in doc["exits"])
    assert any(k == "out" for _, k in p.counts) and any(k == "iret" for _, k in p.counts)
    assert p.mmio_sites() and set(p.mmio_sites()) <= set(mmio)


def test_the_profiled_rewrite_exits_less_and_prints_the_same(unix_profile, tmp_path, capsys):
    """rewrite --profile: the hot device accesses become MMIO sites (trampolines), verify
    passes, the same input and profile give the same bytes, and the kernel's transcript is
    still QEMU's while its device accesses leave by hypercall instead of by host fault."""
    plain, prof, err0 = unix_profile
    out = tmp_path / "u.p.elf"
    rep = tmp_path / "rep.json"
    r = run_main(["rewrite", UNIX, "-o", out, "--profile", prof, "--report", rep], capsys)
    assert r.returncode == 0, str(r)
    sites = [s for s in json.loads(rep.read_text())["sites"] if s["kind"] == "mmio"]
    assert sites and all(s["tactic"] == "trampoline" for s in sites)
    assert {int(s["addr"], 16) for s in sites} == set(profile.load(str(prof)).mmio_sites())
    again = tmp_path / "u.p2.elf"
    assert run_main(["rewrite", UNIX, "-o", again, "--profile", prof], capsys).returncode == 0
    assert again.read_bytes() == out.read_bytes()
    v = run_main(["verify", out], capsys)
    assert v.returncode == 0 and "OK" in v.stdout, str(v)
    rc, transcript, err = _run_unix(out, tmp_path)
    assert rc == 1 and transcript == GOLDEN.read_bytes(), err
    before, after = _stat(err0, "mmio-fault"), _stat(err, "mmio-fault")
    assert after < before / 4, (before, after)
    # what does not fault now leaves by hypercall, or not at all: reads of stable registers
    # (the APIC's ID) come from the vCPU page's cache until a device write empties it
    assert 0 < _stat(err, "mmio-site") < before / 2


def test_boot_records_a_profile_and_the_next_boot_uses_it(tmp_path, samples_built):
    """`ring1 boot` twice on the same kernel: the first run records its exits in the cache,
    the second rewrites with them ("device accesses from its profile made hypercalls") and
    exits less -- counts from --stats; with --no-profile, neither."""
    env = {"RING1_CACHE": str(tmp_path / "cache")}
    import os
    e = dict(os.environ, **env)
    runs = []
    for i in range(3):
        disk = tmp_path / f"fs{i}.img"
        shutil.copyfile(UNIX_FS, disk)
        opts = ["--no-profile"] if i == 2 else []
        p = subprocess.run([RING1, "boot", *opts, str(UNIX), "--disk", f"index=1,file={disk}",
                            "--stats"], input=SESSION.read_bytes(), capture_output=True,
                           timeout=120, env=e)
        err = p.stderr.decode(errors="replace")
        assert p.returncode == 1 and p.stdout == GOLDEN.read_bytes(), err
        runs.append(err)
    assert "from its profile" not in runs[0]
    assert re.search(r"\d+ device accesses from its profile made hypercalls", runs[1]), runs[1]
    assert _stat(runs[1], "mmio-fault") < _stat(runs[0], "mmio-fault") / 4
    assert 0 < _stat(runs[1], "mmio-site") < _stat(runs[0], "mmio-fault") / 2
    assert _stat(runs[2], "mmio-site") == 0                  # --no-profile: the plain image
    files = sorted(p.name for p in (tmp_path / "cache" / "boot").glob("*.profile.json"))
    # the kept profile (run 1's, merged at boot 2) and run 2's record, for the next boot
    assert len(files) == 2 and sum(".run-" in f for f in files) == 1, files


def test_inspect_shows_the_hottest_exits_and_what_a_rewrite_does(unix_profile, capsys):
    _, prof, _ = unix_profile
    r = run_main(["inspect", UNIX, "--profile", prof], capsys)
    assert r.returncode == 0, str(r)
    assert "hypercall (MMIO site)" in r.stdout and "sensitive site, trampoline" in r.stdout
    j = run_main(["inspect", UNIX, "--profile", prof, "--json"], capsys)
    rows = json.loads(j.stdout)["profile"]["hottest"]
    assert rows[0]["count"] >= rows[-1]["count"] and all("action" in x for x in rows)


# --- bad profiles: one line, exit 2 -----------------------------------------------------------
BAD = {
    "not-json": ("{", "not JSON"),
    "no-format": ({"version": 1, "exits": []}, "format"),
    "version": ({"format": "ring1-profile", "version": 9, "exits": []}, "version 9"),
    "addr": ({"format": "ring1-profile", "version": 1, "exits": [
        {"addr": "12", "kind": "mmio", "count": 1}]}, "addr"),
    "kind": ({"format": "ring1-profile", "version": 1, "exits": [
        {"addr": "0x12", "kind": "teleport", "count": 1}]}, "unknown kind"),
    "count": ({"format": "ring1-profile", "version": 1, "exits": [
        {"addr": "0x12", "kind": "mmio", "count": -1}]}, "count"),
    "sha": ({"format": "ring1-profile", "version": 1, "input_sha256": "ab" * 32,
             "exits": []}, "another kernel"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_profile_is_one_clear_line(case, tmp_path, capsys, samples_built):
    doc, needle = BAD[case]
    f = tmp_path / "p.json"
    f.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    r = run_main(["rewrite", UNIX, "-o", tmp_path / "o.elf", "--profile", f], capsys)
    assert_one_line_error(r, 2, needle)
    assert not (tmp_path / "o.elf").exists()


def test_profile_options_misused(tmp_path, capsys, samples_built):
    r = run_main(["rewrite", UNIX, UNIX, "-o", f"{tmp_path}/", "--profile", "x.json"], capsys)
    assert_one_line_error(r, 2, "one kernel")
    r = run_main(["rewrite", UNIX, "-o", tmp_path / "o.elf", "--profile-min", "3"], capsys)
    assert_one_line_error(r, 2, "--profile-min without --profile")


# --- the planner's side ------------------------------------------------------------------------
def _kernel(tmp_path):
    """Device accesses of every sort a profile could name, and things it must not."""
    p = Prog(0x100000)
    p.label("entry").asm(
        "mov eax, dword ptr [ebx + 0x20]",        # read: a site
        "nop", "nop", "nop",
        "mov dword ptr [ebx + 0xb0], 0",           # write: a site
        "nop", "nop", "nop",
        "lea eax, [ebx + 4]",                      # no access
        "nop", "nop", "nop")
    p.label("str").asm("rep movsd dword ptr es:[edi], dword ptr [esi]", "nop", "nop", "nop")
    p.label("br").asm("jmp dword ptr [ebx]")
    text, labels = p.build()
    src = tmp_path / "k.elf"
    src.write_bytes(make_elf32([Seg(0x100000, text, "rx", name=".text")], labels["entry"]))
    return src, labels


def test_only_data_accesses_become_mmio_sites_and_verify_reproduces_them(tmp_path):
    src, L = _kernel(tmp_path)
    a = pipeline.analyze(str(src))
    e = L["entry"]
    read, write, lea = e, e + 6, e + 6 + 10 + 3
    assert plan_mod.mmio_unsuitable(a.d, read) is None
    assert plan_mod.mmio_unsuitable(a.d, write) is None
    assert "no memory operand" in plan_mod.mmio_unsuitable(a.d, lea)
    assert "string" in plan_mod.mmio_unsuitable(a.d, L["str"])
    assert "control transfer" in plan_mod.mmio_unsuitable(a.d, L["br"])
    assert "not an instruction start" in plan_mod.mmio_unsuitable(a.d, read + 1)
    asked = [read, write, lea, L["str"], L["br"], read + 1, 0xdead0000]
    rw = pipeline.rewrite(str(src), mmio=asked)
    got = {s.addr: s.tactic for s in rw.plan.sites if s.kind == Kind.MMIO}
    assert got == {read: Tactic.TRAMPOLINE, write: Tactic.TRAMPOLINE}
    out = tmp_path / "k.r1.elf"
    out.write_bytes(rw.patched.data)
    from rewriter.verify import verify
    res = verify(str(out))
    assert res.ok, res.problems
    # trap-only rewrites make no MMIO sites (an int3 would cost what the fault costs)
    rt = pipeline.rewrite(str(src), tactics=(Tactic.TRAP,), mmio=[read, write])
    assert not [s for s in rt.plan.sites if s.kind == Kind.MMIO]


def test_hot_means_often_and_mostly_on_a_device():
    p = profile.Profile(None, 0, {(0x10, "mmio"): 16, (0x20, "mmio"): 15, (0x30, "mmio"): 40,
                                  (0x30, "mmio_ram"): 41, (0x40, "mmio"): 40,
                                  (0x40, "mmio_ram"): 40, (0x50, "out"): 1000})
    assert p.mmio_sites() == [0x10, 0x40]
    assert p.mmio_sites(15) == [0x10, 0x20, 0x40]
    m = p.merge(profile.Profile(None, 0, {(0x20, "mmio"): 1}))
    assert m.mmio_sites() == [0x10, 0x20, 0x40]
    assert profile.parse(m.to_json(), "x").counts == m.counts
