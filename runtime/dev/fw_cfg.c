// QEMU's fw_cfg device (see fw_cfg.h): items, the file directory, the port and DMA
// interfaces. Checked against QEMU 7.2 by runtime/tests/guest/fwcfg.c.
#include "fw_cfg.h"

#include <string.h>

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void fw_cfg_init(struct fw_cfg *s)
{
    memset(s, 0, sizeof *s);
    fw_cfg_add_bytes(s, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_i32(s, FW_CFG_ID, FW_CFG_VERSION | FW_CFG_VERSION_DMA);
    fw_cfg_select(s, FW_CFG_SIGNATURE);   // QEMU's reset state
}

static struct fw_cfg_entry *entry(struct fw_cfg *s, uint16_t key)
{
    return &s->entries[!!(key & FW_CFG_ARCH_LOCAL)][key & FW_CFG_ENTRY_MASK];
}

static uint8_t *pool_alloc(struct fw_cfg *s, uint32_t len)
{
    if (len > FW_CFG_POOL - s->pool_used)
        return NULL;
    uint8_t *p = s->pool + s->pool_used;
    s->pool_used += len;
    return p;
}

bool fw_cfg_add_bytes(struct fw_cfg *s, uint16_t key, const void *data, uint32_t len)
{
    if ((key & FW_CFG_ENTRY_MASK) >= FW_CFG_MAX_ENTRY || (key & FW_CFG_WRITE_CHANNEL))
        return false;
    struct fw_cfg_entry *e = entry(s, key);
    if (e->data)
        return false;
    uint8_t *p = pool_alloc(s, len ? len : 1);
    if (!p)
        return false;
    if (len)
        memcpy(p, data, len);
    *e = (struct fw_cfg_entry){p, len};
    return true;
}

bool fw_cfg_add_i16(struct fw_cfg *s, uint16_t key, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return fw_cfg_add_bytes(s, key, b, 2);
}

bool fw_cfg_add_i32(struct fw_cfg *s, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fw_cfg_add_bytes(s, key, b, 4);
}

bool fw_cfg_add_i64(struct fw_cfg *s, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fw_cfg_add_bytes(s, key, b, 8);
}

bool fw_cfg_add_file(struct fw_cfg *s, const char *name, const void *data, uint32_t len)
{
    size_t nlen = strlen(name);
    if (nlen >= FW_CFG_FILE_NAME)
        return false;
    if (!s->entries[0][FW_CFG_FILE_DIR].data)
        s->entries[0][FW_CFG_FILE_DIR] = (struct fw_cfg_entry){s->dir, sizeof s->dir};
    uint32_t count = get_be32(s->dir);
    if (count >= FW_CFG_FILE_SLOTS)
        return false;
    uint8_t *f = s->dir + 4;
    uint32_t index = count;
    for (uint32_t i = 0; i < count; i++) {
        int c = strcmp(name, (const char *)f + 64 * i + 8);
        if (c == 0)
            return false;
        if (c < 0 && index == count)
            index = i;
    }
    uint8_t *p = pool_alloc(s, len ? len : 1);
    if (!p)
        return false;
    if (len)
        memcpy(p, data, len);
    // Move the files after the insertion point down one slot, renumbering them.
    for (uint32_t i = count; i > index; i--) {
        memcpy(f + 64 * i, f + 64 * (i - 1), 64);
        f[64 * i + 4] = (uint8_t)((FW_CFG_FILE_FIRST + i) >> 8);
        f[64 * i + 5] = (uint8_t)(FW_CFG_FILE_FIRST + i);
        s->entries[0][FW_CFG_FILE_FIRST + i] = s->entries[0][FW_CFG_FILE_FIRST + i - 1];
    }
    uint8_t *slot = f + 64 * index;
    memset(slot, 0, 64);
    put_be32(slot, len);
    slot[4] = (uint8_t)((FW_CFG_FILE_FIRST + index) >> 8);
    slot[5] = (uint8_t)(FW_CFG_FILE_FIRST + index);
    memcpy(slot + 8, name, nlen);
    s->entries[0][FW_CFG_FILE_FIRST + index] = (struct fw_cfg_entry){p, len};
    put_be32(s->dir, count + 1);
    return true;
}

void fw_cfg_select(struct fw_cfg *s, uint16_t key)
{
    s->cur_offset = 0;
    s->cur_entry = (key & FW_CFG_ENTRY_MASK) >= FW_CFG_MAX_ENTRY ? FW_CFG_INVALID : key;
}

static const struct fw_cfg_entry *current(struct fw_cfg *s)
{
    if (s->cur_entry == FW_CFG_INVALID)
        return NULL;
    const struct fw_cfg_entry *e = entry(s, s->cur_entry);
    return e->data ? e : NULL;
}

// size bytes of the selected item as a big-endian number, zeros past its end (QEMU's
// fw_cfg_data_read; the port interface reads one byte at a time).
static uint32_t data_read(struct fw_cfg *s, int size)
{
    const struct fw_cfg_entry *e = current(s);
    uint32_t v = 0;
    for (int i = 0; i < size; i++) {
        v <<= 8;
        if (e && s->cur_offset < e->len)
            v |= e->data[s->cur_offset++];
    }
    return v;
}

uint32_t fw_cfg_io_read(struct fw_cfg *s, uint16_t off, int size)
{
    (void)off;   // both ports read data
    return size == 1 ? data_read(s, 1) : 0;   // wider reads are refused: 0
}

void fw_cfg_io_write(struct fw_cfg *s, uint16_t off, int size, uint32_t v)
{
    // A 16-bit write selects; byte writes do nothing; anything else (a dword, a word at the
    // odd port) is refused.
    if (size == 2 && off == 0)
        fw_cfg_select(s, (uint16_t)v);
}

uint32_t fw_cfg_dma_read(const struct fw_cfg *s, uint16_t off, int size)
{
    (void)s;
    if (off & (size - 1))
        return 0;   // unaligned: refused
    // The register's bytes in address order: "QEMU CFG".
    uint32_t v = 0;
    for (int i = 0; i < size; i++)
        v |= (uint32_t)(uint8_t)(FW_CFG_DMA_SIGNATURE >> (8 * (7 - off - i))) << (8 * i);
    return v;
}

static void dma_transfer(struct fw_cfg *s);

void fw_cfg_dma_write(struct fw_cfg *s, uint16_t off, int size, uint32_t v)
{
    if (size != 4)
        return;
    // The register is big-endian: the guest's dword holds its bytes in address order.
    uint32_t be = __builtin_bswap32(v);
    if (off == 0) {
        s->dma_addr = (uint64_t)be << 32;
    } else if (off == 4) {
        s->dma_addr |= be;
        dma_transfer(s);
    }
}

static bool mem_write(struct fw_cfg *s, uint64_t addr, const void *buf, uint32_t len)
{
    return s->mem_write && s->mem_write(s->opaque, addr, buf, len);
}

static bool mem_zero(struct fw_cfg *s, uint64_t addr, uint32_t len)
{
    static const uint8_t zeros[256];
    while (len) {
        uint32_t n = len < sizeof zeros ? len : (uint32_t)sizeof zeros;
        if (!mem_write(s, addr, zeros, n))
            return false;
        addr += n;
        len -= n;
    }
    return true;
}

// QEMU's fw_cfg_dma_transfer: the FWCfgDmaAccess at dma_addr (control, length, address,
// big-endian) is carried out and its control word rewritten: 0 when done, ERROR otherwise.
// No item is writable, as on the PC without -fw_cfg options: a write transfer is an error.
static void dma_transfer(struct fw_cfg *s)
{
    uint64_t at = s->dma_addr;
    s->dma_addr = 0;
    s->dma_transfers++;
    uint8_t acc[16];
    if (!s->mem_read || !s->mem_read(s->opaque, at, acc, sizeof acc)) {
        uint8_t err[4];
        put_be32(err, FW_CFG_DMA_CTL_ERROR);
        mem_write(s, at, err, 4);
        s->dma_errors++;
        return;
    }
    uint32_t control = get_be32(acc), length = get_be32(acc + 4);
    uint64_t addr = (uint64_t)get_be32(acc + 8) << 32 | get_be32(acc + 12);
    if (control & FW_CFG_DMA_CTL_SELECT)
        fw_cfg_select(s, (uint16_t)(control >> 16));
    bool read = false, write = false;
    if (control & FW_CFG_DMA_CTL_READ)
        read = true;
    else if (control & FW_CFG_DMA_CTL_WRITE)
        write = true;
    else if (!(control & FW_CFG_DMA_CTL_SKIP))
        length = 0;
    uint32_t status = 0;
    while (length > 0 && !(status & FW_CFG_DMA_CTL_ERROR)) {
        const struct fw_cfg_entry *e = current(s);
        uint32_t len;
        if (!e || s->cur_offset >= e->len) {
            len = length;
            if (read && !mem_zero(s, addr, len))
                status |= FW_CFG_DMA_CTL_ERROR;
            if (write)
                status |= FW_CFG_DMA_CTL_ERROR;
        } else {
            uint32_t left = e->len - s->cur_offset;
            len = length <= left ? length : left;
            if (read && !mem_write(s, addr, e->data + s->cur_offset, len))
                status |= FW_CFG_DMA_CTL_ERROR;
            if (write)
                status |= FW_CFG_DMA_CTL_ERROR;   // read-only items
            s->cur_offset += len;
        }
        addr += len;
        length -= len;
    }
    if (status)
        s->dma_errors++;
    uint8_t out[4];
    put_be32(out, status);
    mem_write(s, at, out, 4);
}
