# Minimal multiboot v1 entry for the runtime's own test guests: stack, gmain(magic, info), exit.
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003          /* page-align modules, want memory info */

.section .multiboot, "a"
.align 4
.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

.text
.globl _start
_start:
    movl %esp, boot_esp
    movl $stack_top, %esp
    pushl %ebx
    pushl %eax
    call gmain
    pushl %eax
    call gexit
1:  hlt
    jmp 1b

.data
.globl boot_esp
boot_esp: .long 0

.bss
.align 16
.space 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
