# /init for an initramfs (tests/test_linux_boot.py, slow suite): mounts sysfs, reads the zero
# page the kernel kept (/sys/kernel/boot_params/data, 4 KiB) and prints it in hex, 32 bytes a
# line ("bp OFF: hh hh ..."), then powers off. No C library.
    .globl _start
    .text
_start:
    mov $21, %eax               # mount("sysfs", "/sys", "sysfs", 0, 0)
    mov $s_sysfs, %ebx
    mov $s_sys, %ecx
    mov $s_sysfs, %edx
    xor %esi, %esi
    xor %edi, %edi
    int $0x80
    mov $5, %eax                # open(path, O_RDONLY)
    mov $path, %ebx
    xor %ecx, %ecx
    int $0x80
    mov %eax, %ebx
    mov $3, %eax                # read(fd, buf, 4096)
    mov $buf, %ecx
    mov $4096, %edx
    int $0x80
    mov %eax, %ebp              # n
    mov $out, %edi
    xor %esi, %esi              # i
1:  cmp %ebp, %esi
    jge 3f
    test $31, %esi
    jnz 2f
    movb $10, (%edi)
    movl $0x20207062, 1(%edi)   # "bp  "
    add $4, %edi
    mov %esi, %eax
    shr $8, %eax
    call hex1
    mov %esi, %eax
    shr $4, %eax
    call hex1
    mov %esi, %eax
    call hex1
    movb $58, (%edi)            # ':'
    inc %edi
2:  movb $32, (%edi)
    inc %edi
    movzbl buf(%esi), %eax
    shr $4, %eax
    call hex1
    movzbl buf(%esi), %eax
    call hex1
    inc %esi
    jmp 1b
3:  movb $10, (%edi)
    inc %edi
    mov $4, %eax
    mov $1, %ebx
    mov $out, %ecx
    mov %edi, %edx
    sub $out, %edx
    int $0x80
    mov $88, %eax
    mov $0xfee1dead, %ebx
    mov $672274793, %ecx
    mov $0x4321fedc, %edx
    int $0x80
4:  jmp 4b
hex1: and $15, %eax
    movb hexd(%eax), %al
    movb %al, (%edi)
    inc %edi
    ret
    .data
hexd: .ascii "0123456789abcdef"
s_sysfs: .asciz "sysfs"
s_sys: .asciz "/sys"
path: .asciz "/sys/kernel/boot_params/data"
    .bss
buf: .space 4096
out: .space 16384
