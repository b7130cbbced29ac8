// PROBE: mark one instruction that is expected to fault, so a handler can name and skip it.
//
// Each use records {start, end, name} in section .probes (kernel.ld brackets it with
// __probes_start/__probes_end); probe_find() in probe.c looks an EIP up there. Transcripts
// name probes instead of printing addresses, so goldens do not depend on the link layout.
#ifndef SAMPLES_PROBE_H
#define SAMPLES_PROBE_H

#ifdef __ASSEMBLER__
.macro PROBE name, insn:vararg
7770: \insn
7771:
    .pushsection .probe_names, "a"
7772: .asciz "\name"
    .popsection
    .pushsection .probes, "a"
    .long 7770b, 7771b, 7772b
    .popsection
.endm
#else
// Inline-asm form: PROBE_ASM("name", "insn") expands to a string for __asm__ (escape %%).
#define PROBE_ASM(name, insn) \
    "7770: " insn "\n7771:\n" \
    ".pushsection .probe_names, \"a\"\n7772: .asciz \"" name "\"\n.popsection\n" \
    ".pushsection .probes, \"a\"\n.long 7770b, 7771b, 7772b\n.popsection\n"
#endif

#endif
