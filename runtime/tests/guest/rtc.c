// RTC interrupts: IRQ 8 through the slave 8259A (vector 0x28). Registers A-D as the guest
// finds them; then, timed by update-ended interrupts (one a second), the interrupts of one
// second with only UIE, the periodic interrupts of one second at several rates (rate select
// 1 and 2 included: the datasheet's 256 Hz and 128 Hz), an alarm whose bytes are all "don't
// care" (every update), and an alarm two seconds ahead. Counts within a small tolerance
// print "ok", so that the transcript is the same on QEMU and ring1; anything else prints
// the count. "counts" on the command line adds the exact counts.
#include "glib.h"

#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define RTC_D 0x0d
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10


static uint8_t rd(uint8_t reg) { outb(0x70, reg); return inb(0x71); }
static void wr(uint8_t reg, uint8_t v) { outb(0x70, reg); outb(0x71, v); }

// What the interrupt handler counts. Flags count only while their interrupt is enabled (the
// chip sets them regardless; QEMU sets PF only with PIE).
static volatile uint8_t reg_b;
static volatile uint32_t irqs, no_irqf, pf, af, uf, alarm_sec;
// Periodic windows: at each update-ended interrupt the count of the second that ended is
// stored and the next rate selected.
static const uint8_t rates[] = {13, 1, 2, 6};       // 8, 256, 128, 1024 Hz
static const uint32_t rate_hz[] = {8, 256, 128, 1024};
static volatile int window = -1, windows_on;
static volatile uint32_t counted[sizeof rates];

void rtc_entry(void);
__asm__(".globl rtc_entry\n"
        "rtc_entry:\n"
        "  pushal\n"
        "  call rtc_irq\n"
        "  popal\n"
        "  iret\n");

void rtc_irq(void)
{
    uint8_t c = rd(RTC_C);
    irqs++;
    if (!(c & C_IRQF))
        no_irqf++;
    if ((c & C_PF) && (reg_b & B_PIE))
        pf++;
    if ((c & C_AF) && (reg_b & B_AIE)) {
        af++;
        alarm_sec = rd(0x00);
    }
    if ((c & C_UF) && (reg_b & B_UIE)) {
        uf++;
        if (windows_on) {
            // The periodic flag read together with UF belongs to the second that ended.
            if (window >= 0)
                counted[window] = pf;
            window++;
            pf = 0;
            if (window < (int)sizeof rates)
                wr(RTC_A, (uint8_t)(0x20 | rates[window]));
            else
                windows_on = 0;
        }
    }
    outb(0xa0, 0x20);                      // EOI: slave, then master
    outb(0x20, 0x20);
}

static void set_b(uint8_t v)
{
    reg_b = v;
    wr(RTC_B, v);
}

static void wait_uf(uint32_t n)
{
    uint32_t until = uf + n;
    while (uf < until)
        __asm__ volatile("sti; hlt; cli");
}

static void hex8(uint8_t b)
{
    puts("0x");
    putc("0123456789abcdef"[b >> 4]);
    putc("0123456789abcdef"[b & 15]);
}

static int show_counts;

static void verdict(uint32_t got, uint32_t want)
{
    uint32_t tol = 1 + want / 64;
    if (got + tol >= want && got <= want + tol) {
        puts("ok");
        if (show_counts) {
            puts(" (");
            putdec(got);
            puts(")");
        }
        puts("\n");
    } else {
        putdec(got);
        puts(" interrupts\n");
    }
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    for (; *cmd; cmd++)
        show_counts |= cmd[0] == 'c' && cmd[1] == 'o' && cmd[2] == 'u';
    puts("A="); hex8(rd(RTC_A) & 0x7f);
    puts(" B="); hex8(rd(RTC_B));
    // PF without PIE: the chip sets it (and ring1), QEMU does not -- left out. UF is set by
    // any second boundary since C was last read (by SeaBIOS under QEMU, never under ring1):
    // C is read once to clear it, and shown as the read right after finds it.
    (void)rd(RTC_C);
    puts(" C&~PF="); hex8(rd(RTC_C) & ~C_PF);
    puts(" D="); hex8(rd(RTC_D));
    puts("\n");

    idt_gate(0x28, rtc_entry);
    pic_init(~0x04 & 0xff, ~0x01 & 0xff);  // the cascade only; IRQ 8 only

    // Update-ended only: after the first one, exactly one interrupt a second.
    set_b(B_24H | B_UIE);
    wait_uf(1);
    uint32_t before = irqs;
    wait_uf(1);
    puts("update-ended only, interrupts in a second: ");
    putdec(irqs - before);
    puts("\n");

    // Periodic at each rate for one second, counted between update-ended interrupts.
    windows_on = 1;
    set_b(B_24H | B_UIE | B_PIE);
    while (windows_on)
        __asm__ volatile("sti; hlt; cli");
    set_b(B_24H | B_UIE);
    wr(RTC_A, 0x26);
    for (unsigned i = 0; i < sizeof rates; i++) {
        puts("periodic, rate ");
        putdec(rates[i]);
        puts(" (");
        putdec(rate_hz[i]);
        puts(" Hz), interrupts in a second: ");
        verdict(counted[i], rate_hz[i]);
    }

    // Alarm, every byte "don't care": it goes off with every update.
    wr(0x01, 0xff);
    wr(0x03, 0xc0);
    wr(0x05, 0xff);
    wait_uf(1);
    af = 0;
    set_b(B_24H | B_UIE | B_AIE);
    wait_uf(2);
    puts("alarm, all don't care, alarms in 2 updates: ");
    putdec(af);
    puts("\n");

    // Alarm at second s + 2, minutes and hours don't care; no update-ended interrupts.
    set_b(B_24H);
    __asm__ volatile("cli");
    uint8_t s = rd(0x00);
    uint32_t sec = (uint32_t)((s >> 4) * 10 + (s & 15) + 2) % 60;
    uint8_t want = (uint8_t)(((sec / 10) << 4) | (sec % 10));
    wr(0x01, want);
    wr(0x03, 0xc0);
    wr(0x05, 0xc0);
    af = 0;
    set_b(B_24H | B_AIE);
    while (!af)
        __asm__ volatile("sti; hlt; cli");
    puts("alarm two seconds ahead: ");
    puts(alarm_sec == want ? "ok\n" : "wrong second\n");

    set_b(B_24H);
    puts("interrupts without IRQF: ");
    putdec(no_irqf);
    puts("\n");
    return 0;
}
