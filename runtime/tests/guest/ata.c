// ATA PIO by polling, compared with QEMU: every channel/drive's status, the IDENTIFY words a
// driver reads, READ SECTORS (LBA28 and CHS), READ/WRITE MULTIPLE, WRITE SECTORS + read back,
// FLUSH CACHE, an out-of-range read, a DMA command (aborts). Disks: index 0 (8 MiB, bytes
// i*7+lba) and index 3 (1 MiB), as the test creates them.
#include "glib.h"

static const uint16_t base[2] = {0x1f0, 0x170}, ctl[2] = {0x3f6, 0x376};

static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }

static void kv(const char *k, uint32_t v) { puts(k); puts("="); puthex(v); puts("\n"); }

// Until BSY clears. QEMU completes a FLUSH CACHE on another thread: on a loaded host that can
// take longer than 100,000 reads (a flake once); ring1's drive is never busy when read.
static uint8_t wait_idle(int c)
{
    uint8_t s = 0;
    for (int i = 0; i < 20000000; i++)
        if (!((s = inb(base[c] + 7)) & 0x80))
            break;
    return s;
}

static void select_lba(int c, int d, uint32_t lba, uint8_t n)
{
    outb(base[c] + 6, (uint8_t)(0xe0 | d << 4 | (lba >> 24)));
    outb(base[c] + 2, n);
    outb(base[c] + 3, (uint8_t)lba);
    outb(base[c] + 4, (uint8_t)(lba >> 8));
    outb(base[c] + 5, (uint8_t)(lba >> 16));
}

static uint32_t sum_words(int c, unsigned n)
{
    uint32_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s = s * 31 + inw(base[c]);
    return s;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    for (int c = 0; c < 2; c++) {
        outb(ctl[c], 0x02);                                  // nIEN: polling only
        for (int d = 0; d < 2; d++) {
            outb(base[c] + 6, (uint8_t)(0xa0 | d << 4));
            puts("ch"); putdec(c); puts(" dev"); putdec(d); puts(": ");
            kv("status", inb(base[c] + 7));
            kv("  nsect", inb(base[c] + 2));
            kv("  lbal", inb(base[c] + 3));
            kv("  error", inb(base[c] + 1));
            if (!inb(base[c] + 7))
                continue;
            outb(base[c] + 7, 0xec);
            kv("  identify status", wait_idle(c));
            uint16_t w[256];
            for (int i = 0; i < 256; i++)
                w[i] = inw(base[c]);
            for (int i = 0; i < 256; i++) {      // every word but the strings, if set
                if (!w[i] || (i >= 10 && i < 20) || (i >= 23 && i < 47))
                    continue;
                puts("  w"); putdec((uint32_t)i); puts("="); puthex(w[i]); puts("\n");
            }
            puts("  model='");
            for (int i = 27; i < 47; i++) { putc((char)(w[i] >> 8)); putc((char)w[i]); }
            puts("' serial='");
            for (int i = 10; i < 20; i++) { putc((char)(w[i] >> 8)); putc((char)w[i]); }
            puts("'\n");
            kv("  after identify", inb(base[c] + 7));
        }
    }
    // Disk 0: LBA reads, one sector then three.
    select_lba(0, 0, 5, 1);
    outb(0x1f7, 0x20);
    kv("read lba 5 status", wait_idle(0));
    kv("read lba 5 sum", sum_words(0, 256));
    kv("after", inb(0x1f7));
    select_lba(0, 0, 100, 3);
    outb(0x1f7, 0x20);
    uint32_t s = 0;
    for (int i = 0; i < 3; i++) { wait_idle(0); s ^= sum_words(0, 256); }
    kv("read 3 at 100 sum", s);
    kv("task file lbal after", inb(0x1f3));
    kv("task file nsect after", inb(0x1f2));
    // CHS: cylinder 2, head 3, sector 4.
    outb(0x1f6, 0xa3); outb(0x1f2, 1); outb(0x1f3, 4); outb(0x1f4, 2); outb(0x1f5, 0);
    outb(0x1f7, 0x20);
    wait_idle(0);
    kv("chs 2/3/4 sum", sum_words(0, 256));
    kv("chs sector after", inb(0x1f3));
    // READ MULTIPLE with 8-sector blocks.
    outb(0x1f6, 0xe0); outb(0x1f2, 8); outb(0x1f7, 0xc6);
    kv("set multiple", wait_idle(0));
    select_lba(0, 0, 200, 16);
    outb(0x1f7, 0xc4);
    s = 0;
    for (int b = 0; b < 2; b++) { kv("  block status", wait_idle(0)); s ^= sum_words(0, 2048); }
    kv("read multiple sum", s);
    // WRITE SECTORS, then read back.
    select_lba(0, 0, 300, 2);
    outb(0x1f7, 0x30);
    for (int sct = 0; sct < 2; sct++) {
        kv("  write drq", wait_idle(0));
        for (int i = 0; i < 256; i++)
            outw(0x1f0, (uint16_t)(i * 3 + sct));
    }
    kv("write done", wait_idle(0));
    select_lba(0, 0, 300, 2);
    outb(0x1f7, 0x20);
    wait_idle(0);
    s = sum_words(0, 256);
    wait_idle(0);
    kv("read back sum", s ^ sum_words(0, 256));
    // WRITE MULTIPLE (8-sector blocks), 10 sectors.
    select_lba(0, 0, 400, 10);
    outb(0x1f7, 0xc5);
    for (int b = 0; b < 2; b++) {
        kv("  wm drq", wait_idle(0));
        for (int i = 0; i < (b ? 2 : 8) * 256; i++)
            outw(0x1f0, (uint16_t)(i ^ 0x1234));
    }
    kv("write multiple done", wait_idle(0));
    outb(0x1f7, 0xe7);
    kv("flush", wait_idle(0));
    // Errors: past the end, and READ DMA.
    select_lba(0, 0, 16383, 2);
    outb(0x1f7, 0x20);
    kv("past the end status", wait_idle(0));
    kv("past the end error", inb(0x1f1));
    outb(0x1f7, 0xc8);
    kv("read dma status", wait_idle(0));
    kv("read dma error", inb(0x1f1));
    // Secondary slave (1 MiB): its last sector.
    select_lba(1, 1, 2047, 1);
    outb(0x177, 0x20);
    wait_idle(1);
    kv("secondary slave last sector sum", sum_words(1, 256));
    return 0;
}
