// The PC the guest sees: device instances, port registrations, IRQ wiring, host backends.
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cpuid.h"
#include "dev/cga.h"
#include "firmware.h"
#include "mem.h"
#include "mmio.h"
#include "pio.h"
#include "signals.h"
#include "x86.h"
#include "stats.h"
#include "vcpu.h"

static struct platform plat;   // the board; platform.h is the rest of the runtime's way in
static struct vcpu *the_vcpu;
static timer_t pit_timer, lapic_host_timer, rtc_host_timer, hpet_host_timer;
static int stdin_flags = -1;   // restored at exit: O_NONBLOCK is shared with our parent

void platform_restore_stdin(void)
{
    if (stdin_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
}

// ---- port glue: the registry calls these, they call the device models -----------------------
// A guest that polls COM1 for input and does nothing else -- a kernel debugger's prompt, a
// console read loop -- keeps a host core busy for as long as no byte comes, and for ever once
// stdin is at its end (QEMU's CPU spins there too). After POLL_IDLE_NS of polls with the FIFO
// empty and no other I/O (plat.activity), each further empty poll first waits up to
// POLL_SLEEP_NS for input: the guest polls about a thousand times a second instead of
// millions, its time runs on, a byte is taken as soon as it arrives, and timers interrupt
// the wait. Bounded polling loops (a driver's probe, a character's timeout) end long before.
#define POLL_IDLE_NS  1000000000ull
#define POLL_SLEEP_NS 1000000
static void com1_idle_poll(void)
{
    static uint64_t seen, n, since;
    static bool idle;
    if (plat.activity != seen) {
        seen = plat.activity;
        n = since = 0;
        idle = false;
        return;
    }
    if (++n < 1024 || (!idle && n % 1024))
        return;   // the clock is read every 1024 polls until the guest is found idle
    uint64_t now = clock_host_ns(CLOCK_MONOTONIC);
    if (!since)
        since = now;
    if (!idle && now - since < POLL_IDLE_NS)
        return;
    idle = true;
    stats_count("com1-idle-poll-wait");
    struct pollfd pfd = {.fd = plat.serial_in, .events = POLLIN};
    struct timespec ts = {0, POLL_SLEEP_NS};
    if (ppoll(&pfd, plat.serial_in >= 0 ? 1 : 0, &ts, NULL) > 0)
        platform_poll_input();
}

static uint32_t com1_in(void *o, uint16_t off, int size)
{
    (void)size;
    // A guest polling LSR or reading RBR with the FIFO empty: look for host input first.
    if ((off == UART_LSR || off == UART_RBR) && plat.com1.rx_count == 0) {
        platform_poll_input();
        if (plat.com1.rx_count == 0)
            com1_idle_poll();
    }
    return uart16550_read(o, off);
}
// The port cache (pio.h): reads with no side effect. Every one of COM1's registers but RBR,
// and IIR/LSR/MSR while reading them clears nothing. But with the FIFO empty, com1_in looks
// for host input at an LSR or RBR read: so those are answered without it only when stdin had
// nothing at the last look (then SIGIO announces the next byte, and the run loop takes it
// before the guest runs again) or is at its end, and then only COM1_POLL_HITS times between
// two reads COM1 sees, which count the empty polls that make an idle guest wait
// (com1_idle_poll). With bytes still in the pipe (more than the FIFO took), every read goes
// to COM1, which takes them as it always did.
#define COM1_POLL_HITS 256
static uint32_t com1_peek(void *o, uint16_t off, int size, uint32_t *val)
{
    (void)size;
    uint8_t b;
    const struct uart16550 *u = o;
    if (!uart16550_peek(u, off, &b))
        return 0;
    *val = b;
    if ((off != UART_LSR && off != UART_RBR) || u->rx_count)
        return PIO_PEEK_ALWAYS;
    if (plat.serial_in >= 0 && !plat.serial_drained)
        return 0;
    return COM1_POLL_HITS;
}
static void com1_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; uart16550_write(o, off, (uint8_t)v); }
static uint32_t pic_in(void *o, uint16_t off, int size) { (void)size; return i8259_read(&plat.pic, o == &plat.pic.chip[1], off); }
static void pic_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i8259_write(&plat.pic, o == &plat.pic.chip[1], off, (uint8_t)v); }
static uint32_t pic_peek(void *o, uint16_t off, int size, uint32_t *val)
{
    (void)size;
    uint8_t b;
    if (off != PIC_DATA || !i8259_peek_imr(&plat.pic, o == &plat.pic.chip[1], &b))
        return 0;
    *val = b;
    return PIO_PEEK_ALWAYS;
}
static uint32_t elcr_in(void *o, uint16_t off, int size) { (void)size; return i8259_elcr_read(o, off); }
static void elcr_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i8259_elcr_write(o, off, (uint8_t)v); }
static uint32_t pit_in(void *o, uint16_t off, int size) { (void)size; return i8254_read(o, off); }
static void pit_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i8254_write(o, off, (uint8_t)v); }
static uint32_t dma_in(void *o, uint16_t off, int size) { (void)size; struct i8237 *d = o; return i8237_read(d, off >> d->shift); }
static void dma_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; struct i8237 *d = o; i8237_write(d, off >> d->shift, (uint8_t)v); }
// The page registers: ports 1-3 and 7 of each controller's eight (the rest are unassigned).
static struct dma_pages { struct i8237 *dma; uint16_t base, first; } dma_pages[4] = {
    {&plat.dma[0], DMA1_PAGE_BASE, 1}, {&plat.dma[0], DMA1_PAGE_BASE, 7},
    {&plat.dma[1], DMA2_PAGE_BASE, 1}, {&plat.dma[1], DMA2_PAGE_BASE, 7},
};
static uint32_t dma_page_in(void *o, uint16_t off, int size) { (void)size; const struct dma_pages *p = o; return i8237_page_read(p->dma, p->first + off); }
static void dma_page_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; const struct dma_pages *p = o; i8237_page_write(p->dma, p->first + off, (uint8_t)v); }
static uint32_t dbg_in(void *o, uint16_t off, int size) { (void)off; (void)size; return debugexit_read(o); }
static void dbg_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; debugexit_write(o, v); }
static uint32_t portb_in(void *o, uint16_t off, int size) { (void)off; (void)size; return portb_read(o); }
static void portb_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; portb_write(o, (uint8_t)v); }
static void keyboard_input(void);

