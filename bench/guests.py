"""Guest-side benchmarks for bench/run.py: the machines ("contenders"), how each one runs a
kernel, and the one timing method they all share.

Timing: the guests print markers on COM1 ("@i ..." lines, nothing time-dependent) and this
side timestamps each line as it arrives on the emulator's stdout pipe. The markers come from
the same polled-UART code under every machine and the native program writes the same lines
to its stdout, so the method is contender-neutral: no guest clock is trusted (ring1's TSC is
virtual, 1 GHz; QEMU's is the host's), and boot time falls outside every interval measured.
The reader waits at real-time priority (SCHED_FIFO, reset on fork) so that its timestamps are
prompt even when other jobs share the cores.

Workloads: repetitions after the first (which pays for demand faults, shadow pages and
QEMU's translation; it is kept apart); the best is the least disturbed pair of consecutive
repetitions, halved, which cancels a late timestamp. Nano loops: batches of 1024 << k
operations, ns/op over the last two batches once a batch lasts long enough, never the first
batch (translation); a marker and a ring-3 entry per batch are noise at that length.

Everything here is importable by tests/test_bench.py (correctness runs use the same command
lines).
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BENCH_BUILD = SAMPLES / "build" / "bench"
KERNEL = BENCH_BUILD / "bench.elf"
NATIVE = BENCH_BUILD / "bench-native"
RUNTIME = ROOT / "runtime" / "build" / "ring1-run"
QEMU_SH = SAMPLES / "qemu.sh"
WORK = ROOT / "build" / "bench"          # rewritten images (never committed: /build/)
RING1 = [str(ROOT / ".venv" / "bin" / "ring1")]

WORKLOADS = ["coremark", "sha256", "matmul", "memops", "pagetouch", "demandpage"]
NANO_OPS = ["syscall", "syscall_bare", "in", "out", "cli", "sti", "pushf", "popf", "cr3", "pgfault",
            "divzero", "ptemod", "callret"]
SAMPLE_KERNELS = ["sensitive", "timer", "exceptions", "paging", "tasks"]


# ---- building ------------------------------------------------------------------------------

def run_checked(cmd: list[str], what: str) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout


def build() -> None:
    """The runtime, the samples and the bench kernels (all incremental)."""
    run_checked(["make", "-s", "-C", str(ROOT / "runtime")], "make -C runtime")
    run_checked(["make", "-s", "-C", str(SAMPLES)], "make -C samples")
    run_checked(["make", "-s", "-C", str(SAMPLES / "bench")], "make -C samples/bench")


def rewrite_batch(kernels: list[Path], tactics: str | None) -> dict[str, dict]:
    """`ring1 rewrite K... -o DIR/` with the default tactics (DIR = build/bench/default) or
    --tactics (build/bench/<tactics>); returns {name: {"image", "report", "seconds"}}."""
    out_dir = WORK / (tactics or "default")
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = RING1 + ["rewrite", *map(str, kernels), "-o", str(out_dir) + "/"]
    if tactics:
        cmd += ["--tactics", tactics]
    t = time.perf_counter()
    run_checked(cmd, "ring1 rewrite " + " ".join(k.name for k in kernels))
    secs = time.perf_counter() - t
    res = {}
    for k in kernels:
        stem = k.name[:-4] if k.name.endswith(".elf") else k.name
        res[stem] = {"image": out_dir / f"{stem}.r1.elf",
                     "report": json.loads((out_dir / f"{stem}.report.json").read_text()),
                     "seconds": secs}
    return res


# ---- machines --------------------------------------------------------------------------------

def qemu_argv(kernel: Path, append: str | None = None, accel: str | None = None) -> list[str]:
    """samples/qemu.sh's command line (the one QEMU line of the samples) for kernel, with
    -append and -accel added where the script passes extra options ("$@"), else at the end."""
    text = QEMU_SH.read_text()
    m = re.search(r"^exec (qemu-system-i386.*?)(?<!\\)$", text, re.M | re.S)
    if not m:
        raise RuntimeError(f"cannot find the exec line of {QEMU_SH}")
    extra = (["-append", append] if append else []) + (["-accel", accel] if accel else [])
    argv: list[str] = []
    for a in shlex.split(m.group(1).replace("\\\n", " ")):
        if a in ("$1", "$kernel", "${kernel}"):
            argv.append(str(kernel))
        elif a == "$@":
            argv += extra
            extra = []
        else:
            argv.append(a)
    return argv + extra


@dataclass
class Contender:
    key: str              # native, qemu, ring1, trap, kvm
    label: str
    argv_fn: object       # (kernel_args: str) -> argv

    def argv(self, args: str) -> list[str]:
        return self.argv_fn(args)


def ring1_argv(image: Path, kernel: Path, args: str, timeout: int = 120) -> list[str]:
    # ring1-run directly (what `ring1 run` execs), so Python's start-up is not in boot times;
    # --kernel-name makes the multiboot command line start as QEMU's does.
    return [str(RUNTIME), str(image), "--cmdline", args, "--kernel-name", str(kernel),
            "--timeout", str(timeout)]


def contenders(r1: Path, trap: Path, kvm: bool) -> dict[str, Contender]:
    c = {
        "native": Contender("native", "native", lambda a: [str(NATIVE)] + a.split()),
        "ring1": Contender("ring1", "ring1", lambda a: ring1_argv(r1, KERNEL, a)),
        "trap": Contender("trap", "ring1 trap-only", lambda a: ring1_argv(trap, KERNEL, a)),
        "qemu": Contender("qemu", "QEMU TCG", lambda a: qemu_argv(KERNEL, a)),
    }
    if kvm:
        c["kvm"] = Contender("kvm", "QEMU KVM", lambda a: qemu_argv(KERNEL, a, accel="kvm"))
    return c


# ---- the one timing method --------------------------------------------------------------------

@dataclass
class Watch:
    lines: list = field(default_factory=list)   # (seconds since exec, line)
    rc: int | None = None
    killed: bool = False
    timed_out: bool = False
    stderr: str = ""
    wall: float = 0.0
    sched: str = ""


def prompt_reader() -> str:
    """Make this process's wake-ups prompt while it only waits on a pipe: SCHED_FIFO (with
    SCHED_RESET_ON_FORK, so the machines it starts run as ordinary processes). On a shared
    2-core machine an ordinary reader can be woken milliseconds late, which would move a
    timestamp. Returns what was done (root only; otherwise nothing changes)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
        return "SCHED_FIFO"
    except (AttributeError, PermissionError, OSError):
        return "SCHED_OTHER"


