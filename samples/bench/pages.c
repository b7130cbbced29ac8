// Page-touching workloads, paging on (the guest maps 4 KiB pages; the native build asks Linux
// for 4 KiB pages too, MADV_NOHUGEPAGE):
//   pagetouch   one word in every page of a mapped region, pages in a scrambled order, 256
//               passes per repetition: TLB misses and page walks (shadow pages under ring1,
//               the soft TLB under QEMU)
//   demandpage  the region is zapped before each repetition, so every page is demand-faulted
//               and zero-filled by the kernel's page-fault handler (the guest's, or Linux's)
// size = MiB of the region.
#include "work.h"

#define PASSES 256
#define SCRAMBLE 4099u  // odd: i -> i * SCRAMBLE mod 2^k visits every page once

static uint8_t *region;
static uint32_t npages;  // a power of two

static void region_setup(uint32_t size)
{
    npages = (size << 20) / BENCH_PAGE;
    while (npages & (npages - 1))
        npages &= npages - 1;
    region = plat_alloc((size_t)npages * BENCH_PAGE);
    bench_memset(region, 0, (size_t)npages * BENCH_PAGE);
}

void pagetouch_setup(uint32_t size) { region_setup(size); }
void demandpage_setup(uint32_t size) { region_setup(size); }

uint32_t pagetouch_rep(uint32_t rep)
{
    uint32_t sum = 0, off = (rep * 68) % BENCH_PAGE;
    for (uint32_t pass = 0; pass < PASSES; pass++) {
        for (uint32_t i = 0; i < npages; i++) {
            uint32_t p = (i * SCRAMBLE) & (npages - 1);
            uint32_t *w = (uint32_t *)(region + p * BENCH_PAGE + off);
            uint32_t x = *w;
            *w = x + p + rep;
            sum = sum * 31 + (x ^ p);
        }
    }
    return sum;
}

uint32_t demandpage_rep(uint32_t rep)
{
    plat_zap(region, (size_t)npages * BENCH_PAGE);
    uint32_t sum = 0, off = (rep * 68) % BENCH_PAGE;
    for (uint32_t i = 0; i < npages; i++) {
        uint32_t p = (i * SCRAMBLE) & (npages - 1);
        uint32_t *w = (uint32_t *)(region + p * BENCH_PAGE + off);
        sum = sum * 31 + *w;  // a fresh page reads zero
        *w = p ^ rep;
        sum = sum * 31 + *w;
    }
    return sum;
}
