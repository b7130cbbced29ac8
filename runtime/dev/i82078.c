// Intel 82078 floppy disk controller with no drives (datasheet §2 registers, §5 commands).
// Where the datasheet leaves a choice, QEMU's hw/block/fdc.c is followed: leaving reset
// (DOR nRESET 0 -> 1, or DSR software reset) interrupts at once and the next four SENSE
// INTERRUPT STATUS commands report the four drives' ready change; the interrupt goes down
// when a SENSE INTERRUPT STATUS result is read; PART ID answers an S82078B.
#include "i82078.h"

#include <string.h>

static void set_irq(struct i82078 *f, bool on)
{
    f->irq_pending = on;
    irq_line_set(&f->irq, on);
}

// Total length (opcode included) of each command, 0 = invalid (datasheet Table 5-1).
static unsigned cmd_length(uint8_t op)
{
    switch (op & 0x1f) {
    case 0x02: case 0x05: case 0x06: case 0x09: case 0x0c: case 0x11: case 0x16:
    case 0x19: case 0x1d:
        return 9;                               // read/write/verify/scan data
    case 0x0d: return 6;                        // format track
    case FDC_CMD_SPECIFY: return 3;
    case FDC_CMD_SENSE_DRIVE: return 2;
    case FDC_CMD_RECALIBRATE: return 2;
    case FDC_CMD_SENSEI: return 1;
    case 0x0a: return 2;                        // read ID
    case FDC_CMD_DUMPREGS: return 1;
    case FDC_CMD_SEEK: return 3;                // also relative seek (8Fh/CFh)
    case FDC_CMD_VERSION: return 1;
    case FDC_CMD_PERPENDICULAR: return 2;
    case FDC_CMD_CONFIGURE: return 4;
    case FDC_CMD_UNLOCK: return 1;              // and LOCK (94h)
    case 0x17: return 2;                        // powerdown mode
    case FDC_CMD_PARTID: return 1;
    default: return 0;
    }
}

static void to_command_phase(struct i82078 *f)
{
    f->ncmd = f->cmd_len = 0;
    f->nres = f->res_pos = 0;
}

static void result(struct i82078 *f, const uint8_t *r, unsigned n)
{
    memcpy(f->res, r, n);
    f->nres = n;
    f->res_pos = 0;
    f->ncmd = f->cmd_len = 0;
}

static void reset(struct i82078 *f)
{
    to_command_phase(f);
    f->seek_done = false;
    set_irq(f, true);          // leaving reset interrupts (PC/AT mode)
    f->reset_sensei = 4;       // one ready-change status per drive
}

void i82078_init(struct i82078 *f)
{
    struct irq_line irq = f->irq;
    memset(f, 0, sizeof *f);
    f->irq = irq;
    f->dor = FDC_DOR_NRESET | FDC_DOR_DMAEN;
    f->config = 0x20;          // FIFO disabled, threshold 1 (reset value)
}

