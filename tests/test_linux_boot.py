"""The Linux boot protocol: `ring1 boot`/`ring1 run` of a bzImage or a vmlinux
(rewriter/bzimage.py, rewriter/cli.py), the zero page the runtime builds (runtime/loader.c
boot_linux) and the checks on a setup header and on where things go (runtime/image.c
image_linux_header / image_linux_layout).

The guest is a tiny bzImage built here from runtime/tests/guest/linux/: a real-mode setup
(setup.S: e820 from the BIOS into its zero page, protected mode, __BOOT_CS/__BOOT_DS, %esi)
that only QEMU runs, and a 32-bit part (payload.S) that prints the state a boot loader left
on COM1 -- registers, segments, the GDT's boot descriptors, the setup header fields a loader
fills in, what the setup code stores from the BIOS (e820 map, memory sizes, video state,
EDID filler, IST), the command line, the initrd. It goes in twice: flat at 1 MiB (what
QEMU's -kernel jumps to through the setup code) and as a gzip-compressed ELF payload, the
"vmlinux" that ring1 takes out, rewrites and enters directly. The transcripts must be equal
to QEMU's (`qemu-system-i386 -kernel -append -initrd`, the golden, run live).
Debian's real 686 kernel under both is the slow suite's (tests/test_boot_real.py).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import qemuref
from initramfs import busybox_initrd, newc_cpio
from conftest import RING1, ROOT, assert_one_line_error, run_ring1

GUEST = Path(ROOT) / "runtime" / "tests" / "guest" / "linux"
RUN = Path(ROOT) / "runtime" / "build" / "ring1-run"
QEMU = qemuref.BASE             # the reference machine (samples/qemu.sh); -vga none: NO_VGA
STATUS_LOAD_ERROR = 2
GUEST_EXIT = (0x31 << 1) | 1          # payload.S writes 0x31 to the debug-exit port
CMDLINE = "console=ttyS0 root=/dev/ram0 ring1=test"
INITRD = b"ring1 initrd test\n" + bytes(range(256)) * 37 + b"tail"


def _tool(*argv, cwd=None):
    r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    assert r.returncode == 0, f"{' '.join(map(str, argv))}:\n{r.stdout}{r.stderr}"


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """(setup bytes, flat 32-bit part, payload ELF), assembled with binutils."""
    for t in ("as", "ld", "objcopy"):
        if not shutil.which(t):
            pytest.skip(f"binutils' {t} is not installed")
    r = subprocess.run(["make", "-s", "-C", str(Path(ROOT) / "runtime")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    d = tmp_path_factory.mktemp("linuxparts")
    _tool("as", "--32", "-o", d / "setup.o", GUEST / "setup.S")
    _tool("ld", "-m", "elf_i386", "-Ttext=0", "-e", "0", "--build-id=none", "-o",
          d / "setup.elf", d / "setup.o")
    _tool("objcopy", "-O", "binary", "-j", ".text", d / "setup.elf", d / "setup.bin")
    _tool("as", "--32", "-o", d / "payload.o", GUEST / "payload.S")
    _tool("ld", "-m", "elf_i386", "-T", GUEST / "payload.ld", "--build-id=none",
          "--no-warn-rwx-segments", "-o", d / "payload.elf", d / "payload.o")
    _tool("objcopy", "-O", "binary", d / "payload.elf", d / "payload.bin")
    return ((d / "setup.bin").read_bytes(), (d / "payload.bin").read_bytes(),
            (d / "payload.elf").read_bytes())


def make_bzimage(parts, *, version=0x20F, loadflags=0x01, xloadflags=0, cmdline_size=255,
                 pref_address=0x100000, init_size=0x10000, signature=b"\x55\xaa",
                 magic=b"HdrS") -> bytes:
    """The bzImage: setup (header fields written here), then the protected-mode part: the
    flat 32-bit code at 1 MiB followed by the gzip-compressed ELF (payload_offset/length)."""
    setup, flat, elf = parts
    h = bytearray(setup)
    setup_sects = len(h) // 512 - 1
    pm = flat + b"\0" * ((-len(flat)) % 16)
    payload = gzip.compress(elf, mtime=0)         # ends in its size, as a kernel's payload does
    h[0x1F1] = setup_sects
    h[0x1FE:0x200] = signature
    h[0x202:0x206] = magic
    struct.pack_into("<H", h, 0x206, version)
    h[0x211] = loadflags
    struct.pack_into("<I", h, 0x214, 0x100000)                 # code32_start
    struct.pack_into("<I", h, 0x22C, 0x7FFFFFFF)               # initrd_addr_max
    struct.pack_into("<I", h, 0x230, 0x1000)                   # kernel_alignment
    struct.pack_into("<H", h, 0x236, xloadflags)
    struct.pack_into("<I", h, 0x238, cmdline_size)
    struct.pack_into("<II", h, 0x248, len(pm), len(payload))   # payload_offset, _length
    struct.pack_into("<Q", h, 0x258, pref_address)
    struct.pack_into("<I", h, 0x260, init_size)
    return bytes(h) + pm + payload


@pytest.fixture(scope="module")
def bz(parts, tmp_path_factory):
    d = tmp_path_factory.mktemp("linuxboot")
    p = d / "bzImage"
    p.write_bytes(make_bzimage(parts))
    (d / "initrd").write_bytes(INITRD)
    return p


@pytest.fixture
def cache(tmp_path):
    return {"RING1_CACHE": str(tmp_path / "cache")}


def qemu(kernel, *args):
    if not shutil.which(QEMU[0]):
        pytest.skip("qemu-system-i386 not installed")
    r = subprocess.run(QEMU + ["-kernel", str(kernel), *map(str, args)], capture_output=True,
                       timeout=60)
    return r.returncode, r.stdout.decode("latin-1")


@pytest.mark.parametrize("machine", sorted(qemuref.MACHINES))
@pytest.mark.parametrize("with_initrd", [True, False], ids=["initrd", "plain"])
def test_boot_bzimage_matches_qemu(bz, cache, with_initrd, machine):
    """`ring1 boot bzImage` (payload extracted, rewritten, entered by the 32-bit protocol)
    leaves the state QEMU's -kernel leaves: zero page (the BIOS's answers, with and without a
    VGA), e820, command line, initrd at QEMU's address, segments, GDT; QEMU's own spellings
    -append and -initrd work."""
    qx, rx = qemuref.MACHINES[machine]
    extra = ["-initrd", bz.parent / "initrd"] if with_initrd else []
    qrc, qout = qemu(bz, "-append", CMDLINE, *extra, *qx)
    assert qrc == GUEST_EXIT, qout
    assert qout.startswith("linuxboot: esi=00010000"), qout
    r = run_ring1("boot", bz, "--mem", "128M", "-append", CMDLINE, *extra, *rx, "--timeout",
                  "20", env=cache, timeout=300)
    assert (r.returncode, r.stdout) == (GUEST_EXIT, qout), str(r)
    if with_initrd:
        assert "initrd first line: ring1 initrd test\n" in qout
        # ring1's own spelling gives the same
        r = run_ring1("boot", bz, "--mem", "128M", "--cmdline", CMDLINE, "--initrd",
                      bz.parent / "initrd", *rx, "--timeout", "20", env=cache, timeout=300)
        assert (r.returncode, r.stdout) == (GUEST_EXIT, qout), str(r)


@pytest.mark.parametrize("mem", ["12M", "300M"])
def test_boot_other_memory_sizes_as_qemu(bz, cache, mem):
    """The initrd's place, the e820 map and the BIOS's memory sizes (int 15h 88h below and
    above 64 MiB, E801h below and above 16 MiB) follow --mem as they follow QEMU's -m."""
    qrc, qout = qemu(bz, "-m", mem, "-initrd", bz.parent / "initrd")
    assert qrc == GUEST_EXIT, qout
    r = run_ring1("boot", bz, "--mem", mem, "--initrd", bz.parent / "initrd", "--timeout",
                  "20", env=cache, timeout=300)
    assert (r.returncode, r.stdout) == (GUEST_EXIT, qout), str(r)


