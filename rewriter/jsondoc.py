"""The JSON documents ring1 writes, in one place: their schema names and the address form.

Every document carries `"schema": "ring1-NAME/VERSION"` as its first field (VERSION goes up
when a field changes meaning or goes away; new fields do not change it), and prints guest
addresses -- and file offsets -- as objdump does, hex strings of at least eight digits
("0x80102095"), never decimal. Sizes, counts and times are numbers.

    ring1-inspect/1   ring1 inspect --json
    ring1-cfg/1       ring1 inspect --cfg FILE.json
    ring1-verify/1    ring1 verify --json (one document holding every image), and each line of
                      ring1 verify --json-lines (one image's)
    ring1-report/1    ring1 rewrite --report FILE, and a batch's NAME.report.json
    ring1-summary/1   a batch's summary.json
    ring1-profile/1   ring1-run --profile-out FILE (runtime/stats.c), and ring1 boot's profiles
    ring1-cache/1     ring1 cache list --json
    ring1-stats/1     ring1-run --stats-json FILE (runtime/stats.c)

The in-memory dicts the stages build (plan.to_json, pipeline.summary, cfg.to_json) keep
numbers; the functions here turn them into the documents.
"""

from __future__ import annotations

SCHEMAS = {"inspect": 1, "cfg": 1, "verify": 1, "report": 1, "summary": 1, "profile": 1,
           "cache": 1, "stats": 1}


def schema(name: str) -> str:
    return f"ring1-{name}/{SCHEMAS[name]}"


def document(name: str, body: dict) -> dict:
    """body with the schema field first."""
    return {"schema": schema(name), **{k: v for k, v in body.items() if k != "schema"}}


def hexa(v: int | None) -> str | None:
    """An address (or file offset) as objdump prints it: 0x and at least 8 hex digits."""
    return None if v is None else f"{v:#010x}"


def _hex_fields(d: dict, *keys: str) -> dict:
    return {k: (hexa(v) if k in keys and isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in d.items()}


def inspect(summary: dict) -> dict:
    """pipeline.summary (plus cli's profile and site listing, already hex) as a document."""
    s = dict(summary)
    s["entry"] = hexa(s["entry"])
    s["segments"] = [_hex_fields(x, "vaddr", "paddr") for x in s["segments"]]
    s["coverage"] = [_hex_fields(x, "addr") for x in s["coverage"]]
    if s.get("multiboot"):
        s["multiboot"] = _hex_fields(s["multiboot"], "offset")
    if s.get("ring1"):
        s["ring1"] = _hex_fields(s["ring1"], "window_base")
    return document("inspect", s)


def cfg(j: dict) -> dict:
    """cfg.CFG.to_json as a document: block bounds and edge ends in hex (a sink stays its
    name: "indirect", "return")."""
    return document("cfg", {
        "blocks": [_hex_fields(b, "start", "end") for b in j["blocks"]],
        "edges": [[hexa(u), hexa(v) if isinstance(v, int) else v, k] for u, v, k in j["edges"]],
        "sinks": j["sinks"]})


def site(j: dict) -> dict:
    """A plan site (plan.Site.to_json, with the report's tramp and resume) in hex."""
    return _hex_fields(j, "addr", "region", "tramp", "resume")


def candidates(rows: list[dict]) -> list[dict]:
    """plan.unknown / plan.copied rows in hex."""
    return [_hex_fields(r, "addr") for r in rows]


def verify_entry(path: str, ok: bool, problems: list[str], stats: dict) -> dict:
    st = dict(stats)
    if isinstance(st.get("options"), dict):
        st["options"] = _hex_fields(st["options"], "window")
    return {"image": path, "ok": ok, "problems": problems, "stats": st}
