"""rewriter.classify: every catalogue kind in every encoding form, checked against capstone.

Vectors are hand-encoded hex from the Intel SDM opcode tables (keystone mis-encodes several
system instructions, e.g. a stray 66 on lgdt/sgdt/push cs/pop ds, so it is not used). Each
positive vector must also decode in capstone as exactly one instruction of that length whose
mnemonic is a classify candidate, which keeps the hex honest.

ModRM forms used (reg = the /digit or register field):
    (reg<<3)|0x00        [eax]                 (reg<<3)|0x43 d8      [ebx+disp8]
    (reg<<3)|0x86 d32    [esi+disp32]          (reg<<3)|0x44 24 d8   [esp+disp8]      (SIB)
    (reg<<3)|0x04 88     [eax+ecx*4]  (SIB)    (reg<<3)|0x05 d32     [disp32] absolute
    67 (reg<<3)|0x06 d16 [disp16] (16-bit addressing)                 0xC0|(reg<<3)|rm register
"""

import re

import capstone
import pytest

from rewriter.abi import SREG_NAMES, Kind
from rewriter.classify import (CANDIDATE_MNEMONICS, CATALOGUE, Info, classify, is_register_form,
                               operand_size, sreg_of)

K = Kind
_MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


def cs_decode(code: bytes):
    """capstone's disasm_lite of the first instruction: (size, mnemonic, op_str) or None."""
    for _addr, size, mnemonic, op_str in _MD.disasm_lite(code, 0x1000, 1):
        return size, mnemonic, op_str
    return None


def mem_forms(prefix: str, reg: int) -> list[str]:
    """Every memory addressing form of ModRM with the given reg field, after `prefix`."""
    r = reg << 3
    return [f"{prefix} {r | 0x00:02x}",                 # [eax]
            f"{prefix} {r | 0x43:02x} 08",              # [ebx+8]
            f"{prefix} {r | 0x86:02x} 78 56 34 12",     # [esi+0x12345678]
            f"{prefix} {r | 0x44:02x} 24 04",           # [esp+4]  (SIB)
            f"{prefix} {r | 0x04:02x} 88",              # [eax+ecx*4]  (SIB)
            f"{prefix} {r | 0x05:02x} 00 10 00 c0",     # [0xc0001000]
            f"67 {prefix} {r | 0x06:02x} 00 10"]        # [0x1000], 16-bit addressing


def reg_forms(prefix: str, reg: int) -> list[str]:
    r = 0xC0 | (reg << 3)
    return [f"{prefix} {r:02x}", f"{prefix} {r | 7:02x}"]      # eax, edi


ABS = "00 10 00 c0"   # disp32 0xc0001000

