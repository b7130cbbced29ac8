"""The `linux` section of the bench: Debian's i386 Linux (the 686 kernel `ring1 fetch linux686`
caches) with Debian's static busybox as /init, running a kernel's everyday work — processes
started and waited for, files created and removed, a shell's own loop, a walk of sysfs, a pipe
of three programs — under QEMU TCG and ring1 (its first boot, before any profile, and its
later boots, which `ring1 boot` rewrites with the profile it recorded).

Every part is bracketed by lines the guest prints (`bench: NAME begin` / `bench: NAME end`),
timestamped from outside as they arrive; the boot is exec to `bench: shell up`. Each part's
output (a count, a checksum) is printed too and must be QEMU's. Then one more ring1 run with
--stats gives the exits by cause."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import guests

ROOT = Path(__file__).resolve().parent.parent
CMDLINE = "console=ttyS0 panic=-1"
RAM = "256M"
DEADLINE = 300

# (name, what, shell commands for `make bench`, for `make bench-quick`). Each prints one result
# line, the same on every machine.
PARTS = [
    ("forkexec", "fork+exec+wait of /bin/true, {n}×",
     "i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done; echo forkexec: $i", 200, 50),
    ("files", "a file in tmpfs written, read and removed, {n}×",
     "i=0; while [ $i -lt {n} ]; do echo $i > /tmp/f$i; cat /tmp/f$i > /dev/null; "
     "rm /tmp/f$i; i=$((i+1)); done; echo files: $i", 200, 50),
    ("shloop", "the shell's own arithmetic loop, {n} iterations (few system calls)",
     "i=0; s=0; while [ $i -lt {n} ]; do s=$((s+i*i)); i=$((i+1)); done; echo shloop: $s",
     20000, 5000),
    ("sysfs", "`ls -lR` of /sys/module and /proc/sys/{{kernel,vm,fs,net}}, {n}× (every entry "
     "stat'ed; trees the same on both machines: /sys/kernel and /proc/sys/dev, which differed "
     "while ring1's PC had no HPET or ACPI, are left out), lines counted",
     "echo sysfs: $(i=0; while [ $i -lt {n} ]; do ls -lR /sys/module /proc/sys/kernel "
     "/proc/sys/vm /proc/sys/fs /proc/sys/net 2>/dev/null; i=$((i+1)); done | wc -l)", 4, 1),
    ("pipe", "`seq 1 {n} | sort -rn | md5sum`",
     "echo pipe: $(seq 1 {n} | sort -rn | md5sum)", 20000, 5000),
]
MACHINES = ["qemu", "first", "ring1"]
LABEL = {"qemu": "QEMU TCG", "first": "ring1 first run", "ring1": "ring1"}


def init_script(quick: bool) -> bytes:
    lines = ["#!/bin/busybox sh",
             "/bin/busybox mkdir -p /proc /sys /tmp /sbin /usr/bin /usr/sbin",
             "/bin/busybox --install -s",
             "mount -t proc proc /proc", "mount -t sysfs sys /sys",
             "echo 'bench: shell up'"]
    for name, _, cmd, n_full, n_quick in PARTS:
        lines += [f"echo 'bench: {name} begin'", cmd.format(n=n_quick if quick else n_full),
                  f"echo 'bench: {name} end'"]
    lines += ["echo 'bench: done'", "poweroff -f"]
    return ("\n".join(lines) + "\n").encode()


def _results(transcript: str) -> list[str]:
    """The parts' result lines (what must equal QEMU's)."""
    names = "|".join(p[0] for p in PARTS)
    return [ln.strip() for ln in transcript.replace("\r", "").splitlines()
            if re.match(rf"^({names}): ", ln.strip())]


def _argv(machine: str, bz: Path, initrd: Path, cache: Path, stats: bool = False) -> list[str]:
    if machine == "qemu":
        return guests.qemu_argv(bz, CMDLINE, extra=["-m", RAM, "-initrd", str(initrd),
                                                   "-no-reboot"])
    # ring1 boot's cache (rewrites, profiles) of this section's own; boot's own options
    # before the image (the runtime's after it)
    return (["env", f"RING1_CACHE={cache}", sys.executable, "-m", "rewriter.cli", "boot"] +
            (["--no-profile"] if machine == "first" else []) +
            [str(bz), "--mem", RAM, "-initrd", str(initrd), "-append", CMDLINE,
             "--timeout", str(DEADLINE)] + (["--stats"] if stats else []))


def bench_linux(quick: bool, say, parse_stats, exit_causes) -> dict:
    from kernels import fetch
    sys.path.insert(0, str(ROOT / "tests"))
    from initramfs import busybox_initrd
    try:
        fetch.fetch("linux686", progress=lambda *_: None)
        fetch.fetch("busybox", progress=lambda *_: None)
    except Exception as e:                     # no archive, no network: say so
        say(f"  linux: skipped: cannot fetch Debian's kernel or busybox: {e}")
        return {"error": f"cannot fetch: {e}"}
    bz, bb = fetch.cached("linux686", "bzimage"), fetch.cached("busybox")
    work = guests.WORK / "linux"
    work.mkdir(parents=True, exist_ok=True)
    initrd = work / ("initrd-quick.cpio" if quick else "initrd.cpio")
    initrd.write_bytes(busybox_initrd(bb.read_bytes(), init_script(quick)))
    cache = work / "cache"
    # The first boot of a fresh cache rewrites (about a minute) and records the first profile;
    # the second records again: the timed "ring1" runs then use a profile of this workload.
    # "first" (--no-profile) has a rewrite of its own.
    for i, k in enumerate(("ring1", "ring1", "first")):
        say(f"  linux: warm-up boot {i + 1} of 3 (rewrites, profile)")
        w = subprocess.run(_argv(k, bz, initrd, cache), cwd=ROOT, capture_output=True,
                           timeout=DEADLINE + 300)
        if b"bench: done" not in w.stdout:
            err = w.stderr.decode(errors="replace").strip().splitlines()
            say(f"  linux: warm-up boot {i + 1} did not finish (exit status {w.returncode}): "
                f"{err[-1][:200] if err else 'no message'}")
    marks = ["bench: shell up"] + [f"bench: {p[0]} {w}" for p in PARTS for w in ("begin", "end")]
    marks.append("bench: done")
    rounds = 1 if quick else 3
    runs: dict[str, list] = {k: [] for k in MACHINES}
    for i in range(rounds):
        for k in MACHINES:
            r = guests.run_boot(_argv(k, bz, initrd, cache), marks, deadline=DEADLINE + 30)
            r["results"] = _results(r["transcript"])
            runs[k].append(r)
            say(f"  linux: round {i + 1} {LABEL[k]:16} " + (
                r["error"] if "error" in r else
                f"shell up {r['times']['bench: shell up']:.2f} s, " + ", ".join(
                    f"{p[0]} {r['times'][f'bench: {p[0]} end'] - r['times'][f'bench: {p[0]} begin']:.2f}"
                    for p in PARTS) + " s"))
    st_run = subprocess.run(_argv("ring1", bz, initrd, cache, stats=True), cwd=ROOT,
                            capture_output=True, timeout=DEADLINE + 60)
    want = next((r["results"] for r in runs["qemu"] if "error" not in r), None)
    rows = []
    for label, begin, end in ([("boot", None, "bench: shell up")] +
                              [(p[0], f"bench: {p[0]} begin", f"bench: {p[0]} end")
                               for p in PARTS]):
        row = {"part": label, "results": {}}
        for k in MACHINES:
            good = sorted(r["times"][end] - (r["times"][begin] if begin else 0)
                          for r in runs[k] if "error" not in r)
            if good:
                row["results"][k] = {"s": good[(len(good) - 1) // 2], "all_s": good}
        if "qemu" in row["results"]:
            for k in ("first", "ring1"):
                if k in row["results"]:
                    row[f"qemu_over_{k}"] = row["results"]["qemu"]["s"] / row["results"][k]["s"]
        rows.append(row)
    st = parse_stats(st_run.stderr.decode(errors="replace"))
    if st is not None:
        st["causes"] = exit_causes(st, 128)   # (int $0x80; the vDSO's sysenter apart)
        st["limit"] = {k: st["events"].get(k, 0) for k in
                       ("user-limit-raised", "user-limit-emulated", "user-limit-off")}
    return {"rows": rows, "rounds": rounds, "quick": quick, "kernel": bz.name,
            "parts": [{"part": p[0], "what": p[1].format(n=p[4] if quick else p[3])}
                      for p in PARTS],
            "transcripts_ok": {k: [r.get("results") == want for r in runs[k] if "error" not in r]
                               for k in MACHINES},
            "errors": {k: [r["error"] for r in runs[k] if "error" in r] for k in MACHINES},
            "stats": st}


def linux_markdown(lx: dict, fmt_ratio, notes: list[str]) -> list[str]:
    if "error" in lx:
        return ["## Linux", "", f"Skipped: {lx['error']}.", ""]
    what = {p["part"]: p["what"] for p in lx["parts"]}
    out = ["## Linux", "",
           f"Debian's `{lx['kernel']}` (i386, 686) with Debian's static busybox as /init, "
           f"`{CMDLINE}`, {RAM}: seconds from exec to the shell (boot, QEMU's SeaBIOS and "
           "ring1's Python front end included) and for each part of the script, bracketed by "
           "lines the guest prints; the median of "
           f"{lx['rounds']} interleaved round(s). *ring1* boots with the profile its earlier "
           "boots recorded (what `ring1 boot` does from the second boot of a kernel on); "
           "*ring1 first run* with `--no-profile`. Every part's result line is checked "
           "against QEMU's.", "",
           "| part | what | " + " | ".join(f"{LABEL[k]}, s" for k in MACHINES) +
           " | QEMU ÷ ring1 | QEMU ÷ ring1 first run |",
           "|---|---|" + "---:|" * len(MACHINES) + "---:|---:|"]
    for r in lx["rows"]:
        cells = [f"{r['results'][k]['s']:.2f}" if k in r["results"] else "—" for k in MACHINES]
        out.append(f"| {r['part']} | {what.get(r['part'], 'to the shell').replace('|', chr(92) + '|')} | " +
                   " | ".join(cells) + f" | {fmt_ratio(r.get('qemu_over_ring1'))} | "
                   f"{fmt_ratio(r.get('qemu_over_first'))} |")
    for k in MACHINES:
        for e in lx["errors"][k]:
            notes.append(f"linux under {LABEL[k]}: {e}")
        if not all(lx["transcripts_ok"][k]):
            notes.append(f"linux under {LABEL[k]}: result lines differ from QEMU's")
    st = lx.get("stats")
    if st:
        c = st["causes"]
        out += ["", "ring1's exits over one whole run with `--stats` (boot included): " +
                ", ".join(f"{k} {n:,}" for k, n in c.items()) +
                f"; shadow pages: {st['shadow'].get('faults', 0):,} filled, "
                f"{st['shadow'].get('dropped', 0):,} dropped; ring 3's limit: " +
                ", ".join(f"{k} {n:,}" for k, n in st["limit"].items()) + "."]
    out.append("")
    return out
