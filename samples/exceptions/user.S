# Ring 3: privileged instructions and a gate it may not use, each #GP. Then back to ring 0.
#include "exceptions.h"
#include "probe.h"

.text
.globl user_faults
user_faults:
    PROBE "cli (ring 3)", cli
    PROBE "hlt (ring 3)", hlt
    PROBE "inb $0x21 (ring 3, IOPL 0)", inb $PIC1_DATA, %al
    PROBE "outb (ring 3, IOPL 0)", outb %al, $PIC1_DATA
    PROBE "mov cr0, eax (ring 3)", movl %cr0, %eax
    PROBE "lgdt (ring 3)", lgdt (%esp)
    PROBE "int $0x30 (DPL 0 gate)", int $VEC_KERNEL
    int $VEC_EXIT
