"""The unix sample's workloads (samples/unix/workloads/, bench/run.py's `unixwork` section):
each short session (NAME-short.txt: the program at a small size, then `halt`) gives, on its
machine (machines.txt: RAM, kernel command line), exactly QEMU's golden transcript
(samples/golden/unix-NAME-short.txt, from `make -C samples unix-work-golden`) under QEMU
itself, under ring1 and under ring1 trap-only (`--tactics trap`), and ends with the `halt`
command's debug-exit 0. QEMU's output is the reference; ring1's never is. The full sizes
run only in the bench, which checks them against their goldens the same way.
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

EXIT_SUCCESS = 1       # debug-exit 0, under QEMU and ring1 alike: (0 << 1) | 1
TIMEOUT = 60
SESSIONS = [f"{w}-short" for w in guests.UNIX_WORKLOADS]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The unix kernel and its disk built, the kernel rewritten both ways."""
    for d in (ROOT / "runtime", guests.SAMPLES):
        r = subprocess.run(["make", "-s", "-C", str(d), *(["unix"] if d == guests.SAMPLES else [])],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"make -C {d} failed:\n{r.stdout}{r.stderr}"
    out = tmp_path_factory.mktemp("unixwork")
    imgs = {"qemu": None}
    for tag, extra in (("ring1", []), ("trap", ["--tactics", "trap"])):
        imgs[tag] = out / f"unix.{tag}.elf"
        r = subprocess.run([str(ROOT / ".venv" / "bin" / "ring1"), "rewrite",
                            str(guests.UNIX_KERNEL), "-o", str(imgs[tag]), *extra],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"ring1 rewrite {extra}: {r.stderr}"
    return imgs


def run_session(machine, image, session, tmp_path):
    if machine == "qemu" and not shutil.which("qemu-system-i386"):
        pytest.skip("qemu-system-i386 not installed")
    disk = tmp_path / f"{session}.{machine}.img"
    shutil.copyfile(guests.UNIX_FS, disk)
    argv = guests.unix_work_argv(machine, image, session, disk, timeout=TIMEOUT)
    try:
        r = subprocess.run(argv, input=guests.unix_work_session(session).read_bytes(),
                           capture_output=True, timeout=TIMEOUT + 10)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{session} under {machine}: no end within {TIMEOUT + 10} s; output so far:\n"
                    f"{(e.stdout or b'').decode(errors='replace')[-2000:]}")
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def test_every_workload_has_its_sessions_and_goldens():
    for w in guests.UNIX_WORKLOADS:
        for session in (w, f"{w}-short"):
            text = guests.unix_work_session(session).read_text()
            assert text.startswith(w + " ") and text.endswith("halt\n"), (session, text)
            golden = guests.unix_work_golden(session).read_text()
            assert f"$ {text.splitlines()[0]}\n" in golden and golden.endswith("unix: halt\n"), \
                session
            assert "FAILED" not in golden and "WRONG" not in golden, session


@pytest.mark.parametrize("machine", ["qemu", "ring1", "trap"])
@pytest.mark.parametrize("session", SESSIONS)
def test_short_workload_matches_qemu_golden(images, session, machine, tmp_path):
    rc, out, err = run_session(machine, images[machine], session, tmp_path)
    want = guests.unix_work_golden(session).read_text(encoding="latin-1")
    assert out == want, (f"{session} under {machine}: transcript differs from QEMU's golden\n"
                         f"--- want\n{want[-1500:]}\n--- got\n{out[-1500:]}\n--- stderr\n"
                         f"{err[-1500:]}")
    assert rc == EXIT_SUCCESS, (rc, err[-1500:])


def test_cr3_loads_skip_regions_that_differ_only_in_dirty_bits(images, tmp_path):
    """fsstress-short switches address spaces at every sleep on the disk; this kernel gives
    every process its own copy of the kernel's page tables, which differ from the
    scheduler's only in dirty bits. A CR3 load compares each region's table with what its
    shadow pages were checked against (runtime/mem.c, snap_pt) and skips the regions that
    differ only there and have no page mapped writable (--stats: cr3-region-unchanged) --
    QEMU's transcript all the same (the test above), and here with --stats: counts, not
    times."""
    disk = tmp_path / "fs.img"
    shutil.copyfile(guests.UNIX_FS, disk)
    argv = guests.unix_work_argv("ring1", images["ring1"], "fsstress-short", disk,
                                 timeout=TIMEOUT, stats=True)
    r = subprocess.run(argv, input=guests.unix_work_session("fsstress-short").read_bytes(),
                       capture_output=True, timeout=TIMEOUT + 10)
    out, err = r.stdout.decode("latin-1"), r.stderr.decode("latin-1")
    assert (r.returncode, out) == (EXIT_SUCCESS, guests.unix_work_golden(
        "fsstress-short").read_text(encoding="latin-1")), err
    skipped = int(re.search(r"event cr3-region-unchanged\s+(\d+)", err).group(1))
    cr3 = int(re.search(r"kind MOV_TO_CR\s+(\d+)", err).group(1))
    assert skipped > cr3, err   # more than one region per load, on average
