// The PC's two 8237A DMA controllers (Intel 8237A high performance programmable DMA
// controller datasheet, order no. 231466: register set, the byte pointer flip-flop, master
// clear) and their page registers (74LS612 at ports 0x81-0x8F), as a register file: the
// machine has no device that transfers by DMA (the floppy controller has no drive, the ATA
// channels use PIO), so no transfer ever runs; what a driver programs reads back as QEMU's
// i8257 model returns it.
#ifndef RING1_I8237_H
#define RING1_I8237_H

#include <stdbool.h>
#include <stdint.h>

#define DMA1_BASE      0x00   // channels 0-3, byte-wide, one port per register
#define DMA2_BASE      0xc0   // channels 4-7, word-wide, a register every other port
#define DMA1_PAGE_BASE 0x80   // page registers: 0x81-0x83, 0x87 (DMA 1), 0x89-0x8B, 0x8F (DMA 2)
#define DMA2_PAGE_BASE 0x88

// Registers, in register order (DMA 1: the port offset; DMA 2: the offset / 2).
#define DMA_CH_ADDR(ch)  ((ch) * 2)       // current/base address (through the flip-flop)
#define DMA_CH_COUNT(ch) ((ch) * 2 + 1)   // current/base word count
#define DMA_STATUS       8    // read: terminal count (0-3, cleared by the read), request (4-7)
#define DMA_COMMAND      8    // write
#define DMA_REQUEST      9    // write; a read returns the mask register (as QEMU's)
#define DMA_SINGLE_MASK  10   // write: bit 2 set/clear, bits 1-0 the channel
#define DMA_MODE         11   // write: bits 1-0 the channel
#define DMA_CLEAR_FF     12   // write: clear the byte pointer flip-flop
#define DMA_MASTER_CLEAR 13   // write: reset (all channels masked)
#define DMA_CLEAR_MASK   14   // write: unmask all channels
#define DMA_WRITE_MASK   15   // write: all four mask bits

struct i8237_channel {
    uint16_t base[2];   // base address, base count
    uint16_t addr;      // address as of the last complete (two-byte) write to the channel
    uint8_t mode, page;
};

struct i8237 {
    unsigned shift;     // 0 for DMA 1, 1 for DMA 2 (word addresses)
    struct i8237_channel ch[4];
    uint8_t command, mask, status;
    bool flip_flop;     // the next channel register access is the high byte
};

// After master clear (DMA 1), and for DMA 2 as the BIOS leaves it: channel 4 (the cascade
// from DMA 1) in cascade mode and unmasked.
void i8237_init(struct i8237 *d, unsigned shift);
uint8_t i8237_read(struct i8237 *d, unsigned reg);
void i8237_write(struct i8237 *d, unsigned reg, uint8_t val);
// Page registers by port offset from DMA1_PAGE_BASE/DMA2_PAGE_BASE (1-3, 7; others: -1).
int i8237_page_channel(unsigned offset);
uint8_t i8237_page_read(const struct i8237 *d, unsigned offset);
void i8237_page_write(struct i8237 *d, unsigned offset, uint8_t val);

#endif
