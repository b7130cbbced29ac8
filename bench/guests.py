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
import signal
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import qemuref  # noqa: E402  (tests/qemuref.py: the reference QEMU command line)

SAMPLES = ROOT / "samples"
BENCH_BUILD = SAMPLES / "build" / "bench"
KERNEL = BENCH_BUILD / "bench.elf"
NATIVE = BENCH_BUILD / "bench-native"
RUNTIME = ROOT / "runtime" / "build" / "ring1-run"
QEMU_SH = qemuref.QEMU_SH
WORK = ROOT / "build" / "bench"          # rewritten images (never committed: /build/)
RING1 = [str(ROOT / ".venv" / "bin" / "ring1")]

WORKLOADS = ["coremark", "sha256", "matmul", "memops", "pagetouch", "demandpage"]
NANO_OPS = ["syscall", "syscall_bare", "syscall_stub", "in", "inimr", "out", "cli", "sti", "pushf", "popf", "cr3", "pgfault",
            "divzero", "ptemod", "mmio", "callret"]
SAMPLE_KERNELS = ["sensitive", "timer", "exceptions", "paging", "tasks"]
# The unix sample: its file system on IDE drive 1 (a fresh copy per run: both machines write to
# it) and a scripted session typed on COM1 (tests/test_unix_sample.py runs it the same way).
UNIX_KERNEL = SAMPLES / "build" / "unix.elf"
UNIX_FS = SAMPLES / "build" / "unix-fs.img"
UNIX_SESSION = SAMPLES / "unix" / "session.txt"
UNIX_GOLDEN = SAMPLES / "golden" / "unix.txt"
# Its workloads (samples/unix/workloads/): NAME.txt runs one program at full size and halts,
# NAME-short.txt the same small (the tests); golden/unix-NAME.txt is QEMU's transcript of each.
UNIX_WORKLOADS = ["lockstress", "charout", "forkexec", "fsstress", "memstress"]
UNIX_WORK_DIR = SAMPLES / "unix" / "workloads"


def unix_work_session(session: str) -> Path:
    return UNIX_WORK_DIR / f"{session}.txt"


def unix_work_golden(session: str) -> Path:
    return SAMPLES / "golden" / f"unix-{session}.txt"


def unix_work_machine(session: str) -> tuple[str, str]:
    """(RAM, kernel command line) the session needs: machines.txt (also read by
    samples/unix/unix.mk), else QEMU's and ring1's 128M and an empty command line."""
    for line in (UNIX_WORK_DIR / "machines.txt").read_text().splitlines():
        f = line.split()
        if f and not f[0].startswith("#") and f[0] == session:
            return f[1], (f[2] if len(f) > 2 else "")
    return "128M", ""


def unix_work_argv(machine: str, image: Path | None, session: str, disk: Path,
                   timeout: int = 120, stats: bool = False) -> list[str]:
    """The command line running a workload session's kernel on disk: machine "qemu" (the unix
    kernel under samples/qemu.sh, -m and -append from machines.txt) or a ring1 one (image:
    the rewritten kernel, --mem and --cmdline the same)."""
    ram, cmdline = unix_work_machine(session)
    if machine == "qemu":
        return qemu_argv(UNIX_KERNEL, cmdline or None, extra=[
            "-m", ram, "-drive", f"file={disk},index=1,media=disk,format=raw"])
    return (ring1_argv(image, UNIX_KERNEL, cmdline, timeout) +
            ["--mem", ram, "--disk", f"index=1,file={disk}"] + (["--stats"] if stats else []))


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

def qemu_argv(kernel: Path, append: str | None = None, accel: str | None = None,
              extra: list[str] = ()) -> list[str]:
    """samples/qemu.sh's command line (the one reference QEMU line, as tests/qemuref.py reads
    it) for kernel, with -append, -accel and extra (e.g. a -drive) added where the script
    passes extra options ("$@"), else at the end."""
    return qemuref.argv(kernel, append, accel, extra)


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


