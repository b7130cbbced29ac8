"""What counts as a finding of the rewriter fuzzers, and the findings already known.

The contract (README, "Exit status"): on any input, `ring1 inspect/rewrite/verify` end in exit
0/1 with a correct result, or exit 2 with one line on stderr. A finding is anything else: exit
3 (a Python traceback, or a Ring1Error the code raises for "cannot happen"), a message of more
than one line, a rewrite that its own `verify` rejects, an input that runs longer than the time
limit (a hang) or runs out of memory.

KNOWN is the one place that lists findings someone is already fixing, so the smoke run in
`make test` does not fail on them in the meantime. DELETE AN ENTRY AS SOON AS ITS FIX IS MERGED
(the smoke run then guards the fix). An entry matches a finding's kind, exception type, the
innermost rewriter/ file of the traceback, and a regular expression searched in its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Known:
    kind: str                    # "traceback", "internal-error", "verify-own-output", ...
    exc: str | None = None       # exception type name (traceback)
    where: str | None = None     # innermost rewriter/ file of the traceback, e.g. "disasm.py"
    message: str | None = None   # regular expression searched in the message
    why: str = ""


KNOWN: list[Known] = []


@dataclass
class Finding:
    kind: str
    command: str                 # "inspect", "rewrite", "verify-output", "verify-input"
    exc: str | None = None
    where: str | None = None
    message: str = ""
    detail: str = ""             # the traceback or stderr, for the report
    mutations: list[str] = field(default_factory=list)

    @property
    def signature(self) -> str:
        """Stable across inputs: numbers in the message do not count."""
        msg = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", self.message)[:120]
        return " | ".join(str(x) for x in (self.kind, self.command, self.exc, self.where, msg))

    def known(self) -> Known | None:
        for k in KNOWN:
            if k.kind != self.kind:
                continue
            if k.exc is not None and k.exc != self.exc:
                continue
            if k.where is not None and k.where != self.where:
                continue
            if k.message is not None and not re.search(k.message, self.message):
                continue
            return k
        return None


_FRAME = re.compile(r'File "[^"]*/rewriter/([\w.]+)", line \d+, in (\w+)')
_EXC = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt)?): ?(.*)$")


def parse_traceback(stderr: str) -> tuple[str | None, str | None, str]:
    """(exception type, innermost rewriter/ file, message) from `ring1`'s stderr after exit 3."""
    frames = _FRAME.findall(stderr)
    where = frames[-1][0] if frames else None
    exc, message = None, ""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("ring1:") or ln.startswith(" "):
            continue
        m = _EXC.match(ln)
        if m:
            exc, message = m.group(1).rsplit(".", 1)[-1], m.group(2)
            break
    return exc, where, message
