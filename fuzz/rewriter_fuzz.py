#!/usr/bin/env python3
"""Fuzz the rewriter: `ring1 inspect`, `rewrite` and `verify` on mutated kernel images.

Two drivers over one target (`check`) and one set of mutators (mutators.py):

  rewriter_fuzz.py loop [--iterations N] [--seconds S] [--seed K]
      a plain seeded mutation loop: the same inputs on every run for a given seed (the smoke
      run in `make test` uses it; it needs nothing but the rewriter itself);
  rewriter_fuzz.py atheris [libFuzzer options] [CORPUS_DIR]
      coverage-guided, with atheris (`pip install -e '.[fuzz]'`), the structure-aware
      mutators as its custom mutator half of the time and libFuzzer's byte mutations otherwise.

Seeds: the sample kernels (samples/build/*.elf, built by `make setup`), their rewrites (default
and trap-only), an a.out-kludge form of one, and every file in fuzz/corpus/rewriter/ (inputs
that once found something: kept small, replayed first). Each input runs `ring1 inspect --json`,
`ring1 rewrite` (random --window/--tactics), `ring1 verify` of that output, and `ring1 verify`
of the input itself, in-process through rewriter.cli.main; triage.py says what is a finding.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import mutators  # noqa: E402
import triage  # noqa: E402
from triage import Finding  # noqa: E402

TIMEOUT_S = 20          # one input, all four commands (the samples take well under a second)
MEMORY_MB = 3072        # address-space limit of the fuzzing process (RLIMIT_AS)


class Hang(BaseException):
    """Raised by SIGALRM; a BaseException so that ring1's `except Exception` lets it through."""


def _alarm(signum, frame):
    raise Hang()


def _ring1(argv: list[str]) -> tuple[int, str, str]:
    from rewriter import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _judge(cmd: str, rc: int, stderr: str, allowed: tuple[int, ...]) -> Finding | None:
    if rc == 3:
        if "Traceback (most recent call last)" in stderr:
            exc, where, msg = triage.parse_traceback(stderr)
            return Finding("traceback", cmd, exc, where, msg, stderr)
        msg = stderr.strip().removeprefix("ring1: ")
        return Finding("internal-error", cmd, None, None, msg, stderr)
    if rc not in allowed:
        return Finding("exit-status", cmd, None, None, f"exit {rc}", stderr)
    if rc == 2:
        lines = stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("ring1: ") or len(lines[0]) < 12:
            return Finding("message", cmd, None, None, "exit 2 without one 'ring1: ' line",
                           stderr)
    return None


