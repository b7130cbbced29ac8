// The exceptions sample's layout: one extra GDT slot, a few vectors and addresses.
#ifndef EXCEPTIONS_H
#define EXCEPTIONS_H

#include "lib.h"

#define XSEG_ABSENT   NSEGS                 // ring-0 data segment, present bit clear
#define NXSEGS        (NSEGS + 1)
#define SEL_ABSENT    (XSEG_ABSENT << SEL_INDEX_SHIFT)
#define SEL_BEYOND    (NXSEGS << SEL_INDEX_SHIFT)   // just past the GDT limit

#define VEC_ABSENT    0x41   // IDT gate with the present bit clear
#define VEC_KERNEL    0x30   // DPL-0 gate: ring 3 may not `int` to it
#define VEC_EXIT      0x80   // DPL-3 gate: ring 3's way back (ring3_leave)
#define UNMAPPED_VA   0x40000000  // nothing is mapped here when paging is on

#ifndef __ASSEMBLER__
void faults_ring0(void);      // faults.S
void fault_double(void);      // faults.S: #GP with the #GP gate not present
void fault_double_resume(void);
void fault_page(void);        // faults.S: #PF (paging must be on)
void user_faults(void);       // user.S, runs in ring 3
#endif
#endif
