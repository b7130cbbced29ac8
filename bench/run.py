#!/usr/bin/env python3
"""ring1 benchmarks: every figure is measured side by side in one run and reported as a ratio
next to its absolute time (these machines are shared and noisy: absolute times are shown, never
asserted).

    python bench/run.py [--quick] [--out DIR] [--only SECTION,...]

Writes DIR/results.json (raw), DIR/results.md (the tables) and DIR/*.png (plots, if matplotlib
is installed), and prints the tables. Default DIR: bench/results/<UTC date-time>.

Sections:
  rewriter  wall time and peak RSS of `ring1 inspect` / `ring1 rewrite` on real kernels, next to
            the floor (capstone's disasm_lite alone over the same executable bytes), and batch
            throughput with -j 1 and -j 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RING1 = [sys.executable, "-m", "rewriter.cli"]


def measure(cmd: list[str]) -> dict:
    """Wall time, CPU time and peak RSS of cmd, measured in a fresh helper process (so that
    RUSAGE_CHILDREN's maximum RSS is this command's own, not an earlier one's)."""
    helper = ("import resource,subprocess,sys,time,json;"
              "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True);"
              "w=time.perf_counter()-t;"
              "r=resource.getrusage(resource.RUSAGE_CHILDREN);"
              "print(json.dumps({'wall':w,'rss_kib':r.ru_maxrss,'user':r.ru_utime,"
              "'rc':p.returncode,'err':p.stderr.decode()[-400:]}))")
    out = subprocess.run([sys.executable, "-c", helper] + cmd, capture_output=True, text=True,
                         cwd=ROOT)
    return json.loads(out.stdout)


def capstone_floor(path: str) -> dict:
    code = ("import sys,time,capstone;sys.path.insert(0,%r);"
            "from rewriter import image;img=image.load(%r);"
            "m=capstone.CS_MODE_64 if img.bits==64 else capstone.CS_MODE_32;"
            "cs=capstone.Cs(capstone.CS_ARCH_X86,m);cs.skipdata=True;"
            "t=time.perf_counter();n=0\n"
            "for r in img.code:\n"
            "  for _ in cs.disasm_lite(r.data,r.addr): n+=1\n"
            "print(time.perf_counter()-t, n, sum(len(r.data) for r in img.code))") % (str(ROOT), path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    secs, n, nbytes = out.stdout.split()
    return {"seconds": float(secs), "instructions": int(n), "bytes": int(nbytes)}


def bench_rewriter(quick: bool) -> dict:
    from rewriter import fetch
    kernels = [("gnumach", "rewrite")] if quick else \
        [("gnumach", "rewrite"), ("linux686", "rewrite"), ("linux-amd64", "inspect")]
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="ring1-bench-"))
    for name, what in kernels:
        try:
            path = str(fetch.fetch(name, progress=lambda *_: None))
        except Exception as e:                       # no archive: say so, measure the rest
            rows.append({"kernel": name, "error": f"cannot fetch: {e}"})
            continue
        floor = capstone_floor(path)
        if what == "rewrite":
            cmd = RING1 + ["rewrite", path, "-o", str(tmp / f"{name}.r1.elf")]
        else:
            cmd = RING1 + ["inspect", path]
        m = measure(cmd)
        rows.append({"kernel": name, "command": what, "wall_s": round(m["wall"], 2),
                     "peak_rss_mib": round(m["rss_kib"] / 1024), "rc": m["rc"],
                     "floor_s": round(floor["seconds"], 2),
                     "ratio_to_floor": round(m["wall"] / floor["seconds"], 2),
                     "instructions": floor["instructions"], "code_bytes": floor["bytes"]})
        print(f"  rewriter: {name} {what}: {m['wall']:.1f} s, {m['rss_kib'] // 1024} MiB, "
              f"floor {floor['seconds']:.1f} s", file=sys.stderr)
    batch = []
    try:
        imgs = [str(fetch.fetch(n, progress=lambda *_: None)) for n in ("gnumach", "gnumach-dbg")]
        imgs.append(str(ROOT / "samples" / "build" / "sensitive.elf"))
        imgs = [i for i in imgs if Path(i).is_file()]
        for j in (1, 2):
            m = measure(RING1 + ["rewrite", *imgs, "-o", str(tmp / f"batch{j}") + "/", "-j", str(j)])
            batch.append({"jobs": j, "images": len(imgs), "wall_s": round(m["wall"], 2),
                          "images_per_s": round(len(imgs) / m["wall"], 2), "rc": m["rc"]})
    except Exception as e:
        batch.append({"error": str(e)})
    return {"kernels": rows, "batch": batch}


def to_markdown(res: dict) -> str:
    out = [f"# ring1 benchmarks — {res['when']}", "",
           f"Machine: {res['machine']}", ""]
    rw = res.get("rewriter")
    if rw:
        out += ["## Rewriter", "",
                "| kernel | command | code bytes | instructions | wall (s) | peak RSS (MiB) | "
                "capstone floor (s) | × floor |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in rw["kernels"]:
            if "error" in r:
                out.append(f"| {r['kernel']} | — | | | | | | {r['error']} |")
                continue
            out.append(f"| {r['kernel']} | {r['command']} | {r['code_bytes']:,} | "
                       f"{r['instructions']:,} | {r['wall_s']} | {r['peak_rss_mib']} | "
                       f"{r['floor_s']} | {r['ratio_to_floor']} |")
        out += ["", "Batch (`ring1 rewrite IMAGES -o DIR/ -j N`):", "",
                "| -j | images | wall (s) | images/s |", "|---:|---:|---:|---:|"]
        for b in rw["batch"]:
            if "error" not in b:
                out.append(f"| {b['jobs']} | {b['images']} | {b['wall_s']} | {b['images_per_s']} |")
        out.append("")
    return "\n".join(out)


def plot(res: dict, outdir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files = []
    rw = res.get("rewriter")
    if rw:
        rows = [r for r in rw["kernels"] if "error" not in r]
        if rows:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            names = [f"{r['kernel']}\n{r['command']}" for r in rows]
            x = range(len(rows))
            ax.bar([i - 0.2 for i in x], [r["floor_s"] for r in rows], 0.4, label="capstone floor")
            ax.bar([i + 0.2 for i in x], [r["wall_s"] for r in rows], 0.4, label="ring1")
            ax.set_xticks(list(x), names)
            ax.set_ylabel("seconds")
            ax.set_title("Rewriter wall time vs. disassembly floor")
            ax.legend()
            fig.tight_layout()
            fig.savefig(outdir / "rewriter.png", dpi=120)
            plt.close(fig)
            files.append("rewriter.png")
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (about a minute)")
    ap.add_argument("--out", help="results directory (default bench/results/<date-time>)")
    ap.add_argument("--only", default="rewriter", help="sections to run, comma-separated")
    args = ap.parse_args(argv)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    outdir = Path(args.out) if args.out else ROOT / "bench" / "results" / when
    outdir.mkdir(parents=True, exist_ok=True)
    res = {"when": when, "quick": args.quick,
           "machine": f"{os.cpu_count()} cores, {os.uname().release}"}
    sections = {s.strip() for s in args.only.split(",")}
    if "rewriter" in sections:
        res["rewriter"] = bench_rewriter(args.quick)
    (outdir / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    md = to_markdown(res)
    files = plot(res, outdir)
    if files:
        md += "\n" + "\n".join(f"![{f}]({f})" for f in files) + "\n"
    (outdir / "results.md").write_text(md)
    print(md)
    print(f"results in {outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
