"""Machine-readable output: every JSON document ring1 and ring1-run write is one document a JSON
parser reads whole, carries "schema": "ring1-NAME/VERSION" as its first field, and prints
addresses as hex strings as objdump does ("0x80102095"), never as decimal numbers (the list of
documents: rewriter/jsondoc.py). `ring1-run --stats-json FILE` holds the counters of the text
`--stats` of the same run, figure for figure."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, assert_one_line_error, run_ring1

RUN = ROOT / "runtime" / "build" / "ring1-run"
GUESTS = ROOT / "runtime" / "build" / "guests"

# Fields that hold a guest address or a file offset, wherever they appear in a document.
ADDRESS_KEYS = {"addr", "entry", "vaddr", "paddr", "window_base", "window", "start", "end",
                "tramp", "resume", "offset", "first_at", "region", "into", "header_addr",
                "load_addr", "load_end_addr", "bss_end_addr", "entry_addr"}
HEX = re.compile(r"0x[0-9a-f]{8,}\Z")
SPAN = re.compile(r"0x[0-9a-f]+-0x[0-9a-f]+\Z")     # inspect --sites' regions: "start-end"
# Objects keyed by a name (an instruction kind such as "into", an event), not fields.
NAME_MAPS = {"exits", "events", "by_kind", "counts", "roots", "kernel_tables", "timings"}


def check_doc(doc, name: str) -> dict:
    """doc is an object whose first field is its schema, and every address in it a hex
    string (an int where an address belongs fails, wherever it is)."""
    assert isinstance(doc, dict), doc
    assert list(doc)[0] == "schema" and doc["schema"] == f"ring1-{name}/1", list(doc)[:3]
    bad = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ADDRESS_KEYS and x is not None and not isinstance(x, (dict, list)):
                    ok = isinstance(x, str) and (HEX.match(x) or (k in ("region", "into") and
                                                                  SPAN.match(x)))
                    if not ok:
                        bad.append(f"{path}.{k} = {x!r}")
                if not (k in NAME_MAPS and isinstance(x, dict)):
                    walk(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
    walk(doc, "")
    assert not bad, f"addresses not in hex: {bad[:10]}"
    return doc


def test_check_doc_can_fail():
    """The checker itself: a decimal address, a missing or misplaced schema are caught."""
    check_doc({"schema": "ring1-report/1", "sites": [{"addr": "0x00100000"}]}, "report")
    for doc in ({"schema": "ring1-report/1", "sites": [{"addr": 1048576}]},
                {"schema": "ring1-report/1", "window_base": "0x1000"},
                {"sites": [], "schema": "ring1-report/1"},
                {"schema": 1, "sites": []}):
        with pytest.raises(AssertionError):
            check_doc(doc, "report")


@pytest.fixture(scope="module")
def work(sample_elf, tmp_path_factory):
    d = tmp_path_factory.mktemp("json")
    k = d / "k.elf"
    shutil.copyfile(sample_elf, k)
    r = run_ring1("rewrite", k, "-o", d / "k.r1.elf", "--report", d / "k.report.json")
    assert r.returncode == 0, str(r)
    return d


# ---- the rewriter's documents ------------------------------------------------------------------
def test_inspect_json(work):
    r = run_ring1("inspect", "--json", "--sites", work / "k.elf", "--cfg", work / "cfg.json")
    assert r.returncode == 0, str(r)
    doc = check_doc(json.loads(r.stdout), "inspect")
    assert doc["entry"].startswith("0x") and doc["segments"][0]["vaddr"].startswith("0x")
    assert doc["site_listing"]["sites"] and doc["multiboot"]["offset"].startswith("0x")
    cfg = check_doc(json.loads((work / "cfg.json").read_text()), "cfg")
    assert cfg["blocks"] and all(HEX.match(u) for u, _, _ in cfg["edges"])
    assert {v for _, v, _ in cfg["edges"] if not HEX.match(v)} <= {"indirect", "return"}
    # an a.out-kludge multiboot header's addresses
    from conftest import make_aout_kludge
    aout = work / "aout.bin"
    aout.write_bytes(make_aout_kludge(0x100000, b"\xfa\xf4" + b"\x90" * 62, 0x100000 + 32))
    r = run_ring1("inspect", "--json", aout)
    assert r.returncode == 0, str(r)
    mb = check_doc(json.loads(r.stdout), "inspect")["multiboot"]
    assert mb["form"] == "a.out-kludge" and mb["load_addr"] == "0x00100000", mb
    # the patched image: its window too
    r = run_ring1("inspect", "--json", work / "k.r1.elf")
    assert r.returncode == 0, str(r)
    assert check_doc(json.loads(r.stdout), "inspect")["ring1"]["window_base"] == "0xffc00000"


def test_report_and_batch_summary(work):
    rep = check_doc(json.loads((work / "k.report.json").read_text()), "report")
    assert rep["window_base"] == "0xffc00000" and rep["sites"]
    assert any("tramp" in s and "resume" in s for s in rep["sites"])
    out = work / "batch"
    shutil.copyfile(work / "k.elf", work / "a.elf")
    r = run_ring1("rewrite", work / "a.elf", work / "k.elf", "-o", f"{out}/")
    assert r.returncode == 0, str(r)
    summary = check_doc(json.loads((out / "summary.json").read_text()), "summary")
    assert [Path(i["input"]).name for i in summary["images"]] == ["a.elf", "k.elf"]
    for name in ("a", "k"):
        check_doc(json.loads((out / f"{name}.report.json").read_text()), "report")
    # again: up to date, read back from the summary with its schema
    r = run_ring1("rewrite", work / "a.elf", work / "k.elf", "-o", f"{out}/")
    assert r.returncode == 0 and "2 of them up to date" in r.stdout, str(r)
    check_doc(json.loads((out / "summary.json").read_text()), "summary")


def test_verify_json_is_one_document(work):
    """`verify --json a b c` prints one document that json.loads reads whole; --json-lines
    prints JSON Lines, each line a document with its schema."""
    junk = work / "junk.elf"
    junk.write_bytes(b"not a kernel\n" * 8)
    imgs = [work / "k.r1.elf", junk, work / "k.r1.elf"]
    r = run_ring1("verify", "--json", *imgs)
    assert r.returncode == 2, str(r)                      # the worst: an image unreadable
    doc = check_doc(json.loads(r.stdout), "verify")
    assert doc["exit"] == 2 and doc["ok"] is False
    assert [i["image"] for i in doc["images"]] == [str(p) for p in imgs]
    assert [i["ok"] for i in doc["images"]] == [True, False, True]
    assert doc["images"][0]["stats"]["options"]["window"] == "0xffc00000"
    r = run_ring1("verify", "--json-lines", *imgs)
    assert r.returncode == 2, str(r)
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    docs = [check_doc(json.loads(ln), "verify") for ln in lines]
    assert [d["image"] for d in docs] == [str(p) for p in imgs]
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.stdout)                              # JSON Lines: not one document
    r = run_ring1("verify", "--json", work / "k.r1.elf")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, str(r)


def test_cache_list_json(tmp_path):
    r = run_ring1("cache", "list", "--json", env={"RING1_CACHE": str(tmp_path)})
    assert r.returncode == 0, str(r)
    check_doc(json.loads(r.stdout), "cache")


# ---- the runtime's: --stats-json and the profile -----------------------------------------------
def parse_text_stats(err: str) -> dict:
    """ring1-run --stats's lines (stderr), as the figures --stats-json holds."""
    head = re.search(r"^ring1-run stats: (\S+) s elapsed, (\S+) s cpu, (\d+) sensitive "
                     r"instructions emulated$", err, re.M)
    assert head, err
    sites = re.search(r"^  sites \((\d+) distinct(, table full)?\), busiest first:$", err, re.M)
    out = {"elapsed_seconds": head[1], "cpu_seconds": head[2], "emulated": int(head[3]),
           "exits": {k.lower(): int(n) for k, n in
                     re.findall(r"^  kind (\S+) +(\d+)$", err, re.M)},
           "events": {k: int(n) for k, n in re.findall(r"^  event (\S+) +(\d+)$", err, re.M)},
           "vectors": [{"vector": int(v), "count": int(n)}
                       for v, n in re.findall(r"^  vector (\d+) +(\d+)$", err, re.M)],
           "distinct": int(sites[1]), "table_full": bool(sites[2]),
           "busiest": [{"addr": a, "kind": k.lower(), "count": int(n)} for a, k, n in
                       re.findall(r"^    (0x[0-9a-f]{8}) (\S+) +(\d+)$", err, re.M)]}
    sp = re.search(r"^  shadow pages: (.*)$", err, re.M)
    if sp:
        out["shadow_pages"] = [int(n) for n in re.findall(r"(?<!\w)(\d+) ", sp[1])]
        out["translated"] = int(re.search(r"translated by a shadow page \(no walk\): (\d+)",
                                          err)[1])
        hm = re.search(r"host mappings of shadow and parked pages: (\d+) at most, (\d+) allowed",
                       err)
        out["host_mappings"] = {"at_most": int(hm[1]), "allowed": int(hm[2])}
    out["ports"] = [(p, int(r), int(w), k.lower(), a) for p, r, w, k, a in re.findall(
        r"^    port (0x[0-9a-f]+) reads (\d+) writes (\d+), first by (.+) at (0x[0-9a-f]+)$",
        err, re.M)]
    out["physical"] = [(p, int(r), int(w), k.lower(), a) for p, r, w, k, a in re.findall(
        r"^    physical (0x[0-9a-f]+) reads (\d+) writes (\d+), first by (.+) at (0x[0-9a-f]+)$",
        err, re.M)]
    return out


