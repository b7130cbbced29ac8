// Tests of QEMU's fw_cfg device (dev/fw_cfg.c): what a guest reads through the ports and by
// DMA, as QEMU 7.2 answers (runtime/tests/guest/fwcfg.c has the same against QEMU itself).
#include "unit.h"

#include "fw_cfg.h"

static struct fw_cfg s;
static uint8_t ram[4096];

static bool rd(void *o, uint64_t a, void *b, uint32_t n)
{
    (void)o;
    if (a + n > sizeof ram)
        return false;
    memcpy(b, ram + a, n);
    return true;
}

static bool wr(void *o, uint64_t a, const void *b, uint32_t n)
{
    (void)o;
    if (a + n > sizeof ram)
        return false;
    memcpy(ram + a, b, n);
    return true;
}

static void setup(void)
{
    fw_cfg_init(&s);
    s.mem_read = rd;
    s.mem_write = wr;
    memset(ram, 0xaa, sizeof ram);
}

static uint8_t inb(uint16_t port) { return (uint8_t)fw_cfg_io_read(&s, port - FW_CFG_IO_BASE, 1); }
static void sel(uint16_t key) { fw_cfg_io_write(&s, 0, 2, key); }

TEST(signature_selected_at_reset)
{
    setup();
    CHECK_EQ(inb(0x511), 'Q');
    CHECK_EQ(inb(0x510), 'E');   // the selector port reads data too
    CHECK_EQ(inb(0x511), 'M');
    CHECK_EQ(inb(0x511), 'U');
    CHECK_EQ(inb(0x511), 0);     // zeros past the end
}

TEST(id_says_dma)
{
    setup();
    sel(FW_CFG_ID);
    CHECK_EQ(inb(0x511), FW_CFG_VERSION | FW_CFG_VERSION_DMA);
}

TEST(integers_are_little_endian)
{
    setup();
    CHECK(fw_cfg_add_i16(&s, FW_CFG_NB_CPUS, 0x0201));
    CHECK(fw_cfg_add_i64(&s, FW_CFG_RAM_SIZE, 0x0807060504030201ull));
    sel(FW_CFG_NB_CPUS);
    CHECK_EQ(inb(0x511), 1);
    CHECK_EQ(inb(0x511), 2);
    sel(FW_CFG_RAM_SIZE);
    for (int i = 1; i <= 8; i++)
        CHECK_EQ(inb(0x511), i);
    CHECK(!fw_cfg_add_i16(&s, FW_CFG_NB_CPUS, 1));   // taken
}

TEST(wide_reads_and_odd_writes_are_refused)
{
    setup();
    CHECK_EQ(fw_cfg_io_read(&s, 0, 2), 0);
    CHECK_EQ(fw_cfg_io_read(&s, 1, 4), 0);
    CHECK_EQ(inb(0x511), 'Q');              // and did not move the offset
    sel(FW_CFG_SIGNATURE);
    fw_cfg_io_write(&s, 0, 1, FW_CFG_ID);   // a byte write does not select
    fw_cfg_io_write(&s, 1, 1, 0x55);        // nor write data
    fw_cfg_io_write(&s, 0, 4, FW_CFG_ID);   // a dword is refused
    fw_cfg_io_write(&s, 1, 2, FW_CFG_ID);   // a word at the odd port too
    CHECK_EQ(inb(0x511), 'Q');
}

TEST(keys_out_of_range_read_zeros)
{
    setup();
    sel(0x3fff);
    CHECK_EQ(inb(0x511), 0);
    sel(FW_CFG_WRITE_CHANNEL);   // bit 14 is ignored for the item: the signature
    CHECK_EQ(inb(0x511), 'Q');
    sel(FW_CFG_ARCH_LOCAL);      // no x86 item 0
    CHECK_EQ(inb(0x511), 0);
}

