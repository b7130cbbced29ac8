#!/usr/bin/env python3
"""Count the sensitive instructions of docs/design.md §2 in an ELF, using GNU objdump.

    scripts/objdump-count.py [-j SECTION]... [--no-zeros] KERNEL.elf

Prints one JSON object {kind: count} on stdout (every kind, zeros included, in catalogue
order) and a one-line summary on stderr. objdump does a linear sweep of every executable
section, so data and padding inside them are decoded too: this is an independent reference
for the rewriter's numbers, not the truth. objdump's output is streamed, never held whole.

Kinds: lower case, underscores; `int` is `int $n` only (int1/icebp is `int1`; int3 -- the
padding byte of Linux's .text -- is reported in the stderr summary, not as a kind); ins/outs
include their rep forms; `in`/`out` both the imm8 and the %dx forms; mov_to_cr etc. name the
direction relative to the special register; load_far_ptr is lds/les/lfs/lgs/lss; `-M i386`
for ELF32, `-M x86-64` for ELF64.
"""
from __future__ import annotations

import argparse
import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

KINDS = [
    "cli", "sti", "hlt", "in", "out", "ins", "outs", "lgdt", "lidt", "lldt", "ltr",
    "mov_to_cr", "mov_from_cr", "mov_to_dr", "mov_from_dr", "invlpg", "wbinvd", "invd", "clts",
    "lmsw", "rdmsr", "wrmsr", "rdpmc", "iret", "int", "into", "int1", "lcall", "ljmp", "lret",
    "mov_to_sreg", "pop_sreg", "load_far_ptr", "sysenter", "sysexit", "pushf", "popf", "sgdt",
    "sidt", "sldt", "str", "smsw", "lar", "lsl", "verr", "verw", "mov_from_sreg", "push_sreg",
    "cpuid", "rdtsc", "rdtscp", "monitor", "mwait", "xsetbv", "clac", "stac", "syscall",
    "sysret", "rsm", "vmx_svm",
]

# objdump (AT&T) mnemonic -> kind, for the ones the mnemonic alone decides. Operand-size
# suffixes (b/w/l/q) are handled by _lookup; int/mov/push/pop are decided by their operands.
_SIMPLE = {
    "cli": "cli", "sti": "sti", "hlt": "hlt", "in": "in", "out": "out", "ins": "ins",
    "outs": "outs", "lgdt": "lgdt", "lidt": "lidt", "lldt": "lldt", "ltr": "ltr",
    "invlpg": "invlpg", "wbinvd": "wbinvd", "invd": "invd", "clts": "clts", "lmsw": "lmsw",
    "rdmsr": "rdmsr", "wrmsr": "wrmsr", "rdpmc": "rdpmc", "iret": "iret", "iretd": "iret",
    "into": "into", "int1": "int1", "icebp": "int1", "lcall": "lcall", "ljmp": "ljmp",
    "lret": "lret", "lds": "load_far_ptr", "les": "load_far_ptr", "lfs": "load_far_ptr",
    "lgs": "load_far_ptr", "lss": "load_far_ptr", "sysenter": "sysenter",
    "sysexit": "sysexit", "pushf": "pushf", "pushfd": "pushf", "popf": "popf",
    "popfd": "popf", "sgdt": "sgdt", "sidt": "sidt", "sldt": "sldt", "str": "str",
    "smsw": "smsw", "lar": "lar", "lsl": "lsl", "verr": "verr", "verw": "verw",
    "cpuid": "cpuid", "rdtsc": "rdtsc", "rdtscp": "rdtscp", "monitor": "monitor",
    "mwait": "mwait", "xsetbv": "xsetbv", "clac": "clac", "stac": "stac",
    "syscall": "syscall", "sysret": "sysret", "rsm": "rsm",
    # VMX, SVM, SGX, SMX: #UD on the CPU model (qemu32 has none of them)
    **{m: "vmx_svm" for m in (
        "vmcall vmlaunch vmresume vmxoff vmfunc vmptrld vmclear vmxon vmptrst vmread vmwrite "
        "invept invvpid vmrun vmmcall vmload vmsave stgi clgi skinit invlpga encls enclu "
        "enclv pconfig getsec").split()},
}
_OPERAND = {"mov", "push", "pop", "int"}           # decided by their operands
_SREGS = {"%cs", "%ds", "%es", "%fs", "%gs", "%ss"}


def _lookup(mn: str) -> str | None:
    """kind for a mnemonic, or '*op' for operand-decided ones, or None."""
    for m in (mn, mn[:-1] if mn[-1:] in "bwlq" else None):
        if m is None:
            continue
        if m in _SIMPLE:
            return _SIMPLE[m]
        if m in _OPERAND:
            return "*" + m
    return None


