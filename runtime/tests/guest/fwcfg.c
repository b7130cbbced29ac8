// Differential probe of QEMU's firmware configuration device (fw_cfg: selector port 0x510,
// data port 0x511, DMA address registers 0x514-0x51B), run under qemu-system-i386 and under
// ring1-run (tests/test_runtime_boot.py compares the two transcripts): what byte, word and
// dword reads of each port answer, the first 64 bytes of every numbered item (0x00-0x1F and
// the x86 items 0x8000-0x8007), the file directory and every file in it (its first 512 bytes
// and a checksum of the whole), and DMA transfers: read, skip, select, an item past its end,
// a write, a bad key.
//
// Lines are "what key: bytes" (16 bytes a line, one key per byte) or "what key=value".
#include "glib.h"

#define FW_CFG_CTL  0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_DMA  0x514

static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }

static void hex2(uint8_t b)
{
    static const char h[] = "0123456789abcdef";
    putc(h[b >> 4]);
    putc(h[b & 15]);
}

static void row(const char *what, uint32_t key, const uint8_t *b, unsigned n)
{
    puts(what); puts(" "); puthex(key); puts(":");
    for (unsigned i = 0; i < n; i++) {
        putc(' ');
        hex2(b[i]);
    }
    puts("\n");
}

static void kv(const char *what, uint32_t key, uint32_t v)
{
    puts(what); puts(" "); puthex(key); puts("="); puthex(v); puts("\n");
}

static void select(uint16_t key) { outw(FW_CFG_CTL, key); }

static void read_bytes(uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b[i] = inb(FW_CFG_DATA);
}

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]; }
static uint32_t bswap(uint32_t v) { return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24; }

// Byte, word and dword reads of every port of the device and the two after it, with the
// signature item selected afresh before each (a read of the data port moves its offset).
static void port_widths(void)
{
    for (uint16_t p = FW_CFG_CTL; p < FW_CFG_DMA + 10; p++) {
        select(0);
        kv("fwcfg.inb", p, inb(p));
        select(0);
        kv("fwcfg.inw", p, inw(p));
        select(0);
        kv("fwcfg.inl", p, inl(p));
    }
    // A word read of the data port after a byte: where the offset went.
    select(0);
    (void)inb(FW_CFG_DATA);
    kv("fwcfg.after", 1, inb(FW_CFG_DATA));
    // A byte written to the selector or the data port, a dword to the selector.
    select(0);
    outb(FW_CFG_CTL, 1);
    kv("fwcfg.outb-ctl", 0, inb(FW_CFG_DATA));
    select(0);
    outb(FW_CFG_DATA, 0x55);
    kv("fwcfg.outb-data", 0, inb(FW_CFG_DATA));
    select(0);
    outl(FW_CFG_CTL, 0x00010001);
    kv("fwcfg.outl-ctl", 0, inb(FW_CFG_DATA));
    // A key past every item, the file directory's key with the arch bit, a key with bit 14.
    static const uint16_t odd[] = {0x0100, 0x3fff, 0x4000, 0x8019, 0xc000, 0xffff};
    for (unsigned i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        uint8_t b[8];
        select(odd[i]);
        read_bytes(b, 8);
        row("fwcfg.odd", odd[i], b, 8);
    }
}

// The numbered items: the first 64 bytes of each (an item reads zeros past its end).
static void items(void)
{
    static const uint16_t ranges[][2] = {{0x0000, 0x0020}, {0x8000, 0x8008}};
    for (unsigned r = 0; r < 2; r++) {
        for (uint16_t key = ranges[r][0]; key < ranges[r][1]; key++) {
            select(key);
            for (unsigned off = 0; off < 64; off += 16) {
                uint8_t b[16];
                read_bytes(b, 16);
                row("fwcfg.item", (uint32_t)key << 16 | off, b, 16);
            }
        }
    }
}

// FNV-1a over n bytes of the selected item.
static uint32_t fnv(unsigned n)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < n; i++)
        h = (h ^ inb(FW_CFG_DATA)) * 16777619u;
    return h;
}

struct file { uint32_t size; uint16_t select; char name[56]; };
static struct file files[64];
static unsigned nfiles;

