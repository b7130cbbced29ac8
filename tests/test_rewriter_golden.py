"""Golden patch plans: for every sample kernel (samples/build/*.elf), the plan part of the rewrite
report — every site (addr, len, bytes, kind, tactic, region), every region (start, end, moved
instructions, sites), the candidates left alone — must equal tests/golden/<sample>.plan.json.

No timings, no paths, no trampoline addresses: only the planner's decisions. A change in the
rewriter that changes a decision shows up here as a readable diff (one site per line).

Regenerate deliberately, after reviewing the diff, with

    RING1_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_rewriter_golden.py

A normal run never writes a golden file. The golden records the SHA-256 of the sample it was
made from: when the sample itself was rebuilt differently (new code in samples/, another
compiler), the failure says so.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from rewriter import pipeline

from conftest import SAMPLE_BUILD, sample_elfs

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RING1_REGEN_GOLDEN") == "1"
REGEN_HINT = "RING1_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_rewriter_golden.py"


def golden_path(sample: Path) -> Path:
    return GOLDEN_DIR / (sample.name.removesuffix(".elf") + ".plan.json")


def plan_document(sample_name: str, raw_sha: str, rw: pipeline.Rewrite) -> dict:
    p = rw.plan.to_json()
    h = lambda v: f"{v:#x}"
    sites = [{"addr": h(s["addr"]), "len": s["len"], "bytes": s["bytes"], "kind": s["kind"],
              "tactic": s["tactic"], **({"region": h(s["region"])} if "region" in s else {})}
             for s in p["sites"]]
    regions = [{"start": h(r["start"]), "end": h(r["end"]), "insns": [h(a) for a in r["insns"]],
                "sites": [h(a) for a in r["sites"]]} for r in p["regions"]]
    doc = {"sample": sample_name, "input_sha256": raw_sha,
           "window_base": h(p["window_base"]), "tactics": p["tactics"], "counts": p["counts"],
           "by_kind": pipeline.site_counts(s.kind for s in rw.plan.sites),
           "sites": sites, "regions": regions,
           "unknown": [{"addr": h(u["addr"]), "kind": u["kind"]} for u in p["unknown"]]}
    if p.get("copied"):
        doc["copied"] = [{"addr": h(u["addr"]), "kind": u["kind"]} for u in p["copied"]]
    return doc


def render(doc: dict) -> str:
    """Canonical text: scalars on one line each, list items one per line, sorted keys inside."""
    out = ["{"]
    keys = list(doc)
    for i, k in enumerate(keys):
        v = doc[k]
        comma = "," if i + 1 < len(keys) else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(f"  {json.dumps(k)}: [")
            for j, item in enumerate(v):
                out.append("    " + json.dumps(item, sort_keys=True) +
                           ("," if j + 1 < len(v) else ""))
            out.append(f"  ]{comma}")
        else:
            out.append(f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def summarize(old: dict, new: dict) -> str:
    lines = []
    if old.get("input_sha256") != new["input_sha256"]:
        lines.append(f"the sample is not the binary the golden was made from (sha256 "
                     f"{str(old.get('input_sha256'))[:16]}… -> {new['input_sha256'][:16]}…): "
                     f"it was rebuilt from changed sources or with another toolchain")
    if old.get("counts") != new["counts"]:
        lines.append(f"tactic counts {old.get('counts')} -> {new['counts']}")
    if old.get("by_kind") != new["by_kind"]:
        lines.append(f"kinds {old.get('by_kind')} -> {new['by_kind']}")
    o = {s["addr"]: s for s in old.get("sites", [])}
    n = {s["addr"]: s for s in new["sites"]}
    gone, added = sorted(o.keys() - n.keys()), sorted(n.keys() - o.keys())
    changed = [a for a in sorted(o.keys() & n.keys()) if o[a] != n[a]]
    if gone:
        lines.append(f"{len(gone)} site(s) no longer found: {', '.join(gone[:10])}")
    if added:
        lines.append(f"{len(added)} new site(s): {', '.join(added[:10])}")
    for a in changed[:10]:
        lines.append(f"site {a}: " + ", ".join(f"{k} {o[a].get(k)} -> {n[a].get(k)}"
                                               for k in sorted(set(o[a]) | set(n[a]))
                                               if o[a].get(k) != n[a].get(k)))
    if len(changed) > 10:
        lines.append(f"… and {len(changed) - 10} more changed sites")
    if len(old.get("regions", [])) != len(new["regions"]):
        lines.append(f"regions {len(old.get('regions', []))} -> {len(new['regions'])}")
    return "\n".join(lines)


def check_golden(sample: Path, golden: Path, regen: bool) -> None:
    """Compare (or, only when regen, rewrite) one golden file."""
    raw = sample.read_bytes()
    rw = pipeline.rewrite(str(sample))
    doc = plan_document(sample.name, hashlib.sha256(raw).hexdigest(), rw)
    text = render(doc)
    assert json.loads(text) == doc                      # render is lossless
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
        return
    if not golden.exists():
        pytest.fail(f"no golden plan {golden} for {sample.name}; review the plan "
                    f"(ring1 rewrite --report) and create it with: {REGEN_HINT}")
    want = golden.read_text()
    if want == text:
        return
    diff = list(difflib.unified_diff(want.splitlines(), text.splitlines(),
                                     f"{golden.name} (golden)", f"{sample.name} (now)",
                                     n=1, lineterm=""))
    shown = "\n".join(diff[:120]) + (f"\n… {len(diff) - 120} more diff lines" if len(diff) > 120
                                     else "")
    pytest.fail(f"plan of {sample.name} differs from {golden}:\n"
                f"{summarize(json.loads(want), doc)}\n\n{shown}\n\n"
                f"If the change is intended, regenerate with: {REGEN_HINT}", pytrace=False)


SAMPLES = sample_elfs()


@pytest.mark.parametrize("name", [p.name for p in SAMPLES] or ["sensitive.elf"])
def test_golden_plan(name, samples_built, tmp_path):
    src = SAMPLE_BUILD / name
    if not src.exists():
        pytest.fail(f"samples/build/{name} is missing (make -C samples)")
    sample = tmp_path / name                 # a private copy: `make` may run concurrently
    shutil.copyfile(src, sample)
    check_golden(sample, golden_path(sample), REGEN)


def test_every_golden_has_a_sample(samples_built):
    names = {p.name for p in sample_elfs()}
    orphans = [g.name for g in sorted(GOLDEN_DIR.glob("*.plan.json"))
               if g.name.removesuffix(".plan.json") + ".elf" not in names]
    assert not orphans, f"golden plans without a sample in samples/build: {orphans} " \
                        f"(delete them if the sample was removed)"


def test_golden_plan_is_stable_across_runs(sample_elf):
    """The document itself is deterministic (else goldens would flap)."""
    raw = sample_elf.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    a = render(plan_document(sample_elf.name, sha, pipeline.rewrite(str(sample_elf))))
    b = render(plan_document(sample_elf.name, sha, pipeline.rewrite(str(sample_elf))))
    assert a == b


def test_mismatch_fails_with_diff_and_never_writes(sample_elf, tmp_path):
    golden = tmp_path / "x.plan.json"
    check_golden(sample_elf, golden, regen=True)          # the deliberate path writes
    text = golden.read_text()
    doc = json.loads(text)
    doc["sites"][0]["tactic"] = "trap" if doc["sites"][0]["tactic"] != "trap" else "inline"
    tampered = render(doc)
    golden.write_text(tampered)
    with pytest.raises(pytest.fail.Exception) as e:
        check_golden(sample_elf, golden, regen=False)
    msg = str(e.value)
    assert f"site {doc['sites'][0]['addr']}: tactic" in msg and "RING1_REGEN_GOLDEN=1" in msg
    assert "\n-" in msg and "\n+" in msg                  # a unified diff
    assert golden.read_text() == tampered, "a normal run rewrote the golden file"
    golden.unlink()
    with pytest.raises(pytest.fail.Exception, match="no golden plan"):
        check_golden(sample_elf, golden, regen=False)
    assert not golden.exists()
