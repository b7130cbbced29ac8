// Waiting for time: the PIT at 100 Hz on IRQ 0 (vector 0x20) counts ticks, and the guest
// waits for them the ways kernels do. The command line picks the ways, in order:
//   spin   a loop that only reads the tick count (a jiffies wait, no sensitive instruction)
//   halt   sti; hlt until the count is reached
//   count  a calibrated-style delay: a counted loop, which waits for nothing
// For each, the ticks waited and whether the TSC (rdtsc) moved on by at least that much time:
// the guest's clocks must agree however long the wait took the host. The same transcript
// under QEMU and ring1 (--clock warp or host); how many waits ring1 skipped is in --stats.
#include "glib.h"

#define TICKS 100           // one second at 100 Hz
#define PIT_HZ 1193182u


static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

// The TSC's rate: the shortest of 21 tick-to-tick TSC differences, each taken as soon as the
// guest sees the tick. A lower bound, as the check below needs: a late look makes one
// difference longer (and the next shorter by as much), and two ticks seen at once -- a guest
// that did not get to re-check in between, on a loaded host -- make one twice as long.
#define CAL 21
static uint64_t tsc_per_tick(void)
{
    uint64_t best = ~0ull, prev;
    uint32_t t = ticks;
    while (ticks == t)
        ;
    prev = rdtsc();
    for (int i = 0; i < CAL; i++) {
        t = ticks;
        while (ticks == t)
            ;
        uint64_t now = rdtsc();
        if (now - prev < best)
            best = now - prev;
        prev = now;
    }
    return best;
}

static void report(const char *how, uint32_t waited, uint64_t tsc, uint64_t per_tick)
{
    puts(how);
    // A tick or two more than asked for when the host was slow to let the guest re-check
    // (the next tick came first): on any machine, now and then. Many more would be a clock
    // skipping past the end of the wait.
    puts(waited >= TICKS && waited <= TICKS + 4 ? ": waited 100 ticks (up to 4 more)"
                                                 : ": waited ");
    if (waited < TICKS || waited > TICKS + 4) {
        putdec(waited);
        puts(" ticks");
    }
    puts("; TSC moved on by at least that much time: ");
    // At least (waited - 1) ticks' worth (the wait starts anywhere within a tick), less 10 %.
    puts(tsc * 10 >= (uint64_t)(waited - 1) * per_tick * 9 ? "yes\n" : "no\n");
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];

    idt_gate(0x20, tick_entry);
    pic_init(0xfe, 0xff);                      // IRQ 0 only
    outb(0x43, 0x34);                      // channel 0, rate generator
    outb(0x40, (uint8_t)(PIT_HZ / 100));
    outb(0x40, (uint8_t)((PIT_HZ / 100) >> 8));
    __asm__ volatile("sti");

    uint64_t per_tick = tsc_per_tick();
    for (; *cmd; cmd++) {
        if (cmd[0] == 's' && cmd[1] == 'p' && cmd[2] == 'i' && cmd[3] == 'n') {
            uint32_t t0 = ticks;
            uint64_t c0 = rdtsc();
            while (ticks < t0 + TICKS)
                ;
            report("spin", ticks - t0, rdtsc() - c0, per_tick);
        } else if (cmd[0] == 'h' && cmd[1] == 'a' && cmd[2] == 'l' && cmd[3] == 't') {
            uint32_t t0 = ticks;
            uint64_t c0 = rdtsc();
            while (ticks < t0 + TICKS)
                __asm__ volatile("hlt");
            report("halt", ticks - t0, rdtsc() - c0, per_tick);
        } else if (cmd[0] == 'c' && cmd[1] == 'o' && cmd[2] == 'u' && cmd[3] == 'n') {
            uint32_t t0 = ticks;
            for (volatile uint32_t i = 0; i < 50000000u; i++)
                ;
            puts("count: done; ticks went on meanwhile: ");
            puts(ticks > t0 ? "yes\n" : "no\n");
        }
    }
    gexit(0);
}