# (hex, kind): every kind, every encoding form.
VECTORS: list[tuple[str, Kind]] = [
    ("fa", K.CLI), ("3e fa", K.CLI), ("66 " * 14 + "fa", K.CLI),
    ("fb", K.STI),
    ("f4", K.HLT), ("2e f4", K.HLT),
    ("e4 60", K.IN), ("e5 60", K.IN), ("66 e5 60", K.IN), ("ec", K.IN), ("ed", K.IN),
    ("66 ed", K.IN),
    ("e6 80", K.OUT), ("e7 80", K.OUT), ("66 e7 80", K.OUT), ("ee", K.OUT), ("ef", K.OUT),
    ("66 ef", K.OUT),
    ("6c", K.INS), ("6d", K.INS), ("66 6d", K.INS), ("f3 6c", K.INS), ("f3 6d", K.INS),
    ("f3 66 6d", K.INS), ("66 f3 6d", K.INS), ("67 f3 6d", K.INS), ("f2 6c", K.INS),
    ("f3 f3 6c", K.INS),
    ("6e", K.OUTS), ("6f", K.OUTS), ("66 6f", K.OUTS), ("f3 6e", K.OUTS), ("f3 6f", K.OUTS),
    ("f3 66 6f", K.OUTS), ("2e f3 6e", K.OUTS), ("64 6f", K.OUTS), ("67 66 f3 6f", K.OUTS),
    *[(h, K.LGDT) for h in mem_forms("0f 01", 2)],
    ("2e 0f 01 15 " + ABS, K.LGDT), ("3e 0f 01 15 " + ABS, K.LGDT),
    ("64 0f 01 10", K.LGDT), ("66 0f 01 10", K.LGDT), ("65 66 0f 01 50 04", K.LGDT),
    *[(h, K.LIDT) for h in mem_forms("0f 01", 3)],
    ("2e 0f 01 1d " + ABS, K.LIDT), ("66 0f 01 18", K.LIDT),
    *[(h, K.LLDT) for h in mem_forms("0f 00", 2) + reg_forms("0f 00", 2)],
    *[(h, K.LTR) for h in mem_forms("0f 00", 3) + reg_forms("0f 00", 3)],
    # mov to/from CR: 0F 22 /r is "mov cr<reg>, r32<rm>"; mod is ignored (0F 22 18 = cr3, eax)
    ("0f 22 c0", K.MOV_TO_CR), ("0f 22 d0", K.MOV_TO_CR), ("0f 22 d8", K.MOV_TO_CR),
    ("0f 22 e0", K.MOV_TO_CR), ("0f 22 c3", K.MOV_TO_CR), ("0f 22 df", K.MOV_TO_CR),
    ("0f 22 18", K.MOV_TO_CR), ("66 0f 22 c0", K.MOV_TO_CR),
    ("0f 20 c0", K.MOV_FROM_CR), ("0f 20 d0", K.MOV_FROM_CR), ("0f 20 d8", K.MOV_FROM_CR),
    ("0f 20 e0", K.MOV_FROM_CR), ("0f 20 e1", K.MOV_FROM_CR), ("0f 20 df", K.MOV_FROM_CR),
    ("0f 20 00", K.MOV_FROM_CR),
    ("0f 23 c0", K.MOV_TO_DR), ("0f 23 c8", K.MOV_TO_DR), ("0f 23 d0", K.MOV_TO_DR),
    ("0f 23 d8", K.MOV_TO_DR), ("0f 23 f0", K.MOV_TO_DR), ("0f 23 f8", K.MOV_TO_DR),
    ("0f 23 fb", K.MOV_TO_DR),
    ("0f 21 c0", K.MOV_FROM_DR), ("0f 21 c8", K.MOV_FROM_DR), ("0f 21 d0", K.MOV_FROM_DR),
    ("0f 21 d8", K.MOV_FROM_DR), ("0f 21 f0", K.MOV_FROM_DR), ("0f 21 f8", K.MOV_FROM_DR),
    ("0f 21 f9", K.MOV_FROM_DR),
    *[(h, K.INVLPG) for h in mem_forms("0f 01", 7)], ("64 0f 01 38", K.INVLPG),
    ("0f 09", K.WBINVD), ("f3 0f 09", K.WBINVD),
    ("0f 08", K.INVD),
    ("0f 06", K.CLTS),
    *[(h, K.LMSW) for h in mem_forms("0f 01", 6) + reg_forms("0f 01", 6)],
    ("0f 01 f3", K.LMSW),
    ("0f 32", K.RDMSR), ("0f 30", K.WRMSR), ("0f 33", K.RDPMC),
    ("cf", K.IRET), ("66 cf", K.IRET),
    ("cd 80", K.INT), ("cd 03", K.INT), ("cd 00", K.INT), ("cd ff", K.INT),
    ("ce", K.INTO),
    ("f1", K.INT1),
    ("9a 78 56 34 12 10 00", K.LCALL), ("66 9a 34 12 10 00", K.LCALL),
    *[(h, K.LCALL) for h in mem_forms("ff", 3)], ("2e ff 18", K.LCALL), ("66 ff 18", K.LCALL),
    ("3e ff 1d " + ABS, K.LCALL),
    ("ea 78 56 34 12 10 00", K.LJMP), ("66 ea 34 12 10 00", K.LJMP),
    *[(h, K.LJMP) for h in mem_forms("ff", 5)], ("2e ff 28", K.LJMP), ("66 ff 28", K.LJMP),
    ("cb", K.LRET), ("ca 04 00", K.LRET), ("66 cb", K.LRET), ("66 ca 08 00", K.LRET),
    # mov sreg, r/m16: 8E /sreg (es ss ds fs gs; cs is #UD)
    ("8e c0", K.MOV_TO_SREG), ("8e d0", K.MOV_TO_SREG), ("8e d8", K.MOV_TO_SREG),
    ("8e e0", K.MOV_TO_SREG), ("8e e8", K.MOV_TO_SREG), ("8e db", K.MOV_TO_SREG),
    ("66 8e d8", K.MOV_TO_SREG),
    ("8e 10", K.MOV_TO_SREG), ("8e 5c 24 04", K.MOV_TO_SREG), ("8e 25 " + ABS, K.MOV_TO_SREG),
    ("8e 86 78 56 34 12", K.MOV_TO_SREG), ("8e 6b 08", K.MOV_TO_SREG),
    ("8e 04 88", K.MOV_TO_SREG), ("64 8e 18", K.MOV_TO_SREG), ("67 8e 1e 00 10", K.MOV_TO_SREG),
    ("07", K.POP_SREG), ("17", K.POP_SREG), ("1f", K.POP_SREG), ("0f a1", K.POP_SREG),
    ("0f a9", K.POP_SREG), ("66 1f", K.POP_SREG), ("66 0f a9", K.POP_SREG),
    ("c4 00", K.LOAD_FAR_PTR), ("c4 5c 24 04", K.LOAD_FAR_PTR), ("c4 05 " + ABS, K.LOAD_FAR_PTR),
    ("c5 00", K.LOAD_FAR_PTR), ("c5 4b 08", K.LOAD_FAR_PTR), ("c5 b6 78 56 34 12", K.LOAD_FAR_PTR),
    ("66 c5 00", K.LOAD_FAR_PTR), ("2e c5 3c 88", K.LOAD_FAR_PTR),
    ("0f b2 20", K.LOAD_FAR_PTR), ("0f b2 64 24 04", K.LOAD_FAR_PTR),
    ("0f b4 00", K.LOAD_FAR_PTR), ("0f b4 1d " + ABS, K.LOAD_FAR_PTR),
    ("0f b5 00", K.LOAD_FAR_PTR), ("66 0f b5 43 08", K.LOAD_FAR_PTR),
    ("0f 34", K.SYSENTER), ("0f 35", K.SYSEXIT),
    ("9c", K.PUSHF), ("66 9c", K.PUSHF), ("9d", K.POPF), ("66 9d", K.POPF),
    *[(h, K.SGDT) for h in mem_forms("0f 01", 0)], ("2e 0f 01 05 " + ABS, K.SGDT),
    ("66 0f 01 00", K.SGDT),
    *[(h, K.SIDT) for h in mem_forms("0f 01", 1)], ("65 0f 01 08", K.SIDT),
    *[(h, K.SLDT) for h in mem_forms("0f 00", 0) + reg_forms("0f 00", 0)],
    ("66 0f 00 c0", K.SLDT),
    *[(h, K.STR) for h in mem_forms("0f 00", 1) + reg_forms("0f 00", 1)], ("66 0f 00 c8", K.STR),
    *[(h, K.SMSW) for h in mem_forms("0f 01", 4) + reg_forms("0f 01", 4)],
    ("66 0f 01 e0", K.SMSW),
    ("0f 02 c1", K.LAR), ("66 0f 02 c1", K.LAR), ("0f 02 00", K.LAR), ("0f 02 44 24 04", K.LAR),
    ("0f 03 c1", K.LSL), ("66 0f 03 c1", K.LSL), ("0f 03 00", K.LSL), ("0f 03 05 " + ABS, K.LSL),
    *[(h, K.VERR) for h in mem_forms("0f 00", 4) + reg_forms("0f 00", 4)],
    *[(h, K.VERW) for h in mem_forms("0f 00", 5) + reg_forms("0f 00", 5)],
    # mov r/m16, sreg: 8C /sreg, all six
    ("8c c0", K.MOV_FROM_SREG), ("8c c8", K.MOV_FROM_SREG), ("8c d0", K.MOV_FROM_SREG),
    ("8c d8", K.MOV_FROM_SREG), ("8c e0", K.MOV_FROM_SREG), ("8c e8", K.MOV_FROM_SREG),
    ("8c df", K.MOV_FROM_SREG), ("66 8c d8", K.MOV_FROM_SREG),
    ("8c 00", K.MOV_FROM_SREG), ("8c 4b 08", K.MOV_FROM_SREG),
    ("8c 96 78 56 34 12", K.MOV_FROM_SREG), ("8c 5c 24 04", K.MOV_FROM_SREG),
    ("8c 25 " + ABS, K.MOV_FROM_SREG), ("8c 2c 88", K.MOV_FROM_SREG),
    ("64 8c 18", K.MOV_FROM_SREG), ("67 8c 06 00 10", K.MOV_FROM_SREG),
    ("06", K.PUSH_SREG), ("0e", K.PUSH_SREG), ("16", K.PUSH_SREG), ("1e", K.PUSH_SREG),
    ("0f a0", K.PUSH_SREG), ("0f a8", K.PUSH_SREG), ("66 06", K.PUSH_SREG),
    ("66 0e", K.PUSH_SREG), ("66 0f a8", K.PUSH_SREG),
    ("0f a2", K.CPUID), ("0f 31", K.RDTSC), ("0f 01 f9", K.RDTSCP),
    ("0f 01 c8", K.MONITOR), ("0f 01 c9", K.MWAIT), ("0f 01 d1", K.XSETBV),
    ("0f 01 ca", K.CLAC), ("0f 01 cb", K.STAC),
    ("0f 05", K.SYSCALL), ("0f 07", K.SYSRET), ("0f aa", K.RSM),
    # VMX, SVM, SGX, SMX: #UD on the model, not in host ring 3 (vmmcall is silent there)
    ("0f 01 c1", K.VMX_SVM), ("0f 01 c2", K.VMX_SVM), ("0f 01 c3", K.VMX_SVM),
    ("0f 01 c4", K.VMX_SVM), ("0f 01 d4", K.VMX_SVM), ("0f 01 c0", K.VMX_SVM),
    ("0f 01 c5", K.VMX_SVM), ("0f 01 cf", K.VMX_SVM), ("0f 01 d7", K.VMX_SVM),
    ("0f 01 d8", K.VMX_SVM), ("0f 01 d9", K.VMX_SVM), ("0f 01 da", K.VMX_SVM),
    ("0f 01 db", K.VMX_SVM), ("0f 01 dc", K.VMX_SVM), ("0f 01 dd", K.VMX_SVM),
    ("0f 01 de", K.VMX_SVM), ("0f 01 df", K.VMX_SVM), ("0f 37", K.VMX_SVM),
    ("0f 78 c8", K.VMX_SVM), ("0f 79 c1", K.VMX_SVM), ("0f 78 00", K.VMX_SVM),
    ("0f c7 30", K.VMX_SVM), ("66 0f c7 30", K.VMX_SVM), ("f3 0f c7 30", K.VMX_SVM),
    ("0f c7 38", K.VMX_SVM), ("0f c7 7b 08", K.VMX_SVM),
    ("66 0f 38 80 00", K.VMX_SVM), ("66 0f 38 81 00", K.VMX_SVM),
]