// The RTC converts times with the C library (gmtime_r/timegm): vector registers possible.
static uint32_t rtc_in(void *o, uint16_t off, int size) { (void)size; host_fpu_begin(); return mc146818_read(o, off); }
static void rtc_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; host_fpu_begin(); mc146818_write(o, off, (uint8_t)v); }
static uint32_t pci_in(void *o, uint16_t off, int size) { return pci_host_read(o, off, size); }
static void pci_out(void *o, uint16_t off, int size, uint32_t v) { pci_host_write(o, off, size, v); }
// CONFIG_ADDRESS, and config data: the addressed function's config bytes (or all ones),
// which only writes through these ports change -- reads change nothing (dev/pci.c).
static uint32_t pci_peek(void *o, uint16_t off, int size, uint32_t *val)
{
    *val = pci_host_read(o, off, size);
    return PIO_PEEK_ALWAYS;
}
// PIIX4 power management: the PM block answers where PMBA puts it while PMREGMISC enables
// it -- SeaBIOS's 0x600, where it is registered; moved elsewhere or disabled, nothing
// answers there (a moved block is not followed: not modelled).
static uint32_t unassigned_in(uint16_t port, int size)
{
    return port & (size - 1) ? 0 : size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
}
static uint32_t pm_in(void *o, uint16_t off, int size)
{
    if (pci_piix4_pm_base(&plat.pci) != PIIX4_PM_BASE)
        return unassigned_in((uint16_t)(PIIX4_PM_BASE + off), size);
    return piix4_pm_read(o, off, size);
}
static void pm_out(void *o, uint16_t off, int size, uint32_t v)
{
    if (pci_piix4_pm_base(&plat.pci) == PIIX4_PM_BASE)
        piix4_pm_write(o, off, size, v);
}
static uint32_t gpe_in(void *o, uint16_t off, int size) { (void)size; return piix4_gpe_read(o, off); }
static void gpe_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; piix4_gpe_write(o, off, (uint8_t)v); }
static uint32_t apm_in(void *o, uint16_t off, int size) { (void)size; return piix4_apm_read(o, off); }
static void apm_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; piix4_apm_write(o, off, (uint8_t)v); }
static uint32_t rcr_in(void *o, uint16_t off, int size) { (void)off; (void)size; return pci_rcr_read(o); }
static void machine_reset(void *opaque);
static void rcr_out(void *o, uint16_t off, int size, uint32_t v)
{
    (void)off; (void)size;
    if (pci_rcr_write(o, (uint8_t)v))
        machine_reset(NULL);
}
static uint32_t ata_in(void *o, uint16_t off, int size) { return ata_read(o, off, size); }
static void ata_out(void *o, uint16_t off, int size, uint32_t v) { plat.activity++; ata_write(o, off, size, v); }
static uint32_t ata_ctl_in(void *o, uint16_t off, int size) { (void)off; (void)size; return ata_ctl_read(o); }
static void ata_ctl_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; ata_ctl_write(o, (uint8_t)v); }
static uint32_t fdc_in(void *o, uint16_t off, int size) { (void)size; return i82078_read(o, FDC_SRB + off); }
static void fdc_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; i82078_write(o, FDC_SRB + off, (uint8_t)v); }
static uint32_t fdc_dir_in(void *o, uint16_t off, int size) { (void)off; (void)size; return i82078_read(o, FDC_DIR); }
static void fdc_ccr_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; i82078_write(o, FDC_CCR, (uint8_t)v); }
// Held-back keystrokes go in as soon as the guest may have made room: after it read a byte
// or wrote a command (which can enable scanning or the keyboard's clock, or empty its
// buffer), and before a status read finds the output buffer empty (a polling guest).
static uint32_t kbc_data_in(void *o, uint16_t off, int size)
{
    (void)off; (void)size;
    uint8_t v = i8042_read(o, 0);
    keyboard_input();
    return v;
}
static void kbc_data_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; plat.activity++; i8042_write(o, 0, (uint8_t)v); keyboard_input(); }
static uint32_t kbc_status_in(void *o, uint16_t off, int size)
{
    (void)off; (void)size;
    if (!(plat.kbc.status & KBC_STAT_OBF))
        keyboard_input();
    return i8042_read(o, 4);
}
static void kbc_cmd_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; plat.activity++; i8042_write(o, 4, (uint8_t)v); keyboard_input(); }
static uint32_t port92_in(void *o, uint16_t off, int size) { (void)off; (void)size; return port92_read(o); }
static void port92_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; port92_write(o, (uint8_t)v); }
static uint32_t vga_in(void *o, uint16_t off, int size) { (void)size; return vga_read(o, (uint16_t)(VGA_PORT_FIRST + off)); }
static void vga_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; vga_write(o, (uint16_t)(VGA_PORT_FIRST + off), (uint8_t)v); }
static uint32_t fw_cfg_in(void *o, uint16_t off, int size) { return fw_cfg_io_read(o, off, size); }
static void fw_cfg_out(void *o, uint16_t off, int size, uint32_t v) { fw_cfg_io_write(o, off, size, v); }
static uint32_t fw_cfg_dma_in(void *o, uint16_t off, int size) { return fw_cfg_dma_read(o, off, size); }
static void fw_cfg_dma_out(void *o, uint16_t off, int size, uint32_t v) { fw_cfg_dma_write(o, off, size, v); }
static uint32_t testdev_io_in(void *o, uint16_t off, int size) { return testdev_ioport_read(o, off, size); }
static void testdev_io_out(void *o, uint16_t off, int size, uint32_t v) { testdev_ioport_write(o, off, size, v); }
static void testdev_flush_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; (void)v; ((struct testdev *)o)->flushes++; }
static void testdev_irq_out(void *o, uint16_t off, int size, uint32_t v) { (void)size; testdev_irq_write(o, off, (uint8_t)v); }
static uint32_t testdev_mmio_read(void *o, uint32_t off, int size) { return testdev_iomem_read(o, off, size); }
static void testdev_mmio_write(void *o, uint32_t off, int size, uint32_t v) { testdev_iomem_write(o, off, size, v); }
static uint32_t vga_peek_port(void *o, uint16_t off, int size, uint32_t *val)
{
    (void)size;
    uint8_t b;
    if (!vga_peek(o, (uint16_t)(VGA_PORT_FIRST + off), &b))
        return 0;
    *val = b;
    return PIO_PEEK_ALWAYS;
}
// The POST port: reads all ones, and what is written goes nowhere the guest can see.
static uint32_t post_peek(void *o, uint16_t off, int size, uint32_t *val)
{
    (void)off; (void)size;
    *val = post_port_read(o);
    return PIO_PEEK_ALWAYS;
}
static bool post_sink(void *o, uint16_t off, int size) { (void)o; (void)off; (void)size; return true; }
static uint32_t post_in(void *o, uint16_t off, int size) { (void)off; (void)size; return post_port_read(o); }
static void post_out(void *o, uint16_t off, int size, uint32_t v) { (void)off; (void)size; post_port_write(o, (uint8_t)v); }

