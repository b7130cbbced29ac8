"""`ring1 cache`: what ring1 keeps on disk, and taking it back.

Two caches, each under its own root (`boot_root()`, `kernels_root()`: the one home of both):

- the boot cache ($RING1_CACHE/boot, else ${XDG_CACHE_HOME:-~/.cache}/ring1/boot), written
  by `ring1 boot` and `ring1 run`. Its files are named after the image they come from and the
  first 24 hex digits of its SHA-256, `NAME.DIGEST.REST`: REST `vmlinux` (a bzImage's kernel,
  taken out of it), `TAG[.SITES].r1.elf` (a rewrite: TAG hashes the ABI, the window, the
  tactics and the rewriter's own code), `TAG.profile.json` (the exits recorded so far, merged)
  and `TAG.run-PID.profile.json` (one run's, merged into it by the next boot). One image's
  files are one *entry*; `ring1 boot` touches the rewrite it reuses, so an entry's newest
  file time is when it was last used;
- the fetched kernels (`ring1 fetch`: kernels/fetch.py; $RING1_CACHE itself, else
  ${XDG_CACHE_HOME:-~/.cache}/ring1/kernels), one directory per kernel name.

`list` shows both; `clean` empties the boot cache (with `--kernels`, the fetched kernels
too); `prune --max-size SIZE` removes boot-cache entries, least recently used first, until
the boot cache holds at most SIZE. Only files of the kinds above are removed (and, by
`clean`, the temporary files of writes a killed ring1 left, an hour old): anything else found
there is listed as such and left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import jsondoc
from .errors import BadInput, CacheError

SCHEMA = jsondoc.schema("cache")
_NAME = re.compile(r"^(?P<image>.+)\.(?P<digest>[0-9a-f]{24})\.(?P<rest>.+)$")
_KINDS = [(re.compile(r"^vmlinux$"), "vmlinux"),
          (re.compile(r"^[0-9a-f]{8}(\.[0-9a-f]{8})?\.r1\.elf$"), "rewrite"),
          (re.compile(r"^[0-9a-f]{8}\.profile\.json$"), "profile"),
          (re.compile(r"^[0-9a-f]{8}\.run-\d+\.profile\.json$"), "run profile")]


def _env_root() -> Path | None:
    env = os.environ.get("RING1_CACHE")
    return Path(env).expanduser() if env else None


def _default_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ring1"


def boot_root() -> Path:
    """The boot cache's root (above)."""
    return (_env_root() or _default_root()) / "boot"


def kernels_root() -> Path:
    """The fetched kernels' root (above)."""
    return _env_root() or _default_root() / "kernels"


@dataclass
class Entry:
    image: str
    digest: str
    files: list[tuple[Path, str, int, float]] = field(default_factory=list)  # path, kind, bytes, mtime

    @property
    def size(self) -> int:
        return sum(f[2] for f in self.files)

    @property
    def last_used(self) -> float:
        return max(f[3] for f in self.files)


def _kind(rest: str) -> str | None:
    return next((k for r, k in _KINDS if r.match(rest)), None)


def scan_boot(root: Path) -> tuple[list[Entry], list[Path]]:
    """The boot cache's entries, least recently used first, and the files it holds that are
    none of ring1's (left alone)."""
    entries: dict[tuple[str, str], Entry] = {}
    other: list[Path] = []
    if not root.is_dir():
        return [], []
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise CacheError(f"cannot read the boot cache {root}: {e.strerror}")
    for name in names:
        p = root / name
        m = _NAME.match(name)
        kind = _kind(m.group("rest")) if m else None
        try:
            st = p.lstat()
        except OSError:
            continue                              # removed meanwhile (a boot merging profiles)
        if kind is None or not p.is_file() or p.is_symlink():
            other.append(p)
            continue
        e = entries.setdefault((m.group("image"), m.group("digest")),
                               Entry(m.group("image"), m.group("digest")))
        e.files.append((p, kind, st.st_size, st.st_mtime))
    return sorted(entries.values(), key=lambda e: e.last_used), other


