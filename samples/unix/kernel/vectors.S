# Entry stubs for all 256 vectors, and the table `vectors` of their addresses (trap.c puts
# them in the IDT). Each stub makes the stack look the same for every vector: an error code
# (0 when the CPU pushes none) and the vector number, then joins alltraps (trapasm.S).
#include "x86.h"

.altmacro

.macro STUB n
vector\n:
  .if !T_HAS_ERR(\n)
    pushl $0
  .endif
    pushl $\n
    jmp alltraps
.endm

.macro ENTRY n
    .long vector\n
.endm

.text
.set i, 0
.rept 256
    STUB %i
    .set i, i + 1
.endr

.section .rodata
.p2align 2
.globl vectors
vectors:
.set i, 0
.rept 256
    ENTRY %i
    .set i, i + 1
.endr
