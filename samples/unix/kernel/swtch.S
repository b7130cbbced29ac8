# void swtch(struct context **old, struct context *new): save the callee-saved registers on
# this stack and its pointer in *old, switch to the stack new and restore from it. The
# return address on each stack is its context's eip.
.text
.globl swtch
swtch:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, (%eax)
    movl %edx, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
