"""classify: which catalogue entry (abi.Kind, docs/design.md §2) is the 32-bit instruction at code[0]?

The disassembler decodes with capstone's cheap `disasm_lite` (address, size, mnemonic, op_str)
and calls `classify(bytes)` only when the last word of the mnemonic is in CANDIDATE_MNEMONICS.
classify decodes the bytes itself (prefixes, opcode, ModRM) from one 256-entry table per opcode
map, so it never needs capstone's detail mode. Everything about the catalogue lives here: the
opcode tables, CATALOGUE (per kind: privileged?, control transfer?, capstone mnemonics, what an
unpatched one does on this host) and the small decoders the planner needs (sreg_of,
is_register_form, operand_size).

Encodings recognised (Intel SDM vol. 2 opcode maps; "/r" is ModRM.reg, "m" means ModRM.mod != 3,
"r" means mod == 3):

    CLI FA   STI FB   HLT F4   IN E4 ib, E5 ib, EC, ED   OUT E6 ib, E7 ib, EE, EF
    INS 6C, 6D   OUTS 6E, 6F   (any of 66/67/F2/F3, rep or not)
    PUSHF 9C   POPF 9D   IRET CF (66 CF = iretw)   INT CD ib (including CD 03)   INTO CE
    INT1 F1   LRET CA iw, CB   LCALL 9A ptr16:32, FF /3 m   LJMP EA ptr16:32, FF /5 m
    MOV_FROM_SREG 8C /r, r in es cs ss ds fs gs     MOV_TO_SREG 8E /r, r in es ss ds fs gs
    PUSH_SREG 06 0E 16 1E 0F A0 0F A8     POP_SREG 07 17 1F 0F A1 0F A9
    LOAD_FAR_PTR C4 m (les), C5 m (lds), 0F B2 m (lss), 0F B4 m (lfs), 0F B5 m (lgs)
    0F 00 /0 SLDT /1 STR /2 LLDT /3 LTR /4 VERR /5 VERW        (register and memory forms)
    0F 01 m: /0 SGDT /1 SIDT /2 LGDT /3 LIDT /4 SMSW /6 LMSW /7 INVLPG
    0F 01 r: C8 MONITOR C9 MWAIT CA CLAC CB STAC D1 XSETBV E0-E7 SMSW F0-F7 LMSW F9 RDTSCP
             C6 WRMSRNS -> WRMSR (capstone 5 cannot decode it, so the rewriter never asks)
    0F 02 LAR   0F 03 LSL   0F 05 SYSCALL   0F 06 CLTS   0F 07 SYSRET   0F 08 INVD
    0F 09 WBINVD (F3 0F 09 wbnoinvd -> WBINVD)   0F 20 MOV_FROM_CR  0F 21 MOV_FROM_DR
    0F 22 MOV_TO_CR  0F 23 MOV_TO_DR   (mod is ignored by the CPU: always a register form)
    0F 30 WRMSR  0F 31 RDTSC  0F 32 RDMSR  0F 33 RDPMC  0F 34 SYSENTER  0F 35 SYSEXIT
    0F A2 CPUID  0F AA RSM

Decisions:

- Prefixes 26 2E 36 3E 64 65 66 67 F0 F2 F3 are skipped, repeated and in any order, up to the
  15-byte limit; they never change the kind of a catalogued opcode (F3 0F 09 is wbnoinvd, kept
  as WBINVD). LOCK on any of these is #UD on hardware and capstone refuses to decode it; classify
  still returns the opcode's kind (the emulator must raise #UD, except AMD's `lock mov cr0` which
  is CR8), erring on the side of patching.
- Operand validity is the emulator's job where the instruction traps anyway: mov to/from CR1,
  CR5-7, DR4/DR5 are still MOV_*_CR/DR. But encodings the CPU rejects at decode (#UD) both on the
  guest's real ring 0 and in host ring 3 are None: 8C /6 /7, 8E /1 (mov cs — capstone decodes it
  anyway), 8E /6 /7, 0F 00 /6 /7, 0F 01 /5 m, FF /3 r, FF /5 r, 0F B2/B4/B5 r, and C4/C5 with
  mod == 3, which in 32-bit mode is a VEX prefix, not les/lds.
- CC int3 is None: it traps naturally (SIGTRAP), vector 3's gate is DPL 3 on a native kernel too,
  so the runtime reflects it as #BP like any other exception; and the TRAP tactic itself plants
  int3, so the runtime already tells its own int3 (address in the site table) from the guest's.
  CD 03 (`int $3` through the INT n encoding) is INT.
- 0F 01 D0 xgetbv is None (brief): it reads the host XCR0, which is also what xsave/xrstor use,
  so that is the truthful answer. Doubt: if the runtime virtualises XCR0 differently, make it a
  kind.
- VMX_SVM: the VMX/SVM/SGX/SMX instructions (0F 01 C0-C5, CF, D4, D7, D8-DF, 0F 78/79 without
  a 66/F2/F3 prefix, 0F C7 /6 /7 m, 0F 38 80/81, 0F 37 getsec) are #UD on the model, which has
  none of them (QEMU's qemu32, tests/guest/vmxud.c), but not in host ring 3 here: #GP for
  vmcall and most SVM instructions, and vmmcall is answered by the host's hypervisor without a
  fault (eax = -1). So they are patched, and the runtime raises #UD.
- Not sensitive here (None): xend/xtest; swapgs (#UD outside 64-bit mode); clzero.
- Possibly-missing kinds (sensitive, no Kind in abi; the runtime's virtual CPUID must hide the
  feature bit so a guest never executes them): RDPID F3 0F C7 /7 (silently returns host TSC_AUX,
  measured), XSAVES/XRSTORS 0F C7 /5 /3 and INVPCID 66 0F 38 82 (CPL 0 only: #GP, caught),
  RDPKRU/WRPKRU (SIGILL here, no OSPKE), MONITORX/MWAITX 0F 01 FA/FB (silent here), WAITPKG
  umonitor/umwait/tpause, RDPRU 0F 01 FD, INVLPGB/TLBSYNC 0F 01 FE/FF (CPL 0), CET
  setssbsy/clrssbsy/wrussd (CPL 0).

`privileged` (CATALOGUE) means "an unpatched one in the guest faults in host ring 3, so the
runtime catches it"; `host_ring3` records what a 32-bit process in compatibility mode did on this
machine (AMD EPYC, Linux 6.18, UMIP on; measured with a freestanding -m32 probe). It differs from
docs/design.md §2 in four places: int n (int $0x80 is a real host syscall), syscall (a real host syscall
on AMD), iret/lcall/ljmp/lret (silent for a same-CPL target, e.g. ljmp $0x23) and segment loads
(a null selector or any selector naming a host DPL-3 descriptor, e.g. a Linux guest's __USER_DS
0x7b = host GDT entry 15, CPUNODE, loads silently) are all privileged=False. sysenter is #UD in
long mode on AMD (SIGILL, privileged=True); on an Intel host it would be a real host syscall.

`control_transfer`: execution does not (necessarily) continue at the next instruction: iret,
int n, into, int1, lcall, ljmp, lret, sysenter, sysexit, syscall, sysret, rsm. hlt is not one:
execution resumes at the next instruction once an interrupt has been delivered, exactly as for
sti/popf when a virtual interrupt is pending.
"""