# Positive cases capstone 5 cannot decode (so the rewriter never asks; classify still answers).
DECODER_ONLY: list[tuple[str, Kind]] = [
    ("f0 fa", K.CLI),            # lock is #UD on hardware; documented: classify ignores it
    ("f0 0f 22 c0", K.MOV_TO_CR),  # AMD: lock mov cr0 = mov cr8
    ("0f 01 c6", K.WRMSR),       # wrmsrns
]

# (hex, capstone_decodes): must classify as None.
NEGATIVES: list[tuple[str, bool]] = [
    # ordinary mov forms, including segment overrides and moffs
    ("8b 05 " + ABS, True), ("3e 8b 05 " + ABS, True), ("3e a1 " + ABS, True),
    ("a1 " + ABS, True), ("64 a1 " + ABS, True), ("64 a3 " + ABS, True), ("89 c8", True),
    ("8b 43 04", True), ("c7 00 01 00 00 00", True), ("66 89 c8", True),
    ("b8 01 00 00 00", True), ("88 c0", True), ("8a 04 88", True), ("26 89 07", True),
    ("65 8b 1d " + ABS, True), ("8d 04 88", True),
    # push/pop
    ("50", True), ("58", True), ("8f 00", True), ("ff 30", True), ("6a 01", True),
    ("68 00 10 00 00", True), ("66 50", True), ("60", True), ("61", True),
    # near call/jmp/ret
    ("e8 00 00 00 00", True), ("ff d0", True), ("ff 10", True), ("ff 15 " + ABS, True),
    ("3e ff d0", True), ("3e ff 10", True), ("e9 00 00 00 00", True), ("eb 00", True),
    ("ff e0", True), ("ff 20", True), ("ff 25 " + ABS, True), ("c3", True), ("c2 04 00", True),
    ("f2 c3", True), ("ff 54 24 04", True), ("ff 64 24 04", True),
    # C4/C5 with mod == 3 are VEX prefixes in 32-bit mode
    ("c4 e2 79 18 00", True), ("c5 f8 77", True), ("c5 f9 6f c1", True),
    ("c4 e3 79 0f c1 04", True),
    # group 7 neighbours that are not in the catalogue
    ("0f 01 d0", True),          # xgetbv
    ("0f 01 f8", True),          # swapgs (#UD outside 64-bit mode)
    ("0f 01 d5", True),          # xend
    ("0f 01 d6", True),          # xtest
    ("0f 01 ee", True),          # rdpkru
    ("0f 01 ef", True),          # wrpkru
    ("0f 01 fa", True),          # monitorx
    ("0f 01 fb", True),          # mwaitx
    ("0f 01 fc", True),          # clzero
    ("f3 0f 01 e8", True),       # setssbsy
    ("0f 01 28", False),         # 0F 01 /5 memory: #UD
    # other opcodes next to catalogue entries
    ("0f 0b", True), ("90", True), ("0f 1f 00", True), ("0f 1f 44 00 00", True), ("f3 90", True),
    ("cc", True),                # int3: traps naturally (see classify docstring)
    ("f3 0f c7 f8", True),       # rdpid: not in the catalogue (see docstring)
    ("0f c7 28", True),          # xsaves
    ("0f c7 f0", True),          # rdrand (0F C7 /6 register form; vmptrld is the memory form)
    ("0f c7 f8", True),          # rdseed
    ("66 0f 38 82 00", True),    # invpcid, next to invept/invvpid
    ("0f ae f0", True), ("0f a3 c0", True), ("0f a4 c0 01", True), ("0f a5 c0", True),
    ("0f ab c0", True), ("0f ac c0 01", True), ("0f af c0", True), ("0f b3 c0", True),
    ("0f b6 c0", True), ("0f b7 c0", True), ("0f b0 08", True), ("0f b1 08", True),
    ("9b", True), ("9e", True), ("9f", True), ("c8 04 00 00", True), ("c9", True),
    ("fe c0", True), ("f6 c0 01", True), ("62 00", True), ("d6", True),
    ("0f 0d 08", True), ("0f 18 00", True), ("0f 38 f0 00", True),
    ("0f 40 c0", True),
    # encodings that are #UD on hardware
    ("8e c8", True),             # mov cs, eax: capstone decodes it, the CPU does not
    ("8e f0", False), ("8e f8", False), ("8c f0", False), ("8c f8", False),
    ("0f 00 30", False), ("0f 00 f8", False),
    ("ff d8", False), ("ff e8", False),   # lcall/ljmp with a register operand
    ("0f b2 c0", False), ("0f b4 c0", False), ("0f b5 c0", False),
    ("0f 24 c0", False), ("0f 26 c0", False),   # mov tr (386/486 only)
    # malformed
    ("", False), ("0f", False), ("8c", False), ("66", False), ("66 0f", False),
    ("66 " * 15 + "fa", False),  # 16 bytes: over the 15-byte limit
]