def scan_kernels(root: Path) -> list[tuple[str, int, list[str]]]:
    """The fetched kernels: (name, bytes, files), for each directory with a manifest."""
    out = []
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        if not d.is_dir() or not (d / "manifest.json").is_file():
            continue
        files = sorted(f.name for f in d.iterdir() if f.is_file())
        out.append((d.name, sum((d / f).stat().st_size for f in files), files))
    return out


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*", text, re.I)
    if not m:
        raise BadInput(f"cache prune: --max-size {text!r}: want a size such as 500M or 2G")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _remove(e: Entry) -> int:
    freed = 0
    for p, _, size, _ in e.files:
        try:
            p.unlink()
            freed += size
        except FileNotFoundError:
            pass
        except OSError as err:
            raise CacheError(f"cannot remove {p}: {err.strerror}")
    return freed


def cmd_list(as_json: bool, out) -> int:
    broot, kroot = boot_root(), kernels_root()
    entries, other = scan_boot(broot)
    kernels = scan_kernels(kroot)
    if as_json:
        doc = {"schema": SCHEMA,
               "boot": {"root": str(broot), "bytes": sum(e.size for e in entries),
                        "entries": [{"image": e.image, "input_sha256_prefix": e.digest,
                                     "bytes": e.size,
                                     "last_used": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime(e.last_used)),
                                     "files": [{"name": p.name, "kind": k, "bytes": s}
                                               for p, k, s, _ in e.files]}
                                    for e in reversed(entries)],
                        "other_files": [p.name for p in other]},
               "kernels": {"root": str(kroot), "bytes": sum(k[1] for k in kernels),
                           "entries": [{"name": n, "bytes": b, "files": f}
                                       for n, b, f in kernels]}}
        print(json.dumps(doc, indent=1), file=out)
        return 0
    total = sum(e.size for e in entries)
    print(f"boot cache {broot}: {len(entries)} image(s), {human(total)}", file=out)
    if entries:
        print(f"  {'last used':16}  {'size':>10}  {'files':>5}  image (input SHA-256)", file=out)
    for e in reversed(entries):
        kinds = ", ".join(sorted({k for _, k, _, _ in e.files}))
        print(f"  {_when(e.last_used):16}  {human(e.size):>10}  {len(e.files):>5}  "
              f"{e.image} ({e.digest[:12]}...): {kinds}", file=out)
    for p in other:
        what = "a temporary file of a write not finished (`clean` takes it after an hour)" \
            if p.name.startswith(".ring1-") else "not ring1's, left alone"
        print(f"  ({what}: {p.name})", file=out)
    print(f"fetched kernels {kroot}: {len(kernels)}, {human(sum(k[1] for k in kernels))}",
          file=out)
    for n, b, f in kernels:
        print(f"  {human(b):>10}  {n}: {', '.join(f)}", file=out)
    return 0


def cmd_clean(kernels: bool, out) -> int:
    entries, other = scan_boot(boot_root())
    freed = sum(_remove(e) for e in entries)
    # A temporary file of a write a killed ring1 never finished (cli.py _atomic_write: the
    # `.ring1-` prefix), an hour old: no write still under way takes that long.
    for p in other:
        try:
            if p.name.startswith(".ring1-") and time.time() - p.lstat().st_mtime > 3600:
                freed += p.lstat().st_size
                p.unlink()
        except OSError:
            pass
    print(f"boot cache: {len(entries)} image(s) removed, {human(freed)} freed", file=out)
    if kernels:
        kroot = kernels_root()
        ks = scan_kernels(kroot)
        for n, _, _ in ks:
            try:
                shutil.rmtree(kroot / n)
            except OSError as e:
                raise CacheError(f"cannot remove {kroot / n}: {e.strerror}")
        print(f"fetched kernels: {len(ks)} removed, {human(sum(k[1] for k in ks))} freed",
              file=out)
    return 0


def cmd_prune(max_size: str, out) -> int:
    limit = parse_size(max_size)
    entries, _ = scan_boot(boot_root())
    total = sum(e.size for e in entries)
    removed = freed = 0
    for e in entries:                             # least recently used first
        if total - freed <= limit:
            break
        freed += _remove(e)
        removed += 1
    print(f"boot cache: {removed} image(s) removed, {human(freed)} freed, "
          f"{human(total - freed)} kept (at most {human(limit)})", file=out)
    return 0
