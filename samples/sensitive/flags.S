# cli, sti, pushf and popf in both operand sizes (66 9c / 66 9d are the 16-bit forms).
# Each helper returns the full EFLAGS image the CPU then reports (cdecl, result in EAX).
#include "sensitive.h"

.text
.globl flags_cli, flags_sti, flags_pushfl, flags_pushfw, flags_popfl, flags_popfw

# uint32_t flags_cli(void)
flags_cli:
    cli
    pushfl
    popl %eax
    ret

# uint32_t flags_sti(void)
flags_sti:
    sti
    pushfl
    popl %eax
    ret

# uint32_t flags_pushfl(uint32_t *esp_delta)
flags_pushfl:
    movl %esp, %ecx
    pushfl
    subl %esp, %ecx
    movl 8(%esp), %edx
    movl %ecx, (%edx)
    popl %eax
    ret

# uint32_t flags_pushfw(uint32_t *esp_delta): the 16-bit image, zero-extended
flags_pushfw:
    movl %esp, %ecx
    pushfw
    subl %esp, %ecx
    movl 6(%esp), %edx
    movl %ecx, (%edx)
    movzwl (%esp), %eax
    addl $2, %esp
    ret

# uint32_t flags_popfl(uint32_t image): load EFLAGS from image, return what pushfl then sees
flags_popfl:
    pushl 4(%esp)
    popfl
    pushfl
    popl %eax
    ret

# uint32_t flags_popfw(uint32_t image): load FLAGS (low 16 bits) from image
flags_popfw:
    pushw 4(%esp)
    popfw
    pushfl
    popl %eax
    ret
