"""ring1 — the command line: inspect, rewrite, verify, run, boot, fetch."""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from kernels import fetch

from . import __version__, abi, jsondoc, pipeline, plan as plan_mod
from .errors import (EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME,
                     EXIT_TABLE, EXIT_VERIFY_FAILED, BadInput, CacheError, Ring1Error)


def _exit_table() -> str:
    import textwrap
    out = ["exit status (the same for every command; odd ones of run and boot are the guest's):"]
    for code, meaning, cmds in EXIT_TABLE:
        text = f"{meaning} [{cmds}]"
        if len(code) > 3:
            out.append(f"  {code}")
            code = ""
        out += textwrap.wrap(text, 94, initial_indent=f"  {code:3s} ", subsequent_indent=" " * 6)
    return "\n".join(out) + "\n"


EPILOG = _exit_table() + """
examples:
  ring1 inspect kernel.elf
  ring1 inspect kernel.elf --cfg cfg.dot
  ring1 rewrite kernel.elf -o kernel.r1.elf --report report.json
  ring1 rewrite a.elf b.elf c.elf -o outdir/ -j 4
  ring1 verify kernel.r1.elf
  ring1 run kernel.r1.elf --serial stdio
  ring1 boot kernel.elf              # rewrite (cached) + run
  ring1 boot --mem=256M vmlinuz --cmdline "console=ttyS0" --initrd initrd.cpio   # Linux
  ring1 boot -m 256 -kernel vmlinuz -append console=ttyS0 -initrd initrd.cpio   # QEMU's words
  ring1 fetch gnumach                # download a real kernel from Debian's archive
"""


RUN_DESCRIPTION = (
    "The machine is a PC modelled on QEMU's `qemu-system-i386 -nodefaults -vga std -cpu "
    "qemu32`: with QEMU's std VGA in text mode 3, as every PC and QEMU's default machine have "
    "one; --vga none takes it away (QEMU's -nodefaults alone). Options go before or after "
    "the image, with one dash or two, `--opt value` or `--opt=value` (QEMU's -m, -kernel, "
    "-append, -initrd, -snapshot, -serial, -no-reboot, -nographic too); the runtime's "
    "options (from ring1-run, which parses the same grammar) follow.")


def _err(msg: str) -> None:
    """One line on stderr: a character that is not printable (a newline in a section name or a
    path taken from the input) is shown escaped."""
    msg = "".join(c if c.isprintable() else repr(c)[1:-1] for c in msg)
    print(f"ring1: {msg}", file=sys.stderr)


def _progress(prefix: str):
    """Stage-by-stage progress on stderr, only when a person is watching (a terminal)."""
    if not sys.stderr.isatty():
        return None
    return lambda msg: print(f"ring1: {prefix}: {msg}", file=sys.stderr, flush=True)


# --- inspect --------------------------------------------------------------------------------
def cmd_inspect(args) -> int:
    if args.cfg:
        _writable(args.cfg)                  # before the analysis, which may take a while
    prof = None
    if args.profile:
        from . import profile
        prof = profile.load(args.profile)    # a bad file fails before the analysis
    tactics = pipeline.parse_tactics(args.tactics)
    a = pipeline.analyze(args.image, _progress(args.image))
    s = pipeline.summary(a)
    if prof is not None:
        s["profile"] = _profile_rows(a, prof, args.profile)
    if args.sites:
        s["site_listing"] = _site_rows(a, tactics)
    if args.cfg:
        try:
            a.cfg.write(args.cfg)
        except OSError as e:
            raise BadInput(f"{args.cfg}: cannot write: {e.strerror}")
    if args.json:
        print(json.dumps(jsondoc.inspect(s), indent=2))
        return EXIT_OK
    img = a.image
    print(f"{img.path}: {img.kind.upper()} {img.machine}, entry {img.entry:#x}, "
          f"sha256 {img.sha256[:16]}…")
    if img.multiboot:
        mb = img.multiboot
        print(f"  multiboot v1 header at file offset {mb.offset:#x}, flags {mb.flags:#x} "
              f"({'a.out kludge' if mb.aout_kludge else 'ELF'} form)")
    else:
        print("  no multiboot header")
    if img.ring1_note:
        print(f"  already patched by ring1: ABI {img.ring1_note['abi_version']}, window "
              f"{img.ring1_note['window_base']:#x}")
    for seg in s["segments"]:
        print(f"  segment {seg['vaddr']:#010x} (phys {seg['paddr']:#010x}) file {seg['filesz']:#x}"
              f" mem {seg['memsz']:#x} {seg['flags']}")
    print(f"  symbols: {s['symbols']} functions" + ("" if s["symbols"] else " (stripped)"))
    for c in s["coverage"]:
        pct = lambda n: f"{100.0 * n / c['size']:.1f}%" if c["size"] else "-"
        print(f"  code range {c['section']} {c['addr']:#x} {c['size']} bytes: code {c['code']} "
              f"({pct(c['code'])}), data/padding {c['data_or_padding']} "
              f"({pct(c['data_or_padding'])}), unknown {c['unknown']} ({pct(c['unknown'])})")
    print("  roots: " + ", ".join(f"{k} {v}" for k, v in s["roots"].items()))
    print(f"  {s['instructions']} instructions, CFG {s['cfg']['blocks']} blocks, "
          f"{s['cfg']['edges']} edges")
    print(f"  sensitive sites in code: {s['sites']['total']}")
    for k, n in s["sites"]["by_kind"].items():
        print(f"    {k:14s} {n}")
    u = s["unknown_candidates"]
    if u["total"]:
        print(f"  sensitive-looking bytes outside proven code (not patched): {u['total']} "
              f"({', '.join(f'{k} {n}' for k, n in u['by_kind'].items())})")
    cc = s["copied_code_sites"]
    if cc["total"]:
        print(f"  sites in code the kernel copies elsewhere at boot (left for the runtime to "
              f"trap): {cc['total']} ({', '.join(f'{k} {n}' for k, n in cc['by_kind'].items())})")
    if s["kernel_tables"]:
        print("  kernel tables: " + ", ".join(f"{k} {n}" for k, n in s["kernel_tables"].items()))
    for w in s["kernel_table_warnings"]:
        print(f"  warning: {w}")
    print("  time: " + ", ".join(f"{k} {v:.2f}s" for k, v in s["timings"].items()))
    if prof is not None:
        p = s["profile"]
        for w in p["warnings"]:
            print(f"  warning: {w}")
        print(f"  profile {args.profile}: {p['exits']} exits at {p['addresses']} addresses; "
              f"the hottest:")
        print(f"    {'address':10s} {'kind':13s} {'count':>10s}  instruction / what a rewrite "
              f"with the profile does")
        for r in p["hottest"]:
            print(f"    {r['addr']:10s} {r['kind']:13s} {r['count']:10d}  "
                  f"{r['insn'] or '-'}{'  ->  ' + r['action'] if r['action'] else ''}")
    if args.sites:
        L = s["site_listing"]
        print(f"  sites, as `ring1 rewrite --tactics {','.join(L['tactics'])}` plans them:")
        for r in L["sites"]:
            where = f"region {r['region']}" if r["region"] else r["reason"]
            print(f"    {r['addr'][2:]}:  {r['bytes']:<24s} {r['insn']:<32s} {r['kind']:<13s} "
                  f"{r['tactic']:<10s} {where}")
        if L["siteless_regions"]:
            print("  regions without a site, moving branches into other regions' middles:")
            for r in L["siteless_regions"]:
                print(f"    region {r['region']}: " + "; ".join(
                    f"{m['addr']} {m['insn']} -> region {m['into']}" for m in r["moves"]))
    return EXIT_OK


