"""`ring1 cache list|clean|prune` (issue 13, item 5; rewriter/cache.py) on a cache laid out as
`ring1 boot` and `ring1 fetch` lay theirs out, in a RING1_CACHE of the test's own; and `ring1
boot` marking the rewrite it reuses as used (what prune goes by)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RING1, assert_one_line_error, run_main

D1, D2, D3 = "a" * 24, "b" * 24, "c" * 24
DAY = 86400


def _file(p: Path, size: int, age_days: float) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"\0" * size)
    t = time.time() - age_days * DAY
    os.utime(p, (t, t))
    return p


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Three images in the boot cache (k1 used 1 day ago, k2 5 days, k3 10 days), a stray
    file, and two fetched kernels (one half-fetched: no manifest)."""
    root = tmp_path / "cache"
    boot = root / "boot"
    _file(boot / f"vmlinuz-6.1.0-57-686.{D1}.vmlinux", 4000, 3)
    _file(boot / f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.r1.elf", 6000, 1)
    _file(boot / f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.profile.json", 500, 2)
    _file(boot / f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.run-77.profile.json", 100, 2)
    _file(boot / f"unix.elf.{D2}.0123abcd.89abcdef.r1.elf", 3000, 5)
    _file(boot / f"hello.elf.{D3}.0123abcd.r1.elf", 2000, 10)
    _file(boot / "notes.txt", 10, 0)
    _file(boot / ".ring1-abc123", 10, 1)            # a killed boot's temporary file
    _file(boot / ".ring1-def456", 10, 0)            # a write under way
    _file(root / "linux686" / "vmlinuz", 7000, 20)
    (root / "linux686" / "manifest.json").write_text("{}")
    _file(root / "partial" / "vmlinuz", 50, 20)
    monkeypatch.setenv("RING1_CACHE", str(root))
    return root


def test_list_shows_each_image_and_kernel(cache, capsys, monkeypatch):
    r = run_main(["cache", "list"], capsys)
    assert r.returncode == 0 and r.stderr == "", str(r)
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"boot cache {cache / 'boot'}: 3 image(s), "), r.stdout
    rows = [ln for ln in lines if "..." in ln]     # most recently used first
    assert len(rows) == 3, r.stdout
    assert "vmlinuz-6.1.0-57-686" in rows[0] and "unix.elf" in rows[1] and "hello.elf" in rows[2]
    assert "profile, rewrite, run profile, vmlinux" in rows[0], rows[0]
    assert "(not ring1's, left alone: notes.txt)" in r.stdout
    assert "(a temporary file of a write not finished (`clean` takes it after an hour): " \
        ".ring1-abc123)" in r.stdout
    assert f"fetched kernels {cache}: 1," in r.stdout and "linux686: manifest.json, vmlinuz" in \
        r.stdout and "partial" not in r.stdout


def test_list_json(cache, capsys):
    r = run_main(["cache", "list", "--json"], capsys)
    assert r.returncode == 0, str(r)
    doc = json.loads(r.stdout)
    assert doc["schema"] == "ring1-cache/1"
    boot = doc["boot"]
    assert [e["image"] for e in boot["entries"]] == ["vmlinuz-6.1.0-57-686", "unix.elf", "hello.elf"]
    assert boot["entries"][0]["bytes"] == 4000 + 6000 + 500 + 100
    assert boot["bytes"] == 10600 + 3000 + 2000
    assert boot["entries"][0]["input_sha256_prefix"] == D1
    assert boot["entries"][0]["last_used"].endswith("Z")
    assert boot["other_files"] == [".ring1-abc123", ".ring1-def456", "notes.txt"]
    assert doc["kernels"]["entries"] == [{"name": "linux686", "bytes": 7002,
                                          "files": ["manifest.json", "vmlinuz"]}]


def test_prune_removes_least_recently_used_first(cache, capsys):
    boot = cache / "boot"
    r = run_main(["cache", "prune", "--max-size", "12K"], capsys)   # 15,600 bytes: 2 must go
    assert r.returncode == 0, str(r)
    assert "2 image(s) removed" in r.stdout, r.stdout
    left = sorted(p.name for p in boot.iterdir())
    assert left == sorted([f"vmlinuz-6.1.0-57-686.{D1}.vmlinux",
                           f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.r1.elf",
                           f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.profile.json",
                           f"vmlinuz-6.1.0-57-686.{D1}.0123abcd.run-77.profile.json",
                           ".ring1-abc123", ".ring1-def456", "notes.txt"]), left
    r = run_main(["cache", "prune", "--max-size", "1G"], capsys)
    assert "0 image(s) removed" in r.stdout and len(list(boot.iterdir())) == 7


def test_clean_empties_the_boot_cache_and_leaves_kernels_unless_asked(cache, capsys):
    r = run_main(["cache", "clean"], capsys)
    assert r.returncode == 0 and "3 image(s) removed" in r.stdout, str(r)
    assert sorted(p.name for p in (cache / "boot").iterdir()) == [".ring1-def456", "notes.txt"]
    assert (cache / "linux686" / "vmlinuz").is_file()
    r = run_main(["cache", "clean", "--kernels"], capsys)
    assert r.returncode == 0 and "fetched kernels: 1 removed" in r.stdout, str(r)
    assert not (cache / "linux686").exists() and (cache / "partial" / "vmlinuz").is_file()


def test_an_empty_or_missing_cache_lists_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RING1_CACHE", str(tmp_path / "nothing"))
    r = run_main(["cache", "list"], capsys)
    assert r.returncode == 0, str(r)
    assert ": 0 image(s), 0 B" in r.stdout and "fetched kernels" in r.stdout
    assert run_main(["cache", "prune", "--max-size", "0"], capsys).returncode == 0


@pytest.mark.parametrize("argv,needle", [
    (["cache"], "ACTION"),
    (["cache", "prune"], "--max-size"),
    (["cache", "prune", "--max-size", "lots"], "500M"),
    (["cache", "shrink"], "shrink"),
])
def test_bad_cache_commands_get_one_line(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RING1_CACHE", str(tmp_path))
    assert_one_line_error(run_main(argv, capsys), 2, needle)


@pytest.mark.skipif(RING1 is None, reason="the ring1 command is not installed")
def test_boot_marks_the_rewrite_it_reuses_as_used(tmp_path):
    """Two boots of one guest: the second reuses the first's rewrite and sets its time to
    now, so `prune` keeps what is in use."""
    guest = Path(__file__).resolve().parent.parent / "runtime" / "build" / "guests" / "hello.elf"
    env = dict(os.environ, RING1_CACHE=str(tmp_path))
    argv = [RING1, "boot", str(guest), "--no-profile"]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == "hello\nbye\n", r.stderr
    (out,) = (tmp_path / "boot").glob("*.r1.elf")
    old = time.time() - 30 * DAY
    os.utime(out, (old, old))
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == "hello\nbye\n" and "rewriting" not in r.stderr, \
        r.stderr
    assert time.time() - out.stat().st_mtime < 600


def test_a_batch_rewrite_skips_up_to_date_outputs(samples_built, tmp_path, capsys):
    """`ring1 rewrite A B -o DIR` again: outputs whose input, options and rewriter are what
    DIR/summary.json recorded, and whose bytes are still the recorded ones, are skipped and
    said to be up to date; a changed input, a changed option, a tampered output or --force
    rewrites (issue 13, item 5)."""
    from conftest import SAMPLE_BUILD
    a, b = tmp_path / "a.elf", tmp_path / "b.elf"
    a.write_bytes((SAMPLE_BUILD / "sensitive.elf").read_bytes())
    b.write_bytes((SAMPLE_BUILD / "timer.elf").read_bytes())
    out = tmp_path / "out"

    def batch(*extra):
        r = run_main(["rewrite", a, b, "-o", f"{out}/", *extra], capsys)
        assert r.returncode == 0, str(r)
        fresh = {Path(ln.split(" -> ")[0]).name for ln in r.stderr.splitlines()
                 if ln.startswith("[") and "up to date" not in ln}
        return r, fresh

    r, fresh = batch()
    assert fresh == {"a.elf", "b.elf"} and "up to date" not in r.stdout, str(r)
    first = (out / "a.r1.elf").read_bytes()
    r, fresh = batch()
    assert fresh == set() and "2 of 2 images rewritten" in r.stdout and \
        "(2 of them up to date)" in r.stdout, str(r)
    assert (out / "a.r1.elf").read_bytes() == first
    a.write_bytes((SAMPLE_BUILD / "paging.elf").read_bytes())      # a changed input
    assert batch()[1] == {"a.elf"}
    assert batch("--tactics", "inline,trap")[1] == {"a.elf", "b.elf"}   # a changed option
    assert batch("--tactics", "inline,trap")[1] == set()
    data = bytearray((out / "b.r1.elf").read_bytes())
    data[-1] ^= 0xff
    (out / "b.r1.elf").write_bytes(bytes(data))                        # a tampered output
    assert batch("--tactics", "inline,trap")[1] == {"b.elf"}
    assert batch("--tactics", "inline,trap", "--force")[1] == {"a.elf", "b.elf"}


@pytest.mark.skipif(RING1 is None, reason="the ring1 command is not installed")
def test_pipeline_example_is_byte_identical_across_directories(samples_built, tmp_path):
    """samples/pipeline/Makefile, run in two directories: every kernel rewritten and verified,
    the outputs byte-identical between them; run again, Make has nothing to do."""
    import shutil
    from conftest import SAMPLE_BUILD
    mk = Path(__file__).resolve().parent.parent / "samples" / "pipeline" / "Makefile"
    outs = []
    for d in (tmp_path / "one", tmp_path / "elsewhere" / "two"):
        (d / "in").mkdir(parents=True)
        shutil.copy(mk, d / "Makefile")
        for k in ("sensitive", "timer"):
            shutil.copy(SAMPLE_BUILD / f"{k}.elf", d / "in" / f"{k}.elf")
        r = subprocess.run(["make", "-s", f"RING1={RING1}"], cwd=d, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count(": OK") == 2, r.stdout          # ring1 verify, each image
        outs.append({p.name: p.read_bytes() for p in (d / "out").glob("*.r1.elf")})
        q = subprocess.run(["make", "-q", f"RING1={RING1}"], cwd=d, timeout=60)
        assert q.returncode == 0                                   # up to date
    assert sorted(outs[0]) == ["sensitive.r1.elf", "timer.r1.elf"] and outs[0] == outs[1]
