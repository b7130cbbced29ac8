// The PC the guest sees: device instances, port registrations, IRQ wiring, host backends.
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuid.h"
#include "pio.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"

struct platform plat;
static struct vcpu *the_vcpu;
static timer_t pit_timer;
static int stdin_flags = -1;   // restored at exit: O_NONBLOCK is shared with our parent

void platform_restore_stdin(void)
{
    if (stdin_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
}

// ---- port glue: the registry calls these, they call the device models -----------------------
static uint32_t com1_in(void *o, uint16_t off, int size)
{
    (void)size;
    // A guest polling LSR or reading RBR with the FIFO empty: look for host input first.
    if ((off == UART_LSR || off == UART_RBR) && plat.com1.rx_count == 0)
        platform_poll_input();
    return uart16550_read(o, off);
}
static void com1_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; uart16550_write(o, off, (uint8_t)v); }
static uint32_t pic_in(void *o, uint16_t off, int size) { (void)size; return i8259_read(&plat.pic, o == &plat.pic.chip[1], off); }
static void pic_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i8259_write(&plat.pic, o == &plat.pic.chip[1], off, (uint8_t)v); }
static uint32_t pit_in(void *o, uint16_t off, int size) { (void)size; return i8254_read(o, off); }
static void pit_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i8254_write(o, off, (uint8_t)v); }
static void dbg_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; debugexit_write(o, v); }
static uint32_t portb_in(void *o, uint16_t off, int size) { (void)off; (void)size; return portb_read(o); }
static void portb_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; portb_write(o, (uint8_t)v); }
// The RTC converts times with the C library (gmtime_r/timegm): vector registers possible.
static uint32_t rtc_in(void *o, uint16_t off, int size) { (void)size; host_fpu_begin(); return mc146818_read(o, off); }
static void rtc_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; host_fpu_begin(); mc146818_write(o, off, (uint8_t)v); }
static uint32_t pci_in(void *o, uint16_t off, int size) { return pci_host_read(o, off, size); }
static void pci_out(void *o, uint16_t off, int size, uint32_t v) { pci_host_write(o, off, size, v); }
static uint32_t post_in(void *o, uint16_t off, int size) { (void)off; (void)size; return post_port_read(o); }
static void post_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; post_port_write(o, (uint8_t)v); }

// ---- host ends -------------------------------------------------------------------------------
static void serial_tx(void *opaque, uint8_t byte)
{
    (void)opaque;
    for (;;) {
        ssize_t n = write(plat.serial_out, &byte, 1);
        if (n == 1 || (n < 0 && errno != EINTR))
            return;
    }
}

static void pic_to_cpu(void *opaque, int irq, int level)
{
    (void)opaque;
    (void)irq;
    (void)level;   // the run loop samples platform_intr() before every entry
}

static void pic_input(void *opaque, int irq, int level)
{
    (void)opaque;
    i8259_set_irq(&plat.pic, irq, level);
}

static uint64_t pit_now(void *opaque)
{
    (void)opaque;
    return host_ns();
}

static void pit_arm(void *opaque, uint64_t first_ns, uint64_t period_ns)
{
    (void)opaque;
    struct itimerspec its = {
        .it_value = {(time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u)},
        .it_interval = {(time_t)(period_ns / 1000000000u), (long)(period_ns % 1000000000u)},
    };
    timer_settime(pit_timer, 0, &its, NULL);
    plat.timer_armed = first_ns != 0;
}