_CS = None


def _insn_text(d, addr: int) -> str:
    """The instruction at addr (an instruction start of the analysis d) as objdump shows it,
    mnemonic and operands, or "" if it does not decode."""
    global _CS
    if _CS is None:
        import capstone
        _CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    i = next(_CS.disasm_lite(d.insn_bytes(addr), addr), None)
    return f"{i[2]} {i[3]}".strip() if i else ""


def _site_rows(a, tactics) -> dict:
    """Every site of the plan `ring1 rewrite --tactics` makes (objdump's columns: address,
    bytes, instruction; then kind, tactic, region or why it traps) and the site-less regions,
    each with the branches it moves into another region's middle (plan._Reaim)."""
    d = a.d
    p = plan_mod.make_plan(a.cfg, abi.WINDOW_DEFAULT, tactics)

    def insn(addr):
        return _insn_text(d, addr) or "(bad)"

    span = {r.start: f"{r.start:#x}-{r.end:#x}" for r in p.regions}
    inner = {x: r.start for r in p.regions for x, _ in r.insns[1:]}
    sites = [{"addr": f"{st.addr:#010x}", "bytes": st.code.hex(" "), "insn": insn(st.addr),
              "kind": st.kind.name.lower(), "tactic": st.tactic.name.lower(),
              "region": span.get(st.region) if st.region is not None else None,
              "reason": st.reason} for st in p.sites]
    siteless = []
    for r in p.regions:
        if r.sites:
            continue
        moves = [{"addr": f"{x:#010x}", "insn": insn(x), "into": span[inner[d.flow[x][1]]]}
                 for x, _ in r.insns
                 if d.flow.get(x, (None, None))[1] in inner and
                 inner[d.flow[x][1]] != r.start]
        siteless.append({"region": span[r.start], "moves": moves})
    return {"tactics": [t.name.lower() for t in tactics], "sites": sites,
            "siteless_regions": siteless}


def _profile_rows(a, prof, where: str, n: int = 20) -> dict:
    """The profile's hottest exits, each with its instruction and what rewrite --profile does
    with it (the plan the profile gives)."""
    from . import profile
    warnings = []
    try:
        w = profile.check_input(prof, where, a.image.sha256)
        if w:
            warnings.append(w)
    except BadInput as e:
        warnings.append(str(e))
    chosen = set(prof.mmio_sites())
    plan = plan_mod.make_plan(a.cfg, abi.WINDOW_DEFAULT, plan_mod.ALL_TACTICS, sorted(chosen))
    sites = {x.addr: x for x in plan.sites}
    copied_by: dict[int, list[int]] = {}       # a site -> the regions whose tails copy it
    for r in plan.regions:
        for t, _ in r.tail:
            if t in sites:
                copied_by.setdefault(t, []).append(r.start)
    d = a.d
    rows = []
    for addr, kind, count in prof.hottest(n):
        insn = action = ""
        if d.is_code_start(addr):
            insn = _insn_text(d, addr)
        site = sites.get(addr)
        if kind in ("mmio", "mmio_ram"):
            if site is not None and site.kind == abi.Kind.MMIO:
                action = "hypercall (MMIO site)"
            elif addr in chosen:
                action = "left faulting: no 5-byte region of movable instructions"
            elif insn:
                why = plan_mod.mmio_unsuitable(d, addr)
                action = (f"left faulting: {why}" if why else
                          f"left faulting: seen fewer than {profile.MIN_COUNT} times")
            else:
                action = "not in this image's code (a user program, or code written at run time)"
        elif site is not None:
            action = f"sensitive site, {site.tactic.name.lower()}" + \
                (f" ({site.reason})" if site.reason else "")
            if addr in copied_by:
                # a site's count is its exits of every path: a copy's hypercalls too
                how = plan_mod.copy_translation(site, plan.tactics)
                action += "; copied, " + ("inline" if how == "inline" else "a hypercall") + \
                    ", into the tail of the region at " + \
                    ", ".join(f"{x:#x}" for x in copied_by[addr])
        elif not insn:
            action = "not in this image's code (a user program, or code written at run time)"
        rows.append({"addr": f"{addr:#010x}", "kind": kind, "count": count, "insn": insn,
                     "action": action})
    return {"exits": sum(prof.counts.values()), "addresses": len({a for a, _ in prof.counts}),
            "hottest": rows, "warnings": warnings}