static void execute(struct i82078 *f)
{
    const uint8_t *c = f->cmd;
    unsigned drive = c[1] & 3;
    switch (c[0] & 0x1f) {
    case FDC_CMD_SPECIFY:
        f->specify[0] = c[1];
        f->specify[1] = c[2];
        to_command_phase(f);
        return;
    case FDC_CMD_SENSE_DRIVE: {
        uint8_t st3 = (uint8_t)(0x28 | (c[1] & 7));   // two-sided, track 0 (QEMU's answer)
        result(f, &st3, 1);
        return;
    }
    case FDC_CMD_RECALIBRATE:
    case FDC_CMD_SEEK:
        f->pcn[drive] = (c[0] & 0x1f) == FDC_CMD_SEEK && !(c[0] & 0x80) ? c[2] : 0;
        f->seek_done = true;
        f->seek_st0 = (uint8_t)(FDC_ST0_SEEK_END | (c[1] & 7));
        f->seek_pcn = f->pcn[drive];
        to_command_phase(f);
        set_irq(f, true);
        return;
    case FDC_CMD_SENSEI: {
        uint8_t r[2];
        if (f->reset_sensei) {
            r[0] = (uint8_t)(FDC_ST0_READYCHG | (4 - f->reset_sensei));
            r[1] = f->pcn[4 - f->reset_sensei];
            f->reset_sensei--;
        } else if (f->seek_done) {
            r[0] = f->seek_st0;
            r[1] = f->seek_pcn;
            f->seek_done = false;
        } else {
            r[0] = FDC_ST0_INVALID;   // no interrupt to report
            result(f, r, 1);
            return;
        }
        result(f, r, 2);
        set_irq(f, false);
        return;
    }
    case FDC_CMD_DUMPREGS: {
        uint8_t r[10] = {f->pcn[0], f->pcn[1], f->pcn[2], f->pcn[3], f->specify[0],
                         (uint8_t)((f->specify[1] & 0xfe) | ((f->dor & FDC_DOR_DMAEN) ? 1 : 0)),
                         0, (uint8_t)((f->lock ? 0x80 : 0) | (f->perpendicular & 0x7f)),
                         f->config, f->pretrk};
        result(f, r, 10);
        return;
    }
    case FDC_CMD_VERSION: {
        uint8_t v = FDC_VERSION_82077;
        result(f, &v, 1);
        return;
    }
    case FDC_CMD_PERPENDICULAR:
        f->perpendicular = c[1];
        to_command_phase(f);
        return;
    case FDC_CMD_CONFIGURE:
        f->config = c[2];
        f->pretrk = c[3];
        to_command_phase(f);
        return;
    case FDC_CMD_UNLOCK: {             // LOCK when bit 7 is set
        f->lock = c[0] & 0x80;
        uint8_t v = f->lock ? 0x10 : 0x00;
        result(f, &v, 1);
        return;
    }
    case FDC_CMD_PARTID: {
        uint8_t v = FDC_PARTID_S82078B;
        result(f, &v, 1);
        return;
    }
    case 0x17: {                       // powerdown mode: echo the new settings
        uint8_t v = c[1];
        result(f, &v, 1);
        return;
    }
    default: {
        // Data transfers, read ID, format: no drive, hence not ready (ST0-ST2, C H R N).
        uint8_t r[7] = {(uint8_t)(FDC_ST0_ABNORMAL | FDC_ST0_NOT_READY | (c[1] & 7)), 0, 0,
                        c[2], c[3], c[4], c[5]};
        result(f, r, 7);
        set_irq(f, true);
        return;
    }
    }
}

uint8_t i82078_read(struct i82078 *f, unsigned reg)
{
    switch (reg) {
    case FDC_SRA:
        return f->irq_pending ? 0x80 : 0x00;
    case FDC_SRB:
        return 0xc0;
    case FDC_DOR:
        return f->dor;
    case FDC_TDR:
        return 0;
    case FDC_MSR:
        if (!(f->dor & FDC_DOR_NRESET))
            return 0;
        if (f->nres)
            return FDC_MSR_RQM | FDC_MSR_DIO | FDC_MSR_CB;
        return f->ncmd ? FDC_MSR_RQM | FDC_MSR_CB : FDC_MSR_RQM;
    case FDC_FIFO:
        if (!f->nres)
            return 0;
        {
            uint8_t v = f->res[f->res_pos++];
            if (f->res_pos == f->nres)
                to_command_phase(f);
            return v;
        }
    case FDC_DIR:
        return FDC_DIR_DSKCHG;
    default:
        return 0xff;
    }
}

void i82078_write(struct i82078 *f, unsigned reg, uint8_t val)
{
    switch (reg) {
    case FDC_DOR: {
        uint8_t old = f->dor;
        f->dor = val;
        if (!(val & FDC_DOR_NRESET)) {
            to_command_phase(f);          // held in reset
            set_irq(f, false);
            f->reset_sensei = 0;
        } else if (!(old & FDC_DOR_NRESET)) {
            reset(f);                     // out of reset
        }
        return;
    }
    case FDC_DSR:
        f->dsr = val & 0x7f;
        if (val & FDC_DSR_SWRESET)
            reset(f);
        return;
    case FDC_CCR:
        f->ccr = val & 3;
        return;
    case FDC_FIFO:
        if (!(f->dor & FDC_DOR_NRESET) || f->nres)
            return;                       // not accepting bytes now
        if (f->ncmd == 0) {
            f->cmd_len = cmd_length(val);
            if (!f->cmd_len) {
                uint8_t r = FDC_ST0_INVALID;
                result(f, &r, 1);
                return;
            }
        }
        f->cmd[f->ncmd++] = val;
        if (f->ncmd == f->cmd_len)
            execute(f);
        return;
    default:
        return;
    }
}
