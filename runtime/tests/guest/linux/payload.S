# The 32-bit part of a tiny Linux-boot-protocol kernel (tests/test_linux_boot.py builds a
# bzImage around it): entered as Linux's startup_32 is, it prints on COM1 the state the boot
# loader left -- registers, segments, the GDT's __BOOT_CS/__BOOT_DS, the zero page's setup
# header fields a loader fills in, the e820 map, the command line and the initrd -- then
# exits through the isa-debug-exit port. Under QEMU -kernel (its real-mode setup, setup.S,
# runs first) and under ring1 (entered here directly) the transcripts must be equal.
        .section .note.Linux, "a", @note
        .balign 4
        .long 6, 4, 0x100               # namesz, descsz, type: a "Linux" note, as vmlinux has
        .asciz "Linux"
        .balign 4
        .long 0

        .text
        .globl _start
_start:
        mov %esi, save_esi
        mov %ebx, save_ebx
        mov %edi, save_edi
        mov %ebp, save_ebp
        mov $stack_top, %esp
        pushf
        popl save_flags
        mov %cs, save_cs
        mov %ds, save_ds
        mov %es, save_es
        mov %ss, save_ss
        mov %cr0, %eax
        mov %eax, save_cr0
        sgdt save_gdtr

        mov $s_hello, %eax
        call puts
        mov $s_esi, %eax
        mov save_esi, %edx
        call field
        mov $s_ebx, %eax
        mov save_ebx, %edx
        call field
        mov $s_edi, %eax
        mov save_edi, %edx
        call field
        mov $s_ebp, %eax
        mov save_ebp, %edx
        call field
        call nl

        mov $s_cs, %eax
        movzwl save_cs, %edx
        call field
        mov $s_ds, %eax
        movzwl save_ds, %edx
        call field
        mov $s_es, %eax
        movzwl save_es, %edx
        call field
        mov $s_ss, %eax
        movzwl save_ss, %edx
        call field
        mov $s_if, %eax
        mov save_flags, %edx
        shr $9, %edx
        and $1, %edx
        call field
        mov $s_pe, %eax
        mov save_cr0, %edx
        and $1, %edx
        call field
        mov $s_pg, %eax
        mov save_cr0, %edx
        shr $31, %edx
        call field
        call nl

        mov $s_gdt, %eax
        movzwl save_gdtr, %edx
        call field
        mov save_gdtr+2, %ebx
        mov $s_g10, %eax
        mov 0x14(%ebx), %edx
        call field
        mov $s_colon, %eax
        mov 0x10(%ebx), %edx
        call field
        mov $s_g18, %eax
        mov 0x1c(%ebx), %edx
        call field
        mov $s_colon, %eax
        mov 0x18(%ebx), %edx
        call field
        call nl

        mov save_esi, %esi
        mov $s_ver, %eax
        movzwl 0x206(%esi), %edx
        call field
        mov $s_loader, %eax
        movzbl 0x210(%esi), %edx
        call field
        mov $s_lflags, %eax
        movzbl 0x211(%esi), %edx
        call field
        mov $s_heap, %eax
        movzwl 0x224(%esi), %edx
        call field
        mov $s_cmdptr, %eax
        mov 0x228(%esi), %edx
        call field
        call nl
        mov $s_rd, %eax
        mov 0x218(%esi), %edx
        call field
        mov $s_rdsize, %eax
        mov 0x21c(%esi), %edx
        call field
        mov $s_rdmax, %eax
        mov 0x22c(%esi), %edx
        call field
        mov $s_clsize, %eax
        mov 0x238(%esi), %edx
        call field
        call nl

        mov $s_extmem, %eax             # the BIOS's answers, as the setup code stores them
        movzwl 0x2(%esi), %edx
        call field
        mov $s_altmem, %eax
        mov 0x1e0(%esi), %edx
        call field
        mov $s_ist, %eax
        mov 0x60(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x64(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x68(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x6c(%esi), %edx
        call field
        call nl
        mov $s_video, %eax
        mov 0x0(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x4(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x8(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0xc(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x10(%esi), %edx
        call field
        mov $s_edid, %eax
        mov 0x140(%esi), %edx
        call field
        mov $s_sp1, %eax
        mov 0x1bc(%esi), %edx
        call field
        call nl

        mov $s_e820, %eax
        movzbl 0x1e8(%esi), %edx
        call field
        call nl
        movzbl 0x1e8(%esi), %ecx
        lea 0x2d0(%esi), %edi
1:      test %ecx, %ecx
        jz 2f
        mov $s_sp, %eax
        mov 4(%edi), %edx
        call field
        mov $s_none, %eax
        mov 0(%edi), %edx
        call field
        mov $s_plus, %eax
        mov 12(%edi), %edx
        call field
        mov $s_none, %eax
        mov 8(%edi), %edx
        call field
        mov $s_type, %eax
        mov 16(%edi), %edx
        call field
        call nl
        add $20, %edi
        dec %ecx
        jmp 1b
2:
        mov $s_cmdline, %eax
        call puts
        mov 0x228(%esi), %eax
        test %eax, %eax
        jz 3f
        call puts
3:      mov $s_end, %eax
        call puts
        call nl

        # the initrd: its bytes summed, and its first line
        mov 0x218(%esi), %edi
        mov 0x21c(%esi), %ecx
        xor %edx, %edx
        xor %eax, %eax
4:      test %ecx, %ecx
        jz 5f
        movzbl (%edi), %ebx
        add %ebx, %edx
        inc %edi
        dec %ecx
        jmp 4b
5:      mov $s_sum, %eax
        call field
        call nl
        mov $s_first, %eax
        call puts
        mov 0x218(%esi), %edi
        mov 0x21c(%esi), %ecx
6:      test %ecx, %ecx
        jz 7f
        movzbl (%edi), %eax
        cmp $10, %al
        je 7f
        call putc
        inc %edi
        dec %ecx
        jmp 6b
7:      call nl

        mov $0x31, %al                  # isa-debug-exit: status (0x31 << 1) | 1 = 99
        out %al, $0xf4
        cli
8:      hlt
        jmp 8b

# puts: the NUL-terminated string at %eax.
puts:   push %esi
        mov %eax, %esi
1:      movzbl (%esi), %eax
        test %al, %al
        jz 2f
        call putc
        inc %esi
        jmp 1b
2:      pop %esi
        ret

# field: the string at %eax, then %edx in hex (8 digits).
field:  push %ecx
        call puts
        mov $8, %ecx
1:      rol $4, %edx
        mov %edx, %eax
        and $15, %eax
        movzbl hexdig(%eax), %eax
        call putc
        dec %ecx
        jnz 1b
        pop %ecx
        ret

nl:     mov $10, %al
# putc: %al on COM1 (polling the transmitter holding register empty bit).
putc:   push %edx
        push %eax
        mov $0x3fd, %dx
1:      in %dx, %al
        test $0x20, %al
        jz 1b
        pop %eax
        mov $0x3f8, %dx
        out %al, %dx
        pop %edx
        ret

        .data
hexdig: .ascii "0123456789abcdef"
s_hello: .asciz "linuxboot: "
s_esi:  .asciz "esi="
s_ebx:  .asciz " ebx="
s_edi:  .asciz " edi="
s_ebp:  .asciz " ebp="
s_cs:   .asciz "cs="
s_ds:   .asciz " ds="
s_es:   .asciz " es="
s_ss:   .asciz " ss="
s_if:   .asciz " if="
s_pe:   .asciz " cr0.pe="
s_pg:   .asciz " cr0.pg="
s_gdt:  .asciz "gdt limit="
s_g10:  .asciz " 0x10="
s_g18:  .asciz " 0x18="
s_colon: .asciz ":"
s_ver:  .asciz "hdr version="
s_loader: .asciz " type_of_loader="
s_lflags: .asciz " loadflags="
s_heap: .asciz " heap_end_ptr="
s_cmdptr: .asciz " cmd_line_ptr="
s_rd:   .asciz "ramdisk_image="
s_rdsize: .asciz " ramdisk_size="
s_rdmax: .asciz " initrd_addr_max="
s_clsize: .asciz " cmdline_size="
s_e820: .asciz "e820_entries="
s_extmem: .asciz "ext_mem_k="
s_altmem: .asciz " alt_mem_k="
s_ist:  .asciz " ist_info="
s_video: .asciz "screen_info="
s_edid: .asciz " edid_info="
s_sp:   .asciz "  "
s_none: .asciz ""
s_sp1:  .asciz " "
s_plus: .asciz " +"
s_type: .asciz " type "
s_cmdline: .asciz "cmdline=["
s_end:  .asciz "]"
s_sum:  .asciz "initrd sum="
s_first: .asciz "initrd first line: "

        .bss
        .balign 4
save_esi: .long 0
save_ebx: .long 0
save_edi: .long 0
save_ebp: .long 0
save_flags: .long 0
save_cr0: .long 0
save_cs: .word 0
save_ds: .word 0
save_es: .word 0
save_ss: .word 0
save_gdtr: .word 0
        .long 0
        .balign 16
        .space 4096
stack_top:
