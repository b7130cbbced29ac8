# Same-privilege far transfers: ljmp and lcall (ptr16:32 and m16:32 forms), lret, lret imm16,
# and a far jump to a second code selector and back.
#include "sensitive.h"

.data
.align 4
jmp_ptr:  .long far_jmp_landing
          .word SEL_KCODE
.align 4
call_ptr: .long far_callee
          .word SEL_KCODE

.text
.globl far_ljmp_direct, far_ljmp_indirect, far_lcall_direct, far_lcall_indirect
.globl far_lret_imm, far_alias

# uint32_t far_ljmp_direct(void): returns CS after the jump
far_ljmp_direct:
    ljmp $SEL_KCODE, $1f
1:  movl %cs, %eax
    ret

# uint32_t far_ljmp_indirect(void)
far_ljmp_indirect:
    ljmp *jmp_ptr
far_jmp_landing:
    movl %cs, %eax
    ret

# The far callee: returns the CS its caller pushed (low 16 bits of the slot).
far_callee:
    movzwl 4(%esp), %eax
    lret

# uint32_t far_lcall_direct(void)
far_lcall_direct:
    lcall $SEL_KCODE, $far_callee
    ret

# uint32_t far_lcall_indirect(void)
far_lcall_indirect:
    lcall *call_ptr
    ret

# Far callee that also pops its two 4-byte arguments.
far_callee_imm:
    movl 8(%esp), %eax              # first argument (pushed last)
    lret $8

# uint32_t far_lret_imm(uint32_t *esp_delta): returns the callee's argument
far_lret_imm:
    movl %esp, %ecx
    pushl $0x2222
    pushl $0x1111
    lcall $SEL_KCODE, $far_callee_imm
    subl %esp, %ecx                 # 0 if lret $8 popped both arguments
    movl 4(%esp), %edx
    movl %ecx, (%edx)
    ret

# uint32_t far_alias(void): CS seen while running on SEL_ALIAS
far_alias:
    ljmp $SEL_ALIAS, $1f
1:  movl %cs, %eax
    ljmp $SEL_KCODE, $2f
2:  ret