# Kinds whose every encoding has a ModRM byte (others have none, or are LCALL/LJMP, whose ModRM
# forms are memory-only).
MODRM_KINDS = {K.LGDT, K.LIDT, K.LLDT, K.LTR, K.MOV_TO_CR, K.MOV_FROM_CR, K.MOV_TO_DR,
               K.MOV_FROM_DR, K.INVLPG, K.LMSW, K.MOV_TO_SREG, K.LOAD_FAR_PTR, K.SGDT, K.SIDT,
               K.SLDT, K.STR, K.SMSW, K.LAR, K.LSL, K.VERR, K.VERW, K.MOV_FROM_SREG, K.RDTSCP,
               K.MONITOR, K.MWAIT, K.XSETBV, K.CLAC, K.STAC}
SREG_KINDS = {K.MOV_FROM_SREG, K.MOV_TO_SREG, K.PUSH_SREG, K.POP_SREG, K.LOAD_FAR_PTR}
CONTROL_TRANSFERS = {K.IRET, K.INT, K.INTO, K.INT1, K.LCALL, K.LJMP, K.LRET, K.SYSENTER,
                     K.SYSEXIT, K.SYSCALL, K.SYSRET, K.RSM}


def _b(h: str) -> bytes:
    return bytes.fromhex(h)


