# /init for an initramfs (tests/test_linux_boot.py, slow suite): a static i386 program with
# no C library -- one line on its standard output (the console), then power off.
        .globl _start
        .text
_start:
        mov $4, %eax                    # write(1, msg, len)
        mov $1, %ebx
        mov $msg, %ecx
        mov $len, %edx
        int $0x80
        mov $88, %eax                   # reboot(MAGIC1, MAGIC2, LINUX_REBOOT_CMD_POWER_OFF)
        mov $0xfee1dead, %ebx
        mov $672274793, %ecx
        mov $0x4321fedc, %edx
        int $0x80
1:      jmp 1b

        .data
msg:    .ascii "hello from /init\n"
len = . - msg
