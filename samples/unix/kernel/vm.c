// Virtual memory: page directories with 4 KiB page tables. Every process's directory maps
// the kernel (memlayout.h) above KERNBASE and its own pages below; kvmalloc() builds the
// kernel-only one the scheduler uses.
#include "defs.h"
#include "elf.h"

extern char data[];   // first kernel data page (kernel.ld); text and rodata are below it
static pde_t *kpgdir; // the scheduler's page directory

// The address of the PTE for virtual address va in pgdir. If alloc, create the page table
// it lives in when there is none; else return 0 for a missing table.
static pte_t *walkpgdir(pde_t *pgdir, const void *va, int alloc)
{
    pde_t *pde = &pgdir[PDX(va)];
    pte_t *pgtab;
    if (*pde & PTE_P) {
        pgtab = P2V(PTE_ADDR(*pde));
    } else {
        if (!alloc || (pgtab = (pte_t *)kalloc()) == 0)
            return 0;
        memset(pgtab, 0, PGSIZE);
        // Permissions are checked at both levels: the PDE allows everything, PTEs restrict.
        *pde = V2P(pgtab) | PTE_P | PTE_W | PTE_U;
    }
    return &pgtab[PTX(va)];
}

// Map [va, va+size) to [pa, pa+size) with permissions perm. va and size need not be aligned.
static int mappages(pde_t *pgdir, void *va, uint32_t size, uint32_t pa, int perm)
{
    char *a = (char *)PGROUNDDOWN(va);
    char *last = (char *)PGROUNDDOWN((uint32_t)va + size - 1);
    for (;;) {
        pte_t *pte = walkpgdir(pgdir, a, 1);
        if (!pte)
            return -1;
        if (*pte & PTE_P)
            panic("remap %x", (uint32_t)a);
        *pte = pa | perm | PTE_P;
        if (a == last)
            break;
        a += PGSIZE;
        pa += PGSIZE;
    }
    return 0;
}

// The kernel half of every page directory.
static struct kmap {
    void *virt;
    uint32_t phys_start;
    uint32_t phys_end;
    int perm;
} kmap[] = {
    { (void *)KERNBASE, 0, EXTMEM, PTE_W },             // BIOS areas, CGA text memory
    { (void *)KERNLINK, V2P(KERNLINK), V2P(data), 0 },  // kernel text and rodata
    { (void *)data, V2P(data), 0, PTE_W },              // kernel data, free memory: phystop
};
#define NKMAP (int)(sizeof(kmap) / sizeof(kmap[0]))
#define DEVPERM (PTE_W | PTE_PCD | PTE_PWT)             // device registers: uncached

// A new page directory holding the kernel's mappings, or 0. The APIC register pages are
// mapped at their physical addresses (mp.c checked they lie above the map of memory).
pde_t *setupkvm(void)
{
    pde_t *pgdir = (pde_t *)kalloc();
    if (!pgdir)
        return 0;
    memset(pgdir, 0, PGSIZE);
    for (const struct kmap *k = kmap; k < &kmap[NKMAP]; k++)
        if (mappages(pgdir, k->virt, k->phys_end - k->phys_start, k->phys_start, k->perm) < 0)
            goto bad;
    if (mappages(pgdir, (void *)lapicpa, PGSIZE, lapicpa, DEVPERM) < 0 ||
        mappages(pgdir, (void *)ioapicpa, PGSIZE, ioapicpa, DEVPERM) < 0)
        goto bad;
    return pgdir;
bad:
    freevm(pgdir);
    return 0;
}

void kvmalloc(void)
{
    kmap[NKMAP - 1].phys_end = phystop;
    if (!(kpgdir = setupkvm()))
        panic("kvmalloc");
    switchkvm();
}

void switchkvm(void)
{
    lcr3(V2P(kpgdir));
}

// Run p's address space, taking traps from ring 3 on its kernel stack.
void switchuvm(struct proc *p)
{
    if (!p->pgdir || !p->kstack)
        panic("switchuvm");
    tss_setesp0((uint32_t)p->kstack + KSTACKSIZE);
    lcr3(V2P(p->pgdir));
}

// Load sz bytes of ip from offset into pgdir at va (page-aligned, already mapped).
int loaduvm(pde_t *pgdir, char *va, struct inode *ip, uint32_t offset, uint32_t sz)
{
    if ((uint32_t)va % PGSIZE)
        panic("loaduvm: va not aligned");
    for (uint32_t i = 0; i < sz; i += PGSIZE) {
        pte_t *pte = walkpgdir(pgdir, va + i, 0);
        if (!pte)
            panic("loaduvm: address not mapped");
        uint32_t n = sz - i < PGSIZE ? sz - i : PGSIZE;
        if (readi(ip, P2V(PTE_ADDR(*pte)), offset + i, n) != (int)n)
            return -1;
    }
    return 0;
}