TEST(directory_in_name_order)
{
    setup();
    CHECK(fw_cfg_add_file(&s, "etc/e820", "e", 1));
    CHECK(fw_cfg_add_file(&s, "bootorder", "bo", 2));
    CHECK(fw_cfg_add_file(&s, "zz", NULL, 0));
    CHECK(!fw_cfg_add_file(&s, "bootorder", "x", 1));
    sel(FW_CFG_FILE_DIR);
    uint8_t d[4 + 3 * 64];
    for (unsigned i = 0; i < sizeof d; i++)
        d[i] = inb(0x511);
    CHECK_EQ(d[3], 3);
    // bootorder first: size 2, select 0x20.
    CHECK_EQ(d[4 + 3], 2);
    CHECK_EQ(d[4 + 4] << 8 | d[4 + 5], 0x20);
    CHECK(!strcmp((char *)d + 4 + 8, "bootorder"));
    CHECK_EQ(d[68 + 5], 0x21);
    CHECK(!strcmp((char *)d + 68 + 8, "etc/e820"));
    CHECK_EQ(d[132 + 5], 0x22);
    sel(0x21);
    CHECK_EQ(inb(0x511), 'e');
    sel(0x20);
    CHECK_EQ(inb(0x511), 'b');
}

TEST(dma_register_reads_the_signature)
{
    setup();
    CHECK_EQ(fw_cfg_dma_read(&s, 0, 1), 'Q');
    CHECK_EQ(fw_cfg_dma_read(&s, 7, 1), 'G');
    CHECK_EQ(fw_cfg_dma_read(&s, 0, 4), 0x554d4551u);   // "QEMU" in address order
    CHECK_EQ(fw_cfg_dma_read(&s, 4, 4), 0x47464320u);   // " CFG"
    CHECK_EQ(fw_cfg_dma_read(&s, 2, 2), 0x554du);
    CHECK_EQ(fw_cfg_dma_read(&s, 1, 2), 0);             // unaligned: refused
}

static void put_be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t dma(uint32_t control, uint32_t len, uint32_t addr)
{
    uint8_t *a = ram + 0x100;
    put_be(a, control);
    put_be(a + 4, len);
    put_be(a + 8, 0);
    put_be(a + 12, addr);
    fw_cfg_dma_write(&s, 0, 4, 0);
    fw_cfg_dma_write(&s, 4, 4, __builtin_bswap32(0x100));
    return (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
}

TEST(dma_read_skip_and_errors)
{
    setup();
    CHECK(fw_cfg_add_i64(&s, FW_CFG_RAM_SIZE, 0x08000000));
    CHECK_EQ(dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 6, 0x200), 0);
    CHECK(!memcmp(ram + 0x200, "QEMU\0\0", 6));   // zeros past the end
    CHECK_EQ(ram[0x206], 0xaa);
    CHECK_EQ(dma(FW_CFG_RAM_SIZE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 3, 0x300), 0);
    CHECK_EQ(ram[0x300], 0xaa);
    CHECK_EQ(dma(FW_CFG_DMA_CTL_READ, 1, 0x300), 0);
    CHECK_EQ(ram[0x300], 0x08);
    // Writes: every item is read-only.
    CHECK_EQ(dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4, 0x300), FW_CFG_DMA_CTL_ERROR);
    // Outside memory: an error.
    CHECK_EQ(dma(FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4, 0x10000), FW_CFG_DMA_CTL_ERROR);
    // Select only: the item is rewound and nothing moves.
    CHECK_EQ(dma(FW_CFG_ID << 16 | FW_CFG_DMA_CTL_SELECT, 4, 0x300), 0);
    CHECK_EQ(inb(0x511), 3);
}

TEST(dma_high_half_only_latches)
{
    setup();
    uint8_t *a = ram + 0x100;
    put_be(a, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
    fw_cfg_dma_write(&s, 0, 4, 0);
    CHECK_EQ(a[3], FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
    fw_cfg_dma_write(&s, 4, 2, 0x100);   // a word is refused
    CHECK_EQ(a[3], FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
}
