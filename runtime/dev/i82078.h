// Floppy disk controller, Intel 82078 compatible (Intel 82078 44-pin CHMOS single-chip
// floppy disk controller datasheet, 1995: §2 registers, §5 command set), with no drives
// attached -- QEMU's PC with -nodefaults has the controller but no drive. Enough for a
// driver to find and identify the controller (reset, SENSE INTERRUPT STATUS, DUMPREGS,
// VERSION, CONFIGURE, PERPENDICULAR MODE, LOCK/UNLOCK, PART ID, SPECIFY); commands that
// need a drive end as the controller ends them with no drive (seek/recalibrate: equipment
// check; read/write: not ready).
#ifndef RING1_I82078_H
#define RING1_I82078_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

#define FDC_BASE     0x3f0
#define FDC_IRQ      6

// Registers, offsets from FDC_BASE (datasheet Table 2-1). 6 belongs to the IDE channel.
#define FDC_SRA      0   // status register A (read)
#define FDC_SRB      1   // status register B (read)
#define FDC_DOR      2   // digital output register
#define FDC_TDR      3   // tape drive register
#define FDC_MSR      4   // main status register (read)
#define FDC_DSR      4   // data rate select register (write)
#define FDC_FIFO     5   // data (command / result bytes)
#define FDC_DIR      7   // digital input register (read)
#define FDC_CCR      7   // configuration control register (write)

#define FDC_DOR_SEL     0x03  // drive select
#define FDC_DOR_NRESET  0x04  // 0 = controller held in reset
#define FDC_DOR_DMAEN   0x08  // DMA and interrupt enable (PC/AT mode)
#define FDC_DSR_SWRESET 0x80  // software reset, self-clearing

#define FDC_MSR_RQM     0x80  // ready for a data transfer through FIFO
#define FDC_MSR_DIO     0x40  // direction: 1 = controller to host (result phase)
#define FDC_MSR_NDMA    0x20  // non-DMA execution
#define FDC_MSR_CB      0x10  // command in progress

#define FDC_DIR_DSKCHG  0x80  // disk changed (no drive: set, as QEMU reports)

// Commands (low 5 bits; MT/MFM/SK flags in the high bits of read/write commands).
#define FDC_CMD_SPECIFY       0x03
#define FDC_CMD_SENSE_DRIVE   0x04
#define FDC_CMD_RECALIBRATE   0x07
#define FDC_CMD_SENSEI        0x08
#define FDC_CMD_DUMPREGS      0x0e
#define FDC_CMD_SEEK          0x0f
#define FDC_CMD_VERSION       0x10
#define FDC_CMD_PERPENDICULAR 0x12
#define FDC_CMD_CONFIGURE     0x13
#define FDC_CMD_UNLOCK        0x14
#define FDC_CMD_LOCK          0x94
#define FDC_CMD_PARTID        0x18

#define FDC_ST0_INVALID   0x80  // invalid command (the one-byte result of unknown commands)
#define FDC_ST0_ABNORMAL  0x40  // abnormal termination
#define FDC_ST0_READYCHG  0xc0  // polling after reset: drive ready changed
#define FDC_ST0_SEEK_END  0x20
#define FDC_ST0_EQUIP     0x10  // equipment check (no drive / track 0 not found)
#define FDC_ST0_NOT_READY 0x08

#define FDC_VERSION_82077 0x90  // VERSION result of an enhanced controller
#define FDC_PARTID_S82078B 0x41 // PART ID: S82078B stepping 1 (what QEMU answers)

struct i82078 {
    uint8_t dor, dsr, ccr;
    // Parameters kept for DUMPREGS.
    uint8_t specify[2];          // SRT/HUT, HLT/ND
    uint8_t config, pretrk, perpendicular;
    bool lock;
    uint8_t pcn[4];              // present cylinder per drive
    // Command phase: bytes received so far and how many the command takes.
    uint8_t cmd[9];
    unsigned ncmd, cmd_len;
    // Result phase.
    uint8_t res[10];
    unsigned nres, res_pos;
    // Interrupt state: the pending SENSE INTERRUPT STATUS answer.
    unsigned reset_sensei;       // drives still to report after a reset (4 .. 0)
    bool seek_done;              // a seek/recalibrate ended: report st0/pcn
    uint8_t seek_st0, seek_pcn;
    bool irq_pending;
    struct irq_line irq;
};

void i82078_init(struct i82078 *f);
uint8_t i82078_read(struct i82078 *f, unsigned reg);
void i82078_write(struct i82078 *f, unsigned reg, uint8_t val);

#endif
