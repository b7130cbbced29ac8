"""Stage 5 — trampolines: the code each region moves to, and the maps between the two.

A region's trampoline holds one "piece" per moved instruction, in order, then the copies of its
tail (plan.py), then `jmp` back to where the last of them falls through; out-of-line slow paths
(pending-interrupt delivery after an inline sti/popf) follow. A moved instruction's piece is in
both maps; a copy is only in t2o (a fault or interrupt in it is at the original's address, and
o2t keeps sending the original address to the original's own piece, or leaves it as it is).
Translations (runtime/include/abi.h has the vCPU fields and the hypercall protocol):

    cli              mov dword [vif], 0
    sti              mov dword [vif], 0x200; the pending check follows the NEXT instruction when
                     it is in the region (the sti interrupt shadow: `sti; hlt` sleeps correctly)
    pushf            host flags - IF + vif + vflags, computed with lea (flags untouched)
    popf             split IF / IOPL|NT|AC into the vCPU page, popf the rest, pending check
    mov r, sreg      mov r, [sel + 4*sreg]     push sreg   push [sel + 4*sreg]
    mov r, crN       mov r, [cr + 4*N]         (N = 0, 2, 3, 4; the runtime writes them)
    mov sreg, r16    (es ds fs gs; and pop sreg) a fast path, then the hypercall on a miss: the
                     load alone when the runtime's segment-load cache says the descriptor is
                     the one it checked last time (abi.h, R1_VCPU_SEGFAST)
    in, out          (imm8 and dx, every size) a fast path, then the hypercall on a miss: the
                     access answered from the vCPU page's port cache (abi.h, R1_VCPU_PORTC)
    MMIO site        (a profile's `mov r32, [mem]`) likewise from the MMIO read cache
    anything else    hypercall: save esp, switch to the hypercall stack, push index, call entry
Relative branches are re-encoded with rel32 to their original targets -- or, for a target
inside a region but not its first instruction (the planner moves such a target only with
every branch to it: into the same region, or into others, site-less ones among them), to
its piece; a moved `call` becomes `push original_return; jmp target` so the guest never sees a
trampoline address.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import keystone

from . import abi
from .abi import Kind, Tactic
from .classify import PREFIXES as _PREFIXES, operand_size, sreg_of
from .disasm import CALL, JCC, JMP, NO_FALLTHROUGH
from .errors import Ring1Error
from .plan import Plan, copy_translation

ALIGN = 16
_REG32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
_REG16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
_VIRT_OTHER = abi.EFLAGS_VIRT & ~abi.EFLAGS_IF


@dataclass
class Layout:
    base: int                                  # address of the trampoline area
    code: bytearray = field(default_factory=bytearray)
    region_tramp: dict[int, int] = field(default_factory=dict)   # region start -> trampoline
    resume: dict[int, int] = field(default_factory=dict)         # site addr -> resume address
    o2t: list[tuple[int, int]] = field(default_factory=list)
    t2o: list[tuple[int, int]] = field(default_factory=list)

    @property
    def cursor(self) -> int:
        return self.base + len(self.code)


class Assembler:
    """keystone, with a cache: the same template at the same address assembles once."""

    def __init__(self):
        self.ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
        self.cache: dict[tuple[str, int], bytes] = {}

    def asm(self, text: str, addr: int) -> bytes:
        key = (text, addr)
        out = self.cache.get(key)
        if out is None:
            try:
                enc, _ = self.ks.asm(text, addr)
            except keystone.KsError as e:
                raise Ring1Error(f"keystone cannot assemble {text!r} at {addr:#x}: {e}")
            out = self.cache[key] = bytes(enc)
        return out


def _rel32(src_end: int, dst: int) -> bytes:
    return struct.pack("<i", ((dst - src_end + 0x80000000) & 0xFFFFFFFF) - 0x80000000)


def jmp_rel32(at: int, dst: int) -> bytes:
    return b"\xE9" + _rel32(at + 5, dst)


def _modrm_index(code: bytes) -> int:
    i = 0
    while code[i] in _PREFIXES:
        i += 1
    return i + (2 if code[i] == 0x0F else 1)


class Builder:
    def __init__(self, plan: Plan, d, base: int):
        self.plan = plan
        self.d = d
        self.w = plan.window_base
        self.lay = Layout(base=base)
        self.ks = Assembler()
        self.index = {s.addr: i for i, s in enumerate(plan.sites)}
        self.sites = {s.addr: s for s in plan.sites}
        # moved instructions but the first of each region (their original bytes are now the
        # region's jmp or int3 fill): a branch to one from another region, or from a tail, is
        # aimed at its piece (build())
        self.interior = {a for r in plan.regions for a, _ in r.insns[1:]}
        self.cross: list[tuple[int, int]] = []   # (rel32 position, original target)

    # --- emission helpers ------------------------------------------------------------------
    def emit(self, b: bytes) -> int:
        at = self.lay.cursor
        self.lay.code += b
        return at

    def asm(self, *lines: str) -> int:
        at = self.lay.cursor
        for line in lines:
            self.lay.code += self.ks.asm(line, self.lay.cursor)
        return at

    def v(self, field_off: int) -> str:
        return f"dword ptr [{abi.vcpu(self.w, field_off):#x}]"

    def hypercall_lines(self, site_addr: int) -> list[str]:
        return [f"mov {self.v(abi.VCPU_SAVED_ESP)}, esp",
                f"mov esp, {abi.hcstack_top(self.w):#x}",
                f"push {self.index[site_addr]:#x}",
                f"call {abi.entry(self.w):#x}"]

    def hypercall(self, site_addr: int) -> int:
        """Emit the hypercall sequence; returns the resume address."""
        site = self.sites[site_addr]
        if site.kind == Kind.MMIO:
            fast = self.mmio_fast_path(site)
        elif site.kind in (Kind.IN, Kind.OUT):
            fast = self.port_fast_path(site)
        else:
            fast = self.sreg_fast_path(site)
        if fast is None:
            self.asm(*self.hypercall_lines(site_addr))
        else:
            # one block, so that keystone resolves the fast path's labels
            self.asm("\n".join(fast + self.hypercall_lines(site_addr) + ["resume:"]))
        return self.lay.cursor

    def mmio_fast_path(self, s) -> list[str] | None:
        """A profile-made MMIO site of the form `mov r32, [mem]` (no prefix; no ESP/EBP base,
        whose segment is SS) or `mov eax, [moffs32]`: the register's value from the vCPU
        page's read cache (abi.h, R1_VCPU_MMIOC) when the runtime has one for the operand's
        address and DS is flat at CPL 0; else the hypercall. The address comes from
        `lea edx, [mem]` (the instruction's own ModRM, SIB and displacement) or `mov edx,
        moffs32`. None for other forms."""
        code = s.code
        if len(code) == 5 and code[0] == 0xA1:       # mov eax, [moffs32]
            reg, lea = 0, b"\xBA" + code[1:]          # (mov edx, moffs32: the address)
        elif len(code) >= 2 and code[0] == 0x8B:
            m = code[1]
            mod, reg, rm = m >> 6, (m >> 3) & 7, m & 7
            if mod == 3 or reg == 4:
                return None
            base = None
            if rm == 4:                               # SIB
                if len(code) < 3:
                    return None
                b = code[2] & 7
                base = None if (b == 5 and mod == 0) else b
            elif not (rm == 5 and mod == 0):
                base = rm
            if base in (4, 5):
                return None
            lea = bytes((0x8D, (m & 0xC7) | (2 << 3))) + code[2:]
        else:
            return None
        t = [self.v(abi.VCPU_TSCRATCH + 4 * i) for i in range(5)]
        cache = abi.vcpu(self.w, abi.VCPU_MMIOC)
        restore = [f"mov eax, {t[4]}", "add al, 0x7f", "sahf", f"mov eax, {t[0]}",
                   f"mov ecx, {t[1]}", f"mov edx, {t[2]}"]
        return ([f"mov {t[2]}, edx"] + [f".byte {b:#x}" for b in lea] +
                [f"mov {t[0]}, eax", f"mov {t[1]}, ecx", "lahf", "seto al", f"mov {t[4]}, eax",
                 f"cmp {self.v(abi.VCPU_SEGFAST + 4 * abi.SREG_DS)}, 0", "je miss",
                 "test dl, 3", "jne miss",
                 "mov ecx, edx", "shr ecx, 4", f"and ecx, {abi.MMIOC_N - 1}",
                 f"lea ecx, [ecx*8 + {cache:#x}]",
                 "lea eax, [edx + 1]", "cmp eax, dword ptr [ecx]", "jne miss",
                 "mov eax, dword ptr [ecx + 4]", f"mov {t[3]}, eax"] + restore +
                [f"mov {_REG32[reg]}, {t[3]}", "jmp resume", "miss:"] + restore)

    def port_fast_path(self, s) -> list[str] | None:
        """`in al/ax/eax, imm8|dx` and `out imm8|dx, al/ax/eax` (no prefix but 0x66): the
        access answered from the vCPU page's port cache (abi.h, R1_VCPU_PORTC) when PORTFAST
        is set and the port's entry has the access's key and hits left (decremented): `in`
        takes the entry's value, `out` does nothing. Else the hypercall. With an imm8 port
        the entry's address is a constant and ECX (through jecxz and lea) is all it takes,
        flags untouched; with DX the index is computed, flags saved with lahf/seto."""
        code = bytes(s.code)
        size = 4
        if code[:1] == b"\x66":
            code, size = code[1:], 2
        if len(code) not in (1, 2) or code[0] not in (0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED,
                                                       0xEE, 0xEF):
            return None
        op = code[0]
        if not op & 1:
            size = 1
        out = bool(op & 2)
        if (op & 8) != (0 if len(code) == 2 else 8):
            return None
        acc = {1: "al", 2: "ax", 4: "eax"}[size]
        ptr = {1: "byte", 2: "word", 4: "dword"}[size]
        fast = self.v(abi.VCPU_PORTFAST)
        portc = abi.vcpu(self.w, abi.VCPU_PORTC)
        if len(code) == 2:                            # imm8: the entry is known
            port = code[1]
            e = portc + abi.PORTC.size * abi.portc_slot(port)
            key = abi.portc_key(port, size, out)
            sc = self.v(abi.VCPU_SCRATCH)
            lines = [f"mov {sc}, ecx", f"mov ecx, {fast}", "jecxz miss",
                     f"mov ecx, dword ptr [{e:#x}]", f"lea ecx, [ecx - {key:#x}]",
                     "jecxz match", "jmp miss",
                     "match:", f"mov ecx, dword ptr [{e + 8:#x}]", "jecxz miss",
                     "lea ecx, [ecx - 1]", f"mov dword ptr [{e + 8:#x}], ecx", f"mov ecx, {sc}"]
            if not out:
                lines.append(f"mov {acc}, {ptr} ptr [{e + 4:#x}]")
            return lines + ["jmp resume", "miss:", f"mov ecx, {sc}"]
        t = [self.v(abi.VCPU_TSCRATCH + 4 * i) for i in range(5)]
        keybits = size << 16 | abi.PORTC_VALID | (abi.PORTC_OUT if out else 0)
        restore = [f"mov eax, {t[4]}", "add al, 0x7f", "sahf", f"mov eax, {t[0]}",
                   f"mov ecx, {t[1]}"]
        lines = [f"mov {t[0]}, eax", f"mov {t[1]}, ecx", "lahf", "seto al", f"mov {t[4]}, eax",
                 f"cmp {fast}, 0", "je miss",
                 "movzx ecx, dx", "mov eax, ecx", f"shr eax, {abi.PORTC_SHIFT}", "xor eax, ecx",
                 f"and eax, {abi.PORTC_N - 1}", f"shl eax, {(abi.PORTC.size).bit_length() - 1}",
                 f"or ecx, {keybits:#x}", f"cmp ecx, dword ptr [eax + {portc:#x}]", "jne miss",
                 f"cmp dword ptr [eax + {portc + 8:#x}], 0", "je miss",
                 f"dec dword ptr [eax + {portc + 8:#x}]"]
        if not out:
            lines += [f"mov eax, dword ptr [eax + {portc + 4:#x}]", f"mov {t[3]}, eax"]
        lines += restore
        if not out:
            lines.append(f"mov {acc}, {ptr} ptr [{abi.vcpu(self.w, abi.VCPU_TSCRATCH + 12):#x}]")
        return lines + ["jmp resume", "miss:"] + restore

    def sreg_fast_path(self, s) -> list[str] | None:
        """`mov es/ds/fs/gs, r16` and `pop es/ds/fs/gs` (abi.h, R1_VCPU_SEGFAST): the load
        without a hypercall when the runtime says it would leave the host unchanged and the
        selector's descriptor in the guest's table still is the one the runtime checked.
        Registers go to the vCPU page's scratch, flags through lahf/seto (restored with
        add al, 0x7f; sahf). Ends at `resume:` on a hit, falls into the hypercall on a miss;
        None for other forms (memory source, esp, ss)."""
        sreg = sreg_of(s.code)
        if sreg not in (abi.SREG_ES, abi.SREG_DS, abi.SREG_FS, abi.SREG_GS):
            return None
        if s.kind == Kind.MOV_TO_SREG:
            m = s.code[_modrm_index(s.code)]
            if m >> 6 != 3 or (m & 7) == 4:
                return None
            src, pop = _REG16[m & 7], 0
        elif s.kind == Kind.POP_SREG:
            src, pop = "word ptr [esp]", 2 if operand_size(s.code) == 16 else 4
        else:
            return None
        t = [self.v(abi.VCPU_TSCRATCH + 4 * i) for i in range(5)]
        segc = abi.vcpu(self.w, abi.VCPU_SEGC)
        restore = [f"mov eax, {t[4]}", "add al, 0x7f", "sahf",
                   f"mov eax, {t[0]}", f"mov ebx, {t[1]}", f"mov ecx, {t[2]}",
                   f"mov edx, {t[3]}"]
        return ([f"mov {t[0]}, eax", f"movzx eax, {src}", f"mov {t[1]}, ebx", "mov ebx, eax",
                 "lahf", "seto al", f"mov {t[4]}, eax", f"mov {t[2]}, ecx", f"mov {t[3]}, edx",
                 f"cmp {self.v(abi.VCPU_SEGFAST + 4 * sreg)}, 0", "je miss",
                 "mov edx, ebx", "shr edx, 3", f"and edx, {abi.SEGC_N - 1}", "shl edx, 4",
                 f"lea ecx, [ebx + {abi.SEGC_VALID:#x}]",
                 f"cmp ecx, dword ptr [edx + {segc:#x}]", "jne miss",
                 f"mov ecx, dword ptr [edx + {segc + 4:#x}]", "test ecx, ecx", "je hit",
                 "mov eax, dword ptr [ecx]", f"cmp eax, dword ptr [edx + {segc + 8:#x}]",
                 "jne miss",
                 "mov eax, dword ptr [ecx + 4]", f"cmp eax, dword ptr [edx + {segc + 12:#x}]",
                 "jne miss",
                 "hit:", f"mov {self.v(abi.VCPU_SEL + 4 * sreg)}, ebx"] + restore +
                ([f"lea esp, [esp + {pop}]"] if pop else []) + ["jmp resume", "miss:"] + restore)

    # --- translations ----------------------------------------------------------------------
    def inline(self, s, slow: list, orig_next: int, copy: bool = False) -> None:
        k = s.kind
        if k == Kind.CLI:
            self.asm(f"mov {self.v(abi.VCPU_VIF)}, 0")
        elif k == Kind.STI:
            self.asm(f"mov {self.v(abi.VCPU_VIF)}, {abi.EFLAGS_IF:#x}")
        elif k == Kind.PUSHF:
            self.asm("pushfd", "push eax", "push ecx", "mov eax, dword ptr [esp + 8]",
                     f"mov ecx, {self.v(abi.VCPU_VIF)}",
                     f"lea eax, [eax + ecx - {abi.EFLAGS_IF:#x}]",
                     f"mov ecx, {self.v(abi.VCPU_VFLAGS)}", "lea eax, [eax + ecx]",
                     "mov dword ptr [esp + 8], eax", "pop ecx", "pop eax")
        elif k == Kind.POPF:
            self.asm("push eax", "mov eax, dword ptr [esp + 4]", f"and eax, {abi.EFLAGS_IF:#x}",
                     f"mov {self.v(abi.VCPU_VIF)}, eax", "mov eax, dword ptr [esp + 4]",
                     f"and eax, {_VIRT_OTHER:#x}", f"mov {self.v(abi.VCPU_VFLAGS)}, eax",
                     "mov eax, dword ptr [esp + 4]",
                     f"and eax, {(~_VIRT_OTHER) & 0xFFFFFFFF:#x}", "push eax",
                     "mov eax, dword ptr [esp + 4]", "popfd", "lea esp, [esp + 8]")
        elif k == Kind.MOV_FROM_SREG:
            reg = s.code[_modrm_index(s.code)] & 7
            sel = abi.vcpu(self.w, abi.VCPU_SEL + 4 * sreg_of(s.code))
            if operand_size(s.code) == 16:
                self.asm(f"mov {_REG16[reg]}, word ptr [{sel:#x}]")
            else:
                self.asm(f"mov {_REG32[reg]}, dword ptr [{sel:#x}]")
        elif k == Kind.PUSH_SREG:
            sel = abi.vcpu(self.w, abi.VCPU_SEL + 4 * sreg_of(s.code))
            size = "word" if operand_size(s.code) == 16 else "dword"
            self.asm(f"push {size} ptr [{sel:#x}]")
        elif k == Kind.MOV_FROM_CR:
            # At CPL 0 the register's slot; otherwise (a patched kernel's own ring-3 code)
            # the hypercall, in which the runtime raises #GP. ECX via the scratch slot, no
            # flags touched: mov [scratch], ecx / mov ecx, [cpl] / jecxz ok / jmp slow /
            # ok: mov ecx, [scratch] / mov r32, [crN].
            m = s.code[_modrm_index(s.code)]
            cr = abi.vcpu(self.w, abi.VCPU_CR + 4 * ((m >> 3) & 7))
            scratch = self.v(abi.VCPU_SCRATCH)
            self.asm(f"mov {scratch}, ecx", f"mov ecx, {self.v(abi.VCPU_CPL)}")
            j = self.emit(b"\xE3\x00")
            jslow = self.emit(b"\xE9\x00\x00\x00\x00")
            self.lay.code[j - self.lay.base + 1] = self.lay.cursor - (j + 2)
            self.asm(f"mov ecx, {scratch}", f"mov {_REG32[m & 7]}, dword ptr [{cr:#x}]")
            slow.append((jslow, s.addr, orig_next, self.lay.cursor, copy))
        else:
            raise Ring1Error(f"no inline translation for {k.name} at {s.addr:#x}")

    def pending_check(self, site_addr: int, orig_next: int, slow: list,
                      copy: bool = False) -> None:
        """If virtual IF is 1 and an interrupt is pending, take the out-of-line slow path (a
        hypercall that delivers it, then back here). Registers and flags are preserved."""
        ecx = f"{self.v(abi.VCPU_SCRATCH)}"
        self.asm(f"mov {ecx}, ecx", f"mov ecx, {self.v(abi.VCPU_VIF)}")
        # jecxz no / mov ecx, [pending] / jecxz no / jmp slow / no: mov ecx, [scratch]
        j1 = self.emit(b"\xE3\x00")
        self.asm(f"mov ecx, {self.v(abi.VCPU_PENDING)}")
        j2 = self.emit(b"\xE3\x00")
        jslow = self.emit(b"\xE9\x00\x00\x00\x00")
        no = self.lay.cursor
        for j in (j1, j2):
            self.lay.code[j - self.lay.base + 1] = no - (j + 2)
        self.asm(f"mov ecx, {ecx}")
        slow.append((jslow, site_addr, orig_next, self.lay.cursor, copy))

    def relocate(self, addr: int, code: bytes, region=None, internal=None) -> None:
        f = self.d.flow.get(addr)
        if f is None or code[0] in (0x9A, 0xEA):
            self.emit(code)
            return
        t, tgt = f
        at = self.lay.cursor
        if t in (JMP, JCC) and tgt is not None:
            pos = at + (1 if t == JMP else 2)
            if region is not None and region.start <= tgt < region.end:
                # aimed at the target's piece once the region is laid out (region())
                internal.append((pos, tgt))
                tgt = at                       # placeholder
            elif tgt in self.interior:
                self.cross.append((pos, tgt))  # another region's: once all are (build())
                tgt = at
        if t == JMP and tgt is not None:
            self.emit(jmp_rel32(at, tgt))
        elif t == JCC:
            i = 0
            while code[i] in _PREFIXES:          # branch hints (2e/3e), bnd (f2)
                i += 1
            op = code[i + 1] if code[i] == 0x0F else code[i]
            cc = op & 0x0F
            self.emit(bytes((0x0F, 0x80 | cc)) + _rel32(at + 6, tgt))
        elif t == CALL:
            self.emit(b"\x68" + struct.pack("<I", addr + len(code)))
            self.emit(jmp_rel32(self.lay.cursor, tgt))
        else:
            self.emit(code)                    # ret, indirect jmp, ud2/int3: position-free

    # --- regions ---------------------------------------------------------------------------
    def region(self, r) -> None:
        pad = (-len(self.lay.code)) % ALIGN
        self.emit(b"\xCC" * pad)
        self.lay.region_tramp[r.start] = self.lay.cursor
        slow: list = []
        internal: list = []                    # (rel32 position, original target) to aim
        pieces: dict[int, int] = {}
        deferred_sti = None                    # sti whose pending check waits one instruction
        last_flow = None
        for k, (a, ln) in enumerate(r.insns):
            piece = self.lay.cursor
            pieces[a] = piece
            self.lay.o2t.append((a, piece))
            self.lay.t2o.append((a, piece))
            code = self.d.insn_bytes(a)
            f = self.d.flow.get(a)
            if deferred_sti is not None and f is not None:
                self.pending_check(deferred_sti, a, slow)     # before control may leave
                deferred_sti = None
            s = self.sites.get(a)
            if s is None:
                self.relocate(a, code, r, internal)
            elif s.tactic == Tactic.INLINE:
                self.inline(s, slow, a + ln)
            else:
                resume = self.hypercall(a)
                self.lay.resume[a] = resume
                self.lay.t2o.append((a + ln, resume))
            if deferred_sti is not None:
                self.pending_check(deferred_sti, a + ln, slow)
                deferred_sti = None
            if s is not None and s.tactic == Tactic.INLINE:
                if s.kind == Kind.STI:
                    if k + 1 < len(r.insns):
                        deferred_sti = a
                    else:
                        self.pending_check(a, a + ln, slow)
                elif s.kind == Kind.POPF:
                    self.pending_check(a, a + ln, slow)
            last_flow = f
        for pos, tgt in internal:
            if tgt not in pieces:
                raise Ring1Error(f"{tgt:#x}: branch target inside region {r.start:#x} is not "
                                 "an instruction of it")
            self.lay.code[pos - self.lay.base:pos - self.lay.base + 4] = \
                _rel32(pos + 4, pieces[tgt])
        if deferred_sti is not None:
            self.pending_check(deferred_sti, r.end, slow)
        for a, ln in r.tail:
            # a copy: in t2o only; a site translated as plan.copy_translation says, its pending
            # check (sti, popf) right after it (the runtime keeps sti's shadow from there)
            self.lay.t2o.append((a, self.lay.cursor))
            s = self.sites.get(a)
            if s is None:
                self.relocate(a, self.d.insn_bytes(a))
            elif copy_translation(s, self.plan.tactics) == "inline":
                self.inline(s, slow, a + ln, copy=True)
                if s.kind in (Kind.STI, Kind.POPF):
                    self.pending_check(a, a + ln, slow, copy=True)
            else:
                resume = self.hypercall(a)
                self.lay.t2o.append((a + ln, resume))
            last_flow = self.d.flow.get(a)
        if last_flow is None or last_flow[0] not in NO_FALLTHROUGH | {CALL}:
            self.emit(jmp_rel32(self.lay.cursor, r.back))   # (a moved call never falls through)
        else:
            # Nothing falls through; but a final hypercall's resume point must still be an
            # instruction of the trampoline area (never executed: the site transfers control).
            self.emit(b"\xCC")
        # out-of-line slow paths: deliver the pending interrupt, then continue after the check
        for jslow, site_addr, orig_next, back, copy in slow:
            here = self.lay.cursor
            self.lay.code[jslow - self.lay.base + 1:jslow - self.lay.base + 5] = \
                _rel32(jslow + 5, here)
            self.asm(f"mov ecx, {self.v(abi.VCPU_SCRATCH)}")
            resume = self.hypercall(site_addr)
            if not copy:                       # the site table names its own region's
                self.lay.resume.setdefault(site_addr, resume)
            self.lay.t2o.append((orig_next, resume))
            self.emit(jmp_rel32(self.lay.cursor, back))


def build(plan: Plan, d, base: int) -> Layout:
    """Lay out every region's trampoline from address `base` on."""
    b = Builder(plan, d, base)
    for r in sorted(plan.regions, key=lambda r: r.start):
        b.region(r)
    lay = b.lay
    pieces = dict(lay.o2t)
    for pos, tgt in b.cross:
        lay.code[pos - lay.base:pos - lay.base + 4] = _rel32(pos + 4, pieces[tgt])
    lay.o2t = sorted(set(lay.o2t))
    lay.t2o = sorted(set(lay.t2o), key=lambda e: (e[1], e[0]))
    return lay
