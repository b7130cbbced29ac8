"""Download and cache real guest kernels from Debian's archive (`ring1 fetch NAME`).

Not part of the rewriter, and stdlib only: it checks what it fetched with the rewriter's
stdlib-only format modules (rewriter/elf.py, multiboot.py, bzimage.py) and keeps it under the
root rewriter/cache.py names. Its command line is `ring1 fetch`: rewriter/cli.py puts
add_arguments() on ring1's parser and calls run(); main() is that same command (for
scripts/fetch-kernels.py). Debian's own tools do the fetching: `dpkg --add-architecture i386`
(once), `apt-get update` (tolerating a partial failure: one i386 index has been seen to fail
its size check while the main archive's index loaded fine), `apt-cache` to resolve the package
and version, `apt-get download` into a temporary directory (nothing is installed system-wide)
and `dpkg-deb -x` to unpack it.

Cache layout (root: rewriter.cache.kernels_root(), $RING1_CACHE, else
${XDG_CACHE_HOME:-~/.cache}/ring1/kernels):

    <root>/<name>/manifest.json   written last and atomically: a kernel is cached iff its
                                  manifest exists and every file it lists has the listed size
    <root>/<name>/<file>...       the kernel file(s), each renamed into place from a temp name
    <root>/.lock-<name>           flock, so two concurrent fetches of one name do the work once
    <root>/.tmp-<name>-*          work directories (download + unpack), removed afterwards;
                                  a stale one left by a killed fetch is removed by the next

`extract_vmlinux(bzimage_bytes)` (rewriter/bzimage.py, re-exported here) turns an x86 bzImage
back into the ELF vmlinux inside it.

Exit statuses of run() (rewriter/errors.py's table, the same for every ring1 command): 0 ok,
2 usage / unknown name, 26 network or apt failure, 28 the cache directory could not be created
or written, 30 the package did not contain what was expected (no kernel file, bad bzImage,
wrong ELF), 16 interrupted. None is 3, ring1's "internal error".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import fnmatch
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from rewriter import elf
from rewriter.bzimage import BzImageError, extract_vmlinux
from rewriter.cache import kernels_root
from rewriter.elf import EM_386, EM_X86_64
from rewriter.errors import (EXIT_BAD_INPUT, EXIT_CACHE, EXIT_CONTENT, EXIT_INTERRUPTED,
                             EXIT_NETWORK)
from rewriter.multiboot import find_multiboot

__all__ = [
    "KERNELS", "FetchError", "BzImageError", "cached", "manifest", "fetch", "extract_vmlinux",
    "elf_info", "add_arguments", "run", "main",
]

EXIT_USAGE = EXIT_BAD_INPUT


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelSpec:
    name: str
    description: str
    arch: str                       # Debian architecture of the package
    package: str | None = None      # fixed package name, or ...
    package_re: str | None = None   # ... a regex with one group (the ABI number): newest wins
    member: str = ""                # glob for the kernel file inside the package
    kind: str = "raw"               # raw | gunzip | bzimage
    elf: tuple[int, int] | None = None   # expected (ELF class 1|2, e_machine)
    multiboot: bool = False         # must carry a multiboot header in its first 8 KiB

    @property
    def package_desc(self) -> str:
        if self.package:
            return f"{self.package}:{self.arch}"
        pat = self.package_re.strip("^$").replace(r"(\d+)", "*").replace("\\", "")
        return f"{pat}:{self.arch} (newest)"


KERNELS: dict[str, KernelSpec] = {s.name: s for s in [
    KernelSpec("gnumach", "GNU Mach 1.8, multiboot ELF32", "i386",
               package="gnumach-image-1.8-486", member="boot/gnumach-*",
               kind="gunzip", elf=(1, EM_386), multiboot=True),
    KernelSpec("gnumach-dbg", "GNU Mach 1.8 with the kernel debugger (db> on serial)", "i386",
               package="gnumach-image-1.8-486-dbg", member="boot/gnumach-*",
               kind="gunzip", elf=(1, EM_386), multiboot=True),
    KernelSpec("linux686", "Debian Linux 6.1 686 (i386): bzImage + extracted ELF vmlinux", "i386",
               package_re=r"^linux-image-6\.1\.0-(\d+)-686-unsigned$",
               member="boot/vmlinuz-*", kind="bzimage", elf=(1, EM_386)),
    KernelSpec("linux-amd64", "Debian Linux 6.1 amd64: bzImage + extracted ELF64 vmlinux", "amd64",
               package_re=r"^linux-image-6\.1\.0-(\d+)-amd64-unsigned$",
               member="boot/vmlinuz-*", kind="bzimage", elf=(2, EM_X86_64)),
    KernelSpec("invaders", "grub-invaders, a multiboot game (VGA text)", "i386",
               package="grub-invaders", member="boot/invaders.exec",
               kind="raw", multiboot=True),
    KernelSpec("busybox", "Debian's busybox-static (i386): a Linux user space for an initramfs",
               "i386", package="busybox-static", member="bin/busybox", kind="raw",
               elf=(1, EM_386)),
]}


class FetchError(Exception):
    """A fetch failed; `status` is main()'s exit status, `unreachable` is set when apt could
    not reach the archive at all (DNS / connect failures)."""

    def __init__(self, message: str, status: int = EXIT_NETWORK, unreachable: bool = False):
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------

def _spec(name: str) -> KernelSpec:
    try:
        return KERNELS[name]
    except KeyError:
        raise FetchError(f"unknown kernel {name!r} (known: {', '.join(KERNELS)})",
                         EXIT_USAGE) from None


def manifest(name: str) -> dict | None:
    """The manifest of a completely cached kernel, else None. No network, no hashing."""
    _spec(name)
    d = kernels_root() / name
    try:
        m = json.loads((d / "manifest.json").read_text())
        for f in m["files"].values():
            if (d / f["file"]).stat().st_size != f["size"]:
                return None
        return m
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def cached(name: str, role: str | None = None) -> Path | None:
    """Path of a cached kernel file (default: the primary one), or None if not cached."""
    m = manifest(name)
    if m is None:
        return None
    return kernels_root() / name / m["files"][role or m["primary"]]["file"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes, tmpdir: Path | None = None) -> None:
    fd, tmp = tempfile.mkstemp(dir=tmpdir or path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(root: Path, name: str):
    with open(root / f".lock-{name}", "a+") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lf, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# apt
# --------------------------------------------------------------------------------------------

_UNREACHABLE = re.compile(
    r"Could not resolve|Temporary failure resolving|Could not connect|Network is unreachable|"
    r"Connection timed out|Connection refused|No route to host|Unable to connect|"
    r"Name or service not known|Connection failed")

_APT_ENV = {"LC_ALL": "C", "LANG": "C", "DEBIAN_FRONTEND": "noninteractive"}
_apt_updated = False   # apt-get update runs at most once per process


def _run(argv: list[str], what: str, cwd: Path | None = None, timeout: float = 1800,
         check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, **_APT_ENV)
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError:
        raise FetchError(f"{what}: {argv[0]} not found (fetching kernels needs Debian's "
                         f"apt/dpkg)", EXIT_NETWORK) from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"{what}: `{' '.join(argv)}` timed out after {timeout:.0f}s",
                         EXIT_NETWORK) from None
    if check and p.returncode != 0:
        raise FetchError(f"{what}: `{' '.join(argv)}` exited {p.returncode}: "
                         f"{_first_error(p.stderr + p.stdout)}", EXIT_NETWORK,
                         unreachable=bool(_UNREACHABLE.search(p.stderr + p.stdout)))
    return p


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("E:", "Err:", "dpkg-deb: error", "dpkg: error")):
            return ln
    return lines[-1] if lines else "(no output)"


def _ensure_arch(arch: str, progress) -> bool:
    """Make `arch` usable by apt. Returns True if it had to be added (forces an update)."""
    native = _run(["dpkg", "--print-architecture"], "dpkg").stdout.strip()
    if arch == native:
        return False
    foreign = _run(["dpkg", "--print-foreign-architectures"], "dpkg").stdout.split()
    if arch in foreign:
        return False
    if os.geteuid() != 0:
        raise FetchError(f"architecture {arch} is not enabled in dpkg and this is not root: "
                         f"run `dpkg --add-architecture {arch} && apt-get update` as root",
                         EXIT_NETWORK)
    progress(f"ring1 fetch: dpkg --add-architecture {arch}")
    _run(["dpkg", "--add-architecture", arch], "dpkg --add-architecture")
    return True


def _apt_update(progress, force: bool = False) -> str:
    """apt-get update, once per process; a non-zero exit is tolerated (returns its first error
    line, '' if it succeeded) -- whether the package we need is available is checked after."""
    global _apt_updated
    if _apt_updated and not force:
        return ""
    if os.geteuid() != 0:
        progress("ring1 fetch: not root: using apt's existing package lists (no apt-get update)")
        _apt_updated = True
        return ""
    progress("ring1 fetch: apt-get update")
    p = _run(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=120"], "apt-get update",
             timeout=900, check=False)
    _apt_updated = True
    if p.returncode != 0:
        err = _first_error(p.stderr + p.stdout)
        progress(f"ring1 fetch: apt-get update exited {p.returncode} (tolerated; checking the "
                 f"package lists we need): {err}")
        return f"apt-get update exited {p.returncode}: {err}" + (
            " [archive unreachable]" if _UNREACHABLE.search(p.stderr + p.stdout) else "")
    return ""


def _candidate(pkg: str, arch: str) -> str | None:
    p = _run(["apt-cache", "policy", f"{pkg}:{arch}"], "apt-cache policy", check=False)
    m = re.search(r"^\s*Candidate:\s*(\S+)", p.stdout, re.M)
    if not m or m.group(1) == "(none)":
        return None
    return m.group(1)


def _resolve(spec: KernelSpec, update_err: str) -> tuple[str, str]:
    """(package, version) apt would download for `spec`; the newest ABI for a pattern."""
    if spec.package:
        names = [spec.package]
    else:
        rx = re.compile(spec.package_re)
        p = _run(["apt-cache", "pkgnames", spec.package_re.lstrip("^").split("\\")[0]],
                 "apt-cache pkgnames", check=False)
        found = [(int(m.group(1)), n) for n in p.stdout.split() if (m := rx.match(n))]
        names = [n for _, n in sorted(set(found), reverse=True)]
    for n in names:
        v = _candidate(n, spec.arch)
        if v:
            return n, v
    hint = f" ({update_err})" if update_err else ""
    raise FetchError(f"apt has no installable candidate for {spec.package_desc}{hint}",
                     EXIT_NETWORK, unreachable="[archive unreachable]" in update_err)


def _obtain(spec: KernelSpec, work: Path, progress) -> tuple[str, str, Path, str]:
    """Resolve, download and unpack `spec`'s package under `work`.
    Returns (package, version, unpacked root, sha256 of the .deb)."""
    added = _ensure_arch(spec.arch, progress)
    update_err = _apt_update(progress, force=added)
    pkg, ver = _resolve(spec, update_err)
    dl = work / "deb"
    dl.mkdir()
    progress(f"ring1 fetch: apt-get download {pkg}:{spec.arch}={ver}")
    argv = ["apt-get", "download", "-q", f"{pkg}:{spec.arch}={ver}"]
    if os.geteuid() == 0:   # apt would drop to _apt, who cannot write into root's cache dir
        argv[2:2] = ["-o", "APT::Sandbox::User=root"]
    _run(argv, f"downloading {pkg}:{spec.arch}", cwd=dl)
    debs = sorted(dl.glob("*.deb"))
    if len(debs) != 1:
        raise FetchError(f"apt-get download {pkg}:{spec.arch} left {len(debs)} .deb files",
                         EXIT_NETWORK)
    root = work / "root"
    _run(["dpkg-deb", "-x", str(debs[0]), str(root)], f"unpacking {debs[0].name}")
    deb_sha = _sha256_file(debs[0])
    debs[0].unlink()
    return pkg, ver, root, deb_sha


# --------------------------------------------------------------------------------------------
# fetch
# --------------------------------------------------------------------------------------------

def fetch(name: str, progress: Callable[[str], object] = print, refresh: bool = False) -> Path:
    """Make sure kernel `name` is in the cache and return its path (for linux*: the vmlinux).

    A cached kernel returns at once without touching the network; `refresh` re-resolves the
    package (picking up a newer ABI) and re-downloads."""
    spec = _spec(name)
    if not refresh and (p := cached(name)) is not None:
        return p
    root = kernels_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create cache directory {root}: {e}", EXIT_CACHE) from None
    with _locked(root, name):
        if not refresh and (p := cached(name)) is not None:
            return p          # another process fetched it while we waited for the lock
        for stale in root.glob(f".tmp-{name}-*"):   # we hold the lock: these are dead
            shutil.rmtree(stale, ignore_errors=True)
        t0 = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
        try:
            pkg, ver, unpacked, deb_sha = _obtain(spec, work, progress)
            path = _install(spec, pkg, ver, deb_sha, unpacked, work, progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        progress(f"ring1 fetch: {name}: {pkg} {ver} -> {path} "
                 f"({time.monotonic() - t0:.1f}s)")
        return path


def _find_member(spec: KernelSpec, unpacked: Path, pkg: str) -> Path:
    hits = sorted(p for p in unpacked.rglob("*")
                  if p.is_file() and not p.is_symlink()
                  and fnmatch.fnmatch(p.relative_to(unpacked).as_posix(), spec.member))
    if len(hits) != 1:
        raise FetchError(f"{pkg}: expected one file matching {spec.member}, found "
                         f"{[h.relative_to(unpacked).as_posix() for h in hits]}", EXIT_CONTENT)
    return hits[0]


def _install(spec: KernelSpec, pkg: str, ver: str, deb_sha: str, unpacked: Path, work: Path,
             progress) -> Path:
    src = _find_member(spec, unpacked, pkg)
    raw = src.read_bytes()
    files: dict[str, tuple[str, bytes]] = {}     # role -> (file name, bytes)
    if spec.kind == "bzimage":
        files["bzimage"] = (src.name, raw)
        try:
            vmlinux = extract_vmlinux(raw)
        except BzImageError as e:
            raise FetchError(f"{pkg}: {src.name}: {e}", EXIT_CONTENT) from None
        vname = src.name.replace("vmlinuz", "vmlinux", 1)
        if vname == src.name:
            vname = "vmlinux-" + src.name
        files["vmlinux"] = (vname, vmlinux)
        primary = "vmlinux"
    else:
        data, fname = raw, src.name
        if spec.kind == "gunzip" and raw[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as e:
                raise FetchError(f"{pkg}: {src.name}: bad gzip: {e}", EXIT_CONTENT) from None
            fname = fname[:-3] if fname.endswith(".gz") else fname
        files["kernel"] = (fname, data)
        primary = "kernel"

    kernel = files[primary][1]
    info = elf_info(kernel)
    if spec.elf:
        if info is None or (info["class"], info["machine"]) != spec.elf:
            got = "not ELF" if info is None else f"ELF{32 * info['class']} e_machine={info['machine']}"
            raise FetchError(f"{pkg}: {files[primary][0]}: expected ELF{32 * spec.elf[0]} "
                             f"e_machine={spec.elf[1]}, got {got}", EXIT_CONTENT)
    mb = find_multiboot(kernel)
    if spec.multiboot and mb is None:
        raise FetchError(f"{pkg}: {files[primary][0]}: no multiboot header in its first 8 KiB",
                         EXIT_CONTENT)

    dest = kernels_root() / spec.name
    dest.mkdir(parents=True, exist_ok=True)
    man = {
        "name": spec.name, "package": pkg, "arch": spec.arch, "version": ver,
        "deb_sha256": deb_sha, "source": src.relative_to(unpacked).as_posix(),
        "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "primary": primary, "files": {},
    }
    for role, (fname, data) in files.items():
        _write_atomic(dest / fname, data, tmpdir=work)
        man["files"][role] = {"file": fname, "size": len(data), "sha256": _sha256(data)}
    if info is not None:
        man["elf"] = {k: info[k] for k in
                      ("class", "machine", "entry", "text_size", "stripped", "exec_sections")}
    if mb is not None:
        man["multiboot"] = mb.as_dict()
    old = manifest(spec.name)
    _write_atomic(dest / "manifest.json", (json.dumps(man, indent=2) + "\n").encode(),
                  tmpdir=work)
    if old:   # a refresh that moved to a new version: drop the files nobody lists any more
        keep = {f["file"] for f in man["files"].values()}
        for f in old["files"].values():
            if f["file"] not in keep:
                with contextlib.suppress(OSError):
                    (dest / f["file"]).unlink()

    for role, (fname, data) in files.items():
        progress(f"ring1 fetch: {spec.name}: {role} {dest / fname} ({len(data)} bytes)")
    if info is not None:
        progress(f"ring1 fetch: {spec.name}: ELF{32 * info['class']} e_machine={info['machine']}"
                 f" entry={info['entry']:#x} .text={info['text_size']} bytes"
                 f"{' stripped' if info['stripped'] else ''}; executable sections: "
                 f"{', '.join(info['exec_sections']) or '(none)'}")
    if mb is not None:
        progress(f"ring1 fetch: {spec.name}: multiboot header at file offset {mb.offset:#x}, "
                 f"flags {mb.flags:#x}{' (a.out kludge)' if mb.aout_kludge else ''}")
    return dest / files[primary][0]


# --------------------------------------------------------------------------------------------
# ELF inspection
# --------------------------------------------------------------------------------------------

def elf_info(data: bytes) -> dict | None:
    """A small summary of an ELF image, or None if `data` is not ELF."""
    h = elf.header(data)
    if h is None:
        return None
    secs = elf.section_headers(data, h)
    text = [s for s in secs if s.name == ".text"]
    execs = [s for s in secs if s.flags & elf.SHF_EXECINSTR and s.type != elf.SHT_NOBITS]
    return {
        "class": h.cls, "machine": h.machine, "type": h.type, "entry": h.entry,
        "text_size": text[0].size if text else 0,
        "exec_sections": [s.name for s in execs],
        "exec_bytes": sum(s.size for s in execs),
        "stripped": not any(s.type == elf.SHT_SYMTAB for s in secs),
        "sections": [{k: getattr(s, k) for k in ("name", "type", "flags", "addr", "offset", "size")}
                     for s in secs],
        "segments": [{k: getattr(p, k) for k in ("type", "offset", "vaddr", "paddr", "filesz",
                                                  "memsz", "flags")}
                     for p in elf.program_headers(data, h)],
        "extent": elf.extent(data, h),
    }


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def _list() -> None:
    w = max(map(len, KERNELS))
    for s in KERNELS.values():
        m = manifest(s.name)
        state = (f"cached {kernels_root() / s.name / m['files'][m['primary']]['file']} "
                 f"({m['package']} {m['version']})") if m else "not cached"
        print(f"{s.name:<{w}}  {s.package_desc:<48}  {state}")
        print(f"{'':<{w}}  {s.description}")


DESCRIPTION = ("Download real guest kernels from Debian's archive into ring1's cache and "
               "print their paths (progress on stderr). Cache: $RING1_CACHE, else "
               "${XDG_CACHE_HOME:-~/.cache}/ring1/kernels; exit statuses: ring1 --help.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`ring1 fetch`'s arguments, on ring1's parser (rewriter/cli.py)."""
    p.add_argument("names", nargs="*", metavar="NAME", help=f"{', '.join(KERNELS)}, or 'all'")
    p.add_argument("--list", action="store_true",
                   help="list the known kernels and whether each is cached")
    p.add_argument("--refresh", action="store_true",
                   help="re-resolve and re-download even if cached (picks up a newer ABI)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    """`ring1 fetch` with add_arguments()'s arguments parsed; returns the exit status."""
    if args.list:
        _list()
        return 0
    if not args.names:
        print("ring1 fetch: error: name a kernel, 'all' or --list (ring1 fetch --help lists "
              "the options)", file=sys.stderr)
        return EXIT_USAGE
    names: list[str] = []
    for n in args.names:
        for x in (KERNELS if n == "all" else [n]):
            if x not in names:
                names.append(x)
    for n in names:
        if n not in KERNELS:
            print(f"ring1 fetch: error: unknown kernel {n!r} (known: {', '.join(KERNELS)}, all)",
                  file=sys.stderr)
            return EXIT_USAGE

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    for n in names:
        try:
            path = fetch(n, progress=progress, refresh=args.refresh)
        except FetchError as e:
            print(f"ring1 fetch: error: {n}: {e}", file=sys.stderr)
            return e.status
        except OSError as e:            # the cache directory itself: permissions, disk full
            print(f"ring1 fetch: error: {n}: cache I/O under {kernels_root()}: {e}",
                  file=sys.stderr)
            return EXIT_CACHE
        except KeyboardInterrupt:
            print(f"ring1 fetch: interrupted while fetching {n}", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(path, flush=True)
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    """`ring1 fetch ARGV...`, parsed by ring1's own parser (one grammar for both spellings)."""
    from rewriter.cli import main as ring1_main
    return ring1_main(["fetch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
