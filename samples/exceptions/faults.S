# Ring-0 instructions that raise each exception the CPU can be made to raise here. Every one
# is a PROBE: the handlers in main.c report it by name and resume after it.
# Not here, because QEMU 7.2's TCG (the reference) gets them wrong: a reserved CR4 bit (should
# #GP; QEMU loops in an SVM vmexit) and an unmasked SSE exception (should #XM; QEMU ignores it).
#include "exceptions.h"
#include "probe.h"

.data
.align 4
bounds:     .long 0, 10                     # bound: index must lie in [0, 10]
fpu_cw:     .word FPU_CW_DEFAULT & ~FPU_CW_ZM

.text
.globl faults_ring0, fault_double, fault_double_resume, fault_page

faults_ring0:
    pushl %ebx
    xorl %ecx, %ecx
    movl $1, %eax
    xorl %edx, %edx
    PROBE "div by zero", divl %ecx

    pushfl                                  # single step: TF=1 traps after the next insn
    orl $FL_TF, (%esp)
    popfl
    PROBE "single step (TF=1)", nop

    PROBE "int3", int3
    movb $0x7f, %al
    addb $1, %al                            # OF=1
    PROBE "into (OF=1)", into
    movl $11, %eax
    PROBE "bound 11 in [0,10]", boundl %eax, bounds
    PROBE "ud2", ud2

    movl %cr0, %eax                         # x87 with CR0.TS=1: #NM, the handler clts
    orl $CR0_TS, %eax
    movl %eax, %cr0
    PROBE "fninit (CR0.TS=1)", fninit

    pushfl                                  # iret with NT=1 is a task return through the
    orl $FL_NT, (%esp)                      # TSS's back link, which is null here
    popfl
    PROBE "iret (NT=1, null back link)", iret

    PROBE "int $0x41 (gate not present)", int $VEC_ABSENT
    movl $SEL_ABSENT, %eax
    PROBE "mov ds<-0x0030 (not present)", movw %ax, %ds
    PROBE "mov ss<-0x0030 (not present)", movw %ax, %ss
    movl $SEL_BEYOND, %eax
    PROBE "mov fs<-0x0038 (beyond GDT limit)", movw %ax, %fs

    fninit                                  # x87 divide by zero with ZE unmasked: #MF at
    fldcw fpu_cw                            # the next waiting x87 instruction
    fld1
    fldz
    fdivrp                                  # st(0)/st(1) = 1/0
    PROBE "fwait (x87 zero divide pending)", fwait

    popl %ebx
    ret

# A #GP whose gate is not present becomes #NP during delivery: a double fault. The #DF
# handler continues at fault_double_resume (the EIP a #DF saves is undefined).
fault_double:
    movl $SEL_BEYOND, %eax
    movw %ax, %fs
fault_double_resume:
    ret

# void fault_page(void): read an unmapped address
fault_page:
    PROBE "read 0x40000000 (not mapped)", movl UNMAPPED_VA, %eax
    PROBE "write 0x40000000 (not mapped)", movl %eax, UNMAPPED_VA
    ret