// ---- host ends -------------------------------------------------------------------------------
static void serial_tx(void *opaque, uint8_t byte)
{
    (void)opaque;
    plat.activity++;
    if (plat.serial_limit && plat.serial_bytes >= plat.serial_limit) {
        if (!plat.serial_dropped++)
            rlog("ring1-run: COM1 output reached --serial-limit (%llu bytes): the rest is "
                 "dropped\n", (unsigned long long)plat.serial_limit);
        return;
    }
    plat.serial_bytes++;
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

// An ISA interrupt line goes to both interrupt controllers, as on the PIIX: the 8259A pair's
// input irq and the IOAPIC's input irq, except that IRQ 0 (the PIT) is IOAPIC pin 2 (QEMU's
// wiring, which the MP table's interrupt entries describe).
static void isa_irq(void *opaque, int irq, int level)
{
    (void)opaque;
    i8259_set_irq(&plat.pic, irq, level);
    ioapic_set_irq(&plat.ioapic, irq == 0 ? 2 : (unsigned)irq, level);
}

// The 8254's IRQ 0 and the RTC's IRQ 8 reach the ISA bus through the HPET, which cuts them
// off in legacy replacement mode (QEMU's wiring).
static void pit_rtc_irq(void *opaque, int irq, int level)
{
    (void)opaque;
    hpet_legacy_irq(&plat.hpet, irq == 0 ? HPET_LEGACY_PIT : HPET_LEGACY_RTC, level);
}

static void ioapic_pin(void *opaque, int pin, int level);

// The HPET's interrupts: GSIs 0-15 are the ISA lines (to both controllers), the rest IOAPIC
// inputs only (routes past the IOAPIC's 24 are connected to nothing, as on QEMU).
static void hpet_irq(void *opaque, unsigned gsi, int level)
{
    if (gsi < 16)
        isa_irq(opaque, (int)gsi, level);
    else if (gsi < IOAPIC_NPINS)
        ioapic_pin(opaque, (int)gsi, level);
}

// The guest's time (clock.c), for the PIT and the local APIC timer.
static uint64_t pit_now(void *opaque)
{
    (void)opaque;
    return clock_ns();
}

static void arm_host_timer(timer_t t, uint64_t first_ns, uint64_t period_ns);

static void pit_arm(void *opaque, uint64_t first_ns, uint64_t period_ns)
{
    (void)opaque;
    arm_host_timer(pit_timer, first_ns, period_ns);
    plat.timer_armed = first_ns != 0;
}

static void arm_host_timer(timer_t t, uint64_t first_ns, uint64_t period_ns)
{
    struct itimerspec its = {
        .it_value = {(time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u)},
        .it_interval = {(time_t)(period_ns / 1000000000u), (long)(period_ns % 1000000000u)},
    };
    timer_settime(t, 0, &its, NULL);
}

// The HPET's next comparator deadline, in the guest's time: a one-shot host timer that far
// from now.
static void hpet_arm(void *opaque, uint64_t deadline_ns)
{
    (void)opaque;
    uint64_t now = clock_ns();
    arm_host_timer(hpet_host_timer, deadline_ns ? (deadline_ns > now ? deadline_ns - now : 1) : 0,
                   0);
    plat.hpet_timer_armed = deadline_ns != 0;
}

static void lapic_arm(void *opaque, uint64_t first_ns, uint64_t period_ns)
{
    (void)opaque;
    arm_host_timer(lapic_host_timer, first_ns, period_ns);
    plat.lapic_timer_armed = first_ns != 0;
}

static void lapic_nmi(void *opaque)
{
    (void)opaque;
    vcpu_nmi(the_vcpu);
}

static void lapic_eoi_broadcast(void *opaque, uint8_t vector)
{
    (void)opaque;
    ioapic_eoi(&plat.ioapic, vector);
}

// An IOAPIC message: fixed and lowest-priority go to the local APIC if it is addressed.
// NMI too (to the processor); ExtINT through the IOAPIC, SMI, INIT are not emulated: the run
// stops, diagnosed.
static bool ioapic_deliver(void *opaque, uint8_t vector, bool level, uint8_t dest,
                           bool logical, uint32_t mode)
{
    (void)opaque;
    if (mode == LAPIC_DM_FIXED || mode == LAPIC_DM_LOWEST || mode == LAPIC_DM_NMI) {
        if (!lapic_match(&plat.lapic, dest, logical))
            return false;
        if (mode == LAPIC_DM_NMI)
            vcpu_nmi(the_vcpu);
        else
            lapic_accept(&plat.lapic, vector, level);
        return true;
    }
    vcpu_stop(the_vcpu, STATUS_UNSUPPORTED, "the IOAPIC sent an interrupt with delivery mode "
              "%u (vector %#x): only fixed, lowest-priority and NMI delivery are emulated",
              mode >> 8, vector);
    return false;
}

// MMIO glue: QEMU's APIC answers 32-bit accesses only; the IOAPIC's window is 32-bit too.
static uint32_t lapic_mmio_read(void *o, uint32_t off, int size)
{
    return size == 4 ? lapic_read(o, off) : 0;
}
static bool lapic_mmio_stable(void *o, uint32_t off)
{
    (void)o;
    return lapic_read_stable(off);
}
static bool lapic_mmio_write_keeps(void *o, uint32_t off)
{
    (void)o;
    return lapic_write_keeps_stable(off);
}
static void lapic_mmio_write(void *o, uint32_t off, int size, uint32_t v)
{
    if (size == 4)
        lapic_write(o, off, v);
}
static uint32_t hpet_mmio_read(void *o, uint32_t off, int size) { return hpet_read(o, off, size); }
static void hpet_mmio_write(void *o, uint32_t off, int size, uint32_t v) { hpet_write(o, off, size, v); }
static uint32_t ioapic_mmio_read(void *o, uint32_t off, int size)
{
    uint32_t v = ioapic_read(o, off & ~3u);
    return size == 4 ? v : (v >> (8 * (off & 3))) & (size == 2 ? 0xffffu : 0xffu);
}
static void ioapic_mmio_write(void *o, uint32_t off, int size, uint32_t v)
{
    if (size == 4 || (off & ~3u) == IOAPIC_REGSEL)
        ioapic_write(o, off & ~3u, v);
}

// The RTC keeps UTC: host CLOCK_REALTIME in ns, and its host timer is an absolute
// CLOCK_REALTIME one, so that its deadlines (second boundaries, alarm times) stay exact
// across host clock steps. Both in the guest's time: the host's plus what was skipped
// (clock.c).
static int64_t rtc_now(void *opaque)
{
    (void)opaque;
    return (int64_t)clock_realtime_ns();
}

static void rtc_arm(void *opaque, int64_t deadline_ns)
{
    (void)opaque;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    int64_t host = deadline_ns - (int64_t)clock_skipped_ns();
    if (deadline_ns > 0)
        its.it_value = host > 0 ? (struct timespec){(time_t)(host / 1000000000),
                                                    (long)(host % 1000000000)}
                                : (struct timespec){0, 1};   // passed already: at once
    timer_settime(rtc_host_timer, TIMER_ABSTIME, &its, NULL);
    plat.rtc_timer_armed = deadline_ns > 0;
}

// pc-testdev's lines 16-23: IOAPIC pins only.
static void ioapic_pin(void *opaque, int pin, int level)
{
    (void)opaque;
    ioapic_set_irq(&plat.ioapic, (unsigned)pin, level);
}

static void debug_exit(void *opaque, int status)
{
    (void)opaque;
    vcpu_stop(the_vcpu, status, NULL);
}

// The keyboard controller's output port, port 0x92 or the PIIX3's reset control register
// reset the CPU. QEMU -no-reboot exits
// then; so does ring1, with its own status.
static void machine_reset(void *opaque)
{
    (void)opaque;
    rlog("ring1-run: the guest reset the machine\n");
    vcpu_stop(the_vcpu, STATUS_RESET, NULL);
}

// ACPI soft off (SLP_TYP 0 or S4 with SLP_EN): QEMU's machine shuts down and QEMU exits 0;
// so does ring1. Suspend to RAM (S3) would need the firmware's resume path: not emulated.
static void pm_sleep(void *opaque, enum piix4_sleep what)
{
    (void)opaque;
    if (what == PIIX4_SUSPEND) {
        vcpu_stop(the_vcpu, STATUS_UNSUPPORTED, "the guest put the machine into ACPI sleep "
                  "state S3 (suspend to RAM): not emulated");
        return;
    }
    rlog("ring1-run: the guest powered the machine off\n");
    vcpu_stop(the_vcpu, STATUS_POWEROFF, NULL);
}

// The A20 line: port 0x92 and the keyboard controller's output port both drive it (the last
// write wins, as in QEMU).
static void a20_gate(void *opaque, bool on)
{
    (void)opaque;
    stats_count(on ? "a20-on" : "a20-off");
    mem_set_a20(the_vcpu, on);
}

// The PC/AT CMOS hard disk bytes QEMU's pc_cmos_init_late writes for IDE disks 0 and 1.
static void cmos_disks(void)
{
    uint8_t *cmos = plat.rtc.ram, types = 0, trans = 0;
    for (unsigned i = 0; i < DISK_MAX; i++) {
        const struct ata_drive *d = &plat.ata[i / 2].drive[i % 2];
        if (!d->present)
            continue;
        if (i < 2) {
            unsigned type_ofs = 0x19 + i, info = i ? 0x24 : 0x1b;
            types |= i ? 0x0f : 0xf0;
            cmos[type_ofs] = 47;   // user-defined type
            cmos[info] = (uint8_t)d->cyls;
            cmos[info + 1] = (uint8_t)(d->cyls >> 8);
            cmos[info + 2] = (uint8_t)d->heads;
            cmos[info + 3] = cmos[info + 4] = 0xff;
            cmos[info + 5] = (uint8_t)(0xc0 | ((d->heads > 8) << 3));
            cmos[info + 6] = (uint8_t)d->cyls;
            cmos[info + 7] = (uint8_t)(d->cyls >> 8);
            cmos[info + 8] = (uint8_t)d->secs;
        }
        if (d->cyls > 1024)
            trans |= (uint8_t)(1u << (2 * i));   // LBA translation
    }
    cmos[0x12] = types;
    cmos[0x39] = trans;
}

// fw_cfg's DMA: guest RAM only (a transfer that touches anything else is the device's error).
static bool fw_cfg_mem_read(void *opaque, uint64_t addr, void *buf, uint32_t len)
{
    (void)opaque;
    const void *p = addr + len <= 0x100000000ull ? mem_phys((uint32_t)addr, len) : NULL;
    if (p)
        memcpy(buf, p, len);
    return p != NULL;
}
static bool fw_cfg_mem_write(void *opaque, uint64_t addr, const void *buf, uint32_t len)
{
    (void)opaque;
    void *p = addr + len <= 0x100000000ull ? mem_phys((uint32_t)addr, len) : NULL;
    if (p)
        memcpy(p, buf, len);
    return p != NULL;
}

// What QEMU 7.2's pc machine puts in fw_cfg for `-nodefaults -cpu qemu32 -m SIZE -kernel K`
// with one CPU (hw/i386/fw_cfg.c, hw/i386/pc.c, hw/nvram/fw_cfg.c; read back by
// tests/guest/fwcfg.c), less what only its firmware uses and ring1 has no firmware for (the
// ACPI tables and their loader script, SMBIOS, the option ROMs and the multiboot loader's
// items: the test lists each).
static void fw_cfg_pc(struct fw_cfg *s, uint32_t ram_size)
{
    static const uint8_t zeros[16];
    fw_cfg_init(s);
    s->mem_read = fw_cfg_mem_read;
    s->mem_write = fw_cfg_mem_write;
    bool ok = fw_cfg_add_bytes(s, FW_CFG_UUID, zeros, 16);   // no -uuid
    ok &= fw_cfg_add_i16(s, FW_CFG_NOGRAPHIC, 0);
    ok &= fw_cfg_add_i16(s, FW_CFG_BOOT_MENU, 0);
    ok &= fw_cfg_add_i64(s, FW_CFG_RAM_SIZE, ram_size);
    ok &= fw_cfg_add_i16(s, FW_CFG_NB_CPUS, 1);
    ok &= fw_cfg_add_i16(s, FW_CFG_MAX_CPUS, 1);
    // NUMA: the node count, each CPU's node, each node's memory: no nodes.
    ok &= fw_cfg_add_bytes(s, FW_CFG_NUMA, zeros, 16);
    ok &= fw_cfg_add_i32(s, FW_CFG_IRQ0_OVERRIDE, 1);
    ok &= fw_cfg_add_bytes(s, FW_CFG_E820_TABLE, zeros, 4);   // no reserved ranges
    // The HPETs, for the firmware's ACPI HPET table (QEMU's struct hpet_fw_config, packed):
    // their count, then per HPET its capabilities' low half, address, minimum tick (QEMU
    // leaves it 0) and page protection, room for 8.
    uint8_t hpets[1 + 8 * 15] = {1};
    uint32_t id = HPET_BLOCK_ID, base = HPET_BASE;
    memcpy(hpets + 1, &id, 4);
    memcpy(hpets + 5, &base, 4);
    ok &= fw_cfg_add_bytes(s, FW_CFG_HPET, hpets, sizeof hpets);
    // The files, by name. bootorder: the boot device QEMU's -kernel gives (its multiboot
    // option ROM); boot-fail-wait: no -boot reboot-timeout (-1); system-states: S3 and S4
    // disabled (QEMU's PIIX4 defaults); e820: all RAM below 4 GiB (ring1's --mem is at most
    // 3 GiB, under the pc machine's 3.5 GiB low-memory split).
    static const char bootorder[] = "/rom@genroms/multiboot_dma.bin";
    static const uint8_t fail_wait[4] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t states[6] = {0x80, 0x00, 0x00, 0x81, 0x82, 0x80};
    uint8_t e820[20] = {0};
    for (int i = 0; i < 4; i++)
        e820[8 + i] = (uint8_t)(ram_size >> (8 * i));
    e820[16] = 1;   // E820_RAM
    ok &= fw_cfg_add_file(s, "bios-geometry", NULL, 0);
    ok &= fw_cfg_add_file(s, "bootorder", bootorder, sizeof bootorder);
    ok &= fw_cfg_add_file(s, "etc/boot-fail-wait", fail_wait, 4);
    ok &= fw_cfg_add_file(s, "etc/e820", e820, 20);
    ok &= fw_cfg_add_file(s, "etc/system-states", states, 6);
    ok &= fw_cfg_add_file(s, "etc/tpm/log", NULL, 0);
    if (!ok) {
        fprintf(stderr, "ring1-run: internal error: fw_cfg items do not fit\n");
        exit(STATUS_INTERNAL);
    }
}

// Host input from stdin, non-blocking, announced by SIGIO when it is a terminal or a pipe.
static void stdin_async(void)
{
    int fl = fcntl(STDIN_FILENO, F_GETFL);
    if (fl < 0)
        return;
    stdin_flags = fl;
    atexit(platform_restore_stdin);
    fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK | O_ASYNC);
    fcntl(STDIN_FILENO, F_SETOWN, getpid());
    fcntl(STDIN_FILENO, F_SETSIG, SIG_INPUT);
}

