#!/usr/bin/env python3
"""kvm-unit-tests (the x86 hypervisor conformance suite) under QEMU and under ring1.

    make kut KUT=path/to/kvm-unit-tests [KUT_ARGS='--only sieve,emulator --jobs 2']
    .venv/bin/python scripts/kut.py path/to/kvm-unit-tests [--only T,...] [--jobs N] [--json F]

Builds the suite's i386 tests if needed (`./configure --arch=i386 && make`; 32-bit gcc), then
runs each single-CPU test of x86/unittests.cfg that QEMU's TCG can run (not KVM-only: no
`accel = kvm`, no `-cpu host`) twice:

- under QEMU TCG, with the suite's own runner (`ACCEL=tcg x86/run x86/TEST.flat -smp 1
  [-append ARGS] [qemu_params]`: the command line run_tests.sh gives, `-nodefaults`, pc-testdev,
  pci-testdev, isa-debug-exit, the suite's environment file as -initrd);
- under ring1: `ring1 boot x86/TEST.flat --mem M --testdev [--cmdline ARGS]`, booted plainly
  (no environment file), with the memory QEMU has (its default 128M, or qemu_params' -m) and
  QEMU's pc-testdev (pci-testdev is not modelled).

A test whose qemu_params pick another CPU (-cpu max, ...) also runs under QEMU with those
params less the -cpu: QEMU's default qemu32, the CPU ring1 models. One table (test; QEMU's
verdict and PASS/FAIL/SKIP check counts, with the runner's CPU and with qemu32; ring1's;
ring1's first failure line) and a summary line. The suite is not a package: this is not part of `make test`.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RING1 = os.path.join(ROOT, ".venv", "bin", "ring1")


def parse_cfg(path):
    """x86/unittests.cfg: [name] sections of key = value lines."""
    tests, cur = [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"\[(.+)\]\s*$", line)
        if m:
            cur = {"name": m.group(1)}
            tests.append(cur)
        elif cur is not None and "=" in line:
            k, _, v = line.partition("=")
            cur[k.strip()] = v.strip()
    return tests


def selected(kut, tests):
    """The single-CPU i386 tests TCG can run; (test, reason) for the others of the file."""
    keep, left = [], []
    for t in tests:
        params = t.get("qemu_params", "")
        why = ("arch " + t["arch"] if t.get("arch", "i386") != "i386" else
               "smp " + t["smp"] if t.get("smp", "1") != "1" else
               "KVM only" if t.get("accel") == "kvm" or "-cpu host" in params else
               "not built" if not os.path.exists(os.path.join(kut, "x86", t["file"])) else None)
        (left if why else keep).append((t, why) if why else t)
    return keep, left


def build(kut):
    cfg = os.path.join(kut, "config.mak")
    arch = None
    if os.path.exists(cfg):
        m = re.search(r"^ARCH=(\S+)", open(cfg, encoding="utf-8").read(), re.M)
        arch = m and m.group(1)
    if arch != "i386":
        print(f"kut: ./configure --arch=i386 in {kut}", flush=True)
        subprocess.run(["./configure", "--arch=i386"], cwd=kut, check=True)
    print("kut: make (the i386 tests)", flush=True)
    r = subprocess.run(["make", "-s", f"-j{os.cpu_count() or 1}"], cwd=kut)
    if r.returncode != 0:
        probe = subprocess.run(["gcc", "-m32", "-x", "c", "-c", "-o", os.devnull, "-"],
                               input=b"int x;", capture_output=True)
        hint = (" (gcc -m32 does not work here: apt-get install gcc-multilib)"
                if probe.returncode else "")
        sys.exit(f"kut: building kvm-unit-tests failed{hint}")


CHECK = re.compile(r"^(PASS|FAIL|SKIP|XFAIL|XPASS): ")


def counts(out):
    c = {"pass": 0, "fail": 0, "skip": 0}
    for line in out.splitlines():
        m = CHECK.match(line)
        if m:
            w = m.group(1)
            c["pass" if w in ("PASS", "XFAIL") else "fail" if w in ("FAIL", "XPASS") else
              "skip"] += 1
    return c


def memory(params):
    m = re.search(r"(?:^|\s)-m\s+(\d+)([MG]?)", params)
    if not m:
        return "128M"            # QEMU's default: the runner passes no -m
    return m.group(1) + (m.group(2) or "M")


def qemu32_params(params):
    """qemu_params without its -cpu: QEMU's default CPU for i386, qemu32, ring1's model."""
    return re.sub(r"(^|\s)-cpu\s+\S+", " ", params).strip()


def run_qemu(kut, t, timeout, params=None):
    args = shlex.split(t.get("test_args", ""))
    cmd = ["./x86/run", "x86/" + t["file"], "-smp", "1"]
    if args:
        cmd += ["-append", " ".join(args)]
    cmd += shlex.split(t.get("qemu_params", "") if params is None else params)
    env = dict(os.environ, ACCEL="tcg", TIMEOUT=f"{timeout}s", TESTNAME=t["name"])
    start = time.monotonic()
    r = subprocess.run(cmd, cwd=kut, env=env, capture_output=True, timeout=timeout + 30)
    out = r.stdout.decode("latin-1")
    verdict = "pass" if r.returncode == 0 else "skip" if r.returncode == 77 else "fail"
    return {"verdict": verdict, "status": r.returncode, **counts(out),
            "seconds": round(time.monotonic() - start, 1), "command": " ".join(cmd),
            "first_failure": first_failure(out, r.stderr.decode("latin-1"), verdict)}


def run_ring1(kut, t, timeout, ring1, testdev):
    args = shlex.split(t.get("test_args", ""))
    cmd = [ring1, "boot", "x86/" + t["file"], "--mem", memory(t.get("qemu_params", "")),
           "--timeout", str(timeout)]
    if testdev:
        cmd.append("--testdev")   # the runner's -device pc-testdev
    if args:
        cmd += ["--cmdline", " ".join(args)]
    start = time.monotonic()
    r = subprocess.run(cmd, cwd=kut, capture_output=True, timeout=timeout + 60,
                       stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode("latin-1"), r.stderr.decode("latin-1")
    # isa-debug-exit: (code << 1) | 1. The suite writes 0 (pass), 38 when it skipped every
    # check (the runner's 77), else a failure.
    verdict = "pass" if r.returncode == 1 else "skip" if r.returncode == 77 else "fail"
    return {"verdict": verdict, "status": r.returncode, **counts(out),
            "seconds": round(time.monotonic() - start, 1), "command": " ".join(cmd),
            "first_failure": first_failure(out, err, verdict)}


def first_failure(out, err, verdict):
    for line in out.splitlines():
        if line.startswith("FAIL: "):
            return line
    if verdict != "fail":
        return ""
    last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "")
    for text in (out, err):
        for line in text.splitlines():
            if re.match(r"(Unhandled exception|ring1-run: |ring1: (?!rewriting)|"
                        r".*\b(abort|assert failed)\b)", line):
                if line.startswith("ring1-run: timeout") and last:
                    return f"timeout; its last line: {last}"
                return line.strip()
    lines = [ln for ln in (out + "\n" + err).splitlines()
             if ln.strip() and not ln.startswith("ring1: rewriting")]
    return lines[-1].strip() if lines else "(no output)"


def cell(r):
    return f"{r['verdict']} {r['pass']}/{r['fail']}/{r['skip']}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kut", help="a kvm-unit-tests source tree")
    ap.add_argument("--only", help="comma-separated test names")
    ap.add_argument("--jobs", type=int, default=1, help="tests run at once (default 1)")
    ap.add_argument("--timeout", type=int, default=0,
                    help="seconds per run (default: the test's own, else 90)")
    ap.add_argument("--ring1", default=RING1, help="the ring1 command (default .venv/bin/ring1)")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--qemu-from", metavar="JSON",
                    help="QEMU's results from an earlier --json, instead of running QEMU again")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    kut = os.path.abspath(a.kut)
    if not os.path.exists(os.path.join(kut, "x86", "unittests.cfg")):
        sys.exit(f"kut: {kut} is not a kvm-unit-tests tree (no x86/unittests.cfg)")
    if not shutil.which("qemu-system-i386"):
        sys.exit("kut: qemu-system-i386 is not installed")
    if not os.path.exists(a.ring1):
        sys.exit(f"kut: {a.ring1} not found (make setup)")
    if not a.no_build:
        build(kut)
    tests, left = selected(kut, parse_cfg(os.path.join(kut, "x86", "unittests.cfg")))
    if a.only:
        names = a.only.split(",")
        tests = [t for t in tests if t["name"] in names]
    print(f"kut: {len(tests)} tests ({len(left)} others in x86/unittests.cfg: not i386, "
          "several CPUs or KVM only)", flush=True)

    # ring1-run's --testdev (QEMU's pc-testdev), if this ring1 has it.
    # (REPO/.venv/bin/ring1 runs REPO/runtime/build/ring1-run.)
    runtime = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(a.ring1)))), "runtime", "build", "ring1-run")
    helptext = subprocess.run([runtime, "--help"], capture_output=True, text=True) \
        if os.path.exists(runtime) else None
    testdev = bool(helptext) and "--testdev" in helptext.stdout + helptext.stderr
    earlier = {}
    if a.qemu_from:
        for x in json.load(open(a.qemu_from, encoding="utf-8")):
            earlier[x["test"]] = (x["qemu"], x["qemu32"])

    def one(t):
        timeout = a.timeout or int(re.sub(r"\D", "", t.get("timeout", "")) or 90)
        params = t.get("qemu_params", "")
        if t["name"] in earlier:
            q, q32 = earlier[t["name"]]
        else:
            q = run_qemu(kut, t, timeout)
            q32 = run_qemu(kut, t, timeout, qemu32_params(params)) if "-cpu" in params else q
        r = run_ring1(kut, t, timeout, a.ring1, testdev)
        print(f"  {t['name']}: QEMU {cell(q)} ({q['seconds']} s), qemu32 {cell(q32)}, ring1 "
              f"{cell(r)} ({r['seconds']} s)", flush=True)
        return t, q, q32, r

    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        results = list(ex.map(one, tests))

    w = max([len(t["name"]) for t, _, _, _ in results] + [4])
    print()
    print(f"{'test':<{w}}  {'QEMU p/f/s':<15} {'qemu32 p/f/s':<15} {'ring1 p/f/s':<15} "
          "first ring1 failure")
    for t, q, q32, r in results:
        q32c = cell(q32) if q32 != q else "same"
        print(f"{t['name']:<{w}}  {cell(q):<15} {q32c:<15} {cell(r):<15} "
              f"{r['first_failure'][:100]}")
    n = len(results)

    def tally(i):
        return (sum(x[i]["verdict"] == "pass" for x in results),
                sum(x[i]["pass"] for x in results))

    (qp, qc), (q32p, q32c), (rp, rc) = tally(1), tally(2), tally(3)
    both = sum(q32["verdict"] == "pass" == r["verdict"] for _, _, q32, r in results)
    same = sum(q32["verdict"] == r["verdict"] for _, _, q32, r in results)
    print(f"\nsummary: QEMU passes {qp}/{n} tests ({qc} checks) with the runner's command line, "
          f"{q32p}/{n} ({q32c}) with qemu32; ring1 {rp}/{n} ({rc}): {both} of qemu32's "
          f"{q32p}, the same verdict as qemu32 on {same}/{n}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump([{"test": t["name"], "qemu": q, "qemu32": q32, "ring1": r}
                       for t, q, q32, r in results], f, indent=1)


if __name__ == "__main__":
    main()
