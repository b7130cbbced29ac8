// The sensitive sample's own layout: its extended GDT, the LDT, and one check per file.
#ifndef SENSITIVE_H
#define SENSITIVE_H

#include "lib.h"

// Extended GDT (tables.c): the library's slots 0-5, then these. Loaded with lgdt.
#define XSEG_LDT     6   // LDT descriptor -> ldt[] (one data segment)
#define XSEG_ALIAS   7   // a second flat ring-0 code segment, to far-jump between
#define XSEG_WINDOW  8   // byte-granular data segment over window[]: nonzero base, small limit
#define XSEG_ABSENT  9   // data segment with the present bit clear
#define XSEG_XONLY   10  // execute-only ring-0 code segment (not readable)
#define XSEG_GATE    11  // call gate, DPL 3, to callgate_entry (user.S)
#define NXSEGS       12

#define SEL_LDT      (XSEG_LDT << SEL_INDEX_SHIFT)
#define SEL_ALIAS    (XSEG_ALIAS << SEL_INDEX_SHIFT)
#define SEL_WINDOW   (XSEG_WINDOW << SEL_INDEX_SHIFT)
#define SEL_ABSENT   (XSEG_ABSENT << SEL_INDEX_SHIFT)
#define SEL_XONLY    (XSEG_XONLY << SEL_INDEX_SHIFT)
#define SEL_GATE     ((XSEG_GATE << SEL_INDEX_SHIFT) | 3)
#define SEL_LDT0     SEL_TI          // LDT entry 0, RPL 0
#define SEL_BEYOND   (NXSEGS << SEL_INDEX_SHIFT)  // just past the GDT limit

#define WINDOW_SIZE  64   // bytes in window[] (the limit of SEL_WINDOW is WINDOW_SIZE - 1)
#define LDT_DATA_SIZE 16  // bytes in ldt_data[] (the limit of SEL_LDT0 is this - 1)
#define SOFT_VECTOR  0x30 // vector for the `int n` check
#define SYSCALL_VECTOR 0x80  // DPL-3 gate that ends the ring-3 excursion

#ifndef __ASSEMBLER__
extern uint64_t xgdt[NXSEGS];
extern uint8_t window[WINDOW_SIZE];
extern uint8_t ldt_data[LDT_DATA_SIZE];

// Name a known address for the transcript, so goldens do not depend on the link layout.
const char *addr_name(uint32_t a);
// The eflags bits the virtual CPU owns, as "IF=1 IOPL=0 NT=0 AC=0".
void print_vflags(uint32_t fl);

void check_flags(void);         // flags.c: cli sti pushf popf
void check_tables(void);        // tables.c: sgdt sidt lgdt lidt lldt ltr sldt str
void check_far(void);           // far.c: ljmp lcall lret (same CPL)
void check_segments(void);      // segments.c: mov/pop/push sreg, lds les lfs lgs lss
void check_descriptors(void);   // descriptors.c: lar lsl verr verw
void check_control(void);       // control.c: crN clts lmsw smsw invlpg wbinvd invd
void check_debug(void);         // debug.c: drN
void check_msr(void);           // msr.c: rdmsr wrmsr rdpmc
void check_cpu(void);           // cpu.c: cpuid rdtsc rdtscp
void check_ports(void);         // ports.c: in out ins outs
void check_interrupts(void);    // interrupts.c: int n, int3, into, int1, iret, hlt
void check_user(void);          // user.c: ring 3, sysenter sysexit, call gate, int 0x80
void check_undefined(void);     // undefined.S: instructions that #UD on this CPU
void port_exit_l(uint32_t code) __attribute__((noreturn));  // ports.S: outl imm8, exit
#endif
#endif
