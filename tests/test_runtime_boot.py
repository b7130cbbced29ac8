"""Boot tests of the runtime (runtime/build/ring1-run): guests run to completion and print
the same serial transcript as on the reference machine, QEMU.

Vehicles:
  - runtime/tests/guest/*: the runtime's own small multiboot guests (hello, qemuinfo, ...);
    their reference transcripts come from running QEMU live.
  - samples/: the project's sample kernels against their committed QEMU goldens
    (samples/golden/<name>.txt), unpatched (trap-only) and rewritten by `ring1 rewrite`.

Exit statuses: a guest's debug-exit write v gives (v << 1) | 1 on both machines; the
runtime's own verdicts are even (runtime/vcpu.h STATUS_*).
"""

import difflib
import os
import re
import shutil
import subprocess

import pytest

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

QEMU = ["qemu-system-i386", "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
        "-monitor", "none", "-cpu", "qemu32", "-m", "128M",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


@pytest.fixture(scope="module", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "-C", RUNTIME], capture_output=True, text=True)
    assert r.returncode == 0, "make -C runtime failed:\n" + r.stdout + r.stderr


def guest(name):
    return os.path.join(GUESTS, name + ".elf")


def run(image, *args, stdin=subprocess.DEVNULL, timeout=30, cwd=None):
    r = subprocess.run([RUN, image, *args], stdin=stdin, capture_output=True, timeout=timeout,
                       cwd=cwd)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def qemu(kernel, append=None, timeout=30, cwd=None, input_=None):
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    cmd = QEMU + ["-kernel", kernel] + (["-append", append] if append else [])
    r = subprocess.run(cmd, input=input_, capture_output=True, timeout=timeout, cwd=cwd)
    return r.returncode, r.stdout.decode("latin-1")


def rewrite(src, dst, *opts):
    if not os.path.exists(RING1):
        pytest.skip("the rewriter (ring1 CLI) is not installed in .venv")
    r = subprocess.run([RING1, "rewrite", *opts, src, "-o", dst], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"ring1 rewrite {src} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
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


def test_boot_state_matches_qemu_when_patched(tmp_path):
    """Multiboot info, memory map, GDT/IDT, CPUID, MSRs: identical to QEMU's (qemu32)."""
    src = guest("qemuinfo")
    rc_q, ref = qemu(src)
    patched = rewrite(src, str(tmp_path / "qemuinfo.r1.elf"))
    rc, out, err = run(patched, "--kernel-name", src)
    assert rc == rc_q == 1, err
    assert out == ref


def test_boot_info_matches_qemu_unpatched():
    """Unpatched, everything up to the first non-privileged sensitive read matches (the
    multiboot handoff, CR0 through mov-from-CR0, which traps)."""
    src = guest("qemuinfo")
    _, ref = qemu(src)
    rc, out, err = run(src)
    ours = out.splitlines()
    for i, line in enumerate(ref.splitlines()[:4]):   # magic, info, esp, cr0
        assert ours[i] == line


def test_uart_input_polled():
    rc, out, err = run(guest("echo"), "--cmdline", "poll", stdin=None, timeout=30) if False else \
        (lambda r: (r.returncode, r.stdout.decode(), r.stderr.decode()))(
            subprocess.run([RUN, guest("echo"), "--cmdline", "poll"], input=b"abc\n",
                           capture_output=True, timeout=30))
    assert (rc, out) == (1, "poll: got 'abc'\n"), err


def test_uart_input_interrupt_driven():
    r = subprocess.run([RUN, guest("echo"), "--cmdline", "irq"], input=b"hello there\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r.stderr.decode()
    assert r.stdout.decode() == "irq: got 'hello there' with interrupts\n"


def test_int80_is_a_guest_event_not_a_host_syscall():
    """Syscall User Dispatch: int $0x80 from compat mode arrives through the guest's IDT.
    A native `syscall` is blocked (seccomp) and diagnosed: the host kernel loses its EIP."""
    rc, out, err = run(guest("int80"))
    assert out.startswith("int80: guest handler ran\n")
    assert rc == STATUS_UNSUPPORTED and "syscall or sysenter natively" in err


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


def test_guest_touching_the_window_is_diagnosed(tmp_path):
    rc, out, err = run(guest("window"))            # unpatched: no window, nothing there
    assert (rc, out) == (1, "wrote to 0xffe00000\n"), err
    rc, out, err = run(rewrite(guest("window"), str(tmp_path / "w.r1.elf")))
    assert rc == STATUS_WINDOW and "hypervisor window at 0xffe00000" in err and "--window" in err
    rc, out, err = run(rewrite(guest("window"), str(tmp_path / "w2.r1.elf"), "--window",
                               "0xbfc00000"))
    assert (rc, out) == (1, "wrote to 0xffe00000\n"), err


@pytest.mark.parametrize("patched", [False, True])
def test_segments_with_a_base_match_qemu(patched, tmp_path):
    """A data segment based at 1 MiB and a code segment based at 0x40000000 (GNU Mach's boot
    trick) run natively through LDT slots of the runtime process."""
    _, ref = qemu(guest("segbase"))
    img = rewrite(guest("segbase"), str(tmp_path / "s.r1.elf")) if patched else guest("segbase")
    rc, out, err = run(img)
    assert rc == 1 and out == ref, err


def test_triple_fault_is_diagnosed():
    rc, out, err = run(guest("triple"))
    assert rc == STATUS_TRIPLE_FAULT
    assert "triple fault" in err and "last vectors" in err and "eip=" in err


def test_halt_with_interrupts_off_ends_the_run():
    rc, out, err = run(guest("halt"), timeout=10)
    assert rc == STATUS_HALTED and "hlt with interrupts disabled" in err


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
    # runs it under QEMU); under ring1 it waits for the APIC, IOAPIC and ATA devices.
    return sorted(f[:-4] for f in os.listdir(gold) if f.endswith(".txt") and f != "unix.txt")


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
# (DESIGN §2), or from a selector load the host GDT accepts without trapping.
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
] + [(p, r) for gaps in KNOWN_GAPS.values() for p, r in gaps]

# Where an unpatched run must stop: a compat-mode `syscall` reaches the host kernel, which
# discards the guest's EIP before our seccomp filter stops it (runtime/signals.c).
UNPATCHED_STOP = {
    "sensitive": (r"^syscall \(EFER\.SCE=0\)", STATUS_UNSUPPORTED, "syscall or sysenter natively"),
}


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
    rc, out, err = run(patched, "--kernel-name", src, "--timeout", "20", cwd=SAMPLES)
    _check_against_golden(name, out, rc, err)


@pytest.mark.parametrize("name", _samples())
def test_sample_trap_tactic_matches_golden(name, samples_built, tmp_path):
    src = os.path.join("build", name + ".elf")
    patched = rewrite(os.path.join(SAMPLES, src), str(tmp_path / (name + ".trap.elf")),
                      "--tactics", "trap")
    rc, out, err = run(patched, "--kernel-name", src, "--timeout", "20", cwd=SAMPLES)
    _check_against_golden(name, out, rc, err)


@pytest.mark.parametrize("name", _samples())
def test_sample_unpatched_matches_golden_where_it_can(name, samples_built):
    """The trap-only baseline: the unpatched kernel, privileged instructions trapping."""
    want = _golden(name).splitlines()
    rc, out, err = run(os.path.join("build", name + ".elf"), "--timeout", "20", cwd=SAMPLES)
    got = out.splitlines()
    stop = UNPATCHED_STOP.get(name)
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
