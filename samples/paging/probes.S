# Accesses the page tables forbid, from ring 0 and from ring 3. Each is a PROBE: the #PF
# handler (main.c) reports it and either maps the page and retries (demand region) or
# skips the instruction.
#include "paging.h"
#include "probe.h"

.text
.globl kernel_probes, user_probes

# Ring 0, CR0.WP=1.
kernel_probes:
    PROBE "ring 0 write ro_page (WP=1)", movl %eax, ro_page
    ret

# Ring 3. Results travel to ring 0 in registers: EBX = first word of ro_page (readable), ESI =
# the word read from the demand region (demand-mapped for ring 3, so 0).
user_probes:
    PROBE "ring 3 read sup_page", movl sup_page, %eax
    PROBE "ring 3 write sup_page", movl %eax, sup_page
    PROBE "ring 3 write ro_page", movl %eax, ro_page
    movl ro_page, %ebx
    PROBE "ring 3 read 4 MiB supervisor page", movl BIG_PAGE, %eax
    movl DEMAND_BASE + 3 * PGSIZE, %esi
    int $SYSCALL_VECTOR
