"""The runtime trusts nothing in the image: every field the loader and the hypercall handlers read
is checked before use (runtime/image.c).

Each case takes a real patched sample (`ring1 rewrite samples/build/sensitive.elf`, with every
tactic or trap-only), or an unpatched one (samples/build/timer.elf), or a tiny a.out-kludge kernel, corrupts one field and runs ring1-run on it:
the run must end with status 2 (bad image), exactly one line on stderr naming the file and the
problem, never a crash signal or a runtime failure. The unmodified images boot (the samples'
transcripts are checked against QEMU's in test_runtime_boot.py). Runs of the unpatched bases
("plain", "aout"; UNPATCHED) and of images made from them pass --unpatched (ring1-run refuses
an unpatched image without it, after loading it).
"""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from conftest import make_aout_kludge
from rewriter import abi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "runtime")
RUN = os.path.join(RUNTIME, "build", "ring1-run")
RING1 = os.path.join(ROOT, ".venv", "bin", "ring1")
SAMPLE = os.path.join(ROOT, "samples", "build", "sensitive.elf")
PLAIN = os.path.join(ROOT, "samples", "build", "timer.elf")    # boots unpatched, too
STATUS_LOAD_ERROR = 2


@pytest.fixture(scope="module", autouse=True)
def built():
    r = subprocess.run(["make", "-s", "-C", RUNTIME], capture_output=True, text=True)
    assert r.returncode == 0, "make -C runtime failed:\n" + r.stdout + r.stderr
    if not os.path.exists(SAMPLE):
        pytest.skip("samples not built (make -C samples)")