def _profile_and_rewrite(kernel: Path, plain: Path, run_extra: list[str], args: str,
                         stdin: bytes | None, status: int, timeout: int) -> dict:
    """One run of the plain image with --profile-out (ending with `status`), then
    `ring1 rewrite kernel --profile` as `ring1 boot` does from a kernel's second boot on
    (docs/exits.md). {"image", "report", "profile"} in build/bench/profiled/."""
    out_dir = WORK / "profiled"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = kernel.name[:-4] if kernel.name.endswith(".elf") else kernel.name
    prof = out_dir / f"{stem}.profile.json"
    p = subprocess.run(ring1_argv(plain, kernel, args, timeout=timeout) + run_extra +
                       ["--profile-out", str(prof)], input=stdin, capture_output=True, cwd=ROOT)
    if p.returncode != status or not prof.is_file():
        raise RuntimeError(f"profiling run of {kernel.name}: status {p.returncode}\n"
                           f"{p.stderr.decode(errors='replace')[-2000:]}")
    image, rep = out_dir / f"{stem}.r1.elf", out_dir / f"{stem}.report.json"
    run_checked(RING1 + ["rewrite", str(kernel), "-o", str(image), "--profile", str(prof),
                         "--report", str(rep)], f"ring1 rewrite --profile ({kernel.name})")
    return {"image": image, "report": json.loads(rep.read_text()), "profile": prof}


def profiled(plain: dict) -> dict:
    """The bench kernel, profiled on one second of its nano mmio loop (status 8: --timeout,
    the loop never ends)."""
    return _profile_and_rewrite(KERNEL, plain["image"], [], "nano=mmio", None, 8, 1)


def profiled_unix(plain: dict) -> dict:
    """The unix sample, profiled on one run of its golden session (samples/unix/session.txt,
    on a fresh copy of its disk; status 1: debug-exit 0 at halt)."""
    disk = WORK / "profiled" / "unix-fs.img"
    disk.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(UNIX_FS, disk)
    return _profile_and_rewrite(UNIX_KERNEL, plain["image"], ["--disk", f"index=1,file={disk}"],
                                "", UNIX_SESSION.read_bytes(), 1, 60)


def contenders(r1: Path, trap: Path, kvm: bool, first: Path | None = None) -> dict[str, Contender]:
    """r1: the image ring1 runs (profiled); first: the same kernel before any profile."""
    c = {
        "native": Contender("native", "native", lambda a: [str(NATIVE)] + a.split()),
        "ring1": Contender("ring1", "ring1", lambda a: ring1_argv(r1, KERNEL, a)),
        "trap": Contender("trap", "ring1 trap-only", lambda a: ring1_argv(trap, KERNEL, a)),
        "qemu": Contender("qemu", "QEMU TCG", lambda a: qemu_argv(KERNEL, a)),
    }
    if kvm:
        c["kvm"] = Contender("kvm", "QEMU KVM", lambda a: qemu_argv(KERNEL, a, accel="kvm"))
    if first is not None:
        c["first"] = Contender("first", "ring1 first run", lambda a: ring1_argv(first, KERNEL, a))
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
    user: float = 0.0     # CPU time of the machine's process (all its threads), from wait4
    sys: float = 0.0


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


def watch(argv: list[str], on_line=None, deadline: float = 60.0, cwd: Path = ROOT,
          stdin: bytes | None = None, on_partial=None) -> Watch:
    """Run argv with stdout on a pipe and timestamp every line as it arrives (seconds since
    just before exec), the reader at real-time priority while it waits (prompt_reader).
    on_line(t, line, w) returning True ends the run (SIGKILL); so does on_partial(t, text, w),
    called with the unfinished last line (a prompt) whenever more of it arrives. stdin: bytes
    typed on the machine's serial port, all at once on a pipe that is then closed (the same
    for every machine); default none (/dev/null). The process's CPU time (user, sys: all its
    threads, until it exited or was killed) comes from wait4."""
    w = Watch()
    w.sched = prompt_reader()
    try:
        return _watch(w, argv, on_line, deadline, cwd, stdin, on_partial)
    finally:
        ordinary()