def agree(doc: dict, text: dict) -> None:
    """The JSON document and the text of one run say the same."""
    for k in ("emulated", "exits", "events", "vectors"):
        assert doc[k] == text[k], k
    assert f"{doc['elapsed_seconds']:.6f}" == text["elapsed_seconds"]
    assert f"{doc['cpu_seconds']:.6f}" == text["cpu_seconds"]
    assert doc["sites"]["distinct"] == text["distinct"] > 0
    assert doc["sites"]["table_full"] == text["table_full"]
    assert doc["sites"]["busiest"] == text["busiest"] and text["busiest"]
    m = doc["modules"]
    if "shadow_pages" in text:
        assert list(m["memory"]["shadow_pages"].values()) == text["shadow_pages"]
        assert m["memory"]["shadow_pages"]["faults_filled"] == text["shadow_pages"][0]
        assert m["memory"]["translated_by_a_shadow_page"] == text["translated"]
        assert m["memory"]["host_mappings"] == text["host_mappings"]
    assert [(p["port"], p["reads"], p["writes"], p["first_by"], int(p["first_at"], 16))
            for p in m["unassigned_ports"]["ports"]] == \
        [(f"{int(p, 16):#06x}", r, w, k, int(a, 16)) for p, r, w, k, a in text["ports"]]
    assert [(p["addr"], p["reads"], p["writes"], p["first_by"], int(p["first_at"], 16))
            for p in m["unassigned_physical"]["addresses"]] == \
        [(f"{int(p, 16):#010x}", r, w, k, int(a, 16)) for p, r, w, k, a in text["physical"]]
    assert m["unparsed_lines"] == []
    assert set(m["devices"]) == {"com1", "ata", "local_apic", "ioapic"}


