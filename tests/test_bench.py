"""The benchmark kernels (samples/bench) compute the right thing everywhere: the guest kernel
under QEMU, under ring1 (default tactics and trap-only) and the native 32-bit Linux build of
the same objects print the same checksums. Correctness of the workloads, not speed: small sizes,
a few seconds in all. Also the runner's own plumbing (bench/guests.py): the QEMU command line is
samples/qemu.sh's, and the marker timing yields repetitions with the checked checksums.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import guests  # noqa: E402  (bench/guests.py)

SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
QEMU_OK = 1        # debug-exit 0, under QEMU and ring1 alike: (0 << 1) | 1
TIMEOUT = 60


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """make -C runtime and samples/bench, then the bench kernel rewritten both ways."""
    for d in (ROOT / "runtime", ROOT / "samples" / "bench"):
        r = subprocess.run(["make", "-s", "-C", str(d)], capture_output=True, text=True)
        assert r.returncode == 0, f"make -C {d} failed:\n{r.stdout}{r.stderr}"
    out = tmp_path_factory.mktemp("bench")
    images = {}
    for tag, extra in (("r1", []), ("trap", ["--tactics", "trap"])):
        images[tag] = out / f"bench.{tag}.elf"
        r = subprocess.run([str(ROOT / ".venv" / "bin" / "ring1"), "rewrite", str(guests.KERNEL),
                            "-o", str(images[tag]), *extra], capture_output=True, text=True)
        assert r.returncode == 0, f"ring1 rewrite {extra}: {r.stderr}"
    return images


def run(argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def native(*args):
    return run([str(guests.NATIVE), *args])


def qemu(args):
    if not shutil.which("qemu-system-i386"):
        pytest.skip("qemu-system-i386 not installed")
    return run(guests.qemu_argv(guests.KERNEL, args))


def ring1(image, args):
    return run(guests.ring1_argv(image, guests.KERNEL, args, timeout=TIMEOUT))


@pytest.fixture(scope="module")
def native_check(built):
    rc, out, err = native("check")
    assert rc == 0, f"bench-native check: exit {rc}\n{err}"
    return out


def test_native_check_is_complete_and_right(native_check):
    lines = native_check.splitlines()
    assert lines[0] == "bench check"
    assert lines[1] == f"sha256(abc) {SHA256_ABC}", "SHA-256 fails the FIPS 180-4 test vector"
    for w in guests.WORKLOADS:
        reps = [l for l in lines if l.startswith(w + " ")]
        assert len(reps) == 2, f"{w}: want two checksum lines, got {reps}"
        assert reps[0].split()[-1] != reps[1].split()[-1], f"{w}: repetitions should differ"
    assert lines[-1] == "done"


def test_qemu_prints_the_native_checksums(native_check):
    rc, out, err = qemu("check")
    assert out == native_check, f"QEMU differs from native:\n{out}\n{err}"
    assert rc == QEMU_OK, f"QEMU exit status {rc}"


@pytest.mark.parametrize("tactics", ["r1", "trap"])
def test_ring1_prints_the_native_checksums(built, native_check, tactics):
    rc, out, err = ring1(built[tactics], "check")
    assert out == native_check, f"ring1 ({tactics}) differs from native:\n{out}\n{err}"
    assert rc == QEMU_OK, f"ring1 ({tactics}) exit status {rc}:\n{err}"


def test_nano_loops_run_alike_under_qemu_and_ring1(built):
    """Every sensitive-operation loop runs (64 operations each) and returns, on every machine."""
    rc, want, err = qemu("nanocheck")
    assert rc == QEMU_OK, f"QEMU nanocheck: exit {rc}\n{want}{err}"
    ops = re.findall(r"^nano (\w+) ok$", want, re.M)
    assert set(ops) == set(guests.NANO_OPS), f"nanocheck ran {ops}, runner knows {guests.NANO_OPS}"
    for tactics in ("r1", "trap"):
        rc, out, err = ring1(built[tactics], "nanocheck")
        assert (rc, out) == (QEMU_OK, want), f"ring1 ({tactics}) nanocheck: exit {rc}\n{out}{err}"


def test_qemu_command_line_is_the_samples_one():
    argv = guests.qemu_argv(guests.KERNEL, "run=sha256", accel="kvm")
    text = guests.QEMU_SH.read_text()
    for opt in ("-nodefaults", "qemu32", "128M", "isa-debug-exit,iobase=0xf4,iosize=0x04"):
        assert opt in text and opt in argv, opt
    # the reference machine, ring1-run's default: QEMU's std VGA (tests/qemuref.py)
    assert argv[argv.index("-vga") + 1] == "std" and "-vga std" in text
    assert argv[argv.index("-kernel") + 1] == str(guests.KERNEL)
    assert argv[argv.index("-append") + 1] == "run=sha256"
    assert argv[argv.index("-accel") + 1] == "kvm"


def test_marker_timing_of_a_native_run(built):
    """The runner's timing path: repetitions timestamped as they arrive (a few ms each here),
    with the checksums a plain run prints."""
    c = guests.contenders(built["r1"], built["trap"], kvm=False)["native"]
    r = guests.run_workload(c, "coremark", guests.Budget(min_reps=2, min_time=0.0, max_time=10),
                            size=400)
    assert "error" not in r, r
    assert len(r["reps_s"]) >= 2 and r["median_s"] > 0
    rc, out, _ = native("run=coremark", "size=400", "reps=3")
    assert rc == 0 and r["checksums"][:3] == re.findall(r"^@\d+ (\w+)$", out, re.M)


def test_runner_rejects_an_unknown_section():
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "bogus"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "unknown section" in p.stderr


def test_boot_milestones_from_serial_text():
    """The boot timing path (no machine needed): a substring, a pattern and a prompt that
    never ends its line (matched as it appears), bytes typed on stdin, the run killed at the
    last milestone, and the process's CPU time from wait4."""
    script = "read x; echo booting; echo '$ ls'; printf '%s> ' \"$x\"; exec sleep 30"
    r = guests.run_boot(["sh", "-c", script], ["booting", re.compile(r"^\$ "), "db> "],
                        deadline=20, stdin=b"db\n")
    assert "error" not in r, r
    t = list(r["times"].values())
    assert len(t) == 3 and t == sorted(t) and t[-1] < 10, "killed at db>, not after the sleep"
    assert r["first_line_s"] == t[0] and r["rc"] == -9
    assert r["transcript"] == "booting\n$ ls\ndb> \n"
    assert r["user_s"] >= 0 and r["sys_s"] >= 0
    # A milestone never reached is an error naming it; debug-exit (None) needs status 1.
    r = guests.run_boot(["sh", "-c", "echo hi; exit 3"], ["hi", None], deadline=20)
    assert "no debug-exit 0" in r["error"]


