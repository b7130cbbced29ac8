"""The stages in order, in one place (STAGES, the one list of them: README.md draws it with
diagram() and tests/test_rewriter_stages.py holds the two and the run below to it).

Each stage is a plain function of the previous stage's output; this module only runs them in
order, times them (Analysis.timings, under each stage's name) and turns the result into the
user-facing summaries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import abi, cfg as cfg_mod, disasm, emit as emit_mod, image as image_mod, jsondoc
from . import plan as plan_mod
from .abi import Kind, Tactic
from .errors import BadInput


@dataclass(frozen=True)
class Stage:
    name: str                                    # its key in Analysis.timings and the reports
    modules: tuple[tuple[str, str | None], ...]  # (rewriter module, the library it is built on)


STAGES = (
    Stage("load", (("image", "LIEF"),)),
    Stage("disasm", (("disasm", "capstone"), ("ktables", None), ("classify", None))),
    Stage("cfg", (("cfg", "networkx"),)),
    Stage("plan", (("plan", None),)),
    Stage("emit", (("trampoline", "keystone"), ("emit", None))),
)


def diagram() -> str:
    """STAGES drawn as README.md shows them: each stage with its modules and their libraries."""
    w = max(len(s.name) for s in STAGES) + 3
    lines = ["kernel.elf"]
    for s in STAGES:
        mods = ", ".join(f"{m} ({lib})" if lib else m for m, lib in s.modules)
        lines.append(f"  -> {s.name:<{w}}{mods}")
    return "\n".join(lines + ["  -> kernel.r1.elf"]) + "\n"


@dataclass
class Analysis:
    image: image_mod.Image
    d: disasm.Disassembly
    cfg: cfg_mod.CFG
    timings: dict[str, float] = field(default_factory=dict)


def _timed(timings: dict, name: str, fn, *args, progress=None, **kw):
    if progress:
        progress(f"{name}…")
    t = time.perf_counter()
    out = fn(*args, **kw)
    timings[name] = round(time.perf_counter() - t, 3)
    return out


def analyze(path: str, progress=None) -> Analysis:
    timings: dict[str, float] = {}
    img = _timed(timings, "load", image_mod.load, path, progress=progress)
    return analyze_image(img, progress, timings)


def analyze_image(img: image_mod.Image, progress=None, timings=None) -> Analysis:
    timings = {} if timings is None else timings
    d = _timed(timings, "disasm", disasm.disassemble, img, progress, progress=progress)
    g = _timed(timings, "cfg", cfg_mod.build, d, progress=progress)
    return Analysis(img, d, g, timings)


def parse_window(text: str) -> int:
    try:
        w = int(text, 0)
    except ValueError:
        raise BadInput(f"--window {text!r}: not a number")
    if w % abi.WINDOW_SIZE or not 0 <= w <= 0x100000000 - abi.WINDOW_SIZE:
        raise BadInput(f"--window {w:#x}: must be a multiple of {abi.WINDOW_SIZE:#x} below 4 GiB")
    return w


def parse_tactics(text: str) -> tuple[Tactic, ...]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    out = []
    for n in names:
        try:
            out.append(Tactic[n.upper()])
        except KeyError:
            raise BadInput(f"--tactics: unknown tactic {n!r} (inline, trampoline, trap)")
    if Tactic.TRAP not in out:
        raise BadInput("--tactics must include trap: it is the fallback every site can take")
    return tuple(sorted(set(out)))


@dataclass
class Rewrite:
    analysis: Analysis
    plan: plan_mod.Plan
    patched: emit_mod.Patched
    warnings: list[str] = field(default_factory=list)


def rewrite(path: str, window: int = abi.WINDOW_DEFAULT, tactics=plan_mod.ALL_TACTICS,
            progress=None, profile=None, profile_min: int | None = None,
            mmio=()) -> Rewrite:
    """profile (rewriter.profile.Profile, of this image): its hot device accesses become MMIO
    sites; mmio: such addresses given directly (verify, from an image's site table)."""
    timings: dict[str, float] = {}
    warnings: list[str] = []
    img = _timed(timings, "load", image_mod.load, path, progress=progress)
    emit_mod.check_rewritable(img, window)       # before minutes of analysis, not after
    mmio = set(mmio)
    if profile is not None:
        from . import profile as profile_mod
        w = profile_mod.check_input(profile, "--profile", img.sha256)
        if w:
            warnings.append(w)
        mmio |= set(profile.mmio_sites(profile_mod.MIN_COUNT if profile_min is None
                                       else profile_min))
    a = analyze_image(img, progress, timings)
    p = _timed(a.timings, "plan", plan_mod.make_plan, a.cfg, window, tactics, sorted(mmio),
               progress=progress)
    out = _timed(a.timings, "emit", emit_mod.emit, img, p, a.d, progress=progress)
    return Rewrite(a, p, out, warnings)


def site_counts(sites) -> dict[str, int]:
    counts: dict[str, int] = {}
    for k in sites:
        name = Kind(k).name.lower()
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def summary(a: Analysis) -> dict:
    """What `ring1 inspect` prints (and --json emits)."""
    img, d = a.image, a.d
    out = {
        "file": img.path, "format": img.kind, "machine": img.machine,
        "sha256": img.sha256, "entry": img.entry,
        "multiboot": img.multiboot.to_json() if img.multiboot else None,
        "segments": [{"vaddr": s.vaddr, "paddr": s.paddr, "filesz": s.filesz, "memsz": s.memsz,
                      "flags": "".join(c for c, b in (("r", 4), ("w", 2), ("x", 1))
                                       if s.flags & b)} for s in img.segments],
        "symbols": len(img.symbols),
        "coverage": d.coverage(),
        "roots": d.roots,
        "instructions": d.ninsns,
        "cfg": {"blocks": a.cfg.nblocks, "edges": a.cfg.nedges},
        "sites": {"total": len(d.sites), "by_kind": site_counts(d.sites.values())},
        "unknown_candidates": {"total": len(d.unknown_sites),
                               "by_kind": site_counts(d.unknown_sites.values())},
        "copied_code_sites": {"total": len(d.copied_sites),
                              "by_kind": site_counts(d.copied_sites.values())},
        "kernel_tables": d.ktables.tables if d.ktables else {},
        "kernel_table_warnings": d.ktables.warnings if d.ktables else [],
        "ring1": img.ring1_note and {"abi_version": img.ring1_note["abi_version"],
                                     "window_base": img.ring1_note["window_base"]},
        "timings": a.timings,
    }
    return out


def report(rw: Rewrite, output: str) -> dict:
    """The rewrite report: every site with its tactic and trampoline, plus totals."""
    lay = rw.patched.layout
    sites = []
    for s in rw.plan.sites:
        j = s.to_json()
        if s.region is not None:
            j["tramp"] = lay.region_tramp[s.region]
        if s.addr in lay.resume:
            j["resume"] = lay.resume[s.addr]
        sites.append(jsondoc.site(j))
    p = rw.plan.to_json()
    return jsondoc.document("report", {
        "input": rw.analysis.image.path, "output": output,
        "input_sha256": rw.analysis.image.sha256, "window_base": jsondoc.hexa(rw.plan.window_base),
        "tactics": p["tactics"], "counts": p["counts"],
        "by_kind": site_counts(s.kind for s in rw.plan.sites),
        "regions": len(rw.plan.regions), "trampoline_bytes": len(lay.code),
        "ring1_segment_bytes": rw.patched.ring1_size,
        "sites": sites, "unknown_candidates": jsondoc.candidates(p["unknown"]),
        "copied_code_sites": jsondoc.candidates(p["copied"]),
        "timings": rw.analysis.timings})
