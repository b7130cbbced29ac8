"""Boot tests of the runtime (runtime/build/ring1-run): guests run to completion and print
the same serial transcript as on the reference machine, QEMU.

Vehicles:
  - runtime/tests/guest/*: the runtime's own small multiboot guests (hello, qemuinfo, ...);
    their reference transcripts come from running QEMU live.
  - samples/: the project's sample kernels against their committed QEMU goldens
    (samples/golden/<name>.txt), unpatched (trap-only) and rewritten by `ring1 rewrite`.

Exit statuses: a guest's debug-exit write v gives (v << 1) | 1 on both machines; the
runtime's own verdicts are even (runtime/vcpu.h STATUS_*).

An unpatched image runs only with `--unpatched` (ring1-run refuses it otherwise, exit 2):
every image that is not an output of this module's rewrite() gets it from unpatched(),
which run() and each direct ring1-run command line here use (on a patched image the option
would do nothing anyway).
"""

import datetime
import difflib
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import qemuref
from rewriter import abi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "runtime")
RUN = os.path.join(RUNTIME, "build", "ring1-run")
GUESTS = os.path.join(RUNTIME, "build", "guests")
SAMPLES = os.path.join(ROOT, "samples")
RING1 = os.path.join(ROOT, ".venv", "bin", "ring1")

STATUS_LOAD_ERROR = 2
STATUS_TRIPLE_FAULT = 4
STATUS_HALTED = 6
STATUS_TIMEOUT = 8
STATUS_UNSUPPORTED = 10
STATUS_WINDOW = 12

# The reference machine, samples/qemu.sh's (-nodefaults -vga std): ring1-run's default.
QEMU = qemuref.BASE
# After QEMU, the machine without a display adapter (QEMU's -nodefaults alone): the reference
# for ring1-run --vga none.
QEMU_NO_VGA = qemuref.NO_VGA


@pytest.fixture(scope="module", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "-C", RUNTIME], capture_output=True, text=True)
    assert r.returncode == 0, "make -C runtime failed:\n" + r.stdout + r.stderr


def guest(name):
    return os.path.join(GUESTS, name + ".elf")


# The images rewrite() wrote: run as they are. Any other image runs with --unpatched.
REWRITTEN = set()


def unpatched(image):
    """["--unpatched"] for an image that is not an output of rewrite() (the guests' own ELFs,
    samples/build/*.elf), else []."""
    return [] if os.path.abspath(image) in REWRITTEN else ["--unpatched"]


def argv0(image):
    """ring1-run IMAGE, and --unpatched unless IMAGE came out of rewrite()."""
    return [RUN, image, *unpatched(image)]


def run(image, *args, stdin=subprocess.DEVNULL, timeout=30, cwd=None):
    """ring1-run IMAGE ARGS: with --unpatched unless IMAGE came out of rewrite()."""
    r = subprocess.run([*argv0(image), *args], stdin=stdin, capture_output=True, timeout=timeout,
                       cwd=cwd)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def qemu(kernel, append=None, timeout=30, cwd=None, input_=None, extra=()):
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    cmd = QEMU + list(extra) + ["-kernel", kernel] + (["-append", append] if append else [])
    r = subprocess.run(cmd, input=input_, capture_output=True, timeout=timeout, cwd=cwd)
    return r.returncode, r.stdout.decode("latin-1")


