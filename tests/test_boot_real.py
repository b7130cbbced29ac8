"""Real kernels boot under ring1 exactly as under QEMU (issue 4).

GNU Mach 1.8 (Debian's gnumach-image-1.8-486, fetched by kernels.fetch) is rewritten by
`ring1 rewrite` and booted by runtime/build/ring1-run with `--cmdline console=com0`. The
reference transcript is generated at test time by QEMU from the UNPATCHED kernel (never from
ring1), with the project's QEMU command line (samples/qemu.sh). Mach prints its banner, the
memory map, the VM and device probes, then panics: "bootstrap_create: No bootstrap code
loaded with the kernel!". Its panic() then spins delay(1000000) a thousand times and resets the
machine through the keyboard controller: natively that takes ring1 about 3 s (STATUS_RESET),
under QEMU's TCG about 40 s (QEMU -no-reboot then exits 0), so QEMU is stopped once the
panic line is out.

The -dbg build enters its kernel debugger on the panic instead; the same commands are typed
into `db>` on both machines (each one once the prompt is there) and the answers compared;
`reboot` ends both runs.

grub-invaders (a multiboot a.out-kludge game on the CGA text screen) is stopped at the same
instruction on both machines -- QEMU through its gdbstub, ring1 with --break -- and the text
screens compared (ring1's --screen, QEMU's 0xB8000 read through the stub).

Where ring1's PC deliberately differs from QEMU's, the lines are listed below with the
reason. A kernel that cannot be fetched because the archive is unreachable skips.
"""

from __future__ import annotations

import datetime
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import qemuref
from conftest import kernel

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
RUN = RUNTIME / "build" / "ring1-run"
RING1 = ROOT / ".venv" / "bin" / "ring1"

STATUS_RESET = 18
STATUS_BREAK = 20

# The reference machine, samples/qemu.sh's (tests/qemuref.py): ring1-run's default.
QEMU = qemuref.BASE

PANIC = "panic ../kern/bootstrap.c:181: bootstrap_create: No bootstrap code loaded with the kernel!"

# Lines of QEMU's transcript that ring1 does not print, and why. Each must occur (the list
# never goes stale).
QEMU_ONLY = [
    (r"^pcibios_init : BIOS32 Service Directory structure at 0x[0-9a-f]+$",
     "SeaBIOS offers a BIOS32 service directory and a PCI BIOS; ring1 has no firmware code, "
     "so Mach uses configuration mechanism #1 directly"),
    (r"^pcibios_init : BIOS32 Service Directory entry at 0x[0-9a-f]+$", "(same)"),
    (r"^pcibios_init : PCI BIOS revision 2\.10 entry at 0x[0-9a-f]+$", "(same)"),
    (r"^ide: Intel 82371 PIIX3 \(dual FIFO\) DMA Bus Mastering IDE $",
     "QEMU's PIIX3 has an IDE function (00:01.1) with bus-master DMA; ring1's ATA channels "
     "are the legacy ISA ones, PIO only, so Mach finds no PCI IDE controller"),
    (r"^    Controller on PCI bus 0 function 9$", "(same)"),
    (r"^ide: BM-DMA feature is not enabled \(BIOS\), enabling$", "(same)"),
    (r"^    ide0: BM-DMA at 0xc000-0xc007$", "(same)"),
    (r"^    ide1: BM-DMA at 0xc008-0xc00f$", "(same)"),
]
# Lines ring1 prints that QEMU does not.
RING1_ONLY = [
    (r"^pcibios_init: Using configuration type 1$",
     "no BIOS32 directory (see above): Mach probes mechanism #1 and says so"),
]
# The RTC line shows the wall clock (both machines start their RTC from the host's UTC).
RTC = re.compile(r"^RTC time is (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$")


