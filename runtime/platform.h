// The PC the guest sees (docs/design.md §6): devices, their ports, their interrupt wiring, and the
// host ends of them (serial output/input, keyboard input, the PIT's and the RTC's host
// timers).
#ifndef RING1_PLATFORM_H
#define RING1_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dev/ata.h"
#include "dev/debugexit.h"
#include "dev/fw_cfg.h"
#include "dev/hpet.h"
#include "dev/i8237.h"
#include "dev/i8254.h"
#include "dev/i8042.h"
#include "dev/i82078.h"
#include "dev/i8259.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/mc146818.h"
#include "dev/pci.h"
#include "dev/piix4_pm.h"
#include "dev/port92.h"
#include "dev/testdev.h"
#include "dev/portb.h"
#include "dev/uart16550.h"
#include "dev/vga.h"
#include "disk.h"

struct vcpu;

#define COM1_BASE   0x3f8
#define COM1_IRQ    4
#define PIC1_BASE   0x20
#define PIC2_BASE   0xa0
#define PIT_BASE    0x40
#define PIT_IRQ     0
#define PIT_TIMER_FLOOR_NS 100000u   // fastest host timer: 10 kHz (guest rates above are clamped)
#define KBD_HOST_BUF 64              // stdin bytes read but not yet typed on the keyboard

struct platform {
    struct uart16550 com1;
    struct i8259_pair pic;
    struct i8254 pit;
    struct i8237 dma[2];         // DMA 1 (channels 0-3), DMA 2 (4-7)
    struct debugexit dbg;
    struct post_port post;
    struct pci_host pci;
    struct piix4_pm pm;    // PIIX4 power management (00:01.3): ACPI PM registers, APM ports
    struct portb portb;
    struct mc146818 rtc;
    struct ata_channel ata[2];   // primary (0x1f0, IRQ 14), secondary (0x170, IRQ 15)
    struct disk disks[DISK_MAX]; // --disk files by QEMU index: ata[i / 2].drive[i % 2]
    struct i82078 fdc;
    struct i8042 kbc;
    struct port92 port92;
    struct lapic lapic;
    struct ioapic ioapic;
    struct hpet hpet;      // at 0xFED00000; the 8254's and the RTC's lines pass through it
    struct fw_cfg fw_cfg;  // QEMU's firmware configuration device (ports 0x510-0x51B)
    struct testdev *testdev;   // QEMU's pc-testdev (--testdev), or NULL
    struct vga vga;        // --vga std, the default (has_vga); --vga none: ports unassigned
    bool has_vga;
    int serial_out;        // fd the guest's COM1 output goes to
    int serial_in;         // fd COM1 input comes from, -1 if none (or at EOF)
    // serial_in had nothing to read at the last look (EAGAIN): the next byte will be
    // announced by SIGIO. False after a read that returned bytes (more may wait: a pipe's
    // rest that did not fit in the FIFO, a terminal's next line).
    bool serial_drained;
    int kbd_in;            // fd typed on the PS/2 keyboard (--input keyboard), -1 if none / EOF
    bool kbd_in_ready;     // kbd_in may have bytes (cleared at EAGAIN, set again by SIGIO)
    uint8_t kbd_buf[KBD_HOST_BUF];   // read from kbd_in, waiting for room in the keyboard
    unsigned kbd_head, kbd_len;
    bool timer_armed, lapic_timer_armed, rtc_timer_armed, hpet_timer_armed;
    uint64_t activity;     // bumped by what the guest does besides keeping time (see below)
    uint64_t serial_limit; // COM1 output bytes written at most (0: no limit), --serial-limit
    uint64_t serial_bytes, serial_dropped;
};

// What the command line chose for the machine.
struct platform_config {
    const char *serial;          // "stdio" or a file name for COM1 output
    bool keyboard_input;         // --input keyboard: stdin is typed on the PS/2 keyboard
    uint32_t ram_size;
    const char *disks[DISK_MAX]; // --disk files in QEMU index order (NULL = no drive)
    enum disk_cache disk_cache[DISK_MAX];   // their cache= modes
    bool snapshot;               // --snapshot: disk files are never written
    uint64_t serial_limit;       // --serial-limit (0: none)
    bool vga;                    // --vga std (default): QEMU's std VGA in text mode 3 (dev/vga.c)
    bool testdev;                // --testdev: QEMU's pc-testdev (dev/testdev.c)
};

void platform_init(struct vcpu *v, const struct platform_config *cfg);
// Work signalled by signal handlers (ASYNC_* bits): timer ticks, input.
void platform_async(struct vcpu *v, uint32_t bits);
// Pull pending host input into the UART or the keyboard (non-blocking).
void platform_poll_input(void);
// INTR pin and INTA cycle.
bool platform_intr(void);
uint8_t platform_intack(void);
// Undo what platform_init did to stdin (O_NONBLOCK, O_ASYNC are shared with our parent).
void platform_restore_stdin(void);
// --stats: device counters (disks, APIC timer, interrupts no processor took).
void platform_print_stats(FILE *f);
void platform_json_stats(FILE *f);     // the same for --stats-json
// --screen: the text buffer as 25 lines of text, to file (opened at start-up, before the
// jail; NULL: stderr, framed). With --vga std the rows start at the CRTC's start address and
// a 26th line tells where the cursor is.
void platform_print_screen(FILE *file);
// Something could still wake a halted CPU: a timer is armed, or input may arrive, on a
// line that reaches the processor (not masked at the 8259A, IOAPIC or local APIC).
bool platform_can_wake(void);
// May --clock warp skip the guest's time now? Not once the guest has gone WARP_IDLE_NS of
// its time doing nothing but keeping time (no COM1 byte sent or received, no disk or
// keyboard controller command, no key typed): an idle kernel then waits in real time, as on
// a PC, instead of running through ticks as fast as the host can.
#define WARP_IDLE_NS (10ull * 1000000000u)
bool platform_warp_allowed(void);
// The guest's time (clock.c): how long until the first armed timer fires (0: none armed);
// skip ns of it (every armed timer fires that much sooner); and whether host input that has
// not arrived yet could end a wait of the guest's (then its time is not skipped).
uint64_t platform_next_timer_ns(void);
void platform_skip(uint64_t ns);
bool platform_waits_for_host(void);
// The host descriptor a halted guest's wait also ends on: COM1's input while its receiver
// has room for a byte, else -1 (a halt then waits for timers and signals alone).
int platform_input_fd(void);

#endif
