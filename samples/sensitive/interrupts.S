# Software interrupts and iret within ring 0: int n, int3 (cc), int $3 (cd 03), into with OF
# set and clear, icebp/int1 (f1), and an iret to the same privilege level that sets IF.
#include "sensitive.h"
#include "probe.h"

.text
.globl intr_int_n, intr_traps, intr_icebp, intr_into_clear, intr_iret_same

# void intr_int_n(void)
intr_int_n:
    int $SOFT_VECTOR
    ret

# void intr_traps(void): each instruction traps; the handler reports and resumes after it.
intr_traps:
    PROBE "int3", int3
    PROBE "int $3", .byte 0xcd, 0x03       # gas would encode `int $3` as cc
    movb $0x7f, %al
    addb $1, %al                            # signed overflow: OF=1
    PROBE "into (OF=1)", into
    ret

# void intr_icebp(void)
intr_icebp:
    PROBE "icebp/int1", .byte 0xf1          # gas spells it int1 or icebp depending on version
    ret

# uint32_t intr_into_clear(void): into with OF=0 does nothing; returns 1 if we got past it
intr_into_clear:
    xorl %eax, %eax                         # OF=0
    PROBE "into (OF=0)", into
    movl $1, %eax
    ret

# uint32_t intr_iret_same(void): iret from a hand-built frame whose EFLAGS has IF=1; returns
# EFLAGS as seen after the iret (then clears IF again).
intr_iret_same:
    pushfl
    orl $FL_IF, (%esp)
    pushl %cs
    pushl $1f
    iret
1:  pushfl
    popl %eax
    cli
    ret
