"""The multiboot v1 header (Multiboot Specification 0.6.96, §3.1): finding it in a kernel file
and reading its fields. Stdlib only: the loader (image.py) and the kernel fetcher both use it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MULTIBOOT_MAGIC = 0x1BADB002
MULTIBOOT_SEARCH = 8192          # the header must lie in the first 8 KiB, 4-aligned
MB_AOUT_KLUDGE = 1 << 16         # flags bit 16: address fields of the header are valid
MB_VIDEO_MODE = 1 << 2           # flags bit 2: video mode fields of the header are valid


@dataclass
class Multiboot:
    """A multiboot v1 header (Multiboot Specification 0.6.96, §3.1)."""
    offset: int                  # file offset of the header
    flags: int
    header_addr: int = 0         # the a.out-kludge fields, valid when flags & MB_AOUT_KLUDGE
    load_addr: int = 0
    load_end_addr: int = 0
    bss_end_addr: int = 0
    entry_addr: int = 0

    @property
    def aout_kludge(self) -> bool:
        return bool(self.flags & MB_AOUT_KLUDGE)

    @property
    def size(self) -> int:
        """Bytes of the header the loader reads (spec §3.1.1: magic..checksum, then the
        address fields if flag 16, then the video fields if flag 2)."""
        if self.flags & MB_VIDEO_MODE:
            return 48
        return 32 if self.aout_kludge else 12

    def as_dict(self) -> dict:
        """offset, flags and (with flag 16) the a.out-kludge address fields, as numbers."""
        d = {"offset": self.offset, "flags": self.flags}
        if self.aout_kludge:
            d.update(header_addr=self.header_addr, load_addr=self.load_addr,
                     load_end_addr=self.load_end_addr, bss_end_addr=self.bss_end_addr,
                     entry_addr=self.entry_addr)
        return d

    def to_json(self) -> dict:
        """as_dict() for `ring1 inspect --json`: the header's form, the flags and addresses in
        hex."""
        d = self.as_dict()
        return {"offset": d.pop("offset"), "flags": hex(d.pop("flags")),
                "form": "a.out-kludge" if self.aout_kludge else "elf",
                **{k: f"{v:#010x}" for k, v in d.items()}}


def find_multiboot(raw: bytes) -> Multiboot | None:
    """The first valid multiboot v1 header in the first 8 KiB: magic + flags + checksum == 0."""
    limit = min(len(raw), MULTIBOOT_SEARCH) - 12
    for off in range(0, limit + 1, 4):
        magic, flags, checksum = struct.unpack_from("<III", raw, off)
        if magic == MULTIBOOT_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            mb = Multiboot(offset=off, flags=flags)
            if flags & MB_AOUT_KLUDGE and off + 32 <= len(raw):
                (mb.header_addr, mb.load_addr, mb.load_end_addr, mb.bss_end_addr,
                 mb.entry_addr) = struct.unpack_from("<IIIII", raw, off + 12)
            return mb
    return None
