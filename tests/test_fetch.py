"""Tests for kernels/fetch.py (Debian kernel fetcher + bzImage -> vmlinux) and
scripts/objdump-count.py.

Everything runs offline except test_real_fetch_gnumach, which downloads Debian's GNU Mach
package through apt (once; the cache makes later runs instant) and is skipped only when apt
cannot reach the archive at all."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kernels import fetch as F
from rewriter.cache import boot_root, kernels_root
from rewriter.multiboot import find_multiboot

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# synthetic inputs
# --------------------------------------------------------------------------------------------

def make_elf(cls: int = 1, machine: int = F.EM_386, text: bytes = b"\x90" * 64,
             multiboot: bool = False) -> bytes:
    """A tiny but well-formed ELF: header, one PT_LOAD, .text, .shstrtab, section headers
    last (as objcopy leaves vmlinux.bin)."""
    if multiboot:
        flags = 0x3
        text = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF) + text
    ehsize, phsize, shsize = (52, 32, 40) if cls == 1 else (64, 56, 64)
    text_off = 0x100
    shstr = b"\0.text\0.shstrtab\0"
    shstr_off = text_off + len(text)
    shoff = (shstr_off + len(shstr) + 7) & ~7
    vaddr = 0x100000
    if cls == 1:
        eh = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + b"\0" * 9, 2, machine, 1,
                         vaddr, ehsize, shoff, 0, ehsize, phsize, 1, shsize, 3, 2)
        ph = struct.pack("<IIIIIIII", 1, text_off, vaddr, vaddr, len(text), len(text), 5, 16)
        sh = [struct.pack("<IIIIIIIIII", *([0] * 10)),
              struct.pack("<IIIIIIIIII", 1, 1, 6, vaddr, text_off, len(text), 0, 0, 16, 0),
              struct.pack("<IIIIIIIIII", 7, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)]
    else:
        eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, machine, 1,
                         vaddr, ehsize, shoff, 0, ehsize, phsize, 1, shsize, 3, 2)
        ph = struct.pack("<IIQQQQQQ", 1, 5, text_off, vaddr, vaddr, len(text), len(text), 16)
        sh = [struct.pack("<IIQQQQIIQQ", *([0] * 10)),
              struct.pack("<IIQQQQIIQQ", 1, 1, 6, vaddr, text_off, len(text), 0, 0, 16, 0),
              struct.pack("<IIQQQQIIQQ", 7, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)]
    img = bytearray(shoff + 3 * shsize)
    img[0:ehsize] = eh
    img[ehsize:ehsize + phsize] = ph
    img[text_off:text_off + len(text)] = text
    img[shstr_off:shstr_off + len(shstr)] = shstr
    img[shoff:] = b"".join(sh)
    return bytes(img)


def compress(codec: str, data: bytes) -> bytes:
    if codec == "xz":   # as Debian's kernels: BCJ x86 + LZMA2, CRC32 check
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                             filters=[{"id": lzma.FILTER_X86},
                                      {"id": lzma.FILTER_LZMA2, "preset": 6}])
    if codec == "gzip":
        return gzip.compress(data, 9)
    if codec == "bzip2":
        return bz2.compress(data, 9)
    if codec == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    raise ValueError(codec)


def make_bzimage(vmlinux: bytes, codec: str = "xz", version: int = 0x20F,
                 setup_sects: int = 4) -> bytes:
    """A fake bzImage: boot sector + setup header, setup sectors, a decompressor 'stub', the
    payload (compressed vmlinux.bin + appended relocations, then the 32-bit size), junk."""
    relocs = b"\0\0\0\0" + struct.pack("<8I", *range(0xC1000010, 0xC1000030, 4)) + b"\0" * 4
    payload = compress(codec, vmlinux + relocs)
    payload += struct.pack("<I", len(vmlinux) + len(relocs))
    stub = b"\xfc\xfa" + b"\x90" * 0x1FE     # "startup_32" before the payload
    hdr = bytearray((setup_sects + 1) * 512)
    hdr[0x1F1] = setup_sects
    hdr[0x1FE:0x200] = b"\x55\xaa"
    hdr[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", hdr, 0x206, version)
    if version >= 0x208:
        struct.pack_into("<II", hdr, 0x248, len(stub), len(payload))
    return bytes(hdr) + stub + payload + b"\xde\xad\xbe\xef" * 100   # trailing junk


# --------------------------------------------------------------------------------------------
# extract_vmlinux
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", ["xz", "gzip", "bzip2", "lzma"])
def test_extract_vmlinux_codecs(codec):
    elf = make_elf()
    out = F.extract_vmlinux(make_bzimage(elf, codec))
    assert out == elf                        # relocations and size trailer trimmed away
    info = F.elf_info(out)
    assert (info["class"], info["machine"], info["text_size"]) == (1, F.EM_386, 64)
    assert info["exec_sections"] == [".text"] and info["stripped"]


def test_extract_vmlinux_elf64():
    elf = make_elf(cls=2, machine=F.EM_X86_64, text=b"\xcc" * 300)
    assert F.extract_vmlinux(make_bzimage(elf)) == elf
    assert F.elf_info(elf)["class"] == 2


def test_extract_vmlinux_old_protocol_scans_for_magic():
    elf = make_elf()
    assert F.extract_vmlinux(make_bzimage(elf, "gzip", version=0x206)) == elf


def test_extract_vmlinux_accepts_bytearray_and_memoryview():
    elf = make_elf()
    bz = make_bzimage(elf)
    assert F.extract_vmlinux(bytearray(bz)) == elf
    assert F.extract_vmlinux(memoryview(bz)) == elf


@pytest.mark.parametrize("blob", [b"", b"hello world" * 100, make_elf(),
                                  gzip.compress(make_elf())])
def test_extract_vmlinux_rejects_non_bzimage(blob):
    with pytest.raises(F.BzImageError, match="not a bzImage"):
        F.extract_vmlinux(blob)


def test_extract_vmlinux_corrupt_payload():
    bz = bytearray(make_bzimage(make_elf()))
    pm = 5 * 512
    poff, plen = struct.unpack_from("<II", bz, 0x248)
    mid = pm + poff + plen // 2
    bz[mid:mid + 16] = b"\xff" * 16
    with pytest.raises(F.BzImageError, match="no ELF vmlinux"):
        F.extract_vmlinux(bytes(bz))


def test_extract_vmlinux_payload_not_elf():
    bz = make_bzimage(b"just some bytes, not an ELF" * 10)
    with pytest.raises(F.BzImageError, match="does not decompress to an ELF"):
        F.extract_vmlinux(bz)


def test_find_multiboot():
    """The multiboot finder the fetcher checks a kernel with (rewriter/multiboot.py, the
    loader's), and the fields its manifest records."""
    elf = make_elf(multiboot=True)
    mb = find_multiboot(elf)
    assert mb.as_dict() == {"offset": 0x100, "flags": 3}
    assert find_multiboot(make_elf()) is None
    bad = bytearray(elf)
    bad[0x108] ^= 1                          # checksum no longer adds up
    assert find_multiboot(bytes(bad)) is None


# --------------------------------------------------------------------------------------------
# cache + manifest logic, downloader faked
# --------------------------------------------------------------------------------------------

@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RING1_CACHE", str(root))
    return root


class FakeApt:
    """Stands in for fetch._obtain: writes an unpacked package tree, counts its calls."""

    def __init__(self, files: dict[str, bytes], version: str = "1.0-1", fail: Exception = None):
        self.files, self.version, self.fail, self.calls = files, version, fail, 0

    def __call__(self, spec, work, progress):
        self.calls += 1
        root = work / "root"
        for rel, data in self.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        if self.fail:
            raise self.fail
        return (spec.package or "linux-image-6.1.0-99-686-unsigned"), self.version, root, "0" * 64


def gnumach_tree(text=b"\x90" * 64):
    return {"boot/gnumach-1.8-486.gz": gzip.compress(make_elf(text=text, multiboot=True)),
            "usr/share/doc/gnumach-image-1.8-486/README": b"doc"}


def test_fetch_caches_and_is_idempotent(cache, monkeypatch):
    fake = FakeApt(gnumach_tree())
    monkeypatch.setattr(F, "_obtain", fake)
    msgs = []
    p = F.fetch("gnumach", progress=msgs.append)
    assert p == cache / "gnumach" / "gnumach-1.8-486"
    assert p.read_bytes() == make_elf(multiboot=True)        # gunzipped
    m = json.loads((cache / "gnumach" / "manifest.json").read_text())
    assert m["package"] == "gnumach-image-1.8-486" and m["version"] == "1.0-1"
    assert m["files"]["kernel"]["sha256"] == F._sha256_file(p)
    assert m["files"]["kernel"]["size"] == p.stat().st_size
    assert m["multiboot"]["offset"] == 0x100 and m["elf"]["machine"] == F.EM_386
    assert any(".text=76 bytes" in s for s in msgs)   # 12-byte multiboot header + 64
    # second call: no download, no output, same path
    msgs.clear()
    assert F.fetch("gnumach", progress=msgs.append) == p
    assert fake.calls == 1 and msgs == []
    assert F.cached("gnumach") == p
    # no work directories left behind
    assert [x.name for x in cache.iterdir() if x.name.startswith(".tmp")] == []


def test_interrupted_fetch_leaves_nothing_that_looks_complete(cache, monkeypatch):
    monkeypatch.setattr(F, "_obtain", FakeApt(gnumach_tree(), fail=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        F.fetch("gnumach", progress=lambda s: None)
    assert F.cached("gnumach") is None
    assert not (cache / "gnumach" / "manifest.json").exists()
    assert [x.name for x in cache.iterdir() if x.name.startswith(".tmp")] == []


def test_kernel_without_manifest_or_with_wrong_size_is_not_cached(cache, monkeypatch):
    fake = FakeApt(gnumach_tree())
    monkeypatch.setattr(F, "_obtain", fake)
    p = F.fetch("gnumach", progress=lambda s: None)
    with open(p, "ab") as f:                 # a truncated/extended file is not "cached"
        f.write(b"x")
    assert F.cached("gnumach") is None
    assert F.fetch("gnumach", progress=lambda s: None) == p and fake.calls == 2
    assert F.cached("gnumach") == p
    (cache / "gnumach" / "manifest.json").unlink()
    assert F.cached("gnumach") is None


def test_stale_work_dir_is_removed(cache, monkeypatch):
    stale = cache / ".tmp-gnumach-deadbeef"
    (stale / "root").mkdir(parents=True)
    monkeypatch.setattr(F, "_obtain", FakeApt(gnumach_tree()))
    F.fetch("gnumach", progress=lambda s: None)
    assert not stale.exists()


def test_concurrent_fetches_download_once(cache, monkeypatch):
    fake = FakeApt(gnumach_tree())
    monkeypatch.setattr(F, "_obtain", fake)
    results = []
    ts = [threading.Thread(target=lambda: results.append(F.fetch("gnumach", lambda s: None)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4 and fake.calls == 1


def test_bzimage_kernel_keeps_both_files(cache, monkeypatch):
    elf = make_elf(text=b"\x55\x89\xe5" * 100)
    fake = FakeApt({"boot/vmlinuz-6.1.0-99-686": make_bzimage(elf),
                    "boot/config-6.1.0-99-686": b"CONFIG_X86_32=y\n"}, version="6.1.999-1")
    monkeypatch.setattr(F, "_obtain", fake)
    p = F.fetch("linux686", progress=lambda s: None)
    assert p.name == "vmlinux-6.1.0-99-686" and p.read_bytes() == elf
    assert F.cached("linux686", "bzimage").name == "vmlinuz-6.1.0-99-686"
    m = F.manifest("linux686")
    assert m["primary"] == "vmlinux" and m["elf"]["text_size"] == 300
    assert set(m["files"]) == {"bzimage", "vmlinux"}


def test_refresh_to_new_version_drops_old_files(cache, monkeypatch):
    monkeypatch.setattr(F, "_obtain", FakeApt(
        {"boot/vmlinuz-6.1.0-98-686": make_bzimage(make_elf())}))
    old = F.fetch("linux686", progress=lambda s: None)
    monkeypatch.setattr(F, "_obtain", FakeApt(
        {"boot/vmlinuz-6.1.0-99-686": make_bzimage(make_elf())}, version="2"))
    new = F.fetch("linux686", progress=lambda s: None, refresh=True)
    assert new != old and new.exists() and not old.exists()
    assert sorted(x.name for x in new.parent.iterdir()) == [
        "manifest.json", "vmlinux-6.1.0-99-686", "vmlinuz-6.1.0-99-686"]


def test_wrong_elf_machine_is_a_content_error(cache, monkeypatch):
    monkeypatch.setattr(F, "_obtain", FakeApt(
        {"boot/vmlinuz-6.1.0-99-686": make_bzimage(make_elf(cls=2, machine=F.EM_X86_64))}))
    with pytest.raises(F.FetchError, match="expected ELF32") as ei:
        F.fetch("linux686", progress=lambda s: None)
    assert ei.value.status == F.EXIT_CONTENT == 30 and F.cached("linux686") is None


def test_missing_multiboot_is_a_content_error(cache, monkeypatch):
    monkeypatch.setattr(F, "_obtain", FakeApt(
        {"boot/gnumach-1.8-486.gz": gzip.compress(make_elf())}))
    with pytest.raises(F.FetchError, match="multiboot") as ei:
        F.fetch("gnumach", progress=lambda s: None)
    assert ei.value.status == F.EXIT_CONTENT == 30


def test_unknown_name():
    with pytest.raises(F.FetchError) as ei:
        F.fetch("no-such-kernel")
    assert ei.value.status == 2


def test_main_statuses_and_one_line_errors(cache, monkeypatch, capsys):
    assert F.main(["no-such-kernel"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown kernel 'no-such-kernel'" in err
    assert "Traceback" not in err

    monkeypatch.setattr(F, "_obtain", FakeApt({}, fail=F.FetchError(
        "downloading gnumach-image-1.8-486:i386: `apt-get download ...` exited 100: "
        "E: Failed to fetch http://deb.debian.org/...", F.EXIT_NETWORK)))
    assert F.main(["gnumach"]) == F.EXIT_NETWORK == 26     # not 3, "internal error"
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ring1 fetch: error: gnumach: downloading gnumach-image")

    monkeypatch.setattr(F, "_obtain", FakeApt(gnumach_tree()))
    assert F.main(["-q", "gnumach"]) == 0
    out = capsys.readouterr()
    assert out.out == f"{cache / 'gnumach' / 'gnumach-1.8-486'}\n" and out.err == ""

    assert F.main(["--list"]) == 0
    assert "cached" in capsys.readouterr().out


def test_script_wrapper_lists(cache):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch-kernels.py"), "--list"],
                       capture_output=True, text=True, env=dict(os.environ))
    assert r.returncode == 0 and "linux686" in r.stdout and "invaders" in r.stdout
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch-kernels.py"), "bogus"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    # one parser: the script is `ring1 fetch`, option for option
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch-kernels.py"), "--help"],
                       capture_output=True, text=True)
    ring1 = subprocess.run([sys.executable, "-m", "rewriter.cli", "fetch", "--help"],
                           capture_output=True, text=True)
    assert r.returncode == ring1.returncode == 0 and r.stdout == ring1.stdout
    assert r.stdout.startswith("usage: ring1 fetch")


def test_cache_root_env(monkeypatch, tmp_path):
    """The fetched kernels' root and the boot cache's have one home (rewriter/cache.py)."""
    monkeypatch.delenv("RING1_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernels_root() == tmp_path / "ring1" / "kernels"
    assert boot_root() == tmp_path / "ring1" / "boot"
    monkeypatch.setenv("RING1_CACHE", str(tmp_path / "x"))
    assert kernels_root() == tmp_path / "x" and boot_root() == tmp_path / "x" / "boot"


# --------------------------------------------------------------------------------------------
# real: GNU Mach from Debian's archive
# --------------------------------------------------------------------------------------------

def test_real_fetch_gnumach():
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get: not a Debian system, cannot reach Debian's archive")
    try:
        p = F.fetch("gnumach", progress=lambda s: print(s, file=sys.stderr))
    except F.FetchError as e:
        if e.unreachable:
            pytest.skip(f"apt cannot reach the Debian archive: {e}")
        raise
    data = p.read_bytes()
    info = F.elf_info(data)
    assert info is not None and info["class"] == 1 and info["machine"] == F.EM_386
    assert info["exec_sections"] and info["text_size"] > 100_000
    offs = [o for o in range(0, min(8192, len(data)) - 3, 4)
            if struct.unpack_from("<I", data, o)[0] == 0x1BADB002]
    assert offs, "no multiboot magic 0x1BADB002 (4-aligned) in the first 8192 bytes"
    m = F.manifest("gnumach")
    assert m["package"] == "gnumach-image-1.8-486" and m["arch"] == "i386" and m["version"]
    assert m["files"]["kernel"]["sha256"] == F._sha256_file(p)


@pytest.mark.slow
def test_real_fetch_linux686():
    try:
        p = F.fetch("linux686", progress=lambda s: print(s, file=sys.stderr))
    except F.FetchError as e:
        if e.unreachable:
            pytest.skip(f"apt cannot reach the Debian archive: {e}")
        raise
    info = F.elf_info(p.read_bytes())
    assert (info["class"], info["machine"]) == (1, F.EM_386)
    assert info["text_size"] > 8_000_000 and ".init.text" in info["exec_sections"]
    bz = F.cached("linux686", "bzimage").read_bytes()
    assert F.extract_vmlinux(bz) == p.read_bytes()


# --------------------------------------------------------------------------------------------
# scripts/objdump-count.py
# --------------------------------------------------------------------------------------------

ALL_SENSITIVE = r"""
.text
.globl _start
_start:
cli; sti; hlt
in $0x60,%al; in (%dx),%eax; out %al,$0x80; outw %ax,(%dx)
insb; rep insl; outsb; rep outsw
lgdt (%eax); lidt (%eax); lldt %ax; ltr %ax
mov %eax,%cr0; mov %eax,%cr3; mov %cr2,%eax
mov %eax,%db7; mov %db6,%eax
invlpg (%eax); wbinvd; invd; clts; lmsw %ax; rdmsr; wrmsr; rdpmc
iret; iretw; int $0x80; into; .byte 0xf1
lcall $0x10,$0x1000; lcall *(%eax); ljmp $0x8,$0x2000; ljmp *(%ebx); lret; lret $4
mov %eax,%ds; mov (%eax),%ss; pop %es; pop %fs; pop %gs
lds (%eax),%ecx; les (%eax),%ecx; lfs (%eax),%ecx; lgs (%eax),%ecx; lss (%eax),%ecx
sysenter; sysexit
pushf; pushfw; popf; popfw
sgdt (%eax); sidt (%eax); sldt %eax; str %eax; smsw %eax
lar %eax,%ecx; lsl %eax,%ecx; verr %ax; verw %ax
mov %cs,%eax; mov %ss,(%eax); push %cs; push %ds; push %ss
cpuid; rdtsc; rdtscp; monitor; mwait; xsetbv; clac; stac; syscall; sysret; rsm
vmcall; vmlaunch; vmrun; vmmcall; getsec
# not sensitive
mov %fs:0x14,%eax; mov %eax,%gs:(%ebx); push %eax; pop %ebx; mov $1,%eax; int3
call _start; movl $0x10,%ds:(%eax); lea 0x4(%esp),%ecx; stosl; lodsb; insertps $0,%xmm1,%xmm2
"""

EXPECTED = {"in": 2, "out": 2, "ins": 2, "outs": 2, "mov_to_cr": 2, "iret": 2, "lcall": 2,
            "ljmp": 2, "lret": 2, "mov_to_sreg": 2, "pop_sreg": 3, "load_far_ptr": 5,
            "pushf": 2, "popf": 2, "mov_from_sreg": 2, "push_sreg": 3, "vmx_svm": 5}


def test_objdump_count_every_kind(tmp_path):
    if not all(shutil.which(t) for t in ("as", "ld", "objdump")):
        pytest.skip("binutils (as, ld, objdump) not installed")
    spec = importlib.util.spec_from_file_location("objdump_count",
                                                  ROOT / "scripts" / "objdump-count.py")
    oc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oc)
    (tmp_path / "all.s").write_text(ALL_SENSITIVE)
    subprocess.run(["as", "--32", "-o", tmp_path / "all.o", tmp_path / "all.s"], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-o", tmp_path / "all.elf", tmp_path / "all.o"],
                   check=True)
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "objdump-count.py"),
                        str(tmp_path / "all.elf")], capture_output=True, text=True, check=True)
    counts = json.loads(r.stdout)
    assert list(counts) == oc.KINDS
    want = {k: EXPECTED.get(k, 1) for k in oc.KINDS}
    assert counts == want
    assert "1 int3" in r.stderr
