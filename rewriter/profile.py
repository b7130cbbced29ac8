"""Exit profiles: what a run of a kernel exited for, by guest address (docs/exits.md).

The runtime writes one with `--profile-out FILE` (runtime/stats.c, stats_write_profile):

    {"schema": "ring1-profile/1", "format": "ring1-profile", "version": 1,
     "input_sha256": "<hex>" | null,
     "window_base": "0xffc00000", "table_full": false,
     "exits": [{"addr": "0x80102095", "kind": "mmio", "count": 365}, ...]}

Kinds are abi.h's (lowercase): every sensitive instruction the runtime emulated (through a
hypercall, an int3 trap or a host fault), `mmio` for an access that reached a device, and
`mmio_ram` for a profile-made MMIO site whose access was RAM that time. input_sha256 names the
unpatched image the run's image was rewritten from (null when the run was of an unpatched image).

`ring1 rewrite --profile FILE` turns the hot device accesses into sites of kind MMIO, which the
rewriter moves into trampolines that make a hypercall (~0.2 us) instead of a host fault
(~3-5 us); `ring1 boot` records and uses profiles by itself.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from . import jsondoc
from .abi import Kind
from .errors import BadInput

FORMAT = "ring1-profile"
VERSION = 1
SCHEMA = jsondoc.schema("profile")    # beside format and version, which older profiles have
# A device access becomes a site once seen this often (and more often on a device than in RAM):
# a cold one costs a fault now and then, and every site moves code into a trampoline.
MIN_COUNT = 16
_KINDS = {k.name.lower() for k in Kind} | {"mmio_ram"}
_HEX = re.compile(r"0x[0-9a-fA-F]{1,8}\Z")


@dataclass
class Profile:
    input_sha256: str | None
    window_base: int
    counts: dict[tuple[int, str], int] = field(default_factory=dict)   # (addr, kind) -> n
    table_full: bool = False

    def mmio_sites(self, min_count: int = MIN_COUNT) -> list[int]:
        """Addresses whose accesses reached a device at least min_count times, and no more
        often reached RAM (as a site: mmio_ram)."""
        return sorted(a for (a, k), n in self.counts.items()
                      if k == "mmio" and n >= min_count and
                      self.counts.get((a, "mmio_ram"), 0) <= n)

    def hottest(self, n: int = 20) -> list[tuple[int, str, int]]:
        rows = [(a, k, c) for (a, k), c in self.counts.items()]
        return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:n]

    def merge(self, other: "Profile") -> "Profile":
        out = Profile(self.input_sha256 or other.input_sha256, self.window_base or
                      other.window_base, dict(self.counts), self.table_full or other.table_full)
        for key, c in other.counts.items():
            out.counts[key] = out.counts.get(key, 0) + c
        return out

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "format": FORMAT, "version": VERSION,
                "input_sha256": self.input_sha256,
                "window_base": f"{self.window_base:#010x}", "table_full": self.table_full,
                "exits": [{"addr": f"{a:#010x}", "kind": k, "count": c}
                          for (a, k), c in sorted(self.counts.items())]}


def parse(doc, where: str) -> Profile:
    """A profile from its JSON document; BadInput naming what is wrong."""
    def bad(why: str):
        return BadInput(f"{where}: not a ring1 profile: {why}")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f'no "format": "{FORMAT}"')
    if "schema" in doc and doc["schema"] != SCHEMA:
        raise BadInput(f"{where}: ring1 profile schema {doc['schema']!r}; this ring1 reads "
                       f"{SCHEMA}")
    if doc.get("version") != VERSION:
        raise BadInput(f"{where}: ring1 profile version {doc.get('version')!r}; this ring1 "
                       f"reads version {VERSION}")
    sha = doc.get("input_sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise bad("input_sha256 is not a SHA-256 in hex")
    wb = doc.get("window_base", "0x0")
    if not isinstance(wb, str) or not _HEX.match(wb):
        raise bad(f"window_base {wb!r} is not a 32-bit hex address")
    exits = doc.get("exits")
    if not isinstance(exits, list):
        raise bad('"exits" is not a list')
    p = Profile(sha, int(wb, 16), table_full=bool(doc.get("table_full")))
    for i, e in enumerate(exits):
        if not isinstance(e, dict):
            raise bad(f"exit {i} is not an object")
        a, k, c = e.get("addr"), e.get("kind"), e.get("count")
        if not isinstance(a, str) or not _HEX.match(a):
            raise bad(f"exit {i}: addr {a!r} is not a 32-bit hex address")
        if k not in _KINDS:
            raise bad(f"exit {i}: unknown kind {k!r}")
        if not isinstance(c, int) or isinstance(c, bool) or c < 0:
            raise bad(f"exit {i}: count {c!r} is not a count")
        key = (int(a, 16), k)
        p.counts[key] = p.counts.get(key, 0) + c
    return p


def load(path: str) -> Profile:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}")
    except (UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{path}: not a ring1 profile: not JSON ({e})")
    return parse(doc, path)


def check_input(p: Profile, where: str, input_sha256: str) -> str | None:
    """Refuse a profile of another kernel; a warning (or None) for one that cannot say."""
    if p.input_sha256 is None:
        return (f"{where}: the profile does not name the image it was made on (a run of an "
                f"unpatched image): its addresses are taken as this image's")
    if p.input_sha256 != input_sha256:
        raise BadInput(f"{where}: the profile was made on another kernel (input SHA-256 "
                       f"{p.input_sha256[:16]}…, this one {input_sha256[:16]}…)")
    return None


def save(p: Profile, path: str) -> None:
    """Write atomically (a boot running next to another never reads half a file)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(p.to_json(), f, indent=0)
        f.write("\n")
    os.replace(tmp, path)