from __future__ import annotations

from dataclasses import dataclass

from .abi import Kind

__all__ = ["CANDIDATE_MNEMONICS", "CATALOGUE", "Info", "PREFIXES", "classify",
           "is_register_form", "operand_size", "sreg_of", "control_register"]


@dataclass(frozen=True)
class Info:
    kind: Kind
    privileged: bool          # faults in host ring 3: a missed one is caught by the runtime
    control_transfer: bool    # may not continue at the next instruction
    description: str
    mnemonics: frozenset[str]  # what capstone 5 prints (last word of the mnemonic)
    host_ring3: str           # what an unpatched one did at CPL 3 on this host (see docstring)


def _i(kind, privileged, control_transfer, description, mnemonics, host_ring3):
    return Info(kind, privileged, control_transfer, description, frozenset(mnemonics.split()),
                host_ring3)


K = Kind
SEGV, ILL, SILENT = "SIGSEGV", "SIGILL", "silent"

CATALOGUE: dict[Kind, Info] = {i.kind: i for i in (
    _i(K.CLI, True, False, "cli: clear IF", "cli", SEGV),
    _i(K.STI, True, False, "sti: set IF (one-instruction interrupt shadow)", "sti", SEGV),
    _i(K.HLT, True, False, "hlt: wait for an interrupt", "hlt", SEGV),
    _i(K.IN, True, False, "in al/ax/eax from port imm8 or dx", "in", SEGV),
    _i(K.OUT, True, False, "out al/ax/eax to port imm8 or dx", "out", SEGV),
    _i(K.INS, True, False, "ins[bwd] (rep or not): port dx to es:[edi]",
       "insb insw insd", SEGV),
    _i(K.OUTS, True, False, "outs[bwd] (rep or not): ds:[esi] (or override) to port dx",
       "outsb outsw outsd", SEGV),
    _i(K.LGDT, True, False, "lgdt m16&32: load GDTR", "lgdt", SEGV),
    _i(K.LIDT, True, False, "lidt m16&32: load IDTR", "lidt", SEGV),
    _i(K.LLDT, True, False, "lldt r/m16: load LDTR", "lldt", SEGV),
    _i(K.LTR, True, False, "ltr r/m16: load the task register", "ltr", SEGV),
    _i(K.MOV_TO_CR, True, False, "mov crN, r32 (N in 0 2 3 4; others #UD)", "mov", SEGV),
    _i(K.MOV_FROM_CR, True, False, "mov r32, crN", "mov", SEGV),
    _i(K.MOV_TO_DR, True, False, "mov drN, r32 (N in 0-3 6 7; 4/5 alias 6/7)", "mov", SEGV),
    _i(K.MOV_FROM_DR, True, False, "mov r32, drN", "mov", SEGV),
    _i(K.INVLPG, True, False, "invlpg m: flush one TLB entry", "invlpg", SEGV),
    _i(K.WBINVD, True, False, "wbinvd / wbnoinvd (F3): write back caches", "wbinvd wbnoinvd",
       SEGV),
    _i(K.INVD, True, False, "invd: invalidate caches", "invd", SEGV),
    _i(K.CLTS, True, False, "clts: clear CR0.TS", "clts", SEGV),
    _i(K.LMSW, True, False, "lmsw r/m16: load CR0 low bits", "lmsw", SEGV),
    _i(K.RDMSR, True, False, "rdmsr: edx:eax = MSR[ecx]", "rdmsr", SEGV),
    _i(K.WRMSR, True, False, "wrmsr (and wrmsrns 0F 01 C6): MSR[ecx] = edx:eax", "wrmsr", SEGV),
    _i(K.RDPMC, True, False, "rdpmc: read performance counter ecx (faults: CR4.PCE clear)",
       "rdpmc", SEGV),
    _i(K.IRET, False, True, "iret/iretw: return from interrupt (same CPL: silently ignores IF)",
       "iret iretd", SILENT),
    _i(K.INT, False, True, "int imm8: software interrupt (int $0x80 is a real host syscall)",
       "int", "SIGSEGV; int $0x80: host syscall"),
    _i(K.INTO, True, True, "into: #OF if OF=1, else nothing", "into", "SIGSEGV if OF=1"),
    _i(K.INT1, True, True, "int1/icebp (F1): #DB trap", "int1", "SIGTRAP"),
    _i(K.LCALL, False, True, "lcall ptr16:32 / m16:32: far call (silent to a host CS)",
       "lcall call", "silent to 0x23, else SIGSEGV"),
    _i(K.LJMP, False, True, "ljmp ptr16:32 / m16:32: far jump (silent to a host CS)",
       "ljmp jmp", "silent to 0x23, else SIGSEGV"),
    _i(K.LRET, False, True, "lret [imm16]: far return (silent to a host CS)", "retf",
       "silent to 0x23, else SIGSEGV"),
    _i(K.MOV_TO_SREG, False, False, "mov sreg, r/m16 (es ss ds fs gs; ss starts an interrupt "
       "shadow)", "mov", "silent for null/host-valid selectors, else SIGSEGV"),
    _i(K.POP_SREG, False, False, "pop es/ss/ds/fs/gs (ss starts an interrupt shadow)", "pop",
       "silent for null/host-valid selectors, else SIGSEGV"),
    _i(K.LOAD_FAR_PTR, False, False, "les/lds/lss/lfs/lgs r, m16:32: load a far pointer",
       "les lds lss lfs lgs", "silent for null/host-valid selectors, else SIGSEGV"),
    _i(K.SYSENTER, True, True, "sysenter: fast system call", "sysenter",
       "SIGILL (AMD long mode); host syscall on Intel"),
    _i(K.SYSEXIT, True, True, "sysexit: fast return to CPL 3", "sysexit", SEGV),
    _i(K.PUSHF, False, False, "pushf/pushfd: push EFLAGS (IF/IOPL read wrong)", "pushf pushfd",
       SILENT),
    _i(K.POPF, False, False, "popf/popfd: pop EFLAGS (IF/IOPL writes silently ignored)",
       "popf popfd", SILENT),
    _i(K.SGDT, False, False, "sgdt m: store GDTR (UMIP-emulated: host dummy)", "sgdt", SILENT),
    _i(K.SIDT, False, False, "sidt m: store IDTR (UMIP-emulated: host dummy)", "sidt", SILENT),
    _i(K.SLDT, False, False, "sldt r/m: store LDTR selector", "sldt", SILENT),
    _i(K.STR, False, False, "str r/m: store TR selector", "str", SILENT),
    _i(K.SMSW, False, False, "smsw r/m: store CR0 low bits", "smsw", SILENT),
    _i(K.LAR, False, False, "lar r, r/m16: access rights of a host descriptor", "lar", SILENT),
    _i(K.LSL, False, False, "lsl r, r/m16: limit of a host descriptor", "lsl", SILENT),
    _i(K.VERR, False, False, "verr r/m16: readable per a host descriptor", "verr", SILENT),
    _i(K.VERW, False, False, "verw r/m16: writable per a host descriptor", "verw", SILENT),
    _i(K.MOV_FROM_SREG, False, False, "mov r/m16, sreg (reveals RPL 3)", "mov", SILENT),
    _i(K.PUSH_SREG, False, False, "push es/cs/ss/ds/fs/gs (reveals RPL 3)", "push", SILENT),
    _i(K.CPUID, False, False, "cpuid: host features", "cpuid", SILENT),
    _i(K.RDTSC, False, False, "rdtsc: host time stamp counter", "rdtsc", SILENT),
    _i(K.RDTSCP, False, False, "rdtscp: host TSC and TSC_AUX", "rdtscp", SILENT),
    _i(K.MONITOR, True, False, "monitor: arm address monitoring", "monitor", ILL),
    _i(K.MWAIT, True, False, "mwait: wait on the monitor (like hlt)", "mwait", ILL),
    _i(K.XSETBV, True, False, "xsetbv: XCR[ecx] = edx:eax", "xsetbv", SEGV),
    _i(K.CLAC, True, False, "clac: clear EFLAGS.AC (#UD at CPL > 0)", "clac", ILL),
    _i(K.STAC, True, False, "stac: set EFLAGS.AC (#UD at CPL > 0)", "stac", ILL),
    _i(K.SYSCALL, False, True, "syscall (AMD legacy mode): a real host syscall here", "syscall",
       "host syscall"),
    _i(K.SYSRET, True, True, "sysret: return from syscall", "sysret", SEGV),
    _i(K.RSM, True, True, "rsm: resume from SMM (#UD outside SMM)", "rsm", ILL),
    _i(K.VMX_SVM, False, False, "VMX/SVM/SGX/SMX instructions: #UD on the model (qemu32 has "
       "none of them)", "vmcall vmlaunch vmresume vmxoff vmfunc vmptrld vmclear vmxon vmptrst "
       "vmread vmwrite invept invvpid vmrun vmmcall vmload vmsave stgi clgi skinit invlpga "
       "encls enclu enclv pconfig getsec",
       "SIGSEGV (#GP) for most; vmmcall silent here (the host's hypervisor answers it: eax = -1)"),
)}

