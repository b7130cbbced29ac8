"""An initramfs for Linux guests: the cpio "newc" format the kernel unpacks, and Debian's static
busybox with a shell script as /init (the tests' and the bench's Linux sessions)."""

from __future__ import annotations


def newc_cpio(files: list[tuple[str, int, bytes]]) -> bytes:
    """An initramfs: the cpio "newc" format the kernel unpacks (name, mode, data)."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(files + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + "".join(f"{x:08x}" for x in fields).encode() + nb
        out += b"\0" * ((-len(out)) % 4) + data
        out += b"\0" * ((-len(out)) % 4)
    return bytes(out)


def busybox_initrd(busybox: bytes, init_script: bytes) -> bytes:
    """/bin/busybox and /init (a `#!/bin/busybox sh` script)."""
    return newc_cpio([("bin", 0o40755, b""), ("bin/busybox", 0o100755, busybox),
                      ("init", 0o100755, init_script)])
