// Register-level tests of the 16550A model (dev/uart16550.c), with a fake IRQ line and a
// recording transmitter. Names follow the datasheet's registers.
#include "unit.h"

#include "fake_irq.h"
#include "uart16550.h"

static struct uart16550 u;
static struct fake_irq irq;
static uint8_t sent[64];
static unsigned nsent;

static void tx(void *opaque, uint8_t b)
{
    (void)opaque;
    sent[nsent++ % 64] = b;
}

static void setup(void)
{
    memset(&u, 0, sizeof u);
    memset(&irq, 0, sizeof irq);
    nsent = 0;
    u.tx = tx;
    u.irq = fake_irq_line(&irq, 4);
    uart16550_init(&u);
}

static void rx(const char *s)
{
    uart16550_receive(&u, (const uint8_t *)s, (unsigned)strlen(s));
}

TEST(reset_values)
{
    setup();
    CHECK_EQ(uart16550_read(&u, UART_IER), 0);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_NONE);
    CHECK_EQ(uart16550_read(&u, UART_LCR), 0);
    CHECK_EQ(uart16550_read(&u, UART_MCR), UART_MCR_OUT2);
    CHECK_EQ(uart16550_read(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    CHECK_EQ(uart16550_read(&u, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
    CHECK_EQ(irq.level, 0);
}

TEST(dlab_selects_divisor_latch)
{
    setup();
    uart16550_write(&u, UART_LCR, UART_LCR_DLAB | 0x03);
    uart16550_write(&u, UART_DLL, 0x01);
    uart16550_write(&u, UART_DLM, 0x02);
    CHECK_EQ(uart16550_read(&u, UART_DLL), 0x01);
    CHECK_EQ(uart16550_read(&u, UART_DLM), 0x02);
    CHECK_EQ(nsent, 0);                       // DLL write is not a THR write
    uart16550_write(&u, UART_LCR, 0x03);
    CHECK_EQ(uart16550_read(&u, UART_IER), 0);  // DLM write did not reach IER
    CHECK_EQ(uart16550_read(&u, UART_LCR), 0x03);
}

TEST(thr_transmits)
{
    setup();
    uart16550_write(&u, UART_THR, 'h');
    uart16550_write(&u, UART_THR, 'i');
    CHECK_EQ(nsent, 2);
    CHECK_EQ(sent[0], 'h');
    CHECK_EQ(sent[1], 'i');
    CHECK_EQ(uart16550_read(&u, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
             UART_LSR_THRE | UART_LSR_TEMT);
}

TEST(ier_etbei_raises_thre_and_iir_read_clears_it)
{
    setup();
    uart16550_write(&u, UART_IER, UART_IER_ETBEI);
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_THRI);
    CHECK_EQ(irq.level, 0);                   // reading IIR cleared the THRE interrupt
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_NONE);
    uart16550_write(&u, UART_THR, 'x');       // THR empties again at once: interrupt again
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(irq.rises, 2);
}

TEST(rbr_data_available_interrupt)
{
    setup();
    uart16550_write(&u, UART_IER, UART_IER_ERBFI);
    CHECK_EQ(irq.level, 0);
    rx("a");
    CHECK_EQ(irq.level, 1);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_RDI);
    CHECK(uart16550_read(&u, UART_LSR) & UART_LSR_DR);
    CHECK_EQ(uart16550_read(&u, UART_RBR), 'a');
    CHECK_EQ(uart16550_read(&u, UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(irq.level, 0);
}

TEST(no_fifo_overrun_sets_oe_and_line_status_interrupt)
{
    setup();
    CHECK_EQ(uart16550_rx_room(&u), 1);
    rx("ab");                                 // one-byte holding register: b is lost
    uart16550_write(&u, UART_IER, UART_IER_ELSI | UART_IER_ERBFI);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_RLSI);   // line status beats data
    CHECK_EQ(uart16550_read(&u, UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
    CHECK_EQ(uart16550_read(&u, UART_LSR) & UART_LSR_OE, 0); // cleared by the read
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_RDI);
    CHECK_EQ(uart16550_read(&u, UART_RBR), 'a');
}

TEST(fcr_fifo_trigger_level_and_timeout)
{
    setup();
    uart16550_write(&u, UART_FCR, UART_FCR_FE | 0x40);   // trigger level 4
    uart16550_write(&u, UART_IER, UART_IER_ERBFI);
    CHECK_EQ(uart16550_rx_room(&u), UART_FIFO_SIZE);
    rx("ab");
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
    rx("cd");
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
    CHECK_EQ(uart16550_read(&u, UART_RBR), 'a');
    CHECK_EQ(uart16550_read(&u, UART_RBR), 'b');
    CHECK_EQ(uart16550_rx_room(&u), UART_FIFO_SIZE - 2);
    uart16550_write(&u, UART_FCR, UART_FCR_FE | UART_FCR_RFR);   // reset the receiver FIFO
    CHECK_EQ(uart16550_read(&u, UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(irq.level, 0);
}

TEST(fifo_disable_clears_fifo)
{
    setup();
    uart16550_write(&u, UART_FCR, UART_FCR_FE);
    rx("xyz");
    uart16550_write(&u, UART_FCR, 0);
    CHECK_EQ(uart16550_read(&u, UART_LSR) & UART_LSR_DR, 0);
    CHECK_EQ(uart16550_read(&u, UART_IIR) & UART_IIR_FIFO, 0);
}

TEST(mcr_loopback)
{
    setup();
    uart16550_write(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS);
    CHECK_EQ(uart16550_read(&u, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_CTS);
    uart16550_write(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_OUT2);
    CHECK_EQ(uart16550_read(&u, UART_MSR) & 0xf0, UART_MSR_RI | UART_MSR_DCD);
    uart16550_write(&u, UART_THR, 0x5a);
    CHECK_EQ(nsent, 0);                       // nothing left the chip
    CHECK_EQ(uart16550_read(&u, UART_RBR), 0x5a);
    CHECK_EQ(uart16550_rx_room(&u), 0);       // the outside line is disconnected
}

TEST(interrupt_priority)
{
    setup();
    uart16550_write(&u, UART_IER, UART_IER_ERBFI | UART_IER_ETBEI | UART_IER_ELSI);
    rx("ab");                                 // data + overrun, and THRE pending
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_RLSI);
    uart16550_read(&u, UART_LSR);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_RDI);
    uart16550_read(&u, UART_RBR);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_THRI);
    CHECK_EQ(uart16550_read(&u, UART_IIR), UART_IIR_NONE);
}

TEST(scr_is_plain_storage)
{
    setup();
    uart16550_write(&u, UART_SCR, 0xa5);
    CHECK_EQ(uart16550_read(&u, UART_SCR), 0xa5);
    CHECK_EQ(irq.level, 0);
}