CANDIDATE_MNEMONICS: frozenset[str] = frozenset().union(*(i.mnemonics for i in CATALOGUE.values()))

# ---- the decoder ----------------------------------------------------------------------------
# _T1 (one-byte map) and _T2 (0F map): None, or f(code, i) -> Kind | None with i the index of the
# byte after the opcode (the ModRM byte if there is one).

# The legacy prefixes of 32-bit code (segment overrides, operand and address size, lock,
# repne/repe): the one table of them, which the planner and the trampoline builder import.
PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))
_MAX_LEN = 15


def _const(kind):
    def f(code, i):
        return kind
    f.__name__ = "_" + kind.name.lower()
    return f


def _mem(kind):
    """kind if ModRM.mod != 3 (memory operand), else None (#UD or another instruction)."""
    def f(code, i):
        return kind if code[i] < 0xC0 else None
    f.__name__ = "_" + kind.name.lower() + "_mem"
    return f


def _by_reg(kinds, mem_only=False):
    """Kind chosen by ModRM.reg."""
    kinds = tuple(kinds)

    def f(code, i):
        m = code[i]
        if mem_only and m >= 0xC0:
            return None
        return kinds[(m >> 3) & 7]
    return f


_MOV_FROM_SREG = (K.MOV_FROM_SREG,) * 6 + (None, None)
_MOV_TO_SREG = (K.MOV_TO_SREG, None, K.MOV_TO_SREG, K.MOV_TO_SREG, K.MOV_TO_SREG,
                K.MOV_TO_SREG, None, None)
