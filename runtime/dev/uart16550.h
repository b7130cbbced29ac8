// 16550A UART (National Semiconductor PC16550D datasheet): registers, FIFOs, interrupts.
#ifndef RING1_UART16550_H
#define RING1_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

// Register offsets from the base port (datasheet Table II). DLAB = LCR bit 7.
#define UART_RBR  0   // Receiver buffer (read, DLAB=0)
#define UART_THR  0   // Transmitter holding (write, DLAB=0)
#define UART_DLL  0   // Divisor latch LSB (DLAB=1)
#define UART_IER  1   // Interrupt enable (DLAB=0)
#define UART_DLM  1   // Divisor latch MSB (DLAB=1)
#define UART_IIR  2   // Interrupt identification (read)
#define UART_FCR  2   // FIFO control (write)
#define UART_LCR  3   // Line control
#define UART_MCR  4   // Modem control
#define UART_LSR  5   // Line status
#define UART_MSR  6   // Modem status
#define UART_SCR  7   // Scratch

#define UART_IER_ERBFI 0x01  // Received data available interrupt
#define UART_IER_ETBEI 0x02  // Transmitter holding register empty interrupt
#define UART_IER_ELSI  0x04  // Receiver line status interrupt
#define UART_IER_EDSSI 0x08  // Modem status interrupt

#define UART_IIR_NONE  0x01  // No interrupt pending
#define UART_IIR_MSI   0x00  // Modem status
#define UART_IIR_THRI  0x02  // Transmitter holding register empty
#define UART_IIR_RDI   0x04  // Received data available
#define UART_IIR_RLSI  0x06  // Receiver line status
#define UART_IIR_CTI   0x0c  // Character timeout (FIFO mode)
#define UART_IIR_FIFO  0xc0  // FIFOs enabled

#define UART_FCR_FE    0x01  // FIFO enable
#define UART_FCR_RFR   0x02  // Receiver FIFO reset
#define UART_FCR_TFR   0x04  // Transmitter FIFO reset
#define UART_FCR_TRIG  0xc0  // Receiver trigger level: 1, 4, 8, 14 bytes

#define UART_LCR_DLAB  0x80  // Divisor latch access

#define UART_MCR_DTR   0x01  // Data terminal ready
#define UART_MCR_RTS   0x02  // Request to send
#define UART_MCR_OUT1  0x04  // Output 1
#define UART_MCR_OUT2  0x08  // Output 2 (gates the IRQ on a PC; QEMU ignores it, so do we)
#define UART_MCR_LOOP  0x10  // Loopback

#define UART_LSR_DR    0x01  // Data ready
#define UART_LSR_OE    0x02  // Overrun error
#define UART_LSR_PE    0x04  // Parity error
#define UART_LSR_FE    0x08  // Framing error
#define UART_LSR_BI    0x10  // Break interrupt
#define UART_LSR_THRE  0x20  // Transmitter holding register empty
#define UART_LSR_TEMT  0x40  // Transmitter empty
#define UART_LSR_ERR   0x80  // Error in receiver FIFO
#define UART_LSR_INT   (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS  0x01  // Delta clear to send
#define UART_MSR_DDSR  0x02  // Delta data set ready
#define UART_MSR_TERI  0x04  // Trailing edge ring indicator
#define UART_MSR_DDCD  0x08  // Delta data carrier detect
#define UART_MSR_CTS   0x10  // Clear to send
#define UART_MSR_DSR   0x20  // Data set ready
#define UART_MSR_RI    0x40  // Ring indicator
#define UART_MSR_DCD   0x80  // Data carrier detect
#define UART_MSR_DELTA 0x0f

#define UART_FIFO_SIZE 16

struct uart16550 {
    // Registers.
    uint8_t ier, iir, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
    // Receiver FIFO (one byte deep when FIFOs are off).
    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head, rx_count;
    bool thr_ipending;     // THRE interrupt armed (cleared by reading IIR or writing THR)
    // Host side.
    void (*tx)(void *opaque, uint8_t byte);   // a byte left the transmitter
    void *tx_opaque;
    struct irq_line irq;
};

void uart16550_init(struct uart16550 *u);
uint8_t uart16550_read(struct uart16550 *u, unsigned reg);
// What uart16550_read(reg) returns now, if that read would change nothing: false for RBR
// with DLAB clear (it pops the FIFO), IIR reporting THRE (the read clears it), LSR with an
// error bit and MSR with a delta bit (the read clears them).
bool uart16550_peek(const struct uart16550 *u, unsigned reg, uint8_t *v);
void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t val);
// Host input: free space in the receiver, and delivery of bytes into it.
unsigned uart16550_rx_room(const struct uart16550 *u);
void uart16550_receive(struct uart16550 *u, const uint8_t *buf, unsigned n);

#endif