static timer_t host_timer(clockid_t clock, int signo)
{
    timer_t t;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = signo};
    if (timer_create(clock, &sev, &t) < 0) {
        perror("ring1-run: timer_create");
        exit(STATUS_INTERNAL);
    }
    return t;
}

void platform_init(struct vcpu *v, const struct platform_config *cfg)
{
    const char *serial = cfg->serial;
    uint32_t ram_size = cfg->ram_size;
    the_vcpu = v;
    plat.serial_out = STDOUT_FILENO;
    plat.serial_limit = cfg->serial_limit;
    plat.serial_in = -1;
    plat.kbd_in = -1;
    if (serial && strcmp(serial, "stdio") != 0) {
        plat.serial_out = open(serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (plat.serial_out < 0) {
            fprintf(stderr, "ring1-run: --serial %s: %s\n", serial, strerror(errno));
            exit(STATUS_LOAD_ERROR);
        }
    }
    // COM1 output to a pipe whose reader went away: the write fails (EPIPE) and the byte
    // is lost, as on a PC with nothing on the line; SIGPIPE would end ring1 without its
    // exit path (the disks' flush).
    signal(SIGPIPE, SIG_IGN);
    if (cfg->keyboard_input) {
        plat.kbd_in = STDIN_FILENO;
        plat.kbd_in_ready = true;
        stdin_async();
    } else if (plat.serial_out == STDOUT_FILENO) {
        plat.serial_in = STDIN_FILENO;
        stdin_async();
    }

    plat.pic.intr = (struct irq_line){pic_to_cpu, NULL, 0};
    i8259_init(&plat.pic);
    plat.com1.tx = serial_tx;
    plat.com1.irq = (struct irq_line){isa_irq, NULL, COM1_IRQ};
    uart16550_init(&plat.com1);
    pit_timer = host_timer(CLOCK_MONOTONIC, SIG_PIT);
    plat.pit.ops = (struct i8254_ops){pit_now, pit_arm, NULL};
    plat.pit.irq0 = (struct irq_line){pit_rtc_irq, NULL, PIT_IRQ};
    plat.pit.min_period_ns = PIT_TIMER_FLOOR_NS;
    i8254_init(&plat.pit);
    plat.dbg = (struct debugexit){debug_exit, NULL};

    pio_register(COM1_BASE, 8, "com1", 1, com1_in, com1_out, &plat.com1);
    pio_set_cacheable(COM1_BASE, com1_peek, NULL);
    pio_register(PIC1_BASE, 2, "pic1", 1, pic_in, pic_out, &plat.pic.chip[0]);
    pio_register(PIC2_BASE, 2, "pic2", 1, pic_in, pic_out, &plat.pic.chip[1]);
    pio_set_cacheable(PIC1_BASE, pic_peek, NULL);
    pio_set_cacheable(PIC2_BASE, pic_peek, NULL);
    pio_register(PIC_ELCR_PORT, 2, "elcr", 1, elcr_in, elcr_out, &plat.pic);
    pio_register(PIT_BASE, 4, "pit", 1, pit_in, pit_out, &plat.pit);
    i8237_init(&plat.dma[0], 0);
    i8237_init(&plat.dma[1], 1);
    pio_register(DMA1_BASE, 16, "dma1", 1, dma_in, dma_out, &plat.dma[0]);
    pio_register(DMA2_BASE, 32, "dma2", 1, dma_in, dma_out, &plat.dma[1]);
    for (unsigned i = 0; i < 4; i++)
        pio_register((uint16_t)(dma_pages[i].base + dma_pages[i].first),
                     dma_pages[i].first == 1 ? 3 : 1, "dma-page", 1, dma_page_in, dma_page_out,
                     &dma_pages[i]);
    pio_register(DEBUGEXIT_PORT, DEBUGEXIT_SIZE, "debug-exit", 0, dbg_in, dbg_out, &plat.dbg);
    pio_register(POST_PORT, 1, "post", 1, post_in, post_out, &plat.post);
    pio_set_cacheable(POST_PORT, post_peek, post_sink);
    pci_host_init(&plat.pci, ram_size);
    // Before the PCI range: the decoder takes the first range that has the port.
    pio_register(PIIX3_RCR_PORT, 1, "piix3-rcr", 1, rcr_in, rcr_out, &plat.pci);
    pio_register(PCI_CONFIG_ADDRESS, 8, "pci", 0, pci_in, pci_out, &plat.pci);
    pio_set_cacheable(PCI_CONFIG_ADDRESS, pci_peek, NULL);
    pci_add_piix4_pm(&plat.pci, PIIX4_PM_BASE, PIIX4_SMB_BASE);
    plat.pm.sci = (struct irq_line){isa_irq, NULL, PIIX4_SCI_IRQ};
    plat.pm.now = pit_now;
    plat.pm.sleep = pm_sleep;
    piix4_pm_init(&plat.pm);
    pio_register(PIIX4_PM_BASE, PIIX4_PM_SIZE, "piix4-pm", 0, pm_in, pm_out, &plat.pm);
    pio_register(PIIX4_GPE0_BASE, PIIX4_GPE0_LEN, "piix4-gpe0", 1, gpe_in, gpe_out, &plat.pm);
    pio_register(APM_CNT_PORT, 2, "apm", 1, apm_in, apm_out, &plat.pm);
    rtc_host_timer = host_timer(CLOCK_REALTIME, SIG_RTC);
    plat.rtc.now = rtc_now;
    plat.rtc.arm = rtc_arm;
    plat.rtc.irq = (struct irq_line){pit_rtc_irq, NULL, RTC_IRQ};
    plat.rtc.min_period_ns = PIT_TIMER_FLOOR_NS;
    mc146818_init(&plat.rtc, ram_size);
    pio_register(RTC_PORT_INDEX, 2, "rtc", 1, rtc_in, rtc_out, &plat.rtc);
    plat.portb.pit = &plat.pit;
    pio_register(PORTB_PORT, 1, "portb", 1, portb_in, portb_out, &plat.portb);

    // ATA channels: present like QEMU's, with the drives --disk gives.
    static const uint16_t ata_base[2] = {ATA_PRIMARY_BASE, ATA_SECONDARY_BASE};
    static const uint16_t ata_ctl[2] = {ATA_PRIMARY_CTL, ATA_SECONDARY_CTL};
    static const int ata_irq[2] = {ATA_PRIMARY_IRQ, ATA_SECONDARY_IRQ};
    for (unsigned i = 0; i < DISK_MAX; i++) {
        if (!cfg->disks[i])
            continue;
        disk_open(&plat.disks[i], cfg->disks[i], cfg->snapshot, cfg->disk_cache[i]);
        struct ata_backend be = disk_backend(&plat.disks[i]);
        ata_attach(&plat.ata[i / 2], i % 2, i, plat.disks[i].sectors, &be);
    }
    for (unsigned c = 0; c < 2; c++) {
        plat.ata[c].irq = (struct irq_line){isa_irq, NULL, ata_irq[c]};
        ata_init(&plat.ata[c]);
        pio_register(ata_base[c], 8, c ? "ata1" : "ata0", 0, ata_in, ata_out, &plat.ata[c]);
        pio_register(ata_ctl[c], 1, c ? "ata1-ctl" : "ata0-ctl", 1, ata_ctl_in, ata_ctl_out,
                     &plat.ata[c]);
    }
    cmos_disks();
    atexit(disk_flush_all);
    struct firmware_disk fw[DISK_MAX];
    unsigned nfw = 0;
    for (unsigned i = 0; i < DISK_MAX; i++) {
        const struct ata_drive *d = &plat.ata[i / 2].drive[i % 2];
        if (d->present)
            fw[nfw++] = (struct firmware_disk){d->cyls, d->heads, d->secs};
    }
    firmware_init(fw, nfw);

    // Local APIC and IOAPIC, MMIO pages left unmapped (every access is decoded).
    lapic_host_timer = host_timer(CLOCK_MONOTONIC, SIG_LAPIC);
    plat.lapic.ops = (struct lapic_ops){pit_now, lapic_arm, lapic_eoi_broadcast, lapic_nmi, NULL};
    plat.lapic.min_period_ns = PIT_TIMER_FLOOR_NS;
    lapic_init(&plat.lapic);
    mmio_register(LAPIC_BASE_DEFAULT, LAPIC_SIZE, "lapic", lapic_mmio_read, lapic_mmio_write,
                  &plat.lapic);
    mmio_set_stable(LAPIC_BASE_DEFAULT, lapic_mmio_stable, lapic_mmio_write_keeps);
    plat.ioapic.deliver = ioapic_deliver;
    ioapic_init(&plat.ioapic);
    mmio_register(IOAPIC_BASE_DEFAULT, IOAPIC_SIZE, "ioapic", ioapic_mmio_read,
                  ioapic_mmio_write, &plat.ioapic);
    hpet_host_timer = host_timer(CLOCK_MONOTONIC, SIG_HPET);
    plat.hpet.ops = (struct hpet_ops){pit_now, hpet_arm, hpet_irq, NULL};
    hpet_init(&plat.hpet);
    mmio_register(HPET_BASE, HPET_LEN, "hpet", hpet_mmio_read, hpet_mmio_write, &plat.hpet);

    plat.fdc.irq = (struct irq_line){isa_irq, NULL, FDC_IRQ};
    i82078_init(&plat.fdc);
    // QEMU's ISA controller decodes 0x3F1-0x3F5 and 0x3F7: not status register A (0x3F0).
    pio_register(FDC_BASE + FDC_SRB, 5, "fdc", 1, fdc_in, fdc_out, &plat.fdc);
    pio_register(FDC_BASE + FDC_DIR, 1, "fdc-dir", 1, fdc_dir_in, fdc_ccr_out, &plat.fdc);

    plat.kbc.kbd_irq = (struct irq_line){isa_irq, NULL, KBC_KBD_IRQ};
    plat.kbc.aux_irq = (struct irq_line){isa_irq, NULL, KBC_AUX_IRQ};
    plat.kbc.reset = machine_reset;
    plat.kbc.a20 = a20_gate;
    i8042_init(&plat.kbc);
    pio_register(KBC_DATA_PORT, 1, "kbc-data", 1, kbc_data_in, kbc_data_out, &plat.kbc);
    pio_register(KBC_STATUS_PORT, 1, "kbc-cmd", 1, kbc_status_in, kbc_cmd_out, &plat.kbc);
    plat.port92.reset = machine_reset;
    plat.port92.a20 = a20_gate;
    port92_init(&plat.port92);
    pio_register(PORT92_PORT, 1, "port92", 1, port92_in, port92_out, &plat.port92);
    fw_cfg_pc(&plat.fw_cfg, ram_size);
    pio_register(FW_CFG_IO_BASE, FW_CFG_IO_SIZE, "fw_cfg", 0, fw_cfg_in, fw_cfg_out,
                 &plat.fw_cfg);
    pio_register(FW_CFG_DMA_BASE, FW_CFG_DMA_SIZE, "fw_cfg-dma", 0, fw_cfg_dma_in,
                 fw_cfg_dma_out, &plat.fw_cfg);
    if (cfg->testdev) {
        static struct testdev td;   // 64 KiB: not in struct platform unless asked for
        plat.testdev = &td;
        for (int i = 0; i < TESTDEV_IRQ_LINES; i++)
            td.irq[i] = (struct irq_line){i < 16 ? isa_irq : ioapic_pin, NULL, i};
        pio_register(TESTDEV_IOPORT, 4, "pc-testdev", 0, testdev_io_in, testdev_io_out, &td);
        pio_register(TESTDEV_FLUSH, 4, "pc-testdev-flush", 0, NULL, testdev_flush_out, &td);
        pio_register(TESTDEV_IOPORT_BYTE, 4, "pc-testdev-byte", 0, testdev_io_in,
                     testdev_io_out, &td);
        pio_register(TESTDEV_IRQ_BASE, TESTDEV_IRQ_LINES, "pc-testdev-irq", 1, NULL,
                     testdev_irq_out, &td);
        mmio_register(TESTDEV_IOMEM_BASE, TESTDEV_IOMEM_LEN, "pc-testdev-iomem",
                      testdev_mmio_read, testdev_mmio_write, &td);
    }
    if (cfg->vga) {
        plat.has_vga = true;
        vga_init(&plat.vga);
        firmware_vga_text();
        pci_add_std_vga(&plat.pci);
        // APMC: with a VGA, SeaBIOS's last SMI command is its call into 32-bit code through
        // SMM (CALL32SMM_CMDID), read under QEMU by pcprobe; without one, its SMM set-up's 0.
        plat.pm.apmc = APM_CALL32SMM;
        pio_register(VGA_PORT_FIRST, VGA_PORT_COUNT, "vga", 1, vga_in, vga_out, &plat.vga);
        pio_set_cacheable(VGA_PORT_FIRST, vga_peek_port, NULL);
    }

    // Bytes already waiting on stdin are keys pressed before the guest started: typed now.
    // (A guest that then empties or resets its keyboard loses them, as on a PC; what did not
    // fit stays in the pipe.)
    keyboard_input();
}

// Type stdin on the PS/2 keyboard while it takes keystrokes. A byte whose keystroke does not
// fit now (the keyboard's buffer is full, or scanning is disabled) waits, and every byte
// after it: nothing is dropped but bytes no US key types (0x80-0xff).
static void keyboard_input(void)
{
    for (;;) {
        if (plat.kbd_head == plat.kbd_len) {
            if (plat.kbd_in < 0 || !plat.kbd_in_ready)
                return;
            ssize_t n = read(plat.kbd_in, plat.kbd_buf, sizeof plat.kbd_buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    plat.kbd_in = -1;          // EOF: nothing more will arrive
                plat.kbd_in_ready = false;     // EAGAIN: until SIGIO says otherwise
                return;
            }
            plat.kbd_head = 0;
            plat.kbd_len = (unsigned)n;
        }
        int typed = i8042_type(&plat.kbc, plat.kbd_buf[plat.kbd_head]);
        if (typed == 0)
            return;
        stats_count(typed > 0 ? "kbd-keystroke" : "kbd-no-key");
        plat.kbd_head++;
        plat.activity++;
    }
}

void platform_poll_input(void)
{
    keyboard_input();
    if (plat.serial_in < 0)
        return;
    unsigned room = uart16550_rx_room(&plat.com1);
    if (!room)
        return;
    uint8_t buf[UART_FIFO_SIZE];
    ssize_t n = read(plat.serial_in, buf, room);
    plat.serial_drained = n < 0 && errno == EAGAIN;
    if (n > 0) {
        uart16550_receive(&plat.com1, buf, (unsigned)n);
        plat.activity++;
    } else if (n == 0)
        plat.serial_in = -1;   // EOF: nothing more will arrive
}

void platform_async(struct vcpu *v, uint32_t bits)
{
    (void)v;
    pio_cache_touch();   // timers and host input change devices outside pio_in/pio_out
    if (bits & ASYNC_TIMER) {
        stats_count("timer-tick");
        i8254_timer(&plat.pit);
    }
    if (bits & ASYNC_LAPIC) {
        stats_count("lapic-timer-tick");
        lapic_timer(&plat.lapic);
    }
    if (bits & ASYNC_HPET) {
        stats_count("hpet-timer");
        hpet_expire(&plat.hpet);
    }
    if (bits & ASYNC_RTC) {
        stats_count("rtc-timer");
        mc146818_timer(&plat.rtc);   // integer arithmetic only: no host_fpu_begin needed
    }
    if (bits & ASYNC_INPUT) {
        plat.kbd_in_ready = true;
        platform_poll_input();
    }
}

// The 8259A's INTR reaches the processor when the local APIC is globally disabled
// (IA32_APIC_BASE) or its LINT0 is unmasked -- virtual wire mode (QEMU's
// apic_accept_pic_intr).
static bool pic_reaches_cpu(void)
{
    return !(the_vcpu->msr_apic_base & APIC_BASE_EN) || lapic_lint0_open(&plat.lapic);
}

static bool lapic_on(void)
{
    return the_vcpu->msr_apic_base & APIC_BASE_EN;
}

bool platform_intr(void)
{
    return (plat.pic.intr_level && pic_reaches_cpu()) ||
           (lapic_on() && lapic_pending(&plat.lapic) >= 0);
}

// INTA: the 8259A first when both want the processor (its ExtINT ignores priorities), as
// QEMU's apic_get_interrupt arranges.
uint8_t platform_intack(void)
{
    if (plat.pic.intr_level && pic_reaches_cpu())
        return i8259_intack(&plat.pic);
    int v = lapic_on() ? lapic_ack(&plat.lapic) : -1;
    return v >= 0 ? (uint8_t)v : (uint8_t)(plat.lapic.svr & 0xff);   // spurious
}

void platform_print_stats(FILE *f)
{
    if (plat.serial_dropped)
        fprintf(f, "  com1: %llu bytes past --serial-limit dropped\n",
                (unsigned long long)plat.serial_dropped);
    for (unsigned c = 0; c < 2; c++) {
        const struct ata_channel *a = &plat.ata[c];
        if (a->sectors_read || a->sectors_written || a->flushes)
            fprintf(f, "  ata%u: %llu sectors read, %llu written, %llu cache flushes\n", c,
                    (unsigned long long)a->sectors_read,
                    (unsigned long long)a->sectors_written, (unsigned long long)a->flushes);
    }
    if (plat.lapic.timer_irqs || plat.lapic.accepted)
        fprintf(f, "  local APIC: %llu interrupts accepted, %llu from its timer\n",
                (unsigned long long)plat.lapic.accepted,
                (unsigned long long)plat.lapic.timer_irqs);
    if (plat.lapic.ipis_lost)
        fprintf(f, "  local APIC: %llu IPIs to processors that do not exist\n",
                (unsigned long long)plat.lapic.ipis_lost);
    if (plat.ioapic.lost)
        fprintf(f, "  IOAPIC: %llu interrupt messages no processor accepted\n",
                (unsigned long long)plat.ioapic.lost);
}

// The same for --stats-json, every figure (zeros too): {"com1": {"dropped"}, "ata": [{"channel",
// "sectors_read", "sectors_written", "flushes"}], "local_apic": {"accepted", "timer",
// "ipis_lost"}, "ioapic": {"lost"}}.
void platform_json_stats(FILE *f)
{
    fprintf(f, "{\"com1\": {\"dropped\": %llu}, \"ata\": [",
            (unsigned long long)plat.serial_dropped);
    for (unsigned c = 0; c < 2; c++) {
        const struct ata_channel *a = &plat.ata[c];
        fprintf(f, "%s{\"channel\": %u, \"sectors_read\": %llu, \"sectors_written\": %llu, "
                "\"flushes\": %llu}", c ? ", " : "", c, (unsigned long long)a->sectors_read,
                (unsigned long long)a->sectors_written, (unsigned long long)a->flushes);
    }
    fprintf(f, "], \"local_apic\": {\"accepted\": %llu, \"timer\": %llu, \"ipis_lost\": %llu}, "
            "\"ioapic\": {\"lost\": %llu}}", (unsigned long long)plat.lapic.accepted,
            (unsigned long long)plat.lapic.timer_irqs, (unsigned long long)plat.lapic.ipis_lost,
            (unsigned long long)plat.ioapic.lost);
}

void platform_print_screen(FILE *file)
{
    host_fpu_begin();
    // With a VGA: rows from the CRTC's start address, cells anywhere in its 32 KiB window.
    unsigned cells = plat.has_vga ? VGA_TEXT_CELLS : CGA_ROWS * CGA_COLS;
    unsigned start = plat.has_vga ? vga_start_address(&plat.vga) : 0;
    unsigned pitch = plat.has_vga ? vga_row_cells(&plat.vga) : CGA_COLS;
    const uint8_t *vram = mem_phys(CGA_TEXT_BASE, cells * 2);
    FILE *f = file ? file : stderr;
    if (!file)
        fprintf(f, "ring1-run: the %s text screen at exit:\n", plat.has_vga ? "VGA" : "CGA");
    char row[CGA_COLS * 3 + 1];
    for (unsigned r = 0; r < CGA_ROWS; r++) {
        if (vram)
            cga_render_cells(vram, cells, start + r * pitch, row);
        else
            row[0] = '\0';   // less RAM than the text buffer: nothing there
        fprintf(f, file ? "%s\n" : "  |%s\n", row);
    }
    if (plat.has_vga) {
        // The cursor's cell relative to the start address, 0-based, when it is on the screen.
        unsigned at = vga_cursor_location(&plat.vga), rel = (at - start) % 0x10000u;
        const char *frame = file ? "" : "  ";
        if (!vga_cursor_enabled(&plat.vga))
            fprintf(f, "%scursor off", frame);
        else if (pitch && rel / pitch < CGA_ROWS && rel % pitch < CGA_COLS)
            fprintf(f, "%scursor row %u col %u", frame, rel / pitch, rel % pitch);
        else
            fprintf(f, "%scursor off the screen at 0x%04x", frame, at);
        fprintf(f, ", start address 0x%04x\n", vga_start_address(&plat.vga));
    }
    if (file)
        fflush(f);
}

// ---- skipping the guest's time (clock.c) ----------------------------------------------------
static timer_t *const host_timers[] = {&pit_timer, &lapic_host_timer, &rtc_host_timer,
                                       &hpet_host_timer};

uint64_t platform_next_timer_ns(void)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < sizeof host_timers / sizeof host_timers[0]; i++) {
        struct itimerspec cur;
        if (timer_gettime(*host_timers[i], &cur) == 0 && ts_ns(cur.it_value) &&
            (!next || ts_ns(cur.it_value) < next))
            next = ts_ns(cur.it_value);
    }
    return next;
}