def _norm(h: str) -> str:
    return " ".join(re.findall("..", h.replace(" ", "")))


def _params(rows):
    return [pytest.param(_b(h), k, id=f"{_norm(h)} -> {k.name}") for h, k in rows]


def _last_word(mnemonic: str) -> str:
    return mnemonic.split()[-1]


# ---- classify ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code,kind", _params(VECTORS + DECODER_ONLY))
def test_classify(code, kind):
    got = classify(code)
    assert got is kind, f"{code.hex(' ')}: expected {kind!r}, got {got!r}"
    assert classify(code + b"\x90" * 8) is kind, f"{code.hex(' ')} + trailing bytes: {kind!r}"


@pytest.mark.parametrize("code,kind", _params(VECTORS))
def test_vector_is_one_capstone_candidate(code, kind):
    """The hex is one instruction in capstone's eyes, and the rewriter would ask about it."""
    d = cs_decode(code + b"\x90")
    assert d is not None, f"{code.hex(' ')} ({kind.name}): capstone cannot decode it"
    size, mnemonic, op_str = d
    assert size == len(code), (f"{code.hex(' ')} ({kind.name}): capstone decodes {size} bytes "
                               f"({mnemonic} {op_str}), the vector has {len(code)}")
    word = _last_word(mnemonic)
    assert word in CANDIDATE_MNEMONICS, (f"{code.hex(' ')} ({kind.name}): capstone says "
                                         f"{mnemonic!r}, not in CANDIDATE_MNEMONICS")
    assert word in CATALOGUE[kind].mnemonics, (f"{code.hex(' ')}: capstone says {mnemonic!r}, "
                                               f"not among {kind.name}'s mnemonics")


