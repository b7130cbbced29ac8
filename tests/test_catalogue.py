"""The sensitive-instruction catalogue, held together on both sides: rewriter/classify.py (what
the rewriter patches) and the runtime's insn_kind (runtime/decode.c: what it emulates, and how
it counts and names an exit).

A probe linked with runtime/decode.c alone (as the runtime's decoder unit test is) reads
instructions and prints decode()'s verdict and insn_kind's kind; every instruction of the
opcode space that decides a kind (every one-byte and 0F opcode with every ModRM byte, 0F 38
with both ModRM forms, each behind every prefix) goes through both, and the kinds must be the
same (an encoding decode() rejects counts as not sensitive), but for DIFFERENCES: the few
places where the two disagree on purpose, each with its reason. A kind either side gains,
loses or moves fails here. (It found one: insn_kind gave encls, 0F 01 CF, no kind.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rewriter.abi import Kind
from rewriter.classify import PREFIXES, classify

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

RUNTIME = ROOT / "runtime"
UNDECODED = -1                      # decode() rejected the bytes

PROBE = r"""
// One instruction a line (hex bytes) in; decode()'s verdict out: -1 if it rejects the bytes,
// else insn_kind() (0: not sensitive).
#include <stdio.h>

#include "abi.h"
#include "decode.h"

