"""Python mirror of runtime/include/abi.h, the contract between rewriter and runtime.

abi.h is the source of truth; tests/test_abi.py compiles a probe against it and checks every
constant, offset and structure layout here. Change both together.
"""

import enum
import struct

ABI_VERSION = 5

WINDOW_DEFAULT = 0xFFC00000
WINDOW_SIZE = 0x00400000
VCPU_OFF = 0x00000000
HCSTACK_OFF = 0x00001000
HCSTACK_SIZE = 0x00002000
ENTRY_OFF = 0x00003000
IMAGE_OFF = 0x00010000
IMAGE_MAX = WINDOW_SIZE - IMAGE_OFF

VCPU_VIF = 0x00
VCPU_VFLAGS = 0x04
VCPU_PENDING = 0x08
VCPU_SAVED_ESP = 0x0C
VCPU_SCRATCH = 0x10
VCPU_SEL = 0x20
VCPU_SEGFAST = 0x40
VCPU_TSCRATCH = 0x60
VCPU_CR = 0x80
VCPU_MMIOC = 0x100
MMIOC_N = 64
VCPU_PORTFAST = 0xA0
VCPU_PORTC = 0x300
PORTC_N = 16
PORTC_SHIFT = 4
PORTC_VALID = 0x1000000
PORTC_OUT = 0x2000000
VCPU_SEGC = 0x400
SEGC_N = 64
SEGC_VALID = 0x10000

SREG_ES, SREG_CS, SREG_SS, SREG_DS, SREG_FS, SREG_GS = range(6)
SREG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")

EFLAGS_IF = 0x00000200
EFLAGS_IOPL = 0x00003000
EFLAGS_NT = 0x00004000
EFLAGS_AC = 0x00040000
EFLAGS_VIRT = EFLAGS_IF | EFLAGS_IOPL | EFLAGS_AC   # NT: held by the host (abi.h)

MAGIC = b"RING1IMG"
NOTE_NAME = b"ring1"
NOTE_ABI = 0x52310001
SECTION_NAME = ".ring1"

F_TRAP_ONLY = 0x1


class Tactic(enum.IntEnum):
    INLINE = 1
    TRAMPOLINE = 2
    TRAP = 3


class Kind(enum.IntEnum):
    """One per entry of the sensitive-instruction catalogue (docs/design.md §2), and MMIO (a site a
    profile made); values as in abi.h."""
    CLI = 1
    STI = 2
    HLT = 3
    IN = 4
    OUT = 5
    INS = 6
    OUTS = 7
    LGDT = 8
    LIDT = 9
    LLDT = 10
    LTR = 11
    MOV_TO_CR = 12
    MOV_FROM_CR = 13
    MOV_TO_DR = 14
    MOV_FROM_DR = 15
    INVLPG = 16
    WBINVD = 17
    INVD = 18
    CLTS = 19
    LMSW = 20
    RDMSR = 21
    WRMSR = 22
    RDPMC = 23
    IRET = 24
    INT = 25
    INTO = 26
    INT1 = 27
    LCALL = 28
    LJMP = 29
    LRET = 30
    MOV_TO_SREG = 31
    POP_SREG = 32
    LOAD_FAR_PTR = 33
    SYSENTER = 34
    SYSEXIT = 35
    PUSHF = 36
    POPF = 37
    SGDT = 38
    SIDT = 39
    SLDT = 40
    STR = 41
    SMSW = 42
    LAR = 43
    LSL = 44
    VERR = 45
    VERW = 46
    MOV_FROM_SREG = 47
    PUSH_SREG = 48
    CPUID = 49
    RDTSC = 50
    RDTSCP = 51
    MONITOR = 52
    MWAIT = 53
    XSETBV = 54
    CLAC = 55
    STAC = 56
    SYSCALL = 57
    SYSRET = 58
    RSM = 59
    MMIO = 60      # not in the catalogue: a memory access a profile saw reach a device (abi.h)


# struct layouts (little-endian, packed as in abi.h)
NOTE = struct.Struct("<IIII32s")                 # struct r1_note
OPTIONS = struct.Struct("<II24s")                # struct r1_options (after r1_note)
HEADER = struct.Struct("<8sIIIIIIIIIIIIIIII32s")  # struct r1_header
SITE = struct.Struct("<IIIHBB16s")               # struct r1_site
MAP = struct.Struct("<II")                       # struct r1_map
UNDO = struct.Struct("<II")                      # struct r1_undo
SEGC = struct.Struct("<IIII")                    # struct r1_segc (vCPU page, R1_VCPU_SEGC)
MMIOC = struct.Struct("<II")                     # struct r1_mmioc (vCPU page, R1_VCPU_MMIOC)
PORTC = struct.Struct("<IIII")                   # struct r1_portc (vCPU page, R1_VCPU_PORTC)

HEADER_FIELDS = ("magic", "abi_version", "window_base", "header_size", "flags", "nsites",
                 "sites_off", "nmap_o2t", "map_o2t_off", "nmap_t2o", "map_t2o_off", "tramp_off",
                 "tramp_size",
                 "entry_point", "undo_off", "undo_size", "orig_file_size", "input_sha256")
NOTE_FIELDS = ("abi_version", "window_base", "image_vaddr", "flags", "input_sha256")
OPTIONS_FIELDS = ("tactics", "reserved", "rewriter")
SITE_FIELDS = ("addr", "resume", "tramp", "kind", "tactic", "len", "bytes")
MAP_FIELDS = ("orig", "tramp")
UNDO_FIELDS = ("offset", "len")
SEGC_FIELDS = ("key", "lin", "desc_lo", "desc_hi")
MMIOC_FIELDS = ("key", "value")
PORTC_FIELDS = ("key", "value", "hits", "reserved")


def tactic_bits(tactics) -> int:
    """struct r1_options.tactics for a set of tactics."""
    return sum(1 << int(t) for t in set(tactics))


def tactics_of(bits: int) -> tuple[Tactic, ...]:
    """The tactics named by struct r1_options.tactics, in order (ValueError on unknown bits)."""
    known = tactic_bits(Tactic)
    if bits & ~known:
        raise ValueError(f"unknown tactic bits {bits & ~known:#x}")
    return tuple(t for t in sorted(Tactic) if bits & (1 << int(t)))


def vcpu(window_base: int, field: int) -> int:
    """Absolute guest address of a vCPU page field."""
    return window_base + VCPU_OFF + field


def portc_slot(port: int) -> int:
    """Index of a port's entry in the vCPU page's port cache (abi.h, R1_VCPU_PORTC)."""
    return (port ^ (port >> PORTC_SHIFT)) & (PORTC_N - 1)


def portc_key(port: int, size: int, out: bool) -> int:
    return port | size << 16 | PORTC_VALID | (PORTC_OUT if out else 0)


def hcstack_top(window_base: int) -> int:
    return window_base + HCSTACK_OFF + HCSTACK_SIZE


def entry(window_base: int) -> int:
    return window_base + ENTRY_OFF


def image_base(window_base: int) -> int:
    return window_base + IMAGE_OFF