# --- rewrite --------------------------------------------------------------------------------
def _writable(path: str) -> None:
    """Raise BadInput unless a file can be created at `path`. The directory is probed by
    creating (and removing) a file in it: os.access says yes to root everywhere, including
    /proc, /sys and read-only mounts."""
    if Path(path).is_dir():
        raise BadInput(f"{path}: is a directory")
    parent = Path(path).resolve().parent
    if not parent.exists():
        raise BadInput(f"{path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise BadInput(f"{path}: {parent} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=str(parent), prefix=".ring1-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise BadInput(f"{path}: cannot write in directory {parent}: {e.strerror}")


def _atomic_write(path: str, data: bytes | str) -> None:
    """Write via a temporary file in the same directory, so a failure never leaves half a file."""
    _writable(path)
    d = str(Path(path).resolve().parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".ring1-")
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            if tmp is not None:
                os.unlink(tmp)
        except OSError:
            pass
        raise BadInput(f"{path}: cannot write: {e.strerror}")


def _rewrite_one(src: str, dst: str, report: str | None, window: int, tactics,
                 progress=None, profile=None, profile_min=None) -> dict:
    if Path(src).resolve() == Path(dst).resolve():
        raise BadInput(f"{dst}: output would overwrite the input")
    _writable(dst)
    if report:
        _writable(report)
    t = time.perf_counter()
    rw = pipeline.rewrite(src, window, tactics, progress, profile=profile,
                          profile_min=profile_min)
    for w in rw.warnings:
        _err(f"warning: {w}")
    _atomic_write(dst, rw.patched.data)
    rep = pipeline.report(rw, dst)
    if report:
        _atomic_write(report, json.dumps(rep, indent=1) + "\n")
    return {"input": src, "output": dst, "status": "ok", "counts": rep["counts"],
            "sites": len(rep["sites"]), "seconds": round(time.perf_counter() - t, 2),
            "unknown": len(rep["unknown_candidates"])}


def _rewrite_job(job, progress=None) -> dict:
    src, dst, report, window, tactics, *prof = job
    try:
        return _rewrite_one(src, dst, report, window, tactics, progress, *prof)
    except Ring1Error as e:
        return {"input": src, "status": "bad input" if isinstance(e, BadInput) else "error",
                "error": str(e), "exit": e.exit_code}
    except Exception as e:  # a bug: keep the batch going, report it
        return {"input": src, "status": "error", "exit": EXIT_INTERNAL,
                "error": f"internal error: {type(e).__name__}: {e}",
                "trace": traceback.format_exc()}


def _describe(r: dict) -> str:
    if r["status"] != "ok":
        return f"{r['input']}: FAILED ({r['status']}): {r['error']}"
    if r.get("up_to_date"):
        return f"{r['input']} -> {r['output']}: up to date (same input, options and rewriter)"
    c = ", ".join(f"{n} {k}" for k, n in r["counts"].items())
    extra = f"; {r['unknown']} candidates outside proven code left alone" if r["unknown"] else ""
    return f"{r['input']} -> {r['output']}: {r['sites']} sites ({c}){extra}, {r['seconds']}s"


def _file_sha(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _batch_key(src: str, window: int, tactics) -> str | None:
    """What a batch output's bytes depend on: the input's and _options_key's (None: the input
    cannot be read; the rewrite says why)."""
    data = _file_sha(src)
    if data is None:
        return None
    return hashlib.sha256(f"{data}:{_options_key(window, tactics)}".encode()).hexdigest()


def cmd_rewrite(args) -> int:
    window = pipeline.parse_window(args.window)
    tactics = pipeline.parse_tactics(args.tactics)
    if args.jobs < 1:
        raise BadInput("-j must be at least 1")
    if args.profile_min is not None and args.profile_min < 1:
        raise BadInput("--profile-min must be at least 1")
    single = len(args.images) == 1 and not args.output.endswith("/") and \
        not Path(args.output).is_dir()
    prof = None
    if args.profile:
        from . import profile
        if not single:
            raise BadInput("--profile is one kernel's: rewrite that kernel alone with it")
        prof = profile.load(args.profile)
    elif args.profile_min is not None:
        raise BadInput("--profile-min without --profile")
    if single:
        r = _rewrite_job((args.images[0], args.output, args.report, window, tactics, prof,
                          args.profile_min), _progress(args.images[0]))
        if r["status"] != "ok":
            if "trace" in r:
                print(r["trace"], file=sys.stderr)
            _err(r["error"])
            return r["exit"]
        print(_describe(r))
        return EXIT_OK
    # batch: -o is a directory
    outdir = Path(args.output)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{args.output}: cannot create output directory: {e.strerror}")
    if args.report:
        raise BadInput("--report names one file; in a batch each image's report is written "
                       "next to its output as NAME.report.json")
    # Incremental: an output whose key (the input's bytes, the options, the ABI, the
    # rewriter's own code: what the rewritten bytes depend on) and bytes are what the last
    # batch's summary.json recorded is up to date, and skipped (--force: every one redone).
    before = {}
    if not args.force:
        try:
            before = {i["input"]: i for i in json.loads(
                (outdir / "summary.json").read_text())["images"] if i.get("status") == "ok"}
        except (OSError, ValueError, KeyError, TypeError):
            before = {}
    jobs, results, keys = [], [], {}
    seen = set()
    for src in args.images:
        stem = Path(src).name
        stem = stem[:-4] if stem.endswith(".elf") else stem
        if stem in seen:
            raise BadInput(f"two inputs would both write {outdir / (stem + '.r1.elf')}")
        seen.add(stem)
        job = (src, str(outdir / f"{stem}.r1.elf"), str(outdir / f"{stem}.report.json"),
               window, tactics)
        keys[src] = _batch_key(src, window, tactics)
        old = before.get(src)
        if old and keys[src] and old.get("key") == keys[src] and old.get("output") == job[1] \
                and Path(job[2]).is_file() and _file_sha(job[1]) == old.get("output_sha256"):
            results.append(dict(old, up_to_date=True))
        else:
            jobs.append(job)
    t0 = time.perf_counter()
    n, done = len(args.images), len(results)
    print(f"ring1: rewriting {len(jobs)} of {n} images with {max(1, min(args.jobs, len(jobs)))} "
          f"worker(s)" + (f" ({done} up to date)" if done else ""), file=sys.stderr)
    for i, r in enumerate(results, 1):
        print(f"[{i}/{n}] {_describe(r)}", file=sys.stderr, flush=True)

    def finished(r):
        if r["status"] == "ok":
            r.update(key=keys[r["input"]], output_sha256=_file_sha(r["output"]))
        results.append(r)
        print(f"[{len(results)}/{n}] {_describe(r)}", file=sys.stderr, flush=True)

    if args.jobs == 1 or len(jobs) <= 1:
        for r in map(_rewrite_job, jobs):
            finished(r)
    else:
        with cf.ProcessPoolExecutor(max_workers=args.jobs) as ex:
            futs = {ex.submit(_rewrite_job, j): j for j in jobs}
            for f in cf.as_completed(futs):
                finished(f.result())
    ok = [r for r in results if r["status"] == "ok"]
    bad = [r for r in results if r["status"] != "ok"]
    print(f"ring1: {len(ok)} of {n} images rewritten in {time.perf_counter() - t0:.1f}s"
          + (f" ({done} of them up to date)" if done else "")
          + (f"; {len(bad)} failed:" if bad else ""))
    order = {src: i for i, src in enumerate(args.images)}
    for r in sorted(bad, key=lambda r: order[r["input"]]):
        print(f"  {_describe(r)}")
    summary = jsondoc.document("summary", {"images": sorted(results,
                                                            key=lambda r: order[r["input"]])})
    _atomic_write(str(outdir / "summary.json"), json.dumps(summary, indent=1) + "\n")
    return EXIT_OK if not bad else EXIT_VERIFY_FAILED


# --- verify ---------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    from .verify import verify
    worst = EXIT_OK
    docs = []           # --json: every image's object, printed as one document at the end

    def emit(obj: dict) -> None:
        if args.json_lines:
            # JSON Lines: one document per image, one line each, as each is verified
            print(json.dumps(jsondoc.document("verify", obj)), flush=True)
        else:
            docs.append(obj)

    for path in args.images:
        try:
            r = verify(path, _progress(path))
        except BadInput as e:
            _err(str(e))
            worst = max(worst, EXIT_BAD_INPUT)
            if args.json or args.json_lines:
                emit({"image": path, "ok": False, "error": str(e), "exit": EXIT_BAD_INPUT})
            continue
        if args.json or args.json_lines:
            emit(jsondoc.verify_entry(path, r.ok, r.problems, r.stats))
        elif r.ok:
            t = r.stats["tactics"]
            print(f"{path}: OK: {r.stats['sites']} sites handled (inline {t['inline']}, "
                  f"trampoline {t['trampoline']}, trap {t['trap']}), {r.stats['regions']} "
                  f"regions, {r.stats['branches_checked']} trampoline branches checked")
        else:
            print(f"{path}: FAILED: {len(r.problems)} problem(s)")
            for p in r.problems[:200]:
                print(f"  {p}")
            if len(r.problems) > 200:
                print(f"  … and {len(r.problems) - 200} more")
        if not r.ok:
            worst = max(worst, EXIT_VERIFY_FAILED)
    if args.json and not args.json_lines:
        print(json.dumps(jsondoc.document("verify", {"ok": worst == EXIT_OK, "exit": worst,
                                                     "images": docs}), indent=1))
    return worst


# --- run / boot -----------------------------------------------------------------------------
def runtime_path() -> Path:
    env = os.environ.get("RING1_RUNTIME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "runtime" / "build" / "ring1-run"


def _check_runtime() -> Path:
    rt = runtime_path()
    if not rt.is_file():
        raise BadInput(f"the runtime is not built ({rt} is missing): run `make runtime`")
    if not os.access(rt, os.X_OK):
        raise BadInput(f"the runtime {rt} is not executable")
    return rt


def _exec_runtime(image: str, rest: list[str]) -> int:
    rt = _check_runtime()
    if not Path(image).is_file():
        raise BadInput(f"{image}: no such file")
    try:
        os.execv(str(rt), [str(rt), image] + rest)
    except OSError as e:
        raise BadInput(f"cannot run the runtime {rt}: {e.strerror}")
    return EXIT_INTERNAL  # not reached


# --- the run/boot grammar: the runtime's option table --------------------------------------
# ring1-run's getopt_long_only table is the one source of truth: `ring1-run --list-options`
# prints it (NAME, none|required|optional, and for a QEMU option ring1 refuses the line it
# says), and `ring1 run`/`ring1 boot` parse the same grammar from it with argparse: options
# before or after the image, one dash or two, `--opt value` or `--opt=value`. What they pass
# on is canonical (`--NAME=VALUE`), so the runtime never sees a spelling it would read
# differently. `--help` adds the runtime's own text (`ring1-run --help`).
class RuntimeOption:
    def __init__(self, name: str, arg: str, refused: str | None = None):
        self.name, self.arg, self.refused = name, arg, refused


_OWN = {"help", "version", "list-options"}     # handled by ring1 itself


def runtime_options(rt: Path) -> list[RuntimeOption]:
    try:
        p = subprocess.run([str(rt), "--list-options"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        raise BadInput(f"cannot run the runtime {rt}: {e}")
    opts = []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) >= 2 and f[1] in ("none", "required", "optional"):
            opts.append(RuntimeOption(f[0], f[1], f[3] if len(f) >= 4 and f[2] == "refused"
                                      else None))
    if p.returncode != 0 or not opts:
        raise BadInput(f"the runtime {rt} does not list its options (--list-options): "
                       f"rebuild it with `make runtime`")
    return opts


def runtime_help(rt: Path) -> str:
    try:
        p = subprocess.run([str(rt), "--help"], capture_output=True, text=True, timeout=30)
        text = p.stdout if p.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        text = ""
    return text or f"(the runtime {rt} is not built: `make runtime`; its options are not " \
                   f"listed here)\n"


class _RuntimeArg(argparse.Action):
    """A runtime option: appended, in order, to args.runtime as (name, value or None)."""
    name = ""

    def __call__(self, parser, ns, values, option_string=None):
        name = self.name
        if name == "kernel":
            if ns.kernel is not None:
                parser.error(f"-kernel {values}: one IMAGE only ({ns.kernel} is the first)")
            ns.kernel = values
            return
        ns.runtime = (ns.runtime or []) + [(name, values if self.nargs != 0 else None)]


class _RunHelp(argparse.Action):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         nargs=0, help="show this help, then the runtime's options, and exit")

    def __call__(self, parser, ns, values, option_string=None):
        text = runtime_help(runtime_path())
        if text.startswith("usage:"):
            text = text.split("\n\n", 1)[-1]       # its usage lines: ring1-run's, not ours
        parser.print_help()
        print("\nThe runtime's options (ring1-run --help):\n\n" + text, end="")
        parser.exit(EXIT_OK)


class _RunVersion(argparse.Action):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         nargs=0, help="show ring1's version and the runtime's, and exit")

    def __call__(self, parser, ns, values, option_string=None):
        print(f"ring1 {__version__} (ABI {abi.ABI_VERSION})")
        rt = runtime_path()
        try:
            out = subprocess.run([str(rt), "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        print(out or f"ring1-run: not built ({rt})")
        parser.exit(EXIT_OK)


_OPTIONAL_VALUE = "\0"   # `--screen=FILE` is passed to argparse as `--screen\0 FILE`


def _getopt_values(argv: list[str], opts: list[RuntimeOption] | None) -> list[str]:
    """Where getopt and argparse differ, getopt's way, for argparse: a required value is the
    next argument even when it starts with '-' (`--cmdline -v`: argparse would call -v an
    option), so it is joined as `--NAME=VALUE`; an optional one comes only after '='
    (argparse's nargs='?' would take `--screen IMAGE`'s IMAGE), so `--screen=FILE` becomes a
    hidden option of its own."""
    optional = {o.name for o in opts or () if o.arg == "optional"}
    required = {o.name for o in opts or () if o.arg == "required"}
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return out + argv[i:]
        dashes = 2 if a.startswith("--") else 1 if a.startswith("-") else 0
        n, eq, v = a[dashes:].partition("=")
        if dashes and n in optional and eq and v:
            out += [f"--{n}{_OPTIONAL_VALUE}", v]
        elif dashes and n in required and not eq and i + 1 < len(argv) and \
                argv[i + 1].startswith("-"):
            out.append(f"--{n}={argv[i + 1]}")
            i += 1
        else:
            out.append(a)
        i += 1
    return out


def _add_run_options(q: argparse.ArgumentParser, opts: list[RuntimeOption] | None) -> None:
    q.add_argument("image", nargs="?", metavar="IMAGE",
                   help="the kernel (or -kernel IMAGE, as QEMU)")
    q.add_argument("-h", "--help", action=_RunHelp)
    q.add_argument("--version", "-version", action=_RunVersion)
    q.set_defaults(runtime=[], kernel=None, runtime_table=opts)
    for o in opts or ():
        if o.name in _OWN:
            continue
        spell = [f"--{o.name}", f"-{o.name}"]
        nargs = 0 if o.arg in ("none", "optional") else None
        action = type("_RuntimeArg_" + o.name, (_RuntimeArg,), {"name": o.name})
        q.add_argument(*spell, action=action, nargs=nargs, dest="runtime_arg",
                       help=argparse.SUPPRESS)
        if o.arg == "optional":
            q.add_argument(f"--{o.name}{_OPTIONAL_VALUE}", action=action, dest="runtime_arg",
                           help=argparse.SUPPRESS)


def _runtime_argv(args) -> list[str]:
    """The runtime options of a parsed run/boot, canonical, in the order given; a QEMU option
    ring1 refuses is refused here, before any rewrite."""
    refused = {o.name: o.refused for o in args.runtime_table or () if o.refused}
    out = []
    for name, value in args.runtime:
        if name in refused:
            raise BadInput(refused[name])
        out.append(f"--{name}" if value is None else f"--{name}={value}")
    return out


def _image(args) -> str:
    if args.image is not None and args.kernel is not None:
        raise BadInput(f"one IMAGE only: {args.image} and -kernel {args.kernel}")
    image = args.image if args.image is not None else args.kernel
    if image is None:
        raise BadInput(f"{args.cmd}: no IMAGE given (ring1 {args.cmd} --help lists the options)")
    return image


def _given(rest: list[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in rest)


def _boot_cache() -> Path:
    from .cache import boot_root
    cache = boot_root()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CacheError(f"cannot create the boot cache {cache}: {e.strerror} (set RING1_CACHE)")
    return cache


def _read_kernel(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a kernel image")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file")
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}")


def _linux_vmlinux(path: str, raw: bytes, digest: str) -> tuple[Path, list[str]] | None:
    """For a Linux bzImage: its setup header checked (before any rewriting), its vmlinux taken
    out of the payload into the boot cache; returns (the vmlinux, the runtime's
    --linux-setup option). None for anything else (ELF, multiboot: the image as it is)."""
    from . import bzimage
    if not bzimage.is_bzimage(raw):
        return None
    try:
        bzimage.setup_header(raw)
    except bzimage.BzImageError as e:
        raise BadInput(f"{path}: {e}")
    vmlinux = _boot_cache() / f"{Path(path).name}.{digest}.vmlinux"
    if not vmlinux.is_file():
        try:
            data = bzimage.extract_vmlinux(raw)
        except bzimage.BzImageError as e:
            raise BadInput(f"{path}: {e}")
        if data[4] != 1 or int.from_bytes(data[18:20], "little") != 3:
            raise BadInput(f"{path}: its vmlinux is not an i386 ELF32 (a 64-bit kernel?): "
                           f"ring1 runs 32-bit x86 kernels only")
        try:
            _atomic_write(str(vmlinux), data)
        except BadInput as e:
            raise CacheError(f"the boot cache: {e} (set RING1_CACHE)")
    return vmlinux, ["--linux-setup", str(Path(path).resolve())]


def cmd_run(args) -> int:
    rest = _runtime_argv(args)
    kpath = _image(args)
    raw = _read_kernel(kpath)
    digest = hashlib.sha256(raw).hexdigest()[:24]
    linux = _linux_vmlinux(kpath, raw, digest)
    if linux:
        _check_runtime()
        # The vmlinux unpatched: the runtime refuses it (one line naming the bzImage, exit 2)
        # unless --unpatched, then every privileged instruction traps; `ring1 boot` rewrites it.
        return _exec_runtime(str(linux[0]), linux[1] + rest)
    return _exec_runtime(kpath, rest)


def cmd_boot(args) -> int:
    rest = _runtime_argv(args)
    kpath = _image(args)
    window = pipeline.parse_window(args.window)
    tactics = pipeline.parse_tactics(args.tactics)
    _check_runtime()                     # before a rewrite that could take a while
    src = Path(kpath)
    raw = _read_kernel(kpath)
    digest = hashlib.sha256(raw).hexdigest()[:24]
    cache = _boot_cache()
    linux = _linux_vmlinux(kpath, raw, digest)
    rewrite_src, linux_args = (linux[0], linux[1]) if linux else (src, [])
    rest = linux_args + rest
    # The key holds what the rewritten bytes depend on (the input, the rewrite's options, the
    # profile's sites), none of the runtime's options: the same image runs on every machine
    # (--vga std or none, --mem, ...). The profile is kept across machines too: a device
    # access it makes a hypercall is emulated as a fault would be, whatever is (or is not,
    # mmio_ram) at its address on the machine of the run.
    tag = _options_key(window, tactics)[:8]
    stem = f"{src.name}.{digest}.{tag}"
    prof = None
    if not args.no_profile:
        # Profile-guided: every boot records its exits; the next one rewrites with all of
        # them so far (docs/exits.md). The cache key holds the device accesses chosen.
        prof = _boot_profile(cache, stem)
    mmio = prof.mmio_sites() if prof else []
    if mmio:
        stem += "." + hashlib.sha256(repr(mmio).encode()).hexdigest()[:8]
    out = cache / f"{stem}.r1.elf"
    if out.is_file():
        try:
            os.utime(out)                # last used: `ring1 cache prune` goes by it
        except OSError:
            pass
    else:
        try:
            _writable(str(out))
        except BadInput as e:
            raise CacheError(f"the boot cache: {e} (set RING1_CACHE)")
        if not linux:
            # A bad or unrewritable image gets its one line before the announcement.
            from . import emit, image
            emit.check_rewritable(image.load(str(src), raw), window)
        how = f", {len(mmio)} device accesses from its profile made hypercalls" if mmio else ""
        what = f"{src} (its vmlinux)" if linux else str(src)
        print(f"ring1: rewriting {what} (cached as {out}{how})", file=sys.stderr)
        r = _rewrite_job((str(rewrite_src), str(out), None, window, tactics, prof))
        if r["status"] != "ok":
            _err(r["error"])
            return EXIT_RUNTIME if r["exit"] == EXIT_INTERNAL else r["exit"]
    if not _given(rest, "kernel-name"):
        rest = ["--kernel-name", kpath] + rest   # the command line QEMU's -kernel gives
    if not args.no_profile and not _given(rest, "profile-out"):
        rest = rest + ["--profile-out", str(cache / f"{src.name}.{digest}.{tag}.run-"
                                              f"{os.getpid()}.profile.json")]
    return _exec_runtime(str(out), rest)


_DIGEST: str | None = None


def _rewriter_digest() -> str:
    """What the rewritten bytes depend on besides the input and the options: the rewriter's
    own code (every module of this package, by content), so that a changed rewriter never
    reuses an image a different one made. A version string would not do: it changes by hand.
    Read once a process (a batch asks for every image)."""
    global _DIGEST
    if _DIGEST is None:
        h = hashlib.sha256(__version__.encode())
        for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        _DIGEST = h.hexdigest()
    return _DIGEST


def _options_key(window: int, tactics) -> str:
    """The part of a cached or batch output's key besides its input: the ABI, the rewrite's
    options and the rewriter's own code (`ring1 boot`'s cache names carry its first 8 hex
    digits)."""
    return hashlib.sha256(f"{abi.ABI_VERSION}:{window}:{tactics}:{_rewriter_digest()}"
                          .encode()).hexdigest()


def _boot_profile(cache: Path, stem: str):
    """The profile kept for this kernel: the runs recorded since last time merged into it."""
    from . import profile
    keep = cache / f"{stem}.profile.json"
    prof = None
    if keep.is_file():
        try:
            prof = profile.load(str(keep))
        except BadInput as e:
            _err(f"warning: {e}: starting it afresh")
    for run in sorted(cache.glob(f"{stem}.run-*.profile.json")):
        try:
            p = profile.load(str(run))
        except BadInput:
            p = None      # a run that ended before writing it (killed, crashed): nothing
        if p is not None:
            prof = p if prof is None else prof.merge(p)
        try:
            run.unlink()
        except OSError:
            pass
    if prof is not None:
        try:
            profile.save(prof, str(keep))
        except OSError as e:
            _err(f"warning: cannot keep the profile {keep}: {e.strerror}")
    return prof


# --- main -----------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with the bad-input contract: one line on stderr, exit 2. getopt=True (run,
    boot): ring1-run's getopt_long_only grammar, where no option is abbreviated, one dash or
    two -- allow_abbrev=False alone still lets argparse abbreviate one-dash options."""

    def __init__(self, *a, getopt: bool = False, **kw):
        self.getopt = getopt
        if getopt:
            kw["allow_abbrev"] = False
        super().__init__(*a, **kw)

    def _get_option_tuples(self, option_string):
        tuples = super()._get_option_tuples(option_string)
        if not self.getopt:
            return tuples
        # Only a one-letter option's attached value (-m64) -- and only where getopt would
        # not first take the word for an abbreviation of a long option (-me: of -mem).
        word = option_string.lstrip("-").split("=", 1)[0]
        if option_string.startswith("--") or any(
                len(o.lstrip("-")) > 1 and o.lstrip("-").startswith(word)
                for o in self._option_string_actions):
            return []
        return [t for t in tuples if len(t[1]) == 2]

    def error(self, message):
        # argparse's words for what ring1-run (getopt) says otherwise: the same grammar, the
        # same messages
        m = re.fullmatch(r"argument ([^/ ]+)\S*: expected one argument", message)
        if m:
            message = f"{m[1]} wants a value"
        m = re.fullmatch(r"argument ([^/ ]+)\S*: ignored explicit argument (.*)", message)
        if m:
            message = f"{m[1]}={m[2].strip(chr(39))}: the option takes no value"
        sub = self.prog.removeprefix("ring1").strip()
        self.exit(EXIT_BAD_INPUT, f"ring1: {sub + ': ' if sub else ''}{message} "
                                  f"({self.prog} --help lists the options)\n")


def build_parser(run_options: list[RuntimeOption] | None = None) -> argparse.ArgumentParser:
    """The parser; run_options: the runtime's option table, which `ring1 run` and `ring1
    boot` parse (None: those commands know only their own options)."""
    p = _Parser(
        prog="ring1", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Rewrite 32-bit x86 kernels ahead of time so that they run natively but "
                    "deprivileged, as ordinary Linux processes (no hardware virtualization).")
    p.add_argument("--version", action="version", version=f"ring1 {__version__} (ABI "
                   f"{abi.ABI_VERSION})")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    q = sub.add_parser("inspect", help="describe an image: format, multiboot, code coverage, "
                       "CFG, sensitive sites by kind")
    q.add_argument("image")
    q.add_argument("--cfg", metavar="FILE", help="write the basic-block CFG as JSON, or as DOT "
                   "if FILE ends in .dot")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q.add_argument("--profile", metavar="FILE", help="also show the hottest exits of an exit "
                   "profile of this kernel (ring1 run --profile-out), each with its instruction "
                   "and what `ring1 rewrite --profile` does with it")
    q.add_argument("--sites", action="store_true", help="list every sensitive site as objdump "
                   "lists instructions (address, bytes, instruction), with its kind, the "
                   "tactic `ring1 rewrite` gives it and its region (or why it traps), then the "
                   "regions without a site (the branches into other regions' middles they move)")
    q.add_argument("--tactics", default="inline,trampoline,trap", metavar="LIST",
                   help="with --sites: the tactics the listing's plan allows (as ring1 rewrite "
                   "--tactics)")

    tactic_help = ("tactics allowed, tried in this order: inline (translate in a trampoline), "
                   "trampoline (hypercall from a trampoline), trap (int3); default "
                   "inline,trampoline,trap; 'trap' alone gives the trap-only baseline")
    window_help = (f"base of the 4 MiB hypervisor window (default {abi.WINDOW_DEFAULT:#x}, the "
                   "top 4 MiB); move it if the kernel maps that range")
    q = sub.add_parser("rewrite", help="patch every sensitive instruction (one image, or a batch "
                       "into a directory)", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="With several inputs (or -o DIR/), each IMAGE becomes DIR/NAME.r1.elf "
                       "with DIR/NAME.report.json;\nthe batch continues past a bad image and "
                       "ends with a summary (also DIR/summary.json).")
    q.add_argument("images", nargs="+", metavar="IMAGE")
    q.add_argument("-o", "--output", required=True, help="output file, or directory for a batch")
    q.add_argument("--report", metavar="FILE", help="write the per-site report (JSON)")
    q.add_argument("-j", "--jobs", type=int, default=1, help="images rewritten in parallel")
    q.add_argument("--force", action="store_true", help="in a batch, rewrite every image even "
                   "if its output is up to date (same input, options and rewriter as recorded "
                   "in the directory's summary.json)")
    q.add_argument("--window", default=hex(abi.WINDOW_DEFAULT), help=window_help)
    q.add_argument("--tactics", default="inline,trampoline,trap", help=tactic_help)
    q.add_argument("--profile", metavar="FILE", help="an exit profile of this kernel (from "
                   "`ring1 run IMAGE --profile-out FILE`, or kept by `ring1 boot`): the "
                   "instructions it saw reach a device often become trampolines that make "
                   "the access through a hypercall instead of a host fault")
    q.add_argument("--profile-min", type=int, metavar="N", help="with --profile: how many "
                   "device accesses make an instruction hot (default 16)")

    q = sub.add_parser("verify", help="check a patched image: every sensitive site handled, "
                       "every other byte unchanged, the whole file what the rewrite (re-run "
                       "with the recorded options) gives, trampolines sound (exit 1 if not)",
                       description="Rebuild the input from the undo records (its SHA-256 must "
                       "match the note's), re-run the rewrite on it with the options the note "
                       "records (window, tactics) and compare the whole file byte for byte; "
                       "independently, check every field the runtime reads, every sensitive "
                       "site, region, map entry and trampoline branch. Exit status, the worst over "
                       "the images: 0 verified; 1 failed (each problem is listed); 2 cannot be "
                       "read as a ring1-patched image.")
    q.add_argument("images", nargs="+", metavar="IMAGE")
    q.add_argument("--json", action="store_true", help="print one JSON document (schema "
                   "ring1-verify/1): {schema, ok, exit, images: [...]}, each image {image, ok, "
                   "problems, stats}, or {image, ok: false, error, exit} for an image that "
                   "cannot be read")
    q.add_argument("--json-lines", action="store_true", help="print JSON Lines instead: each "
                   "image's object on one line as it is verified, with its own schema field")

    run_usage = "ring1 {} [OPTION...] IMAGE [OPTION...]\n       ring1 {} [OPTION...] -kernel " \
                "IMAGE [OPTION...]"
    q = sub.add_parser("run", help="run a patched image under the ring1 runtime (the runtime's "
                       "options before or after the image: --mem, --serial, --vga, --cmdline, "
                       "--initrd, --timeout, --stats, --trace …; QEMU's -m, -kernel, -append, "
                       "-initrd … too). An unpatched image, and a Linux bzImage's vmlinux, "
                       "which run does not rewrite, are refused (exit 2) unless --unpatched: "
                       "its silent sensitive instructions see the host's state (ring1 boot "
                       "rewrites it)", add_help=False, description=RUN_DESCRIPTION,
                       usage=run_usage.format("run", "run"), getopt=True)
    _add_run_options(q, run_options)
    q = sub.add_parser("boot", add_help=False, usage=run_usage.format("boot", "boot"),
                       getopt=True,
                       help="rewrite (cached) and run in one step; each run records "
                       "its exits, and the next rewrite turns hot device accesses into "
                       "hypercalls (--no-profile: neither). IMAGE is a multiboot kernel, a Linux "
                       "vmlinux or a Linux bzImage (boot protocol 2.10+: its vmlinux is taken "
                       "out, rewritten and booted by the Linux boot protocol)",
                       description="Rewrite IMAGE (cached in ~/.cache/ring1/boot, or "
                       "$RING1_CACHE/boot) and run it. " + RUN_DESCRIPTION)
    _add_run_options(q, run_options)
    q.add_argument("--window", "-window", default=hex(abi.WINDOW_DEFAULT), help=window_help)
    q.add_argument("--tactics", "-tactics", default="inline,trampoline,trap", help=tactic_help)
    q.add_argument("--no-profile", "-no-profile", action="store_true", help="neither record "
                   "this run's exits nor rewrite with those of earlier runs")

    q = sub.add_parser("cache", help="list, clean or prune what ring1 keeps on disk (the boot "
                       "cache of rewrites and profiles, the fetched kernels)",
                       description="The boot cache ($RING1_CACHE/boot, else ~/.cache/ring1/boot: "
                       "`ring1 boot`'s rewrites, exit profiles and bzImages' vmlinux, one entry "
                       "per input image) and the kernels `ring1 fetch` keeps.")
    csub = q.add_subparsers(dest="cache_cmd", metavar="ACTION", required=True)
    c = csub.add_parser("list", help="each entry with its size and when it was last used")
    c.add_argument("--json", action="store_true", help="one JSON document (schema "
                   "ring1-cache/1)")
    c = csub.add_parser("clean", help="empty the boot cache (its learned exit profiles too)")
    c.add_argument("--kernels", action="store_true", help="remove the fetched kernels too")
    c = csub.add_parser("prune", help="remove boot-cache entries, least recently used first, "
                        "until the cache holds at most --max-size")
    c.add_argument("--max-size", required=True, metavar="SIZE", help="e.g. 500M, 2G")

    q = sub.add_parser("fetch", help="download and cache a real kernel from Debian's archive",
                       description=fetch.DESCRIPTION)
    fetch.add_arguments(q)
    return p


def _parse(argv: list[str]):
    opts = None
    if argv and argv[0] in ("run", "boot"):
        if any(a in ("-h", "--help", "-help", "--version", "-version") for a in argv[1:]):
            try:
                opts = runtime_options(_check_runtime())
            except BadInput:
                opts = None           # --help says the runtime is not built
        else:
            opts = runtime_options(_check_runtime())
    parser = build_parser(opts)
    args, extra = parser.parse_known_args(_getopt_values(argv, opts))
    if extra:
        cmd = args.cmd
        where = f"(ring1 {cmd} --help lists the options)"
        unknown = [a for a in extra if a.startswith("-") and a != "-"]
        if unknown:
            raise BadInput(f"{cmd}: unknown option {unknown[0]} {where}")
        if cmd in ("run", "boot"):
            raise BadInput(f"{cmd}: one IMAGE only ({extra[0]} is a second one)")
        raise BadInput(f"{cmd}: unexpected argument {extra[0]} {where}")
    return parser, args


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        parser, args = _parse(argv)
        if not args.cmd:
            parser.print_help()
            return EXIT_BAD_INPUT
        if args.cmd == "inspect":
            return cmd_inspect(args)
        if args.cmd == "rewrite":
            return cmd_rewrite(args)
        if args.cmd == "verify":
            return cmd_verify(args)
        if args.cmd == "run":
            return cmd_run(args)
        if args.cmd == "boot":
            return cmd_boot(args)
        if args.cmd == "fetch":
            return fetch.run(args)
        if args.cmd == "cache":
            from . import cache
            if args.cache_cmd == "list":
                return cache.cmd_list(args.json, sys.stdout)
            if args.cache_cmd == "clean":
                return cache.cmd_clean(args.kernels, sys.stdout)
            return cache.cmd_prune(args.max_size, sys.stdout)
    except Ring1Error as e:
        _err(str(e))
        return _status(e.exit_code, args, argv)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception:
        traceback.print_exc()
        _err("internal error (a bug in ring1): please report it with the input file")
        return _status(EXIT_INTERNAL, args, argv)
    return EXIT_OK


def _status(code: int, args, argv: list[str]) -> int:
    """Odd statuses of run and boot are the guest's: ring1's internal error there is 14."""
    cmd = getattr(args, "cmd", None) or (argv[0] if argv else None)
    return EXIT_RUNTIME if code == EXIT_INTERNAL and cmd in ("run", "boot") else code


if __name__ == "__main__":
    sys.exit(main())