@pytest.mark.parametrize("code,decodes", [pytest.param(_b(h), d, id=_norm(h) or "empty")
                                          for h, d in NEGATIVES])
def test_not_sensitive(code, decodes):
    got = classify(code)
    assert got is None, f"{code.hex(' ')}: expected None, got {got!r}"
    d = cs_decode(code + b"\x90" * 2) if code else None
    if decodes:
        assert d is not None and d[0] == len(code), f"{code.hex(' ')}: capstone decodes {d}"
    else:
        assert d is None or d[0] != len(code), \
            f"{code.hex(' ')}: marked undecodable, but capstone decodes {d}"


def test_every_kind_has_a_vector():
    covered = {k for _, k in VECTORS}
    missing = sorted(set(Kind) - covered - {Kind.MMIO})   # MMIO: no opcode of its own
    assert not missing, f"kinds without a test vector: {[k.name for k in missing]}"


def test_every_vector_and_negative_is_distinct():
    hexes = [_norm(h) for h, _ in VECTORS + DECODER_ONLY] + [_norm(h) for h, _ in NEGATIVES]
    dups = {h for h in hexes if hexes.count(h) > 1}
    assert not dups, f"listed twice: {sorted(dups)}"


# ---- the catalogue -----------------------------------------------------------------------------

