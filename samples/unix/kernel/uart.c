// Intel 8250/16550A serial port (UART), COM1: polled output, interrupt-driven input
// (PC16550D datasheet §8).
//
// The FIFOs stay off (16450 mode), as the firmware leaves them. Turning them on flushes the
// receiver (datasheet: changing FCR bit 0 resets both FIFOs), and a byte may already be
// waiting in RBR when the kernel starts: under QEMU, a session piped to the serial port is
// read as soon as the machine starts. With the FIFOs off the UART holds one byte and the
// sender (QEMU's character backend) waits until RBR is read, so nothing is dropped; each
// byte raises one interrupt.
//
// When the console's input ring is full, the receive interrupt is turned off and bytes stay
// in the UART (and upstream of it) until the console has room again: flow control, not loss.
#include "defs.h"

static int throttled;

void uartinit(void)
{
    outb(COM1 + UART_IER, 0);                       // no interrupts while we set it up
    outb(COM1 + UART_LCR, UART_LCR_DLAB);
    outb(COM1 + UART_DLL, UART_BAUD_DIV_115200);
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, UART_LCR_8N1);            // also clears DLAB
    outb(COM1 + UART_FCR, UART_FCR_OFF);            // unchanged from reset: no flush
    outb(COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
}

// Route the UART's interrupt and enable it; then take whatever arrived before (its
// interrupt edge may have come while the IOAPIC input was still masked).
void uartenable(void)
{
    ioapicenable(IRQ_COM1, T_COM1);
    outb(COM1 + UART_IER, UART_IER_RDI);
    pushcli();
    uartintr();
    popcli();
}

// Wait until the transmit holding register is empty, then send. "\n" is sent as is: the
// transcripts are compared byte for byte and QEMU's stdio backend adds any "\r" a tty needs.
void uartputc(int c)
{
    while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

// Receive interrupt (and direct calls, with interrupts off): move every byte the UART holds
// into the console's input ring, or throttle if the ring is full.
void uartintr(void)
{
    while (inb(COM1 + UART_LSR) & UART_LSR_DR) {
        if (!consoleroom()) {
            throttled = 1;
            outb(COM1 + UART_IER, 0);
            return;
        }
        consoleinput(inb(COM1 + UART_RBR));
    }
}

// The console took bytes out of its ring: if input was throttled, take it up again.
// Called with interrupts off.
void uartunthrottle(void)
{
    if (!throttled)
        return;
    throttled = 0;
    outb(COM1 + UART_IER, UART_IER_RDI);
    uartintr();
}