def ordinary() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, PermissionError, OSError):
        pass


def watch(argv: list[str], on_line=None, deadline: float = 60.0, cwd: Path = ROOT) -> Watch:
    """Run argv with stdout on a pipe and timestamp every line as it arrives (seconds since
    just before exec), the reader at real-time priority while it waits (prompt_reader).
    on_line(t, line, w) returning True ends the run (SIGKILL)."""
    w = Watch()
    w.sched = prompt_reader()
    try:
        return _watch(w, argv, on_line, deadline, cwd)
    finally:
        ordinary()


def _watch(w: "Watch", argv, on_line, deadline, cwd) -> "Watch":
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=err, cwd=cwd, start_new_session=True)
        except OSError as e:                 # not installed, not built: a failed run
            w.rc, w.stderr = 127, f"cannot run {argv[0]}: {e.strerror}"
            return w
        fd = p.stdout.fileno()
        buf = b""
        stop = False
        try:
            while not stop:
                left = deadline - (time.perf_counter() - t0)
                if left <= 0:
                    w.timed_out = True
                    break
                r, _, _ = select.select([fd], [], [], min(left, 1.0))
                if not r:
                    continue
                data = os.read(fd, 65536)
                t = time.perf_counter() - t0
                if not data:
                    break
                buf += data
                while b"\n" in buf and not stop:
                    line, buf = buf.split(b"\n", 1)
                    s = line.decode(errors="replace").rstrip("\r")
                    w.lines.append((t, s))
                    if on_line and on_line(t, s, w):
                        stop = True
        finally:
            if p.poll() is None:
                w.killed = not w.timed_out
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.stdout.close()
            w.rc = p.wait()
            w.wall = time.perf_counter() - t0
            if buf:
                w.lines.append((w.wall, buf.decode(errors="replace")))
            err.seek(0)
            w.stderr = err.read().decode(errors="replace")[-2000:]
    return w


