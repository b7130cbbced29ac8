"""A hostile guest against ring1 (runtime/tests/guest/escape.c; docs/security.md).

Any guest code that ring1 did not rewrite -- a ring-3 program, or kernel code written at run
time -- can far-jump through selector 0x33, the host's 64-bit code segment, and run 64-bit
code inside the ring1-run process. On a real i386 (QEMU) the same far jump raises #GP(0x30):
the QEMU transcript is the golden where the guest's own code is rewritten; where ring1 cannot
be QEMU (the far jump is in code it never saw) each test says what ring1 does instead and why.

The attack the guest makes once in 64-bit mode, step by step: read every register for a host
value; enter the window's hypercall stub with a forged %r15; read the runtime's exit landing
address from the window's entry page (the one host pointer a guest can read: see
docs/security.md), derive the runtime binary's base, load the C library's syscall() from its
GOT and call it: open a file, exec a shell, make a socket, ptrace, fork. The jail stops every
one of those calls; without the jail (--no-jail) the same chain opens /etc/passwd -- the
proof that the attack is real and the test can fail.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

import qemuref

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "runtime")
RUN = os.path.join(RUNTIME, "build", "ring1-run")
ESCAPE = os.path.join(RUNTIME, "build", "guests", "escape.elf")
RING1 = os.path.join(ROOT, ".venv", "bin", "ring1")

STATUS_UNSUPPORTED = 10
STATUS_ESCAPE = 22
STATUS_JAIL = 24
WINDOW = 0xFFC00000            # ring1 rewrite's default --window
R1_ENTRY_OFF = 0x3000          # runtime/include/abi.h
HC_STUB_OFF = 16               # runtime/entry.h

# The reference machine, samples/qemu.sh's (tests/qemuref.py): ring1-run's default.
QEMU = qemuref.BASE


@pytest.fixture(scope="module", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "-C", RUNTIME], capture_output=True, text=True)
    assert r.returncode == 0, "make -C runtime failed:\n" + r.stdout + r.stderr


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("escape") / "escape.r1.elf")
    r = subprocess.run([RING1, "rewrite", ESCAPE, "-o", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def run(image, cmdline, *args):
    """ring1-run IMAGE --cmdline CMDLINE ARGS; ESCAPE itself (unpatched) with --unpatched."""
    unpatched = ["--unpatched"] if image == ESCAPE else []
    r = subprocess.run([RUN, image, *unpatched, "--cmdline", cmdline, "--timeout", "20", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def qemu(cmdline):
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    r = subprocess.run(QEMU + ["-kernel", ESCAPE, "-append", cmdline], capture_output=True,
                       timeout=60)
    return r.returncode, r.stdout.decode("latin-1")


def runtime_offsets():
    """What an attacker knows about the ring1-run binary (it is public): the exit landing's
    offset, the landing slot's place in the stub, the GOT entry of syscall()."""
    syms = {}
    for line in subprocess.run(["nm", RUN], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    got = None
    for line in subprocess.run(["objdump", "-R", RUN], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("syscall@"):
            got = int(parts[0], 16)
    assert got is not None, "no GOT entry for syscall() in ring1-run"
    slot = (WINDOW + R1_ENTRY_OFF + HC_STUB_OFF + syms["hc_landing_slot"] -
            syms["hc_stub64_start"])
    return f"slot={slot:#x} landing={syms['guest_exit_landing']:#x} got={got:#x}"


# ---- code the rewriter saw: the guest's own answer, as on QEMU ------------------------------

def test_far_jump_through_host_selector_in_rewritten_code_faults_as_on_qemu(patched):
    rc_q, ref = qemu("mode=gp")
    assert (rc_q, ref) == (1, "#GP(0x00000030) from ring 0\n")
    rc, out, err = run(patched, "mode=gp")
    assert (rc, out) == (rc_q, ref), err


# ---- code the rewriter never saw: contained ---------------------------------------------------

def test_far_jump_through_host_selector_unpatched_is_stopped():
    """Difference from QEMU (#GP(0x30)): ring1 cannot see a native far jump; the 64-bit code
    at the target faults, and ring1 ends the run with a diagnosis instead of running on."""
    rc, out, err = run(ESCAPE, "mode=gp")
    assert rc == STATUS_ESCAPE, (rc, out, err)
    assert "guest code ran in 64-bit mode" in err and "internal error" not in err


@pytest.mark.parametrize("ring", ["0", "3"])
@pytest.mark.parametrize("image", ["unpatched", "patched"])
def test_escaped_guest_finds_no_host_value_in_registers(ring, image, patched):
    """Difference from QEMU (#GP(0x30) from ring N): the guest reaches 64-bit mode under
    ring1 and reads r8-r15 and the upper halves of the rest -- all zero (before the fix %r15
    held the vCPU pointer)."""
    rc_q, ref = qemu(f"mode=regs ring={ring}")
    assert ref == f"#GP(0x00000030) from ring {ring}\n"
    rc, out, err = run(ESCAPE if image == "unpatched" else patched, f"mode=regs ring={ring}")
    assert (rc, out) == (1, "escape: no host value in any register\n"), err


@pytest.mark.parametrize("ring", ["0", "3"])
def test_escaped_guest_entering_the_stub_with_a_forged_r15_is_diagnosed(ring, patched):
    """The stub ignores %r15 (0x4141414141414141 here: the old stub faulted on it inside
    the runtime, status 14) and the run loop refuses the hypercall that follows."""
    stub = WINDOW + R1_ENTRY_OFF + HC_STUB_OFF
    rc, out, err = run(patched, f"mode=stub stub={stub:#x} ring={ring}")
    assert rc == STATUS_UNSUPPORTED, (rc, out, err)
    assert "outside the hypercall stack" in err and "internal error" not in err


@pytest.mark.parametrize("ring", ["0", "3"])
@pytest.mark.parametrize("call,nr,name", [("open", 257, "openat"), ("exec", 59, "execve"),
                                          ("socket", 41, "socket"), ("ptrace", 101, "ptrace"),
                                          ("fork", 57, "fork")])
def test_the_jail_stops_an_escaped_guest_calling_the_c_library(call, nr, name, ring, patched):
    # A host timer signal that lands while the guest runs its 64-bit code finds it there
    # first (status 22, the detection of docs/security.md): contained too, but not the jail
    # this tests. Seen once in ~100 runs; such a run is made again.
    for _ in range(3):
        rc, out, err = run(patched, f"mode=libc {runtime_offsets()} call={call} ring={ring}")
        if not (rc == STATUS_ESCAPE and "guest code ran in 64-bit mode" in err):
            break
    assert rc == STATUS_JAIL, (rc, out, err)
    assert f"the jail stopped system call {nr} ({name})" in err
    assert out == "", "the guest ran on after the blocked call"


def test_without_the_jail_the_same_attack_opens_a_host_file(patched):
    """The attack is real: with --no-jail, openat("/etc/passwd") from the guest succeeds and
    the guest gets the file descriptor back."""
    rc, out, err = run(patched, f"mode=libc {runtime_offsets()} call=open", "--no-jail")
    m = re.match(r"escape: back in 32-bit code, syscall\(\) returned 0x00000000(0x[0-9a-f]{8})\n",
                 out)
    assert rc == 1 and m, (rc, out, err)
    assert 3 <= int(m.group(1), 16) < 100, "not a file descriptor"


# ---- the jail itself --------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="the namespaces and user change are root's jail")
def test_the_jail_as_root(tmp_path):
    """A running ring1-run: user nobody, only CAP_SYS_RAWIO (guest page 0), no new
    privileges, seccomp on, an empty read-only root, its own network namespace."""
    spin = os.path.join(RUNTIME, "build", "guests", "spin.elf")
    p = subprocess.Popen([RUN, spin, "--unpatched", "--timeout", "20"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        status = ""
        while time.monotonic() < deadline:
            status = open(f"/proc/{p.pid}/status").read()
            if re.search(r"^Uid:\s+65534", status, re.M):
                break
            time.sleep(0.02)
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split() == ["65534"] * 4
        assert fields["Gid"].split() == ["65534"] * 4
        assert int(fields["CapEff"], 16) & ~(1 << 17) == 0     # at most CAP_SYS_RAWIO
        assert int(fields["CapBnd"], 16) & ~(1 << 17) == 0
        assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2"
        assert os.listdir(f"/proc/{p.pid}/root") == []
        mounts = open(f"/proc/{p.pid}/mountinfo").read().splitlines()
        assert len(mounts) == 1 and " / / ro," in mounts[0], mounts
        assert os.readlink(f"/proc/{p.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    finally:
        p.kill()
        p.wait()


def _limits(pid) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits: name -> (soft, hard)."""
    out = {}
    for line in open(f"/proc/{pid}/limits").read().splitlines()[1:]:
        m = re.match(r"(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_the_jail_bounds_what_the_process_can_take_from_the_host(tmp_path):
    """Jailed, a running ring1-run cannot take more of the host than it had at set-up, even
    taken over: address space (set-up's plus 256 MiB), descriptors (those open), file size (the
    largest file open for writing plus the serial output limit), no locked memory, no core --
    soft and hard limits alike, and no system call left to raise them."""
    # (run with 128 MiB of guest RAM, the default: its memfd is the largest file)
    spin = os.path.join(RUNTIME, "build", "guests", "spin.elf")
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(3 << 20))
    p = subprocess.Popen([RUN, spin, "--unpatched", "--timeout", "20", "--serial-limit", "1M",
                          "--disk", f"index=1,file={disk}"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lim = _limits(p.pid)
            if lim["Max locked memory"] == ("0", "0"):   # the last bound set
                break
            time.sleep(0.02)
        status = open(f"/proc/{p.pid}/status").read()
        vm = int(re.search(r"^VmSize:\s+(\d+) kB", status, re.M).group(1)) << 10
        soft, hard = lim["Max address space"]
        assert soft == hard and vm < int(soft) <= vm + (256 << 20) + (64 << 20), (lim, vm)
        soft, hard = lim["Max open files"]
        assert soft == hard and int(soft) <= 16, lim
        soft, hard = lim["Max file size"]
        # the largest file open for writing: guest RAM's memfd (128 MiB), larger than the disk
        assert soft == hard and int(soft) == (128 << 20) + (1 << 20) + (1 << 20), lim
        assert lim["Max locked memory"] == ("0", "0") and lim["Max core file size"] == ("0", "0")
    finally:
        p.kill()
        p.wait()


def test_no_jail_leaves_the_process_as_it_was():
    spin = os.path.join(RUNTIME, "build", "guests", "spin.elf")
    p = subprocess.Popen([RUN, spin, "--unpatched", "--timeout", "20", "--no-jail"],
                         stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        assert os.readlink(f"/proc/{p.pid}/ns/net") == os.readlink("/proc/self/ns/net")
        assert os.listdir(f"/proc/{p.pid}/root") == os.listdir("/")
    finally:
        p.kill()
        p.wait()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to become another user (setpriv)")
def test_the_jail_as_an_ordinary_user(patched, tmp_path):
    """Not root: the same jail inside a user namespace (where the host allows one), and the
    same attack stopped by the allowlist."""
    if open("/proc/sys/user/max_user_namespaces").read().strip() == "0":
        pytest.skip("user namespaces are off on this host")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        image = os.path.join(d, "escape.r1.elf")
        shutil.copyfile(patched, image)
        os.chmod(image, 0o644)
        user = ["setpriv", "--reuid=65532", "--regid=65532", "--clear-groups"]
        r = subprocess.run(user + [RUN, image, "--cmdline",
                                   f"mode=libc {runtime_offsets()} call=open", "--timeout", "20"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert r.returncode == STATUS_JAIL, (r.returncode, r.stdout, r.stderr)
        assert "jail: no user namespaces" not in r.stderr
        spin = os.path.join(d, "spin.elf")
        shutil.copyfile(os.path.join(RUNTIME, "build", "guests", "spin.elf"), spin)
        os.chmod(spin, 0o644)
        p = subprocess.Popen(user + [RUN, spin, "--unpatched", "--timeout", "20"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if os.readlink(f"/proc/{p.pid}/ns/user") != os.readlink("/proc/self/ns/user"):
                        break
                except FileNotFoundError:
                    pass
                time.sleep(0.02)
            time.sleep(0.2)
            assert os.readlink(f"/proc/{p.pid}/ns/user") != os.readlink("/proc/self/ns/user")
            assert os.readlink(f"/proc/{p.pid}/ns/net") != os.readlink("/proc/self/ns/net")
            assert os.listdir(f"/proc/{p.pid}/root") == []
            status = open(f"/proc/{p.pid}/status").read()
            assert re.search(r"^NoNewPrivs:\s+1", status, re.M)
            assert re.search(r"^CapEff:\s+0+$", status, re.M)
        finally:
            p.kill()
            p.wait()