_GRP5 = (None, None, None, K.LCALL, None, K.LJMP, None, None)
_GRP6 = (K.SLDT, K.STR, K.LLDT, K.LTR, K.VERR, K.VERW, None, None)
_GRP7_MEM = (K.SGDT, K.SIDT, K.LGDT, K.LIDT, K.SMSW, None, K.LMSW, K.INVLPG)
_GRP7_REG = {0xC6: K.WRMSR, 0xC8: K.MONITOR, 0xC9: K.MWAIT, 0xCA: K.CLAC, 0xCB: K.STAC,
             0xD1: K.XSETBV, 0xF9: K.RDTSCP}
# VMX/SGX (enclv vmcall vmlaunch vmresume vmxoff pconfig encls vmfunc enclu) and SVM (D8-DF).
_GRP7_REG.update({m: K.VMX_SVM for m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xCF, 0xD4, 0xD7,
                                         *range(0xD8, 0xE0))})
_GRP7_REG.update({m: K.SMSW for m in range(0xE0, 0xE8)})
_GRP7_REG.update({m: K.LMSW for m in range(0xF0, 0xF8)})


def _grp7(code, i):
    m = code[i]
    if m < 0xC0:
        return _GRP7_MEM[(m >> 3) & 7]
    return _GRP7_REG.get(m)