def run_rt(*args, timeout=60):
    if not RUN.is_file():
        pytest.skip("the runtime is not built")
    p = subprocess.run([str(RUN), *map(str, args)], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


def test_stats_json_agrees_with_stats_text(work):
    """One run of the rewritten sample with --stats and --stats-json: the document's every
    figure is the text's; the profile of the same run has its schema and hex addresses."""
    sj, prof = work / "stats.json", work / "run.profile.json"
    rc, out, err = run_rt(work / "k.r1.elf", "--stats", "--stats-json", sj, "--profile-out",
                          prof, "--timeout", "20")
    doc = check_doc(json.loads(sj.read_text()), "stats")
    assert doc["status"] == rc and rc not in (2, 8, 14), err
    text = parse_text_stats(err)
    agree(doc, text)
    assert doc["exits"]["out"] > 0 and doc["events"]["hypercall"] > 0
    p = check_doc(json.loads(prof.read_text()), "profile")
    assert p["format"] == "ring1-profile" and p["version"] == 1    # as before the schema
    # the busiest site is the profile's most counted (address, kind)
    top = max(p["exits"], key=lambda e: e["count"])
    assert (doc["sites"]["busiest"][0]["count"], doc["sites"]["busiest"][0]["addr"]) == \
        (top["count"], top["addr"])


@pytest.mark.parametrize("name,opts,what", [("vga", ["--vga", "none"], "ports"),
                                            ("mmio", [], "physical")])
def test_stats_json_accesses_to_nothing(name, opts, what, tmp_path):
    """The runtime's guests that touch ports no device has (vga without a VGA) and physical
    addresses with nothing there (mmio): listed in the document as --stats lists them."""
    sj = tmp_path / "s.json"
    rc, out, err = run_rt(GUESTS / f"{name}.elf", "--unpatched", "--stats", "--stats-json", sj,
                          *opts)
    assert rc == 1, err
    doc = check_doc(json.loads(sj.read_text()), "stats")
    text = parse_text_stats(err)
    assert text[what], err
    agree(doc, text)


def test_stats_json_through_ring1_boot(sample_elf, tmp_path):
    """ring1 boot passes --stats-json (both spellings) to the runtime; the exits by kind agree
    with a text --stats run of the same kernel, and with the same run's text."""
    env = {"RING1_CACHE": str(tmp_path / "cache")}
    sj = tmp_path / "boot.json"
    r = run_ring1("boot", sample_elf, f"--stats-json={sj}", "--stats", "--no-profile",
                  "--timeout", "20", env=env)
    doc = check_doc(json.loads(sj.read_text()), "stats")
    assert doc["status"] == r.returncode, str(r)
    agree(doc, parse_text_stats(r.stderr))
    r2 = run_ring1("boot", sample_elf, "--stats", "--no-profile", "--timeout", "20", env=env)
    assert r2.returncode == r.returncode, str(r2)
    text2 = parse_text_stats(r2.stderr)
    # the sample's own sensitive instructions run the same every time (its timer's do not)
    for kind in ("out", "lgdt", "lidt", "cpuid", "wrmsr", "rdmsr", "ltr"):
        assert doc["exits"].get(kind) == text2["exits"].get(kind), kind
    sj2 = tmp_path / "run.json"
    r3 = run_ring1("run", "--stats-json", sj2, tmp_path / "cache" / "none.r1.elf")
    assert r3.returncode == 2, str(r3)            # no such image: the option itself parses


def test_stats_json_unwritable_is_bad_input(work, tmp_path):
    rc, out, err = run_rt(work / "k.r1.elf", "--stats-json", tmp_path / "no" / "such" / "f")
    assert rc == 2 and err.count("\n") == 1 and "--stats-json" in err, err
    r = run_ring1("run", work / "k.r1.elf", "--stats-json")
    assert_one_line_error(r, 2, "--stats-json")


def test_stats_json_is_documented():
    rc, out, err = run_rt("--help")
    assert rc == 0 and "--stats-json FILE" in out and "ring1-stats/1" in out
    r = run_ring1("run", "--help")
    assert r.returncode == 0 and "--stats-json" in r.stdout
