// The paging sample's address map (virtual): see vm.c for how each part is mapped.
#ifndef PAGING_H
#define PAGING_H

#include "lib.h"

#define BIG_PAGE      0x00400000  // 4 MiB page (PSE), identity, supervisor only
#define BIG_ALIAS     0x00800000  // the same 4 MiB page again
#define DEMAND_BASE   0x40000000  // demand-paged region: not present until first touched
#define DEMAND_PAGES  4           // ... this many 4 KiB pages, one frame each
#define NFRAMES       DEMAND_PAGES
#define SYSCALL_VECTOR 0x80       // DPL-3 gate: ring 3's way back to ring 0

#ifndef __ASSEMBLER__
extern uint8_t sup_page[PGSIZE];  // kernel page: U=0
extern uint8_t ro_page[PGSIZE];   // user page, read-only: U=1 W=0
extern uint8_t frames[NFRAMES][PGSIZE];
extern uint32_t pgdir[NPTENTRIES];

void vm_init(void);                      // vm.c
uint32_t *vm_pte(uint32_t va);           // vm.c: the PTE of a 4 KiB-mapped va
int vm_demand_map(uint32_t va, int user);  // vm.c: map a frame at va (demand region only)
const char *va_name(uint32_t va);        // vm.c

void kernel_probes(void);                // probes.S, ring 0
void user_probes(void);                  // probes.S, ring 3
#endif
#endif