void platform_skip(uint64_t ns)
{
    clock_skip(ns);
    for (unsigned i = 0; i < sizeof host_timers / sizeof host_timers[0]; i++) {
        struct itimerspec cur;
        if (timer_gettime(*host_timers[i], &cur) != 0 || !ts_ns(cur.it_value))
            continue;
        uint64_t left = ts_ns(cur.it_value);
        left = left > ns ? left - ns : 1;
        cur.it_value = (struct timespec){(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        timer_settime(*host_timers[i], 0, &cur, NULL);   // relative, interval unchanged
    }
}

int platform_input_fd(void)
{
    return plat.serial_in >= 0 && uart16550_rx_room(&plat.com1) ? plat.serial_in : -1;
}

// Could input from the host end a wait of the guest's sooner than its timers? Only if an
// input is open with nothing to read yet (a terminal or pipe whose writer is still there);
// bytes already readable are the guest's as soon as it takes them, and a file never waits.
bool platform_waits_for_host(void)
{
    int fds[2] = {plat.serial_in, plat.kbd_in};
    for (unsigned i = 0; i < 2; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        if (poll(&p, 1, 0) == 0)
            return true;
    }
    return false;
}

// Can ISA line irq still interrupt the processor: through the 8259A pair (its input and, for
// the slave's, the cascade unmasked, and the 8259A's INTR reaching the processor), or through
// an unmasked IOAPIC pin (ISA IRQ 0 is pin 2)?
static bool isa_line_open(unsigned irq)
{
    const struct i8259 *m = &plat.pic.chip[0], *sl = &plat.pic.chip[1];
    bool pic = pic_reaches_cpu() && !(m->imr & (1u << (irq < 8 ? irq : 2))) &&
               (irq < 8 || !(sl->imr & (1u << (irq - 8))));
    unsigned pin = irq == 0 ? 2 : irq;
    bool ioapic = lapic_on() && !(plat.ioapic.redtbl[pin] & IOAPIC_MASKED);
    return pic || ioapic;
}

// An HPET comparator armed on a line that reaches the processor.
static bool hpet_can_wake(void)
{
    if (!plat.hpet_timer_armed)
        return false;
    for (unsigned i = 0; i < HPET_TIMERS; i++) {
        int gsi = hpet_timer_gsi(&plat.hpet, i);
        if (gsi >= 0 && plat.hpet.timer[i].deadline_ns &&
            (gsi < 16 ? isa_line_open((unsigned)gsi)
                      : gsi < IOAPIC_NPINS && lapic_on() &&
                            !(plat.ioapic.redtbl[gsi] & IOAPIC_MASKED)))
            return true;
    }
    return false;
}

bool platform_can_wake(void)
{
    return (plat.timer_armed && isa_line_open(PIT_IRQ)) || hpet_can_wake() ||
           (plat.rtc_timer_armed && isa_line_open(RTC_IRQ)) ||
           (plat.lapic_timer_armed && lapic_on() &&
            !(plat.lapic.lvt[LVT_TIMER] & LAPIC_LVT_MASKED)) ||
           (plat.serial_in >= 0 && isa_line_open(COM1_IRQ)) ||
           (plat.kbd_in >= 0 && isa_line_open(KBC_KBD_IRQ));
}

bool platform_warp_allowed(void)
{
    static uint64_t seen, since;
    uint64_t now = clock_ns();
    if (plat.activity != seen || !since) {
        seen = plat.activity;
        since = now;
    }
    return now - since < WARP_IDLE_NS;
}