_T2_LIST: list = [None] * 256
for _op, _k in ((0x02, K.LAR), (0x03, K.LSL), (0x05, K.SYSCALL), (0x06, K.CLTS),
                (0x07, K.SYSRET), (0x08, K.INVD), (0x09, K.WBINVD), (0x20, K.MOV_FROM_CR),
                (0x21, K.MOV_FROM_DR), (0x22, K.MOV_TO_CR), (0x23, K.MOV_TO_DR),
                (0x30, K.WRMSR), (0x31, K.RDTSC), (0x32, K.RDMSR), (0x33, K.RDPMC),
                (0x34, K.SYSENTER), (0x35, K.SYSEXIT), (0xA0, K.PUSH_SREG), (0xA1, K.POP_SREG),
                (0xA2, K.CPUID), (0xA8, K.PUSH_SREG), (0xA9, K.POP_SREG), (0xAA, K.RSM)):
    _T2_LIST[_op] = _const(_k)
def _no_simd_prefix(kind):
    """kind unless a 66/F2/F3 prefix makes the opcode another (SSE4a) instruction."""
    def f(code, i):
        j = 0
        while code[j] in PREFIXES:
            if code[j] in (0x66, 0xF2, 0xF3):
                return None
            j += 1
        return kind
    f.__name__ = "_" + kind.name.lower() + "_no_simd_prefix"
    return f


