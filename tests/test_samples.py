"""Sample guest kernels on the reference machine (QEMU): each serial transcript must equal its
committed golden byte for byte, end with debug-exit value 0, and be the same on every run.

The QEMU command line is samples/qemu.sh (the reference machine: -nodefaults -vga std),
shared with `make -C samples golden`; goldens come only from QEMU (`make -C samples golden`
rewrites them).
"""
import difflib
import re
import subprocess
from pathlib import Path

import pytest

import qemuref

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
QEMU_RUN = SAMPLES / "qemu.sh"
ABI_H = ROOT / "runtime" / "include" / "abi.h"
TIMEOUT = 20          # seconds; every sample finishes in well under one
EXIT_SUCCESS = 1      # QEMU's status after the guest writes 0 to isa-debug-exit


def sample_names():
    out = subprocess.run(["make", "-s", "-C", str(SAMPLES), "list"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


NAMES = sample_names()


@pytest.fixture(scope="session")
def built():
    """Build every sample once per session (make is incremental)."""
    proc = subprocess.run(["make", "-s", "-C", str(SAMPLES)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"make -C samples failed:\n{proc.stdout}\n{proc.stderr}")
    return SAMPLES / "build"


_first_runs = {}


def run_sample(build_dir, name, *extra):
    """Boot build/<name>.elf under QEMU (extra: more QEMU options); return (exit status,
    transcript bytes)."""
    elf = build_dir / f"{name}.elf"
    try:
        proc = subprocess.run([str(QEMU_RUN), str(elf), *extra], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        partial = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"sample {name}: no debug-exit within {TIMEOUT}s (hung?); "
                    f"transcript so far:\n{partial}")
    return proc.returncode, proc.stdout


def first_run(build_dir, name):
    if name not in _first_runs:
        _first_runs[name] = run_sample(build_dir, name)
    return _first_runs[name]


def diff(name, want, got, labels):
    lines = difflib.unified_diff(want.decode(errors="replace").splitlines(keepends=True),
                                 got.decode(errors="replace").splitlines(keepends=True),
                                 *labels)
    return f"sample {name}: transcripts differ\n" + "".join(lines)


def test_every_sample_has_a_golden():
    missing = [n for n in NAMES if not (SAMPLES / "golden" / f"{n}.txt").is_file()]
    assert not missing, f"no golden for {missing}: run `make -C samples golden` and commit"


@pytest.mark.parametrize("name", NAMES)
def test_transcript_matches_golden(built, name):
    status, got = first_run(built, name)
    want = (SAMPLES / "golden" / f"{name}.txt").read_bytes()
    assert got == want, diff(name, want, got, (f"golden/{name}.txt", f"qemu {name}.elf"))
    assert status == EXIT_SUCCESS, (f"sample {name}: QEMU exit status {status}, want "
                                    f"{EXIT_SUCCESS} (debug-exit value {(status - 1) // 2})")


@pytest.mark.parametrize("name", NAMES)
def test_transcript_is_deterministic(built, name):
    _, once = first_run(built, name)
    _, again = run_sample(built, name)
    assert once == again, diff(name, once, again, ("run 1", "run 2"))


@pytest.mark.parametrize("name", NAMES)
def test_transcript_without_vga_matches_golden(built, name):
    """The goldens come from the reference machine, with QEMU's std VGA (-nodefaults -vga
    std); without a display adapter (-vga none after it: the reference of ring1-run --vga
    none) every transcript is the same."""
    status, got = run_sample(built, name, *qemuref.NO_VGA)
    want = (SAMPLES / "golden" / f"{name}.txt").read_bytes()
    assert got == want, diff(name, want, got, (f"golden/{name}.txt", f"qemu -vga none {name}.elf"))
    assert status == EXIT_SUCCESS


# Every kind of the sensitive-instruction catalogue (abi.h's R1_KIND_LIST) and how objdump
# spells it (each pattern must match a whole mnemonic: no word character may follow): the
# sensitive sample must contain at least one of each.
KIND_PATTERNS = {
    "CLI": r"cli", "STI": r"sti", "HLT": r"hlt",
    "IN": r"in\s+\S+,%(al|ax|eax)", "OUT": r"out\s+%(al|ax|eax),\S+",
    "INS": r"(rep )?ins[bwl]\b", "OUTS": r"(rep )?outs[bwl]\b",
    "LGDT": r"lgdtl?\b", "LIDT": r"lidtl?\b", "LLDT": r"lldt\b", "LTR": r"ltr\b",
    "MOV_TO_CR": r"mov\s+%e\w\w,%cr\d", "MOV_FROM_CR": r"mov\s+%cr\d,%e\w\w",
    "MOV_TO_DR": r"mov\s+%e\w\w,%db\d", "MOV_FROM_DR": r"mov\s+%db\d,%e\w\w",
    "INVLPG": r"invlpg\b", "WBINVD": r"wbinvd", "INVD": r"invd", "CLTS": r"clts",
    "LMSW": r"lmsw\b", "RDMSR": r"rdmsr", "WRMSR": r"wrmsr", "RDPMC": r"rdpmc",
    "IRET": r"iret[wld]?", "INT": r"int\s+\$0x[0-9a-f]+", "INTO": r"into", "INT1": r"(int1|icebp)",
    "LCALL": r"lcall\b", "LJMP": r"ljmp\b", "LRET": r"lret\b",
    "MOV_TO_SREG": r"mov\s+\S+,%[defgs]s$", "POP_SREG": r"popw?\s+%[defgs]s$",
    "LOAD_FAR_PTR": r"l[defgs]s\s+\S+", "SYSENTER": r"sysenter", "SYSEXIT": r"sysexit",
    "PUSHF": r"pushfw?", "POPF": r"popfw?", "SGDT": r"sgdtl?\b", "SIDT": r"sidtl?\b",
    "SLDT": r"sldt\b", "STR": r"str\s+\S+", "SMSW": r"smsw\b", "LAR": r"lar\b", "LSL": r"lsl\b",
    "VERR": r"verr\b", "VERW": r"verw\b", "MOV_FROM_SREG": r"mov\s+%[cdefgs]s,\S+",
    "PUSH_SREG": r"pushw?\s+%[cdefgs]s$", "CPUID": r"cpuid", "RDTSC": r"rdtsc",
    "RDTSCP": r"rdtscp", "MONITOR": r"monitor", "MWAIT": r"mwait", "XSETBV": r"xsetbv",
    "CLAC": r"clac", "STAC": r"stac", "SYSCALL": r"syscall", "SYSRET": r"sysret",
    "RSM": r"rsm",
}


def catalogue_kinds():
    text = ABI_H.read_text()
    body = re.search(r"#define R1_KIND_LIST\(X\)(.*?)\n\n", text, re.S).group(1)
    # MMIO is no instruction: a site a profile makes of an ordinary memory access
    return [k for k in re.findall(r"X\((\w+),\s*\d+\)", body) if k != "MMIO"]


def test_sensitive_sample_contains_every_catalogue_kind(built):
    kinds = catalogue_kinds()
    unknown = [k for k in kinds if k not in KIND_PATTERNS]
    assert not unknown, (f"abi.h kinds {unknown} have no pattern here: add an instance to "
                         "samples/sensitive and a pattern to KIND_PATTERNS")
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(built / "sensitive.elf")],
                         check=True, capture_output=True, text=True).stdout
    insns = [" ".join(line.split("\t", 1)[1].split()) for line in dis.splitlines()
             if re.match(r"^\s+[0-9a-f]+:\t", line)]
    missing = [k for k in kinds
               if not any(re.match(KIND_PATTERNS[k] + r"(?!\w)", i) for i in insns)]
    assert not missing, f"sensitive.elf has no instruction of kinds {missing}"