def test_catalogue_covers_the_enum():
    assert set(CATALOGUE) == set(Kind) - {Kind.MMIO}   # MMIO: profile-made sites, no opcode
    for kind, info in CATALOGUE.items():
        assert isinstance(info, Info) and info.kind is kind, kind.name
        assert info.description and "\n" not in info.description, kind.name
        assert info.mnemonics and info.mnemonics <= CANDIDATE_MNEMONICS, kind.name
        assert isinstance(info.privileged, bool) and isinstance(info.control_transfer, bool)
        assert info.host_ring3, kind.name


def test_candidate_mnemonics_are_exactly_the_catalogue_mnemonics():
    union = frozenset().union(*(i.mnemonics for i in CATALOGUE.values()))
    assert CANDIDATE_MNEMONICS == union
    assert "int3" not in CANDIDATE_MNEMONICS and "xgetbv" not in CANDIDATE_MNEMONICS


def test_control_transfers():
    got = {k for k, i in CATALOGUE.items() if i.control_transfer}
    assert got == CONTROL_TRANSFERS


def test_privileged_means_it_faults_in_ring3():
    # measured on this host (see the classify docstring); spot-check both sides
    for k in (K.CLI, K.STI, K.HLT, K.IN, K.OUT, K.LGDT, K.MOV_TO_CR, K.WRMSR, K.CLAC,
              K.SYSENTER, K.XSETBV, K.RSM):
        assert CATALOGUE[k].privileged, k.name
    for k in (K.PUSHF, K.POPF, K.SGDT, K.SMSW, K.STR, K.LAR, K.CPUID, K.RDTSC, K.MOV_FROM_SREG,
              K.PUSH_SREG, K.IRET, K.LRET, K.LCALL, K.LJMP, K.MOV_TO_SREG, K.POP_SREG,
              K.LOAD_FAR_PTR, K.INT, K.SYSCALL):
        assert not CATALOGUE[k].privileged, k.name


# ---- helpers -----------------------------------------------------------------------------------

def _capstone_sreg(kind, mnemonic, op_str):
    """The segment register capstone shows as the operand (not a segment override)."""
    if kind is K.LOAD_FAR_PTR:
        return SREG_NAMES.index(_last_word(mnemonic)[1:])      # les lds lss lfs lgs
    ops = [o.strip() for o in op_str.split(",")]
    names = [o for o in ops if o in SREG_NAMES]
    assert len(names) == 1, (mnemonic, op_str)
    return SREG_NAMES.index(names[0])


@pytest.mark.parametrize("code,kind", _params([(h, k) for h, k in VECTORS if k in SREG_KINDS]))
def test_sreg_of(code, kind):
    _, mnemonic, op_str = cs_decode(code)
    want = _capstone_sreg(kind, mnemonic, op_str)
    assert sreg_of(code) == want, f"{code.hex(' ')} ({kind.name}): want {SREG_NAMES[want]}"


@pytest.mark.parametrize("code,kind", _params([(h, k) for h, k in VECTORS
                                               if k not in SREG_KINDS][::7]))
def test_sreg_of_others_is_none(code, kind):
    assert sreg_of(code) is None, f"{code.hex(' ')} ({kind.name})"


@pytest.mark.parametrize("code,kind", _params(VECTORS))
def test_is_register_form(code, kind):
    _, mnemonic, op_str = cs_decode(code)
    # VMX_SVM mixes forms: every one has a ModRM byte but getsec.
    modrm = kind in MODRM_KINDS or (kind is K.VMX_SVM and mnemonic != "getsec")
    want = modrm and "[" not in op_str
    assert is_register_form(code) is want, f"{code.hex(' ')} ({kind.name}): {op_str!r}"


