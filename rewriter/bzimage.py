"""Linux bzImages (the kernel's Documentation/arch/x86/boot.rst): the setup header, and the ELF
vmlinux inside the compressed payload.

`setup_header(raw)` reads and checks the header for booting (ring1 boot/run: a bzImage of boot
protocol 2.10 or later, not a 64-bit kernel) with one clear line for anything else;
`extract_vmlinux(raw)` takes the payload out and decompresses it (pure Python for xz, gzip,
bzip2 and lzma; the zstd, lzop and lz4 tools for those), trimmed to the ELF's own extent.
`ring1 fetch` and `ring1 boot` both use this one copy.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass

from . import elf

PROTOCOL_MIN = 0x20A        # 2.10 (Linux 2.6.31): pref_address, init_size
LOADED_HIGH = 0x01          # loadflags: the protected-mode code loads at 0x100000 (bzImage)
XLF_KERNEL_64 = 0x0001      # xloadflags (2.12+): a 64-bit kernel


class BzImageError(ValueError):
    """The input is not a bzImage we can take apart."""



def is_bzimage(raw: bytes) -> bool:
    """Whether raw claims to be a Linux kernel with a setup header ("HdrS" at 0x202)."""
    return len(raw) >= 0x206 and raw[0x202:0x206] == b"HdrS"


@dataclass
class SetupHeader:
    version: int
    setup_sects: int
    loadflags: int
    xloadflags: int
    pref_address: int
    init_size: int
    initrd_addr_max: int
    cmdline_size: int

    @property
    def protocol(self) -> str:
        return f"{self.version >> 8}.{self.version & 0xff:02d}"


def setup_header(raw: bytes) -> SetupHeader:
    """The setup header of a bzImage ring1 can boot; BzImageError (one line) otherwise: no
    header, boot protocol older than 2.10, a 64-bit kernel, a zImage. The runtime checks the
    same (runtime/image.c, image_linux_header)."""
    b = bytes(raw[:0x290])
    if not is_bzimage(b):
        raise BzImageError("not a bzImage: no Linux setup header (\"HdrS\" at 0x202)")
    if b[0x1fe:0x200] != b"\x55\xaa":
        raise BzImageError("not a bzImage: no boot sector signature 0xaa55 at 0x1fe")
    if len(b) < 0x208:
        raise BzImageError("not a bzImage: the setup header is cut off")
    version = struct.unpack_from("<H", b, 0x206)[0]
    if version < PROTOCOL_MIN:
        raise BzImageError(f"Linux boot protocol {version >> 8}.{version & 0xff:02d} is older "
                           f"than 2.10 (Linux 2.6.31), the oldest ring1 loads")
    end = 0x202 + b[0x201]
    if b[0x200] != 0xEB or not 0x264 <= end <= 0x290:
        raise BzImageError(f"setup header: the jump at 0x200 ({b[0x200]:02x} {b[0x201]:02x}) "
                           f"does not end the header between 0x264 and 0x290")
    if end > len(b):
        raise BzImageError(f"setup header: it ends at {end:#x}, past the end of the file "
                           f"({len(b)} bytes)")
    xlf = struct.unpack_from("<H", b, 0x236)[0] if version >= 0x20C else 0
    if xlf & XLF_KERNEL_64:
        raise BzImageError("a 64-bit (x86-64) kernel: ring1 runs 32-bit x86 kernels only")
    if not b[0x211] & LOADED_HIGH:
        raise BzImageError("not a bzImage: loadflags LOADED_HIGH is clear (a zImage, loaded "
                           "at 0x10000: ring1 loads bzImages only)")
    return SetupHeader(version=version, setup_sects=b[0x1f1] or 4, loadflags=b[0x211],
                       xloadflags=xlf, pref_address=struct.unpack_from("<Q", b, 0x258)[0],
                       init_size=struct.unpack_from("<I", b, 0x260)[0],
                       initrd_addr_max=struct.unpack_from("<I", b, 0x22c)[0],
                       cmdline_size=struct.unpack_from("<I", b, 0x238)[0])


# --------------------------------------------------------------------------------------------
# bzImage -> vmlinux
# --------------------------------------------------------------------------------------------

# (magic, codec) as the kernel's compressors write them (arch/x86/boot/compressed/Makefile).
_CODECS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x5d\x00\x00", "lzma"),
    (b"BZh", "bzip2"),
    (b"\x89LZO", "lzo"),
    (b"\x02\x21\x4c\x18", "lz4"),
]
_CLI = {"zstd": ["zstd", "-dcq"], "lzo": ["lzop", "-dc"], "lz4": ["lz4", "-dc"]}


def _decompress(codec: str, blob: bytes) -> bytes:
    """Decompress one stream; trailing data after the stream (the kernel appends the 32-bit
    decompressed size) is ignored."""
    if codec in ("xz", "lzma"):
        d = lzma.LZMADecompressor(lzma.FORMAT_XZ if codec == "xz" else lzma.FORMAT_ALONE)
        out = d.decompress(blob)
        if not d.eof:
            raise BzImageError(f"{codec} stream is truncated")
        return out
    if codec == "gzip":
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(blob) + d.flush()
        if not d.eof:
            raise BzImageError("gzip stream is truncated")
        return out
    if codec == "bzip2":
        d = bz2.BZ2Decompressor()
        out = d.decompress(blob)
        if not d.eof:
            raise BzImageError("bzip2 stream is truncated")
        return out
    argv = _CLI[codec]
    if shutil.which(argv[0]) is None:
        raise BzImageError(f"payload is {codec}-compressed and the `{argv[0]}` tool (needed "
                           f"for it; the stdlib has no {codec}) is not installed")
    # The stream is followed by the 4-byte size; the CLI tools reject trailing junk.
    p = subprocess.run(argv, input=blob[:-4], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 and not p.stdout:
        raise BzImageError(f"{argv[0]} failed: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF vmlinux inside an x86 bzImage (Linux boot protocol).

    Layout: setup_sects (0x1f1) 512-byte sectors of real-mode setup after the boot sector,
    then the protected-mode part; from protocol 2.08 payload_offset/payload_length (0x248/
    0x24c) locate the compressed vmlinux.bin (+ relocation table on x86) inside it. The result
    is trimmed to the ELF's own extent, dropping the appended relocations."""
    b = bytes(bzimage)
    if len(b) < 0x264 or b[0x202:0x206] != b"HdrS":
        raise BzImageError("not a bzImage (no 'HdrS' setup header at 0x202)")
    if b[0x1fe:0x200] != b"\x55\xaa":
        raise BzImageError("not a bzImage (no 0x55aa boot-sector signature at 0x1fe)")
    version = struct.unpack_from("<H", b, 0x206)[0]
    setup_sects = b[0x1f1] or 4
    pm = (setup_sects + 1) * 512
    if pm >= len(b):
        raise BzImageError(f"setup_sects={setup_sects} runs past the end of the file")
    candidates: list[tuple[int, int | None]] = []    # (absolute offset, length or None)
    if version >= 0x208:
        poff, plen = struct.unpack_from("<II", b, 0x248)
        if plen and pm + poff + plen <= len(b):
            candidates.append((pm + poff, plen))
    if not candidates:   # old protocol or bogus fields: look for a known magic
        for magic, _ in _CODECS:
            i = b.find(magic, pm)
            while i >= 0:
                candidates.append((i, None))
                i = b.find(magic, i + 1)
        candidates.sort()
    errors = []
    for off, length in candidates:
        blob = b[off:off + length] if length else b[off:]
        codec = next((c for m, c in _CODECS if blob.startswith(m)), None)
        if codec is None:
            errors.append(f"payload at {off:#x} starts with unknown magic {blob[:6].hex()}")
            continue
        try:
            raw = _decompress(codec, blob)
        except (lzma.LZMAError, zlib.error, OSError, EOFError, BzImageError) as e:
            errors.append(f"{codec} payload at {off:#x}: {e}")
            continue
        if length and len(raw) != struct.unpack_from("<I", blob, len(blob) - 4)[0]:
            errors.append(f"{codec} payload at {off:#x}: decompressed {len(raw)} bytes, the "
                          f"trailer says {struct.unpack_from('<I', blob, len(blob) - 4)[0]}")
            continue
        h = elf.header(raw)
        if h is None:
            errors.append(f"{codec} payload at {off:#x} does not decompress to an ELF")
            continue
        end = elf.extent(raw, h)
        if end > len(raw):
            errors.append(f"ELF in the payload claims {end} bytes, only {len(raw)} present")
            continue
        return raw[:end]
    raise BzImageError("no ELF vmlinux found in the bzImage payload: " +
                       ("; ".join(errors) if errors else "no compressed payload found"))