int main(void)
{
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        uint8_t b[16];
        unsigned n = 0, v;
        for (char *p = line; n < sizeof b && sscanf(p, "%2x", &v) == 1; p += 2)
            b[n++] = (uint8_t)v;
        struct insn in;
        printf("%d\n", decode(b, n, &in) < 0 ? -1 : insn_kind(&in));
    }
    return 0;
}
"""


def _reg(code: bytes, at: int) -> int:
    return (code[at] >> 3) & 7


def _mod3(code: bytes, at: int) -> bool:
    return code[at] >= 0xC0


def _body(code: bytes) -> bytes:
    """code without its prefixes."""
    i = 0
    while code[i] in PREFIXES:
        i += 1
    return code[i:]


# (python kind, runtime kind, test on the instruction's bytes without prefixes, why)
DIFFERENCES = [
    (None, Kind.INT, lambda b: b[0] == 0xCC,
     "int3 is not patched: it traps by itself (#BP, a DPL-3 gate on a native kernel too) and "
     "the TRAP tactic plants int3 itself; the runtime names the guest's own int3 INT"),
    (None, Kind.MOV_FROM_SREG, lambda b: b[0] == 0x8C and _reg(b, 1) >= 6,
     "8C /6 /7 name no segment register: #UD at decode on the guest's CPU and in host ring 3, "
     "so nothing to patch; the runtime's emulation raises #UD"),
    (None, Kind.MOV_TO_SREG, lambda b: b[0] == 0x8E and _reg(b, 1) in (1, 6, 7),
     "8E /1 (mov cs) /6 /7: #UD at decode, as above"),
    (None, Kind.LOAD_FAR_PTR, lambda b: b[0] == 0x0F and b[1] in (0xB2, 0xB4, 0xB5)
     and _mod3(b, 2), "lss/lfs/lgs with a register operand: #UD at decode, as above"),
    (None, Kind.LCALL, lambda b: b[0] == 0xFF and _reg(b, 1) == 3 and _mod3(b, 1),
     "FF /3 with a register operand: #UD at decode, as above"),
    (None, Kind.LJMP, lambda b: b[0] == 0xFF and _reg(b, 1) == 5 and _mod3(b, 1),
     "FF /5 with a register operand: #UD at decode, as above"),
    (None, Kind.VMX_SVM, lambda b: b[0] == 0x0F and b[1] in (0x78, 0x79),
     "66/F2/F3 0F 78/79 are SSE4a's extrq/insertq, not vmread/vmwrite: the classifier leaves "
     "them to run natively; the model has neither, and the runtime raises #UD for both"),
    (Kind.WRMSR, 0, lambda b: b[:3] == b"\x0f\x01\xc6",
     "wrmsrns: capstone 5 cannot decode it, so the rewriter never asks the classifier; the "
     "model has no WRMSRNS and the runtime raises #UD (group 7's other register forms)"),
]


def vectors() -> list[bytes]:
    """Every encoding whose prefixes, opcode and ModRM could decide a kind (the bytes after
    them are zeros: displacements and immediates never do)."""
    pad = bytes(12)
    out = []
    one = [op for op in range(256) if op not in PREFIXES and op != 0x0F]
    for op in one:
        out += [bytes((op, m)) + pad for m in range(256)]
    for op in range(256):
        out += [bytes((0x0F, op, m)) + pad for m in range(256)]
    for op in range(256):
        out += [bytes((0x0F, 0x38, op, m)) + pad for m in (0x00, 0xC0)]
    for p in sorted(PREFIXES):
        for op in one:
            out += [bytes((p, op, m)) + pad for m in (0x00, 0x08, 0xC0, 0xC8)]
        for op in range(256):
            out += [bytes((p, 0x0F, op, m)) + pad for m in (0x00, 0x08, 0xC0, 0xC8)]
    return out


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("catalogue")
    (d / "probe.c").write_text(PROBE)
    exe = d / "probe"
    cc = subprocess.run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra",
                         "-Werror", "-I", str(RUNTIME / "include"), "-I", str(RUNTIME),
                         "-o", str(exe), str(d / "probe.c"), str(RUNTIME / "decode.c")],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    return exe


def runtime_kinds(probe: Path, codes: list[bytes]) -> list[int]:
    r = subprocess.run([str(probe)], input="".join(c.hex() + "\n" for c in codes),
                       capture_output=True, text=True, check=True)
    return [int(k) for k in r.stdout.split()]


def _name(k) -> str:
    return "none" if not k else "undecoded" if k == UNDECODED else Kind(k).name


def disagreements(probe: Path, codes: list[bytes]) -> list[str]:
    """One line per instruction the two sides classify differently, but for DIFFERENCES."""
    bad = []
    for code, rt in zip(codes, runtime_kinds(probe, codes), strict=True):
        py = classify(code)
        if (py or 0) == max(rt, 0):          # nothing to patch and nothing the runtime decodes
            continue
        body = _body(code)
        if any(py == p and rt == r and test(body) for p, r, test, _ in DIFFERENCES):
            continue
        bad.append(f"{code[:len(code) - 12].hex(' ')}: classify {_name(py)}, runtime "
                   f"insn_kind {_name(rt)}")
    return bad


def test_classifier_and_runtime_agree(probe):
    codes = vectors()
    bad = disagreements(probe, codes)
    assert not bad, (f"{len(bad)} of {len(codes)} encodings classified differently by "
                     f"rewriter/classify.py and runtime/decode.c's insn_kind (first 20):\n  " +
                     "\n  ".join(bad[:20]))


def test_every_difference_is_still_one(probe):
    """Each listed difference still occurs: a fixed one leaves the list."""
    codes = vectors()
    seen = set()
    for code, rt in zip(codes, runtime_kinds(probe, codes), strict=True):
        py = classify(code)
        for i, (p, r, test, _) in enumerate(DIFFERENCES):
            if py == p and rt == r and test(_body(code)):
                seen.add(i)
    assert seen == set(range(len(DIFFERENCES))), \
        [DIFFERENCES[i][3] for i in range(len(DIFFERENCES)) if i not in seen]


def test_every_kind_is_reached_on_both_sides(probe):
    """Each catalogue kind (but MMIO, a profile's, not an instruction's) is some encoding's on
    both sides: neither has a kind the other never gives."""
    codes = vectors()
    rt = set(runtime_kinds(probe, codes)) - {0, UNDECODED}
    py = {classify(c) for c in codes} - {None}
    want = set(Kind) - {Kind.MMIO}
    assert {Kind(k) for k in rt} == want and py == want