static void directory(void)
{
    uint8_t b[64];
    select(0x19);
    read_bytes(b, 4);
    nfiles = be32(b);
    kv("fwcfg.files", 0, nfiles);
    if (nfiles > 64)
        nfiles = 64;
    for (unsigned i = 0; i < nfiles; i++) {
        read_bytes(b, 64);
        files[i].size = be32(b);
        files[i].select = (uint16_t)(b[4] << 8 | b[5]);
        for (unsigned j = 0; j < 56; j++)
            files[i].name[j] = (char)b[8 + j];
        files[i].name[55] = 0;
        // By name (a file missing on one machine moves the numbers of the files after it).
        puts("fwcfg.file "); puts(files[i].name); puts("=size "); puthex(files[i].size);
        puts(" reserved "); puthex(b[6] << 8 | b[7]); puts("\n");
        puts("fwcfg.select "); puts(files[i].name); puts("="); puthex(files[i].select);
        puts("\n");
    }
    for (unsigned i = 0; i < nfiles; i++) {
        select(files[i].select);
        unsigned n = files[i].size < 512 ? files[i].size : 512;
        for (unsigned off = 0; off < n; off += 16) {
            uint8_t d[16];
            unsigned k = n - off < 16 ? n - off : 16;
            read_bytes(d, k);
            puts("fwcfg.data."); puts(files[i].name); puts(" "); puthex(off); puts(":");
            for (unsigned j = 0; j < k; j++) {
                putc(' ');
                hex2(d[j]);
            }
            puts("\n");
        }
        select(files[i].select);
        puts("fwcfg.sum "); puts(files[i].name); puts("="); puthex(fnv(files[i].size));
        puts("\n");
        // Past the end: zeros.
        puts("fwcfg.past "); puts(files[i].name); puts("="); puthex(inb(FW_CFG_DATA));
        puts("\n");
    }
}

// The DMA interface: an FWCfgDmaAccess (big-endian control, length, address) whose physical
// address is written big-endian to 0x514 (high dword) and 0x518 (low dword, starts it).
struct dma_access { uint32_t control, length, addr_hi, addr_lo; } __attribute__((aligned(16)));
static volatile struct dma_access acc;
static uint8_t buf[96];

static void dma(const char *what, uint32_t control, uint32_t length)
{
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = 0xaa;
    acc.control = bswap(control);
    acc.length = bswap(length);
    acc.addr_hi = 0;
    acc.addr_lo = bswap((uint32_t)(uintptr_t)buf);
    outl(FW_CFG_DMA, 0);
    outl(FW_CFG_DMA + 4, bswap((uint32_t)(uintptr_t)&acc));
    puts("fwcfg.dma."); puts(what); puts("="); puthex(bswap(acc.control)); puts("\n");
    row(what[0] == 'w' ? "fwcfg.dmabuf.w" : "fwcfg.dmabuf", control >> 16, buf, 16);
    kv("fwcfg.dma.next", control >> 16, inb(FW_CFG_DATA));
}

static void dmas(void)
{
    uint8_t id[4];
    select(1);
    read_bytes(id, 4);
    if (!(id[0] & 2)) {
        kv("fwcfg.dma", 0, 0);
        return;
    }
    dma("read-sig", 0x00000008 | 0x02, 4);              // select 0, read 4
    dma("read-more", 0x02, 8);                          // the same item on: zeros past its end
    dma("skip", 0x00030008 | 0x04, 4);                  // select RAM size, skip its low dword
    dma("after-skip", 0x02, 4);
    dma("write", 0x00000008 | 0x10, 4);                 // read-only: error
    dma("bad-key", 0x7fff0008 | 0x02, 8);               // no such item: zeros
    dma("none", 0x00010008, 4);                         // select only
    dma("read-id", 0x02, 4);
    // A transfer through the 64-bit register (one qword write is not possible from
    // 32-bit code: the high dword alone only latches).
    acc.control = bswap(0x00000008 | 0x02);
    outl(FW_CFG_DMA, 0);
    kv("fwcfg.dma.latched", 0, bswap(acc.control));
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic; (void)info;
    port_widths();
    items();
    directory();
    dmas();
    return 0;
}