@pytest.fixture(scope="module")
def run_py():
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _unix_env(tmp_path) -> dict:
    """The runtime and the unix sample built, the sample rewritten with the default tactics
    ("r1") and trap-only ("trap"), as bench/run.py's setup leaves them; skips without QEMU."""
    for d, target in ((guests.SAMPLES, ["unix"]), (ROOT / "runtime", [])):
        r = subprocess.run(["make", "-s", "-C", str(d), *target], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    if not shutil.which("qemu-system-i386"):
        pytest.skip("qemu-system-i386 not installed")
    env = {"kvm_ok": False}
    for tag, extra in (("r1", []), ("trap", ["--tactics", "trap"])):
        image = tmp_path / f"unix.{tag}.elf"
        r = subprocess.run([str(ROOT / ".venv" / "bin" / "ring1"), "rewrite",
                            str(guests.UNIX_KERNEL), "-o", str(image), *extra],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        env[tag] = {"unix": {"image": image}}
    return env


def test_unix_sample_boot_rows(run_py, tmp_path):
    """bench/run.py's unix rows: disk copy, session on a pipe, the prompt and the end of the
    session reached on every machine with the golden transcript, CPU time in the last row."""
    env = _unix_env(tmp_path)
    rows = run_py.boot_unix(env, 1)
    assert [row["short"] for row in rows] == ["prompt", "halt"]
    for row in rows:
        assert set(row["results"]) == {"qemu", "ring1", "trap", "host"}
        for k, x in row["results"].items():
            assert "error" not in x, (row["milestone"], k, x)
            assert x["transcript_ok"], (row["milestone"], k)
    prompt, end = rows
    for k in ("qemu", "ring1", "trap", "host"):
        assert prompt["results"][k]["milestone_s"] < end["results"][k]["milestone_s"]
        assert "cpu_s" not in prompt["results"][k] and end["results"][k]["cpu_s"] > 0


def test_invaders_first_frame_on_both_machines(run_py, tmp_path):
    """The grub-invaders milestone: ring1 (--break) and QEMU (gdbstub) stop at the first note
    with the same screen, the playing field drawn."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import kernel
    if not shutil.which("qemu-system-i386"):
        pytest.skip("qemu-system-i386 not installed")
    src = kernel("invaders")
    addr = run_py.INVADERS_FIRST_NOTE
    image = tmp_path / "invaders.r1.elf"
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "ring1"), "rewrite", str(src), "-o",
                        str(image)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    q = guests.run_qemu_break(guests.qemu_argv(src), addr, 1, "frame", 30, tmp_path / "gdb.sock")
    o = guests.run_ring1_break(guests.ring1_argv(image, src, "", 30), addr, 1, "frame", 30,
                               tmp_path / "screen.txt")
    for x in (q, o):
        assert "error" not in x, x
        assert x["times"]["frame"] > 0 and x["user_s"] + x["sys_s"] > 0
    assert o["transcript"] == q["transcript"]
    lines = q["transcript"].splitlines()
    assert sum("-*-" in l for l in lines) == 5 and lines[24].strip() == "/ \\"


def test_tables_and_plots_render(run_py, tmp_path):
    """results.md and the plots from a small synthetic result: targets marked met or missed,
    failures footnoted, CPU times tabled (no machine needed)."""
    wl = {"best_s": 0.02, "median_s": 0.021, "first_rep_s": 0.03}
    res = {
        "when": "now", "quick": False, "machine": "test", "loadavg": [0.1, 0.2],
        "kvm_line": "KVM: not a contender: test",
        "workloads": {"contenders": ["native", "ring1", "trap", "qemu"], "rounds": 1, "rows": [
            {"workload": "coremark", "what": "w", "checksums_agree": True,
             "ring1_vs_native": 0.95, "qemu_over_ring1": 10.0, "trap_over_ring1": 1.0,
             "results": {"native": wl, "ring1": wl, "trap": wl, "qemu": wl}},
            {"workload": "demandpage", "what": "w", "checksums_agree": False,
             "ring1_vs_native": 0.2, "results": {"native": wl, "ring1": wl, "trap": wl,
                                                  "qemu": {"error": "boom"}}}]},
        "nano": {"contenders": ["ring1", "trap", "qemu"], "rounds": 1, "batch_target_s": 0.2,
                 "rows": [{"op": "cli", "what": "cli", "ring1_sites": {"cli:inline": 16},
                           "trap_over_ring1": 50.0, "results": {
                               "ring1": {"ns_per_op": 1.0}, "trap": {"ns_per_op": 50.0},
                               "qemu": {"ns_per_op": 2.0}}}]},
        "boot": {"repeats": 1, "rows": [
            {"kernel": "tasks", "milestone": "debug-exit", "qemu_over_ring1": 2.0, "results": {
                "qemu": {"milestone_s": 0.1, "first_line_s": 0.05},
                "ring1": {"milestone_s": 0.05, "first_line_s": 0.001, "transcript_ok": False}}},
            {"kernel": "unix", "milestone": "end of session", "short": "halt", "check": "golden",
             "qemu_over_ring1": 1.1, "cpu_qemu_over_ring1": 1.2, "results": {
                 "qemu": {"milestone_s": 0.3, "first_line_s": 0.06, "cpu_s": 0.24,
                          "user_s": 0.15, "sys_s": 0.09, "runs": 5, "transcript_ok": True},
                 "ring1": {"milestone_s": 0.28, "first_line_s": 0.002, "cpu_s": 0.2,
                           "user_s": 0.05, "sys_s": 0.15, "runs": 5, "transcript_ok": True}}},
            {"kernel": "invaders", "milestone": "first CGA frame", "short": "1st frame",
             "check": "qemu", "results": {
                 "qemu": {"milestone_s": 0.08, "first_line_s": None, "cpu_s": 0.07,
                          "user_s": 0.05, "sys_s": 0.02, "runs": 5},
                 "ring1": {"milestone_s": 0.0015, "first_line_s": None, "cpu_s": 0.001,
                           "user_s": 0.001, "sys_s": 0.0, "runs": 5, "transcript_ok": False}}},
            {"kernel": "gnumach", "error": "cannot fetch"},
            {"kernel": "gnumach-dbg", "skipped": "full mode only"}]},
    }
    md = run_py.to_markdown(res)
    assert "| coremark | w | 20.0 (21.0) |" in md and "0.95× ✓" in md
    assert "0.20× ✗" in md and "DIFFER" in md and "failed¹" in md and "boom" in md
    assert "50.0× ✗" in md, "cli below the 100x target must be marked missed"
    assert "(transcript ≠ golden)" in md and "cannot fetch" in md
    assert "| invaders | first CGA frame | 5 | 80.0 | 1.5 (screen ≠ QEMU's) |" in md
    assert "| unix | end of session | 240 (150 + 90.0) | 300 | 200 (50.0 + 150) | 280 |" in md
    assert "skipped: full mode only" in md
    try:
        files = run_py.plot(res, tmp_path)
    except run_py.PlotError:
        return                                 # matplotlib is the 'bench' extra (make bench)
    assert {"workloads.png", "nano.png", "boot.png"} <= set(files)
    assert all((tmp_path / f).stat().st_size > 1000 for f in files)


def test_bench_says_so_and_fails_when_it_cannot_plot(run_py, tmp_path, monkeypatch, capsys):
    """No matplotlib: the tables and raw results are still written, stderr says why there are
    no plots, and the exit status is 1 (issue 13 item 7: `make bench` drew none and said
    nothing)."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    res = {"when": "now", "quick": True, "machine": "test", "loadavg": [0.1, 0.2],
           "total_s": 1.0, "kvm_line": "KVM: not a contender: test"}
    assert run_py.finish(res, tmp_path) == 1
    err = capsys.readouterr().err
    assert "the plots were not drawn: matplotlib cannot be imported" in err, err
    assert json.loads((tmp_path / "results.json").read_text())["machine"] == "test"
    assert (tmp_path / "results.md").exists() and not list(tmp_path.glob("*.png"))


STATS_SAMPLE = """ring1-run stats: 2.441520 s elapsed, 2.406658 s cpu, 324445 sensitive instructions emulated
  kind IN                   3218
  kind INT                 40042
  event hypercall         284654
  event mmio              473226
  event mmio-fault        472226
  event mmio-site            900
  event mmio-site-ram        100
  event guest-page-fault       2
  event user-syscall-gate    39990
  vector 32                  235
  vector 64                40042
  shadow pages: 8196 faults filled, 7949 most mapped at once, 8433 dropped, 5945635 kept across CR3 writes (10835 of them made read-only), 2 full flushes, 0 evicted at the cap
  sites (138 distinct), busiest first:
"""


def test_unixwork_parses_ring1_stats(run_py):
    st = run_py.parse_stats("some warning\n" + STATS_SAMPLE)
    assert (st["elapsed_s"], st["cpu_s"], st["emulated"]) == (2.44152, 2.406658, 324445)
    assert st["kinds"] == {"IN": 3218, "INT": 40042}
    assert st["shadow"]["faults"] == 8196 and st["shadow"]["flushes"] == 2
    assert run_py.exit_causes(st) == {"hypercall": 284654, "int3 trap": 0,
                                      "MMIO fault": 472226, "MMIO hypercall": 1000,
                                      "shadow fill": 8196, "guest #PF": 2,
                                      "syscall signal": 52, "syscall gate": 39990,
                                      "sysenter signal": 0, "sysenter gate": 0,
                                      "timer (vec 32)": 235}
    assert run_py.parse_stats("ring1-run: cannot open image\n") is None


def test_unixwork_rows(run_py, tmp_path):
    """bench/run.py's unix workload rows (quick mode: a -short session): every machine runs
    it to the result line with QEMU's golden transcript, the ratios and ring1's exit counts
    by cause are there, and the table renders."""
    env = _unix_env(tmp_path)
    env["unix_profiled"] = guests.profiled_unix(env["r1"]["unix"])
    res = run_py.bench_unixwork(env, True, ["lockstress"])
    (row,) = res["rows"]
    assert row["session"] == "lockstress-short" and row["command"] == "lockstress 500"
    for k in ("qemu", "ring1", "first", "trap"):
        x = row["results"][k]
        assert "error" not in x, (k, x)
        assert x["transcript_ok"] and 0 < x["workload_s"] < x["end_s"] and x["cpu_s"] > 0, (k, x)
    assert row["qemu_over_ring1"] > 0 and row["qemu_over_trap"] > 0
    for k in ("ring1", "first", "trap"):
        causes = row["stats"][k]["causes"]
        # 500 × (uptime + getpid); the hot stubs (usys.S) through the gate, after their first
        # calls; trap-only too (the gate is ring 3's, whatever the kernel's tactics)
        assert causes["syscall signal"] + causes["syscall gate"] >= 1000, causes
        assert causes["syscall gate"] >= 900, causes
    for k in ("first", "trap"):                                  # the LAPIC ID reads, faulting
        assert row["stats"][k]["causes"]["MMIO fault"] >= 9000, row["stats"][k]["causes"]
    # profiled, they neither fault nor mostly even exit (the vCPU page's register cache);
    # counts, never times
    c = row["stats"]["ring1"]["causes"]
    assert c["MMIO fault"] < 200 and c["MMIO hypercall"] < 2000, c
    assert row["stats"]["ring1"]["causes"]["hypercall"] > 0
    assert row["stats"]["trap"]["causes"]["int3 trap"] > 0
    notes = []
    md = "\n".join(run_py.unixwork_markdown(res, notes))
    assert "| lockstress | 500 × (`uptime` + `getpid`)" in md and not notes


def test_unixwork_table_keeps_a_failed_or_timed_out_row(run_py):
    """A workload ring1 cannot finish stays in the table, as a timeout or failure with the
    reason in the notes, next to QEMU's time."""
    row = {"workload": "memstress", "what": "grow", "ram": "384M", "cmdline": "mem=256",
           "results": {"qemu": {"workload_s": 1.5, "end_s": 1.9, "cpu_s": 1.8, "user_s": 1.0,
                                "sys_s": 0.8, "transcript_ok": True},
                       "ring1": {"error": "no 're': timed out, last line '$ memstress 200'",
                                 "timed_out": True},
                       "trap": {"error": "no 're': exit status 3, last line 'panic: x'",
                                "timed_out": False}},
           "stats": {"ring1": {"error": "no --stats output (exit status None): ''"}}}
    notes = []
    md = "\n".join(run_py.unixwork_markdown(
        {"rows": [row], "rounds": 3, "contenders": ["qemu", "ring1", "trap"], "deadline_s": 300},
        notes))
    assert "| memstress | grow | 384M, mem=256 | 1500 (1900) | timeout¹ | failed¹ | — | — |" in md
    assert "| memstress | ring1 | failed¹ |" in md
    assert any("timed out" in n for n in notes) and any("panic" in n for n in notes)
