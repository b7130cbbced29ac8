# call/ret, the one nano operation both builds have (the control: no sensitive instruction).
# void nano_callret(uint32_t n): n calls and returns, 16 per loop iteration.
.text
.globl nano_callret
nano_callret:
    movl 4(%esp), %ecx
    shrl $4, %ecx
    jz 2f
1:
    .rept 16
    call nano_ret
    .endr
    subl $1, %ecx
    jnz 1b
2:  ret

nano_ret:
    ret

.section .note.GNU-stack, "", @progbits