@pytest.mark.parametrize("code,kind", _params(
    [(h, k) for h, k in VECTORS if k in (K.PUSHF, K.POPF, K.IRET)]))
def test_operand_size_matches_capstone(code, kind):
    _, mnemonic, _ = cs_decode(code)                   # pushf/pushfd, popf/popfd, iret/iretd
    want = 32 if mnemonic.endswith("d") else 16
    assert operand_size(code) == want, f"{code.hex(' ')}: {mnemonic}"


@pytest.mark.parametrize("h,size", [
    ("06", 32), ("66 06", 16), ("0f a8", 32), ("66 0f a8", 16), ("1f", 32), ("66 1f", 16),
    ("66 0f a9", 16), ("cb", 32), ("66 cb", 16), ("2e 66 ca 08 00", 16), ("9a 78 56 34 12 10 00", 32),
    ("66 9a 34 12 10 00", 16), ("66 ff 18", 16), ("ff 28", 32), ("67 9c", 32), ("f3 66 9d", 16)])
def test_operand_size(h, size):
    assert operand_size(_b(h)) == size, h


# ---- against capstone, exhaustively --------------------------------------------------------------

def _capstone_kind(mnemonic, op_str):
    """What classify must say, judged from capstone's text alone: 'skip' if the rewriter would
    not ask (mnemonic not a candidate), else a Kind or None."""
    word = _last_word(mnemonic)
    if word not in CANDIDATE_MNEMONICS:
        return "skip"
    ops = [o.strip() for o in op_str.split(",")] if op_str else []
    if word == "mov":
        a, b = ops[0], ops[-1]
        for reg, to, frm in (("cr", K.MOV_TO_CR, K.MOV_FROM_CR), ("dr", K.MOV_TO_DR, K.MOV_FROM_DR)):
            if re.fullmatch(reg + r"\d+", a):
                return to
            if re.fullmatch(reg + r"\d+", b):
                return frm
        if a in SREG_NAMES:
            return K.MOV_TO_SREG if a != "cs" else None     # mov cs is #UD on the CPU
        return K.MOV_FROM_SREG if b in SREG_NAMES else None
    if word in ("push", "pop"):
        if op_str in SREG_NAMES:
            return K.PUSH_SREG if word == "push" else K.POP_SREG
        return None
    if word in ("call", "jmp"):                  # capstone 5: far indirect is "call ptr [..]"
        if op_str.startswith("ptr"):
            return K.LCALL if word == "call" else K.LJMP
        return None
    (kind,) = [k for k, i in CATALOGUE.items() if word in i.mnemonics]
    return kind


def test_agrees_with_capstone_on_every_opcode_and_modrm():
    """Every one- and two-byte opcode with every ModRM byte, bare and behind 66 and F3: classify
    returns a kind exactly when capstone's mnemonic/operands say it should, so nothing the
    rewriter asks about is missed and nothing classify flags goes unasked."""
    tail = bytes(range(0x11, 0x1D))      # displacement/immediate filler
    bad = []
    for prefix in (b"", b"\x66", b"\xf3"):
        for b0 in range(256):
            if b0 == 0x0F:
                codes = [prefix + bytes((0x0F, b1, m)) + tail
                         for b1 in range(256) for m in range(256)]
            else:
                codes = [prefix + bytes((b0, m)) + tail for m in range(256)]
            for code in codes:
                d = cs_decode(code)
                if d is None:
                    continue
                size, mnemonic, op_str = d
                want = _capstone_kind(mnemonic, op_str)
                got = classify(code)
                if want == "skip":
                    if got is not None:
                        bad.append(f"{code[:size].hex(' ')}: {got.name} but capstone's "
                                   f"{mnemonic!r} is not a candidate")
                elif got is not want:
                    bad.append(f"{code[:size].hex(' ')}: {mnemonic} {op_str}: expected "
                               f"{getattr(want, 'name', want)}, got {getattr(got, 'name', got)}")
    assert not bad, f"{len(bad)} disagreements, e.g.\n" + "\n".join(bad[:20])