@pytest.fixture(scope="module", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "-C", str(RUNTIME)], capture_output=True, text=True)
    assert r.returncode == 0, "make -C runtime failed:\n" + r.stdout + r.stderr
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    if not RING1.exists():
        pytest.skip("the rewriter (ring1 CLI) is not installed in .venv")


def rewrite(src: Path, dst: Path, *opts: str) -> Path:
    r = subprocess.run([str(RING1), "rewrite", *opts, str(src), "-o", str(dst)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"ring1 rewrite {src}:\n{r.stdout}{r.stderr}"
    return dst


class Console:
    """A machine whose COM1 is the process's stdin/stdout, read as it comes."""

    def __init__(self, cmd: list[str]):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.out = b""
        self.err = b""

    def expect(self, pattern: bytes, deadline: float) -> float:
        """Read until pattern occurs after what was already matched; return the time."""
        start = len(self.out)
        while True:
            if (i := self.out.find(pattern, start)) >= 0:
                return time.monotonic() - self.t0
            left = self.t0 + deadline - time.monotonic()
            if left <= 0 or self.p.poll() is not None and not self._more(0):
                raise AssertionError(f"{pattern!r} did not appear within {deadline}s; "
                                     f"output so far:\n{self.text()[-3000:]}\n"
                                     f"stderr:\n{self.stderr()}")
            self._more(min(left, 0.5))

    def _more(self, wait: float) -> bool:
        r, _, _ = select.select([self.p.stdout], [], [], wait)
        if not r:
            return False
        b = os.read(self.p.stdout.fileno(), 65536)
        self.out += b
        return bool(b)

    def send(self, s: str):
        self.p.stdin.write(s.encode())
        self.p.stdin.flush()

    def finish(self, timeout: float) -> int:
        """Wait for the process to exit by itself; its status."""
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout}s:\n{self.text()[-2000:]}")
        self.out += out
        self.err += err
        return self.p.returncode

    def kill(self):
        if self.p.returncode is not None:
            return
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        out, err = self.p.communicate()
        self.out += out
        self.err += err

    def stderr(self) -> str:
        return self.err.decode("latin-1")

    def text(self) -> str:
        return self.out.decode("latin-1")


def lines(transcript: str) -> list[str]:
    """Mach writes "\\r" before and "\\r\\n" after each line; the SCSI probe overwrites its
    progress with "\\r" and ESC [K. Split on newlines and carriage returns, drop empties."""
    return [l for l in re.split(r"[\r\n]+", transcript.replace("\x1b[K", "<EL>")) if l]


def compare(qemu: list[str], ours: list[str]):
    """Equal but for the listed differences, each of which must occur; the RTC lines agree
    with each other and with the wall clock."""
    def split(ls, only):
        keep, seen = [], set()
        for l in ls:
            hit = next((p for p, _ in only if re.search(p, l)), None)
            if hit:
                seen.add(hit)
            else:
                keep.append(l)
        return keep, seen

    q, qseen = split(qemu, QEMU_ONLY)
    o, oseen = split(ours, RING1_ONLY)
    assert qseen == {p for p, _ in QEMU_ONLY}, \
        f"listed QEMU-only lines that QEMU did not print: {set(p for p, _ in QEMU_ONLY) - qseen}"
    assert oseen == {p for p, _ in RING1_ONLY}, \
        f"listed ring1-only lines that ring1 did not print: {set(p for p, _ in RING1_ONLY) - oseen}"
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for ls in (q, o):
        for i, l in enumerate(ls):
            if m := RTC.match(l):
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
                assert abs((t - now).total_seconds()) < 600, f"RTC line off the clock: {l}"
                ls[i] = "RTC time is <now>"
    assert o == q


@pytest.fixture(scope="module")
def mach() -> Path:
    return kernel("gnumach")


@pytest.fixture(scope="module")
def mach_qemu(mach):
    """QEMU's transcript of the unpatched kernel up to the panic, and how long that took."""
    q = Console(QEMU + ["-kernel", str(mach), "-append", "console=com0"])
    try:
        t = q.expect(PANIC.encode() + b"\r\n", 120)
    finally:
        q.kill()
    return q.text(), t


@pytest.mark.parametrize("tactics", ["default", "trap"])
def test_gnumach_boots_to_the_same_panic_as_qemu(tactics, mach, mach_qemu, tmp_path):
    """Patched with every tactic the rewriter picks, and with int3 at every site."""
    patched = rewrite(mach, tmp_path / "mach.r1.elf",
                      *(["--tactics", "trap"] if tactics == "trap" else []))
    qemu_text, q_panic = mach_qemu
    r = Console([str(RUN), str(patched), "--kernel-name", str(mach),
                 "--cmdline", "console=com0", "--timeout", "120"])
    try:
        r_panic = r.expect(PANIC.encode() + b"\r\n", 120)
        status = r.finish(120)
    finally:
        r.kill()
    r_end = time.monotonic() - r.t0
    print(f"\n{tactics}: boot to panic: QEMU {q_panic:.2f}s, ring1 {r_panic:.2f}s; ring1 reset "
          f"by the guest after {r_end:.2f}s")
    assert status == STATUS_RESET, r.stderr()
    assert "the guest reset the machine" in r.stderr()
    qemu_lines = lines(qemu_text)
    ours = lines(r.text())
    assert qemu_lines[0].startswith("GNU Mach 1.8") and ours[-1] == PANIC
    compare(qemu_lines[:qemu_lines.index(PANIC) + 1], ours)


# ---- the -dbg build's kernel debugger ----------------------------------------------------------

DB_SESSION = ["show registers", "x/i $eip", "x/xw $esp,4", "trace", "show all tasks",
              "print 6*7", "reboot"]
# trace prints each frame's first five argument words: stack slots that were never written
# by the frames themselves hold whatever the earlier boot left there (interrupt frames,
# timing dependent), so only the frame addresses are compared.
TRACE_ARGS = re.compile(r"^(0x[0-9a-f]+)\([0-9a-f,]*\)$")


def db_session(cmd: list[str], timeout: float) -> tuple[list[tuple[str, list[str]]], Console]:
    c = Console(cmd)
    answers = []
    try:
        c.expect(b"db> ", timeout)
        for command in DB_SESSION:
            before = len(c.out)
            c.send(command + "\r")
            if command == "reboot":
                break
            c.expect(b"db> ", 30)
            answer = lines(c.out[before:].decode("latin-1"))
            assert answer[0] == "db> " + command or answer[0] == command, answer
            answers.append((command, [TRACE_ARGS.sub(r"\1(...)", l) for l in answer[1:-1]]))
    except BaseException:
        c.kill()
        raise
    return answers, c


def test_gnumach_dbg_debugger_session_matches_qemu(tmp_path):
    src = kernel("gnumach-dbg")
    patched = rewrite(src, tmp_path / "mach-dbg.r1.elf")
    want, q = db_session(QEMU + ["-kernel", str(src), "-append", "console=com0"], 120)
    assert q.finish(60) == 0, "QEMU -no-reboot exits 0 when the guest resets"
    got, r = db_session([str(RUN), str(patched), "--kernel-name", str(src),
                         "--cmdline", "console=com0", "--timeout", "120"], 120)
    assert r.finish(60) == STATUS_RESET, r.stderr()
    assert [c for c, _ in got] == DB_SESSION[:-1]
    for (command, a), (_, b) in zip(want, got):
        assert b == a, f"db> {command}: QEMU answered\n" + "\n".join(a) + \
                       "\nring1 answered\n" + "\n".join(b)
    regs = dict(l.split(None, 1) for l in got[0][1])
    assert regs["eip"] == "0xc1022483" and regs["cs"] == "0x8"


# ---- grub-invaders: the CGA text screen ----------------------------------------------------------

# invaders' delay routine programs PIT counter 0 here (out %al, $0x43) for every note it plays.
INVADERS_DELAY = 0x100f0b
# After the 4th note the playing field is drawn and nothing has moved yet. Later screens depend
# on speed: the game loop runs free between notes (aliens move per loop pass, notes last a
# fixed PIT time), so a native run is many passes ahead of QEMU's TCG by the same note.
INVADERS_NOTES = 4
CP437_LOW = (" \u263a\u263b\u2665\u2666\u2663\u2660\u2022\u25d8\u25cb\u25d9\u2642\u2640\u266a"
             "\u266b\u263c\u25ba\u25c4\u2195\u203c\u00b6\u00a7\u25ac\u21a8\u2191\u2193\u2192"
             "\u2190\u221f\u2194\u25b2\u25bc")


def cga_text(vram: bytes) -> list[str]:
    """The 80x25 text buffer as runtime/dev/cga.c renders it (code page 437)."""
    def ch(b):
        if b < 0x20:
            return CP437_LOW[b]
        return "\u2302" if b == 0x7f else bytes([b]).decode("cp437")
    return ["".join(ch(vram[(r * 80 + c) * 2]) for c in range(80)).rstrip()
            for r in range(25)]


class GdbStub:
    """Just enough of the GDB remote protocol to stop QEMU at a breakpoint and read memory."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(60)
        self.s.connect(str(path))

    def cmd(self, data: bytes) -> bytes:
        pkt = b"$" + data + b"#%02x" % (sum(data) & 0xff)
        self.s.sendall(pkt)
        while (c := self.s.recv(1)) != b"+":
            if c == b"-":
                self.s.sendall(pkt)
            elif not c:
                raise EOFError("gdbstub closed")
        while self.s.recv(1) != b"$":
            pass
        reply = b""
        while (c := self.s.recv(1)) != b"#":
            reply += c
        self.s.recv(2)
        self.s.sendall(b"+")
        return reply

    def read(self, addr: int, n: int) -> bytes:
        out = b""
        for off in range(0, n, 1024):
            out += bytes.fromhex(self.cmd(b"m%x,%x" % (addr + off, min(1024, n - off))).decode())
        return out


def qemu_screen_at(kernel: Path, addr: int, hits: int, tmp: Path) -> list[str]:
    sock = tmp / "gdb.sock"
    p = subprocess.Popen(QEMU + ["-kernel", str(kernel), "-S", "-gdb",
                                 f"unix:{sock},server=on,wait=on"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(1000):
            if sock.exists():
                break
            time.sleep(0.01)
        g = GdbStub(sock)
        assert g.cmd(b"Z0,%x,1" % addr) == b"OK"
        for _ in range(hits):
            assert g.cmd(b"c").startswith(b"T05")
        return cga_text(g.read(0xb8000, 4000))
    finally:
        p.kill()
        p.wait()


def test_invaders_screen_matches_qemu(tmp_path):
    """grub-invaders (multiboot a.out kludge, .bss outside its PT_LOADs, CGA text): patched,
    its text screen at the INVADERS_NOTES-th note is QEMU's (QEMU stopped by its gdbstub at
    the same instruction, the screen read from 0xB8000)."""
    src = kernel("invaders")
    patched = rewrite(src, tmp_path / "invaders.r1.elf")
    want = qemu_screen_at(src, INVADERS_DELAY, INVADERS_NOTES, tmp_path)
    screen = tmp_path / "screen.txt"
    r = subprocess.run([str(RUN), str(patched), "--break", f"{INVADERS_DELAY:#x}:{INVADERS_NOTES}",
                        f"--screen={screen}", "--timeout", "30"], capture_output=True,
                       timeout=60)
    assert r.returncode == STATUS_BREAK, r.stderr.decode()
    got = screen.read_text(encoding="utf-8").split("\n")[:25]
    assert got == want
    assert sum("-*-" in l for l in got) == 5 and got[24].strip() == "/ \\"