def _grp9(code, i):
    """0F C7: /6 /7 with a memory operand are vmptrld/vmclear/vmxon and vmptrst; the register
    forms are rdrand/rdseed/rdpid, the other /r cmpxchg8b and xsave forms."""
    m = code[i]
    return K.VMX_SVM if m < 0xC0 and (m >> 3) & 7 >= 6 else None


def _three_byte_38(code, i):
    """0F 38 80 invept, 0F 38 81 invvpid (with 66; without it the CPU says #UD as well)."""
    return K.VMX_SVM if code[i] in (0x80, 0x81) else None


_T2_LIST[0x37] = _const(K.VMX_SVM)             # getsec
_T2_LIST[0x78] = _no_simd_prefix(K.VMX_SVM)    # vmread (66/F2: extrq/insertq)
_T2_LIST[0x79] = _no_simd_prefix(K.VMX_SVM)    # vmwrite
_T2_LIST[0xC7] = _grp9
_T2_LIST[0x38] = _three_byte_38
_T2_LIST[0x00] = _by_reg(_GRP6)
_T2_LIST[0x01] = _grp7
for _op in (0xB2, 0xB4, 0xB5):
    _T2_LIST[_op] = _mem(K.LOAD_FAR_PTR)
_T2 = tuple(_T2_LIST)


def _two_byte(code, i):
    e = _T2[code[i]]
    if e is None:
        return None
    return e(code, i + 1)


def _prefixed(code, i):
    n = len(code)
    if n > _MAX_LEN:
        n = _MAX_LEN
    while i < n:
        b = code[i]
        if b not in PREFIXES:
            e = _T1[b]
            if e is None:
                return None
            return e(code, i + 1)
        i += 1
    return None


_T1_LIST: list = [None] * 256
for _op, _k in ((0x06, K.PUSH_SREG), (0x0E, K.PUSH_SREG), (0x16, K.PUSH_SREG),
                (0x1E, K.PUSH_SREG), (0x07, K.POP_SREG), (0x17, K.POP_SREG), (0x1F, K.POP_SREG),
                (0x6C, K.INS), (0x6D, K.INS), (0x6E, K.OUTS), (0x6F, K.OUTS),
                (0x9A, K.LCALL), (0x9C, K.PUSHF), (0x9D, K.POPF), (0xCA, K.LRET),
                (0xCB, K.LRET), (0xCD, K.INT), (0xCE, K.INTO), (0xCF, K.IRET),
                (0xE4, K.IN), (0xE5, K.IN), (0xEC, K.IN), (0xED, K.IN), (0xE6, K.OUT),
                (0xE7, K.OUT), (0xEE, K.OUT), (0xEF, K.OUT), (0xEA, K.LJMP), (0xF1, K.INT1),
                (0xF4, K.HLT), (0xFA, K.CLI), (0xFB, K.STI)):
    _T1_LIST[_op] = _const(_k)
_T1_LIST[0x0F] = _two_byte
_T1_LIST[0x8C] = _by_reg(_MOV_FROM_SREG)
_T1_LIST[0x8E] = _by_reg(_MOV_TO_SREG)
_T1_LIST[0xC4] = _mem(K.LOAD_FAR_PTR)       # mod == 3: VEX3
_T1_LIST[0xC5] = _mem(K.LOAD_FAR_PTR)       # mod == 3: VEX2
_T1_LIST[0xFF] = _by_reg(_GRP5, mem_only=True)
for _op in PREFIXES:
    _T1_LIST[_op] = _prefixed