// Grow a process from oldsz to newsz bytes with zeroed pages. Returns newsz, or 0.
uint32_t allocuvm(pde_t *pgdir, uint32_t oldsz, uint32_t newsz)
{
    if (newsz >= KERNBASE)
        return 0;
    if (newsz < oldsz)
        return oldsz;
    for (uint32_t a = PGROUNDUP(oldsz); a < newsz; a += PGSIZE) {
        char *mem = kalloc();
        if (!mem) {
            deallocuvm(pgdir, newsz, oldsz);
            return 0;
        }
        memset(mem, 0, PGSIZE);
        if (mappages(pgdir, (char *)a, PGSIZE, V2P(mem), PTE_W | PTE_U) < 0) {
            kfree(mem);
            deallocuvm(pgdir, newsz, oldsz);
            return 0;
        }
    }
    return newsz;
}

// Shrink a process from oldsz to newsz bytes, freeing pages. Returns newsz.
uint32_t deallocuvm(pde_t *pgdir, uint32_t oldsz, uint32_t newsz)
{
    if (newsz >= oldsz)
        return oldsz;
    for (uint32_t a = PGROUNDUP(newsz); a < oldsz; a += PGSIZE) {
        pte_t *pte = walkpgdir(pgdir, (char *)a, 0);
        if (!pte)   // no page table: skip to the next one
            a = (((a >> PDXSHIFT) + 1) << PDXSHIFT) - PGSIZE;
        else if (*pte & PTE_P) {
            kfree(P2V(PTE_ADDR(*pte)));
            *pte = 0;
        }
    }
    return newsz;
}

// Free a page directory: the user pages, the page tables, the directory itself.
void freevm(pde_t *pgdir)
{
    if (!pgdir)
        panic("freevm: no pgdir");
    deallocuvm(pgdir, KERNBASE, 0);
    for (int i = 0; i < NPDENTRIES; i++)
        if (pgdir[i] & PTE_P)
            kfree(P2V(PTE_ADDR(pgdir[i])));
    kfree((char *)pgdir);
}

// Make the page at uva inaccessible from ring 3 (the guard page below the user stack).
void clearpteu(pde_t *pgdir, char *uva)
{
    pte_t *pte = walkpgdir(pgdir, uva, 0);
    if (!pte)
        panic("clearpteu");
    *pte &= ~PTE_U;
}

// A copy of a parent's address space [0, sz) for a child, or 0.
pde_t *copyuvm(pde_t *pgdir, uint32_t sz)
{
    pde_t *d = setupkvm();
    if (!d)
        return 0;
    for (uint32_t i = 0; i < sz; i += PGSIZE) {
        pte_t *pte = walkpgdir(pgdir, (void *)i, 0);
        if (!pte || !(*pte & PTE_P))
            panic("copyuvm: page not present");
        char *mem = kalloc();
        if (!mem)
            goto bad;
        memmove(mem, P2V(PTE_ADDR(*pte)), PGSIZE);
        if (mappages(d, (void *)i, PGSIZE, V2P(mem), PTE_FLAGS(*pte)) < 0) {
            kfree(mem);
            goto bad;
        }
    }
    return d;
bad:
    freevm(d);
    return 0;
}

// The kernel address of user address uva in pgdir, or 0 if not a user page.
static char *uva2ka(pde_t *pgdir, char *uva)
{
    pte_t *pte = walkpgdir(pgdir, uva, 0);
    if (!pte || (*pte & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
        return 0;
    return (char *)P2V(PTE_ADDR(*pte)) + ((uint32_t)uva & (PGSIZE - 1));
}

// Copy len bytes from p to user address va in pgdir (which need not be the current one).
int copyout(pde_t *pgdir, uint32_t va, const void *p, uint32_t len)
{
    const char *buf = p;
    while (len > 0) {
        char *ka = uva2ka(pgdir, (char *)va);
        if (!ka)
            return -1;
        uint32_t n = PGSIZE - (va & (PGSIZE - 1));
        if (n > len)
            n = len;
        memmove(ka, buf, n);
        len -= n;
        buf += n;
        va += n;
    }
    return 0;
}
