# The real-mode setup of a tiny bzImage (tests/test_linux_boot.py fills in the setup header
# and appends payload.S's 32-bit part and its compressed ELF). Under QEMU -kernel it does what
# Linux's own setup does for the 32-bit entry, the least of it: the e820 map from the BIOS
# (int 15h, ax=e820h) into the zero page -- which is this setup's own copy at real_addr
# (0x10000), header included, as QEMU loaded and patched it -- then protected mode with a
# GDT holding flat __BOOT_CS (0x10) and __BOOT_DS (0x18), and a jump to code32_start with
# %esi = the zero page and %ebx, %edi, %ebp zero. ring1 never runs this code: it is the boot
# loader, and enters the 32-bit part itself.
#
# Linked at 0: a label is its offset in the file and in the segment at 0x10000 (QEMU enters
# at 0x1020:0000, i.e. file offset 0x200, with DS = ES = SS = 0x1000).
        .code16
        .text
        .org 0x1f1
        .byte 8                         # setup_sects (the test writes the header's fields)
        .org 0x1fe
        .word 0xaa55
        .byte 0xeb, 0x6a                # jmp to 0x26c: the end of the 2.15 header
        .ascii "HdrS"
        .org 0x26c
        jmp main

        .org 0x1000
main:   cli
        cld
        mov $0x1000, %ax
        mov %ax, %ds
        mov %ax, %es
        # int 15h e820: entries of 20 bytes into the zero page's e820_table (0x2d0)
        xor %ebx, %ebx
        mov $0x2d0, %di
        xor %si, %si
1:      mov $0xe820, %eax
        mov $20, %ecx
        mov $0x534d4150, %edx           # "SMAP"
        int $0x15
        jc 2f
        cmp $0x534d4150, %eax
        jne 2f
        add $20, %di
        inc %si
        cmp $128, %si
        je 2f
        test %ebx, %ebx
        jnz 1b
2:      mov %si, %ax
        movb %al, 0x1e8                 # e820_entries
        lgdtl gdt_desc
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        .byte 0x66, 0xea                # ljmpl $0x10, $(0x10000 + pm32)
        .long 0x10000 + pm32
        .word 0x10

        .code32
pm32:   mov $0x18, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        mov $0x10000, %esi
        xor %ebx, %ebx
        xor %edi, %edi
        xor %ebp, %ebp
        mov 0x10214, %eax               # code32_start
        jmp *%eax

        .balign 8
gdt:    .quad 0, 0
        .quad 0x00cf9b000000ffff        # __BOOT_CS: flat 32-bit code (accessed, as Linux's)
        .quad 0x00cf93000000ffff        # __BOOT_DS: flat data
gdt_desc:
        .word gdt_desc - gdt - 1
        .long 0x10000 + gdt
        .org 0x1200                     # (setup_sects + 1) * 512
