# Entry of bench-native, the static 32-bit Linux build: no C library, so no crt0 either.
# The kernel leaves argc, argv[], 0, envp[] on the stack; align it as the i386 ABI wants
# (16 bytes at the call) and call native_main(argc, argv), then exit_group with its result.
.text
.globl _start
_start:
    xorl %ebp, %ebp
    movl %esp, %eax
    andl $-16, %esp
    subl $8, %esp
    leal 4(%eax), %ecx
    pushl %ecx                      # argv
    pushl (%eax)                    # argc
    call native_main
    movl %eax, %ebx
    movl $252, %eax                 # __NR_exit_group
    int $0x80
    hlt

.section .note.GNU-stack, "", @progbits
