"""The benchmark kernels (samples/bench) compute the right thing everywhere: the guest kernel
under QEMU, under ring1 (default tactics and trap-only) and the native 32-bit Linux build of
the same objects print the same checksums. Correctness of the workloads, not speed: small sizes,
a few seconds in all. Also the runner's own plumbing (bench/guests.py): the QEMU command line is
samples/qemu.sh's, and the marker timing yields repetitions with the checked checksums.
"""
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


def test_tables_and_plots_render(tmp_path):
    """results.md and the plots from a small synthetic result: targets marked met or missed,
    failures footnoted (no machine needed)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    run_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_py)
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
            {"kernel": "gnumach", "error": "cannot fetch"}]},
    }
    md = run_py.to_markdown(res)
    assert "| coremark | w | 20.0 (21.0) |" in md and "0.95× ✓" in md
    assert "0.20× ✗" in md and "DIFFER" in md and "failed¹" in md and "boom" in md
    assert "50.0× ✗" in md, "cli below the 100x target must be marked missed"
    assert "(transcript ≠ golden)" in md and "cannot fetch" in md
    files = run_py.plot(res, tmp_path)
    if files:                                  # matplotlib is the optional 'bench' extra
        assert {"workloads.png", "nano.png", "boot.png"} <= set(files)