def _rewrite(dst, *opts):
    if not os.path.exists(RING1):
        pytest.skip("the rewriter (ring1 CLI) is not installed in .venv")
    r = subprocess.run([RING1, "rewrite", *opts, SAMPLE, "-o", str(dst)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return dst.read_bytes()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    with open(PLAIN, "rb") as f:
        plain = f.read()
    return {"patched": _rewrite(d / "s.r1.elf"), "trap": _rewrite(d / "s.trap.elf", "--tactics",
                                                                   "trap"),
            "plain": plain, "aout": AOUT}


# A raw a.out-kludge kernel: 32 bytes of padding, the header at file offset 32 (loaded at
# 0x100020), then `mov al, 0; out 0xf4, al; cli; hlt` at the entry 0x100040, and 4 KiB of bss.
AOUT_LOAD = 0x100000
AOUT = make_aout_kludge(AOUT_LOAD, bytes.fromhex("b000e6f4faf4ebfd"), AOUT_LOAD + 64,
                        bss=0x1000, lead=b"\0" * 32)
AOUT_MH = 32     # file offset of the multiboot header
# The same with 48 bytes of padding, cut 16 bytes into its header (64 bytes: not too small).
AOUT_CUT = make_aout_kludge(AOUT_LOAD, bytes.fromhex("b000e6f4faf4ebfd"), AOUT_LOAD + 80,
                            lead=b"\0" * 48)[:64]


# The bases without a .ring1 note: their runs say --unpatched.
UNPATCHED = {"plain", "aout"}


def run(path, *args, unpatched=False):
    """ring1-run PATH ARGS, with --unpatched if `unpatched` (an image from an UNPATCHED base)."""
    flag = ["--unpatched"] if unpatched else []
    r = subprocess.run([RUN, str(path), *flag, *args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def assert_load_error(path, needle, *args, unpatched=False):
    rc, out, err = run(path, *args, unpatched=unpatched)
    assert rc >= 0, f"killed by signal {-rc}:\n{err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == STATUS_LOAD_ERROR, f"exit {rc}, want {STATUS_LOAD_ERROR}:\n{err}"
    assert len(lines) == 1, f"want one line on stderr, got:\n{err}"
    assert "internal error" not in err and "runtime failure" not in err
    assert out == ""
    assert lines[0].startswith("ring1-run: "), lines[0]
    assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
    assert all(32 <= ord(c) < 127 for c in lines[0]), f"unprintable bytes in {lines[0]!r}"
    return lines[0]


# ---- reading and changing an ELF image -------------------------------------------------------
class Elf:
    def __init__(self, data: bytes):
        self.b = bytearray(data)

    def u32(self, off):
        return struct.unpack_from("<I", self.b, off)[0]

    def set32(self, off, v):
        struct.pack_into("<I", self.b, off, v & 0xFFFFFFFF)

    def set16(self, off, v):
        struct.pack_into("<H", self.b, off, v & 0xFFFF)

    @property
    def phoff(self):
        return self.u32(28)

    @property
    def phnum(self):
        return struct.unpack_from("<H", self.b, 44)[0]

    def ph(self, i):
        return self.phoff + 32 * i

    def phdrs(self):
        return [struct.unpack_from("<8I", self.b, self.ph(i)) for i in range(self.phnum)]

    def ph_index(self, pred):
        return next(i for i, p in enumerate(self.phdrs()) if pred(p))

    def loads(self):
        """Indices of the PT_LOAD segments below the window (the kernel's own)."""
        return [i for i, p in enumerate(self.phdrs()) if p[0] == 1 and p[2] < 0xff000000]

    # the ring1 note: PT_NOTE segment holding namesz, descsz, type, "ring1\0\0\0", desc
    @property
    def note(self):
        return self.phdrs()[self.ph_index(lambda p: p[0] == 4)][1]

    @property
    def desc(self):
        return self.note + 20

    # the .ring1 segment and its header
    @property
    def ring1_ph(self):
        return self.ph_index(lambda p: p[0] == 1 and p[2] >= 0xff000000)

    @property
    def seg(self):
        return self.phdrs()[self.ring1_ph][1]

    @property
    def seg_vaddr(self):
        return self.phdrs()[self.ring1_ph][2]

    def hoff(self, field):
        """File offset of a uint32 field of struct r1_header."""
        i = abi.HEADER_FIELDS.index(field)
        return self.seg + 8 + 4 * (i - 1)

    def hdr(self, field):
        return self.u32(self.hoff(field))

    def site(self, i, field="addr"):
        off = {"addr": 0, "resume": 4, "tramp": 8, "kind": 12, "tactic": 14, "len": 15}[field]
        return self.seg + self.hdr("sites_off") + 32 * i + off

    def sites(self):
        base = self.seg + self.hdr("sites_off")
        return [dict(zip(abi.SITE_FIELDS, abi.SITE.unpack_from(self.b, base + 32 * i)))
                for i in range(self.hdr("nsites"))]

    def map_entry(self, name, i, field):
        return (self.seg + self.hdr(f"map_{name}_off") + 8 * i +
                (0 if field == "orig" else 4))

    def undo(self, i=0, field="offset"):
        p = self.seg + self.hdr("undo_off")
        for _ in range(i):
            p += 8 + (self.u32(p + 4) + 3 & ~3)
        return p + (0 if field == "offset" else 4)


def _first_site(e, tactic):
    return next(i for i, s in enumerate(e.sites()) if s["tactic"] == tactic)


# Each case: (image, what to change, words expected in the message). The change is a function of
# an Elf (patched/trap/plain) or of a bytearray (aout).
def _swap(e, a, b, size):
    e.b[a:a + size], e.b[b:b + size] = e.b[b:b + size], e.b[a:a + size]


CASES = {
    # -- the ring1 note --------------------------------------------------------------------------
    "note_image_vaddr_outside_segment": ("patched", lambda e: e.set32(e.desc + 8, 0x00100000),
                                         "header address 0x100000 is not inside"),
    "note_image_vaddr_past_segment": ("patched", lambda e: e.set32(e.desc + 8, 0xffff0000),
                                      "not inside the .ring1 segment"),
    "note_image_vaddr_misaligned": ("patched", lambda e: e.set32(e.desc + 8, e.seg_vaddr + 2),
                                    "not 4-byte aligned"),
    "note_window_unaligned": ("patched", lambda e: e.set32(e.desc + 4, 0xffc01000),
                              "not aligned to the window size"),
    "note_window_in_ram": ("patched", lambda e: e.set32(e.desc + 4, 0x00400000),
                           "overlaps guest RAM"),
    "note_window_elsewhere": ("patched", lambda e: e.set32(e.desc + 4, 0xbfc00000),
                              "no .ring1 segment inside the window"),
    "note_abi_version": ("patched", lambda e: e.set32(e.desc, 99), "ABI version 99"),
    "note_flags": ("patched", lambda e: e.set32(e.desc + 12, 0x80), "unknown flags 0x80"),
    "note_descsz_wraps": ("patched", lambda e: e.set32(e.note + 4, 0xfffffffd),
                          "runs past its end"),
    "note_descsz_small": ("patched", lambda e: e.set32(e.note + 4, 40), "descriptor is 40 bytes"),
    "note_namesz_huge": ("patched", lambda e: e.set32(e.note, 0xfffffffe), "runs past its end"),
    "pt_note_outside_file": ("patched",
                             lambda e: e.set32(e.ph(e.ph_index(lambda p: p[0] == 4)) + 4,
                                               0x7fff0000), "PT_NOTE segment"),
    "pt_note_size_wraps": ("patched",
                           lambda e: e.set32(e.ph(e.ph_index(lambda p: p[0] == 4)) + 16,
                                             0xffffffff), "outside the file"),
    # -- ELF header and program headers ----------------------------------------------------------
    "e_phoff_past_file": ("patched", lambda e: e.set32(28, 0x7ffffff0), "program header table"),
    "e_phoff_wraps": ("patched", lambda e: e.set32(28, 0xfffffff0), "program header table"),
    "e_phnum_huge": ("patched", lambda e: e.set16(44, 0xffff), "program header table"),
    "e_phnum_zero": ("plain", lambda e: e.set16(44, 0), "e_phnum is 0"),
    "e_phentsize": ("patched", lambda e: e.set16(42, 40), "e_phentsize is 40"),
    "e_machine": ("plain", lambda e: e.set16(18, 62), "not a 32-bit x86 ELF"),
    "e_entry_outside": ("plain", lambda e: e.set32(24, 0x00500000), "entry point 0x500000"),
    "load_offset_past_file": ("patched", lambda e: e.set32(e.ph(e.loads()[0]) + 4, 0x40000000),
                              "outside the file"),
    "load_filesz_wraps": ("patched", lambda e: e.set32(e.ph(e.loads()[0]) + 16, 0xfffff800),
                          "outside the file"),
    "load_filesz_above_memsz": ("plain",
                                lambda e: e.set32(e.ph(e.loads()[0]) + 16,
                                                  e.phdrs()[e.loads()[0]][5] + 4),
                                "larger than p_memsz"),
    "load_paddr_outside_ram": ("patched", lambda e: e.set32(e.ph(e.loads()[0]) + 12, 0x7ff00000),
                               "outside guest RAM"),
    "load_paddr_wraps": ("plain", lambda e: e.set32(e.ph(e.loads()[0]) + 12, 0xfffff000),
                         "outside guest RAM"),
    "load_vaddr_wraps": ("plain", lambda e: e.set32(e.ph(e.loads()[0]) + 8, 0xfffff000),
                         "wraps past 4 GiB"),
    "load_overlaps_window": ("patched", lambda e: e.set32(e.ph(e.loads()[0]) + 8, 0xffbff000),
                             "overlaps the hypervisor window"),
    "loads_overlap": ("plain", lambda e: e.set32(e.ph(e.loads()[1]) + 12,
                                                 e.phdrs()[e.loads()[0]][3] + 0x100),
                      "overlaps an earlier one"),
    "two_segments_in_window": ("patched", lambda e: e.set32(e.ph(e.loads()[1]) + 8, 0xffe00000),
                               "two PT_LOAD segments inside the hypervisor window"),
    "ring1_below_image_area": ("patched", lambda e: e.set32(e.ph(e.ring1_ph) + 8, 0xffc00000),
                               "not inside the window's image area"),
    "ring1_wraps": ("patched", lambda e: e.set32(e.ph(e.ring1_ph) + 20, 0x00400000),
                    "wraps past 4 GiB"),   # past the end of the window at the top 4 MiB
    "ring1_filesz_above_memsz": ("patched", lambda e: e.set32(e.ph(e.ring1_ph) + 20, 0x100),
                                 "larger than p_memsz"),
    "ring1_offset_past_file": ("patched", lambda e: e.set32(e.ph(e.ring1_ph) + 4, 0x00100000),
                               "outside the file"),
    # -- multiboot header ----------------------------------------------------------------------
    "multiboot_unknown_flags": ("plain", lambda e: _mb_flags(e, 0x8),
                                "requires features this loader does not know"),
    # -- the .ring1 header -----------------------------------------------------------------------
    "header_magic": ("patched", lambda e: e.b.__setitem__(e.seg, ord("X")), "bad magic"),
    "header_abi_version": ("patched", lambda e: e.set32(e.hoff("abi_version"), 1),
                           f"ABI version 1, the note says {abi.ABI_VERSION}"),
    "header_window_base": ("patched", lambda e: e.set32(e.hoff("window_base"), 0xbfc00000),
                           "window base 0xbfc00000"),
    "header_flags": ("patched", lambda e: e.set32(e.hoff("flags"), 1), "flags 0x1, the note"),
    "header_size_small": ("patched", lambda e: e.set32(e.hoff("header_size"), 8),
                          "header_size 8"),
    "header_size_huge": ("patched", lambda e: e.set32(e.hoff("header_size"), 0xfffffff0),
                         "the header"),
    "nsites_huge": ("patched", lambda e: e.set32(e.hoff("nsites"), 0x10000000), "site table"),
    "sites_off_wraps": ("patched", lambda e: e.set32(e.hoff("sites_off"), 0xfffffff0),
                        "site table"),
    "sites_off_misaligned": ("patched", lambda e: e.set32(e.hoff("sites_off"),
                                                          e.hdr("sites_off") + 2),
                             "not 4-byte aligned"),
    "nmap_o2t_huge": ("patched", lambda e: e.set32(e.hoff("nmap_o2t"), 0x20000000), "o2t map"),
    "map_t2o_off_wraps": ("patched", lambda e: e.set32(e.hoff("map_t2o_off"), 0xfffffffc),
                          "t2o map"),
    "tramp_size_huge": ("patched", lambda e: e.set32(e.hoff("tramp_size"), 0x00400000),
                        "trampolines"),
    "undo_off_past": ("patched", lambda e: e.set32(e.hoff("undo_off"), 0x00300000),
                      "undo records"),
    "tables_overlap": ("patched", lambda e: e.set32(e.hoff("map_o2t_off"), e.hdr("sites_off")),
                       "overlap"),
    "orig_file_size_huge": ("patched", lambda e: e.set32(e.hoff("orig_file_size"), 0x7fffffff),
                            "orig_file_size"),
    # -- sites -----------------------------------------------------------------------------------
    "site_duplicate": ("patched", lambda e: e.set32(e.site(1), e.u32(e.site(0))), "sorted"),
    "site_unsorted": ("patched", lambda e: _swap(e, e.site(0), e.site(1), 32), "sorted"),
    "site_kind_zero": ("patched", lambda e: e.set16(e.site(0, "kind"), 0), "unknown kind 0"),
    "site_kind_huge": ("patched", lambda e: e.set16(e.site(0, "kind"), 999), "unknown kind 999"),
    "site_tactic": ("patched", lambda e: e.b.__setitem__(e.site(0, "tactic"), 7),
                    "unknown tactic 7"),
    "site_len_zero": ("patched", lambda e: e.b.__setitem__(e.site(0, "len"), 0),
                      "instruction length 0"),
    "site_len_huge": ("patched", lambda e: e.b.__setitem__(e.site(0, "len"), 200),
                      "instruction length 200"),
    "site_in_window": ("patched", lambda e: e.set32(e.site(e.hdr("nsites") - 1), 0xffc00000),
                       "inside the hypervisor window"),
    "site_tramp_outside": ("patched", lambda e: e.set32(e.site(_first_site(e, 2), "tramp"),
                                                        0x00100000), "trampoline 0x100000"),
    "site_resume_outside": ("patched", lambda e: e.set32(e.site(_first_site(e, 2), "resume"),
                                                         0x00100000), "resume point 0x100000"),
    "trap_site_resume": ("patched", lambda e: e.set32(e.site(_first_site(e, 3), "resume"), 0),
                         "a trap site resumes at 0"),
    "trap_only_image_with_trampoline": ("trap",
                                        lambda e: e.b.__setitem__(e.site(0, "tactic"), 2),
                                        "trap-only"),
    # -- maps ------------------------------------------------------------------------------------
    "o2t_unsorted": ("patched", lambda e: _swap(e, e.map_entry("o2t", 0, "orig"),
                                                e.map_entry("o2t", 1, "orig"), 8),
                     "o2t map entry 1"),
    "t2o_duplicate": ("patched", lambda e: e.set32(e.map_entry("t2o", 1, "tramp"),
                                                   e.u32(e.map_entry("t2o", 0, "tramp"))),
                      "t2o map entry 1"),
    "o2t_tramp_outside": ("patched", lambda e: e.set32(e.map_entry("o2t", 0, "tramp"), 0x1000),
                          "trampoline address 0x1000"),
    "t2o_orig_in_window": ("patched", lambda e: e.set32(e.map_entry("t2o", 0, "orig"),
                                                        0xffc12345), "inside the hypervisor"),
    # -- undo records ----------------------------------------------------------------------------
    "undo_len_huge": ("patched", lambda e: e.set32(e.undo(0, "len"), 0xfffffff0),
                      "run past the undo records"),
    "undo_offset_outside": ("patched", lambda e: e.set32(e.undo(1, "offset"), 0x7fffff00),
                            "outside the original file"),
    "undo_size_short": ("patched", lambda e: e.set32(e.hoff("undo_size"),
                                                     e.hdr("undo_size") - 4), "undo record"),
    # -- a.out kludge ----------------------------------------------------------------------------
    "aout_load_above_header": ("aout", lambda b: _aout(b, load=AOUT_LOAD + 0x100),
                               "load_addr 0x100100 is above header_addr"),
    "aout_offset_underflow": ("aout", lambda b: _aout(b, header=AOUT_LOAD + 0x1000),
                              "more than the header's offset"),
    # ... with a size that wrapped the old 64-bit bounds check back into the file: memcpy
    # then read 4 KiB before the file's mapping
    "aout_offset_underflow_wraps": ("aout", lambda b: _aout(b, header=AOUT_LOAD + 0x1000,
                                                            load_end=AOUT_LOAD + 0x1000),
                                    "more than the header's offset"),
    "aout_load_end_below_load": ("aout", lambda b: _aout(b, load_end=AOUT_LOAD - 4),
                                 "load_end_addr 0xffffc is below load_addr"),
    "aout_load_end_past_file": ("aout", lambda b: _aout(b, load_end=AOUT_LOAD + 0x10000),
                                "runs past the end of the file"),
    "aout_load_end_before_header": ("aout", lambda b: _aout(b, load_end=AOUT_LOAD + 8),
                                    "leaves the multiboot header"),
    "aout_bss_below_load_end": ("aout", lambda b: _aout(b, bss_end=AOUT_LOAD + 8),
                                "bss_end_addr 0x100008 is below"),
    "aout_outside_ram": ("aout", lambda b: _aout(b, shift=0x7ff00000 - AOUT_LOAD),
                         "outside guest RAM"),
    "aout_near_4g": ("aout", lambda b: _aout(b, shift=0xfffff000 - AOUT_LOAD, bss_end=0),
                   "outside guest RAM"),
    "aout_bss_huge": ("aout", lambda b: _aout(b, bss_end=0xffffffff), "outside guest RAM"),
    "aout_entry_outside": ("aout", lambda b: _aout(b, entry=0x00200000),
                           "entry_addr 0x200000 is outside"),
    "aout_header_cut_off": ("aout", lambda b: b.__setitem__(slice(None), AOUT_CUT), "cut off"),
}


def _mb_flags(e, add):
    off = next(o for o in range(0, 8192, 4) if e.u32(o) == 0x1BADB002)
    flags = e.u32(off + 4) | add
    e.set32(off + 4, flags)
    e.set32(off + 8, -(0x1BADB002 + flags))


def _aout(b, header=None, load=None, load_end=None, bss_end=None, entry=None, shift=0):
    f = list(struct.unpack_from("<5I", b, AOUT_MH + 12))
    f = [(x + shift) & 0xFFFFFFFF for x in f]
    for i, v in enumerate((header, load, load_end, bss_end, entry)):
        if v is not None:
            f[i] = v
    struct.pack_into("<5I", b, AOUT_MH + 12, *f)


@pytest.mark.parametrize("base", ["patched", "trap", "plain", "aout"])
def test_unchanged_image_boots(images, base, tmp_path):
    p = tmp_path / "k"
    p.write_bytes(images[base])
    rc, out, err = run(p, unpatched=base in UNPATCHED)
    assert rc == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_image_is_refused(images, case, tmp_path):
    base, change, needle = CASES[case]
    data = images[base]
    if base == "aout":
        b = bytearray(data)
        change(b)
        data = bytes(b)
    else:
        e = Elf(data)
        change(e)
        data = bytes(e.b)
    assert data != images[base]
    p = tmp_path / f"{case}.elf"
    p.write_bytes(data)
    line = assert_load_error(p, needle, unpatched=base in UNPATCHED)
    assert line.startswith(f"ring1-run: {p}: ")


def test_note_message_is_the_same_every_run(images, tmp_path):
    """The fuzzer's n_descsz = 0xfffffffd copied 48 bytes past the file and printed them: the
    message must hold nothing from outside the image (same text every run)."""
    e = Elf(images["patched"])
    e.set32(e.note + 4, 0xfffffffd)
    p = tmp_path / "descsz.elf"
    p.write_bytes(bytes(e.b))
    assert assert_load_error(p, "note") == assert_load_error(p, "note")


def test_window_alias_overlapping_ram_is_refused(images, tmp_path):
    """p_vaddr - p_paddr puts the window's physical alias at window - delta; it must miss RAM."""
    e = Elf(images["patched"])
    for i in e.loads():      # every segment linked 0xffc00000 - 0x00400000 above its paddr
        e.set32(e.ph(i) + 8, e.phdrs()[i][3] + 0xff800000 - 0x00400000)
    e.set32(24, e.u32(24) + 0xff800000 - 0x00400000)
    p = tmp_path / "alias.elf"
    p.write_bytes(bytes(e.b))
    assert_load_error(p, "physical alias")


def test_files_that_are_not_images(tmp_path):
    assert_load_error(tmp_path, "not a regular file")
    (tmp_path / "empty").write_bytes(b"")
    assert_load_error(tmp_path / "empty", "too small")
    assert_load_error(tmp_path / "missing", "No such file")


def test_modules_and_command_line_are_checked(images, tmp_path):
    k = tmp_path / "k.elf"
    k.write_bytes(images["plain"])
    (tmp_path / "d").mkdir()
    rc, out, err = run(k, "--module", str(tmp_path / "d"), unpatched=True)
    assert rc == STATUS_LOAD_ERROR and "not a regular file" in err and len(err.splitlines()) == 1
    (tmp_path / "m").write_bytes(b"x" * (3 << 20))
    rc, out, err = run(k, "--mem", "4M", "--module", str(tmp_path / "m") + " arg",
                       unpatched=True)
    assert rc == STATUS_LOAD_ERROR and len(err.splitlines()) == 1, err
    assert err.startswith(f"ring1-run: --module {tmp_path / 'm'} arg: ") and "do not fit" in err
    # A kernel whose bss ends at the top of a 2 MiB machine leaves no room for the boot
    # information (module list, command lines) after it.
    e = Elf(images["plain"])
    last = e.loads()[-1]
    paddr = e.phdrs()[last][3]
    e.set32(e.ph(last) + 20, 0x200000 - 0x100 - paddr)
    k2 = tmp_path / "k2.elf"
    k2.write_bytes(bytes(e.b))
    line = assert_load_error(k2, "no room in guest RAM", "--mem", "2M", "--cmdline", "x" * 1000,
                             unpatched=True)
    assert "boot information" in line
    rc, out, err = run(k, "--cmdline", "y" * 100000, unpatched=True)
    assert rc == 1, err
