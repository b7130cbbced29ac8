# Crossing between the runtime (64-bit, CS 0x33) and the guest (compat mode, CS 0x23).
#
#   enter_guest(v)      run loop -> guest: save the host's callee-saved registers, load the
#                       guest's, clear every register the guest cannot see, iretq to CS 0x23.
#                       "Returns" when the guest exits, with the exit reason, as if the guest
#                       were a function call (a VM exit).
#   guest_exit_landing  where every exit arrives in 64-bit mode with %eax = reason: signal
#                       handlers rewrite the interrupted ucontext to resume here, and the
#                       hypercall stub jumps here.
#   hc_stub64_*         the 64-bit hypercall stub, copied into the window (below 4 GiB, since
#                       the compat-mode far jump that reaches it carries a 32-bit offset).
#   sig_entry           every signal handler's entry: give FS back to the host around the C
#                       handler (its thread-local storage is reached through FS).
#   host_segments_init  FS = GS = 0x2b for good, FS base = TLS.
#
# Segments: the guest runs with CS 0x23 and SS/DS/ES 0x2b when its segments are flat, else
# with LDT selectors of this process carrying its bases (v->hsel_*, segment.c); FS and GS
# hold v->hsel_fs/hsel_gs at all times: 0x2b, or in ring 3 under a user limit (mem.c) a
# limited LDT selector or null. FS and GS bases are switched with wrfsbase/wrgsbase
# instead of selector loads (FSGSBASE, Linux 5.9+): FS holds the host's TLS base in the runtime and the guest's FS base in the guest;
# GS always holds the guest's GS base (nothing on the host uses GS). A non-null selector stays
# loaded so that compat-mode fs:/gs: accesses do not #GP; the kernel preserves selector and
# base across context switches. Guest segment limits are enforced where a segment has an
# LDT slot (a base, a limit, or ring 3 under the user limit: mem.c); flat ones are not.
#
# Hostile guests (docs/security.md). Any guest code, ring 3 included, can far-jump through the
# host's 64-bit selector 0x33 and run 64-bit code in this process; nothing in hardware stops
# it. So while the guest runs no register holds a host value (r8-r15 and the upper halves are
# zero), and nothing reachable from the guest trusts a register it can set: the stub finds
# its save area RIP-relative, the landing finds the vCPU (vcpu0, the only one) RIP-relative.
# What the guest could still learn -- the landing's address, in the entry page -- is what the
# jail (jail.c) is for.

#include "entry.h"

#define V_EAX       0x00
#define V_ECX       0x04
#define V_EDX       0x08
#define V_EBX       0x0c
#define V_ESP       0x10
#define V_EBP       0x14
#define V_ESI       0x18
#define V_EDI       0x1c
#define V_EIP       0x20
#define V_EFLAGS    0x24
#define V_HOST_RSP  0x28
#define V_ASYNC     0x30
#define V_FSBASE    0x38
#define V_GUEST_FSB 0x48
#define V_SEEN_FS   0x50
#define V_SEEN_GS   0x54
#define V_SEEN_DS   0x58
#define V_SEEN_ES   0x5c
#define V_XMASK     0x60
#define V_GUEST_GSB 0x68
#define V_FPU_LIVE  0x70
#define V_HSEL_CS   0x74
#define V_HSEL_SS   0x76
#define V_HSEL_DS   0x78
#define V_HSEL_ES   0x7a
#define V_HSEL_FS   0x7c
#define V_HSEL_GS   0x7e
#define V_FPU       0x80

#define EXIT_HYPERCALL 2
#define EXIT_ASYNC     3

#define USER32_CS   0x23
#define USER_DS     0x2b
#define USER_CS     0x33
// ucontext_t: uc_mcontext.gregs[REG_CSGSFS], CS in its low 16 bits (checked in signals.c)
#define UC_CS       184

    .text
    .code64

# void host_fpu_save(struct vcpu *v): XSAVEOPT the guest's state (host_fpu_begin in vcpu.c)
    .globl host_fpu_save
host_fpu_save:
    movl V_XMASK(%rdi), %eax
    movl V_XMASK+4(%rdi), %edx
    xsaveopt V_FPU(%rdi)
    movl $0, V_FPU_LIVE(%rdi)
    ret

# void host_segments_init(uint64_t tls_base)
    .globl host_segments_init
host_segments_init:
    movl $USER_DS, %eax
    movl %eax, %fs
    movl %eax, %gs
    wrfsbase %rdi
    xorl %eax, %eax
    wrgsbase %rax
    ret

# uint32_t enter_guest(struct vcpu *v)
    .globl enter_guest
    .type enter_guest, @function