def test_run_bzimage_enters_the_vmlinux_unpatched(bz, cache):
    """`ring1 run bzImage` runs the vmlinux inside it without rewriting: the registers a boot
    loader sets are there (later lines read segment registers and the GDTR, which an
    unpatched guest reads from the host) -- with --unpatched: without it, the runtime's one
    line, naming the bzImage and `ring1 boot` on it, exit 2, nothing run."""
    qrc, qout = qemu(bz, "-append", CMDLINE)
    r = run_ring1("run", bz, "--mem", "128M", "-append", CMDLINE, "--timeout", "20",
                  "--unpatched", env=cache, timeout=120)
    assert r.stdout.splitlines()[0] == qout.splitlines()[0], str(r)
    r = run_ring1("run", bz, "--mem", "128M", "-append", CMDLINE, env=cache, timeout=120)
    assert r.returncode == STATUS_LOAD_ERROR and r.stdout == "" and len(r.err_lines) == 1, r
    line = r.err_lines[0]
    assert line.startswith("ring1-run: ") and " is not rewritten: " in line, line
    assert f"(the vmlinux of {bz.resolve()})" in line and f"`ring1 boot {bz.resolve()}`" in line
    assert "--unpatched" in line


def test_boot_vmlinux_elf_gets_a_default_header(parts, tmp_path, cache):
    """A bare vmlinux (the ELF, no bzImage): the runtime makes a protocol-2.10 header
    (initrd_addr_max 0x7fffffff, cmdline_size 2047); the rest is as for the bzImage."""
    elf = tmp_path / "vmlinux"
    elf.write_bytes(parts[2])
    r = run_ring1("boot", elf, "--mem", "128M", "--cmdline", CMDLINE, "--timeout", "20",
                  env=cache, timeout=300)
    assert r.returncode == GUEST_EXIT, str(r)
    lines = r.stdout.splitlines()
    assert lines[0] == "linuxboot: esi=00010000 ebx=00000000 edi=00000000 ebp=00000000"
    assert lines[1] == ("cs=00000010 ds=00000018 es=00000018 ss=00000018 if=00000000 "
                        "cr0.pe=00000001 cr0.pg=00000000")
    assert lines[3] == ("hdr version=0000020a type_of_loader=000000b0 loadflags=00000081 "
                        "heap_end_ptr=0000fe00 cmd_line_ptr=00020000")
    assert lines[4] == ("ramdisk_image=00000000 ramdisk_size=00000000 "
                        "initrd_addr_max=7fffffff cmdline_size=000007ff")
    assert f"cmdline=[{CMDLINE}]" in lines


