"""Stage 3 — basic blocks and the control-flow graph (networkx).

A block starts at every known branch target, code pointer or symbol, after every control
transfer (a call ends its block: the return address is a target), and wherever code resumes after
a gap. Only a block's first byte can be reached by a branch the analysis knows of; that is the
fact the planner relies on before it overwrites anything.

Nodes are block start addresses with attributes `end`, `insns` and `term` (how the block ends);
edges carry `kind`: fallthrough, jump, call, indirect, return. Indirect transfers and returns
point at the sink nodes "indirect" and "return" (their targets are not known statically).
"""

from __future__ import annotations

import bisect
import json

import networkx as nx

from . import jsondoc
from .disasm import CALL, ICALL, IJMP, JCC, JMP, RET, STOP, Disassembly
from .errors import Ring1Error

INDIRECT, RETURN = "indirect", "return"
_TERM = {JMP: "jump", JCC: "branch", CALL: "call", IJMP: "indirect-jump", ICALL: "indirect-call",
         RET: "return", STOP: "stop"}


class CFG:
    """Blocks and edges in compact lists; `graph` is the networkx view, built on first use
    (a 600k-block DiGraph costs seconds, and the planner needs only block boundaries)."""

    def __init__(self, d: Disassembly, starts: list[int], ends: list[int], ninsns: list[int],
                 terms: list[str], edges: list[tuple]):
        self.d = d
        self.starts = starts          # sorted block starts
        self.ends = ends              # ends[i] is the end of block starts[i]
        self.ninsns = ninsns
        self.terms = terms
        self.edges = edges            # (src block, dst block or sink, kind)
        self._graph = None

    @property
    def nblocks(self) -> int:
        return len(self.starts)

    @property
    def nedges(self) -> int:
        return len(self.edges)

    @property
    def graph(self) -> nx.DiGraph:
        if self._graph is None:
            g = nx.DiGraph()
            g.add_nodes_from((s, {"end": e, "insns": c, "term": t})
                             for s, e, c, t in zip(self.starts, self.ends, self.ninsns, self.terms))
            g.add_edges_from((u, v, {"kind": k}) for u, v, k in self.edges)
            self._graph = g
        return self._graph

    def block_of(self, addr: int) -> tuple[int, int] | None:
        """(start, end) of the block containing addr."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.ends[i]:
            return self.starts[i], self.ends[i]
        return None

    def instructions(self, start: int, end: int) -> list[tuple[int, int]]:
        """(addr, length) of each instruction of the block [start, end)."""
        out = []
        a = start
        while a < end:
            n = self.d.insn_len(a)
            if n <= 0:   # a bug, but one that must not loop (and allocate) forever
                raise Ring1Error(f"{a:#x}: block {start:#x}-{end:#x} has no instruction there")
            out.append((a, n))
            a += n
        return out

    def to_json(self) -> dict:
        blocks = [{"start": s, "end": e, "insns": c, "term": t}
                  for s, e, c, t in zip(self.starts, self.ends, self.ninsns, self.terms)]
        edges = sorted(([u, v, k] for u, v, k in self.edges),
                       key=lambda e: (e[0], str(e[1]), e[2]))
        return {"blocks": blocks, "edges": edges, "sinks": [INDIRECT, RETURN]}

    def write(self, path: str) -> None:
        """Write the CFG as JSON, or as Graphviz DOT if path ends in .dot."""
        with open(path, "w") as f:
            if path.endswith(".dot"):
                f.write("digraph cfg {\n  node [shape=box fontname=monospace];\n")
                for s, e, c, t in zip(self.starts, self.ends, self.ninsns, self.terms):
                    f.write(f'  "{s:#x}" [label="{s:#x}-{e:#x}\\n{c} insns {t}"];\n')
                for u, v, k in sorted(self.edges, key=lambda e: (e[0], str(e[1]), e[2])):
                    dst = f"{v:#x}" if isinstance(v, int) else v
                    f.write(f'  "{u:#x}" -> "{dst}" [label="{k}"];\n')
                f.write("}\n")
            else:
                json.dump(jsondoc.cfg(self.to_json()), f, indent=None, separators=(",", ":"))
                f.write("\n")


def build(d: Disassembly) -> CFG:
    flow = d.flow
    leaders = d.targets | d.maybe_targets
    starts: list[int] = []
    ends: list[int] = []
    terms: list[str] = []
    ninsns: list[int] = []
    lasts: list[int] = []              # address of each block's last instruction
    prev_end = None
    prev = None
    cur = None
    count = 0
    for a, n in d.iter_code():
        if cur is not None and (a != prev_end or a in leaders):
            starts.append(cur), ends.append(prev_end), ninsns.append(count)
            terms.append("fallthrough"), lasts.append(prev)
            cur = None
        if cur is None:
            cur, count = a, 0
        count += 1
        prev, prev_end = a, a + n
        f = flow.get(a)
        if f is not None:
            starts.append(cur), ends.append(prev_end), ninsns.append(count)
            terms.append(_TERM[f[0]]), lasts.append(a)
            cur = None
    if cur is not None:
        starts.append(cur), ends.append(prev_end), ninsns.append(count)
        terms.append("fallthrough"), lasts.append(prev)

    block_set = set(starts)
    edges = []
    for s, e, t, last in zip(starts, ends, terms, lasts):
        f = flow.get(last)
        if f is not None:
            kind, tgt = f
            if tgt is not None and tgt in block_set:
                edges.append((s, tgt, "call" if kind == CALL else "jump"))
            if kind in (IJMP, ICALL) or (tgt is None and kind in (JMP, JCC, CALL)):
                edges.append((s, INDIRECT, "indirect"))
            if kind == RET:
                edges.append((s, RETURN, "return"))
        if t in ("fallthrough", "branch", "call", "indirect-call") and e in block_set:
            edges.append((s, e, "fallthrough"))
    return CFG(d, starts, ends, ninsns, terms, edges)
