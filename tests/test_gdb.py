"""The gdb remote stub (issue 13, item 2): real gdb (Debian's /usr/bin/gdb, batch mode) against
ring1-run's `--gdb tcp::PORT` / `-s` / `-S`, on the runtime's own test guests, rewritten.

What gdb must see is the guest's machine: the registers of the virtual CPU (the same values as
QEMU's gdbstub shows at the same breakpoints of the same guest: the golden), memory with the
input's bytes where the rewriter patched, breakpoints anywhere -- at an address no site touches,
at a patched site, inside an instruction the rewriter moved into a trampoline --, single steps
from one guest instruction to the next (through an inline-translated region too), Ctrl-C,
attaching to a running guest (after the jail), detaching and disconnecting (the guest runs on),
the end of the run (gdb sees the guest stopped there, then the exit). Nothing here depends on
timing but for generous timeouts: every stop is one the guest cannot miss (a breakpoint, a
guest that spins forever, a guest that waits for gdb with -S).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RING1, ROOT

RUN = ROOT / "runtime" / "build" / "ring1-run"
GUESTS = ROOT / "runtime" / "build" / "guests"
GDB = shutil.which("gdb") or "/usr/bin/gdb"
T = 120     # seconds: generous for a loaded 2-core machine; nothing waits this long unless broken

pytestmark = [
    pytest.mark.skipif(not RUN.exists(), reason="the runtime is not built (make runtime)"),
    pytest.mark.skipif(not os.path.exists(GDB), reason="gdb is not installed"),
]

REGS = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "cs", "ss",
        "ds", "es", "fs", "gs"]


# ---- helpers ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def elf_symbols(path: Path) -> dict[str, int]:
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    return {f[2]: int(f[0], 16) for f in (ln.split() for ln in out.splitlines()) if len(f) == 3}


def elf_entry(path: Path) -> int:
    return struct.unpack_from("<I", path.read_bytes(), 24)[0]


def elf_bytes(path: Path, addr: int, n: int) -> bytes:
    """n bytes at virtual address addr of an ELF32's PT_LOAD segments."""
    b = path.read_bytes()
    phoff, = struct.unpack_from("<I", b, 28)
    phentsize, phnum = struct.unpack_from("<HH", b, 42)
    for i in range(phnum):
        p_type, p_off, p_vaddr, _, p_filesz = struct.unpack_from("<IIIII", b, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= addr and addr + n <= p_vaddr + p_filesz:
            return b[p_off + addr - p_vaddr:p_off + addr - p_vaddr + n]
    raise KeyError(hex(addr))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The guests rewritten, with their reports."""
    if not RING1:
        pytest.skip("the rewriter (ring1 CLI) is not installed in .venv")
    d = tmp_path_factory.mktemp("gdb")
    out = {}
    for name in ("hello", "spin"):
        src = GUESTS / f"{name}.elf"
        dst = d / f"{name}.r1.elf"
        r = subprocess.run([RING1, "rewrite", str(src), "-o", str(dst), "--report",
                            str(d / f"{name}.json")], capture_output=True, text=True, timeout=T)
        assert r.returncode == 0, r.stderr
        import json
        out[name] = (src, dst, json.loads((d / f"{name}.json").read_text()))
    return out


class Run:
    """ring1-run with a gdb stub; its stderr's first line says it listens."""

    def __init__(self, image: Path, *args: str, wait: bool = True, port: int | None = None):
        self.port = port or free_port()
        self.p = subprocess.Popen([str(RUN), str(image), "--gdb", f"tcp::{self.port}",
                                   *(["-S"] if wait else []), "--timeout", str(T), *args],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.first = self.p.stderr.readline().decode()
        assert "gdb: " in self.first and f":{self.port}" in self.first, self.first

    def finish(self, timeout=T):
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out.decode("latin-1"), self.first + err.decode("latin-1")


def gdb_argv(port: int, cmds: list[str], elf: Path) -> list[str]:
    argv = [GDB, "-nx", "-batch", "-ex", "set architecture i386", "-ex", "set pagination off",
            "-ex", "set confirm off", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in cmds:
        argv += ["-ex", c]
    return argv + [str(elf)]


def gdb(port: int, cmds: list[str], elf: Path) -> str:
    r = subprocess.run(gdb_argv(port, cmds, elf), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=T, stdin=subprocess.DEVNULL)
    return r.stdout


def mark(name: str) -> str:
    return f"echo @@{name}\\n"


def sections(text: str) -> dict[str, str]:
    """gdb's output cut at the @@NAME marks: {NAME: what follows up to the next mark}."""
    parts = re.split(r"^@@(\w+)$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def registers(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2), 16)
            for m in re.finditer(r"^(\w+)\s+(0x[0-9a-f]+)\s", text, re.M) if m.group(1) in REGS}


def xbytes(text: str) -> bytes:
    return bytes(int(x, 16) for x in re.findall(r"\t0x([0-9a-f]{2})", text))


def in_text(sym: dict[str, int], eip: int) -> bool:
    """eip lies in the guest's code (from _start to its first data symbol)."""
    return sym["_start"] <= eip < sym["boot_esp"]


def site_of(report, kind: str, lo: int, hi: int) -> dict:
    for s in report["sites"]:
        if s["kind"] == kind and lo <= int(s["addr"], 16) < hi:
            return s
    raise AssertionError(f"no {kind} site in {lo:#x}-{hi:#x}")


# ---- the hello guest: registers, breakpoints, memory, steps, the end --------------------------
def hello_plan(images):
    src, dst, report = images["hello"]
    sym = elf_symbols(src)
    gmain = sym["gmain"]
    cli = int(site_of(report, "cli", gmain, sym["tick_entry"])["addr"], 16)
    return src, dst, report, sym, gmain, cli


def test_registers_breakpoints_memory_steps_and_the_end(images):
    src, dst, report, sym, gmain, cli = hello_plan(images)
    # gmain's first bytes are the input's in the rewritten image (no site there); the cli
    # site's are not (patched).
    assert elf_bytes(dst, gmain, 8) == elf_bytes(src, gmain, 8)
    assert elf_bytes(dst, cli, 3) != elf_bytes(src, cli, 3)
    run = Run(dst)
    out = gdb(run.port, [
        mark("entry"), "info registers",
        f"break *{gmain:#x}", f"break *{cli:#x}",
        "continue", mark("gmain"), "info registers",
        "continue", mark("cli"), "info registers", f"x/8xb {cli:#x}",
        "stepi", mark("step1"), "info registers eip eflags",
        "stepi", mark("step2"), "info registers eip eflags",
        "stepi", mark("step3"), "info registers eip",
        "delete", "continue", mark("end"), "info registers eip",
        mark("exited"), "continue"], src)
    rc, stdout, stderr = run.finish()
    s = sections(out)
    assert set(s) >= {"entry", "gmain", "cli", "step1", "step2", "step3", "end", "exited"}, out

    # -S: stopped before the first instruction, in the state a multiboot loader leaves
    entry = registers(s["entry"])
    assert entry["eip"] == elf_entry(src) and entry["eax"] == 0x2badb002, out
    assert entry["cs"] == 0x08 and entry["ds"] == entry["ss"] == 0x10, out
    assert entry["eflags"] & 0x200 == 0, "the guest's virtual IF (0 at entry), not the host's"
    # the breakpoints, at the address gdb asked for
    assert registers(s["gmain"])["eip"] == gmain and "Breakpoint 1," in s["gmain"] + out
    at_cli = registers(s["cli"])
    assert at_cli["eip"] == cli, out
    # memory shows the input's bytes at the patched site, not the rewrite's
    assert xbytes(s["cli"]) == elf_bytes(src, cli, 8), s["cli"]
    # single steps, one guest instruction each, through the inline translation of cli;sti;cli
    one, two, three = (registers(s[k]) for k in ("step1", "step2", "step3"))
    assert (one["eip"], two["eip"], three["eip"]) == (cli + 1, cli + 2, cli + 3), out
    assert one["eflags"] & 0x200 == 0 and two["eflags"] & 0x200, "cli; sti: the virtual IF"
    assert one["eflags"] & 0x100 == 0 and two["eflags"] & 0x100 == 0, "no host TF shows"
    # the end of the run: gdb sees the guest stopped where it ended, then the exit
    assert sym["gexit"] <= registers(s["end"])["eip"] < sym["gexit"] + 0x20, out
    assert "exited with code 01" in s["exited"], out
    assert rc == 1 and stdout == "hello\nbye\n", (rc, stdout, stderr)


def test_the_same_registers_as_qemus_gdbstub(images):
    """The golden: QEMU's gdbstub on the same guest (the input, unpatched) at the same two
    breakpoints -- one no site touches, one a patched site. ECX, EDX and EDI at entry are what
    QEMU's multiboot option ROM left (multiboot leaves them undefined; ring1 enters with 0),
    and so is PF in EFLAGS: compared from where the guest computed them."""
    import qemuref
    qemu = shutil.which("qemu-system-i386")
    if not qemu:
        pytest.skip("qemu-system-i386 not installed")
    src, dst, report, sym, gmain, cli = hello_plan(images)
    cmds = [f"break *{gmain:#x}", f"break *{cli:#x}", "continue", mark("gmain"),
            "info registers", "continue", mark("cli"), "info registers", "kill"]
    run = Run(dst)
    ours = sections(gdb(run.port, cmds, src))
    run.finish()
    port = free_port()
    q = subprocess.Popen(qemuref.argv(src, extra=["-S", "-gdb", f"tcp::{port}"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + T
        while True:   # QEMU listens once it has started: until then the connection is refused
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and q.poll() is None, "QEMU did not listen"
                time.sleep(0.1)
        theirs = sections(gdb(port, cmds, src))
    finally:
        q.kill()
        q.wait()
    for where, keys in (("gmain", ["eax", "ebx", "esp", "ebp", "esi", "eip", "cs", "ss", "ds",
                                   "es", "fs", "gs"]),
                        ("cli", ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "eip",
                                 "eflags", "cs", "ss", "ds", "es", "fs", "gs"])):
        a, b = registers(ours[where]), registers(theirs[where])
        assert {k: hex(a[k]) for k in keys} == {k: hex(b[k]) for k in keys}, where


def test_breakpoint_inside_a_moved_instruction_and_memory_writes(images):
    """An address inside the patched bytes (the instruction after cli;sti;cli, which the
    rewriter moved into the trampoline): its breakpoint is an int3 in the trampoline. gdb's
    writes: refused over patched bytes (E03), made elsewhere (a stack word, read back)."""
    src, dst, report, sym, gmain, cli = hello_plan(images)
    moved = cli + 3
    if elf_bytes(dst, moved, 1) == elf_bytes(src, moved, 1):
        pytest.skip("the rewriter no longer moves the instruction after cli;sti;cli")
    run = Run(dst)
    out = gdb(run.port, [
        f"break *{moved:#x}", "continue", mark("moved"), "info registers eip",
        f"x/4xb {moved:#x}",
        mark("refused"), f"set var *(unsigned char *){cli:#x} = 0x90",
        f"x/1xb {cli:#x}",
        mark("written"), "set var *(unsigned int *)($esp - 64) = 0x12345678",
        "x/1xw $esp - 64",
        "delete", "stepi", mark("step"), "info registers eip",
        "continue", "continue"], src)
    rc, stdout, stderr = run.finish()
    s = sections(out)
    assert registers(s["moved"])["eip"] == moved, out
    assert xbytes(s["moved"]) == elf_bytes(src, moved, 4), out
    assert "Cannot access memory" in s["refused"], out
    assert xbytes(s["refused"]) == elf_bytes(src, cli, 1), out
    assert "0x12345678" in s["written"], out
    assert registers(s["step"])["eip"] == moved + 7, out   # movl $imm32, (%esp): 7 bytes
    assert rc == 1 and stdout == "hello\nbye\n", (rc, stdout, stderr)


# ---- a guest that never stops by itself -------------------------------------------------------
def test_ctrl_c_stops_the_guest(images):
    """SIGINT to gdb while it continues: gdb sends Ctrl-C (0x03), which reaches the run loop as
    SIGIO on the socket; the guest stops where it spins."""
    src, dst, _ = images["spin"]
    sym = elf_symbols(src)
    run = Run(dst)
    g = subprocess.Popen(gdb_argv(run.port, ["continue", mark("stopped"), "info registers eip",
                                             "kill"], src),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    assert run.p.stdout.readline() == b"spinning\n"   # the guest runs: gdb has continued it
    g.send_signal(signal.SIGINT)
    out = g.communicate(timeout=T)[0]
    rc, _, stderr = run.finish()
    s = sections(out)
    eip = registers(s["stopped"])["eip"]
    assert in_text(sym, eip), out   # (in gmain's loop, or still on the way back from puts)
    assert rc == 16 and "gdb: killed" in stderr, (rc, stderr)


def test_attach_to_a_running_guest_then_detach(images):
    """Without -S the guest runs at once, jailed; gdb connects later (accept4 on the one
    listening socket, which the jail allows), the guest stops; after `detach` it runs on."""
    src, dst, _ = images["spin"]
    sym = elf_symbols(src)
    run = Run(dst, wait=False)
    assert run.p.stdout.readline() == b"spinning\n"
    out = gdb(run.port, [mark("attached"), "info registers eip", "detach"], src)
    eip = registers(sections(out)["attached"])["eip"]
    assert in_text(sym, eip), out
    time.sleep(0.2)
    assert run.p.poll() is None, "the guest runs on after detach"
    run.p.send_signal(signal.SIGTERM)
    rc, _, stderr = run.finish()
    assert rc == 16 and "detached" in stderr and "jail stopped" not in stderr, (rc, stderr)


def test_gdb_going_away_leaves_the_guest_running(images):
    """gdb killed while the guest is stopped at a breakpoint: the connection closes, the
    breakpoints go, the guest runs to its end."""
    src, dst, report, sym, gmain, cli = hello_plan(images)
    run = Run(dst)
    g = subprocess.Popen(gdb_argv(run.port, [f"break *{cli:#x}", "continue", mark("hit"),
                                             "shell sleep 600"], src),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    for line in g.stdout:
        if line.startswith("@@hit"):
            break
    g.kill()
    g.wait()
    rc, stdout, stderr = run.finish()
    assert rc == 1 and stdout == "hello\nbye\n" and "connection closed" in stderr, (rc, stderr)


# ---- the command line -------------------------------------------------------------------------
@pytest.mark.parametrize("dev", ["nonsense", "tcp:", "tcp::", "tcp::99999", "tcp::12x",
                                 "udp::1234", "tcp:localhost"])
def test_bad_gdb_device_is_one_line_and_status_2(dev):
    r = subprocess.run([str(RUN), str(GUESTS / "hello.elf"), "--unpatched", "--gdb", dev],
                       capture_output=True, text=True, timeout=T, stdin=subprocess.DEVNULL)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and f"--gdb {dev}" in lines[0], r.stderr


def test_port_in_use_is_one_line_and_status_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([str(RUN), str(GUESTS / "hello.elf"), "--unpatched", "--gdb",
                            f"tcp::{port}"], capture_output=True, text=True, timeout=T,
                           stdin=subprocess.DEVNULL)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "in use" in lines[0], r.stderr


def test_waiting_for_gdb_ends_with_the_timeout():
    """-S with no gdb coming: --timeout still ends the run (never a hang)."""
    port = free_port()
    r = subprocess.run([str(RUN), str(GUESTS / "hello.elf"), "--unpatched", "-S", "--gdb",
                        f"tcp::{port}", "--timeout", "0.5"], capture_output=True, text=True,
                       timeout=T, stdin=subprocess.DEVNULL)
    assert r.returncode == 8 and "waiting for gdb" in r.stderr, r.stderr


def test_ring1_run_passes_s_and_S_through(images, tmp_path):
    """`ring1 run IMAGE -S --gdb=tcp::PORT`: the runtime's options, QEMU's spellings too."""
    src, dst, *_ = hello_plan(images)
    port = free_port()
    p = subprocess.Popen([RING1, "run", str(dst), "-S", f"--gdb=tcp::{port}", "--timeout",
                          str(T)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stderr.readline().decode()
    assert f"waiting for a connection on 127.0.0.1:{port}" in first, first
    out = gdb(port, [mark("entry"), "info registers eip", "continue", "continue"], src)
    p.communicate(timeout=T)
    assert registers(sections(out)["entry"])["eip"] == elf_entry(src), out
    assert p.returncode == 1


# ---- --trace, --trace-file ------------------------------------------------------------------
def test_trace_file_shows_hypercalls_and_port_accesses(images, tmp_path):
    """--trace-file FILE: --trace's lines in FILE, none on stderr; each hypercall with its site,
    each port access with port, value and the guest instruction (COM1's THR gets "hello")."""
    src, dst, report = images["hello"]
    sym = elf_symbols(src)
    out_site = site_of(report, "out", sym["puts"], sym["puthex"])   # out %al, (%dx) in puts
    f = tmp_path / "trace.txt"
    r = subprocess.run([str(RUN), str(dst), "--trace-file", str(f)], capture_output=True,
                       text=True, timeout=T, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and r.stdout == "hello\nbye\n" and r.stderr == "", r.stderr
    lines = f.read_text().splitlines()
    at = int(out_site["addr"], 16)
    assert f"ring1-run: hypercall: site {report['sites'].index(out_site)}, OUT at {at:#x}" in lines
    writes = [ln for ln in lines if ln.startswith("ring1-run: port 0x3f8: write ")]
    assert [int(ln.split()[4], 16) for ln in writes][:6] == list(b"hello\n"), writes
    assert all(ln.endswith(f"(1 byte) by OUT at {at:#x}") for ln in writes), writes
    bad = subprocess.run([str(RUN), str(dst), "--trace-file", str(tmp_path / "no" / "t")],
                         capture_output=True, text=True, timeout=T, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert "--trace-file" in bad.stderr
