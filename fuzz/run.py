#!/usr/bin/env python3
"""`make fuzz`: build and run every fuzz target, then print the findings table.

Targets, by convention:
  fuzz/NAME.c      a libFuzzer target (defines LLVMFuzzerTestOneInput); the comment lines at its
                   top name the runtime .c files it links (e.g. "links runtime/decode.c"); built
                   with clang -fsanitize=fuzzer,address,undefined into build/fuzz/NAME;
  fuzz/corpus/NAME/  its seeds, small, in git (inputs that once found a bug belong here);
  fuzz/rewriter_fuzz.py  the rewriter (atheris), seeded from the sample kernels.

Each C target first replays its committed corpus (a regression check), then fuzzes for
--seconds in a working copy of the corpus (build/fuzz/corpus/NAME); crashes, leaks and timeouts
land in build/fuzz/findings/NAME/. Exit status 1 if any target found something.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / "build" / "fuzz"
CC = os.environ.get("FUZZ_CC", "clang")
CFLAGS = ["-g", "-O1", "-std=gnu11", "-D_GNU_SOURCE", "-fsanitize=fuzzer,address,undefined",
          "-fno-sanitize-recover=all", "-I", str(ROOT / "runtime"),
          "-I", str(ROOT / "runtime" / "include"), "-I", str(ROOT / "runtime" / "dev")]
# Per input: a hang is 10 s, unbounded memory is 2 GiB; target output (refusal messages) is
# dropped, libFuzzer's own and the sanitizers' reports are kept.
RUN_FLAGS = ["-timeout=10", "-rss_limit_mb=2048", "-close_fd_mask=3", "-print_final_stats=1"]


def sources(target: Path) -> list[Path]:
    """The runtime .c files named in the target's leading comment lines."""
    srcs = []
    for line in target.read_text().splitlines():
        s = line.strip()
        if not (s.startswith("//") or s.startswith("/*") or s.startswith("*")):
            break
        for tok in re.findall(r"[\w./-]+\.c\b", s):
            for cand in (ROOT / tok, ROOT / "runtime" / tok):
                if cand.is_file() and cand.resolve() != target.resolve() and cand not in srcs:
                    srcs.append(cand)
                    break
    return srcs


_DEFINES_TARGET = re.compile(r"^int\s+LLVMFuzzerTestOneInput\s*\([^;{]*\)\s*(\{|$)", re.M)


def c_targets(only: list[str] | None = None) -> list[Path]:
    ts = sorted(p for p in HERE.glob("*.c") if _DEFINES_TARGET.search(p.read_text()))
    return [t for t in ts if not only or t.stem in only]


def build(target: Path) -> Path:
    out = BUILD / target.stem
    srcs = sources(target)
    deps = [target] + srcs + list((ROOT / "runtime").glob("*.h")) + \
        list((ROOT / "runtime" / "include").glob("*.h"))
    if out.exists() and all(d.stat().st_mtime <= out.stat().st_mtime for d in deps):
        return out
    BUILD.mkdir(parents=True, exist_ok=True)
    cmd = [CC] + CFLAGS + ["-o", str(out), str(target)] + [str(s) for s in srcs]
    print("  " + " ".join(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c
                          for c in cmd), flush=True)
    subprocess.run(cmd, check=True)
    return out


def _stats(text: str) -> dict:
    st = {}
    for k in ("number_of_executed_units", "peak_rss_mb", "new_units_added"):
        m = re.search(rf"stat::{k}:\s*(\d+)", text)
        if m:
            st[k] = int(m.group(1))
    if "number_of_executed_units" not in st:       # "Done N runs in T second(s)"
        m = re.search(r"Done (\d+) runs", text)
        if m:
            st["number_of_executed_units"] = int(m.group(1))
    return st


