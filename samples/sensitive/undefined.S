# Instructions that raise #UD on this CPU model (QEMU qemu32) or in this mode; the #UD handler
# reports each by name and skips it. Registers are set up so that a CPU which did execute one
# would not run off somewhere.
#include "sensitive.h"
#include "probe.h"

.text
.globl check_undefined
check_undefined:
    PROBE "rsm (not in SMM)", rsm
    PROBE "syscall (EFER.SCE=0)", syscall
    PROBE "sysret (EFER.SCE=0)", sysretl
    movl $window, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    PROBE "monitor", monitor %eax, %ecx, %edx
    xorl %eax, %eax
    PROBE "mwait", mwait %eax, %ecx
    movl $1, %eax                   # XCR0 = x87 only, the one valid value
    PROBE "xsetbv", xsetbv
    PROBE "clac", clac
    PROBE "stac", stac
    PROBE "vmcall (no VMX)", vmcall
    PROBE "vmmcall (no SVM)", vmmcall
    PROBE "mov cs<-ax", .byte 0x8e, 0xc8
    PROBE "ud2", ud2
    ret