def transcript(w: Watch) -> str:
    return "".join(line + "\n" for _, line in w.lines)


# ---- workloads ---------------------------------------------------------------------------------

@dataclass
class Budget:
    min_reps: int       # steady repetitions wanted (after the first)
    min_time: float     # seconds of steady repetitions wanted
    max_time: float     # give up waiting for more after this long (whole run)


def run_workload(c: Contender, name: str, budget: Budget, size: int | None = None) -> dict:
    args = f"run={name} reps=1000" + (f" size={size}" if size else "")
    marks: list[tuple[float, int, str]] = []

    def on_line(t, line, w):
        m = re.match(r"@(\d+)(?: ([0-9a-f]{8}))?$", line)
        if not m:
            return False
        marks.append((t, int(m.group(1)), m.group(2) or ""))
        steady = len(marks) - 2          # @0 and the first repetition are not steady
        if steady >= budget.min_reps and t - marks[1][0] >= budget.min_time:
            return True
        return t >= budget.max_time and steady >= 2

    w = watch(c.argv(args), on_line, deadline=budget.max_time + 30)
    res = {"contender": c.key, "argv": c.argv(args)}
    if len(marks) < 3:
        res["error"] = diagnose(w, "fewer than two repetitions")
        return res
    times = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    steady = times[1:]
    # Best repetition: the least disturbed pair of consecutive repetitions, halved. A marker
    # read late lengthens one interval and shortens the next by as much; their sum is exact.
    ts = [m[0] for m in marks[1:]]
    pairs = [(c - a) / 2 for a, c in zip(ts, ts[2:])] or steady
    res.update({
        "to_first_mark_s": round(marks[0][0], 4),
        "first_rep_s": round(times[0], 5),
        "reps_s": [round(x, 5) for x in steady],
        "median_s": statistics.median(steady),
        "best_s": min(pairs),
        "sched": w.sched,
        "checksums": [m[2] for m in marks[1:]],
        "size_line": next((l for _, l in w.lines if l.startswith("bench ")), ""),
    })
    return res


def diagnose(w: Watch, what: str) -> str:
    last = w.lines[-1][1] if w.lines else "(no output)"
    err = w.stderr.strip().splitlines()
    tail = f"; stderr: {err[0][:200]}" if err else ""
    how = "timed out" if w.timed_out else f"exit status {w.rc}"
    return f"{what}: {how}, last line {last[:120]!r}{tail}"


# ---- nano ----------------------------------------------------------------------------------------

def run_nano(c: Contender, op: str, target: float, max_time: float) -> dict:
    marks: list[tuple[float, int, int]] = []

    def on_line(t, line, w):
        m = re.match(r"@(\d+) (\d+)$", line)
        if not m:
            return False
        marks.append((t, int(m.group(1)), int(m.group(2))))
        if len(marks) >= 4 and marks[-1][0] - marks[-2][0] >= target:
            return True
        return t >= max_time and len(marks) >= 4

    w = watch(c.argv(f"nano={op}"), on_line, deadline=max_time + 30)
    res = {"contender": c.key, "op": op}
    if len(marks) < 4:
        res["error"] = diagnose(w, "fewer than three batches")
        return res
    # The last two batches together (the first batch, which pays for QEMU's translation, is
    # never used): a late read of the marker between them cancels out.
    (t0, _, _), (t1, _, n1), (t2, _, n2) = marks[-3], marks[-2], marks[-1]
    res.update({"ns_per_op": (t2 - t0) / (n1 + n2) * 1e9, "ops": n1 + n2,
                "seconds": round(t2 - t0, 4), "sched": w.sched,
                "difference_ns_per_op": ((t2 - t1) - (t1 - t0)) / (n2 - n1) * 1e9})
    return res


