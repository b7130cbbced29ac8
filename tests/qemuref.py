"""The reference machine's QEMU command line, for the tests and the bench.

Its one home is samples/qemu.sh (the samples' Makefile runs that script to make the goldens);
this module reads it from there, so every test and bench/guests.py run QEMU exactly as the
goldens were made. The reference is QEMU's PC with `-nodefaults -vga std`: its std VGA in text
mode 3 after the BIOS, as every PC and QEMU's default machine have one, and nothing else of the
default machine (NIC, CD-ROM, floppy drive, parallel port) -- ring1-run's default machine.
NO_VGA, appended, takes the VGA away again (QEMU's `-nodefaults` alone): the reference of
ring1-run --vga none.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QEMU_SH = ROOT / "samples" / "qemu.sh"

# QEMU's options after the reference's for the machine without a display adapter (a later
# -vga overrides qemu.sh's -vga std), and ring1-run's option for it.
NO_VGA = ["-vga", "none"]
RING1_NO_VGA = ["--vga", "none"]
# Each machine: (QEMU's options after the reference's, ring1-run's options). "std" is the
# default of both; "none" the PC without a VGA.
MACHINES = {"std": ([], []), "none": (NO_VGA, RING1_NO_VGA)}


def _exec_line() -> list[str]:
    text = QEMU_SH.read_text()
    m = re.search(r"^exec (qemu-system-i386.*?)(?<!\\)$", text, re.M | re.S)
    if not m:
        raise RuntimeError(f"cannot find the exec line of {QEMU_SH}")
    return shlex.split(m.group(1).replace("\\\n", " "))


def argv(kernel, append: str | None = None, accel: str | None = None,
         extra=()) -> list[str]:
    """qemu.sh's command line for kernel, with -append, -accel and extra (e.g. a -drive, or
    NO_VGA) added where the script passes extra options ("$@"), else at the end."""
    extra = ((["-append", append] if append else []) + (["-accel", accel] if accel else []) +
             list(extra))
    out: list[str] = []
    for a in _exec_line():
        if a in ("$1", "$kernel", "${kernel}"):
            out.append(str(kernel))
        elif a == "$@":
            out += extra
            extra = []
        else:
            out.append(a)
    return out + extra


def _base() -> list[str]:
    words = _exec_line()
    k = words.index("-kernel")
    if words[k:] != ["-kernel", '$kernel', "$@"]:
        raise RuntimeError(f"{QEMU_SH}: want the exec line to end in -kernel \"$kernel\" \"$@\"")
    return words[:k]


# The reference's options before -kernel: BASE + ["-kernel", K] + extra is argv(K, extra=extra).
BASE = _base()