enter_guest:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rdi, %r15
    movq %rsp, V_HOST_RSP(%r15)
    testl $1, V_FPU_LIVE(%r15)      # lazy FPU: the registers may still be the guest's
    jnz 3f
    movl V_XMASK(%r15), %eax
    movl V_XMASK+4(%r15), %edx
    xrstor V_FPU(%r15)
    movl $1, V_FPU_LIVE(%r15)
3:
    # A signal between here and the iretq only sets v->async; the handler moves the
    # interrupted RIP to enter_guest_abort so that the run loop sees it before the guest runs.
    .globl enter_guest_critical_start
enter_guest_critical_start:
    testl $-1, V_ASYNC(%r15)
    jnz enter_guest_abort
    movzwl V_HSEL_DS(%r15), %ecx    # 0x2b, or an LDT selector for a non-flat segment
    movl %ds, %eax
    cmpl %ecx, %eax
    je 1f
    movl %ecx, %ds
1:  movzwl V_HSEL_ES(%r15), %ecx
    movl %es, %eax
    cmpl %ecx, %eax
    je 2f
    movl %ecx, %es
2:  movzwl V_HSEL_GS(%r15), %ecx    # GS, FS: 0x2b, or ring 3's limited or null ones
    movl %gs, %eax
    cmpl %ecx, %eax
    je 4f
    movl %ecx, %gs
    movq V_GUEST_GSB(%r15), %rax
    wrgsbase %rax
4:  movzwl V_HSEL_FS(%r15), %ecx
    movl %fs, %eax
    cmpl %ecx, %eax
    je 5f
    movl %ecx, %fs
5:  movq V_GUEST_FSB(%r15), %rax
    wrfsbase %rax                   # from here on no thread-local storage
    movzwl V_HSEL_SS(%r15), %eax
    pushq %rax                      # ss
    movl V_ESP(%r15), %eax
    pushq %rax                      # rsp
    movl V_EFLAGS(%r15), %eax
    pushq %rax                      # rflags
    movzwl V_HSEL_CS(%r15), %eax
    pushq %rax                      # cs: 0x23, or an LDT code segment
    movl V_EIP(%r15), %eax
    pushq %rax                      # rip
    movl V_ECX(%r15), %ecx
    movl V_EDX(%r15), %edx
    movl V_EBX(%r15), %ebx
    movl V_EBP(%r15), %ebp
    movl V_ESI(%r15), %esi
    movl V_EDI(%r15), %edi
    movl V_EAX(%r15), %eax
    xorl %r8d, %r8d                 # no host value in a register the guest can read (the
    xorl %r9d, %r9d                 # 32-bit loads above cleared the upper halves)
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    .globl enter_guest_critical_end
enter_guest_critical_end:
    iretq

    .globl enter_guest_abort
enter_guest_abort:
    leaq vcpu0(%rip), %r15          # (a signal may have come after r15 was cleared)
    movq V_FSBASE(%r15), %rax
    wrfsbase %rax
    movl $EXIT_ASYNC, %eax
    jmp restore_host

# Every exit: %eax = exit reason, FPU registers = the guest's; every other register may be
# the guest's (or forged by it: see "Hostile guests" above).
    .globl guest_exit_landing
guest_exit_landing:
    leaq vcpu0(%rip), %r15
    movq V_HOST_RSP(%r15), %rsp
    cld
    movl %eax, %ebx                 # reason (rbx is restored from the stack below)
    # On a host with protection keys the guest may have run wrpkru (unprivileged, any mode):
    # the runtime's own memory must not stay locked from it. (No PKU here: host_pkru_valid 0.)
    testl $1, host_pkru_valid(%rip)
    jz 3f
    xorl %ecx, %ecx
    xorl %edx, %edx
    movl host_pkru(%rip), %eax
    wrpkru
3:
    # The guest's x87/SSE/AVX state stays in the registers (lazy FPU: host_fpu_begin saves
    # it before any host code that uses them).
    movl %ds, %ecx
    movl %ecx, V_SEEN_DS(%r15)
    movl %es, %ecx
    movl %ecx, V_SEEN_ES(%r15)
    movl %fs, %ecx
    movzwl V_HSEL_FS(%r15), %edx
    cmpl %edx, %ecx
    je 1f
    orl $0x10000, %ecx              # (so that a null selector shows too)
    movl %ecx, V_SEEN_FS(%r15)      # the guest loaded a host-valid selector itself
    movl %edx, %fs