def check(data: bytes, work: Path, rng: random.Random | None = None,
          timeout: float = TIMEOUT_S) -> list[Finding]:
    """Run the four commands on `data`; the findings (empty: the contract held)."""
    rng = rng or random.Random(0)
    src, out, rep = work / "in.elf", work / "out.r1.elf", work / "report.json"
    for p in (out, rep):
        p.unlink(missing_ok=True)
    src.write_bytes(data)
    opts = []
    if rng.random() < 0.2:
        opts += ["--window", rng.choice(["0x40000000", "0xc0000000", "0x0", "0xff800000"])]
    if rng.random() < 0.2:
        opts += ["--tactics", rng.choice(["trap", "trampoline,trap", "inline,trap"])]
    findings = []
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    cmd = "inspect"
    try:
        rc, stdout, err = _ring1(["inspect", "--json", src])
        f = _judge(cmd, rc, err, (0, 2))
        if f is None and rc == 0:
            json.loads(stdout)
        findings.append(f)
        cmd = "rewrite"
        rc, _, err = _ring1(["rewrite", src, "-o", out, "--report", rep] + opts)
        findings.append(_judge(cmd, rc, err, (0, 2)))
        if rc == 0:
            cmd = "verify-output"
            rc, stdout, err = _ring1(["verify", out])
            f = _judge(cmd, rc, err, (0,))
            if f and f.kind == "exit-status":    # its own output must verify
                prob = next((ln.strip() for ln in stdout.splitlines()[1:]), "")
                f = Finding("verify-own-output", cmd, None, None, prob, stdout + err)
            findings.append(f)
        cmd = "verify-input"
        rc, _, err = _ring1(["verify", src])
        findings.append(_judge(cmd, rc, err, (0, 1, 2)))
    except Hang:
        findings.append(Finding("hang", cmd, None, None, f"longer than {timeout:g} s"))
    except MemoryError:
        findings.append(Finding("memory", cmd, None, None, "MemoryError outside ring1's handler"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return [f for f in findings if f is not None]


# ---- seeds ----------------------------------------------------------------------------------
def _aout_form(elf: bytes) -> bytes | None:
    """The same kernel as a flat binary with the multiboot a.out kludge (flag 16)."""
    lay = mutators.Layout(elf)
    if lay.mb is None or elf[4] != 1:
        return None
    u = mutators.u
    phoff, phnum = u(elf, 28, 4), u(elf, 44, 2)
    segs = []
    for i in range(phnum):
        b = phoff + 32 * i
        if u(elf, b, 4) == mutators.PT_LOAD and u(elf, b + 16, 4):
            segs.append((u(elf, b + 12, 4), u(elf, b + 4, 4), u(elf, b + 16, 4),
                         u(elf, b + 20, 4)))    # paddr, offset, filesz, memsz
    if not segs:
        return None
    lo = min(s[0] for s in segs)
    hi = max(s[0] + s[2] for s in segs)
    if hi - lo > 1 << 24:
        return None
    flat = bytearray(hi - lo)
    hdr = None
    for pa, off, fsz, _ in segs:
        flat[pa - lo:pa - lo + fsz] = elf[off:off + fsz]
        if off <= lay.mb < off + fsz:
            hdr = pa + lay.mb - off
    if hdr is None or hdr - lo >= 8192:
        return None
    mb = hdr - lo
    bss = max(s[0] + s[3] for s in segs)
    entry = u(elf, 24, 4)
    flags = u(flat, mb + 4, 4) | 0x10000
    mutators.put(flat, mb + 4, 4, flags)
    mutators.put(flat, mb + 8, 4, -(mutators.MULTIBOOT_MAGIC + flags))
    for i, v in enumerate((hdr, lo, hi, bss, entry)):
        mutators.put(flat, mb + 12 + 4 * i, 4, v)
    return bytes(flat)


def seeds(work: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of every seed; regression inputs first."""
    out = []
    reg = HERE / "corpus" / "rewriter"
    if reg.is_dir():
        out += [(f"corpus/{p.name}", p.read_bytes()) for p in sorted(reg.iterdir()) if p.is_file()]
    samples = sorted((ROOT / "samples" / "build").glob("*.elf"))
    if not samples:
        raise SystemExit("rewriter_fuzz: no samples/build/*.elf: run `make setup` first")
    for p in samples:
        raw = p.read_bytes()
        out.append((p.name, raw))
    for p in samples[:3]:
        raw = p.read_bytes()
        for tag, opts in (("r1", []), ("trap.r1", ["--tactics", "trap"])):
            dst = work / f"{p.stem}.{tag}.elf"
            rc, _, err = _ring1(["rewrite", p, "-o", dst] + opts)
            if rc == 0:
                out.append((dst.name, dst.read_bytes()))
        a = _aout_form(raw)
        if a:
            out.append((f"{p.stem}.aout", a))
    return out


# ---- drivers --------------------------------------------------------------------------------
def _limit_memory(mb: int) -> None:
    if mb:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = mb << 20
        if hard == resource.RLIM_INFINITY or hard > want:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def _save(finding: Finding, data: bytes, outdir: Path | None) -> None:
    if not outdir:
        return
    outdir.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()[:16]
    (outdir / f"finding-{h}.elf").write_bytes(data)
    (outdir / f"finding-{h}.txt").write_text(
        f"{finding.signature}\nmutations: {finding.mutations}\n\n{finding.detail}")


def loop(iterations: int | None, seconds: float | None, seed: int, outdir: Path | None,
         log=print) -> dict:
    """The plain seeded loop: every seed once unmutated, then mutants. Returns counts and the
    findings by signature (known ones apart)."""
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="ring1-fuzz-"))
    stats = {"executions": 0, "seconds": 0.0, "new": {}, "known": {}, "seed": seed}
    try:
        pool = seeds(work)
        rng = random.Random(seed)
        i = 0
        while True:
            if iterations is not None and i >= iterations:
                break
            if seconds is not None and time.monotonic() - t0 >= seconds:
                break
            if i < len(pool):
                name, data = pool[i]
                muts = []
            else:
                name, data = pool[rng.randrange(len(pool))]
                data, muts = mutators.mutate(data, rng)
            for f in check(data, work, random.Random(rng.getrandbits(32))):
                f.mutations = [name] + muts
                k = f.known()
                bucket = stats["known"] if k else stats["new"]
                if f.signature not in bucket:
                    bucket[f.signature] = {"count": 0, "example": f.detail[-2000:],
                                           "mutations": f.mutations}
                    if not k:
                        _save(f, data, outdir)
                        log(f"NEW FINDING: {f.signature}  (input {name} + {muts})")
                bucket[f.signature]["count"] += 1
            i += 1
        stats["executions"] = i
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stats["seconds"] = round(time.monotonic() - t0, 1)
    return stats


def run_atheris(argv: list[str]) -> None:
    import atheris
    work = Path(tempfile.mkdtemp(prefix="ring1-fuzz-"))
    pool = seeds(work)
    # libFuzzer wants its corpus as files: seed an empty corpus directory with the pool
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if dirs and Path(dirs[0]).is_dir() and not any(Path(dirs[0]).iterdir()):
        for name, data in pool:
            (Path(dirs[0]) / name).write_bytes(data)
    outdir = Path(os.environ.get("RING1_FUZZ_FINDINGS", ROOT / "build" / "fuzz" / "findings"))
    seen: set[str] = set()
    counts = {"inputs": 0}

    def one(data: bytes) -> None:
        counts["inputs"] += 1
        for f in check(data, work, random.Random(len(data))):
            if f.known():
                continue
            if f.signature not in seen:
                seen.add(f.signature)
                _save(f, data, outdir)
            raise RuntimeError(f"ring1 fuzz finding: {f.signature}\n{f.detail[-3000:]}")

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        out, _ = mutators.mutate(data, rng)
        return out[:max_size]

    with atheris.instrument_imports(include=["rewriter"]):
        import rewriter.cli  # noqa: F401
        import rewriter.verify  # noqa: F401
    atheris.Setup(argv, one, custom_mutator=custom_mutator)
    atheris.Fuzz()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "atheris":
        _limit_memory(0)           # libFuzzer's -rss_limit_mb watches memory instead
        run_atheris([sys.argv[0]] + argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["loop"])
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--memory-mb", type=int, default=MEMORY_MB)
    ap.add_argument("--findings", type=Path, default=ROOT / "build" / "fuzz" / "findings",
                    help="directory for the inputs of new findings")
    ap.add_argument("--json", action="store_true", help="print the statistics as JSON")
    a = ap.parse_args(argv)
    _limit_memory(a.memory_mb)
    st = loop(a.iterations, a.seconds, a.seed, a.findings,
              log=lambda m: print(m, file=sys.stderr, flush=True))
    if a.json:
        print(json.dumps(st, indent=1))
    else:
        print(f"rewriter: {st['executions']} inputs in {st['seconds']} s, "
              f"{len(st['new'])} new finding(s), {len(st['known'])} known")
        for sig, v in list(st["new"].items()) + list(st["known"].items()):
            tag = "NEW  " if sig in st["new"] else "known"
            print(f"  {tag} x{v['count']}: {sig}")
    return 1 if st["new"] else 0


if __name__ == "__main__":
    sys.exit(main())
