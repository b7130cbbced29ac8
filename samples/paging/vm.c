// The page tables: the first 4 MiB in 4 KiB pages (user-accessible, except sup_page, and
// ro_page read-only), the next 4 MiB as one supervisor 4 MiB page (mapped twice), and a
// demand-paged region whose page table starts empty.
#include "paging.h"

__attribute__((aligned(PGSIZE))) uint32_t pgdir[NPTENTRIES];
__attribute__((aligned(PGSIZE))) static uint32_t pt_low[NPTENTRIES];
__attribute__((aligned(PGSIZE))) static uint32_t pt_demand[NPTENTRIES];
__attribute__((aligned(PGSIZE))) uint8_t sup_page[PGSIZE] = "supervisor page";
__attribute__((aligned(PGSIZE))) uint8_t ro_page[PGSIZE] = "read-only page";
__attribute__((aligned(PGSIZE))) uint8_t frames[NFRAMES][PGSIZE];
static int frames_used;

void vm_init(void)
{
    for (uint32_t i = 0; i < NPTENTRIES; i++)
        pt_low[i] = (i * PGSIZE) | PTE_P | PTE_W | PTE_U;
    pt_low[PTX(sup_page)] &= ~PTE_U;
    pt_low[PTX(ro_page)] &= ~PTE_W;
    pgdir[PDX(0)] = (uint32_t)pt_low | PTE_P | PTE_W | PTE_U;
    pgdir[PDX(BIG_PAGE)] = BIG_PAGE | PTE_P | PTE_W | PTE_PS;
    pgdir[PDX(BIG_ALIAS)] = BIG_PAGE | PTE_P | PTE_W | PTE_PS;
    pgdir[PDX(DEMAND_BASE)] = (uint32_t)pt_demand | PTE_P | PTE_W | PTE_U;
}

uint32_t *vm_pte(uint32_t va)
{
    uint32_t *pt = (uint32_t *)(pgdir[PDX(va)] & ~(PGSIZE - 1));
    return &pt[PTX(va)];
}

// Give va's page the next free frame (zeroed); ring-3 access too if user. Returns the frame
// number, or -1 if va is outside the demand region or no frame is left.
int vm_demand_map(uint32_t va, int user)
{
    if (va < DEMAND_BASE || va >= DEMAND_BASE + DEMAND_PAGES * PGSIZE || frames_used == NFRAMES)
        return -1;
    int f = frames_used++;
    memset(frames[f], 0, PGSIZE);
    *vm_pte(va) = (uint32_t)frames[f] | PTE_P | PTE_W | (user ? PTE_U : 0);
    return f;
}

// Addresses in the transcript by name, so the golden does not depend on the link layout.
const char *va_name(uint32_t va)
{
    static char buf[24];
    const char *base = 0;
    uint32_t off = 0;
    if (va - (uint32_t)sup_page < PGSIZE)
        base = "sup_page", off = va - (uint32_t)sup_page;
    else if (va - (uint32_t)ro_page < PGSIZE)
        base = "ro_page", off = va - (uint32_t)ro_page;
    if (!base) {
        buf[0] = '0', buf[1] = 'x';
        for (int i = 0; i < 8; i++)
            buf[2 + i] = "0123456789abcdef"[(va >> (28 - 4 * i)) & 0xf];
        buf[10] = '\0';
        return buf;
    }
    int n = 0;
    while (*base)
        buf[n++] = *base++;
    buf[n++] = '+';
    buf[n++] = '0';
    buf[n++] = 'x';
    for (int i = 0; i < 3; i++)
        buf[n++] = "0123456789abcdef"[(off >> (8 - 4 * i)) & 0xf];
    buf[n] = '\0';
    return buf;
}
