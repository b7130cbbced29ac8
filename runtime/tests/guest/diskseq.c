// Sequential disk writes, for what a disk image holds when ring1 is stopped part-way (by
// SIGKILL, SIGTERM or --timeout): WRITE SECTORS, one sector at a time, to LBA 1, 2, 3, ... up
// to the end of the primary master, each sector "R1SQ", its LBA, then bytes i ^ LBA. Polling,
// no interrupts. Prints "writing N sectors" first and "done" at the end.
#include "glib.h"

static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static uint8_t wait_not_busy(void)
{
    uint8_t s;
    while ((s = inb(0x1f7)) & 0x80)
        ;
    return s;
}

static uint8_t sector[512];

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    outb(0x3f6, 0x02);                       // nIEN
    outb(0x1f6, 0xa0);
    outb(0x1f7, 0xec);                       // IDENTIFY
    wait_not_busy();
    uint16_t w[256];
    for (int i = 0; i < 256; i++)
        w[i] = inw(0x1f0);
    uint32_t n = (uint32_t)w[61] << 16 | w[60];   // LBA28 capacity
    puts("writing ");
    putdec(n - 1);
    puts(" sectors\n");
    for (uint32_t lba = 1; lba < n; lba++) {
        sector[0] = 'R'; sector[1] = '1'; sector[2] = 'S'; sector[3] = 'Q';
        for (int i = 0; i < 4; i++)
            sector[4 + i] = (uint8_t)(lba >> (8 * i));
        for (int i = 8; i < 512; i++)
            sector[i] = (uint8_t)(i ^ lba);
        outb(0x1f6, (uint8_t)(0xe0 | (lba >> 24)));
        outb(0x1f2, 1);
        outb(0x1f3, (uint8_t)lba);
        outb(0x1f4, (uint8_t)(lba >> 8));
        outb(0x1f5, (uint8_t)(lba >> 16));
        outb(0x1f7, 0x30);                   // WRITE SECTORS
        uint8_t s = wait_not_busy();
        if (!(s & 0x08)) {
            puts("no DRQ at lba ");
            putdec(lba);
            puts("\n");
            gexit(2);
        }
        __asm__ volatile("cld; rep outsw" : "+S"((const void *){sector}), "+c"((uint32_t){256})
                         : "d"(0x1f0) : "memory");
        s = wait_not_busy();
        if (s & 0x01) {
            puts("error at lba ");
            putdec(lba);
            puts("\n");
            gexit(3);
        }
    }
    puts("done\n");
    gexit(0);
}
