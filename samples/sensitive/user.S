# A round trip through ring 3: iret into user_main (ring3_call); sysenter to ring 0 and sysexit
# back; a call gate to ring 0 and lret back; finally int $0x80 through a DPL-3 gate, whose
# handler (user.c) ends the excursion with ring3_leave.
#include "sensitive.h"

#define SYSENTER_MARK 0x5157

.bss
.align 16
.globl user_stack_top, sysenter_stack_top
    .space 4096
user_stack_top:
    .space 4096
sysenter_stack_top:

.text
.globl user_main, sysenter_entry, callgate_entry

# Ring 3. Each kernel entry reports what the previous return left in CS, SS (EBX, ESI) and
# EFLAGS (EDI), so ring 0 can print where each return really landed.
user_main:
    pushfl
    popl %edi
    movl %cs, %ebx
    movl %ss, %esi
    movl $SYSENTER_MARK, %eax
    movl %esp, %ecx                 # sysexit's ESP
    movl $1f, %edx                  # sysexit's EIP
    sysenter
1:  movl %cs, %ebx
    movl %ss, %esi
    lcall $SEL_GATE, $0             # the gate supplies the offset
    movl %cs, %ebx
    movl %ss, %esi
    int $SYSCALL_VECTOR
    ud2                             # not reached

# Ring 0 by sysenter: CS=SYSENTER_CS, SS=CS+8, ESP=SYSENTER_ESP, IF=0. DS/ES are still ring 3's.
sysenter_entry:
    pushl %ds
    pushl %es
    pushl %ecx
    pushl %edx
    movl %eax, %ecx
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movl %ss, %eax
    pushl %eax
    movl %cs, %eax
    pushl %eax
    pushl %edi                      # ring-3 EFLAGS
    pushl %esi                      # ring-3 SS, CS as iret left them
    pushl %ebx
    pushl 24(%esp)                  # ring-3 ESP (the saved ECX)
    pushl %ecx                      # EAX at sysenter
    call sysenter_seen
    addl $28, %esp
    popl %edx
    popl %ecx
    popl %es
    popl %ds
    sysexit                         # to EDX/ECX with CS=SYSENTER_CS+16, SS=+24 (RPL 3)

# Ring 0 by the call gate: on the TSS's ring-0 stack, the CPU pushed ss, esp, cs, eip.
callgate_entry:
    pushl %ds
    pushl %es
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movl %ss, %eax
    pushl %eax
    movl %cs, %eax
    pushl %eax
    pushl %esi                      # SS, CS as sysexit left them
    pushl %ebx
    leal 24(%esp), %eax             # the far-call frame: eip, cs, esp, ss
    pushl %eax
    call callgate_seen
    addl $20, %esp
    popl %es
    popl %ds
    lret                            # to ring 3: pops eip, cs, then esp, ss
