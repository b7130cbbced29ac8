# void swtch(struct context **save, struct context *load): save the callee-saved registers on
# this stack, store its pointer in *save, switch to the stack `load` and restore from it.
# (xv6's swtch.S.) The return address is the context's eip.
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
