// 16550A UART. National Semiconductor PC16550D datasheet (June 1995): register set
// (Table II), interrupt priorities (Table IV), FIFO operation. Transmission is instantaneous:
// THR is always empty again by the time the guest looks.
#include "uart16550.h"

#include <string.h>

static unsigned trigger_level(const struct uart16550 *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    return (u->fcr & UART_FCR_FE) ? levels[(u->fcr & UART_FCR_TRIG) >> 6] : 1;
}

// Recompute IIR from the sources in priority order (datasheet Table IV), then the IRQ line.
static void update_irq(struct uart16550 *u)
{
    uint8_t id = UART_IIR_NONE;
    if ((u->ier & UART_IER_ELSI) && (u->lsr & UART_LSR_INT))
        id = UART_IIR_RLSI;
    else if ((u->ier & UART_IER_ERBFI) && (u->lsr & UART_LSR_DR))
        id = (u->rx_count >= trigger_level(u)) ? UART_IIR_RDI : UART_IIR_CTI;
    else if ((u->ier & UART_IER_ETBEI) && u->thr_ipending)
        id = UART_IIR_THRI;
    else if ((u->ier & UART_IER_EDSSI) && (u->msr & UART_MSR_DELTA))
        id = UART_IIR_MSI;
    // Without FIFOs there is no character timeout: data is simply "available".
    if (id == UART_IIR_CTI && !(u->fcr & UART_FCR_FE))
        id = UART_IIR_RDI;
    u->iir = id | ((u->fcr & UART_FCR_FE) ? UART_IIR_FIFO : 0);
    irq_line_set(&u->irq, !(id & UART_IIR_NONE));
}

void uart16550_init(struct uart16550 *u)
{
    void (*tx)(void *, uint8_t) = u->tx;
    void *txo = u->tx_opaque;
    struct irq_line irq = u->irq;
    memset(u, 0, sizeof *u);
    u->tx = tx;
    u->tx_opaque = txo;
    u->irq = irq;
    u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
    u->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;  // a terminal is attached
    u->dll = 0x0c;   // 9600 baud, as the BIOS leaves it
    u->mcr = UART_MCR_OUT2;   // as QEMU's UART comes out of reset
    update_irq(u);
}

static void rx_push(struct uart16550 *u, uint8_t b)
{
    unsigned cap = (u->fcr & UART_FCR_FE) ? UART_FIFO_SIZE : 1;
    if (u->rx_count >= cap) {
        u->lsr |= UART_LSR_OE;   // overrun: the new character is lost
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = b;
    u->rx_count++;
    u->lsr |= UART_LSR_DR;
}

static void rx_clear(struct uart16550 *u)
{
    u->rx_head = u->rx_count = 0;
    u->lsr &= (uint8_t)~(UART_LSR_DR | UART_LSR_ERR);
}

unsigned uart16550_rx_room(const struct uart16550 *u)
{
    if (u->mcr & UART_MCR_LOOP)
        return 0;   // loopback: the line is disconnected from the outside
    unsigned cap = (u->fcr & UART_FCR_FE) ? UART_FIFO_SIZE : 1;
    return cap - u->rx_count;
}

void uart16550_receive(struct uart16550 *u, const uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        rx_push(u, buf[i]);
    update_irq(u);
}

// Loopback (MCR.LOOP): modem outputs appear on the modem inputs (datasheet, MCR bit 4).
static uint8_t loopback_msr(const struct uart16550 *u)
{
    uint8_t m = 0;
    if (u->mcr & UART_MCR_DTR)
        m |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_RTS)
        m |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_OUT1)
        m |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        m |= UART_MSR_DCD;
    return m;
}

uint8_t uart16550_read(struct uart16550 *u, unsigned reg)
{
    uint8_t v = 0;
    switch (reg & 7) {
    case UART_RBR:
        if (u->lcr & UART_LCR_DLAB) {
            v = u->dll;
            break;
        }
        if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
            if (--u->rx_count == 0)
                u->lsr &= (uint8_t)~UART_LSR_DR;
        }
        break;
    case UART_IER:
        v = (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
        break;
    case UART_IIR:
        v = u->iir;
        // Reading IIR while it reports THRE clears that interrupt (datasheet Table IV).
        if ((v & 0x0f) == UART_IIR_THRI)
            u->thr_ipending = false;
        break;
    case UART_LCR:
        v = u->lcr;
        break;
    case UART_MCR:
        v = u->mcr;
        break;
    case UART_LSR:
        v = u->lsr;
        u->lsr &= (uint8_t)~(UART_LSR_INT | UART_LSR_ERR);   // errors clear on read
        break;
    case UART_MSR:
        v = (u->mcr & UART_MCR_LOOP) ? loopback_msr(u) | (u->msr & UART_MSR_DELTA) : u->msr;
        u->msr &= (uint8_t)~UART_MSR_DELTA;
        break;
    case UART_SCR:
        v = u->scr;
        break;
    }
    update_irq(u);
    return v;
}

bool uart16550_peek(const struct uart16550 *u, unsigned reg, uint8_t *v)
{
    switch (reg & 7) {
    case UART_RBR:
        *v = u->dll;
        return u->lcr & UART_LCR_DLAB;
    case UART_IER:
        *v = (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
        return true;
    case UART_IIR:
        *v = u->iir;
        return (u->iir & 0x0f) != UART_IIR_THRI;
    case UART_LCR:
        *v = u->lcr;
        return true;
    case UART_MCR:
        *v = u->mcr;
        return true;
    case UART_LSR:
        *v = u->lsr;
        return !(u->lsr & (UART_LSR_INT | UART_LSR_ERR));
    case UART_MSR:
        *v = (u->mcr & UART_MCR_LOOP) ? loopback_msr(u) : u->msr;
        return !(u->msr & UART_MSR_DELTA);
    default:   // UART_SCR
        *v = u->scr;
        return true;
    }
}

void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t val)
{
    switch (reg & 7) {
    case UART_THR:
        if (u->lcr & UART_LCR_DLAB) {
            u->dll = val;
            break;
        }
        if (u->mcr & UART_MCR_LOOP)
            rx_push(u, val);
        else if (u->tx)
            u->tx(u->tx_opaque, val);
        // Sent at once: THR is empty again, which is itself an interrupt condition.
        u->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
        u->thr_ipending = true;
        break;
    case UART_IER:
        if (u->lcr & UART_LCR_DLAB) {
            u->dlm = val;
            break;
        }
        // Enabling ETBEI with THR empty raises the THRE interrupt at once.
        if ((val & UART_IER_ETBEI) && !(u->ier & UART_IER_ETBEI) && (u->lsr & UART_LSR_THRE))
            u->thr_ipending = true;
        u->ier = val & 0x0f;
        break;
    case UART_FCR:
        if ((val ^ u->fcr) & UART_FCR_FE)
            rx_clear(u);   // enabling or disabling the FIFOs clears them
        if (val & UART_FCR_RFR)
            rx_clear(u);
        u->fcr = val & (UART_FCR_FE | UART_FCR_TRIG);
        break;
    case UART_LCR:
        u->lcr = val;
        break;
    case UART_MCR:
        u->mcr = val & 0x1f;
        break;
    case UART_LSR:
        break;   // read-only (factory test)
    case UART_MSR:
        break;
    case UART_SCR:
        u->scr = val;
        break;
    }
    update_irq(u);
}