static int64_t rtc_now(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static void debug_exit(void *opaque, int status)
{
    (void)opaque;
    vcpu_stop(the_vcpu, status, NULL);
}

void platform_init(struct vcpu *v, const char *serial, uint32_t ram_size)
{
    the_vcpu = v;
    plat.serial_out = STDOUT_FILENO;
    plat.serial_in = -1;
    if (serial && strcmp(serial, "stdio") != 0) {
        plat.serial_out = open(serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (plat.serial_out < 0) {
            fprintf(stderr, "ring1-run: --serial %s: %s\n", serial, strerror(errno));
            exit(STATUS_LOAD_ERROR);
        }
    } else {
        // Input from stdin, announced by SIGIO when it is a terminal or a pipe.
        plat.serial_in = STDIN_FILENO;
        int fl = fcntl(STDIN_FILENO, F_GETFL);
        if (fl >= 0) {
            stdin_flags = fl;
            atexit(platform_restore_stdin);
            fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK | O_ASYNC);
            fcntl(STDIN_FILENO, F_SETOWN, getpid());
            fcntl(STDIN_FILENO, F_SETSIG, SIG_INPUT);
        }
    }

    plat.pic.intr = (struct irq_line){pic_to_cpu, NULL, 0};
    i8259_init(&plat.pic);
    plat.com1.tx = serial_tx;
    plat.com1.irq = (struct irq_line){pic_input, NULL, COM1_IRQ};
    uart16550_init(&plat.com1);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_PIT};
    if (timer_create(CLOCK_MONOTONIC, &sev, &pit_timer) < 0) {
        perror("ring1-run: timer_create");
        exit(STATUS_INTERNAL);
    }
    plat.pit.ops = (struct i8254_ops){pit_now, pit_arm, NULL};
    plat.pit.irq0 = (struct irq_line){pic_input, NULL, PIT_IRQ};
    plat.pit.min_period_ns = PIT_TIMER_FLOOR_NS;
    i8254_init(&plat.pit);
    plat.dbg = (struct debugexit){debug_exit, NULL};

    pio_register(COM1_BASE, 8, "com1", 1, com1_in, com1_out, &plat.com1);
    pio_register(PIC1_BASE, 2, "pic1", 1, pic_in, pic_out, &plat.pic.chip[0]);
    pio_register(PIC2_BASE, 2, "pic2", 1, pic_in, pic_out, &plat.pic.chip[1]);
    pio_register(PIT_BASE, 4, "pit", 1, pit_in, pit_out, &plat.pit);
    pio_register(DEBUGEXIT_PORT, DEBUGEXIT_SIZE, "debug-exit", 0, NULL, dbg_out, &plat.dbg);
    pio_register(POST_PORT, 1, "post", 1, post_in, post_out, &plat.post);
    pio_register(PCI_CONFIG_ADDRESS, 8, "pci", 0, pci_in, pci_out, &plat.pci);
    plat.rtc.now = rtc_now;
    mc146818_init(&plat.rtc, ram_size);
    pio_register(RTC_PORT_INDEX, 2, "rtc", 1, rtc_in, rtc_out, &plat.rtc);
    plat.portb.pit = &plat.pit;
    pio_register(PORTB_PORT, 1, "portb", 1, portb_in, portb_out, &plat.portb);
}

void platform_poll_input(void)
{
    if (plat.serial_in < 0)
        return;
    unsigned room = uart16550_rx_room(&plat.com1);
    if (!room)
        return;
    uint8_t buf[UART_FIFO_SIZE];
    ssize_t n = read(plat.serial_in, buf, room);
    if (n > 0)
        uart16550_receive(&plat.com1, buf, (unsigned)n);
    else if (n == 0)
        plat.serial_in = -1;   // EOF: nothing more will arrive
}

void platform_async(struct vcpu *v, uint32_t bits)
{
    (void)v;
    if (bits & ASYNC_TIMER) {
        stats_count("timer-tick");
        i8254_timer(&plat.pit);
    }
    if (bits & ASYNC_INPUT)
        platform_poll_input();
}

bool platform_intr(void)
{
    return plat.pic.intr_level;
}

uint8_t platform_intack(void)
{
    return i8259_intack(&plat.pic);
}

bool platform_can_wake(void)
{
    return plat.timer_armed || plat.serial_in >= 0;
}
