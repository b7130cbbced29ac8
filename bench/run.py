#!/usr/bin/env python3
"""ring1 benchmarks: every figure is measured side by side in one run and reported as a ratio
next to its absolute time (these machines are shared and noisy: absolute times are shown, never
asserted).

    python bench/run.py [--quick] [--out DIR] [--only SECTION,...]

Writes DIR/results.json (raw), DIR/results.md (the tables) and DIR/*.png (plots, if matplotlib
is installed), and prints the tables. Default DIR: bench/results/<UTC date-time>.

Sections (default: all, in this order):
  workloads the samples/bench kernels (CoreMark-like, SHA-256, matmul, memset/memcpy, page
            touching, demand paging) under native, ring1, ring1 trap-only, QEMU TCG (and KVM
            where /dev/kvm can run a 32-bit guest): time per repetition and ratios
  nano      sensitive-operation nanobenchmarks (after Adams & Agesen, ASPLOS 2006): ns per
            operation under ring1, ring1 trap-only and QEMU TCG
  unixwork  the unix sample's workloads (samples/unix/workloads/: lock-heavy system calls, a
            write per character, fork+exec+wait, file-system stress, a 200 MB process beside a
            spinning one) under QEMU TCG, ring1 and ring1 trap-only: the workload's wall time,
            the whole run's CPU time, and ring1's exits by cause (a separate --stats run)
  boot      boot time to milestones under ring1, ring1 trap-only and QEMU TCG: the samples to
            their debug-exit; the unix sample (disk + scripted session) to its first shell
            prompt and the end of the session; GNU Mach to its panic and the -dbg build to its
            `db>` prompt, with CPU time next to wall time; grub-invaders to its first CGA frame
  linux     Debian's i386 Linux with busybox as /init: boot to the shell, then fork+exec, tmpfs
            files, a shell loop, a walk of sysfs, a pipe (bench/linuxwork.py) under QEMU TCG,
            ring1's first boot and ring1 with its profile, and ring1's exits by cause
  rewriter  wall time and peak RSS of `ring1 inspect` / `ring1 rewrite` on real kernels, next to
            the floor (capstone's disasm_lite alone over the same executable bytes), and batch
            throughput with -j 1 and -j 2

How the guests are timed (bench/guests.py): markers on COM1, timestamped from outside as they
arrive — the same for every machine, and boot falls outside every interval. Contenders run in
interleaved rounds (each boots every machine in turn) so that other jobs on a shared machine
hit them alike; ratios are medians of per-round ratios.

Duration on this 2-core machine: `make bench` about 5 minutes plus the unixwork section's
(3 rounds of 5 workloads on 3 machines, 2 more --stats runs each: about 5 minutes more at
today's ring1 speed) and the linux section's 2-3 minutes, `make bench-quick` about three (three workloads, eight nano
operations, the unix workloads' short sessions once, two samples, and the unix sample, GNU
Mach and grub-invaders once, no GNU Mach -dbg; gnumach rewrite only). Rows of one section:
`--only unixwork --unix-workloads lockstress,charout`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RING1 = [sys.executable, "-m", "rewriter.cli"]

import guests  # noqa: E402  (bench/guests.py)
import linuxwork  # noqa: E402  (bench/linuxwork.py)

SECTIONS = ["workloads", "nano", "unixwork", "boot", "linux", "rewriter"]
CLOCK_HOST = ["--clock", "host"]    # ring1 without skipping the guest's waits (runtime/clock.c)
LABEL = {"native": "native", "ring1": "ring1", "trap": "ring1 trap-only", "qemu": "QEMU TCG",
         "kvm": "QEMU KVM", "host": "ring1 --clock host", "first": "ring1 first run"}
# What one repetition of each workload does; {s} is the size the guest reports ("size=").
WHAT = {
    "coremark": "CoreMark-like list, matrix, state machine, CRC16: {s} iterations",
    "sha256": "SHA-256 of {s} MiB",
    "matmul": "{s}×{s} double matrix multiply",
    "memops": "8 × (memset + memcpy of {s} MiB), rep stos/movs",
    "pagetouch": "256 passes over {s} MiB, one word per 4 KiB page, scrambled order",
    "demandpage": "zap {s} MiB, then demand-fault and zero-fill each 4 KiB page",
}
NANO_WHAT = {
    "syscall": "ring 3 → `int $0x80` → common trap path (save, C dispatch, restore) → `iret`",
    "syscall_bare": "ring 3 → `int $0x82` → a lone `iret` (the rewriter can only int3 it)",
    "syscall_stub": "ring 3 → a C library's stub, `mov $0, %eax; int $0x80`, in user code outside "
                    "the kernel's image (ring1 patches it at run time: the gate) → common trap path",
    "in": "`inb %dx` COM1 LSR (0x3fd)",
    "inimr": "`inb $0x21`: the PIC's mask register (no side effect)",
    "out": "`outb` port 0x80",
    "cli": "`cli`",
    "sti": "`sti` (IF already 1)",
    "pushf": "`pushfl` (+ `popl %eax`)",
    "popf": "`popfl` (+ `pushl %edx`)",
    "cr3": "`mov %eax,%cr3` (same page directory)",
    "pgfault": "read of a not-present page → #PF → handler skips it → `iret`",
    "divzero": "`divl` by zero → #DE → handler skips it → `iret`",
    "ptemod": "PTE write + `invlpg` + read through it",
    "mmio": "read of the local APIC's ID register (a device page; ring1 first run: before any "
            "profile)",
    "callret": "`call`/`ret` (control: nothing sensitive)",
}
# The functions whose sites an operation runs through (default: nano_<op>).
NANO_FN = {"syscall": ["nano_user_syscall", "alltraps", "trapret"],
           "syscall_bare": ["nano_user_syscall_bare", "nano_sys_entry"],
           "syscall_stub": ["alltraps", "trapret"],
           "pgfault": ["nano_pgfault", "alltraps", "trapret", "pf_handler"],
           "divzero": ["nano_divzero", "alltraps", "trapret"]}
INLINE_TARGET_OPS = ("cli", "sti", "pushf", "popf")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- setup shared by the guest sections ------------------------------------------------------

def setup_guests(quick: bool) -> dict:
    """Build everything, rewrite the bench kernel and the samples both ways, probe KVM."""
    guests.build()
    kernels = [guests.KERNEL] + [guests.SAMPLES / "build" / f"{n}.elf"
                                 for n in guests.SAMPLE_KERNELS] + [guests.UNIX_KERNEL]
    r1 = guests.rewrite_batch(kernels, None)
    trap = guests.rewrite_batch(kernels, "trap")
    prof = guests.profiled(r1["bench"])
    unix_prof = guests.profiled_unix(r1["unix"])
    say(f"  profile: the unix sample's golden session; the rewrite with it made "
        f"{unix_prof['report']['by_kind'].get('mmio', 0)} device accesses hypercalls")
    mmio = prof["report"]["by_kind"].get("mmio", 0)
    say(f"  profile: one run of nano mmio; the rewrite with it made {mmio} device accesses "
        f"hypercalls")
    native_check = guests.transcript(guests.watch([str(guests.NATIVE), "check"], deadline=30))
    kvm_ok, kvm_line = guests.kvm_probe(native_check)
    say("  " + kvm_line)
    return {"r1": r1, "trap": trap, "profiled": prof, "unix_profiled": unix_prof,
            "kvm_ok": kvm_ok, "kvm_line": kvm_line,
            "contenders": guests.contenders(prof["image"], trap["bench"]["image"], kvm_ok,
                                            first=r1["bench"]["image"])}


# ---- workloads ----------------------------------------------------------------------------------

def paired_ratio(rounds: list[dict], num: str, den: str, key: str) -> float | None:
    """Median over rounds of num/den within the round. The contenders of a round run back to
    back, so a change in what else the machine is doing (other jobs slow a cache- or
    SMT-sensitive loop by ~1.5x for seconds at a time) hits both sides of each ratio alike."""
    import statistics
    rs = [r[num][key] / r[den][key] for r in rounds
          if "error" not in r.get(num, {"error": 1}) and "error" not in r.get(den, {"error": 1})]
    return statistics.median(rs) if rs else None


def bench_workloads(env: dict, quick: bool) -> dict:
    import statistics
    cs = env["contenders"]
    order = [k for k in ("native", "ring1", "trap", "qemu", "kvm") if k in cs]
    if quick:
        names = ["coremark", "sha256", "demandpage"]
        budget = guests.Budget(min_reps=2, min_time=0.2, max_time=3.0)
        sizes, rounds = {}, 2
    else:
        names = guests.WORKLOADS
        budget = guests.Budget(min_reps=2, min_time=0.3, max_time=10.0)
        sizes, rounds = {}, 5
    rows = []
    for name in names:
        row = {"workload": name, "results": {}, "rounds": []}
        for i in range(rounds):
            rnd = {}
            for k in order:
                rnd[k] = r = guests.run_workload(cs[k], name, budget, sizes.get(name))
                if "error" in r:
                    say(f"  workloads: {name} {k}: {r['error']}")
                else:
                    say(f"  workloads: {name:10} round {i + 1} {LABEL[k]:16} "
                        f"{r['median_s'] * 1e3:9.2f} ms/rep (first {r['first_rep_s'] * 1e3:.1f} ms, "
                        f"{len(r['reps_s'])} reps)")
            row["rounds"].append(rnd)
        for k in order:                      # pool the rounds
            good = [rnd[k] for rnd in row["rounds"] if "error" not in rnd[k]]
            if not good:
                row["results"][k] = {"error": row["rounds"][0][k]["error"]}
                continue
            reps = [x for g in good for x in g["reps_s"]]
            row["results"][k] = {
                "best_s": min(g["best_s"] for g in good), "median_s": statistics.median(reps),
                "reps": len(reps),
                "first_rep_s": statistics.median(g["first_rep_s"] for g in good),
                "checksums": good[0]["checksums"], "size_line": good[0]["size_line"],
                "rounds_ok": len(good)}
        ok = {k: r for k, r in row["results"].items() if "error" not in r}
        size = next((r["size_line"].split("size=")[1] for r in ok.values()
                     if "size=" in r["size_line"]), "?")
        row["size"] = size
        row["what"] = WHAT[name].format(s=size)
        ref = ok.get("native", {}).get("checksums", [])
        row["checksums_agree"] = bool(ref) and len(ok) == len(order) and all(
            g["checksums"][:len(ref)] == ref[:len(g["checksums"])]
            for rnd in row["rounds"] for g in rnd.values() if "error" not in g)
        for key, a, b in (("ring1_vs_native", "native", "ring1"), ("qemu_over_ring1", "qemu", "ring1"),
                          ("trap_over_ring1", "trap", "ring1"), ("kvm_over_ring1", "kvm", "ring1")):
            row[key] = paired_ratio(row["rounds"], a, b, "best_s")
        rows.append(row)
    return {"rows": rows, "budget": budget.__dict__, "rounds": rounds, "contenders": order}


# ---- nano ------------------------------------------------------------------------------------------

def bench_nano(env: dict, quick: bool) -> dict:
    import statistics
    cs = env["contenders"]
    order = [k for k in ("ring1", "trap", "qemu", "kvm") if k in cs]
    if quick:
        ops, target, max_time, rounds = ["syscall", "in", "inimr", "out", "cli", "pushf",
                                         "pgfault", "mmio"], \
            0.08, 3.0, 1
    else:
        ops, target, max_time, rounds = guests.NANO_OPS, 0.2, 8.0, 3
    syms = guests.symbol_ranges(guests.KERNEL)
    report = env["profiled"]["report"]
    rows = []
    for op in ops:
        row = {"op": op, "what": NANO_WHAT[op], "results": {}, "rounds": []}
        sites: dict[str, int] = {}
        for fn in NANO_FN.get(op, [f"nano_{op}"]):
            for k, n in guests.tactics_in(report, syms.get(fn, (0, 0))).items():
                sites[k] = sites.get(k, 0) + n
        row["ring1_sites"] = sites
        keys = order + (["native"] if op == "callret" else []) + \
            (["first"] if op == "mmio" else [])
        for _ in range(rounds):
            rnd = {}
            for k in keys:
                rnd[k] = r = guests.run_nano(cs[k], op, target, max_time)
                if "error" in r:
                    say(f"  nano: {op} {k}: {r['error']}")
            row["rounds"].append(rnd)
        for k in keys:
            good = [rnd[k]["ns_per_op"] for rnd in row["rounds"] if "error" not in rnd[k]]
            row["results"][k] = ({"ns_per_op": min(good), "median_ns": statistics.median(good),
                                  "rounds_ns": good} if good
                                 else {"error": row["rounds"][0][k]["error"]})
            if good:
                say(f"  nano: {op:8} {LABEL[k]:16} {min(good):10.1f} ns/op "
                    f"(rounds: {', '.join(f'{x:.1f}' for x in good)})")
        row["trap_over_ring1"] = paired_ratio(row["rounds"], "trap", "ring1", "ns_per_op")
        row["qemu_over_ring1"] = paired_ratio(row["rounds"], "qemu", "ring1", "ns_per_op")
        rows.append(row)
    return {"rows": rows, "batch_target_s": target, "rounds": rounds, "contenders": order}


# ---- unix workloads ----------------------------------------------------------------------------

UNIXWORK_WHAT = {
    "lockstress": "{a} × (`uptime` + `getpid`): every lock and myproc() reads the LAPIC ID",
    "charout": "{a} bytes printed with one `write` per character",
    "forkexec": "{a} × (fork, exec of itself, exit, wait)",
    "fsstress": "{a[0]} rounds × {a[1]} files × {a[2]} bytes: create+write, read back, unlink",
    "memstress": "grow by {a} MiB (1 MiB sbrks, a write per page), read back, shrink; a child "
                 "spins beside it (a switch of address space every tick)",
}
UNIXWORK_MACHINES = ["qemu", "ring1", "first", "trap"]
UNIXWORK_DEADLINE = 300      # seconds per run, for ring1 (--timeout) and the watcher alike


def parse_stats(err: str) -> dict | None:
    """ring1-run --stats (runtime/stats.c) as numbers: the header's elapsed and CPU seconds
    and emulated count, `kind`, `event` and `vector` counts, the shadow-page line."""
    m = re.search(r"ring1-run stats: ([\d.]+) s elapsed, ([\d.]+) s cpu, (\d+) sensitive", err)
    if not m:
        return None
    st = {"elapsed_s": float(m.group(1)), "cpu_s": float(m.group(2)), "emulated": int(m.group(3)),
          "kinds": {}, "events": {}, "vectors": {}, "shadow": {}}
    for what, key in (("kind", "kinds"), ("event", "events"), ("vector", "vectors")):
        for name, n in re.findall(rf"^  {what} (\S+)\s+(\d+)$", err, re.M):
            st[key][name] = int(n)
    m = re.search(r"shadow pages: (\d+) faults filled, (\d+) most mapped at once, (\d+) dropped, "
                  r"(\d+) kept across CR3 writes.*?(\d+) full flushes, (\d+) evicted", err)
    if m:
        st["shadow"] = dict(zip(("faults", "most_mapped", "dropped", "cr3_kept", "flushes",
                                 "evicted"), map(int, m.groups())))
    return st


def exit_causes(st: dict, syscall_vector: int = 64) -> dict:
    """The exits of a --stats run by cause: hypercalls (patched sites), int3 trap sites, MMIO
    faults (device pages), shadow-page fills (host faults on guest memory), guest page faults
    reflected to the guest, system calls from ring 3 (`int $syscall_vector`: 64 for the unix
    sample, 128 for Linux; and `sysenter`, Linux's vDSO) by a host signal each (the host's #GP,
    or SIGSYS) and through ring 3's system call gate (a hot site patched at run time:
    runtime/usergate.c), timer interrupts delivered (vector 32)."""
    ev, vec = st["events"], st["vectors"]
    gate = ev.get("user-syscall-gate", 0)
    return {"hypercall": ev.get("hypercall", 0), "int3 trap": ev.get("trap-site", 0),
            "MMIO fault": ev.get("mmio-fault", 0),
            "MMIO hypercall": ev.get("mmio-site", 0) + ev.get("mmio-site-ram", 0),
            "shadow fill": st["shadow"].get("faults", 0),
            "guest #PF": ev.get("guest-page-fault", 0),
            "syscall signal": vec.get(str(syscall_vector), 0) - gate,
            "syscall gate": gate, "sysenter signal": ev.get("sysenter-via-host", 0),
            "sysenter gate": ev.get("user-sysenter-gate", 0), "timer (vec 32)": vec.get("32", 0)}


def bench_unixwork(env: dict, quick: bool, only: list[str] | None = None,
                   rounds: int | None = None) -> dict:
    """Each workload session (samples/unix/workloads/NAME.txt: one command, then `halt`) on a
    fresh copy of the unix disk, interleaved rounds of QEMU, ring1 and ring1 trap-only. The
    workload's time is from the command's echo (the shell has read it) to the program's
    result line; CPU time is the whole run's (boot and halt too). Then one more run of each
    ring1 machine with --stats for the exits by cause. A run that fails or times out is
    kept as such, with the reason. Quick mode: one round of the NAME-short sessions (the
    tests' sizes, 1/10 to 1/40 of the full ones)."""
    import statistics
    names = only or guests.UNIX_WORKLOADS
    if rounds is None:
        rounds = 1 if quick else 3
    suffix = "-short" if quick else ""
    disks = guests.WORK / "unixwork"
    disks.mkdir(parents=True, exist_ok=True)
    # ring1: the kernel rewritten with the profile of one run of its golden session, as
    # `ring1 boot` runs it from its second boot on; first: before any profile.
    images = {"qemu": None, "ring1": env["unix_profiled"]["image"],
              "first": env["r1"]["unix"]["image"], "trap": env["trap"]["unix"]["image"]}
    rows = []
    for name in names:
        sname = name + suffix
        session = guests.unix_work_session(sname).read_bytes()
        command = session.decode().splitlines()[0]
        want = guests.unix_work_golden(sname).read_text(encoding="latin-1")
        ram, cmdline = guests.unix_work_machine(sname)
        args = command.split()[1:]
        row = {"workload": name, "session": sname, "command": command, "ram": ram,
               "cmdline": cmdline,
               "what": UNIXWORK_WHAT[name].format(a=args if len(args) > 1 else args[0]),
               "results": {}, "stats": {}}
        start, result = "$ " + command, re.compile(rf"^{name}: ")
        subs = [start, result, None]
        runs: dict[str, list] = {k: [] for k in UNIXWORK_MACHINES}
        for i in range(rounds):
            for k in UNIXWORK_MACHINES:
                disk = disks / f"{name}.{k}.img"
                shutil.copyfile(guests.UNIX_FS, disk)
                argv = guests.unix_work_argv(k, images[k], sname, disk, UNIXWORK_DEADLINE)
                r = guests.run_boot(argv, subs, deadline=UNIXWORK_DEADLINE + 10, stdin=session)
                r["transcript_ok"] = r["transcript"] == want
                runs[k].append(r)
                say(f"  unixwork: {name:10} round {i + 1} {LABEL[k]:16} " +
                    (r["error"] if "error" in r else
                     f"{(r['times'][result] - r['times'][start]) * 1e3:9.1f} ms workload, "
                     f"{r['end_s'] * 1e3:.0f} ms in all, CPU {(r['user_s'] + r['sys_s']) * 1e3:.0f} ms") +
                    ("" if r["transcript_ok"] or "error" in r else "  TRANSCRIPT DIFFERS FROM THE GOLDEN"))
        for k in UNIXWORK_MACHINES:
            good = [r for r in runs[k] if "error" not in r]
            if not good:
                bad = runs[k][0]
                row["results"][k] = {"error": bad["error"], "timed_out": "timed out" in bad["error"],
                                     "transcript_tail": bad["transcript"][-300:]}
                continue
            mid = sorted((r["user_s"] + r["sys_s"], r["user_s"], r["sys_s"]) for r in good)
            cpu, user, sys_ = mid[(len(mid) - 1) // 2]
            row["results"][k] = {
                "workload_s": statistics.median(r["times"][result] - r["times"][start] for r in good),
                "all_s": [round(r["times"][result] - r["times"][start], 4) for r in good],
                "boot_s": statistics.median(r["times"][start] for r in good),
                "end_s": statistics.median(r["end_s"] for r in good), "cpu_s": cpu, "user_s": user, "sys_s": sys_,
                "runs": len(good), "failed_runs": len(runs[k]) - len(good),
                "transcript_ok": all(r["transcript_ok"] for r in good)}
        ok = {k: x for k, x in row["results"].items() if "error" not in x}
        for a, b, key in (("qemu", "ring1", "qemu_over_ring1"), ("qemu", "trap", "qemu_over_trap"),
                          ("qemu", "first", "qemu_over_first")):
            if a in ok and b in ok:
                row[key] = ok[a]["workload_s"] / ok[b]["workload_s"]
                row["cpu_" + key] = ok[a]["cpu_s"] / ok[b]["cpu_s"] if ok[b]["cpu_s"] else None
        for k in ("ring1", "first", "trap"):   # exits by cause: one more run, with --stats
            disk = disks / f"{name}.{k}.stats.img"
            shutil.copyfile(guests.UNIX_FS, disk)
            argv = guests.unix_work_argv(k, images[k], sname, disk, UNIXWORK_DEADLINE, stats=True)
            try:
                p = subprocess.run(argv, input=session, capture_output=True,
                                   timeout=UNIXWORK_DEADLINE + 10, cwd=ROOT)
                err, rc = p.stderr.decode(errors="replace"), p.returncode
            except subprocess.TimeoutExpired as e:
                err, rc = (e.stderr or b"").decode(errors="replace"), None
            st = parse_stats(err)
            if st is None:
                row["stats"][k] = {"error": f"no --stats output (exit status {rc}): "
                                            f"{err.strip()[-200:]!r}"}
            else:
                st["rc"] = rc
                st["causes"] = exit_causes(st)
                row["stats"][k] = st
                say(f"  unixwork: {name:10} {LABEL[k]:16} --stats: " +
                    ", ".join(f"{c} {n:,}" for c, n in st["causes"].items()))
        rows.append(row)
    return {"rows": rows, "rounds": rounds, "contenders": UNIXWORK_MACHINES,
            "deadline_s": UNIXWORK_DEADLINE, "quick": quick}


# ---- boot ------------------------------------------------------------------------------------------

# Milestones: (label, match, short): match is a substring or pattern of the serial output (a
# prompt counts as it appears, before its line ends) or None, the guest's debug-exit 0; short
# labels the plots. Every run goes on to its kernel's last milestone and stops there.
SAMPLE_MILESTONES = [("debug-exit", None, "")]
UNIX_MILESTONES = [("first shell prompt “$ ”", re.compile(r"^\$ "), "prompt"),
                   ("end of session (`halt`: debug-exit 0)", None, "halt")]
# GNU Mach 1.8 on serial: banner, memory map, PCI probe, then ~0.25 s and ~1.9 s of IDE and
# floppy-controller probing timed by the guest's own clock (busy waits on its tick count: real
# time under QEMU and ring1 --clock host, skipped by ring1's default --clock warp), SCSI
# probes, then a panic: no bootstrap server.
GNUMACH_MILESTONES = [("banner “GNU Mach 1.8”", "GNU Mach 1.8", "banner"),
                      ("“Probing PCI hardware”", "Probing PCI hardware", "PCI probe"),
                      ("“FDC 0 is a S82078B” (after the waits)", "FDC 0 is a", "FDC"),
                      ("panic “No bootstrap code loaded”", "No bootstrap code loaded", "panic")]
# The -dbg build enters its kernel debugger on that panic.
GNUMACH_DBG_MILESTONES = [("panic “No bootstrap code loaded”", "No bootstrap code loaded", "panic"),
                          ("debugger prompt “db> ”", "db> ", "db>")]
# grub-invaders writes nothing to serial. Its main() initialises, draws the playing field into a
# back buffer, copies it to the CGA screen (0xB8000) and then plays its first note: the speaker
# routine's `in $0x61` at INVADERS_FIRST_NOTE is the first sensitive instruction after the
# first frame is on the screen. Both machines stop there (ring1 with --break, QEMU at a gdbstub
# breakpoint; the screens are compared). Later frames are paced by the PIT (notes of fixed
# length): no further milestone that is not the guest's own timing.
INVADERS_FIRST_NOTE = 0x100ee0
INVADERS_MILESTONES = [("first CGA frame (playing field drawn)", "frame", "1st frame")]


def bench_boot(env: dict, quick: bool) -> dict:
    """Interleaved runs to each kernel's milestones: the samples, the unix sample (shell
    prompt, end of its scripted session), GNU Mach to its panic (and the -dbg build to its
    debugger prompt; not in quick mode) and grub-invaders to its first frame."""
    repeats = 3 if quick else 5
    names = ["sensitive", "tasks"] if quick else guests.SAMPLE_KERNELS
    rows = []
    for name in names:
        elf = guests.SAMPLES / "build" / f"{name}.elf"
        golden = (guests.SAMPLES / "golden" / f"{name}.txt")
        want = golden.read_text() if golden.is_file() else None
        argvs = {"qemu": guests.qemu_argv(elf),
                 "ring1": guests.ring1_argv(env["r1"][name]["image"], elf, "", 30),
                 "trap": guests.ring1_argv(env["trap"][name]["image"], elf, "", 30),
                 "host": guests.ring1_argv(env["r1"][name]["image"], elf, "", 30) + CLOCK_HOST}
        if env["kvm_ok"]:
            argvs["kvm"] = guests.qemu_argv(elf, accel="kvm")
        rows += boot_rows(name, SAMPLE_MILESTONES, serial_runners(argvs, SAMPLE_MILESTONES),
                          repeats, want)
    rows += boot_unix(env, 1 if quick else repeats)
    rows += boot_real(env, quick)
    return {"rows": rows, "repeats": repeats, "quick": quick}


def serial_runners(argvs: dict, milestones, stdin: bytes | None = None) -> dict:
    subs = [m for _, m, _ in milestones]
    return {k: (lambda argv=argv: guests.run_boot(argv, subs, deadline=60, stdin=stdin))
            for k, argv in argvs.items()}


def boot_unix(env: dict, repeats: int) -> list[dict]:
    """The unix sample: its disk a fresh copy of unix-fs.img per run, session.txt typed on COM1
    (all at once, on a pipe: the shell echoes each line as it reads it, so the transcript is
    the golden whatever the timing)."""
    elf, name = guests.UNIX_KERNEL, "unix"
    session = guests.UNIX_SESSION.read_bytes()
    want = guests.UNIX_GOLDEN.read_text()
    disks = guests.WORK / "boot"
    disks.mkdir(parents=True, exist_ok=True)
    argv_fns = {
        "qemu": lambda d: guests.qemu_argv(elf, extra=["-drive",
                                                       f"file={d},index=1,media=disk,format=raw"]),
        "ring1": lambda d: guests.ring1_argv(env["r1"][name]["image"], elf, "", 30) +
        ["--disk", f"index=1,file={d}"],
        "trap": lambda d: guests.ring1_argv(env["trap"][name]["image"], elf, "", 30) +
        ["--disk", f"index=1,file={d}"],
        "host": lambda d: guests.ring1_argv(env["r1"][name]["image"], elf, "", 30) +
        ["--disk", f"index=1,file={d}"] + CLOCK_HOST}
    if env["kvm_ok"]:
        argv_fns["kvm"] = lambda d: guests.qemu_argv(
            elf, accel="kvm", extra=["-drive", f"file={d},index=1,media=disk,format=raw"])
    subs = [m for _, m, _ in UNIX_MILESTONES]

    def runner(k):
        def run():
            disk = disks / f"unix-fs.{k}.img"
            shutil.copyfile(guests.UNIX_FS, disk)
            return guests.run_boot(argv_fns[k](disk), subs, deadline=60, stdin=session)
        return run
    return boot_rows(name, UNIX_MILESTONES, {k: runner(k) for k in argv_fns}, repeats, want)


def boot_real(env: dict, quick: bool) -> list[dict]:
    """GNU Mach, its -dbg build (full mode only) and grub-invaders, fetched by kernels.fetch
    and rewritten both ways here; a kernel that cannot be fetched is reported, not fatal."""
    from kernels import fetch
    wanted = ["gnumach", "invaders"] + ([] if quick else ["gnumach-dbg"])
    rows, got = [], {}
    for name in wanted:
        try:
            got[name] = Path(fetch.fetch(name, progress=lambda *_: None))
        except Exception as e:                 # no archive, no network: say so
            rows.append({"kernel": name, "error": f"cannot fetch: {e}"})
            say(f"  boot: {name} skipped: {e}")
    skipped = ([{"kernel": "gnumach-dbg", "skipped": "full mode only (`make bench`)"}]
               if quick else [])
    if not got:
        return rows + skipped
    try:
        out = {tac: guests.rewrite_batch(list(got.values()), tac) for tac in (None, "trap")}
    except Exception as e:
        say(f"  boot: cannot rewrite {', '.join(got)}: {e}")
        return rows + [{"kernel": n, "error": f"cannot rewrite: {e}"} for n in got] + skipped

    def image(tac, name):
        return out[tac][got[name].name.removesuffix(".elf")]["image"]

    for name, milestones in (("gnumach", GNUMACH_MILESTONES),
                             ("gnumach-dbg", GNUMACH_DBG_MILESTONES)):
        if name not in got:
            continue
        k = got[name]
        argvs = {"qemu": guests.qemu_argv(k, "console=com0"),
                 "ring1": guests.ring1_argv(image(None, name), k, "console=com0", 60),
                 "trap": guests.ring1_argv(image("trap", name), k, "console=com0", 60),
                 "host": guests.ring1_argv(image(None, name), k, "console=com0", 60) + CLOCK_HOST}
        rows += boot_rows(name, milestones, serial_runners(argvs, milestones),
                          1 if quick else 3, None)
    if "invaders" in got:
        k, (_, sub, _) = got["invaders"], INVADERS_MILESTONES[0]
        tmp = guests.WORK / "boot"
        tmp.mkdir(parents=True, exist_ok=True)
        runners = {"qemu": lambda argv=guests.qemu_argv(k): guests.run_qemu_break(
            argv, INVADERS_FIRST_NOTE, 1, sub, 30, tmp / "gdb.sock")}
        for key, tac, extra in (("ring1", None, []), ("trap", "trap", []),
                                ("host", None, CLOCK_HOST)):
            runners[key] = (lambda argv=guests.ring1_argv(image(tac, "invaders"), k, "", 30) + extra:
                            guests.run_ring1_break(argv, INVADERS_FIRST_NOTE, 1, sub, 30,
                                                   tmp / "invaders-screen.txt"))

        def drawn(run):                      # the milestone is the playing field on the screen
            def checked():
                r = run()
                field = [l for l in r["transcript"].splitlines() if "-*-" in l]
                if sub in r["times"] and len(field) != 5:
                    del r["times"][sub]
                    r["error"] = (f"stopped at {INVADERS_FIRST_NOTE:#x} with {len(field)} rows "
                                  "of aliens on the screen, not 5: not the first frame")
                return r
            return checked
        rows += boot_rows("invaders", INVADERS_MILESTONES,
                          {k: drawn(run) for k, run in runners.items()}, 1 if quick else 5, "qemu")
    return rows + skipped


def boot_rows(name, milestones, runners, repeats, want) -> list[dict]:
    """One row per milestone from `repeats` rounds, each running every machine in turn
    (runners: machine -> a function making one run, as guests.run_boot). want: the golden
    transcript, "qemu" (the same as QEMU's in the same round), or None (no check). The last
    milestone's row also has the CPU time (user + sys) of the machine's process: each run
    stops there."""
    import statistics
    runs: dict[str, list] = {k: [] for k in runners}
    for _ in range(repeats):                 # interleaved, like the other sections' rounds
        for k, run in runners.items():
            runs[k].append(run())

    def checked(k, i, r):
        if want is None:
            return None
        if want == "qemu":
            q = runs.get("qemu", [])
            if k == "qemu" or i >= len(q) or "error" in q[i]:
                return None
            return r["transcript"] == q[i]["transcript"]
        return r["transcript"] == want

    rows = []
    for n, (label, m, short) in enumerate(milestones):
        row = {"kernel": name, "milestone": label, "short": short, "results": {},
               "check": None if want is None else "qemu" if want == "qemu" else "golden"}
        last = n == len(milestones) - 1
        for k in runners:
            good = [(i, r) for i, r in enumerate(runs[k]) if m in r["times"]]
            if not good:
                row["results"][k] = {"error": runs[k][0].get("error", "milestone not reached")}
                continue
            firsts = [r["first_line_s"] for _, r in good if r["first_line_s"] is not None]
            res = {"milestone_s": statistics.median(r["times"][m] for _, r in good),
                   "all_s": [round(r["times"][m], 5) for _, r in good],
                   "first_line_s": statistics.median(firsts) if firsts else None,
                   "runs": len(good)}
            if last:                          # the run with the median CPU time (low median)
                mid = sorted((r["user_s"] + r["sys_s"], r["user_s"], r["sys_s"]) for _, r in good)
                res["cpu_s"], res["user_s"], res["sys_s"] = mid[(len(mid) - 1) // 2]
            oks = [c for c in (checked(k, i, r) for i, r in good) if c is not None]
            if oks:
                res["transcript_ok"] = all(oks)
            row["results"][k] = res
        ok = row["results"]
        for a, b, key in (("qemu", "ring1", "qemu_over_ring1"), ("qemu", "trap", "qemu_over_trap"),
                          ("qemu", "first", "qemu_over_first")):
            if "error" not in ok.get(a, {"error": 1}) and "error" not in ok.get(b, {"error": 1}):
                row[key] = ok[a]["milestone_s"] / ok[b]["milestone_s"]
                if last and ok[b]["cpu_s"] > 0:
                    row["cpu_" + key] = ok[a]["cpu_s"] / ok[b]["cpu_s"]
        for k, x in row["results"].items():
            say(f"  boot: {name:11} {label[:26]:26} {LABEL[k]:16} " +
                (x["error"] if "error" in x else
                 f"{x['milestone_s'] * 1e3:8.1f} ms" +
                 (f" (first line {x['first_line_s'] * 1e3:.1f} ms)"
                  if x["first_line_s"] is not None else "") +
                 (f", CPU {x['cpu_s'] * 1e3:.0f} ms (user {x['user_s'] * 1e3:.0f}, "
                  f"sys {x['sys_s'] * 1e3:.0f})" if "cpu_s" in x else "") +
                 ("" if x.get("transcript_ok", True) else
                  "  SCREEN DIFFERS FROM QEMU'S" if want == "qemu" else
                  "  TRANSCRIPT DIFFERS FROM THE GOLDEN")))
        rows.append(row)
    return rows


# ---- rewriter ------------------------------------------------------------------------------------

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
    from kernels import fetch
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


def fmt_ms(r: dict | None, key: str = "best_s", also: str | None = None) -> str:
    if not r:
        return "—"
    if "error" in r:
        return "failed¹"

    def ms(v):
        return f"{v * 1e3:.1f}" if v * 1e3 < 100 else f"{v * 1e3:.0f}"
    return ms(r[key]) + (f" ({ms(r[also])})" if also else "")


def fmt_ratio(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}×"
    return f"{x:.{digits}f}×"


def fmt_ns(r: dict | None) -> str:
    if not r:
        return "—"
    if "error" in r:
        return "failed¹"
    v = r["ns_per_op"]
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def to_markdown(res: dict) -> str:
    out = [f"# ring1 benchmarks — {res['when']}", "",
           f"Machine: {res['machine']}" + (" — quick subset (`make bench-quick`)" if res["quick"] else ""),
           ""]
    if res.get("loadavg"):
        out += [f"Load average (1 min) at start and end: {res['loadavg'][0]:.2f}, "
                f"{res['loadavg'][1]:.2f} — anything above ~1 means other jobs shared the "
                "cores; absolute times are then inflated, ratios much less so.", ""]
    if res.get("kvm_line"):
        out += [res["kvm_line"] + ".", ""]
    notes = []
    wl = res.get("workloads")
    if wl:
        cols = wl["contenders"]
        out += ["## Workloads", "",
                f"Milliseconds per repetition: the best (least disturbed two consecutive "
                f"repetitions, halved), median in parentheses, over {wl['rounds']} rounds in which "
                "every contender boots and runs in turn; a boot's first repetition is left out "
                "(below). Each ratio is the median over rounds of the ratio of best times within "
                "a round. The same object code in every column. *ring1 ÷ native* is native time ÷ "
                "ring1 time (1.0 = native speed; target ≥ 0.9).", "",
                "| workload | one repetition | " + " | ".join(f"{LABEL[c]} (ms)" for c in cols) +
                " | ring1 ÷ native | QEMU ÷ ring1 | trap-only ÷ ring1 | " +
                ("KVM ÷ ring1 | " if "kvm" in cols else "") + "checksums |",
                "|---|---|" + "---:|" * len(cols) + "---:|---:|---:|" +
                ("---:|" if "kvm" in cols else "") + ":---:|"]
        for r in wl["rows"]:
            met = r.get("ring1_vs_native")
            mark = "" if met is None else (" ✓" if met >= 0.9 else " ✗")
            out.append(f"| {r['workload']} | {r['what']} | " +
                       " | ".join(fmt_ms(r["results"].get(c), also="median_s") for c in cols) +
                       f" | {fmt_ratio(met)}{mark} | {fmt_ratio(r.get('qemu_over_ring1'), 1)} | "
                       f"{fmt_ratio(r.get('trap_over_ring1'))} | " +
                       (f"{fmt_ratio(r.get('kvm_over_ring1'))} | " if "kvm" in cols else "") +
                       f"{'same' if r.get('checksums_agree') else 'DIFFER'} |")
            notes += [f"{r['workload']} under {LABEL[c]}: {x['error']}"
                      for c, x in r["results"].items() if "error" in x]
        out += ["", "First repetition (cold: page faults, shadow pages, QEMU's translation), ms:", "",
                "| workload | " + " | ".join(LABEL[c] for c in cols) + " |",
                "|---|" + "---:|" * len(cols)]
        for r in wl["rows"]:
            out.append(f"| {r['workload']} | " +
                       " | ".join(fmt_ms(r["results"].get(c), "first_rep_s") for c in cols) + " |")
        out.append("")
    nano = res.get("nano")
    if nano:
        cols = nano["contenders"]
        out += ["## Sensitive operations (after Adams & Agesen, ASPLOS 2006)", "",
                "Nanoseconds per operation: a loop of 16 copies per iteration inside one guest, "
                "batches of 1024·2^k operations timed from outside, (t(k) − t(k−2)) ÷ (n(k−1) + "
                f"n(k)) for the first batch k ≥ 3 lasting ≥ {nano['batch_target_s']} s; the best "
                f"of {nano['rounds']} "
                "round(s) (each round boots every contender in turn); ratios are medians of the "
                "per-round ratios. Target: trap-only ÷ ring1 ≥ 100× on cli, sti, pushf, popf.", "",
                "| operation | what | ring1 sites on the path (kind, count, tactic) | " +
                " | ".join(f"{LABEL[c]} (ns)" for c in cols) + " | native (ns) | trap-only ÷ ring1 | "
                "QEMU ÷ ring1 |",
                "|---|---|---|" + "---:|" * len(cols) + "---:|---:|---:|"]
        for r in nano["rows"]:
            sites = ", ".join(f"{k.split(':')[0]} {n}× {k.split(':')[1]}" for k, n in
                              sorted(r.get("ring1_sites", {}).items()))
            t = r.get("trap_over_ring1")
            mark = ""
            if r["op"] in INLINE_TARGET_OPS and t is not None:
                mark = " ✓" if t >= 100 else " ✗"
            what = r["what"]
            if "first" in r["results"]:
                what += f" — ring1 first run: {fmt_ns(r['results']['first'])} ns"
            out.append(f"| {r['op']} | {what} | {sites or '—'} | " +
                       " | ".join(fmt_ns(r["results"].get(c)) for c in cols) +
                       f" | {fmt_ns(r['results'].get('native'))} | {fmt_ratio(t, 1)}{mark} | "
                       f"{fmt_ratio(r.get('qemu_over_ring1'))} |")
            notes += [f"nano {r['op']} under {LABEL[c]}: {x['error']}"
                      for c, x in r["results"].items() if "error" in x]
        out.append("")
    uw = res.get("unixwork")
    if uw:
        out += unixwork_markdown(uw, notes)
    if res.get("linux"):
        out += linuxwork.linux_markdown(res["linux"], fmt_ratio, notes)
    boot = res.get("boot")
    if boot:
        cols = [c for c in ("qemu", "ring1", "trap", "host", "kvm")
                if any(c in r.get("results", {}) for r in boot["rows"])]
        out += ["## Boot", "",
                "Milliseconds from exec to the milestone, the median of *runs* runs interleaved "
                "across the machines (each round runs every machine in turn); ring1 runs the image already rewritten (`ring1-run`, no Python "
                "start-up). The first serial line in parentheses. QEMU's time includes SeaBIOS. "
                "The unix sample boots with its file system on IDE drive 1 (a fresh copy per run) "
                "and its scripted session (`samples/unix/session.txt`) typed on COM1: the first "
                "shell prompt, then the end of the session (`halt`). GNU Mach's panic comes after "
                "~0.25 s and ~1.9 s of device probing timed by the guest's own clock (busy "
                "waits on its tick count), real time under QEMU; ring1 runs with `--clock warp`, "
                "its default, which makes the guest's time jump to its next timer deadline "
                "while it can only wait for it (halted, or spinning in a loop that only reads "
                "memory), and *ring1 --clock host* is the same machine with the guest's time "
                "always the host's. The -dbg build then enters its kernel debugger. "
                "grub-invaders prints nothing on serial: its milestone is the first frame on the "
                "CGA screen (both machines stopped at the first sensitive instruction after it, "
                "ring1 by `--break`, QEMU at a gdbstub breakpoint; the screens compared).", "",
                "| kernel | milestone | runs | " + " | ".join(LABEL[c] for c in cols) +
                " | QEMU ÷ ring1 | QEMU ÷ trap-only |",
                "|---|---|---:|" + "---:|" * len(cols) + "---:|---:|"]
        cpu_rows = []
        for r in boot["rows"]:
            if "results" not in r:
                why = r.get("error") or r.get("skipped", "")
                out.append(f"| {r['kernel']} | {'skipped: ' + why if 'skipped' in r else '—'} | "
                           "— | " + " | ".join("—" for _ in cols) + " | — | — |")
                if "error" in r:
                    notes.append(f"boot {r['kernel']}: {r['error']}")
                continue
            cells = []
            for c in cols:
                x = r["results"].get(c)
                if not x:
                    cells.append("—")
                elif "error" in x:
                    cells.append("failed¹")
                    notes.append(f"boot {r['kernel']} under {LABEL[c]}: {x['error']}")
                else:
                    bad = ("" if x.get("transcript_ok", True) else " (screen ≠ QEMU's)"
                           if r.get("check") == "qemu" else " (transcript ≠ golden)")
                    first = ("" if x.get("first_line_s") is None
                             else f" ({fmt_ms(x, 'first_line_s')})")
                    cells.append(f"{fmt_ms(x, 'milestone_s')}{first}{bad}")
            runs = max((x.get("runs", 0) for x in r["results"].values()), default=0)
            out.append(f"| {r['kernel']} | {r['milestone']} | {runs} | " + " | ".join(cells) +
                       f" | {fmt_ratio(r.get('qemu_over_ring1'), 1)} | "
                       f"{fmt_ratio(r.get('qemu_over_trap'), 1)} |")
            if any("cpu_s" in x for x in r["results"].values()):
                cpu_rows.append(r)
        if cpu_rows:
            out += ["", "CPU time (user + sys) of the machine's process until the run stopped at "
                    "the milestone (each run's last), ms: the run with the median CPU time; median wall "
                    "time again for comparison. "
                    "GNU Mach's timed waits are busy loops, so they burn CPU on both machines as "
                    "well; ring1's system time is its shadow paging and host signals.", "",
                    "| kernel | milestone | " +
                    " | ".join(f"{LABEL[c]} CPU (user + sys) | {LABEL[c]} wall" for c in cols) +
                    " | CPU: QEMU ÷ ring1 | CPU: QEMU ÷ trap-only |",
                    "|---|---|" + "---:|---:|" * len(cols) + "---:|---:|"]
            for r in cpu_rows:
                cells = []
                for c in cols:
                    x = r["results"].get(c)
                    if not x or "cpu_s" not in x:
                        cells += ["—", "—"]
                        continue
                    cells += [f"{fmt_ms(x, 'cpu_s')} ({fmt_ms(x, 'user_s')} + {fmt_ms(x, 'sys_s')})",
                              fmt_ms(x, "milestone_s")]
                out.append(f"| {r['kernel']} | {r['milestone']} | " + " | ".join(cells) +
                           f" | {fmt_ratio(r.get('cpu_qemu_over_ring1'), 1)} | "
                           f"{fmt_ratio(r.get('cpu_qemu_over_trap'), 1)} |")
        out.append("")
    if notes:
        out += ["¹ " + "<br>¹ ".join(n.replace("|", "\\|") for n in notes), ""]
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


def unixwork_markdown(uw: dict, notes: list[str]) -> list[str]:
    cols = uw["contenders"]
    out = ["## Unix sample workloads", "",
           "The unix sample (`samples/unix`: an xv6-class kernel whose spinlocks, pushcli/popcli "
           "and myproc() read the local APIC ID, as an SMP kernel's do) running one program of "
           f"`samples/unix/workloads/NAME{'-short' if uw.get('quick') else ''}.txt` and halting, on a fresh copy of its disk. "
           "*Workload* is the time from the command's echo (the shell has read it) to the "
           "program's result line, the median of "
           f"{uw['rounds']} interleaved round(s); the whole run (exec to the guest's debug-exit, "
           "boot included) in parentheses. Every transcript is checked against QEMU's golden "
           f"(`samples/golden/unix-NAME{'-short' if uw.get('quick') else ''}.txt`). Native: not meaningful (a kernel's own work). "
           "A run that fails or passes the "
           f"{uw['deadline_s']} s deadline is shown as such.", "",
           "| workload | what | RAM, command line | " +
           " | ".join(f"{LABEL[c]} workload (whole run), ms" for c in cols) +
           " | QEMU ÷ ring1 | QEMU ÷ ring1 first run | QEMU ÷ trap-only |",
           "|---|---|---|" + "---:|" * len(cols) + "---:|---:|---:|"]

    def cell(x):
        if not x:
            return "—"
        if "error" in x:
            return "timeout¹" if x.get("timed_out") else "failed¹"
        bad = "" if x["transcript_ok"] else " (transcript ≠ golden)"
        return f"{fmt_ms(x, 'workload_s')} ({fmt_ms(x, 'end_s')}){bad}"
    for r in uw["rows"]:
        out.append(f"| {r['workload']} | {r['what']} | {r['ram']}"
                   f"{', ' + r['cmdline'] if r['cmdline'] else ''} | " +
                   " | ".join(cell(r["results"].get(c)) for c in cols) +
                   f" | {fmt_ratio(r.get('qemu_over_ring1'))} | "
                   f"{fmt_ratio(r.get('qemu_over_first'))} | {fmt_ratio(r.get('qemu_over_trap'))} |")
        notes += [f"unixwork {r['workload']} under {LABEL[c]}: {x['error']}"
                  for c, x in r["results"].items() if "error" in x]
    out += ["", "CPU time (user + sys) of the machine's process for the whole run (boot, "
            "workload, halt), ms, the run with the median CPU time:", "",
            "| workload | " + " | ".join(f"{LABEL[c]} CPU (user + sys)" for c in cols) +
            " | CPU: QEMU ÷ ring1 | CPU: QEMU ÷ trap-only |",
            "|---|" + "---:|" * len(cols) + "---:|---:|"]
    for r in uw["rows"]:
        cells = []
        for c in cols:
            x = r["results"].get(c)
            cells.append("—" if not x or "error" in x else
                         f"{fmt_ms(x, 'cpu_s')} ({fmt_ms(x, 'user_s')} + {fmt_ms(x, 'sys_s')})")
        out.append(f"| {r['workload']} | " + " | ".join(cells) +
                   f" | {fmt_ratio(r.get('cpu_qemu_over_ring1'))} | "
                   f"{fmt_ratio(r.get('cpu_qemu_over_trap'))} |")
    causes = ["hypercall", "int3 trap", "MMIO fault", "MMIO hypercall", "shadow fill",
              "guest #PF", "syscall signal", "syscall gate", "sysenter signal", "sysenter gate",
              "timer (vec 32)"]
    out += ["", "ring1's exits by cause over the whole run (boot included), from one more run "
            "with `--stats` (runtime/stats.c): *hypercall* = patched sites calling the runtime; "
            "*int3 trap* = sites left as traps; *MMIO* = accesses to device pages (the local "
            "APIC ID reads), a host fault each; *shadow fill* = host faults filling shadow "
            "pages; *guest #PF* = page faults reflected to the guest; *syscall* = `int $64` "
            "from ring 3: *signal*, a host #GP each, or *gate*, a hypercall from a hot stub "
            "patched at run time (runtime/usergate.c); *timer* = LAPIC timer interrupts "
            "delivered. "
            "*Emulated* = sensitive instructions emulated, busiest kinds after it.", "",
            "| workload | machine | wall, CPU (s) | " + " | ".join(causes) +
            " | emulated (busiest kinds) | shadow pages most mapped, full flushes |",
            "|---|---|---:|" + "---:|" * len(causes) + "---|---:|"]
    for r in uw["rows"]:
        for c in ("ring1", "first", "trap"):
            st = r["stats"].get(c)
            if not st:
                continue
            if "error" in st:
                out.append(f"| {r['workload']} | {LABEL[c]} | failed¹ |" + " — |" * len(causes) +
                           " — | — |")
                notes.append(f"unixwork {r['workload']} --stats under {LABEL[c]}: {st['error']}")
                continue
            kinds = sorted(st["kinds"].items(), key=lambda kv: -kv[1])[:4]
            sh = st["shadow"]
            out.append(f"| {r['workload']} | {LABEL[c]} | {st['elapsed_s']:.2f}, {st['cpu_s']:.2f} | " +
                       " | ".join(f"{st['causes'][k]:,}" for k in causes) +
                       f" | {st['emulated']:,} ({', '.join(f'{k} {n:,}' for k, n in kinds)}) | "
                       f"{sh.get('most_mapped', 0):,}, {sh.get('flushes', 0)} |")
    out.append("")
    return out


class PlotError(Exception):
    """The plots could not be drawn (the tables and raw results are written regardless)."""


def plot(res: dict, outdir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise PlotError(f"matplotlib cannot be imported ({e}); `make bench` installs it "
                        "(the 'bench' extra: pip install -e '.[bench]')") from e
    files = []
    colors = {"native": "#555555", "ring1": "#1f77b4", "trap": "#ff7f0e", "qemu": "#2ca02c",
              "kvm": "#9467bd"}

    def grouped(rows, keys, value, title, ylabel, fname, labels, log=True, hline=None):
        fig, ax = plt.subplots(figsize=(max(7, 2 + 1.3 * len(rows)), 4))
        width = 0.8 / len(keys)
        for i, k in enumerate(keys):
            xs, ys = [], []
            for j, r in enumerate(rows):
                v = value(r, k)
                if v is not None:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    ys.append(v)
            ax.bar(xs, ys, width, label=LABEL[k], color=colors.get(k))
        ax.set_xticks(range(len(rows)), labels)
        if log:
            ax.set_yscale("log")
        if hline:
            ax.axhline(hline, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(outdir / fname, dpi=120)
        plt.close(fig)
        files.append(fname)

    def ok(r, k, key):
        x = r["results"].get(k)
        return None if not x or "error" in x else x[key]

    wl = res.get("workloads")
    if wl and wl["rows"]:
        def speed(r, k):                     # as the table: paired per round
            if k == "native":
                return 1.0 if ok(r, "native", "best_s") is not None else None
            if "rounds" in r:
                return paired_ratio(r["rounds"], "native", k, "best_s")
            n, x = ok(r, "native", "best_s"), ok(r, k, "best_s")
            return None if n is None or x is None else n / x
        grouped(wl["rows"], wl["contenders"], speed, "Workloads: speed relative to native\n"
                "(higher is better; dashed line = 0.9)", "native time ÷ time", "workloads.png",
                [r["workload"] for r in wl["rows"]], hline=0.9)
    nano = res.get("nano")
    if nano and nano["rows"]:
        grouped(nano["rows"], nano["contenders"], lambda r, k: ok(r, k, "ns_per_op"),
                "Sensitive operations: ns per operation (lower is better)", "ns / op",
                "nano.png", [r["op"] for r in nano["rows"]])
    uw = res.get("unixwork")
    if uw and uw["rows"]:
        grouped(uw["rows"], uw["contenders"],
                lambda r, k: None if ok(r, k, "workload_s") is None else ok(r, k, "workload_s") * 1e3,
                "Unix sample workloads: ms per workload (lower is better)", "ms", "unixwork.png",
                [r["workload"] for r in uw["rows"]])
    boot = res.get("boot")
    if boot:
        rows = [r for r in boot["rows"] if "results" in r]
        if rows:
            keys = [c for c in ("qemu", "ring1", "trap", "kvm")
                    if any(c in r["results"] for r in rows)]
            grouped(rows, keys, lambda r, k: None if ok(r, k, "milestone_s") is None
                    else ok(r, k, "milestone_s") * 1e3, "Boot: ms to milestone (lower is better)",
                    "ms", "boot.png", [f"{r['kernel']}\n{r['short']}" if r.get("short")
                                       else r["kernel"] for r in rows])
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


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        qemu = subprocess.run(["qemu-system-i386", "--version"], capture_output=True,
                              text=True).stdout.split("\n")[0].replace("QEMU emulator version ", "")
    except OSError:
        qemu = "not installed"
    return f"{cpu}, {os.cpu_count()} cores, Linux {os.uname().release}, QEMU {qemu}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (about a minute)")
    ap.add_argument("--out", help="results directory (default bench/results/<date-time>)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="sections to run, comma-separated: " + ",".join(SECTIONS))
    ap.add_argument("--unix-workloads", metavar="NAME,...",
                    help="unixwork rows to run (default all: " + ",".join(guests.UNIX_WORKLOADS) +
                    ")")
    args = ap.parse_args(argv)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    outdir = Path(args.out) if args.out else ROOT / "bench" / "results" / when
    outdir.mkdir(parents=True, exist_ok=True)
    res = {"when": when, "quick": args.quick,
           "machine": machine()}
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    only_work = None
    if args.unix_workloads:
        only_work = [w.strip() for w in args.unix_workloads.split(",") if w.strip()]
        bad = set(only_work) - set(guests.UNIX_WORKLOADS)
        if bad:
            ap.error(f"unknown unix workload(s) {', '.join(sorted(bad))}; known: "
                     f"{', '.join(guests.UNIX_WORKLOADS)}")
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]
    if sections & {"workloads", "nano", "unixwork", "boot"}:
        say("setup: building, rewriting the bench kernel and the samples, probing KVM")
        env = setup_guests(args.quick)
        res["kvm_line"] = env["kvm_line"]
        res["rewrites"] = {f"{tac}/{name}": {"sites": v["report"]["counts"],
                                              "tactics": v["report"]["tactics"]}
                           for tac in ("r1", "trap") for name, v in env[tac].items()}
        for name, fn in (("workloads", bench_workloads), ("nano", bench_nano),
                         ("unixwork", lambda e, q: bench_unixwork(e, q, only_work)),
                         ("boot", bench_boot)):
            if name in sections:
                say(f"{name}:")
                t = time.perf_counter()
                res[name] = fn(env, args.quick)
                res[name]["section_s"] = round(time.perf_counter() - t, 1)
    if "linux" in sections:
        say("linux:")
        t = time.perf_counter()
        guests.build()
        res["linux"] = linuxwork.bench_linux(args.quick, say, parse_stats, exit_causes)
        res["linux"]["section_s"] = round(time.perf_counter() - t, 1)
    if "rewriter" in sections:
        say("rewriter:")
        t = time.perf_counter()
        res["rewriter"] = bench_rewriter(args.quick)
        res["rewriter"]["section_s"] = round(time.perf_counter() - t, 1)
    res["total_s"] = round(time.perf_counter() - t_start, 1)
    res["loadavg"] = [load0, os.getloadavg()[0]]
    return finish(res, outdir)


def finish(res: dict, outdir: Path) -> int:
    """Write results.json, results.md and the plots; print the tables. Exit status 1 if the
    plots could not be drawn (said on stderr), after everything else is written."""
    (outdir / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    md = to_markdown(res)
    status = 0
    try:
        files = plot(res, outdir)
    except Exception as e:   # a plot that fails must not lose the results: say it, exit 1
        files, status = [], 1
        why = str(e) if isinstance(e, PlotError) else f"{type(e).__name__}: {e}"
        print(f"ring1 bench: the plots were not drawn: {why}", file=sys.stderr)
    if files:
        md += "\n" + "\n".join(f"![{f}]({f})" for f in files) + "\n"
    (outdir / "results.md").write_text(md)
    print(md)
    print(f"results in {outdir} ({res['total_s']} s)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