_T1 = tuple(_T1_LIST)
del _op, _k


def classify(code: bytes) -> Kind | None:
    """The catalogue kind of the 32-bit-mode instruction at code[0], or None if not sensitive.

    code holds the instruction's bytes (it may run on past the instruction; only the prefixes,
    the opcode and the ModRM byte are read). Truncated or empty input gives None.
    """
    try:
        e = _T1[code[0]]
        if e is None:
            return None
        return e(code, 1)
    except IndexError:
        return None


# ---- helpers for the planner ---------------------------------------------------------------

def _opcode(code):
    """(opcode, index of the byte after it, 66 seen): opcode is b or 0x0F00 | b2."""
    n = min(len(code), _MAX_LEN)
    i = 0
    o16 = False
    while i < n and code[i] in PREFIXES:
        if code[i] == 0x66:
            o16 = True
        i += 1
    if i >= n:
        return None, i, o16
    op = code[i]
    i += 1
    if op == 0x0F:
        if i >= len(code):
            return None, i, o16
        op = 0x0F00 | code[i]
        i += 1
    return op, i, o16


_SREG_FIXED = {0x06: 0, 0x07: 0, 0x0E: 1, 0x16: 2, 0x17: 2, 0x1E: 3, 0x1F: 3,
               0x0FA0: 4, 0x0FA1: 4, 0x0FA8: 5, 0x0FA9: 5}
_SREG_FAR = {0xC4: 0, 0xC5: 3, 0x0FB2: 2, 0x0FB4: 4, 0x0FB5: 5}   # les lds lss lfs lgs
_MODRM_OPS = frozenset((0x8C, 0x8E, 0xC4, 0xC5, 0xFF, 0x0F00, 0x0F01, 0x0F02, 0x0F03,
                        0x0F20, 0x0F21, 0x0F22, 0x0F23, 0x0F78, 0x0F79, 0x0FB2, 0x0FB4, 0x0FB5,
                        0x0FC7))
_ALWAYS_REG = frozenset((0x0F20, 0x0F21, 0x0F22, 0x0F23))


def sreg_of(code: bytes) -> int | None:
    """Segment register (abi.SREG_*: es cs ss ds fs gs) that a MOV_FROM_SREG, MOV_TO_SREG,
    PUSH_SREG, POP_SREG or LOAD_FAR_PTR instruction reads or writes; None for anything else."""
    try:
        op, i, _ = _opcode(code)
        s = _SREG_FIXED.get(op)
        if s is not None:
            return s
        if op == 0x8C or op == 0x8E:
            if classify(code) is None:
                return None
            return (code[i] >> 3) & 7
        s = _SREG_FAR.get(op)
        if s is not None and code[i] < 0xC0:
            return s
        return None
    except IndexError:
        return None


def control_register(code: bytes) -> int | None:
    """N of `mov r32, crN` / `mov crN, r32` (0F 20 / 0F 22: ModRM.reg); None for anything else."""
    try:
        op, i, _ = _opcode(code)
        return (code[i] >> 3) & 7 if op in (0x0F20, 0x0F22) else None
    except IndexError:
        return None


def is_register_form(code: bytes) -> bool:
    """True if the instruction has a ModRM byte whose operand is a register (mod == 3; always
    for mov to/from CR/DR, whose mod bits the CPU ignores). False with a memory operand or no
    ModRM at all (cli, push es, lcall ptr16:32, ...)."""
    try:
        op, i, _ = _opcode(code)
        if op not in _MODRM_OPS:
            return False
        return op in _ALWAYS_REG or code[i] >= 0xC0
    except IndexError:
        return False


def operand_size(code: bytes) -> int:
    """16 with an operand-size prefix (66) before the opcode, else 32: the size pushf/popf,
    push/pop sreg, iret, lret, lcall and ljmp push, pop or read."""
    return 16 if _opcode(code)[2] else 32
