# Segment registers: mov/pop to each, lds/les/lfs/lgs/lss, mov from them (r32, r16, m16),
# push them (32- and 16-bit), and loads that must fault. Helpers follow cdecl; on return
# DS/ES/SS are flat kernel data again and FS/GS are whatever the helper says.
#include "sensitive.h"
#include "probe.h"

.data
.align 4
ptr_kdata:  .long 0x1234            # m16:32 far pointers for lds and friends
            .word SEL_KDATA
.align 4
ptr_window: .long 0
            .word SEL_WINDOW
.align 4
ptr_ldt:    .long 0
            .word SEL_LDT0
.align 4
ptr_stack:  .long 0                 # filled with ESP before lss
            .word SEL_KDATA

.text
.globl seg_mov_to, seg_pop, seg_lxs, seg_mov_from, seg_push32, seg_push16, seg_bad_loads

# Store DS ES FS GS SS (mov sreg -> m16, 2 bytes each) at (%edx).
.macro STORE_SREGS
    movw %ds, 0(%edx)
    movw %es, 2(%edx)
    movw %fs, 4(%edx)
    movw %gs, 6(%edx)
    movw %ss, 8(%edx)
.endm

# void seg_mov_to(uint32_t sel, uint16_t out[5]): mov r16 -> every data segment register
seg_mov_to:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    STORE_SREGS
    ret

# void seg_pop(uint32_t sel, uint16_t out[5]): pop into every data segment register
seg_pop:
    movl 8(%esp), %edx
    pushl 4(%esp)
    popl %ds
    pushl 4(%esp)
    popl %es
    pushl 4(%esp)
    popl %fs
    pushl 4(%esp)
    popl %gs
    pushl 4(%esp)
    popl %ss
    STORE_SREGS
    ret

# void seg_lxs(uint32_t out[8]): lds/les/lfs/lgs/lss; out = offsets loaded by lds les lfs
# lgs, then the first dword at fs:0 and gs:0, then ESP change across lss, then the new GS.
seg_lxs:
    pushl %ebx
    pushl %esi
    movl 12(%esp), %edx
    lds ptr_kdata, %eax
    movl %eax, 0(%edx)
    les ptr_kdata, %eax
    movl %eax, 4(%edx)
    lfs ptr_window, %ecx
    movl %ecx, 8(%edx)
    lgs ptr_ldt, %ebx
    movl %ebx, 12(%edx)
    movl %fs:(%ecx), %eax           # through the segment bases: window[0..3], ldt_data[0..3]
    movl %eax, 16(%edx)
    movl %gs:(%ebx), %eax
    movl %eax, 20(%edx)
    movl %esp, ptr_stack
    movl %esp, %esi
    lss ptr_stack, %esp
    subl %esp, %esi
    movl %esi, 24(%edx)
    xorl %eax, %eax
    movw %gs, %ax
    movl %eax, 28(%edx)
    popl %esi
    popl %ebx
    ret

# void seg_mov_from(uint32_t out[9]): CS SS DS into r32 (preloaded with all ones), into r16
# (upper half 0xdead must survive), into m16 (the slot preloaded with all ones).
seg_mov_from:
    movl 4(%esp), %edx
    movl $0xffffffff, %eax
    movl %cs, %eax
    movl %eax, 0(%edx)
    movl $0xffffffff, %eax
    movl %ss, %eax
    movl %eax, 4(%edx)
    movl $0xffffffff, %eax
    movl %ds, %eax
    movl %eax, 8(%edx)
    movl $0xdead0000, %eax
    movw %cs, %ax
    movl %eax, 12(%edx)
    movl $0xdead0000, %eax
    movw %ss, %ax
    movl %eax, 16(%edx)
    movl $0xdead0000, %eax
    movw %ds, %ax
    movl %eax, 20(%edx)
    movl $0xffffffff, 24(%edx)
    movw %cs, 24(%edx)
    movl $0xffffffff, 28(%edx)
    movw %ss, 28(%edx)
    movl $0xffffffff, 32(%edx)
    movw %ds, 32(%edx)
    ret

# Push one segment register with a 32-bit operand size; report its slot's low 16 bits and
# the ESP change. The upper half of the slot is implementation-specific (SDM: PUSH), so
# callers print only the selector.
.macro PUSH32 sreg, slot
    movl %esp, %ecx
    pushl \sreg
    subl %esp, %ecx
    popl %eax
    movw %ax, \slot(%edx)
    movw %cx, \slot+2(%edx)
.endm

# void seg_push32(uint16_t out[12]): {selector, esp change} for CS SS DS ES FS GS
seg_push32:
    movl 4(%esp), %edx
    PUSH32 %cs, 0
    PUSH32 %ss, 4
    PUSH32 %ds, 8
    PUSH32 %es, 12
    PUSH32 %fs, 16
    PUSH32 %gs, 20
    ret

.macro PUSH16 sreg, slot
    movl %esp, %ecx
    pushw \sreg
    subl %esp, %ecx
    popw %ax
    movw %ax, \slot(%edx)
    movw %cx, \slot+2(%edx)
.endm

# void seg_push16(uint16_t out[12]): as seg_push32 with 16-bit pushes (66 prefix)
seg_push16:
    movl 4(%esp), %edx
    PUSH16 %cs, 0
    PUSH16 %ss, 4
    PUSH16 %ds, 8
    PUSH16 %es, 12
    PUSH16 %fs, 16
    PUSH16 %gs, 20
    ret

# void seg_bad_loads(void): each load below must fault; the probe handler skips it.
# (Accesses beyond a segment limit or through a null selector would #GP on hardware, but
# QEMU's TCG does not check them, so they cannot have a QEMU golden.)
seg_bad_loads:
    movl $SEL_ABSENT, %eax
    PROBE "mov es<-0x0048 (not present)", movw %ax, %es
    movl $SEL_XONLY, %eax
    PROBE "mov ds<-0x0050 (execute-only code)", movw %ax, %ds
    movl $SEL_BEYOND, %eax
    PROBE "mov fs<-0x0060 (beyond GDT limit)", movw %ax, %fs
    movl $(SEL_KDATA | 3), %eax
    PROBE "mov ss<-0x0013 (RPL 3 at CPL 0)", movw %ax, %ss
    pushl $SEL_UDATA
    PROBE "pop ss<-0x0023 (DPL 3 at CPL 0)", popl %ss
    addl $4, %esp                   # the faulting pop left its operand on the stack
    ret