1:  movq V_FSBASE(%r15), %rcx
    wrfsbase %rcx
    movl %gs, %ecx
    movzwl V_HSEL_GS(%r15), %edx
    cmpl %edx, %ecx
    je 2f
    orl $0x10000, %ecx
    movl %ecx, V_SEEN_GS(%r15)
    movl %edx, %gs
    movq V_GUEST_GSB(%r15), %rcx
    wrgsbase %rcx
2:  movl %ebx, %eax
restore_host:
    movq V_HOST_RSP(%r15), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size enter_guest, . - enter_guest

# The 64-bit hypercall stub. The window's compat-mode entry (R1_ENTRY) far-jumps here with
# the guest's registers untouched; [esp] = resume, [esp+4] = site index (abi.h). Copied into
# the window (at R1_ENTRY_OFF + HC_STUB_OFF), so position-independent. It trusts nothing the
# guest can set -- a guest in 64-bit mode can jump here with any registers: it finds the
# window RIP-relative, saves the guest's registers in the vCPU page (guest memory: the run
# loop copies them out, vcpu.c), never uses the guest's stack, and leaves through the landing
# address that main.c writes into hc_landing_slot (the entry page is read-only to the guest).
#define HC_WIN(off) ((off) - (HC_ENTRY_OFF + HC_STUB_OFF))  /* window offset, from the stub */
    .globl hc_stub64_start, hc_stub64_end, hc_landing_slot
hc_stub64_start:
    leaq hc_stub64_start(%rip), %r15
    movl %eax, HC_WIN(HC_SAVE_OFF + 0x00)(%r15)
    movl %ecx, HC_WIN(HC_SAVE_OFF + 0x04)(%r15)
    movl %edx, HC_WIN(HC_SAVE_OFF + 0x08)(%r15)
    movl %ebx, HC_WIN(HC_SAVE_OFF + 0x0c)(%r15)
    movl %esp, HC_WIN(HC_SAVE_OFF + 0x10)(%r15)
    movl %ebp, HC_WIN(HC_SAVE_OFF + 0x14)(%r15)
    movl %esi, HC_WIN(HC_SAVE_OFF + 0x18)(%r15)
    movl %edi, HC_WIN(HC_SAVE_OFF + 0x1c)(%r15)
    leaq HC_WIN(HC_SCRATCH_TOP)(%r15), %rsp
    pushfq
    popq %rax
    movl %eax, HC_WIN(HC_SAVE_OFF + HC_SAVE_EFLAGS)(%r15)
    pushq $0x202                    # clean flags for C: DF=0, AC=0, TF=0
    popfq
    movl $EXIT_HYPERCALL, %eax
    jmpq *hc_landing_slot(%rip)
    .balign 8
hc_landing_slot:
    .quad 0
hc_stub64_end:

# Signal handler entry: (signo, info, ucontext) in rdi, rsi, rdx, on the sigaltstack, with
# whatever FS the interrupted code had. The C handler gets the host's TLS; the interrupted
# FS base is put back when it returns (it may return straight into the guest).
    .globl sig_entry
    .type sig_entry, @function
sig_entry:
    pushfq                          # NT and AC may be the guest's (a native popf): NT=1 would
    andq $~0x44000, (%rsp)          # survive sigreturn (not in the kernel's FIX_EFLAGS) and
    popfq                           # make the next iretq #GP; AC=1 would arm #AC for C code
    # Interrupted in 64-bit code (the runtime, the hypercall stub): an FS or GS that differs
    # from hsel_fs/hsel_gs there is segment.c switching them (hsel_* written, the register
    # not yet), never the guest's doing -- the stub's exit landing looks at the guest's.
    cmpw $USER_CS, UC_CS(%rdx)
    je 2f
    movl %fs, %eax
    movzwl vcpu0 + V_HSEL_FS(%rip), %ecx
    cmpl %ecx, %eax
    je 1f
    orl $0x10000, %eax
    movl %eax, vcpu0 + V_SEEN_FS(%rip)
    movl %ecx, %fs
1:  movl %gs, %eax
    movzwl vcpu0 + V_HSEL_GS(%rip), %ecx
    cmpl %ecx, %eax
    je 2f
    orl $0x10000, %eax
    movl %eax, vcpu0 + V_SEEN_GS(%rip)
    movl %ecx, %gs
    movq vcpu0 + V_GUEST_GSB(%rip), %rax
    wrgsbase %rax
2:  rdfsbase %rax
    pushq %rax                      # also aligns the stack for the call
    movq vcpu0 + V_FSBASE(%rip), %rax
    wrfsbase %rax
    call signal_dispatch
    popq %rax
    wrfsbase %rax
    ret
    .size sig_entry, . - sig_entry

    .section .note.GNU-stack, "", @progbits
