"""The fuzzers' smoke run (README, "Fuzzing"): `make fuzz` fuzzes for minutes; this runs the
rewriter's part for a fixed, seeded set of inputs in well under a minute, so that `make test`
fails on a new finding. The C targets need clang (installed by `make fuzz` only): here their
committed corpora are replayed under gcc's ASan/UBSan through a plain driver instead.
"""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
sys.path.insert(0, str(FUZZ))

import mutators  # noqa: E402
import run as fuzz_run  # noqa: E402
import triage  # noqa: E402

ITERATIONS = 120      # fixed inputs: the seeds unmutated, then seeded mutants
SEED = 1
CAP_SECONDS = 40      # a slow machine runs fewer of them rather than taking longer


def test_rewriter_smoke(tmp_path):
    """Every seed and ITERATIONS-minus-seeds mutants of them: inspect, rewrite, verify."""
    r = subprocess.run([sys.executable, str(FUZZ / "rewriter_fuzz.py"), "loop",
                        "--iterations", str(ITERATIONS), "--seconds", str(CAP_SECONDS),
                        "--seed", str(SEED), "--findings", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=CAP_SECONDS + 60, cwd=ROOT)
    assert r.stdout, r.stderr
    st = json.loads(r.stdout)
    print(f"\nrewriter smoke: {st['executions']} inputs in {st['seconds']} s, "
          f"known findings: {sorted(st['known'])}")
    assert not st["new"], "new fuzz finding(s), inputs in build/fuzz/findings/:\n" + "\n\n".join(
        f"{sig}\n  mutations: {v['mutations']}\n{v['example']}" for sig, v in st["new"].items())
    assert r.returncode == 0, r.stderr
    assert st["executions"] >= 20, "the smoke run ran too few inputs to mean anything"


def test_mutators_are_deterministic():
    """Same seed, same mutants: the smoke run is the same on every machine."""
    data = (ROOT / "samples" / "build" / "timer.elf").read_bytes()
    a = [mutators.mutate(data, random.Random(7))[0] for _ in range(3)]
    b = [mutators.mutate(data, random.Random(7))[0] for _ in range(3)]
    assert a == b
    rng = random.Random(3)
    outs = {mutators.mutate(data, rng)[0] for _ in range(50)}
    assert len(outs) > 40 and data not in outs


def test_mutators_find_the_structures():
    data = (ROOT / "samples" / "build" / "timer.elf").read_bytes()
    lay = mutators.Layout(data)
    assert lay.mb is not None and lay.exec_ranges
    assert lay.fields["elf"] and lay.fields["phdr"] and lay.fields["shdr"]
    # every mutator keeps working on a broken image (here: nothing but a truncated header)
    rng = random.Random(5)
    for fn, _ in mutators.MUTATORS:
        for blob in (b"", data[:40], data[:60], data):
            fn(blob, rng, mutators.Layout(blob))


def test_triage_reads_a_traceback():
    err = ('Traceback (most recent call last):\n'
           '  File "/x/rewriter/cli.py", line 421, in main\n    return cmd_inspect(args)\n'
           '  File "/x/rewriter/disasm.py", line 12, in sweep\n    x = a + None\n'
           "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'\n"
           "ring1: internal error (a bug in ring1): please report it with the input file\n")
    assert triage.parse_traceback(err) == (
        "TypeError", "disasm.py", "unsupported operand type(s) for +: 'int' and 'NoneType'")


def test_triage_known_list_matches(monkeypatch):
    monkeypatch.setattr(triage, "KNOWN", [
        triage.Known("traceback", "TypeError", "disasm.py", None),
        triage.Known("internal-error", None, None, r"not backed by file bytes")])
    assert triage.Finding("traceback", "inspect", "TypeError", "disasm.py", "x").known()
    assert not triage.Finding("traceback", "inspect", "TypeError", "plan.py", "x").known()
    assert triage.Finding("internal-error", "rewrite", None, None,
                          "region 0x10 is not backed by file bytes").known()
    assert not triage.Finding("internal-error", "rewrite", None, None, "other").known()
    # signatures ignore numbers, so one bug is one finding however many inputs hit it
    a = triage.Finding("internal-error", "rewrite", None, None, "region 0x10 at 5")
    b = triage.Finding("internal-error", "rewrite", None, None, "region 0x2f at 77")
    assert a.signature == b.signature


def test_c_targets_follow_the_convention():
    """Every fuzz/*.c is a libFuzzer target naming the runtime files it links, which exist."""
    targets = fuzz_run.c_targets()
    assert {"decode", "mmio", "ring1_tables"} <= {t.stem for t in targets}
    for t in targets:
        assert fuzz_run.sources(t), f"{t.name}: its top comment names no runtime .c file"


def _gcc_sanitizers_work(tmp: Path) -> bool:
    src = tmp / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    r = subprocess.run(["gcc", "-fsanitize=address,undefined", "-o", str(tmp / "probe"),
                        str(src)], capture_output=True)
    return r.returncode == 0 and subprocess.run([str(tmp / "probe")]).returncode == 0


@pytest.mark.parametrize("target", [t.stem for t in fuzz_run.c_targets()])
def test_c_corpus_replays_clean(target, tmp_path):
    """The committed corpus of each C target (every input that once found a bug is added to
    it) runs clean under ASan/UBSan, built with gcc and fuzz/replay.c instead of libFuzzer."""
    if not shutil.which("gcc") or not _gcc_sanitizers_work(tmp_path):
        pytest.skip("gcc with ASan/UBSan is not available")
    t = FUZZ / f"{target}.c"
    exe = tmp_path / target
    cmd = ["gcc", "-g", "-O1", "-std=gnu11", "-D_GNU_SOURCE", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", "-I", str(ROOT / "runtime"),
           "-I", str(ROOT / "runtime" / "include"), "-I", str(ROOT / "runtime" / "dev"),
           "-o", str(exe), str(FUZZ / "replay.c"), str(t)] + [str(s) for s in fuzz_run.sources(t)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    corpus = sorted(p for p in (FUZZ / "corpus" / target).glob("*") if p.is_file())
    assert corpus, f"fuzz/corpus/{target}/ is empty"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run([str(exe), "--mutants", "300"] + [str(p) for p in corpus],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
