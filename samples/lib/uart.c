// Polled 16550A UART driver for COM1 (PC16550D datasheet §8): transmit only, no interrupts.
#include "lib.h"

void uart_init(void)
{
    outb(COM1 + UART_IER, 0);                       // no interrupts: we poll
    outb(COM1 + UART_LCR, UART_LCR_DLAB);
    outb(COM1 + UART_DLL, UART_BAUD_DIV_115200);
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, UART_LCR_8N1);            // also clears DLAB
    outb(COM1 + UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR);
    outb(COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
}

// Wait until the transmit holding register is empty, then send. "\n" is sent as is: the
// transcripts are compared byte for byte and QEMU's stdio backend adds any "\r" a tty needs.
void uart_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}