# ---- bad images: one line, exit 2, before any rewriting ------------------------------------

BAD = {
    "old-protocol": ({"version": 0x209}, "boot protocol 2.09 is older than 2.10"),
    "64-bit": ({"xloadflags": 0x1}, "64-bit"),
    "zimage": ({"loadflags": 0}, "LOADED_HIGH"),
    "no-signature": ({"signature": b"\0\0"}, "0xaa55"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_bzimage_is_refused_before_rewriting(parts, tmp_path, cache, case):
    kw, needle = BAD[case]
    p = tmp_path / "bzImage"
    p.write_bytes(make_bzimage(parts, **kw))
    r = run_ring1("boot", p, "--mem", "128M", env=cache)
    assert_one_line_error(r, STATUS_LOAD_ERROR, needle)
    assert not (tmp_path / "cache" / "boot").exists() or \
        not list((tmp_path / "cache" / "boot").glob("*.r1.elf"))
    r = run_ring1("run", p, env=cache)
    assert_one_line_error(r, STATUS_LOAD_ERROR, needle)


def test_neither_elf_multiboot_nor_bzimage(tmp_path, cache):
    p = tmp_path / "junk"
    p.write_bytes(b"MZ" + b"\x90" * 4000)
    r = run_ring1("boot", p, env=cache)
    assert_one_line_error(r, STATUS_LOAD_ERROR, "not an ELF file, a multiboot kernel or a Linux "
                          "bzImage")


def test_bzimage_with_a_bad_payload(parts, tmp_path, cache):
    b = bytearray(make_bzimage(parts))
    off = (b[0x1F1] + 1) * 512 + struct.unpack_from("<I", b, 0x248)[0]
    b[off + 20:off + 60] = b"\xff" * 40                # corrupt the gzip stream
    p = tmp_path / "bzImage"
    p.write_bytes(bytes(b))
    r = run_ring1("boot", p, env=cache)
    assert_one_line_error(r, STATUS_LOAD_ERROR, "no ELF vmlinux")


def test_rewrite_of_a_bzimage_says_what_to_do(bz, tmp_path):
    r = run_ring1("rewrite", bz, "-o", tmp_path / "out.elf")
    assert_one_line_error(r, STATUS_LOAD_ERROR, "a Linux bzImage", "ring1 boot")


# ---- the runtime's own checks (ring1-run, crafted inputs) ----------------------------------

def run_rt(*args):
    """ring1-run --unpatched ARGS: the vmlinux here is unpatched."""
    r = subprocess.run([str(RUN), "--unpatched", *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def assert_rt_error(needle, *args):
    rc, out, err = run_rt(*args)
    assert rc >= 0, f"killed by signal {-rc}:\n{err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == STATUS_LOAD_ERROR and len(lines) == 1, f"exit {rc}:\n{err}"
    assert needle in lines[0], lines[0]
    assert lines[0].startswith("ring1-run: "), lines[0]


@pytest.fixture(scope="module")
def vmlinux(parts, tmp_path_factory):
    p = tmp_path_factory.mktemp("vmlinux") / "vmlinux"
    p.write_bytes(parts[2])
    return p


def test_runtime_boots_the_vmlinux_with_the_bzimage_header(vmlinux, bz):
    """ring1-run VMLINUX --linux-setup BZIMAGE (what ring1 boot runs) leaves the zero page
    QEMU leaves, for the lines an unpatched guest reads without a sensitive instruction."""
    qrc, qout = qemu(bz, "-append", CMDLINE, "-initrd", bz.parent / "initrd")
    rc, out, err = run_rt(vmlinux, "--linux-setup", bz, "--cmdline", CMDLINE, "--initrd",
                          bz.parent / "initrd", "--timeout", "20")
    assert out.splitlines()[0] == qout.splitlines()[0], err


SETUP_CASES = {
    "not-a-bzimage": (lambda b: b"\0" * 0x300, "no Linux setup header"),
    "short": (lambda b: b[:0x203], "no Linux setup header"),
    "cut-header": (lambda b: b[:0x230], "past the end of the file"),
    "old-protocol": (lambda b: _patch(b, "<H", 0x206, 0x201), "older than 2.10"),
    "64-bit": (lambda b: _patch(b, "<H", 0x236, 1), "64-bit"),
    "zimage": (lambda b: _patch(b, "B", 0x211, 0), "LOADED_HIGH"),
    "bad-jump": (lambda b: _patch(b, "B", 0x200, 0x90), "the jump at 0x200"),
    "header-too-long": (lambda b: _patch(b, "B", 0x201, 0xf0), "the jump at 0x200"),
    "header-too-short": (lambda b: _patch(b, "B", 0x201, 0x10), "the jump at 0x200"),
    "elsewhere": (lambda b: _patch(b, "<Q", 0x258, 0x200000), "pref_address"),
    "huge-init-size": (lambda b: _patch(b, "<I", 0x260, 0xfff00000), "init_size"),
}


def _patch(b: bytes, fmt: str, off: int, val: int) -> bytes:
    b = bytearray(b)
    struct.pack_into(fmt, b, off, val)
    return bytes(b)


@pytest.mark.parametrize("case", sorted(SETUP_CASES))
def test_runtime_refuses_a_bad_setup_header(vmlinux, bz, tmp_path, case):
    make, needle = SETUP_CASES[case]
    p = tmp_path / "setup"
    p.write_bytes(make(bz.read_bytes()))
    assert_rt_error(needle, vmlinux, "--linux-setup", p)


def test_runtime_checks_command_line_and_initrd(vmlinux, bz, tmp_path):
    assert_rt_error("this kernel takes at most 255", vmlinux, "--linux-setup", bz,
                    "--cmdline", "x" * 256)
    rc, out, err = run_rt(vmlinux, "--linux-setup", bz, "--cmdline", "x" * 255, "--timeout",
                          "20")
    assert rc == GUEST_EXIT and f"cmdline=[{'x' * 255}]" in out, err
    big = tmp_path / "big"
    big.write_bytes(b"\0" * (1536 << 10))
    assert_rt_error("does not fit in guest RAM between the kernel", vmlinux, "--mem", "2M",
                    "--initrd", big)
    huge = tmp_path / "huge"
    with open(huge, "wb") as f:
        f.truncate(4 << 20)
    assert_rt_error("--initrd", vmlinux, "--mem", "3M", "--initrd", huge)
    assert_rt_error("No such file", vmlinux, "--initrd", tmp_path / "missing")
    assert_rt_error("No such file", vmlinux, "--linux-setup", tmp_path / "missing")


def test_runtime_keeps_the_protocols_apart(vmlinux, bz, tmp_path):
    mb = Path(ROOT) / "runtime" / "build" / "guests" / "hello.elf"
    assert_rt_error("--initrd is for a Linux kernel", mb, "--initrd", bz.parent / "initrd")
    assert_rt_error("--linux-setup is for a Linux vmlinux", mb, "--linux-setup", bz)
    assert_rt_error("--module is for a multiboot kernel", vmlinux, "--module",
                    str(bz.parent / "initrd"))


def test_runtime_refuses_an_elf_that_is_neither(tmp_path, parts):
    """An ELF without a multiboot header and without a "Linux" note boots by neither
    protocol."""
    b = bytearray(parts[2])
    i = b.find(b"Linux\0")
    b[i:i + 6] = b"Linus\0"
    p = tmp_path / "notlinux"
    p.write_bytes(bytes(b))
    assert_rt_error("no multiboot header", p)


def test_a_moved_call_returns_to_the_physical_alias(parts, tmp_path, cache):
    """runtime/tests/guest/linux/alias.S: linked at 0xc0100000, run at 0x100000 with paging
    off, `cpuid` right before a `call` (Linux's startup_32 before load_ucode_bsp): the
    trampoline's call pushes the linked return address; the runtime continues at the alias."""
    o, elf = tmp_path / "alias.o", tmp_path / "alias.elf"
    _tool("as", "--32", "-o", o, GUEST / "alias.S")
    _tool("ld", "-m", "elf_i386", "-T", GUEST / "alias.ld", "--build-id=none",
          "--no-warn-rwx-segments", "-o", elf, o)
    r = run_ring1("boot", elf, "--stats", "--timeout", "10", env=cache, timeout=300)
    assert (r.returncode, r.stdout) == (GUEST_EXIT, "alias: back from the call\n"), str(r)
    assert "event alias-return           1" in r.stderr, r.stderr


# ---- Debian's 686 kernel (slow) -------------------------------------------------------------

LINUX_CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1"

# Lines where ring1's machine differs from QEMU's, on purpose or not yet done (docs/linux.md
# has the details): removed from both transcripts before they are compared.
LINUX_DIFFERENCES = [
    # ring1's ACPI tables are QEMU's but for the DSDT, a minimal one (docs/linux.md): its size
    # moves the tables after it, and what it leaves out Linux does not find
    (r"SMBIOS|DMI|^ACPI: (RSDT|FACP|DSDT|APIC|HPET|WAET) 0x|^ACPI: Reserving (FACP|DSDT|APIC|"
     r"HPET|WAET) table|^ACPI: PM: \(supports|^ACPI: Enabled \d+ GPEs|^acpiphp: Slot|"
     r"^ACPI: PCI: Interrupt link|^pnp: PnP ACPI: found|^pnp 00:",
     "no SMBIOS; ring1's minimal DSDT (PCI0 and \\_S5): no S3/S4, GPEs, hotplug slots, "
     "interrupt links or PnP devices"),
    (r"^PCI: PCI BIOS revision|^pci 0000:00:01\.1", "no BIOS32 service directory (PCI BIOS); "
     "no PIIX3 IDE function"),
    (r"^Memory: ", "the reserved total: 116 KiB more under QEMU (not explained yet)"),
    (r"tsc|TSC|clocksource|Calibrating delay|BogoMIPS|APIC calibration|APIC delta|APIC timer "
     r"disabled|sched_clock|Unstable clock|local clock|trace_clock|^on the kernel command line$|"
     r"PM-Timer running at invalid rate",
     "TSC and APIC timer calibration: ring1's virtual TSC runs at 1 GHz and its PIT "
     "calibrates it at once; QEMU's TSC is the host's and its PIT calibration fails; a loaded "
     "host can make Linux's PM timer check against the PIT fail (on either)"),
    (r"^audit: type=2000|rtc_cmos|ttyS0 at I/O|^i8042: ", "times; devices named by PnP (ACPI) "
     "under QEMU, probed under ring1 (its DSDT has no ISA devices)"),
    (r"^Trying to unpack rootfs|^Freeing initrd memory|^input: AT Translated Set 2 keyboard",
     "asynchronous: its place varies (the keyboard's: serio's thread, after the 8042's probe)"),
]


def linux_lines(transcript: str) -> list[str]:
    import re
    text = transcript.replace("\r", "")
    text = text[text.index("Linux version"):]
    out = []
    for ln in text.splitlines():
        ln = re.sub(r"^\[ *\d+\.\d+\] ", "", ln)
        if not any(re.search(rx, ln) for rx, _ in LINUX_DIFFERENCES):
            out.append(ln)
    return out


@pytest.mark.slow
def test_linux686_boots_to_init_as_under_qemu(tmp_path):
    """Debian's 686 bzImage with an initramfs whose /init prints a line: `ring1 boot`
    (rewrite cached, the Linux boot protocol) and QEMU -kernel -initrd -append print the same
    messages, in order, up to /init's line -- apart from LINUX_DIFFERENCES."""
    from conftest import kernel
    from kernels import fetch
    kernel("linux686")
    bz = fetch.cached("linux686", "bzimage")
    o, init = tmp_path / "init.o", tmp_path / "init"
    _tool("as", "--32", "-o", o, GUEST / "init.S")
    _tool("ld", "-m", "elf_i386", "-static", "-o", init, o)
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(newc_cpio([("init", 0o100755, init.read_bytes())]))
    qrc, qout = qemu(bz, "-m", "256M", "-initrd", initrd, "-append", LINUX_CMDLINE)
    r = run_ring1("boot", bz, "--mem", "256M", "-initrd", initrd, "-append", LINUX_CMDLINE,
                  "--timeout", "120", env={"RING1_CACHE": str(tmp_path / "cache")},
                  timeout=1200)
    q, ours = linux_lines(qout), linux_lines(r.stdout)
    assert "Run /init as init process" in q and "hello from /init" in q, qout
    assert "Run /init as init process" in ours and "hello from /init" in ours, str(r)
    upto = q.index("hello from /init") + 1
    assert ours[:upto] == q[:upto], "\n".join(
        __import__("difflib").unified_diff(q[:upto], ours[:upto], "qemu", "ring1", lineterm=""))
    # /init powered off: through ACPI (PIIX4's PM1a_CNT, S5) on both, and both exit 0
    assert qrc == 0 and "reboot: Power down" in qout, qout[-2000:]
    assert r.returncode == 0 and "reboot: Power down" in r.stdout, str(r)


BUSYBOX_INIT = b"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "ring1: shell up"
uname -a
cat /proc/cpuinfo
ls -1 /proc /sys
echo hello > /tmp/f; cat /tmp/f
echo "ring1: dmesg"
dmesg | tail -2
echo "ring1: dmesg end"
sh -c 'for i in 1 2 3; do echo i=$i; done'
echo "ring1: done"
poweroff -f
"""

# Lines of the busybox session that differ, each with its reason (regex on a line).
BUSYBOX_DIFFERENCES = [
    (r"\d+", "ls /proc: the process IDs, which depend on when kernel threads started"),
    (r"(cpu MHz|bogomips)\s*:.*", "the TSC's rate: ring1's virtual TSC runs at 1 GHz, QEMU's "
     "at the host's"),
]


@pytest.mark.slow
def test_linux686_runs_a_busybox_session_as_under_qemu(tmp_path):
    """Debian's 686 kernel with Debian's static busybox as /init (a shell script: uname -a,
    /proc/cpuinfo, ls /proc /sys, a file in tmpfs, dmesg | tail, a loop): the session's lines
    are QEMU's but for the listed differences and dmesg's (time). It needs the C library's
    thread pointer (%gs loaded with 0x33 natively in ring 3: made again from the guest's GDT
    at the next exit) and no false repair of int3 padding (docs/code-copies.md); each stopped
    it before."""
    from conftest import kernel
    from kernels import fetch
    kernel("linux686")
    kernel("busybox")
    bz = fetch.cached("linux686", "bzimage")
    bb = fetch.cached("busybox").read_bytes()
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(busybox_initrd(bb, BUSYBOX_INIT))
    qrc, qout = qemu(bz, "-m", "256M", "-initrd", initrd, "-append", LINUX_CMDLINE)
    r = run_ring1("boot", bz, "--mem", "256M", "-initrd", initrd, "-append", LINUX_CMDLINE,
                  "--timeout", "120", "--stats", env={"RING1_CACHE": str(tmp_path / "cache")},
                  timeout=1200)
    used = set()

    def session(t):
        lines = t.replace("\r", "").splitlines()
        lines = lines[lines.index("ring1: shell up"):lines.index("ring1: done") + 1]
        d0, d1 = lines.index("ring1: dmesg"), lines.index("ring1: dmesg end")
        out = []
        for ln in lines[:d0] + lines[d1:]:
            if re.match(r"\[ *\d+\.\d+\] ", ln):
                continue   # the kernel's own console messages, wherever they fall (the TSC's
                           # refined calibration, a second after boot, comes mid-session)
            hit = [rx for rx, _ in BUSYBOX_DIFFERENCES if re.fullmatch(rx, ln)]
            used.update(hit)
            if not hit:
                out.append(ln)
        return out
    want = session(qout)
    assert "hello" in want and "i=3" in want and "vendor_id\t: GenuineIntel" in want, qout
    assert "kernel" in want and "devices" in want, qout   # /sys listed
    assert session(r.stdout) == want, str(r)
    assert used == {rx for rx, _ in BUSYBOX_DIFFERENCES}, used   # each one still differs
    assert "native-gs-load" in r.stderr and "Oops" not in r.stdout, str(r)


# Zero-page bytes only QEMU's path fills, each with its reason: (offset, length).
ZERO_PAGE_DIFFERENCES = {
    (0x000, 2): "screen_info.orig_x/orig_y: where the decompressor's messages left the cursor",
    (0x040, 20): "apm_bios_info: SeaBIOS's APM BIOS (ring1 has no firmware code)",
    (0x1e4, 4): "scratch: the decompressor's stack slot",
    (0x211, 1): "loadflags: KASLR_FLAG, set by the decompressor",
}


def zero_page(transcript: str) -> bytearray:
    out = bytearray()
    for ln in transcript.replace("\r", "").splitlines():
        if ln.startswith("bp "):
            out += bytes.fromhex(ln.split(":", 1)[1])
    assert len(out) == 4096, transcript[-2000:]
    for (off, n) in ZERO_PAGE_DIFFERENCES:
        out[off:off + n] = b"\xee" * n
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mem", [64, 256])
def test_linux686_zero_page_as_under_qemu(tmp_path, mem):
    """The zero page Debian's kernel keeps (/sys/kernel/boot_params/data, dumped by /init):
    what ring1's loader wrote equals what QEMU's loader, SeaBIOS and Linux's own real-mode setup
    wrote, but for ZERO_PAGE_DIFFERENCES."""
    from conftest import kernel
    from kernels import fetch
    kernel("linux686")
    bz = fetch.cached("linux686", "bzimage")
    o, init = tmp_path / "init.o", tmp_path / "init"
    _tool("as", "--32", "-o", o, GUEST / "bootparams.S")
    _tool("ld", "-m", "elf_i386", "-static", "-o", init, o)
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(newc_cpio([("sys", 0o40755, b""), ("init", 0o100755, init.read_bytes())]))
    cmd = "console=ttyS0 panic=-1"
    qrc, qout = qemu(bz, "-m", f"{mem}M", "-initrd", initrd, "-append", cmd)
    r = run_ring1("boot", bz, "--mem", f"{mem}M", "-initrd", initrd, "-append", cmd,
                  "--timeout", "120", env={"RING1_CACHE": str(tmp_path.parent / "cache")},
                  timeout=1200)
    q, ours = zero_page(qout), zero_page(r.stdout)
    diff = [f"{i:#05x}: qemu {q[i]:02x} ring1 {ours[i]:02x}" for i in range(4096) if q[i] != ours[i]]
    assert not diff, "\n".join(diff)
