# The real-mode setup of a tiny bzImage (tests/test_linux_boot.py fills in the setup header
# and appends payload.S's 32-bit part and its compressed ELF). Under QEMU -kernel it does what
# Linux's own setup does for the 32-bit entry: the e820 map and the other BIOS answers Linux's
# setup stores (memory sizes, video, EDID, IST) into the zero page -- which is this
# setup's own copy at real_addr (0x10000), header included, as QEMU loaded and patched it --
# then protected mode with a
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
        # What else Linux's setup code asks the BIOS and stores (arch/x86/boot: memory.c,
        # video.c, video-vga.c, main.c), the same calls, the same fields:
        xor %eax, %eax                  # int 15h AH=88h: screen_info.ext_mem_k
        mov $0x88, %ah
        int $0x15
        jc 3f
        mov %ax, 0x2
3:      mov $0xe801, %ax                # int 15h AX=E801h: alt_mem_k = (BX << 6) + AX,
        xor %bx, %bx                    # from CX/DX when the BIOS sets those
        xor %cx, %cx
        xor %dx, %dx
        int $0x15
        jc 5f
        test %cx, %cx
        jnz 4f
        test %dx, %dx
        jz 6f
4:      mov %cx, %ax
        mov %dx, %bx
6:      movzwl %bx, %ebx
        shl $6, %ebx
        movzwl %ax, %eax
        add %ebx, %eax
        mov %eax, 0x1e0
5:      xor %eax, %eax                  # int 10h AH=03h: the cursor
        xor %ebx, %ebx
        xor %ecx, %ecx
        xor %edx, %edx
        mov $0x03, %ah
        int $0x10
        mov %dl, 0x0                    # orig_x
        mov %dh, 0x1                    # orig_y
        xor %eax, %eax                  # int 10h AH=0Fh: the video mode and page
        xor %ebx, %ebx
        mov $0x0f, %ah
        int $0x10
        and $0x7f, %al
        mov %al, 0x6                    # orig_video_mode
        mov %bh, 0x4                    # orig_video_page
        mov $0x1200, %ax                # int 10h AX=1200h BL=10h: EGA/VGA present?
        mov $0x10, %bx
        int $0x10
        mov %bx, 0xa                    # orig_video_ega_bx
        cmp $0x10, %bl                  # BL unchanged: a CGA
        je 7f
        mov $0x1a00, %ax                # else AX=1A00h: a VGA answers AL=1Ah
        int $0x10
        cmp $0x1a, %al
        jne 7f
        movb $1, 0xf                    # orig_video_isVGA
7:      movb $25, 0xe                   # the default mode sets 80x25
        movb $80, 0x7
        push %ds
        xor %ax, %ax
        mov %ax, %ds
        mov 0x485, %ax                  # font points from the BIOS data area
        pop %ds
        mov %ax, 0x10
        mov $0x140, %di                 # edid_info: the "no EDID" filler (no VESA BIOS)
        mov $128, %cx
        mov $0x13, %al
        rep stosb
        mov $0x2000, %di                # VBE 2.0+ (AX=4F00h, "VBE2" asked): the EDID through
        movl $0x32454256, (%di)         # VBE DDC (AX=4F15h BL=0, then BL=1 into edid_info)
        mov $0x4f00, %ax
        int $0x10
        cmp $0x004f, %ax
        jne 8f
        cmpw $0x0200, 0x2004
        jb 8f
        push %es
        xor %dx, %dx
        mov %dx, %es
        xor %di, %di
        xor %bx, %bx
        xor %cx, %cx
        mov $0x4f15, %ax
        int $0x10
        pop %es
        cmp $0x004f, %ax
        jne 8f
        mov $0x4f15, %ax
        mov $1, %bx
        xor %cx, %cx
        xor %dx, %dx
        mov $0x140, %di
        int $0x10
8:      mov $0xe980, %eax               # int 15h AX=E980h: SpeedStep IST, stored as it
        mov $0x47534943, %edx           # comes back
        xor %ebx, %ebx
        xor %ecx, %ecx
        int $0x15
        mov %eax, 0x60
        mov %ebx, 0x64
        mov %ecx, 0x68
        mov %edx, 0x6c
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