def _split_operands(ops: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in ops:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def _operand_kind(op: str, rest: str) -> str | None:
    rest = rest.split("#", 1)[0].split("<", 1)[0].strip()
    ops = _split_operands(rest)
    if op == "int":
        if ops and ops[0].startswith("$"):
            return "int"
        return None
    if op in ("push", "pop"):
        if len(ops) == 1 and ops[0] in _SREGS:
            return "push_sreg" if op == "push" else "pop_sreg"
        return None
    # mov: AT&T order is source, destination
    if len(ops) != 2:
        return None
    src, dst = ops
    if dst.startswith("%cr"):
        return "mov_to_cr"
    if src.startswith("%cr"):
        return "mov_from_cr"
    if dst.startswith(("%db", "%dr")):
        return "mov_to_dr"
    if src.startswith(("%db", "%dr")):
        return "mov_from_dr"
    if dst in _SREGS:
        return "mov_to_sreg"
    if src in _SREGS:
        return "mov_from_sreg"
    return None


# One regex over objdump's text finds the only lines that can matter: a known sensitive
# mnemonic (after any prefixes), `int $n`, or mov/push/pop with an operand that may make it
# one (%crN, %drN/%dbN, a bare segment register). Everything else is skipped in C, which
# keeps a 3 M-instruction vmlinux at about objdump's own speed.
_SIMPLE_RX = "|".join(sorted((re.escape(m) + "[bwlq]?"
                              for m in _SIMPLE), key=len, reverse=True))
_LINE = re.compile(
    rb"\n\t(?:(?:rep[a-z]*|lock|data16|data32|addr16|addr32|[c-gs]s|notrack|bnd|xacquire"
    rb"|xrelease|\{[a-z0-9]+\}) )*"
    rb"(?:(" + _SIMPLE_RX.encode() + rb"|\(bad\)|\.byte)(?![\w.])"
    rb"|(int) +(\$[^\n]*)"
    rb"|(mov[bwlq]?|push[wlq]?|pop[wlq]?) +([^\n]*?(?:%cr|%d[br]|%[c-gs]s(?![:\w]))[^\n]*))")
_SECTION = re.compile(rb"\nDisassembly of section ([^\n]*):")


def count(path: str, sections: list[str] | None = None, objdump: str = "objdump"):
    """Stream `objdump -d` of `path`; returns (counts, stats)."""
    with open(path, "rb") as f:
        ident = f.read(5)
    if ident[:4] != b"\x7fELF":
        raise SystemExit(f"objdump-count: {path}: not an ELF file")
    mopt = "i386" if ident[4] == 1 else "x86-64"
    # -w: one line per instruction; no raw bytes and no addresses (binutils >= 2.35): every
    # instruction line is "\tmnemonic operands", which keeps the text small.
    argv = [objdump, "-d", "-w", "--no-show-raw-insn", "--no-addresses", "-M", mopt]
    for s in sections or []:
        argv += ["-j", s]
    argv.append(path)
    counts = dict.fromkeys(KINDS, 0)
    stats = {"instructions": 0, "bad": 0, "int3": 0, "sections": []}
    cache: dict[bytes, str | None] = {}
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    # A reader thread drains the pipe while this thread runs the regex, so objdump never
    # waits on a full pipe (re holds the GIL, the thread's read() does not).
    chunks: queue.Queue = queue.Queue(maxsize=8)

    def reader():
        while True:
            c = p.stdout.read(1 << 22)
            chunks.put(c)
            if not c:
                return

    threading.Thread(target=reader, daemon=True).start()
    carry = b"\n"
    while True:
        chunk = chunks.get()
        if chunk:
            buf = carry + chunk
            cut = buf.rfind(b"\n")
            buf, carry = buf[:cut], buf[cut:]   # carry keeps its leading newline
        else:
            buf, carry = carry, b""
        stats["instructions"] += buf.count(b"\n\t") - buf.count(b"\n\t...\n")
        stats["int3"] += buf.count(b"\tint3\n")      # padding in Linux: millions on amd64
        stats["sections"] += [m.decode(errors="replace") for m in _SECTION.findall(buf)]
        for m in _LINE.finditer(buf):
            mn, iop, irest, op, rest = m.groups()
            if iop is not None:
                op, rest = iop, irest
            if mn is not None:
                if mn == b"(bad)" or mn == b".byte":
                    stats["bad"] += 1
                    continue
                k = cache.get(mn, "")
                if k == "":
                    k = cache[mn] = _lookup(mn.decode())
            else:
                k = _operand_kind(op.decode().rstrip("bwlq") if op != b"int" else "int",
                                  rest.decode(errors="replace"))
            if k is not None and k[0] != "*":
                counts[k] += 1
        if not chunk:
            break
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    rc = p.wait()
    if rc != 0:
        raise SystemExit(f"objdump-count: `{' '.join(argv)}` exited {rc}: {err.strip()}")
    return counts, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("elf")
    ap.add_argument("-j", "--section", action="append",
                    help="only this section (repeatable; default: all executable sections)")
    ap.add_argument("--no-zeros", action="store_true", help="omit kinds with count 0")
    ap.add_argument("--objdump", default="objdump")
    args = ap.parse_args(argv)
    if shutil.which(args.objdump) is None:
        print(f"objdump-count: {args.objdump} not found (Debian package binutils)",
              file=sys.stderr)
        return 3
    t0 = time.monotonic()
    counts, stats = count(args.elf, args.section, args.objdump)
    if args.no_zeros:
        counts = {k: v for k, v in counts.items() if v}
    print(json.dumps(counts))
    print(f"objdump-count: {args.elf}: {stats['instructions']} instructions in "
          f"{', '.join(stats['sections'])}; {stats['bad']} (bad), {stats['int3']} int3; "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
