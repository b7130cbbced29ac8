"""The unix sample kernel (samples/unix) on the reference machine (QEMU).

The kernel boots from samples/build/unix.elf with samples/build/unix-fs.img as IDE drive 1
(a fresh copy per run: QEMU writes to it) and samples/unix/session.txt typed on COM1, all of it
at once. The serial transcript must equal samples/golden/unix.txt byte for byte, end with the
`halt` command's debug-exit value 0, and be the same on every run. `make -C samples unix-golden`
rewrites the golden; the QEMU command line is samples/qemu.sh's plus the drive.
"""
import difflib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import qemuref

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BUILD = SAMPLES / "build"
QEMU_RUN = SAMPLES / "qemu.sh"
KERNEL = BUILD / "unix.elf"
FS_IMAGE = BUILD / "unix-fs.img"
SESSION = SAMPLES / "unix" / "session.txt"
GOLDEN = SAMPLES / "golden" / "unix.txt"
TIMEOUT = 30          # seconds; the session takes well under one under QEMU
EXIT_SUCCESS = 1      # QEMU's status after the guest writes 0 to isa-debug-exit
EXIT_PANIC = 3        # ... after the kernel's panic() writes 1


@pytest.fixture(scope="module")
def built():
    proc = subprocess.run(["make", "-s", "-C", str(SAMPLES), "unix"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.fail(f"make -C samples unix failed:\n{proc.stdout}\n{proc.stderr}")
    return KERNEL


def run_unix(tmp_path, name, session=None, disk=True, extra=()):
    """Boot the kernel under QEMU (extra: more QEMU options); return (exit status, transcript
    bytes)."""
    args = [str(QEMU_RUN), str(KERNEL)]
    if disk:
        image = tmp_path / f"{name}-fs.img"
        shutil.copyfile(FS_IMAGE, image)
        args += ["-drive", f"file={image},index=1,media=disk,format=raw"]
    args += list(extra)
    try:
        proc = subprocess.run(args, input=session if session is not None else b"",
                              capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        partial = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"unix ({name}): no debug-exit within {TIMEOUT}s (hung?); "
                    f"transcript so far:\n{partial}")
    return proc.returncode, proc.stdout


def diff(want, got, labels):
    lines = difflib.unified_diff(want.decode(errors="replace").splitlines(keepends=True),
                                 got.decode(errors="replace").splitlines(keepends=True), *labels)
    return "unix: transcripts differ\n" + "".join(lines)


@pytest.fixture(scope="module")
def first_run(built, tmp_path_factory):
    return run_unix(tmp_path_factory.mktemp("unix"), "run1", SESSION.read_bytes())


def test_transcript_matches_golden(first_run):
    status, got = first_run
    want = GOLDEN.read_bytes()
    assert got == want, diff(want, got, ("golden/unix.txt", "qemu unix.elf"))
    assert status == EXIT_SUCCESS, (f"unix: QEMU exit status {status}, want {EXIT_SUCCESS} "
                                    f"(debug-exit value {(status - 1) // 2})")


def test_transcript_without_vga_matches_golden(built, tmp_path):
    """The golden comes from the reference machine, with QEMU's std VGA (-nodefaults -vga
    std), whose CRTC the console's cursor writes reach; without a display adapter (-vga none
    after it: ring1-run --vga none's reference) they go nowhere and the transcript is the
    same."""
    status, got = run_unix(tmp_path, "novga", SESSION.read_bytes(), extra=qemuref.NO_VGA)
    want = GOLDEN.read_bytes()
    assert got == want, diff(want, got, ("golden/unix.txt", "qemu -vga none unix.elf"))
    assert status == EXIT_SUCCESS


def test_transcript_is_deterministic(first_run, tmp_path):
    _, once = first_run
    _, again = run_unix(tmp_path, "run2", SESSION.read_bytes())
    assert once == again, diff(once, again, ("run 1", "run 2"))


def test_every_session_command_is_echoed_after_a_prompt(first_run):
    """The kernel echoes input when the shell consumes it, so each typed line follows a
    prompt, in order, whatever the timing of its arrival."""
    _, got = first_run
    typed = [line for line in SESSION.read_text().splitlines()]
    prompted = [line[2:] for line in got.decode().splitlines() if line.startswith("$ ")]
    assert prompted == typed


def test_refuses_to_boot_without_its_disk(built, tmp_path):
    status, got = run_unix(tmp_path, "nodisk", disk=False)
    assert b"panic: ide: no disk on the primary slave" in got, got.decode(errors="replace")
    assert status == EXIT_PANIC


def test_kernel_is_linked_high_and_loaded_low(built):
    """Multiboot ELF: program headers with p_vaddr 0x801xxxxx and p_paddr 0x001xxxxx, and an
    entry point that is a physical address (the loader jumps there with paging off)."""
    data = KERNEL.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 1, "not an ELF32 file"
    entry, phoff = struct.unpack_from("<II", data, 24)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    loads = []
    for i in range(phnum):
        p_type, _, vaddr, paddr = struct.unpack_from("<IIII", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((vaddr, paddr))
    assert loads, "no PT_LOAD segments"
    for vaddr, paddr in loads:
        assert vaddr - paddr == 0x80000000, (hex(vaddr), hex(paddr))
    assert min(p for _, p in loads) == 0x100000
    assert 0x100000 <= entry < 0x80000000, hex(entry)
    # The multiboot header is within the first 8 KiB, 4-byte aligned.
    magic = struct.pack("<I", 0x1BADB002)
    off = data.find(magic)
    assert 0 <= off < 8192 and off % 4 == 0