def _watch(w: "Watch", argv, on_line, deadline, cwd, stdin=None, on_partial=None) -> "Watch":
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=err, cwd=cwd,
                                 start_new_session=True)
        except OSError as e:                 # not installed, not built: a failed run
            w.rc, w.stderr = 127, f"cannot run {argv[0]}: {e.strerror}"
            return w
        if stdin is not None:                # small (a session script): fits the pipe's buffer
            try:
                p.stdin.write(stdin)
                p.stdin.close()
            except BrokenPipeError:
                pass
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
                if buf and on_partial and not stop and on_partial(
                        t, buf.decode(errors="replace"), w):
                    stop = True
        finally:
            if running(p):
                w.killed = not w.timed_out
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.stdout.close()
            w.rc, w.user, w.sys = reap(p)
            w.wall = time.perf_counter() - t0
            if buf:
                w.lines.append((w.wall, buf.decode(errors="replace")))
            err.seek(0)
            w.stderr = err.read().decode(errors="replace")[-2000:]
    return w


def running(p: subprocess.Popen) -> bool:
    """Has p not exited yet? (Without reaping it, unlike p.poll(): reap() wants its rusage.)"""
    try:
        return os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def reap(p: subprocess.Popen) -> tuple[int, float, float]:
    """Wait for p; its exit status (as Popen's returncode) and its CPU time (user, sys)."""
    while True:
        try:
            _, status, ru = os.wait4(p.pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:            # already reaped elsewhere: no resource usage
            return p.wait(), 0.0, 0.0
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime, ru.ru_stime


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

def hit(m, text: str) -> bool:
    """Does serial text reach milestone m (a substring, or a pattern searched for)?"""
    return bool(m.search(text)) if isinstance(m, re.Pattern) else m in text


def run_boot(argv: list[str], milestones: list, deadline: float,
             stdin: bytes | None = None) -> dict:
    """Seconds from exec to the first serial line and to the first serial text that reaches
    each milestone (a substring or a compiled pattern, matched against every line and against
    an unfinished last line, so that a prompt counts as it appears; None = the guest's
    debug-exit 0, i.e. the end of the run); the run ends at the last milestone. Also the
    transcript, to check it, and the machine's CPU time (user + sys) until the run ended."""
    res: dict = {"first_line_s": None, "times": {}}
    last = milestones[-1]

    def reached(t, text):
        for m in milestones:
            if m is not None and m not in res["times"] and hit(m, text):
                res["times"][m] = t
        return last is not None and last in res["times"]

    def on_line(t, line, w):
        if res["first_line_s"] is None:
            res["first_line_s"] = t
        return reached(t, line)

    w = watch(argv, on_line, deadline=deadline, stdin=stdin,
              on_partial=lambda t, text, w: reached(t, text))
    res["rc"] = w.rc
    res["transcript"] = transcript(w)
    res["end_s"] = w.wall
    res["user_s"], res["sys_s"] = w.user, w.sys
    if None in milestones and not w.timed_out and w.rc == 1 and w.lines:   # debug-exit 0
        res["times"][None] = w.wall
    missing = [m for m in milestones if m not in res["times"]]
    if missing:
        m = missing[0]
        res["error"] = diagnose(w, f"no {getattr(m, 'pattern', m)!r}" if m else "no debug-exit 0")
    return res


# ---- boot to a breakpoint (a guest that never writes to serial) -----------------------------------

STATUS_BREAK = 20       # ring1-run: --break reached


def cga_text(vram: bytes) -> str:
    """The 80x25 text buffer (characters only) as runtime/dev/cga.c renders it for --screen:
    code page 437, trailing blanks dropped (tests/test_boot_real.py has the same function)."""
    low = (" \u263a\u263b\u2665\u2666\u2663\u2660\u2022\u25d8\u25cb\u25d9\u2642\u2640\u266a"
           "\u266b\u263c\u25ba\u25c4\u2195\u203c\u00b6\u00a7\u25ac\u21a8\u2191\u2193\u2192"
           "\u2190\u221f\u2194\u25b2\u25bc")

    def ch(b):
        if b < 0x20:
            return low[b]
        return "\u2302" if b == 0x7f else bytes([b]).decode("cp437")
    return "".join("".join(ch(vram[(r * 80 + c) * 2]) for c in range(80)).rstrip() + "\n"
                   for r in range(25))


def run_ring1_break(argv: list[str], addr: int, count: int, label: str, deadline: float,
                    screen: Path) -> dict:
    """ring1-run argv stopped by --break before the count-th execution of the sensitive
    instruction at addr: the milestone is its exit with STATUS_BREAK (seconds since exec); the
    "transcript" is the CGA text screen there (--screen)."""
    screen.unlink(missing_ok=True)
    argv = argv + ["--break", f"{addr:#x}:{count}", f"--screen={screen}"]
    w = watch(argv, deadline=deadline)
    res = {"first_line_s": None, "times": {}, "rc": w.rc, "end_s": w.wall,
           "user_s": w.user, "sys_s": w.sys, "transcript": ""}
    if w.rc == STATUS_BREAK and screen.is_file():
        res["times"][label] = w.wall
        res["transcript"] = "".join(l + "\n" for l in
                                    screen.read_text(encoding="utf-8").split("\n")[:25])
    else:
        res["error"] = diagnose(w, f"no --break stop (want status {STATUS_BREAK})")
    return res


def _gdb_packet(s, data: bytes) -> bytes:
    """One GDB remote-protocol exchange (just enough of it: ack mode)."""
    pkt = b"$" + data + b"#%02x" % (sum(data) & 0xff)
    s.sendall(pkt)
    while (c := s.recv(1)) != b"+":
        if c == b"-":
            s.sendall(pkt)
        elif not c:
            raise EOFError("gdbstub closed")
    while (c := s.recv(1)) != b"$":
        if not c:
            raise EOFError("gdbstub closed")
    reply = b""
    while (c := s.recv(1)) != b"#":
        if not c:
            raise EOFError("gdbstub closed")
        reply += c
    s.recv(2)
    s.sendall(b"+")
    return reply


def run_qemu_break(argv: list[str], addr: int, count: int, label: str, deadline: float,
                   sock: Path) -> dict:
    """QEMU argv started halted (-S) with its gdbstub on a Unix socket, connected to as soon
    as it listens (polled every 0.2 ms), a breakpoint at addr, continued count times: the
    milestone is the count-th stop (seconds since exec; QEMU waits for nobody but this
    process's prompt replies). The "transcript" is the CGA text screen read at 0xB8000."""
    import socket
    w = Watch()
    w.sched = prompt_reader()
    res: dict = {"first_line_s": None, "times": {}, "transcript": ""}
    sock.unlink(missing_ok=True)
    argv = argv + ["-S", "-gdb", f"unix:{sock},server=on,wait=on"]
    errf = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=errf, start_new_session=True)
    except OSError as e:
        ordinary()
        errf.close()
        return dict(res, error=f"cannot run {argv[0]}: {e.strerror}", rc=127)
    s = socket.socket(socket.AF_UNIX)
    try:
        while True:
            try:
                s.connect(str(sock))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.perf_counter() - t0 > deadline or not running(p):
                    raise TimeoutError("the gdbstub never listened")
                time.sleep(0.0002)
        s.settimeout(max(1.0, deadline - (time.perf_counter() - t0)))
        if _gdb_packet(s, b"Z0,%x,1" % addr) != b"OK":
            raise RuntimeError("cannot set a breakpoint")
        for _ in range(count):
            reply = _gdb_packet(s, b"c")
            if not reply.startswith(b"T05"):
                raise RuntimeError(f"stopped with {reply[:40]!r}, not at the breakpoint")
        res["times"][label] = time.perf_counter() - t0
        ordinary()
        vram = b""
        for off in range(0, 4000, 1000):
            vram += bytes.fromhex(_gdb_packet(s, b"m%x,%x" % (0xb8000 + off, 1000)).decode())
        res["transcript"] = cga_text(vram)
    except (OSError, EOFError, RuntimeError, TimeoutError, ValueError) as e:
        res["error"] = f"gdbstub: {e}"
    finally:
        ordinary()
        s.close()
        if running(p):
            os.killpg(p.pid, signal.SIGKILL)
        res["rc"], res["user_s"], res["sys_s"] = reap(p)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        errf.close()
        res["end_s"] = time.perf_counter() - t0
        if "error" in res and err.strip():
            res["error"] += "; stderr: " + err.strip().splitlines()[0][:200]
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
        if rng[0] <= int(s["addr"], 16) < rng[1]:       # the report's addresses are hex
            k = f"{s['kind']}:{s['tactic']}"
            counts[k] = counts.get(k, 0) + 1
    return counts