# ---- KVM ------------------------------------------------------------------------------------------

def kvm_probe(native_check: str) -> tuple[bool, str]:
    """Can /dev/kvm run this 32-bit guest? Run the bench kernel's `check` under -accel kvm and
    compare with the native program's transcript."""
    if not os.path.exists("/dev/kvm"):
        return False, "KVM: not a contender: no /dev/kvm on this machine"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "KVM: not a contender: /dev/kvm is not accessible to this user"
    flavour = ""
    if Path("/sys/module/kvm_pvm").exists():
        flavour = " (kvm_pvm: a paravirtual KVM nested in this VM)"
    elif "hypervisor" in Path("/proc/cpuinfo").read_text():
        flavour = " (nested: this machine is itself a VM)"
    w = watch(qemu_argv(KERNEL, "check", accel="kvm"), deadline=15)
    got = transcript(w)
    if got == native_check:
        return True, f"KVM: /dev/kvm{flavour} runs the 32-bit bench kernel correctly: a contender"
    want, have = native_check.splitlines(), got.splitlines()
    same = 0
    while same < min(len(want), len(have)) and want[same] == have[same]:
        same += 1
    bad = repr(have[same][:100]) if same < len(have) else "nothing more"
    m = re.search(r"eip=0x([0-9a-f]+)", bad)
    if m:                                    # name the function the guest stopped in
        eip = int(m.group(1), 16)
        fn = next((f for f, (a, b) in symbol_ranges(KERNEL).items() if a <= eip < b), None)
        if fn:
            bad += f" in {fn}()"
    how = "then hung" if w.timed_out else f"QEMU exit status {w.rc}"
    return False, (f"KVM: not a contender: /dev/kvm{flavour} cannot run this 32-bit guest: "
                   f"under `qemu-system-i386 -accel kvm` the bench kernel's `check` printed "
                   f"{same} of {len(want)} lines right, then {bad} ({how})")


# ---- boot ------------------------------------------------------------------------------------------

def run_boot(argv: list[str], milestones: list[str | None], deadline: float) -> dict:
    """Seconds from exec to the first serial line and to the first line containing each
    milestone (a substring; None = the guest's debug-exit 0, i.e. the end of the run); the
    run ends at the last milestone. Also the transcript, to check it."""
    res: dict = {"first_line_s": None, "times": {}}
    last = milestones[-1]

    def on_line(t, line, w):
        if res["first_line_s"] is None:
            res["first_line_s"] = t
        for m in milestones:
            if m is not None and m not in res["times"] and m in line:
                res["times"][m] = t
        return last is not None and last in res["times"]

    w = watch(argv, on_line, deadline=deadline)
    res["rc"] = w.rc
    res["transcript"] = transcript(w)
    if None in milestones and not w.timed_out and w.rc == 1 and w.lines:   # debug-exit 0
        res["times"][None] = w.wall
    missing = [m for m in milestones if m not in res["times"]]
    if missing:
        m = missing[0]
        res["error"] = diagnose(w, f"no {m!r}" if m else "no debug-exit 0")
    return res


# ---- sites by function (which tactic the rewriter chose for each nano loop) -------------------

def symbol_ranges(elf: Path) -> dict[str, tuple[int, int]]:
    out = subprocess.run(["nm", "-n", str(elf)], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            syms.append((int(parts[0], 16), parts[2]))
    return {name: (a, b) for (a, name), (b, _) in zip(syms, syms[1:])}


def tactics_in(report: dict, rng: tuple[int, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in report["sites"]:
        if rng[0] <= s["addr"] < rng[1]:
            k = f"{s['kind']}:{s['tactic']}"
            counts[k] = counts.get(k, 0) + 1
    return counts