def rewrite(src, dst, *opts):
    if not os.path.exists(RING1):
        pytest.skip("the rewriter (ring1 CLI) is not installed in .venv")
    r = subprocess.run([RING1, "rewrite", *opts, src, "-o", dst], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"ring1 rewrite {src} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    REWRITTEN.add(os.path.abspath(dst))
    return dst


# ---- the runtime's own guests ---------------------------------------------------------------

def test_hello_trap_only():
    rc, out, err = run(guest("hello"))
    assert (rc, out) == (1, "hello\nbye\n"), err


def test_stats_count_trapped_instructions():
    rc, out, err = run(guest("hello"), "--stats")
    assert rc == 1
    assert re.search(r"kind CLI\s+2\b", err) and re.search(r"kind STI\s+1\b", err), err
    assert "sites (" in err


def test_serial_to_file(tmp_path):
    f = tmp_path / "com1.txt"
    rc, out, err = run(guest("hello"), "--serial", str(f))
    assert rc == 1 and out == ""
    assert f.read_text() == "hello\nbye\n"


def test_serial_output_is_bounded(tmp_path):
    """--serial-limit: COM1 output stops there (one warning, the rest counted in --stats);
    the guest runs on."""
    f = tmp_path / "com1.txt"
    rc, out, err = run(guest("hello"), "--serial", str(f), "--serial-limit", "4", "--stats")
    assert rc == 1 and f.read_text() == "hell"
    assert err.count("reached --serial-limit (4 bytes)") == 1, err
    assert "com1: 6 bytes past --serial-limit dropped" in err, err
    rc, out, err = run(guest("hello"), "--serial-limit", "0")
    assert (rc, out) == (1, "hello\nbye\n"), err
    rc, out, err = run(guest("hello"), "--serial-limit", "1x")
    assert rc == STATUS_LOAD_ERROR and "--serial-limit 1x: want a size" in err, err


@pytest.mark.parametrize("vga", ["std", "none"])
def test_boot_state_matches_qemu_when_patched(vga, tmp_path):
    """Multiboot info, memory map, GDT/IDT, CPUID, MSRs: identical to QEMU's (qemu32), with
    its VGA (the default) and without (--vga none): the GDT the multiboot option ROM leaves
    GDTR pointing at is in the ROM, which SeaBIOS puts after the VGA BIOS's when there is one."""
    src = guest("qemuinfo")
    qemu_extra, ring1_opts = qemuref.MACHINES[vga]
    rc_q, ref = qemu(src, extra=qemu_extra)
    assert ("gdtr.base=0x000ca2b8\n" if vga == "std" else "gdtr.base=0x000c02b8\n") in ref
    patched = rewrite(src, str(tmp_path / "qemuinfo.r1.elf"))
    rc, out, err = run(patched, "--kernel-name", src, *ring1_opts)
    assert rc == rc_q == 1, err
    assert out == ref


def test_boot_info_matches_qemu_unpatched():
    """Unpatched, everything up to the first non-privileged sensitive read matches (the
    multiboot handoff, CR0 through mov-from-CR0, which traps), and so does every CPUID leaf:
    cpuid faults on the host (CPUID faulting) and is emulated with the CPU model. (The
    segment registers, pushf, sgdt and sidt in between are silent: the host's answers.)"""
    src = guest("qemuinfo")
    _, ref = qemu(src)
    rc, out, err = run(src)
    ours = out.splitlines()
    for i, line in enumerate(ref.splitlines()[:4]):   # magic, info, esp, cr0
        assert ours[i] == line
    want = [l for l in ref.splitlines() if l.startswith("cpuid")]
    assert len(want) > 10
    if _host_has_cpuid_faulting():
        assert [l for l in ours if l.startswith("cpuid")] == want, err


def test_uart_input_polled():
    rc, out, err = run(guest("echo"), "--cmdline", "poll", stdin=None, timeout=30) if False else \
        (lambda r: (r.returncode, r.stdout.decode(), r.stderr.decode()))(
            subprocess.run([*argv0(guest("echo")), "--cmdline", "poll"], input=b"abc\n",
                           capture_output=True, timeout=30))
    assert (rc, out) == (1, "poll: got 'abc'\n"), err


def test_uart_input_interrupt_driven():
    r = subprocess.run([*argv0(guest("echo")), "--cmdline", "irq"], input=b"hello there\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r.stderr.decode()
    assert r.stdout.decode() == "irq: got 'hello there' with interrupts\n"


# ---- PS/2 keyboard input (--input keyboard) ------------------------------------------------

# Every printable ASCII character, Ctrl-A, Esc, Tab, and Backspace (DEL) deleting the x.
TYPED = "Hello, World! @#$%^&*() ~`{}|\\:\"<>?_+=-[];',./ 0123456789\x01\x1b\tqx\x7fz\n"


def _typed_line(text):
    """What the kbd guest's line holds: Backspace deletes, control characters as ^X."""
    line = []
    for c in text.rstrip("\n"):
        if c == "\x7f":
            line.pop()
        else:
            line.append(c)
    return "".join("^" + chr(ord(c) + 0x40) if ord(c) < 0x20 else c for c in line)


def _read_until(proc, marker, timeout):
    """The process's stdout up to and including the line with marker."""
    out, end = b"", time.monotonic() + timeout
    while marker not in out:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 4096) if r else b""
        if not chunk:
            break
        out += chunk
    return out


def run_typing(image, cmdline, text, timeout=30):
    """ring1-run IMAGE --input keyboard: the text goes down the pipe once the guest says it is
    ready (bytes already waiting at boot would be keys pressed before the guest listened)."""
    p = subprocess.Popen([*argv0(image), "--input", "keyboard", "--cmdline", cmdline,
                          "--timeout", str(timeout)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = _read_until(p, b"ready", timeout)
        p.stdin.write(text.encode("latin-1"))
        p.stdin.close()
        rest = p.stdout.read()
        err = p.stderr.read()
        p.wait(timeout=timeout)
    finally:
        p.kill()
    return p.returncode, (out + rest).decode("latin-1"), err.decode("latin-1")


# QEMU's monitor names for the keys (sendkey); shifted characters and Ctrl-letters combine.
_QKEYS = {" ": "spc", "-": "minus", "=": "equal", "[": "bracket_left", "]": "bracket_right",
          "\\": "backslash", ";": "semicolon", "'": "apostrophe", "`": "grave_accent",
          ",": "comma", ".": "dot", "/": "slash", "\n": "ret", "\t": "tab",
          "\x7f": "backspace", "\x1b": "esc"}
_QSHIFT = dict(zip("!@#$%^&*()_+{}|:\"~<>?", "1234567890-=[]\\;'`,./"))


def _qemu_key(c):
    if c in _QKEYS:
        return _QKEYS[c]
    if c.isascii() and (c.islower() or c.isdigit()):
        return c
    if c.isascii() and c.isupper():
        return "shift-" + c.lower()
    if c in _QSHIFT:
        return "shift-" + _qemu_key(_QSHIFT[c])
    return "ctrl-" + chr(ord(c) + 0x60)


def qemu_typing(kernel, cmdline, text, timeout=60):
    """The same guest under QEMU, typed on through the monitor (sendkey; QEMU has no path
    from stdin to its PS/2 keyboard with -display none)."""
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    d = tempfile.mkdtemp(prefix="r1q")
    mon = os.path.join(d, "monitor")
    cmd = list(QEMU)
    cmd[cmd.index("-monitor") + 1] = f"unix:{mon},server=on,wait=off"
    p = subprocess.Popen(cmd + ["-kernel", kernel, "-append", cmdline],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = _read_until(p, b"ready", timeout)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(mon)
            s.settimeout(timeout)

            def prompt():
                buf = b""
                while not buf.endswith(b"(qemu) "):
                    chunk = s.recv(4096)
                    assert chunk, "QEMU's monitor went away"
                    buf += chunk
            prompt()
            for c in text:
                s.sendall(f"sendkey {_qemu_key(c)} 10\n".encode())
                prompt()
        rest, _ = p.communicate(timeout=timeout)
    finally:
        p.kill()
        shutil.rmtree(d, ignore_errors=True)
    return p.returncode, (out + rest).decode("latin-1")


_qemu_refs = {}


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
@pytest.mark.parametrize("mode", ["poll", "irq", "poll set2", "irq set2"])
def test_keyboard_input_matches_qemu(mode, patched, tmp_path):
    """stdin typed on the PS/2 keyboard: the same scan code bytes, byte for byte, as QEMU's
    keyboard produces for the same keys (set 1 through the 8042's translation, or set 2),
    polled or on IRQ 1; more keys than the keyboard's 16-byte buffer, none lost."""
    img = rewrite(guest("kbd"), str(tmp_path / "kbd.r1.elf")) if patched else guest("kbd")
    rc, out, err = run_typing(img, mode, TYPED)
    assert rc == 1, out + err
    assert f"line: '{_typed_line(TYPED)}'\n" in out, out + err
    if mode not in _qemu_refs:
        _qemu_refs[mode] = qemu_typing(guest("kbd"), mode, TYPED)
    rc_q, ref = _qemu_refs[mode]
    assert rc_q == 1 and out == ref, "".join(difflib.unified_diff(
        ref.splitlines(True), out.splitlines(True), "qemu", "ring1"))


@pytest.mark.parametrize("mode", ["hold", "irq clockoff", "set2 hold"])
def test_keyboard_input_waits_while_the_keyboard_cannot_send(mode):
    """Scanning disabled (F5) or the keyboard's clock held off (command byte bit 4): no byte
    reaches the guest meanwhile, and every key typed meanwhile arrives afterwards."""
    text = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    rc, out, err = run_typing(guest("kbd"), mode, text)
    assert rc == 1, out + err
    assert "bytes offered meanwhile: 0\n" in out
    assert f"line: '{_typed_line(text)}'\n" in out, out + err


def test_keyboard_input_option_is_checked():
    r = subprocess.run([*argv0(guest("hello")), "--input", "usb"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == STATUS_LOAD_ERROR and "want serial or keyboard" in r.stderr


# ---- RTC interrupts (IRQ 8) ------------------------------------------------------------------

@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_rtc_interrupts_match_qemu(patched, tmp_path):
    """Update-ended, periodic (rates 13, 1, 2, 6: 8, 256, 128, 1024 Hz, counted between
    update-ended interrupts), alarm with don't-care bytes and at a second: the same verdicts
    as QEMU's. The guest prints "ok" for a count within 1 + N/64 of N, else the count."""
    img = rewrite(guest("rtc"), str(tmp_path / "rtc.r1.elf")) if patched else guest("rtc")
    rc, out, err = run(img, "--cmdline", "counts", timeout=60)
    assert rc == 1, out + err
    ok = "Hz), interrupts in a second: ok"
    assert out.count(ok) == 4, out
    # QEMU (TCG, real-time timers, lost ticks discarded) itself misses 1024 Hz ticks when the
    # host is busy: measured 997 of 1024 with two CPU hogs, where ring1 shows late edges one
    # per acknowledgement. Up to three tries for a clean reference; lines where it still lost
    # ticks are left out of the comparison (ring1's own verdicts are checked above).
    for _ in range(3):
        if _qemu_refs.get("rtc", (0, ""))[1].count(ok) == 4:
            break
        _qemu_refs["rtc"] = qemu(guest("rtc"), "counts", timeout=60)
    rc_q, ref = _qemu_refs["rtc"]
    lossy = {line.split(":")[0] for line in ref.splitlines()
             if "Hz), interrupts in a second:" in line and ok not in line}

    def verdicts(t):
        lines = [re.sub(r" \(\d+\)$", "", line) for line in t.splitlines(True)]
        return [line for line in lines if line.split(":")[0] not in lossy]
    assert rc_q == 1 and verdicts(out) == verdicts(ref), "".join(difflib.unified_diff(
        ref.splitlines(True), out.splitlines(True), "qemu", "ring1"))


@pytest.mark.parametrize("vga", ["std", "none"])
@pytest.mark.parametrize("patched", [False, True])
def test_vga_registers_match_qemu(vga, patched, tmp_path):
    """tests/guest/vga.c: every VGA register after the BIOS set text mode 3 (CRTC 0-0x18,
    sequencer, graphics, attribute through the 0x3C0 flip-flop, misc output, input status 0,
    feature control, DAC state and all 256 DAC entries, the index registers and which way the
    flip-flop points), every port of 0x3B0-0x3DF, then writes read back (cursor, start
    address, word writes, CR0-CR7 protection, the bits each register keeps, the DAC's
    auto-increment, the mono alias at 0x3B4/0x3B5/0x3BA): the same lines as QEMU with its
    std VGA (the reference, --vga std, the default) or without one (-vga none, --vga none:
    every port reads 0xff).
    Input status 1's retrace bits change over time: the guest prints whether bits 0 and 3
    change over 1000 reads and the other bits masked, never their values."""
    key = "vga-" + vga
    if key not in _qemu_refs:
        _qemu_refs[key] = qemu(guest("vga"), extra=QEMU_NO_VGA if vga == "none" else ())
    rc_q, ref = _qemu_refs[key]
    assert ("misc=0x00000067\n" if vga == "std" else "misc=0x000000ff\n") in ref
    if vga == "std":
        assert "is1.changes=0x00000009\n" in ref
    img = guest("vga")
    if patched:
        img = rewrite(img, str(tmp_path / "vga.r1.elf"))
    rc, out, err = run(img, "--vga", vga)
    assert out == ref, "".join(difflib.unified_diff(
        ref.splitlines(True), out.splitlines(True), "qemu", "ring1"))
    assert rc == rc_q == 1, err


def test_vga_screen_starts_at_the_start_address_and_shows_the_cursor(tmp_path):
    """--screen with a VGA (the default, --vga std): rows from the CRTC start address (the
    guest put "line N" at every 80-cell row of the 32 KiB window and started the screen at
    row 1), a 26th line with the cursor's row and column on the screen and the start address.
    Without a VGA (--vga none): the buffer from 0xB8000 and no cursor line. A guest that writes
    nothing sees what the BIOS left (the vga guest checks those cells against QEMU's)."""
    screen = tmp_path / "screen.txt"
    rc, out, err = run(guest("vga"), f"--screen={screen}")
    assert rc == 1, err
    lines = screen.read_text(encoding="utf-8").split("\n")
    assert lines == [f"line {r}" for r in range(1, 26)] + [
        "cursor row 2 col 5, start address 0x0050", ""]
    rc, out, err = run(guest("vga"), "--vga", "std", "--screen")
    assert rc == 1 and "the VGA text screen at exit:\n  |line 1\n" in err
    assert err.endswith("  |line 25\n  cursor row 2 col 5, start address 0x0050\n"), err
    rc, out, err = run(guest("vga"), "--vga", "none", f"--screen={screen}")
    assert rc == 1, err
    lines = screen.read_text(encoding="utf-8").split("\n")
    assert lines == [f"line {r}" for r in range(25)] + [""]
    # Nothing written: the text window as the BIOS left it, the cursor under its two lines.
    rc, out, err = run(guest("hello"), f"--screen={screen}")
    assert rc == 1, err
    lines = screen.read_text(encoding="utf-8").split("\n")
    assert lines == ["SeaBIOS (version 1.16.2-debian-1.16.2-1)", "Booting from ROM..."] + \
        [""] * 23 + ["cursor row 2 col 0, start address 0x0000", ""]
    for mode, line in [("off", "cursor off"), ("hidden", "cursor off"),
                       ("away", "cursor off the screen at 0x0820")]:
        rc, out, err = run(guest("vga"), "--vga", "std", f"--screen={screen}", "--cmdline", mode)
        assert rc == 1, err
        lines = screen.read_text(encoding="utf-8").split("\n")
        assert lines[25] == line + ", start address 0x0050", mode


def test_stats_point_vga_port_accesses_at_the_option():
    """Without a VGA (--vga none), a guest's CRTC accesses read 0xff; --stats lists them and
    says the default machine has one (a kernel that keeps its cursor in the CRTC dies on
    0xffff otherwise)."""
    rc, out, err = run(guest("vga"), "--stats", "--vga", "none")
    assert rc == 1, err
    assert re.search(r"port 0x03d5 reads \d+ writes \d+, first by (IN|OUT) at 0x[0-9a-f]+\n",
                     err), err
    assert "(0x3b0-0x3df are a VGA's ports: the default machine, --vga std, has one)" in err
    rc, out, err = run(guest("vga"), "--stats")
    assert rc == 1, err
    assert "0x03d5" not in err and "0x3b0-0x3df" not in err
    rc, out, err = run(guest("vga"), "--stats", "--vga", "std")
    assert rc == 1, err
    assert "0x03d5" not in err and "0x3b0-0x3df" not in err


def _insn_at(elf, addr):
    """objdump's text of the instruction at addr in elf (mnemonic and operands)."""
    r = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={addr:#x}",
                        f"--stop-address={addr + 16:#x}", elf], capture_output=True, text=True,
                       check=True)
    m = re.search(rf"^\s*{addr:x}:\s*(.*)$", r.stdout, re.M)
    assert m, f"no instruction at {addr:#x} in {elf}:\n{r.stdout}"
    return " ".join(m.group(1).split())


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
@pytest.mark.parametrize("what", ["port", "physical"])
def test_unassigned_accesses_are_named_with_their_instruction(what, patched, tmp_path):
    """An access to nothing (issue 10 item 3: a port no device has, a physical address with
    nothing there) answers as QEMU's (all ones, zero) and is never silent: --stats counts it
    by port or address with the guest instruction of its first access (its original address,
    also when the instruction was moved into a trampoline), --trace names each one with its
    instruction. Ports: the vga guest without a VGA; memory: the mmio guest."""
    name, opts = ("vga", ["--vga", "none"]) if what == "port" else ("mmio", [])
    src = guest(name)
    img = rewrite(src, str(tmp_path / f"{name}.r1.elf")) if patched else src
    rc, out, stats = run(img, "--stats", *opts)
    assert rc == 1, stats
    rc, out, trace = run(img, "--trace", *opts)
    assert rc == 1, trace
    rows = re.findall(rf"^    {what} (0x[0-9a-f]+) reads (\d+) writes (\d+), first by "
                      rf"(IN|OUT|INS|OUTS|memory access) at (0x[0-9a-f]+)$", stats, re.M)
    assert len(rows) >= 4, stats
    lines = re.findall(rf"^ring1-run: {what} (0x[0-9a-f]+): nothing there: (read|write) "
                       rf"(0x[0-9a-f]+|0) \((\d) bytes?\) by (IN|OUT|INS|OUTS|memory access) at "
                       rf"(0x[0-9a-f]+)$", trace, re.M)
    # every access traced, as many as --stats counts, and reads answered as QEMU's are
    for addr, reads, writes, kind, at in rows:
        mine = [l for l in lines if int(l[0], 16) == int(addr, 16)]
        assert sum(l[1] == "read" for l in mine) == int(reads), addr
        assert sum(l[1] == "write" for l in mine) == int(writes), addr
        assert mine[0][4:] == (kind, at), (addr, mine[0])
    for addr, rw, value, size, kind, at in lines:
        if rw == "read":
            assert int(value, 16) == (0 if what == "physical" else (1 << 8 * int(size)) - 1)
        # the instruction named is one that makes that access, at its original address
        insn = _insn_at(src, int(at, 16))
        if what == "port":
            assert re.match(r"(rep )?(in|out|ins[bwl]?|outs[bwl]?)\b", insn), (at, insn)
            assert kind == ("IN" if rw == "read" else "OUT") or kind in ("INS", "OUTS"), (at, kind)
        else:
            assert kind == "memory access" and ("0x2000" in insn or "(%" in insn), (at, insn)


def test_vga_option_is_checked():
    r = subprocess.run([*argv0(guest("hello")), "--vga", "ega"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == STATUS_LOAD_ERROR and "--vga ega: want none or std" in r.stderr


def test_int80_is_a_guest_event_not_a_host_syscall():
    """Syscall User Dispatch: int $0x80 from compat mode arrives through the guest's IDT.
    Then a native `syscall`: on AMD it enters the host kernel, which loses its EIP; it is
    blocked (seccomp) and diagnosed. On Intel `syscall` is #UD in compat mode: a SIGILL with
    its EIP, and the guest gets #UD, as on qemu32 (no SYSCALL): QEMU's transcript."""
    rc, out, err = run(guest("int80"))
    assert out.startswith("int80: guest handler ran\n")
    if _host_is_amd():
        assert rc == STATUS_UNSUPPORTED and "syscall or sysenter natively" in err
    else:
        want = qemu(guest("int80"))
        assert want == (1, "int80: guest handler ran\nsyscall: #UD\n"), want
        assert (rc, out) == want, err


def _host_has_cpuid_faulting():
    """CPUID faulting (Intel; /proc/cpuinfo flag cpuid_fault): without it the guest's unpatched
    cpuid instructions run natively and give the host's answers (a listed difference)."""
    with open("/proc/cpuinfo") as f:
        return " cpuid_fault" in f.read()


def _host_is_amd():
    with open("/proc/cpuinfo") as f:
        return "AuthenticAMD" in f.read(4096)


@pytest.mark.parametrize("patched", [False, True], ids=["trap", "patched"])
def test_fast_system_calls_written_at_run_time(tmp_path, patched):
    """tests/guest/fastsys.c writes syscall and sysenter into a buffer and calls them there:
    qemu32 raises #UD (no SYSCALL) and #GP(0) (SYSENTER_CS is 0) at the instruction, with
    every register kept. On this host one of the two faults in compat mode too (AMD: sysenter,
    Intel: syscall) and arrives with its EIP: the same lines as QEMU. The other enters the
    host kernel, which discards the EIP (and the processor ECX on AMD): diagnosed. On Intel
    the kernel takes sysenter's ESP from EBP, here 0x55667788, which it cannot read: it returns
    to its landing pad, truncated to 32 bits by the processor (runtime/signals.c
    landing_pad_fault), not through the seccomp filter."""
    src = guest("fastsys")
    image = rewrite(src, str(tmp_path / "fastsys.r1.elf")) if patched else src
    faults, lost = ("sysenter", "syscall") if _host_is_amd() else ("syscall", "sysenter")
    rc_q, want = qemu(src, faults)
    assert rc_q == 1 and want.endswith("code+1, ecx and ebp kept\n"), want
    rc, out, err = run(image, "--cmdline", faults, "--kernel-name", src)
    assert (rc, out) == (1, want), err
    rc_q, want = qemu(src, lost)
    assert rc_q == 1 and want.endswith("code+1, ecx and ebp kept\n"), want
    rc, out, err = run(image, "--cmdline", lost)
    assert rc == STATUS_UNSUPPORTED and out == "", err
    assert f"natively (here: {lost})" in err and "landing pad" in err, err
    if not _host_is_amd():
        # The exit: the fetch fault at the landing pad's low 32 bits -- or, under load, a
        # timer's signal delivered on the host kernel's way back, whose frame has all of it.
        assert "could not read the guest's [ESP]" in err, err
        last = re.search(r"last exit: signal (\d+) trap (-?\d+) err (0x[0-9a-f]+|0) "
                         r"addr (0x[0-9a-f]+);", err)
        assert last, err
        signo, trap, code, addr = last.groups()
        addr = int(addr, 16)
        if (signo, trap) == ("11", "14"):
            assert code in ("0x14", "0x15") and addr < 1 << 32, err   # fetch, RAM or not
        else:
            assert trap == "-1" and addr >= 1 << 32, err
        eip = int(re.search(r"guest: eip=(0x[0-9a-f]+)", err).group(1), 16)
        assert eip == addr & 0xffffffff, err
    if _host_is_amd() and not patched:
        # ESP at no memory: the host kernel cannot read [ESP] and returns to its landing pad
        # (a fault there, not a SIGSYS): the same diagnosis. (This syscall is in the image:
        # patched, it is emulated.)
        rc, out, err = run(image, "--cmdline", "badstack")
        assert rc == STATUS_UNSUPPORTED and "could not read the guest's [ESP]" in err, err


def test_sysenter_written_at_run_time_enters_the_guest_kernel_as_on_qemu(tmp_path):
    """fastsys.c's `msr`: the SYSENTER MSRs set, a sysenter the rewriter never saw, every
    general register set. QEMU's entry point sees them all, ESP and CS:SS from the MSRs, IF
    clear. On an AMD host the instruction is #UD in compat mode (SIGILL with its EIP); on an
    Intel host it enters the host kernel, which takes ESP from EBP, reads [EBP] into EBP and
    puts its landing pad in EIP before the seccomp filter blocks the call: SYSENTER keeps no
    EIP or ESP, so ring1 restores EBP and emulates it all the same (Linux's vDSO enters every
    system call this way). The lines are QEMU's either way."""
    src = guest("fastsys")
    rc_q, want = qemu(src, " msr")
    assert rc_q == 1 and "sysenter with the MSRs set: eax 0x00001234" in want, want
    image = rewrite(src, str(tmp_path / "fastsys.r1.elf"))
    rc, out, err = run(image, "--cmdline", " msr", "--stats")
    assert (rc, out) == (1, want), err
    if not _host_is_amd():
        assert _stat(err, "sysenter-via-host") == 1, err


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_copies_of_patched_code_run_as_on_qemu(tmp_path, tactics):
    """tests/guest/copycode.c copies routines of its own text -- `int $0x80` (patched into a
    trampoline jump, or an int3 trap-only), pushf/popf/cli/in, cpuid, a GS load of 0x33 (a
    selector the host accepts natively: ring1 makes the guest's load again at the next exit
    and runs the faulting access again) -- into a user page, onto the
    user stack three times (twice through a supervisor alias of the frame), and into a kernel
    page, and runs the copies in ring 3 and ring 0. The copies hold the rewrite's bytes; ring1
    repairs each one (runtime/patched.h) before it runs, so every line is QEMU's (the ring-3
    cpuid faults on the host -- CPUID faulting -- and answers as the CPU model). Without the
    repair the first copy jumps into nowhere (--stats below proves the repairs happened)."""
    src = guest("copycode")
    image = rewrite(src, str(tmp_path / "copycode.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.endswith("done\n") and want.count("from ring 3") == 11, want
    assert "at copy+20: eax 0x00000063 ebx 0x00007e57" in want, want   # %gs:4
    rc, out, err = run(image, "--stats")
    if not _host_has_cpuid_faulting():   # the ring-3 cpuid's signature is the host's
        want, out = (re.sub(r"(copy\+16: eax 0x00000063 ebx) 0x\w+", r"\1 -", t) for t in (want, out))
    assert (rc, out) == (1, want), err
    repaired = int(re.search(r"event code-copy-repaired\s+(\d+)", err).group(1))
    written = int(re.search(r"event code-frame-written\s+(\d+)", err).group(1))
    # Seven copies, each of one or more patched ranges; the user frame written again twice.
    assert repaired >= 7 and written >= 3, err
    if _host_has_cpuid_faulting():   # the copy's cpuid, trapped and emulated
        assert re.search(r"kind CPUID\s+1\b", err), err


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_ring0_code_written_at_run_time_runs_as_on_qemu(tmp_path, tactics):
    """tests/guest/rtcode.c writes code into kernel pages at run time (from .data: the
    rewriter never sees it) and calls it in ring 0: pushf after cli and sti, a popf that turns
    IF off and then spins with the PIT ticking at 1 kHz (no tick may be taken), sgdt, sidt,
    smsw, str, sldt, moves and a push of segment registers, lar, lsl, cpuid; a second entry
    point of the same page reached only by an indirect call from outside it; the page written
    again with other code at other offsets; a routine whose first instruction crosses a page
    boundary; code that reads data in its own page by its absolute address. Natively each
    silent instruction gives the host's answer (IF always 1, the host's GDT, selectors with
    RPL 3, ticks while "interrupts are off"); ring1 makes them trap sites of the frame's copy
    at its first execution (runtime/rtcode.h), so every line is QEMU's. With
    `--runtime-code descent` the second entry point runs natively (its lines differ): the
    int3 fill is what catches it."""
    src = guest("rtcode")
    image = rewrite(src, str(tmp_path / "rtcode.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.endswith("done\n"), want
    assert "ticks while interrupts were off: 0\n" in want and "ds, cs, ss: 0x00000010 " \
        "0x00000008 0x00000010" in want, want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "runtime-code-frame") == 5, err          # A, S and the page after, D, A again
    assert _stat(err, "runtime-code-grown") == 1, err          # entry B, found by its int3
    assert _stat(err, "runtime-code-descent-only") == 1, err   # D reads its own page
    assert _stat(err, "runtime-code-sites") >= 20 and _stat(err, "runtime-code-trap") >= 30, err
    assert re.search(r"kind SGDT\s+2\b", err) and re.search(r"kind POPF\s+2\b", err), err
    rc, out, err = run(image, "--runtime-code", "descent")
    w, o = want.splitlines(), out.splitlines()
    b = w.index("entry B of the same page, by an indirect call")
    assert rc == 1 and len(o) == len(w), err
    assert [i for i in range(len(w)) if w[i] != o[i]] == [b + 1, b + 2], out
    assert o[b + 1] == "  flags after cli: 0x00000202", out   # the host's IF
    rc, out, err = run(image, "--runtime-code", "off")
    assert rc == 1 and "popf of 2: 0x00000202 0x00000202 0x00000202\n" in out, out   # natively
    rc, out, err = run(image, "--runtime-code", "some")
    assert rc == 2 and "--runtime-code some: want fill, descent or off" in err, err


def test_copy_ring1_cannot_repair_is_diagnosed(tmp_path):
    """A difference from QEMU, listed: a copy made and run with paging off is not repaired
    (docs/code-copies.md). Its jump lands inside the window's range; ring1 says it was a copy
    of patched code, from where to where, instead of "the guest touched the window"."""
    src = guest("copycode")
    image = rewrite(src, str(tmp_path / "copycode.r1.elf"))
    rc_q, want = qemu(src, "unpaged")
    assert rc_q == 1 and "paging off\n  int 0x80 (0x00000000) from ring 0 at copy+12" in want
    rc, out, err = run(image, "--cmdline", "unpaged")
    assert rc == STATUS_UNSUPPORTED and out == want.splitlines(True)[0], err
    assert re.search(r"the guest ran a copy of patched code: the trampoline jump of the patched "
                     r"range at 0x[0-9a-f]+, copied to 0x30080[0-9a-f]", err), err


# The one line of tests/guest/usergate.c where ring1 deliberately differs from QEMU: the
# program reads the first byte of its own system call stub after ring1 patched it at run time
# (runtime/usergate.c: a process's reads through the page it executes see the patch's one
# byte; the kernel's reads of the frame through any other mapping see the original).
USERGATE_OWN_READ = ("the stub's first byte read by the program: calls 0, eax at the call 0, "
                     "0x000000b8 ", "the stub's first byte read by the program: calls 0, "
                     "eax at the call 0, 0x0000009a ")


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_a_hot_ring3_system_call_stub_enters_the_kernel_without_a_host_signal(tmp_path, tactics):
    """tests/guest/usergate.c: ring 3 calls `mov $7, %eax; int $0x40; ret` 100 times; ring1
    patches it at run time into a far call through its system call gate (runtime/usergate.c),
    so most calls are a hypercall, not a host #GP. Then what a patch could break, each line
    QEMU's: the kernel reading the stub's frame through another mapping (the original byte);
    the stub called with ESP 4 bytes above a page that is not present (the far call's push
    faults: the original two instructions run, no #PF reaches the guest); the stub's `int`
    reached directly (its bytes are the original ones); the stub single-stepped with TF (a
    step lands inside the gate: put back after the mov, as the CPU steps it); a word in the
    stub's page written after every call (the patch dropped, made again, dropped: correct
    results throughout). The one listed difference: USERGATE_OWN_READ."""
    src = guest("usergate")
    image = rewrite(src, str(tmp_path / "usergate.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.endswith("done\n") and "#GP 1" not in want, want
    assert "100 calls: sum of results: calls 100, eax at the call 7, 0x0001895c" in want, want
    assert "ESP 4 bytes above a page not present: result, ESP after: calls 1, eax at the " \
           "call 7, 0x000003ef 0x00403004, #PF 0" in want, want
    assert want.count("  step at u_prog+") == 6, want
    rc, out, err = run(image, "--stats")
    assert USERGATE_OWN_READ[0] in want, want
    assert (rc, out.replace(*USERGATE_OWN_READ[::-1])) == (1, want), err
    assert _stat(err, "user-syscall-patched") >= 1, err
    assert _stat(err, "user-syscall-gate") >= 90, err        # of the 100 hot calls
    if tactics:
        # Trap-only, the program's copy holds the kernel's int3s, each repaired where it
        # first runs (a write to the frame: the patch is dropped and made again), so the
        # phases below may run unpatched; the transcript is QEMU's either way.
        return
    assert USERGATE_OWN_READ[1] in out, out
    assert _stat(err, "user-syscall-gate-fault") >= 1, err   # the stack edge (and any refill)
    assert _stat(err, "user-syscall-gate-interrupted") >= 1, err   # the single step (and any
    # host signal that happened to land in the gate)
    assert _stat(err, "code-patch-dropped") >= 1, err        # the word written


def test_without_the_gate_the_same_guest_runs_as_on_qemu():
    """The same guest unpatched (no copy tracking, so nothing is patched at run time): every
    line QEMU's, the own read included, and every system call a host signal."""
    src = guest("usergate")
    rc_q, want = qemu(src)
    rc, out, err = run(src, "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "user-syscall-gate") == 0, err


def test_a_vdso_style_sysenter_entry_goes_through_the_gate_as_on_qemu(tmp_path):
    """tests/guest/usergate.c "vsys": Linux's vDSO entry (`push %ecx; push %edx; push %ebp;
    mov %esp, %ebp; sysenter; int $0x80`, the kernel's sysexit back to the landing after it)
    called 100 times. ring1 sees the site where each sysexit returns and patches its `push
    %ebp` into the far call `lcall $0x80cd, $0x340fe589` (runtime/usergate.c: SITE_SYSENTER),
    so the system calls are hypercalls, not a host signal each (on an Intel host a sysenter
    from compat mode is a blocked host system call). Then the far call's push onto a page
    that is not present (the original push of EBP faults: QEMU's one #PF, at the push), and
    the entry single-stepped up to that push (a step inside the gate put back after the
    push). Every line QEMU's."""
    src = guest("usergate")
    image = rewrite(src, str(tmp_path / "usergate.r1.elf"))
    rc_q, want = qemu(src, "vsys")
    assert rc_q == 1 and want.endswith("done\n"), want
    assert "vDSO entry, 100 calls: sum of results: calls 100, eax at the call 5, 0x00018894" in want
    assert "vDSO entry single-stepped: result, steps: calls 1, eax at the call 6, 0x000003ee " \
        "0x00000004" in want, want
    rc, out, err = run(image, "--cmdline", "vsys", "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "user-syscall-patched") >= 1, err
    assert _stat(err, "user-sysenter-gate") >= 90, err
    # the push onto the page not present, the single step (and any refill or host signal)
    assert _stat(err, "user-syscall-gate-fault") >= 1, err
    assert _stat(err, "user-syscall-gate-interrupted") >= 1, err


@pytest.mark.parametrize("form", ["forge", "forgeind"], ids=["direct", "indirect"])
def test_a_program_far_calling_through_the_gate_selector_gets_the_guests_answer(tmp_path, form):
    """tests/guest/usergate.c "forge": after the stub is patched (the host's LDT then has the
    gate's code segment), ring 3 runs `lcall $0x40cd, $7` itself -- the very bytes of a patch,
    at a place ring1 never patched; "forgeind": `lcall *(%esp)` with that far pointer pushed.
    The guest has no LDT: QEMU raises #GP(0x40cc). ring1 finds no patched site before the
    return address, finds the far call that ends there (direct, or `ff /3` whose pointer holds
    a gate's selector) and emulates it from the guest's tables: the same #GP."""
    src = guest("usergate")
    image = rewrite(src, str(tmp_path / "usergate.r1.elf"))
    rc_q, want = qemu(src, form)
    assert rc_q == 1 and "forged far call: result: calls 0, eax at the call 0, 0x0001895c " \
        "0x00000000, #PF 0, #GP 1 (0x000040cc)" in want, want
    rc, out, err = run(image, "--cmdline", form, "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "user-syscall-gate-foreign") == 1, err


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_task_switches_match_qemu(tmp_path, tactics):
    """tests/guest/taskswitch.c: far jmp to a TSS and back, far call through a GDT task gate
    and the iret (NT) that returns, int through an IDT task gate, #GP with its error code
    delivered to a task that fixes the faulting task's saved EIP. Back links, saved EIPs,
    NT (pushf in a nested task: NT is held by the host), busy bits, CR0.TS: QEMU's."""
    src = guest("taskswitch")
    image = rewrite(src, str(tmp_path / "taskswitch.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.endswith("done\n") and "(no)" not in want, want
    assert "B: NT=1" in want and "C: #GP error 0x00001234" in want, want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    assert re.search(r"event task-switch\s+10\b", err), err


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_demand_paging_maps_at_the_handlers_iret(tmp_path, tactics):
    """tests/guest/demand.c demand-pages reads, writes and instruction fetches: the #PF
    handler makes the page present (clearing it through another mapping) and returns to the
    faulting instruction. Same lines as QEMU (CR2, error codes, accessed/dirty bits); under
    ring1 every handler's iret maps the page it made present, so the repeated access runs
    without a second host fault."""
    src = guest("demand")
    image = rewrite(src, str(tmp_path / "demand.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and "fetch pass: faults 192, bad 0" in want, want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "page-mapped-at-iret") == 192, err
    filled = int(re.search(r"shadow pages: (\d+) faults filled", err).group(1))
    assert filled < 192 + 100, err   # one fill per demand fault, not two


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_ring3_reaches_past_its_limit_as_on_qemu(tmp_path, tactics):
    """tests/guest/ulimit.c: ring 3 writes and reads below its thread pointer in %gs (offsets
    that wrap around 4 GiB, in seven instruction forms), touches pages ever higher up to just
    below the kernel's, runs cpuid, reads a kernel page directly and through %gs (#PF), and
    makes 300 wrapping accesses in a row. Same lines as QEMU; and the kernel's 64 pages,
    which it reads after every report, are dropped from ring 3's reach only for the two reads
    that must fault and once for the 300 -- not at every access past ring 3's segment limit
    (mem.c, "user limit"; each such drop is the kernel's pages mapped again one by one)."""
    src = guest("ulimit")
    image = rewrite(src, str(tmp_path / "ulimit.r1.elf"),
                    *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.endswith("done\n"), want
    assert "report 3: 0x11111116" in want and want.count("#PF error 0x00000005 cr2 0xc0000000") == 2
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    assert "report 9: 0x11111242" in want, want
    # the seven wrapping accesses, one per stay in ring 3, and some of the 300 in one stay
    # before ring1 gives the limit up for the rest of it (mem.c, mem_view_wrapped: after about
    # what giving it up costs, at least 16)
    assert 7 + 16 <= _stat(err, "user-limit-emulated") < 7 + 300, err
    assert _stat(err, "user-limit-off") == 1, err
    assert _stat(err, "user-limit-raised") >= 3, err        # 8 MiB, 24, 200, 3 GiB, the kernel's
    assert _stat(err, "shadow-drop-ring3") <= 3 * 64, err


def test_global_pages_are_kept_across_cr3_writes(tmp_path):
    """tests/guest/global.c: two address spaces sharing 64 global kernel pages and differing
    in a non-global one, switched 1,000 times; a global PTE changed and flushed with invlpg,
    another with a CR4.PGE toggle. QEMU's lines (it flushes global translations on CR3 writes
    too; the guest relies on neither). Under ring1 a CR3 write does not check the global
    pages: without that, each of the 1,000 writes kept (and checked) all 64 of them."""
    src = guest("global")
    image = rewrite(src, str(tmp_path / "global.r1.elf"))
    rc_q, want = qemu(src)
    assert rc_q == 1 and "wrong 0" in want, want
    assert "after invlpg: 0x00005555, after a CR4.PGE toggle: 0x00006666" in want, want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    kept = int(re.search(r"(\d+) kept across CR3 writes", err).group(1))
    assert kept < 1000 * 8, err


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_dropped_pages_come_back_onto_their_frames_only(patched, tmp_path):
    """tests/guest/park.c: two address spaces over the same 32 linear pages, 16 onto shared
    frames and 16 onto frames of their own, switched 400 times, the second touching only 24
    and clearing the accessed bit of the first's page 31; then PTEs of the first changed (a
    new frame, a shared page moved, one made not present) while the second runs. QEMU's lines,
    A/D bits included. Under ring1 a page dropped at a CR3 write keeps its host mapping,
    inaccessible, with its frame (mem.c, "Parked pages"), and is mapped again with one mprotect
    -- onto that frame only (reusing a parked mapping for another frame reads the other address
    space's page: 1,599 wrong reads) -- when its page directory is loaded again if its PTE is
    still accessed (mapping page 31 then leaves its A bit clear after the guest's read: QEMU
    sets it), else when the guest touches it or a neighbour in its page table (a third
    address space over the first's page table: its page 25 moved to a new frame must read the
    new frame, and its page 26, not accessed, must not be mapped before its read, or the read
    leaves A clear)."""
    src = guest("park")
    image = rewrite(src, str(tmp_path / "park.r1.elf")) if patched else src
    rc_q, want = qemu(src)
    assert rc_q == 1 and "wrong 0\n" in want, want
    assert "page 20 now 0x00007777, page 4 0x00008888, page 21 0x00000015 after 1 #PF" in want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    # the first address space's pages 24-30, back 200 times, but for those its chunk's
    # mapping holds (mem.c, "Linear chunks": mapped and dropped with mprotect in any case);
    # page 31 when touched
    assert _stat(err, "shadow-restored-at-cr3") >= 1000, err
    assert _stat(err, "shadow-unpark") >= 150, err
    assert _stat(err, "shadow-restored-near") >= 1, err
    assert "page 25 0x00009999, page 26 A before its read 0, after 1" in want, want


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_a_trap_site_where_an_exception_lands_costs_no_second_signal(tactics, tmp_path):
    """tests/guest/ahead.c: 100 #UD delivered to a handler beginning `pushf; cli` (as Linux's
    entry_SYSENTER_32 begins with a pushf the rewriter gives no region, reached by every
    emulated sysenter). QEMU's line. Trap-only, the run loop emulates both trap sites where
    the delivered exception lands (vcpu.c, trap_site_ahead) instead of entering the guest for
    their int3s: two host signals fewer per exception. Patched, they are inline: none."""
    src = guest("ahead")
    image = rewrite(src, str(tmp_path / "ahead.r1.elf"), *(["--tactics", tactics] if tactics else []))
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.startswith("ud2 handled 100 times"), want
    rc, out, err = run(image, "--stats")
    assert (rc, out) == (1, want), err
    assert _stat(err, "trap-site-ahead") == (200 if tactics else 0), err


def test_own_int3_and_ud2_after_a_site_trap_where_the_guest_has_them(tmp_path):
    """tests/guest/tailstop.c: a patched `out` followed by the guest's own int3 (kvm-unit-tests'
    eventinj: its #BP was delivered twice under ring1) and by a ud2 resumed past it (Linux's
    WARN()). QEMU's line: one #BP whose EIP is the instruction after the int3, one #UD at the
    ud2. A trampoline's tail copying them reported the int3's trap from the trampoline, where
    nothing follows it (rewriter plan.py: tails end before int3 and ud2)."""
    src = guest("tailstop")
    rc_q, want = qemu(src)
    assert rc_q == 1 and want.startswith("#BP 1 time(s), EIP bp_after; #UD 1 time(s)"), want
    for tactics in (None, "trap"):
        image = rewrite(src, str(tmp_path / "tailstop.r1.elf"),
                        *(["--tactics", tactics] if tactics else []))
        rc, out, err = run(image)
        assert (rc, out) == (1, want), (tactics, err)


def test_int80_and_syscall_patched(tmp_path):
    patched = rewrite(guest("int80"), str(tmp_path / "int80.r1.elf"))
    rc, out, err = run(patched)
    assert (rc, out) == (1, "int80: guest handler ran\nsyscall: #UD\n"), err


@pytest.mark.parametrize("mode", ["unpatched", "patched", "patched-trace"])
def test_guest_fpu_state_survives_exits(mode, tmp_path):
    """Lazy FPU switching: the guest's x87/SSE registers stay live across traps, hypercalls
    and runtime paths that call the C library (--trace prints on every exit)."""
    img = guest("fpu")
    if mode != "unpatched":
        img = rewrite(img, str(tmp_path / "fpu.r1.elf"))
    rc, out, err = run(img, *(["--trace"] if mode.endswith("trace") else []))
    assert (rc, out) == (1, "xmm0-7: kept\nx87 stack: kept\n"), err[-2000:]


def test_mmio_to_nothing_matches_qemu():
    """Non-RAM physical addresses: the faulting instruction is decoded and emulated (mov,
    movzx/movsx, ALU with flags, moffs); nothing there reads as zero, as in QEMU."""
    _, ref = qemu(guest("mmio"))
    rc, out, err = run(guest("mmio"), "--stats")
    assert rc == 1 and out == ref, err
    assert "accesses to physical addresses with nothing there" in err


@pytest.mark.parametrize("mode", ["unpatched", "patched", "trap", "profiled"])
def test_local_apic_and_ioapic_match_qemu(mode, tmp_path):
    """LAPIC and IOAPIC registers through MMIO by every decoded instruction form (mov, movzx,
    and/or/xor/add, cmp, rep movs/stos, lods), a self IPI, the timer one-shot and periodic,
    the PIT through the IOAPIC, the 8259A through LINT0: the same lines as QEMU. Profiled:
    rewritten with the profile of a first run, every device access it saw a site (hypercalls,
    and reads of stable registers answered from the vCPU page's cache, emptied by every write)."""
    _, ref = qemu(guest("apic"))
    img = guest("apic")
    if mode != "unpatched":
        img = rewrite(img, str(tmp_path / "apic.r1.elf"),
                      *(["--tactics", "trap"] if mode == "trap" else []))
    if mode == "profiled":
        prof = tmp_path / "apic.profile.json"
        rc, out, err = run(img, "--timeout", "20", "--profile-out", str(prof))
        assert rc == 1 and out == ref, err
        img = rewrite(guest("apic"), str(tmp_path / "apic.p.elf"), "--profile", str(prof),
                      "--profile-min", "1")
    rc, out, err = run(img, "--timeout", "20", "--stats")
    assert rc == 1 and out == ref, err
    if mode == "profiled":
        assert _stat(err, "mmio-site") > 0 and _stat(err, "mmio-cache-fill") > 0, err


# With a VGA (--vga std, the default), what ring1 leaves out of QEMU's std VGA: the pointers into its BIOS's ROM at
# 0xC0000 (no ROM there): the IVT's INT 10h, 1Fh and 43h, the BDA's video save pointer table
# (0x4A8) and the VGA BIOS's own state (0x4B9-0x4BD).
VGA_ROM_BYTES = {"ivt 0x00000040:": range(0, 4), "ivt 0x00000070:": range(12, 16),
                 "ivt 0x00000100:": range(12, 16), "bda 0x000004a0:": range(8, 12),
                 "bda 0x000004b0:": range(9, 14)}


def _mask_vga_rom(line):
    for prefix, idx in VGA_ROM_BYTES.items():
        if line.startswith(prefix):
            b = line[len(prefix):].split()
            return prefix + " " + " ".join("??" if i in idx else x for i, x in enumerate(b))
    return line


@pytest.mark.parametrize("vga", ["none", "std"])
def test_firmware_tables_match_qemu(vga, tmp_path):
    """BIOS data area, EBDA, interrupt vector table, MP floating pointer and configuration
    table, LAPIC/IOAPIC/keyboard controller/port 0x92 reset state, PCI headers, CMOS: byte for
    byte QEMU's (after SeaBIOS), but for the time of day and the PCI function ring1 does not
    have (PIIX3 IDE 00:01.1). With a VGA (--vga std, the
    default; QEMU: the reference's -vga std) the VGA's PCI function 00:02.0 and the BDA's video
    fields too, as the VGA BIOS leaves them in mode 3 (VGA_ROM_BYTES: what is not there);
    --vga none against QEMU's -vga none."""
    img = tmp_path / "d.img"
    img.write_bytes(bytes(8 << 20))
    extra = ["-drive", f"file={img},index=1,media=disk,format=raw"]
    if vga == "none":
        extra += QEMU_NO_VGA
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    r = subprocess.run(QEMU + ["-kernel", guest("pcinfo")] + extra, capture_output=True,
                       timeout=30)
    ref = r.stdout.decode("latin-1").splitlines()
    rc, out, err = run(guest("pcinfo"), "--disk", f"index=1,file={img}", "--snapshot",
                       "--vga", vga)
    assert rc == 1, err
    got = out.splitlines()
    ticks = re.compile(r"^bda 0x00000460:")          # 0x46c: timer ticks since midnight
    absent = re.compile(r"^pci 1\.1:")                # PIIX3 IDE: not modelled
    if vga == "std":
        ref, got = [_mask_vga_rom(l) for l in ref], [_mask_vga_rom(l) for l in got]
        # the mode-3 fields in the line with the ticks: cursor type, CRTC port
        assert [l[:31] for l in ref if ticks.match(l)] == [l[:31] for l in got if ticks.match(l)]
        assert "bda 0x00000440: 00 00 00 00 00 00 00 00 00 03 50 00 00 10 00 00" in ref
    assert [l for l in ref if not ticks.match(l) and not absent.match(l)] == \
           [l for l in got if not ticks.match(l)]
    assert sum(1 for l in ref if absent.match(l)) == 1
    assert any(l.startswith("pci 2.0: 0x11111234 ") for l in ref) == (vga == "std")


@pytest.mark.parametrize("how", ["cf9", "92", "kbc"])
def test_machine_reset_matches_qemu(how):
    """A reset through the PIIX3's reset control register (after its reset type reads back),
    port 0x92 or the keyboard controller: the same lines, then QEMU -no-reboot exits and
    ring1 ends the run with its reset status."""
    rc_q, ref = qemu(guest("reset"), append=how)
    rc, out, err = run(guest("reset"), "--cmdline", how)
    assert (rc_q, rc) == (0, 18) and out == ref, err
    assert "no reset" not in out and out.count("rcr=") == (2 if how == "cf9" else 1)


def test_acpi_soft_off_matches_qemu():
    """ACPI_ENABLE written to the APM port sets SCI_EN, the PM timer runs, and SLP_EN with
    SLP_TYP 0 in PIIX4's PM1a_CNT turns the machine off: QEMU exits 0, and so does ring1."""
    rc_q, ref = qemu(guest("reset"), append="s5")
    rc, out, err = run(guest("reset"), "--cmdline", "s5")
    assert (rc_q, rc) == (0, 0) and out == ref, (out, ref, err)
    assert "pm timer runs: yes" in out and "no reset" not in out, out
    assert "the guest powered the machine off" in err, err


def _ata_images(d):
    """Disk index 0 (8 MiB, a byte pattern per sector) and index 3 (1 MiB)."""
    a = bytearray(8 << 20)
    for lba in range(len(a) // 512):
        for i in range(0, 512, 64):
            a[lba * 512 + i] = (i * 7 + lba) & 255
    b = bytes((i * 13) & 255 for i in range(1 << 20))
    (d / "d0.img").write_bytes(a)
    (d / "d3.img").write_bytes(b)


def test_ata_pio_matches_qemu_and_writes_reach_the_file(tmp_path):
    """IDENTIFY, CHS/LBA28 reads, READ/WRITE MULTIPLE, WRITE SECTORS, FLUSH CACHE, errors,
    the secondary slave: the same lines as QEMU, and the disk file ends byte for byte as
    QEMU leaves its copy."""
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    q, r = tmp_path / "qemu", tmp_path / "ring1"
    q.mkdir()
    r.mkdir()
    _ata_images(q)
    _ata_images(r)
    ref = subprocess.run(QEMU + ["-kernel", guest("ata"),
                                 "-drive", "file=d0.img,index=0,media=disk,format=raw",
                                 "-drive", "file=d3.img,index=3,media=disk,format=raw"],
                         capture_output=True, timeout=30, cwd=q)
    rc, out, err = run(guest("ata"), "--disk", "d0.img", "--disk", "index=3,file=d3.img",
                       cwd=r)
    assert rc == ref.returncode == 1, err
    assert out == ref.stdout.decode("latin-1")
    assert (r / "d0.img").read_bytes() == (q / "d0.img").read_bytes()
    assert (r / "d3.img").read_bytes() == (q / "d3.img").read_bytes()


def test_snapshot_leaves_disk_files_untouched(tmp_path):
    _ata_images(tmp_path)
    before = (tmp_path / "d0.img").read_bytes()
    rc, out, err = run(guest("ata"), "--disk", "d0.img", "--disk", "index=3,file=d3.img",
                       "--snapshot", cwd=tmp_path)
    assert rc == 1, err
    assert "read back sum" in out
    assert (tmp_path / "d0.img").read_bytes() == before


# tests/guest/diskseq.c writes LBA 1, 2, 3, ... of the primary master, one WRITE SECTORS
# each: "R1SQ", the LBA, bytes i ^ LBA.

def _seq_sector(lba):
    return b"R1SQ" + lba.to_bytes(4, "little") + bytes((i ^ lba) & 255 for i in range(8, 512))


def _seq_prefix(data):
    """How many of diskseq's sectors the image holds, checking they are a prefix: sectors
    1..k written, every byte after them (and sector 0) as the test left it, zero."""
    n = len(data) // 512
    k = 0
    while k + 1 < n and data[(k + 1) * 512:(k + 1) * 512 + 4] == b"R1SQ":
        k += 1
    for lba in {1, k // 2, k - 1, k} - {0}:
        assert data[lba * 512:(lba + 1) * 512] == _seq_sector(lba), lba
    for lba in range(1, k + 1):
        assert data[lba * 512 + 4:lba * 512 + 8] == lba.to_bytes(4, "little"), lba
    assert not data[:512].strip(b"\0") and not data[(k + 1) * 512:].strip(b"\0"), k
    return k


def test_sequential_disk_writes_match_qemu(tmp_path):
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    for d in ("q", "r"):
        (tmp_path / d).mkdir()
        with open(tmp_path / d / "d.img", "wb") as f:
            f.truncate(2 << 20)
    ref = subprocess.run(QEMU + ["-kernel", guest("diskseq"),
                                 "-drive", "file=d.img,index=0,media=disk,format=raw"],
                         capture_output=True, timeout=60, cwd=tmp_path / "q")
    rc, out, err = run(guest("diskseq"), "--disk", "d.img,cache=writethrough",
                       cwd=tmp_path / "r", timeout=60)
    assert rc == ref.returncode == 1, err
    assert out == ref.stdout.decode("latin-1") == "writing 4095 sectors\ndone\n"
    data = (tmp_path / "r" / "d.img").read_bytes()
    assert data == (tmp_path / "q" / "d.img").read_bytes()
    assert _seq_prefix(data) == 4095


def _start_diskseq(img, *args):
    p = subprocess.Popen([*argv0(guest("diskseq")), "--disk", str(img), *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line.startswith(b"writing "), line
    return p, int(line.split()[1])


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "timeout"])
@pytest.mark.parametrize("cache", ["writeback", "writethrough", "unsafe"])
def test_a_run_stopped_mid_write_leaves_a_prefix(tmp_path, how, cache):
    """ring1 stopped while the guest writes sector after sector -- killed outright, a
    signal, --timeout: the image holds the sectors the guest wrote, in order, none after a
    missing one (every write reaches the file before the guest sees it complete)."""
    img = tmp_path / "d.img"
    with open(img, "wb") as f:
        f.truncate(64 << 20)   # ~130,000 sectors: seconds of writing
    extra = ["--timeout", "1"] if how == "timeout" else []
    p, n = _start_diskseq(f"{img},cache={cache}", *extra)
    if how != "timeout":
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:   # mid-way: once the guest's first writes are in
            with open(img, "rb") as f:
                f.seek(512)
                if f.read(4) == b"R1SQ":
                    break
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(getattr(__import__("signal"), how))
    out, err = p.communicate(timeout=60)
    want = {"SIGKILL": -9, "timeout": STATUS_TIMEOUT}.get(how, 16)
    assert p.returncode == want, err.decode("latin-1")[-2000:]
    assert b"done" not in out
    k = _seq_prefix(img.read_bytes())
    assert 0 < k < n, k


def test_a_second_ring1_on_the_same_image_is_refused(tmp_path):
    """One writer per image (an OFD lock on the file, as QEMU's image locking): a second
    ring1 on it exits 2 with one line; with --snapshot it runs (and warns)."""
    img = tmp_path / "d.img"
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    p, _ = _start_diskseq(img)
    try:
        rc, out, err = run(guest("hello"), "--disk", str(img))
        assert rc == STATUS_LOAD_ERROR and out == "", err
        assert err.count("\n") == 1 and "in use by another process" in err, err
        rc, out, err = run(guest("hello"), "--disk", str(img), "--snapshot")
        assert rc == 1 and out == "hello\nbye\n", err
        assert "warning" in err and "being written by another process" in err, err
    finally:
        p.kill()
        p.communicate()
    # Two --disk of one file in one ring1: the same.
    rc, out, err = run(guest("hello"), "--disk", str(img), "--disk", str(img))
    assert rc == STATUS_LOAD_ERROR and "in use by another process" in err, err
    # Free again once the first one is gone.
    rc, out, err = run(guest("hello"), "--disk", str(img))
    assert rc == 1, err


def test_disk_cache_option_is_checked(tmp_path):
    img = tmp_path / "d.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    rc, out, err = run(guest("hello"), "--disk", f"{img},cache=none")
    assert rc == STATUS_LOAD_ERROR and "want cache=writeback, writethrough or unsafe" in err
    rc, out, err = run(guest("hello"), "--disk", f"index=2,file={img},cache=unsafe")
    assert rc == 1, err
    rc, out, err = run(guest("hello"), "--disk", f"index=2,cache=unsafe")
    assert rc == STATUS_LOAD_ERROR and "no file=FILE" in err


def test_disk_errors_are_diagnosed(tmp_path):
    rc, out, err = run(guest("ata"), "--disk", str(tmp_path / "nope.img"))
    assert rc == STATUS_LOAD_ERROR and "nope.img" in err
    (tmp_path / "tiny.img").write_bytes(b"x" * 100)
    rc, out, err = run(guest("ata"), "--disk", str(tmp_path / "tiny.img"))
    assert rc == STATUS_LOAD_ERROR and "at least 512 bytes" in err
    rc, out, err = run(guest("ata"), "--disk", "index=1,file=a", "--disk", "index=1,file=b")
    assert rc == STATUS_LOAD_ERROR and "already has a disk" in err


@pytest.mark.parametrize("patched", [False, True])
def test_a20_gate_matches_qemu(patched, tmp_path):
    """A20 off through port 0x92 and through the keyboard controller's output port: bit 20 of
    every physical address reads as 0, as in QEMU."""
    _, ref = qemu(guest("a20"))
    img = rewrite(guest("a20"), str(tmp_path / "a20.r1.elf")) if patched else guest("a20")
    rc, out, err = run(img)
    assert rc == 1 and out == ref, err
    assert "=0xaabbccdd" in out


def test_multiboot_modules_match_qemu(tmp_path):
    """--module 'FILE args' (repeatable) lays out the module list, command lines and page-
    aligned module contents exactly where QEMU's -initrd 'FILE args,FILE2' does."""
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    (tmp_path / "m1.bin").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "m2.bin").write_bytes(b"\x5a" * 12345)
    (tmp_path / "m3.bin").write_bytes(b"x")
    r = subprocess.run(QEMU + ["-kernel", guest("mods"), "-append", "hello world", "-initrd",
                               "m1.bin arg1 arg2,m2.bin,m3.bin last"],
                       capture_output=True, timeout=30, cwd=tmp_path)
    rc, out, err = run(guest("mods"), "--cmdline", "hello world", "--module",
                       "m1.bin arg1 arg2", "--module", "m2.bin", "--module", "m3.bin last",
                       cwd=tmp_path)
    assert rc == r.returncode == 1, err
    assert out == r.stdout.decode("latin-1")
    assert "mods_count=0x00000003" in out and "'m3.bin last'" in out


def test_module_errors_are_diagnosed(tmp_path):
    rc, out, err = run(guest("mods"), "--module", str(tmp_path / "missing.bin"))
    assert rc == STATUS_LOAD_ERROR and "missing.bin" in err
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(8 << 20)
    rc, out, err = run(guest("mods"), "--mem", "4M", "--module", str(big))
    assert rc == STATUS_LOAD_ERROR and "do not fit" in err


def test_help_lists_every_option_and_status():
    r = subprocess.run([RUN, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stderr == ""
    for opt in ["--mem", "--serial", "--input", "--disk", "--snapshot", "--vga", "--cmdline",
                "--kernel-name", "--module", "--timeout", "--screen", "--stats", "--trace",
                "--unpatched", "--help"]:
        assert opt in r.stdout, opt
    assert "(default 128M)" in r.stdout and "(default stdio)" in r.stdout
    for status in (2, 4, 6, 8, 10, 12, 14, 16, 18):
        assert re.search(rf"^  {status} ", r.stdout, re.M), status


@pytest.mark.parametrize("args,why", [
    (["--bogus"], "unknown option --bogus"),
    (["--mem"], "--mem wants a value"),
    (["--disk", "index=7,file=x"], "want FILE, or index=N,file=FILE"),
    ([], "no IMAGE"),
])
def test_bad_arguments(args, why):
    r = subprocess.run([RUN, *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == STATUS_LOAD_ERROR and why in r.stderr and "--help" in r.stderr


# ---- unpatched images: refused unless --unpatched (issue #10, item 4) ----------------------

def test_unpatched_image_is_refused_without_the_option(tmp_path):
    """An image without a .ring1 note runs its silent sensitive instructions (pushf/popf,
    sgdt/sidt/..., segment register moves) natively, on the host's state: ring1-run refuses
    it unless asked, with exit 2 and one line that names the image, what goes wrong and what
    to do. Nothing runs: no COM1 output, no serial file, no --stats."""
    img = guest("hello")
    com1 = tmp_path / "com1.txt"
    for extra in ([], ["--stats", "--serial", str(com1)], ["--mem", "64M"]):
        r = subprocess.run([RUN, img, *extra], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == STATUS_LOAD_ERROR and r.stdout == "", r
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"ring1-run: {img} is not rewritten: "), lines[0]
        for what in ("pushf/popf", "sgdt/sidt", "lar/lsl", "segment register",
                     "host's state", f"`ring1 boot {img}`", "ring1 rewrite", "--unpatched"):
            assert what in lines[0], what
        assert not com1.exists()


def test_load_errors_come_before_the_refusal(tmp_path):
    r = subprocess.run([RUN, str(tmp_path / "missing.elf")], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == STATUS_LOAD_ERROR and "not rewritten" not in r.stderr, r.stderr
    assert "missing.elf" in r.stderr


@pytest.mark.parametrize("where", ["before", "after", "one-dash"])
def test_unpatched_option_runs_the_image(where):
    img = guest("hello")
    argv = {"before": [RUN, "--unpatched", img], "after": [RUN, img, "--unpatched"],
            "one-dash": [RUN, "-unpatched", img]}[where]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (1, "hello\nbye\n", "")


def test_unpatched_option_on_a_patched_image_changes_nothing(tmp_path):
    """A patched image runs as it is with --unpatched too: the same output and the same
    counts (no trapped privileged instruction either way)."""
    img = rewrite(guest("hello"), str(tmp_path / "hello.r1.elf"))
    runs = [subprocess.run([RUN, img, "--stats", *opt], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
            for opt in ([], ["--unpatched"])]
    for r in runs:
        assert (r.returncode, r.stdout) == (1, "hello\nbye\n"), r.stderr
        assert "not rewritten" not in r.stderr
    counts = [re.sub(r"[0-9.]+ s (elapsed|cpu)", "", r.stderr) for r in runs]
    assert counts[0] == counts[1]


def test_unpatched_option_is_in_the_table_and_the_help():
    r = subprocess.run([RUN, "--list-options"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "unpatched\tnone" in r.stdout.splitlines()
    r = subprocess.run([RUN, "--help"], capture_output=True, text=True, timeout=10)
    assert re.search(r"^  --unpatched  ", r.stdout, re.M), r.stdout
    assert "unpatched image without --unpatched" in r.stdout


def test_guest_touching_the_window_is_diagnosed(tmp_path):
    rc, out, err = run(guest("window"))            # unpatched: no window, nothing there
    assert (rc, out) == (1, "wrote to 0xffe00000\n"), err
    # Patched, data accesses to the window's range get the PC's answer (next test); running
    # code there cannot: diagnosed.
    rc, out, err = run(rewrite(guest("window"), str(tmp_path / "w.r1.elf")), "--cmdline",
                       "jump")
    assert rc == STATUS_WINDOW and "hypervisor window at 0xffe00000" in err and "--window" in err
    rc, out, err = run(rewrite(guest("window"), str(tmp_path / "w2.r1.elf"), "--window",
                               "0xbfc00000"))
    assert (rc, out) == (1, "wrote to 0xffe00000\n"), err


@pytest.mark.parametrize("patched", [False, True], ids=["trap", "patched"])
def test_window_range_data_accesses_match_qemu(patched, tmp_path):
    """The default window's range, the top 4 MiB, holds nothing on the PC (and the BIOS ROM's
    end): a write vanishes and a read gives 0; with paging on, a page of it mapped to RAM
    reaches that RAM and a page not present is a #PF -- QEMU's transcript, patched (the
    window is there, its PROT_NONE part emulated) or not."""
    src = guest("window")
    rc_q, want = qemu(src, "read paging")
    assert rc_q == 1 and "ram 0x300010 = 0x12345678, read back 0x12345678" in want, want
    image = rewrite(src, str(tmp_path / "w.r1.elf")) if patched else src
    rc, out, err = run(image, "--cmdline", "read paging", "--kernel-name", src, "--stats")
    assert (rc, out) == (1, want), err
    if patched:
        assert _stat(err, "window-range-access") >= 3, err


@pytest.mark.parametrize("patched", [False, True])
def test_segments_with_a_base_match_qemu(patched, tmp_path):
    """A data segment based at 1 MiB and a code segment based at 0x40000000 (GNU Mach's boot
    trick) run natively through LDT slots of the runtime process. Then loads of one selector
    again and again, its descriptor changed in between (base, accessed bit, present bit, the
    table moved by lgdt): each load sees the table as it is, also when the patched image's
    trampolines load it without a hypercall (the segment-load fast path)."""
    _, ref = qemu(guest("segbase"))
    assert "#NP count 0x00000001 error 0x00000080" in ref and "WRONG" not in ref, ref
    img = rewrite(guest("segbase"), str(tmp_path / "s.r1.elf")) if patched else guest("segbase")
    rc, out, err = run(img, "--stats")
    assert rc == 1 and out == ref, err
    if patched:
        assert _stat(err, "segment-load-fast") >= 3, err


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_exception_fixup_inside_a_region_matches_qemu(patched, tmp_path):
    """tests/guest/exfix.c: a #DE whose handler resumes, as Linux's exception table does, at a
    fixup that only __ex_table names. Patched, the fixup is the second instruction of the
    region that moves a cli (its original bytes are the middle of that region's jmp): the
    handler's emulated iret must land on the fixup's piece in the trampoline."""
    _, ref = qemu(guest("exfix"))
    assert "#DE count 0x00000001, resumed at the fixup: result 0x00005023" in ref, ref
    img = guest("exfix")
    if patched:
        from rewriter import pipeline
        plan = pipeline.rewrite(img).plan
        [fixup] = pipeline.analyze(img).d.ktables.fixups
        holding = [r for r in plan.regions if any(a == fixup for a, _ in r.insns)]
        assert len(holding) == 1 and holding[0].start < fixup, holding
        img = rewrite(img, str(tmp_path / "x.r1.elf"))
    rc, out, err = run(img, "--stats")
    assert rc == 1 and out == ref, err
    if patched:
        assert _stat(err, "trap-site") == 0, err


@pytest.mark.parametrize("tactics", [None, "trap"], ids=["patched", "trap"])
def test_tail_iret_and_sti_ret_over_padding_match_qemu(tactics, tmp_path):
    """tests/guest/rettail.c: an interrupt handler ending `verw; setz; iret` whose iret a jmp
    reaches too (Linux's return to user mode), and `sti; ret` followed by `lea esi, [esi +
    0]` padding (Linux's syscall_enter_from_user_mode_prepare), called with IRQ 0 pending.
    Patched, the verw's trampoline carries the setz and the iret as a tail (the iret a
    hypercall: only the jmp's path traps), and sti; ret is a region over the lea's first
    bytes, whose sti delivers the pending interrupt after the ret. (Unpatched, verw runs on
    the host's descriptor tables: only rewritten images can match QEMU here.)"""
    _, ref = qemu(guest("rettail"))
    assert "verw 0x00000010 then iret: count 1, zf 1, cf after iret 1" in ref, ref
    assert "jmp to the iret: count 2, zf 2, cf after iret 0" in ref, ref
    assert "IRQ 0 pending at sti; ret: ticks right after the ret 1, later 1" in ref, ref
    src = guest("rettail")
    if tactics is None:
        from rewriter import pipeline
        from rewriter.abi import Kind, Tactic
        plan = pipeline.rewrite(src).plan
        sites = {s.addr: s for s in plan.sites}
        [iret] = [s for s in plan.sites if s.kind == Kind.IRET and s.tactic == Tactic.TRAP]
        [verw] = [r for r in plan.regions if any(sites[a].kind == Kind.VERW for a in r.sites)]
        assert len(verw.tail) == 2 and verw.tail[-1][0] == iret.addr, verw
        [sti] = [r for r in plan.regions if any(sites[a].kind == Kind.STI for a in r.sites)]
        assert len(sti.insns) == 2 and sti.end == sti.start + 5 and \
            sites[sti.start].tactic == Tactic.INLINE, sti
        img = rewrite(src, str(tmp_path / "r.r1.elf"))
    else:
        img = rewrite(src, str(tmp_path / "r.trap.r1.elf"), "--tactics", tactics)
    rc, out, err = run(img, "--stats")
    assert rc == 1 and out == ref, err
    if tactics is None:
        assert _stat(err, "trap-site") == 2, err          # the iret, from the jmp's path
        assert _stat(err, "inline-pending") >= 1, err     # IRQ 0 seen at the inline sti


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_port_reads_match_qemu(patched, tmp_path):
    """tests/guest/portio.c reads the registers a patched image's trampolines answer from the
    vCPU page's port cache (abi.h, R1_VCPU_PORTC) -- the 8259A's masks, COM1's scratch, line
    and modem control, IER, divisor latch, LSR and MSR in loopback, the POST port, PCI's
    CONFIG_ADDRESS -- again and again between the guest's changes to them, next to reads that
    must reach the device (an IRR, a poll command's acknowledge, LSR with an overrun, MSR with
    delta bits): the same values as under QEMU, with most reads answered without an exit."""
    _, ref = qemu(guest("portio"))
    assert ref.endswith("done\n"), ref
    img = rewrite(guest("portio"), str(tmp_path / "p.r1.elf")) if patched else guest("portio")
    rc, out, err = run(img, "--stats")
    assert rc == 1 and out == ref, err
    if patched:
        assert _stat(err, "port-cache-hit") > 2000, err
        assert re.search(r"kind IN\s+(\d+)", err) and \
            int(re.search(r"kind IN\s+(\d+)", err).group(1)) < 40, err


def test_triple_fault_is_diagnosed():
    rc, out, err = run(guest("triple"))
    assert rc == STATUS_TRIPLE_FAULT
    assert "triple fault" in err and "last vectors" in err and "eip=" in err


def test_halt_with_interrupts_off_ends_the_run():
    rc, out, err = run(guest("halt"), timeout=10)
    assert rc == STATUS_HALTED and "hlt with interrupts disabled" in err


def _cpu_and_wall(cmd, **kw):
    """Run cmd; its wall time and the CPU time (user + system) it used."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, **kw)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, cpu, wall


@pytest.mark.parametrize("clock", ["warp", "host"])
def test_an_idle_guest_sleeps(clock):
    """tests/guest/idle.c halts with the PIT ticking at 100 Hz and nothing else to do, stdin
    at end of file. It can wake (every tick does), so it must sleep between ticks, not keep a
    host core busy -- with --clock warp too, which skips its time only for a while (the
    guest's first WARP_IDLE_NS, 10 s, of doing nothing). Runs until --timeout."""
    r, cpu, wall = _cpu_and_wall([*argv0(guest("idle")), "--cmdline", "idle", "--clock", clock,
                                  "--timeout", "3"], stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == STATUS_TIMEOUT, r.stderr
    assert r.stdout == b"idle: halting\n"
    assert wall >= 2.9 and cpu < wall / 4, (cpu, wall)   # before the fix: cpu ~ wall


def test_a_guest_polling_for_input_that_never_comes_sleeps():
    """tests/guest/echo.c polling LSR.DR for a line, stdin at its end: no byte will ever come
    (QEMU spins there for ever, as a kernel debugger's prompt does). After a second of polls
    and nothing else, each poll waits up to 1 ms for input: the host core is free again."""
    r, cpu, wall = _cpu_and_wall([*argv0(guest("echo")), "--cmdline", "poll", "--timeout", "5",
                                  "--stats"], stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == STATUS_TIMEOUT, r.stderr
    assert _stat(r.stderr.decode("latin-1"), "com1-idle-poll-wait") > 100, r.stderr
    assert wall >= 4.9 and cpu < wall / 2, (cpu, wall)   # before: cpu ~ wall


@pytest.mark.parametrize("how", ["at-once", "trickled"])
def test_patched_lsr_polling_sees_input_as_it_arrives(how, tmp_path):
    """tests/guest/echo.c patched, polling LSR.DR in a loop its trampoline answers from the
    port cache (abi.h, R1_VCPU_PORTC) while stdin has nothing: input that arrives while it
    polls is seen -- a line written at once (its FIFO is off: one byte fits, the rest waits
    in the pipe with no new SIGIO, so LSR is not answered from the cache until a look finds
    the pipe empty) and bytes trickled in one by one (each announced by SIGIO, the cached
    LSR rewritten before the guest runs again)."""
    img = rewrite(guest("echo"), str(tmp_path / "e.r1.elf"))
    line = b"the quick brown fox jumps over the lazy dog 0123456789"
    p = subprocess.Popen([*argv0(img), "--cmdline", "poll", "--stats", "--timeout", "30"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)                                      # the guest is polling by then
    if how == "at-once":
        p.stdin.write(line + b"\n")
        p.stdin.flush()
    else:
        for b in line + b"\n":
            p.stdin.write(bytes([b]))
            p.stdin.flush()
            time.sleep(0.01)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, err.decode()
    assert out.decode() == f"poll: got '{line.decode()}'\n"
    assert _stat(err.decode(), "port-cache-hit") > 0, err.decode()


def test_a_patched_guest_polling_for_input_that_never_comes_sleeps(tmp_path):
    """The same as test_a_guest_polling_for_input_that_never_comes_sleeps, patched: its LSR
    reads are answered from the port cache, but with the FIFO empty only COM1_POLL_HITS of
    them between two that reach COM1 -- which count the empty polls and then wait."""
    img = rewrite(guest("echo"), str(tmp_path / "e.r1.elf"))
    r, cpu, wall = _cpu_and_wall([*argv0(img), "--cmdline", "poll", "--timeout", "5", "--stats"],
                                 stdin=subprocess.DEVNULL, timeout=30)
    err = r.stderr.decode("latin-1")
    assert r.returncode == STATUS_TIMEOUT, err
    assert _stat(err, "com1-idle-poll-wait") > 100 and _stat(err, "port-cache-hit") > 0, err
    assert wall >= 4.9 and cpu < wall / 2, (cpu, wall)


def test_a_guest_that_can_never_wake_ends_the_run():
    """sti; hlt with the PIT running but every 8259A input masked (the IOAPIC's from reset):
    nothing can reach the processor. QEMU sleeps forever; ring1 ends the run, diagnosed."""
    for clock in ("warp", "host"):
        rc, out, err = run(guest("idle"), "--cmdline", "masked", "--clock", clock, timeout=10)
        assert rc == STATUS_HALTED and "every line that could bring one masked" in err, err
        assert out == "idle: halting, every interrupt masked\n"


def test_timeout():
    rc, out, err = run(guest("spin"), "--timeout", "0.5", timeout=10)
    assert rc == STATUS_TIMEOUT and out == "spinning\n"


def test_abi_version_mismatch_is_refused():
    rc, out, err = run(guest("badabi"))
    assert rc == STATUS_LOAD_ERROR and out == ""
    assert "ABI version 99" in err and f"implements version {abi.ABI_VERSION}" in err


def test_not_a_multiboot_kernel():
    rc, out, err = run("/bin/true")
    assert rc == STATUS_LOAD_ERROR and "no multiboot header" in err


# ---- samples/ against their QEMU goldens ------------------------------------------------------

def _samples():
    gold = os.path.join(SAMPLES, "golden")
    if not os.path.isdir(gold):
        return []
    # unix needs its disk image and a scripted shell session on stdin (tests/test_unix_sample.py
    # runs it under QEMU); under ring1 it waits for the APIC, IOAPIC and ATA devices. Its
    # workload sessions' goldens, unix-*.txt, are tests/test_unix_workloads.py's.
    return sorted(f[:-4] for f in os.listdir(gold) if f.endswith(".txt") and f != "unix.txt"
                  and not f.startswith("unix-"))


@pytest.fixture(scope="module")
def samples_built():
    r = subprocess.run(["make", "-s", "-C", SAMPLES], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("make -C samples failed:\n" + r.stdout + r.stderr)


# Golden lines the runtime cannot reproduce even for a fully patched image, with the reason.
KNOWN_GAPS = {
    "exceptions": [
        (r"^fninit \(CR0\.TS=1\): #NM",
         "CR0.TS/EM cannot make x87/SSE instructions fault in a Linux process (no #NM)"),
    ],
}

# Golden lines an unpatched (trap-only) run legitimately gets wrong: each comes from a
# sensitive but unprivileged instruction that executes natively with the host's answer
# (docs/design.md §2), or from a selector load the host GDT accepts without trapping.
UNPATCHED_DIFFERS = [
    (r"IF=\d IOPL=\d NT=\d AC=\d", "pushf/popf run natively: host IF/IOPL/AC"),
    (r"^s[gi]dt |s[gi]dt: limit=", "sgdt/sidt: the kernel's UMIP emulation answers"),
    (r"sldt: |str: r32=", "sldt/str: UMIP emulation answers"),
    (r"cs=0x|ss=0x|ds=0x|gs=0x|-> r(16|32)|-> m16", "mov/push from a segment register: host selectors"),
    (r"^selector 0x", "lar/lsl/verr/verw answer about host descriptors"),
    (r"^smsw", "smsw: UMIP emulation answers"),
    (r"^rdtscp", "rdtscp exists on this host: no #UD"),
    (r"^cpuid", "cpuid answers for the host"),
    (r"^mov ds<-0x0030", "0x30 names the host's 64-bit code segment: the load succeeds natively"),
    (r"^tick \d+: .*IF=", "pushf in the handler: host IF"),
    (r"delivered by (popfl|iret): ", "native popf / same-CPL iret (with a native push %cs) "
                                       "ignore IF"),
    (r"^vmm?call \(no (VMX|SVM)\): #UD", "a hypervisor the host runs under may answer vmcall "
                                         "and vmmcall without a fault (KVM takes both)"),
] + [(p, r) for gaps in KNOWN_GAPS.values() for p, r in gaps]

# Where an unpatched run must stop: the fast system call that reaches the host kernel in
# compat mode, which discards the guest's EIP before our seccomp filter stops it
# (runtime/signals.c). On AMD that is `syscall`, which cannot be emulated without it. On Intel
# it is `sysenter`, emulated when SYSENTER_CS is set, as the sample sets it
# (runtime/vcpu.c sysenter_blocked), and `syscall` is #UD there: the run goes to its end.
UNPATCHED_STOP = {
    "sensitive": (r"^syscall \(EFER\.SCE=0\)", STATUS_UNSUPPORTED, "syscall or sysenter natively"),
} if _host_is_amd() else {}
# Where an unpatched run ends with the guest's own panic, and why.
UNPATCHED_PANIC = {
    "unix": (r"^fs: ", 3, "panic: mycpu called with interrupts enabled",
             "pushcli/mycpu read IF with a native pushfl: the host's IF is always 1"),
    "paging": (r"^ring 3 write sup_page", 33,
               "exception 13 (#GP) err=0x00000000 eip=0x00101ac2 cs=0x001b eflags=0x00000002",
               "the trap path's native push %ds saves the host's selector for ring 3's DS (an "
               "LDT slot of ring1's), which its pop %ds loads natively without an exit: the "
               "iret back to ring 3 finds the kernel's DS still cached and nulls it, as a PC "
               "would, and the next access through DS is #GP(0) as on a PC. (Until 2026-12 "
               "ring1 ran such accesses with no limit and a flat DS: wrong, and equal by chance)"),
}


# Samples that need more than a bare boot: a disk (QEMU's -drive index, a fresh copy of the
# image per run, since both machines write to it) and typed input on COM1 (samples/unix/README.md).
SAMPLE_SETUP = {
    "unix": {"disk": (1, "build/unix-fs.img"), "stdin": "unix/session.txt"},
}


def _run_sample(image, name, tmp_path, *extra):
    setup = SAMPLE_SETUP.get(name, {})
    args = [image, "--kernel-name", os.path.join("build", name + ".elf"), "--timeout", "20",
            *extra]
    if "disk" in setup:
        index, src = setup["disk"]
        disk = tmp_path / f"{name}-disk.img"
        shutil.copyfile(os.path.join(SAMPLES, src), disk)
        args += ["--disk", f"index={index},file={disk}"]
    stdin = subprocess.DEVNULL
    if "stdin" in setup:
        stdin = open(os.path.join(SAMPLES, setup["stdin"]), "rb")
    try:
        return run(*args, stdin=stdin, cwd=SAMPLES)
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()


def test_unix_sample_writes_reach_its_disk(samples_built, tmp_path):
    """The unix sample's session writes files (f, d/g, systest's): the image changes, and
    --snapshot keeps it as it was."""
    patched = rewrite(os.path.join(SAMPLES, "build", "unix.elf"), str(tmp_path / "u.r1.elf"))
    src = open(os.path.join(SAMPLES, "build", "unix-fs.img"), "rb").read()
    disk = tmp_path / "fs.img"
    for snapshot in (True, False):
        disk.write_bytes(src)
        with open(os.path.join(SAMPLES, "unix", "session.txt"), "rb") as session:
            rc, out, err = run(patched, "--disk", f"index=1,file={disk}", "--timeout", "20",
                               *(["--snapshot"] if snapshot else []), stdin=session)
        assert rc == 1, err
        assert (disk.read_bytes() == src) == snapshot


def _golden(name):
    return open(os.path.join(SAMPLES, "golden", name + ".txt"), encoding="latin-1").read()


def _check_against_golden(name, out, rc, err):
    gold = _golden(name)
    if out == gold and rc == 1:
        return
    gaps = [(re.compile(p), r) for p, r in KNOWN_GAPS.get(name, [])]
    keep = [l for l in gold.splitlines(True) if not any(g.search(l) for g, _ in gaps)]
    assert out == "".join(keep), err
    assert rc == 1, err
    pytest.xfail("; ".join(r for _, r in gaps))


@pytest.mark.parametrize("name", _samples())
def test_sample_patched_matches_golden(name, samples_built, tmp_path):
    src = os.path.join("build", name + ".elf")
    patched = rewrite(os.path.join(SAMPLES, src), str(tmp_path / (name + ".r1.elf")))
    rc, out, err = _run_sample(patched, name, tmp_path)
    _check_against_golden(name, out, rc, err)


@pytest.mark.parametrize("name", _samples())
def test_sample_without_vga_matches_golden(name, samples_built, tmp_path):
    """The goldens come from the reference machine, with a VGA (-nodefaults -vga std). Taking
    it away changes no sample's transcript (the unix sample's console writes the CRTC's
    cursor registers, which then read 0xff, and never reads them): patched, with --vga none,
    the same golden. tests/test_samples.py and tests/test_unix_sample.py check QEMU with
    -vga none against the same goldens."""
    src = os.path.join("build", name + ".elf")
    patched = rewrite(os.path.join(SAMPLES, src), str(tmp_path / (name + ".r1.elf")))
    rc, out, err = _run_sample(patched, name, tmp_path, "--vga", "none")
    _check_against_golden(name, out, rc, err)


@pytest.mark.parametrize("name", _samples())
def test_sample_trap_tactic_matches_golden(name, samples_built, tmp_path):
    src = os.path.join("build", name + ".elf")
    patched = rewrite(os.path.join(SAMPLES, src), str(tmp_path / (name + ".trap.elf")),
                      "--tactics", "trap")
    rc, out, err = _run_sample(patched, name, tmp_path)
    _check_against_golden(name, out, rc, err)


@pytest.mark.parametrize("name", _samples())
def test_sample_unpatched_matches_golden_where_it_can(name, samples_built, tmp_path):
    """The trap-only baseline: the unpatched kernel, privileged instructions trapping."""
    want = _golden(name).splitlines()
    rc, out, err = _run_sample(os.path.join("build", name + ".elf"), name, tmp_path)
    got = out.splitlines()
    stop = UNPATCHED_STOP.get(name)
    panic = UNPATCHED_PANIC.get(name)
    if panic:
        cut = next(i for i, l in enumerate(want) if re.search(panic[0], l))
        assert rc == panic[1] and out.splitlines() == want[:cut] + [panic[2]], (out, err)
        return
    if stop:
        cut = next((i for i, l in enumerate(want) if re.search(stop[0], l)), len(want))
        want = want[:cut]
        assert rc == stop[1] and stop[2] in err, err
    else:
        assert rc == 1, err
    allowed = [re.compile(p) for p, _ in UNPATCHED_DIFFERS]
    bad = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, want, got, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        for line in want[i1:i2] + got[j1:j2]:
            if not any(p.search(line) for p in allowed):
                bad.append(line)
    assert not bad, "unexpected differences from the golden:\n" + "\n".join(bad[:30])


# ---- the guest's time (runtime/clock.c) -------------------------------------------------------
# tests/guest/wait.c waits 100 PIT ticks by spinning on the tick count, then by hlt, then runs
# a counted loop that waits for nothing. Its transcript -- ticks waited, and whether the TSC
# moved on by that much time -- must be QEMU's under both clock policies; with --clock warp
# (the default) ring1 skips the waits (counted in --stats, never timed here), never the
# counted loop, and never a wait that host input could end.

def _stat(err, name):
    m = re.search(rf"event {re.escape(name)}\s+(\d+)", err)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def wait_images(tmp_path_factory):
    src = guest("wait")
    patched = rewrite(src, str(tmp_path_factory.mktemp("wait") / "wait.r1.elf"))
    rc, want = qemu(src, "spin halt count")
    assert rc == 1 and "spin: waited 100 ticks (up to 4 more)" in want, want
    return src, patched, want


@pytest.mark.parametrize("clock", ["warp", "host"])
@pytest.mark.parametrize("patched", [False, True], ids=["trap", "patched"])
def test_wait_transcript_matches_qemu(wait_images, clock, patched):
    src, image, want = wait_images
    rc, out, err = run(image if patched else src, "--cmdline", "spin halt count", "--clock",
                       clock, "--stats")
    assert (rc, out) == (1, want), err
    skips = _stat(err, "clock-skip-spinning") + _stat(err, "clock-skip-halted")
    if clock == "host":
        assert skips == 0, err
    else:
        # tsc_per_tick's two waits (21 ticks), the spin wait (100), the halt wait (100).
        assert _stat(err, "clock-skip-spinning") >= 100, err
        assert _stat(err, "clock-skip-halted") >= 99, err


def test_a_counted_loop_is_not_a_wait(wait_images):
    """--trace names every wait loop the runtime finds: with `count`, only tsc_per_tick's tick
    wait -- never the counted loop, though the timer finds the guest there again and again;
    with `spin`, the spin wait as well."""
    src, _, _ = wait_images

    def loops(mode):
        rc, out, err = run(src, "--cmdline", mode, "--trace")
        assert rc == 1, out + err[-2000:]
        return out, set(re.findall(r"wait loop (0x[0-9a-f]+-0x[0-9a-f]+)", err))

    out, found = loops("count")
    assert "count: done; ticks went on meanwhile: yes" in out, out
    assert len(found) == 1, found
    out, with_spin = loops("spin")
    assert found < with_spin and len(with_spin) == 2, (found, with_spin)


def test_no_skipping_while_host_input_may_arrive(wait_images):
    """stdin is a pipe whose writer stays and writes nothing: a halted guest could be woken by
    a byte at any moment, so its time must not jump."""
    src, _, _ = wait_images
    r, w = os.pipe()
    try:
        rc, out, err = run(src, "--cmdline", "halt", "--stats", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert rc == 1 and "halt: waited 100 ticks (up to 4 more)" in out, out + err
    assert _stat(err, "clock-skip-halted") == 0, err


def test_clock_option_is_checked():
    rc, out, err = run(guest("hello"), "--clock", "fast")
    assert rc == 2 and "--clock fast: want warp or host" in err, err


# runtime/tests/guest/pcprobe.c: every register of the PC a kernel can read, as keys (one
# per byte of the "what 0xKEY: b b ..." lines, one per "what=value" line). The three
# machines it runs on, QEMU's command line and ring1-run's options for each:
#   ref   the reference machine (QEMU -nodefaults -vga std): ring1-run's default (--vga std)
#   none  the reference machine without its VGA (QEMU -vga none after it): ring1-run --vga none
#   pc    QEMU's default pc machine (the reference without -nodefaults, as `qemu-system-i386
#         -nographic` gives it: std VGA, e1000 NIC, IDE CD-ROM, parallel port): ring1-run's
#         default
PROBE_MACHINES = {
    "ref": ([], []),
    "none": (QEMU_NO_VGA, ["--vga", "none"]),
    "pc": (None, []),
}

# The ports pcprobe never reads (a read changes the device, or answers with the time): the
# same ranges as its source's `unread` table, checked against the "--" it prints.
PROBE_UNREAD = {
    **dict.fromkeys(range(0x000, 0x009), "8237 DMA 1: address/count toggle the byte "
                    "flip-flop, status clears the terminal-count bits"),
    **dict.fromkeys(range(0x040, 0x043), "8254 counters: toggle LSB/MSB, and count"),
    0x060: "8042 data: takes the byte from the output buffer",
    0x061: "port B: refresh toggle and timer 2 output follow time",
    0x071: "MC146818 data: register C clears its flags (pcinfo dumps the CMOS)",
    **dict.fromkeys(range(0x0c0, 0x0d2), "8237 DMA 2: as DMA 1 (word-spaced)"),
    0x170: "ATA data: advances the PIO buffer", 0x1f0: "ATA data: advances the PIO buffer",
    0x177: "ATA status: acknowledges the drive's interrupt",
    0x1f7: "ATA status: acknowledges the drive's interrupt",
    0x3c9: "VGA DAC data: advances the read component and index",
    0x3da: "VGA input status 1: resets the attribute flip-flop; retrace bits toggle",
    0x3f8: "16550 RBR: takes a received byte",
    0x3fa: "16550 IIR: clears a pending THR-empty interrupt",
    0x3fd: "16550 LSR: clears overrun/break; THRE follows the probe's own output",
    0x3fe: "16550 MSR: clears the delta bits",
}

# Every key where ring1 answers otherwise than QEMU: (key regex, machines, reason). Each row
# must match at least one key on each machine it names, so that a fixed difference cannot
# stay listed.
PROBE_DIFFERENCES = [
    (r"pci(\.barsize)? 0x0*9[0-9a-f]{2}", "ref none pc", "PIIX3 IDE 00:01.1 is not "
     "modelled: its bus-master DMA (BAR4) is not emulated, so ring1 offers no function a "
     "driver would use for it"),
    (r"msr(\.wr)? 0x00000034", "ref none pc", "MSR_SMI_COUNT: the SMIs SeaBIOS raised (1 "
     "to 11 by machine); ring1 has no SMM"),
    (r"io 0x20", "ref none pc", "8259A IRR: on QEMU, IRQ 4 latched by SeaBIOS's serial probe, "
     "and IRQ 0 once the counter 0 SeaBIOS left running ticks (ring1's is idle until a kernel "
     "programs it): ring1 starts with nothing pending"),
    (r"acpi\.RSDP 0x(8|1[0-3])|acpi\.RSDT 0x(9|2[4-9a-f]|3[0-3])|acpi\.DSDT 0x[4-79]",
     "ref none pc", "ring1's DSDT is a minimal one (runtime/firmware.c): its length and "
     "checksum, and so the addresses of the tables after it (the RSDT's entries, the RSDP's "
     "RSDT address) and the checksums over them; every other byte of the tables is QEMU's"),
    (r"msr 0x00000010", "ref none pc", "rdmsr of the TSC: QEMU 7.2's TCG has no case for it "
     "and reads 0; ring1 reads the counter, as hardware does"),
    # QEMU's default pc machine has devices ring1's machine leaves out.
    (r"pci(\.barsize)? 0x0*18[0-9a-f]{2}", "pc", "e1000 NIC 00:03.0 (QEMU's default NIC): "
     "none on ring1"),
    (r"cmos 0x1[04]", "pc", "the floppy drive of QEMU's default machine: CMOS drive type "
     "(0x10) and the equipment byte's diskette bit (0x14); ring1's controller has no drive"),
    (r"io 0x37[89a]|pci 0xb5f", "pc", "parallel port LPT1 (QEMU's default): none on ring1 "
     "(0xb5f: PIIX4 PM's device resource bit for it)"),
    (r"io 0x17[1-6]", "pc", "the IDE CD-ROM on the secondary channel (QEMU's default): none "
     "on ring1"),
    (r"io 0x3d5|vga\.crtc 0x[ef]", "pc", "the cursor location: the e1000's option ROM "
     "(iPXE) printed its banner on the screen"),
]


def _probe_rtc(keys):
    """The probe's CMOS time of day (BCD, 24-hour, as SeaBIOS sets register B) as a UTC
    datetime, its weekday checked against its date."""
    c, y, mo, d, h, mi, s, wd = (int(b, 16) for b in keys.pop("rtc.time").split())
    bcd = [((v >> 4) * 10 + (v & 15)) for v in (c, y, mo, d, h, mi, s, wd)]
    t = datetime.datetime(bcd[0] * 100 + bcd[1], *bcd[2:7], tzinfo=datetime.timezone.utc)
    assert bcd[7] == t.isoweekday() % 7 + 1, (t, bcd[7])   # 1 = Sunday
    return t


def _probe_keys(text):
    keys = {}
    for line in text.splitlines():
        m = re.match(r"(\S+) (0x[0-9a-f]+): (.*)$", line)
        if m:
            base = int(m.group(2), 16)
            for i, b in enumerate(m.group(3).split()):
                keys[f"{m.group(1)} {base + i:#x}"] = b
        else:
            k, sep, v = line.partition("=")
            assert sep, line
            keys[k] = v
    return keys


def _assert_keys_differ_only_as_listed(ref, got, rows):
    """Every key where ring1's answer (got) is not QEMU's (ref) matches a listed difference
    (rows: (compiled regex, reason)), and every listed difference matches a key: a fixed one
    cannot stay listed."""
    used = [0] * len(rows)
    unexplained = []
    for k in list(ref) + [k for k in got if k not in ref]:
        if ref.get(k) == got.get(k):
            continue
        i = next((i for i, (rx, _) in enumerate(rows) if rx.fullmatch(k)), None)
        if i is None:
            unexplained.append(f"{k}: qemu {ref.get(k)} ring1 {got.get(k)}")
        else:
            used[i] += 1
    assert not unexplained, "\n".join(unexplained)
    stale = [rows[i][1] for i in range(len(rows)) if not used[i]]
    assert not stale, "listed differences that no longer differ: " + "; ".join(stale)


@pytest.mark.parametrize("machine", list(PROBE_MACHINES))
def test_pc_probe_matches_qemu(machine, tmp_path):
    """Every port (0x000-0x4FF, 0xCF0-0xCFF), CMOS byte, PCI configuration byte and BAR
    size, LAPIC/IOAPIC register, CPUID leaf, MSR (read, and written back), VGA register, HPET
    register and ACPI table byte pcprobe reads: QEMU's value on ring1 (patched probe), but for
    the listed differences (PROBE_DIFFERENCES, each with its reason) and the ports a read
    would disturb (PROBE_UNREAD); the CMOS time of day the host's on both."""
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    qemu_extra, ring1_opts = PROBE_MACHINES[machine]
    img = tmp_path / "d.img"
    img.write_bytes(bytes(1 << 20))
    cmd = QEMU + qemu_extra if qemu_extra is not None else \
        [a for a in QEMU if a != "-nodefaults"]
    r = subprocess.run(cmd + ["-kernel", guest("pcprobe"),
                              "-drive", f"file={img},index=1,media=disk,format=raw"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r.stderr
    ref = _probe_keys(r.stdout.decode("latin-1"))
    patched = rewrite(guest("pcprobe"), str(tmp_path / "pcprobe.r1.elf"))
    rc, out, err = run(patched, "--disk", f"index=1,file={img}", "--snapshot", *ring1_opts)
    assert rc == 1, err
    got = _probe_keys(out)
    # The time of day: the host's (UTC) on both, within the runs' distance.
    now = datetime.datetime.now(datetime.timezone.utc)
    for t in (_probe_rtc(ref), _probe_rtc(got)):
        assert abs((t - now).total_seconds()) < 60, (t, now)
    # The probe covered what it claims, on both machines.
    for keys in (ref, got):
        ports = {int(k[3:], 16): v for k, v in keys.items() if k.startswith("io ")}
        assert sorted(ports) == list(range(0x500)) + list(range(0xcf0, 0xd00))
        assert {p for p, v in ports.items() if v == "--"} == set(PROBE_UNREAD)
        cmos = {int(k[5:], 16): v for k, v in keys.items() if k.startswith("cmos ")}
        assert sorted(cmos) == list(range(128))
        assert {a for a, v in cmos.items() if v == "--"} == {*range(10), 0x0c, 0x32}
        assert sum(k.startswith("lapic ") for k in keys) == 64
        assert {f"ioapic {r:#010x}" for r in range(0x40)} <= set(keys)
        assert sum(k.startswith("hpet ") for k in keys) == 8
        assert {k.split()[0] for k in keys if k.startswith("acpi.")} == {
            "acpi.rsdp", *(f"acpi.{t}" for t in ("RSDP RSDT FACP FACS DSDT APIC HPET WAET"
                                                  .split()))}
        assert keys["cpuid 0x00000000.0"].startswith("0x00000004 ")   # qemu32's leaves
        assert sum(k.startswith("msr ") for k in keys) > 100
        assert sum(k.startswith("vga.dac ") for k in keys) == 768
    assert sum(k.startswith("pci ") for k in ref) == 256 * (4 + (machine != "none") +
                                                            (machine == "pc"))
    rows = [(re.compile(rx), reason) for rx, where, reason in PROBE_DIFFERENCES
            if machine in where.split()]
    _assert_keys_differ_only_as_listed(ref, got, rows)


# runtime/tests/guest/fwcfg.c: QEMU's firmware configuration device (ports 0x510-0x51B), as
# keys like pcprobe's. Every key where ring1 answers otherwise than QEMU, with its reason;
# each row must match at least one key, so that a fixed difference cannot stay listed.
_FWCFG_ABSENT = r"(etc/acpi/rsdp|etc/acpi/tables|etc/table-loader|etc/smbios/smbios-anchor|" \
    r"etc/smbios/smbios-tables|genroms/kvmvapic\.bin|genroms/multiboot_dma\.bin)"
FWCFG_DIFFERENCES = [
    (r"fwcfg\.(file|past|sum) " + _FWCFG_ABSENT + r"|fwcfg\.data\." + _FWCFG_ABSENT +
     r" 0x[0-9a-f]+", "files only firmware reads, for what ring1 has no firmware to do: the "
     "ACPI tables and SeaBIOS's loader script for them, the SMBIOS tables, the option ROMs "
     "(QEMU's multiboot loader, which ring1 is itself, and the kvmvapic ROM); a kernel finds "
     "the MP tables in memory, as on ring1"),
    (r"fwcfg\.select \S+", "files are numbered from 0x20 in name order: without the files "
     "above, the later ones have lower numbers (a guest looks them up by name)"),
    (r"fwcfg\.files 0x0+|fwcfg\.item 0x19[0-9a-f]{4}", "the file directory: its count and "
     "entries, without the files above"),
    (r"fwcfg\.item 0x(7|8|a|b|10|11|12)[0-9a-f]{4}", "the multiboot loader's items "
     "(kernel and boot information addresses, sizes, entry point and bytes), which QEMU's "
     "multiboot option ROM copies into memory: ring1 loads the kernel itself"),
]


@pytest.mark.parametrize("mem,machine", [("128M", "std"), ("300M", "std"), ("128M", "none")],
                         ids=["128M", "300M", "128M-no-vga"])
def test_fw_cfg_matches_qemu(mem, machine, tmp_path):
    """Every byte, word and dword read of the fw_cfg ports, the first 64 bytes of every
    numbered item, the file directory and each file's bytes, and DMA transfers: QEMU's
    answers on ring1 (patched probe), but for the listed differences (FWCFG_DIFFERENCES); on
    the reference machine at two memory sizes, and without its VGA (QEMU -vga none, ring1
    --vga none)."""
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    qemu_extra, ring1_opts = qemuref.MACHINES[machine]
    cmd = [a if a != "128M" else mem for a in QEMU] + list(qemu_extra)
    r = subprocess.run(cmd + ["-kernel", guest("fwcfg")], capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    ref = _probe_keys(r.stdout.decode("latin-1"))
    patched = rewrite(guest("fwcfg"), str(tmp_path / "fwcfg.r1.elf"))
    rc, out, err = run(patched, "--mem", mem, *ring1_opts)
    assert rc == 1, err
    got = _probe_keys(out)
    for keys in (ref, got):   # the probe covered what it claims
        assert sum(k.startswith("fwcfg.inl ") for k in keys) == 14
        assert sum(k.startswith("fwcfg.item ") for k in keys) == 40 * 64
        assert keys["fwcfg.file etc/e820"] == "size 0x00000014 reserved 0x00000000"
        assert keys["fwcfg.dma.read-sig"] == "0x00000000"
    rows = [(re.compile(rx), reason) for rx, reason in FWCFG_DIFFERENCES]
    _assert_keys_differ_only_as_listed(ref, got, rows)


def test_vmx_svm_instructions_are_ud_as_on_qemu(tmp_path):
    """vmcall, vmmcall and the other VMX, SVM, SGX and SMX instructions: #UD on qemu32, which
    has none of them. The rewriter patches them (on the host they #GP, and vmmcall is answered
    by a host hypervisor without a fault) and the runtime raises #UD: QEMU's transcript."""
    rc, want = qemu(guest("vmxud"))
    assert rc == 1 and want.endswith("done\n"), want
    assert want.count(" ud\n") == 24, want
    patched = rewrite(guest("vmxud"), str(tmp_path / "vmxud.r1.elf"))
    rc, out, err = run(patched, "--stats")
    assert (rc, out) == (1, want), err
    assert "kind VMX_SVM                24" in err, err
    # Unpatched, each one faults on the host and the runtime makes it #UD -- but for vmcall
    # and vmmcall, which a hypervisor the host runs under may answer without a fault: then
    # nothing can see them. KVM's hypercall instruction is vmcall on Intel and vmmcall on AMD,
    # and KVM answers the other vendor's too (its #UD intercept emulates it as the hypercall);
    # on this Intel host both come back with EAX -1 (-KVM_EPERM: a hypercall from user mode).
    # Each is QEMU's line or that.
    rc, out, err = run(guest("vmxud"))
    assert rc == 1, err
    hypercalls = ("vmcall", "vmmcall")
    got = [ln for ln in out.splitlines() if ln.split()[0] not in hypercalls]
    assert got == [ln for ln in want.splitlines() if ln.split()[0] not in hypercalls], out
    mine = [ln for ln in out.splitlines() if ln.split()[0] in hypercalls]
    assert [ln.split()[0] for ln in mine] == [ln.split()[0] for ln in want.splitlines()
                                              if ln.split()[0] in hypercalls], out
    assert all(re.fullmatch(r"\w+ (ud|none eax 0x[0-9a-f]{8})", ln) for ln in mine), out


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_pc_testdev_matches_qemu(patched, tmp_path):
    """--testdev is QEMU's -device pc-testdev (kvm-unit-tests' runner adds it): its latch ports
    by every width (unaligned words refused), and its 64 KiB buffer at 0xFF000000 by the MMIO
    forms emulator.flat uses (rep/repe/repne cmps and scas, inc, dec, not, neg): QEMU's lines."""
    rc, want = qemu(guest("testdev"), extra=["-device", "pc-testdev"])
    assert rc == 1 and "neg 0 flags=" in want, want
    image = rewrite(guest("testdev"), str(tmp_path / "t.r1.elf")) if patched else guest("testdev")
    rc, out, err = run(image, "--testdev")
    assert (rc, out) == (1, want), err
    # Without the option the ports are unassigned and the buffer is nothing, as on QEMU's
    # reference machine.
    rc, out, err = run(image)
    assert rc == 1 and "inl 0xe0=0xffffffff" in out, out + err
