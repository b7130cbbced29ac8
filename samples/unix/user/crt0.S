# Program entry: exec() leaves [fake return address][argc][argv] on the stack. Call
# main(argc, argv) and exit with what it returns.
.section .text.start, "ax"
.globl _start
_start:
    addl $4, %esp       # drop the fake return address: main sees argc, argv
    call main
    pushl %eax
    call exit
