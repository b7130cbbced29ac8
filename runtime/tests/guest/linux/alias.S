# A kernel linked above where it is loaded (p_vaddr 0xc0100000, p_paddr 0x100000, as Linux's
# vmlinux) whose entry code, run at its physical addresses with paging off, has a sensitive
# instruction right before a call: the rewriter moves both into a trampoline, whose `call`
# pushes the linked return address (0xc01...). The return must come back to the physical
# alias (runtime: r1_alias_return), as the unpatched code would. Prints one line, exits 99.
        .section .note.Linux, "a", @note
        .balign 4
        .long 6, 4, 0x100
        .asciz "Linux"
        .balign 4
        .long 0

        .set PHYS, 0xc0000000           # p_vaddr - p_paddr
        .text
        .globl _start
_start:
        mov $(stack_top - PHYS), %esp
        mov $1, %esi
        xor %ecx, %ecx
        mov %esi, %eax
        cpuid
        mov %eax, %esi
        call probe
        test %eax, %eax
        mov $(msg - PHYS), %esi
1:      movzbl (%esi), %eax
        test %al, %al
        jz 3f
        mov %eax, %ebx
        mov $0x3fd, %dx
2:      in %dx, %al
        test $0x20, %al
        jz 2b
        mov %ebx, %eax
        mov $0x3f8, %dx
        out %al, %dx
        inc %esi
        jmp 1b
3:      mov $0x31, %al
        out %al, $0xf4
        cli
4:      hlt
        jmp 4b

probe:  mov (%esp), %eax                # the return address, as the callee sees it
        ret

        .data
msg:    .asciz "alias: back from the call\n"
        .bss
        .balign 16
        .space 1024
stack_top:
