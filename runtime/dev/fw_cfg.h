// QEMU's firmware configuration device, fw_cfg, as the i386 PC has it (QEMU's
// docs/specs/fw_cfg.rst; hw/nvram/fw_cfg.c): items selected by a 16-bit key, read a byte at a
// time through the data port, a directory of named files, and the DMA interface.
//
// Ports (QEMU's x86 layout, DMA enabled as on every pc machine since 2.5):
//   0x510  selector: a 16-bit write selects an item and rewinds it; byte reads read data
//   0x511  data: byte reads return the selected item's next byte (zeros past its end);
//          writes do nothing (writing through the data port went in QEMU 2.4)
//   0x514  DMA address, big-endian, 8 bytes: reads give "QEMU CFG"; a 32-bit write of the
//          high half at 0x514 latches it, of the low half at 0x518 starts the transfer
// As QEMU's memory core decides: word and dword reads of 0x510-0x511 answer 0 (the device
// takes byte reads only), unaligned reads of the DMA register 0 as well.
#ifndef RING1_FW_CFG_H
#define RING1_FW_CFG_H

#include <stdbool.h>
#include <stdint.h>

#define FW_CFG_IO_BASE    0x510
#define FW_CFG_IO_SIZE    2
#define FW_CFG_DMA_BASE   0x514
#define FW_CFG_DMA_SIZE   8

// Item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h names).
#define FW_CFG_SIGNATURE      0x00
#define FW_CFG_ID             0x01
#define FW_CFG_UUID           0x02
#define FW_CFG_RAM_SIZE       0x03
#define FW_CFG_NOGRAPHIC      0x04
#define FW_CFG_NB_CPUS        0x05
#define FW_CFG_MACHINE_ID     0x06
#define FW_CFG_KERNEL_ADDR    0x07
#define FW_CFG_KERNEL_SIZE    0x08
#define FW_CFG_KERNEL_CMDLINE 0x09
#define FW_CFG_INITRD_ADDR    0x0a
#define FW_CFG_INITRD_SIZE    0x0b
#define FW_CFG_BOOT_DEVICE    0x0c
#define FW_CFG_NUMA           0x0d
#define FW_CFG_BOOT_MENU      0x0e
#define FW_CFG_MAX_CPUS       0x0f
#define FW_CFG_KERNEL_ENTRY   0x10
#define FW_CFG_KERNEL_DATA    0x11
#define FW_CFG_INITRD_DATA    0x12
#define FW_CFG_CMDLINE_ADDR   0x13
#define FW_CFG_CMDLINE_SIZE   0x14
#define FW_CFG_CMDLINE_DATA   0x15
#define FW_CFG_SETUP_ADDR     0x16
#define FW_CFG_SETUP_SIZE     0x17
#define FW_CFG_SETUP_DATA     0x18
#define FW_CFG_FILE_DIR       0x19
#define FW_CFG_FILE_FIRST     0x20
#define FW_CFG_FILE_SLOTS     0x20      // QEMU's default directory size
#define FW_CFG_MAX_ENTRY      (FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS)
#define FW_CFG_WRITE_CHANNEL  0x4000
#define FW_CFG_ARCH_LOCAL     0x8000
#define FW_CFG_ENTRY_MASK     0x3fff    // ~(FW_CFG_WRITE_CHANNEL | FW_CFG_ARCH_LOCAL)
#define FW_CFG_INVALID        0xffff
// The x86 items (QEMU's hw/i386/fw_cfg.h).
#define FW_CFG_ACPI_TABLES    (FW_CFG_ARCH_LOCAL + 0)
#define FW_CFG_SMBIOS_ENTRIES (FW_CFG_ARCH_LOCAL + 1)
#define FW_CFG_IRQ0_OVERRIDE  (FW_CFG_ARCH_LOCAL + 2)
#define FW_CFG_E820_TABLE     (FW_CFG_ARCH_LOCAL + 3)
#define FW_CFG_HPET           (FW_CFG_ARCH_LOCAL + 4)

// FW_CFG_ID bits.
#define FW_CFG_VERSION        0x01      // the traditional interface
#define FW_CFG_VERSION_DMA    0x02      // the DMA interface
// FWCfgDmaAccess.control bits.
#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10
#define FW_CFG_DMA_SIGNATURE  0x51454d5520434647ull   // "QEMU CFG"

#define FW_CFG_FILE_NAME      56        // FWCfgFile.name, NUL included
#define FW_CFG_POOL           8192      // bytes of item data the device holds

struct fw_cfg_entry {
    const uint8_t *data;   // NULL: no such item (reads zeros)
    uint32_t len;
};

struct fw_cfg {
    struct fw_cfg_entry entries[2][FW_CFG_MAX_ENTRY];   // [arch local][key & ENTRY_MASK]
    // The file directory item: count, then {size, select, reserved, name} per file, all
    // big-endian (FWCfgFiles).
    uint8_t dir[4 + 64 * FW_CFG_FILE_SLOTS];
    uint8_t pool[FW_CFG_POOL];
    uint32_t pool_used;
    uint16_t cur_entry;    // FW_CFG_INVALID when nothing valid is selected
    uint32_t cur_offset;
    uint64_t dma_addr;     // the DMA address register (high half latched first)
    uint64_t dma_transfers, dma_errors;
    // Guest physical memory for DMA: false when [addr, addr+len) is not all RAM.
    bool (*mem_read)(void *opaque, uint64_t addr, void *buf, uint32_t len);
    bool (*mem_write)(void *opaque, uint64_t addr, const void *buf, uint32_t len);
    void *opaque;
};

// Empty device with the signature and the ID (DMA included), the signature selected; the
// memory callbacks are set after it.
void fw_cfg_init(struct fw_cfg *s);
// Items and files, copied into the device. False when the pool or directory is full, the
// key is out of range or already has an item, or the file name is taken or too long.
bool fw_cfg_add_bytes(struct fw_cfg *s, uint16_t key, const void *data, uint32_t len);
bool fw_cfg_add_i16(struct fw_cfg *s, uint16_t key, uint16_t v);   // little-endian
bool fw_cfg_add_i32(struct fw_cfg *s, uint16_t key, uint32_t v);
bool fw_cfg_add_i64(struct fw_cfg *s, uint16_t key, uint64_t v);
// Files go in the directory in name order (QEMU's order for every machine type but the
// pre-2.x legacy ones), numbered from FW_CFG_FILE_FIRST.
bool fw_cfg_add_file(struct fw_cfg *s, const char *name, const void *data, uint32_t len);

void fw_cfg_select(struct fw_cfg *s, uint16_t key);
// Ports 0x510-0x511 (off 0-1) and the DMA register 0x514-0x51B (off 0-7), sizes 1, 2, 4.
uint32_t fw_cfg_io_read(struct fw_cfg *s, uint16_t off, int size);
void fw_cfg_io_write(struct fw_cfg *s, uint16_t off, int size, uint32_t v);
uint32_t fw_cfg_dma_read(const struct fw_cfg *s, uint16_t off, int size);
void fw_cfg_dma_write(struct fw_cfg *s, uint16_t off, int size, uint32_t v);

#endif