def _findings(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*") if re.match(r"(crash|leak|timeout|oom|slow-unit)-", p.name)) \
        if d.is_dir() else []


def run_c(target: Path, seconds: int, log: Path) -> dict:
    name = target.stem
    exe = build(target)
    seeds = HERE / "corpus" / name
    work = BUILD / "corpus" / name
    art = BUILD / "findings" / name
    work.mkdir(parents=True, exist_ok=True)
    art.mkdir(parents=True, exist_ok=True)
    if seeds.is_dir():
        for s in seeds.iterdir():
            if s.is_file() and not (work / s.name).exists():
                shutil.copy(s, work / s.name)
    before = set(_findings(art))
    res = {"target": name, "executions": 0, "seconds": 0, "findings": []}
    # 1. the committed corpus, once each: a regression check
    files = sorted(p for p in seeds.iterdir() if p.is_file()) if seeds.is_dir() else []
    if files:
        r = subprocess.run([str(exe), f"-artifact_prefix={art}/"] + RUN_FLAGS[:3] +
                           [str(f) for f in files], capture_output=True, text=True, cwd=BUILD)
        if r.returncode:
            log.write_text(r.stdout + r.stderr)
            res["findings"] = [str(p) for p in set(_findings(art)) - before] or ["replay failed"]
            res["replay_failed"] = True
            return res
    # 2. fuzzing
    t0 = time.monotonic()
    with open(log, "w") as lf:
        r = subprocess.run([str(exe), f"-max_total_time={seconds}", f"-artifact_prefix={art}/"]
                           + RUN_FLAGS + [str(work)],
                           stdout=lf, stderr=subprocess.STDOUT, cwd=BUILD)
    res["seconds"] = round(time.monotonic() - t0)
    res.update(_stats(log.read_text(errors="replace")))
    res["executions"] = res.pop("number_of_executed_units", 0)
    res["findings"] = [str(p) for p in set(_findings(art)) - before]
    if r.returncode and not res["findings"]:
        res["findings"] = [f"exit {r.returncode}, see {log}"]
    return res


def run_rewriter(seconds: int, log: Path, atheris: bool) -> dict:
    corpus = BUILD / "corpus" / "rewriter"
    corpus.mkdir(parents=True, exist_ok=True)
    findings = BUILD / "findings" / "rewriter"
    findings.mkdir(parents=True, exist_ok=True)
    before = set(findings.glob("finding-*.elf")) if findings.is_dir() else set()
    env = dict(os.environ, RING1_FUZZ_FINDINGS=str(findings))
    t0 = time.monotonic()
    if atheris:
        cmd = [sys.executable, str(HERE / "rewriter_fuzz.py"), "atheris",
               f"-max_total_time={seconds}", "-timeout=30", "-rss_limit_mb=3072",
               f"-artifact_prefix={findings}/",
               "-max_len=262144", "-print_final_stats=1", str(corpus)]
    else:
        cmd = [sys.executable, str(HERE / "rewriter_fuzz.py"), "loop", "--seconds", str(seconds),
               "--seed", str(int(time.time())), "--findings", str(findings)]
    with open(log, "w") as lf:
        r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    text = log.read_text(errors="replace")
    res = {"target": "rewriter" + (" (atheris)" if atheris else " (seeded loop)"),
           "seconds": round(time.monotonic() - t0)}
    if atheris:
        res["executions"] = _stats(text).get("number_of_executed_units", 0)
    else:
        m = re.search(r"rewriter: (\d+) inputs", text)
        res["executions"] = int(m.group(1)) if m else 0
    new = set(findings.glob("finding-*.elf")) - before if findings.is_dir() else set()
    res["findings"] = sorted(str(p) for p in new)
    if r.returncode and not res["findings"]:
        res["findings"] = [f"exit {r.returncode}, see {log}"]
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    ap.add_argument("--only", nargs="*", help="target names (file stems; 'rewriter')")
    ap.add_argument("--no-atheris", action="store_true",
                    help="the rewriter with the plain seeded loop instead of atheris")
    a = ap.parse_args(argv)
    BUILD.mkdir(parents=True, exist_ok=True)
    results = []
    for t in c_targets(a.only):
        print(f"fuzz: {t.stem} ({', '.join(os.path.relpath(s, ROOT) for s in sources(t))}), "
              f"{a.seconds} s", flush=True)
        results.append(run_c(t, a.seconds, BUILD / f"{t.stem}.log"))
    if not a.only or "rewriter" in a.only:
        try:
            import atheris  # noqa: F401
            use_atheris = not a.no_atheris
        except ImportError:
            use_atheris = False
        print(f"fuzz: rewriter ({'atheris' if use_atheris else 'seeded loop'}), {a.seconds} s",
              flush=True)
        results.append(run_rewriter(a.seconds, BUILD / "rewriter.log", use_atheris))
    lines = ["| target | executions | time | findings |", "|---|---:|---:|---|"]
    for r in results:
        f = ", ".join(os.path.relpath(x, ROOT) if x.startswith("/") else x
                      for x in r["findings"]) or "none"
        lines.append(f"| {r['target']} | {r['executions']:,} | {r['seconds']} s | {f} |")
    table = "\n".join(lines)
    (BUILD / "summary.md").write_text(table + "\n")
    print(table)
    bad = [r for r in results if r["findings"]]
    if bad:
        print(f"fuzz: {len(bad)} target(s) found something: inputs and logs in "
              f"{os.path.relpath(BUILD, ROOT)}/", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
