// ring1-run: load a (patched, or with --unpatched unpatched) 32-bit multiboot kernel or Linux
// vmlinux and run it natively.
// `ring1-run --help` lists every option with its default, and the exit statuses (usage_text
// below is the one description; the README points at it).
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "cpuid.h"
#include "hypercall.h"
#include "jail.h"
#include "loader.h"
#include "mem.h"
#include "mmio.h"
#include "pio.h"
#include "rtcode.h"
#include "disk.h"
#include "entry.h"
#include "gdbstub.h"
#include "platform.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"

static const char usage_text[] =
"usage: ring1-run [OPTION...] IMAGE [OPTION...]\n"
"       ring1-run [OPTION...] -kernel IMAGE [OPTION...]\n"
"\n"
"Run a 32-bit multiboot kernel or Linux vmlinux -- patched by `ring1 rewrite`, or\n"
"unpatched with --unpatched (then every privileged instruction traps) -- natively on a\n"
"virtual i386 PC modelled on QEMU's `qemu-system-i386 -nodefaults -vga std -cpu qemu32`.\n"
"COM1 is the console.\n"
"\n"
"Options go before or after IMAGE, spelled with two dashes or one (QEMU's way), with\n"
"their value as the next argument or after `=`: --mem 64M, --mem=64M, -mem 64M and\n"
"-m 64 are the same. Names are not abbreviated. `--` ends the options.\n"
"\n"
"Machine:\n"
"  --mem SIZE, -m [size=]SIZE\n"
"                         guest RAM, 2M..3G; K/M/G suffix, a bare number is MiB, as\n"
"                         QEMU's -m (default 128M)\n"
"  --serial stdio|file:PATH|PATH\n"
"                         COM1 on stdin/stdout, or its output to PATH and no input\n"
"                         (default stdio). QEMU's other back ends (pty, tcp:, unix:,\n"
"                         null, ...) are refused: ./pty for a file of that name\n"
"  --serial-limit SIZE    COM1 output bytes written at most, the rest dropped with a\n"
"                         warning; K/M/G suffix, 0 = no limit (default 1G)\n"
"  --input serial|keyboard\n"
"                         where stdin goes: COM1's receiver, or typed on the PS/2\n"
"                         keyboard -- each byte a keystroke on a US keyboard (Shift for\n"
"                         capitals and symbols, left Ctrl for control characters,\n"
"                         Enter for CR/LF, Backspace for BS/DEL), in the scan code set\n"
"                         the guest chose, held back while the keyboard's buffer is\n"
"                         full or scanning is off (default serial)\n"
"  --disk FILE[,cache=MODE]\n"
"                         an ATA disk image at the next free position in QEMU's -drive\n"
"                         index order: 0 primary master, 1 primary slave, 2 secondary\n"
"                         master, 3 secondary slave (default: no disks). The file is\n"
"                         locked: a second ring1 on it is refused (exit 2) unless it\n"
"                         has --snapshot. Every guest write reaches the file, in order,\n"
"                         before the guest sees it complete, so even after SIGKILL the\n"
"                         file holds the writes the guest saw complete. MODE, as QEMU's\n"
"                         cache=, says when they are durable (survive a host crash):\n"
"                           writeback     on the guest's FLUSH CACHE and at every exit\n"
"                                         ring1 takes (the default)\n"
"                           writethrough  each write before it completes (O_DSYNC): a\n"
"                                         host crash leaves a prefix of the writes\n"
"                           unsafe        whenever the host writes its cache back\n"
"  --disk [index=N,]file=FILE[,cache=MODE]\n"
"                         the same (at index N), as QEMU's -drive index=N,file=FILE\n"
"  --snapshot             leave the disk files untouched: writes stay in memory\n"
"  --vga std|none         std: QEMU's std VGA as its BIOS leaves it in text mode 3,\n"
"                         as every PC and QEMU's default machine have one (QEMU:\n"
"                         -nodefaults -vga std): CRT controller, sequencer, graphics\n"
"                         and attribute controllers, misc output, input status, DAC;\n"
"                         the text buffer at 0xB8000. none: no display adapter, as\n"
"                         QEMU's -nodefaults alone (0xB8000 is RAM, the VGA ports\n"
"                         read 0xff) (default std)\n"
"  --testdev              QEMU's pc-testdev, as kvm-unit-tests' runner adds it (-device\n"
"                         pc-testdev): latch ports 0xE0 and 0xE8, 0xE4, interrupt lines\n"
"                         at 0x2000, 64 KiB of buffer at 0xFF000000 (default: absent)\n"
"\n"
"Boot, laid out as QEMU's -kernel/-append/-initrd do. A multiboot v1 kernel gets the\n"
"multiboot information; a Linux vmlinux (an ELF with a \"Linux\" note and no multiboot\n"
"header) is entered at its 32-bit entry point by the Linux boot protocol (zero page in\n"
"%esi, flat CS 0x10 and data 0x18, paging and interrupts off):\n"
"  -kernel IMAGE          IMAGE, as QEMU's -kernel\n"
"  --cmdline STRING, -append STRING\n"
"                         the kernel's command line (multiboot: after its name)\n"
"                         (default empty)\n"
"  --linux-setup FILE     Linux: the bzImage the vmlinux IMAGE came out of; its setup\n"
"                         header (protocol 2.10 or later) goes into the zero page (default:\n"
"                         protocol 2.10's fields, initrd_addr_max 0x7fffffff,\n"
"                         cmdline_size 2047)\n"
"  --initrd FILE          Linux: the initial ramdisk, page-aligned at the top of RAM below\n"
"                         initrd_addr_max and the BIOS's top 128 KiB, as QEMU's -initrd\n"
"                         (default: none)\n"
"  --kernel-name NAME     the name the command line starts with (default IMAGE): a\n"
"                         patched image then gets its original's command line\n"
"  --module 'FILE ARGS'   multiboot: a module; the whole string is its command line;\n"
"                         repeatable, loaded in order (default: none)\n"
"\n"
"Run:\n"
"  --clock warp|host      the guest's time (PIT, local APIC timer, RTC, TSC). warp: it\n"
"                         runs with the host's, and jumps to the next timer deadline\n"
"                         when the guest can only wait for it -- halted, or spinning\n"
"                         in a loop that only reads memory -- and no host input could\n"
"                         end the wait sooner (a terminal or pipe with nothing to\n"
"                         read yet): the guest sees a machine that was busy until\n"
"                         then, boots that wait on their own timeouts finish sooner;\n"
"                         after 10 s of its time with no I/O but timers (an idle\n"
"                         guest) it waits in real time again.\n"
"                         host: the guest's time is the host's, always (default warp)\n"
"  --runtime-code fill|descent|off\n"
"                         ring 0's code written at run time (a frame executed in guest\n"
"                         ring 0-2 that is not the image's): its silent sensitive\n"
"                         instructions become trap sites in a copy the guest executes.\n"
"                         fill: bytes the decoding did not reach are int3 too, decoded\n"
"                         when run (reads through the page the guest runs see them);\n"
"                         descent: only what recursive descent from each entry reaches;\n"
"                         off: run natively (default fill; docs/code-copies.md)\n"
"  --timeout SECONDS      stop after this long, e.g. 10 or 0.5 (default: no limit)\n"
"  --break ADDR[:COUNT]   stop before the COUNTth execution (default 1st) of the\n"
"                         sensitive instruction at ADDR (its link address; only\n"
"                         instructions the runtime emulates are seen)\n"
"  --screen               at exit, show the 80x25 text screen (0xB8000) on stderr\n"
"  --screen=FILE          at exit, write the screen's 25 text lines to FILE. With\n"
"                         --vga std the rows start at the CRTC's start address and a\n"
"                         26th line says where the cursor is: `cursor row R col C`\n"
"                         (0-based, from the top left), `cursor off` or `cursor off\n"
"                         the screen at 0xNNNN`, then `, start address 0xNNNN`\n"
"  --stats                at exit, counts of exits, sites and device accesses on stderr,\n"
"                         and of accesses to nothing (ports no device has, read as all\n"
"                         ones; physical addresses with nothing there, read as zero),\n"
"                         each with the guest instruction of its first access\n"
"  --stats-json FILE      at exit, the same counters as one JSON document in FILE\n"
"                         (schema \"ring1-stats/1\", guest addresses as \"0x%08x\"\n"
"                         strings, the exit status): exits by kind, events, vectors,\n"
"                         busiest sites, shadow pages, devices, accesses to nothing\n"
"  --profile-out FILE     at exit, write every guest address's exits by kind to FILE\n"
"                         (JSON): `ring1 rewrite --profile FILE` makes the hot device\n"
"                         accesses among them hypercalls instead of host faults\n"
"  --gdb tcp:[HOST]:PORT  a gdb remote stub on TCP: `target remote HOST:PORT` in gdb\n"
"                         (HOST defaults to 127.0.0.1, not every interface as QEMU's;\n"
"                         tcp:0.0.0.0:PORT for that). gdb sees the guest's registers and\n"
"                         memory (through its page tables, the original bytes where the\n"
"                         rewriter patched), sets breakpoints anywhere (int3 bytes\n"
"                         that its reads do not show, but the guest's would), steps,\n"
"                         continues, stops the guest with Ctrl-C. A gdb that goes away\n"
"                         leaves the guest running; when the run ends gdb sees it\n"
"                         stopped there, and the exit once it resumes (docs/gdb.md)\n"
"  -s                     --gdb tcp::1234, as QEMU's -s\n"
"  -S                     stop before the guest's first instruction until gdb connects\n"
"                         and continues (with no --gdb or -s: on tcp::1234)\n"
"  --trace                one line per exit on stderr (slow): each hypercall and trap\n"
"                         with its site, each port and device-memory access with its\n"
"                         port or physical address, value and guest instruction (but\n"
"                         those the vCPU page's port and MMIO caches answer without an\n"
"                         exit), and one per access to\n"
"                         nothing, naming the port or address and the instruction\n"
"  --trace-file FILE      --trace's lines into FILE instead of stderr (implies --trace)\n"
"  --no-jail              for debugging (gdb, strace): run without the jail. By\n"
"                         default, before the guest's first instruction, ring1-run\n"
"                         gives up what a guest that took it over could use: it\n"
"                         moves into new mount, network, IPC and UTS namespaces with\n"
"                         an empty read-only root, becomes user nobody (as root;\n"
"                         else in a user namespace, where the host allows one), and\n"
"                         allows only the system calls its run loop makes\n"
"  --jail                 the default: the jail described above (undoes --no-jail)\n"
"  -no-reboot             a guest reset (and a triple fault, which resets a PC) ends\n"
"                         the run with exit 0, as QEMU's -no-reboot. ring1 never\n"
"                         reboots: without it, a reset exits 18 and a triple fault 4\n"
"  -nographic             accepted for QEMU's command lines; no effect (ring1 never\n"
"                         opens a window: COM1 on stdio is its console)\n"
"  --unpatched            run an image `ring1 rewrite` has not patched (no .ring1 note):\n"
"                         its privileged instructions trap and are emulated, but its\n"
"                         silent sensitive ones run natively and see the host's state,\n"
"                         not the guest's: pushf/popf (IF always 1, writes to it lost),\n"
"                         sgdt/sidt/sldt/str/smsw, lar/lsl/verr/verw, and moves and\n"
"                         pushes of segment registers. Without it such an image is\n"
"                         refused (exit 2); `ring1 boot IMAGE` rewrites and runs it.\n"
"                         No effect on a patched image\n"
"  --help, -h             this text\n"
"  --version              the version and the ABI of patched images it runs\n"
"  --list-options         the option table, one option a line (for `ring1 run`)\n"
"\n"
"Exit status:\n"
"  (v << 1) | 1  the guest wrote v to the debug-exit port 0xf4 (QEMU's isa-debug-exit)\n"
"  0             --help, --version; the guest turned the machine off (ACPI S5, as QEMU\n"
"                exits); with -no-reboot, a guest reset or triple fault\n"
"  2             bad arguments, or an image, module or disk that cannot be loaded\n"
"                (or a disk another ring1 has open without --snapshot), or an\n"
"                unpatched image without --unpatched\n"
"  4             the guest triple-faulted (QEMU -no-reboot exits 0)\n"
"  6             the guest halted for good: hlt with interrupts off, or nothing left to\n"
"                wake it\n"
"  8             --timeout expired\n"
"  10            the guest did something the runtime does not emulate\n"
"  12            the guest touched the hypervisor window (ring1 rewrite --window)\n"
"  14            runtime failure: a host error or a runtime bug\n"
"  16            SIGINT, SIGTERM or SIGHUP\n"
"  18            the guest reset the machine (keyboard controller, port 0x92 or the\n"
"                reset control register 0xCF9; QEMU -no-reboot exits 0)\n"
"  20            --break reached\n"
"  22            guest code ran in 64-bit mode (it far-jumped through the host's 64-bit\n"
"                code selector, which no i386 machine has; QEMU raises #GP there)\n"
"  24            the jail stopped a system call of the runtime: a guest that took the\n"
"                runtime over, or a runtime bug\n"
"Statuses 2-24 come with a diagnosis on stderr (what, where, the guest's registers).\n";

#ifndef RING1_VERSION
#define RING1_VERSION "unknown"
#endif

// The option table: getopt_long_only parses with it (every option spelled with one dash or
// two, `--opt value` or `--opt=value`, before or after IMAGE, full names only), and
// `--list-options` prints it for `ring1 run`/`ring1 boot`, which parse the same grammar from
// it. usage_text documents each entry (a test checks).
enum {
    OPT_MEM = 256, OPT_SERIAL, OPT_SERIAL_LIMIT, OPT_INPUT, OPT_CLOCK, OPT_VGA, OPT_TESTDEV,
    OPT_CMDLINE, OPT_TIMEOUT, OPT_KERNEL_NAME, OPT_MODULE, OPT_LINUX_SETUP, OPT_INITRD,
    OPT_DISK, OPT_BREAK, OPT_SNAPSHOT, OPT_SCREEN, OPT_STATS, OPT_STATS_JSON, OPT_PROFILE_OUT,
    OPT_TRACE, OPT_NO_JAIL, OPT_JAIL, OPT_HELP, OPT_VERSION, OPT_LIST_OPTIONS, OPT_KERNEL,
    OPT_NOGRAPHIC, OPT_NO_REBOOT, OPT_UNPATCHED, OPT_TRACE_FILE, OPT_GDB, OPT_GDB_S, OPT_GDB_WAIT,
    OPT_RUNTIME_CODE,
};
// '-': IMAGE comes back in order (as option 1), so options after it are options even with
// POSIXLY_CORRECT set; ':': a missing value is told apart from an unknown option.
#define OPTSTRING "-:hm:"
static const struct option options[] = {
    {"mem", required_argument, NULL, OPT_MEM},
    {"m", required_argument, NULL, OPT_MEM},                    // QEMU
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"serial-limit", required_argument, NULL, OPT_SERIAL_LIMIT},
    {"input", required_argument, NULL, OPT_INPUT},
    {"disk", required_argument, NULL, OPT_DISK},
    {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
    {"vga", required_argument, NULL, OPT_VGA},
    {"testdev", no_argument, NULL, OPT_TESTDEV},
    {"kernel", required_argument, NULL, OPT_KERNEL},            // QEMU
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"append", required_argument, NULL, OPT_CMDLINE},           // QEMU
    {"linux-setup", required_argument, NULL, OPT_LINUX_SETUP},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"kernel-name", required_argument, NULL, OPT_KERNEL_NAME},
    {"module", required_argument, NULL, OPT_MODULE},
    {"clock", required_argument, NULL, OPT_CLOCK},
    {"runtime-code", required_argument, NULL, OPT_RUNTIME_CODE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"break", required_argument, NULL, OPT_BREAK},
    {"screen", optional_argument, NULL, OPT_SCREEN},
    {"stats", no_argument, NULL, OPT_STATS},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"profile-out", required_argument, NULL, OPT_PROFILE_OUT},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"trace-file", required_argument, NULL, OPT_TRACE_FILE},
    {"no-jail", no_argument, NULL, OPT_NO_JAIL},
    {"jail", no_argument, NULL, OPT_JAIL},
    {"no-reboot", no_argument, NULL, OPT_NO_REBOOT},            // QEMU
    {"nographic", no_argument, NULL, OPT_NOGRAPHIC},            // QEMU
    {"unpatched", no_argument, NULL, OPT_UNPATCHED},
    {"gdb", required_argument, NULL, OPT_GDB},                  // QEMU
    {"s", no_argument, NULL, OPT_GDB_S},                        // QEMU
    {"S", no_argument, NULL, OPT_GDB_WAIT},                     // QEMU
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"list-options", no_argument, NULL, OPT_LIST_OPTIONS},
    {NULL, 0, NULL, 0},
};

// The table, one option a line: NAME, then none|required|optional (its value). (A QEMU
// option ring1 had no counterpart for would add a tab, `refused`, a tab and the one line it
// is refused with: `ring1 run` refuses it before any rewrite. None is, at present.)
static void list_options(void)
{
    static const char *const arg[] = {"none", "required", "optional"};
    for (const struct option *o = options; o->name; o++)
        printf("%s\t%s\n", o->name, arg[o->has_arg]);
}

// Whether the token an option came from (-NAME, --NAME, either with =VALUE) spells its
// whole name: getopt accepts unique abbreviations, which would make adding an option
// break a command line that worked.
static bool exact_name(const char *tok, const char *name)
{
    tok += tok[1] == '-' ? 2 : 1;
    size_t n = strcspn(tok, "=");
    return n == strlen(name) && !strncmp(tok, name, n);
}

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "ring1-run: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (ring1-run --help lists the options)\n");
    exit(STATUS_LOAD_ERROR);
}

// --serial: stdio, file:PATH (QEMU's spelling) or PATH. QEMU's other back ends are
// refused rather than taken for file names (`--serial pty` made a file called pty).
static const char *serial_arg(const char *s)
{
    static const char *const other[] = {"pty", "null", "none", "vc", "msmouse", "braille",
                                        "mon:", "tcp:", "telnet:", "udp:", "unix:", "pipe:",
                                        "chardev:", "vc:", "websocket:", "tty:", "stdio:"};
    if (!strncmp(s, "file:", 5)) {
        if (!s[5])
            usage_error("--serial %s: want file:PATH", s);
        return s + 5;
    }
    for (unsigned k = 0; k < sizeof other / sizeof other[0]; k++) {
        size_t n = strlen(other[k]);
        if (other[k][n - 1] == ':' ? !strncmp(s, other[k], n) : !strcmp(s, other[k]))
            usage_error("--serial %s: ring1's COM1 goes to stdio or a file only (stdio, "
                        "file:PATH, or PATH; ./NAME for a file of such a name)", s);
    }
    if (!*s)
        usage_error("%s", "--serial: want stdio, file:PATH or PATH");
    return s;
}

// --disk FILE[,cache=MODE], or --disk [index=N,]file=FILE[,cache=MODE] (QEMU's -drive
// spelling; in the first form the file name is everything before a final ",cache=").
static void parse_disk(const char *arg, const char **disks, enum disk_cache *caches)
{
    int index = -1;
    enum disk_cache cache = DISK_WRITEBACK;
    char *copy = strdup(arg), *file = NULL;
    if (!copy)
        usage_error("--disk %s: out of memory", arg);
    char *cache_opt = NULL;
    if (!strncmp(copy, "index=", 6) || !strncmp(copy, "file=", 5)) {
        for (char *opt = copy, *next; opt; opt = next) {
            next = strchr(opt, ',');
            if (next)
                *next++ = '\0';
            if (!strncmp(opt, "index=", 6)) {
                char *end;
                long n = strtol(opt + 6, &end, 10);
                if (end == opt + 6 || *end || n < 0 || n >= DISK_MAX)
                    usage_error("--disk %s: want FILE, or index=N,file=FILE (N 0-3), either "
                                "with ,cache=MODE", arg);
                index = (int)n;
            } else if (!strncmp(opt, "file=", 5) && opt[5]) {
                file = opt + 5;
            } else if (!strncmp(opt, "cache=", 6)) {
                cache_opt = opt + 6;
            } else {
                usage_error("--disk %s: want FILE, or index=N,file=FILE (N 0-3), either "
                            "with ,cache=MODE", arg);
            }
        }
        if (!file)
            usage_error("--disk %s: no file=FILE", arg);
    } else {
        file = copy;
        char *c = strstr(copy, ",cache=");
        while (c && strstr(c + 1, ",cache="))
            c = strstr(c + 1, ",cache=");
        if (c) {
            *c = '\0';
            cache_opt = c + 7;
        }
    }
    if (cache_opt) {
        if (!strcmp(cache_opt, "writeback"))
            cache = DISK_WRITEBACK;
        else if (!strcmp(cache_opt, "writethrough"))
            cache = DISK_WRITETHROUGH;
        else if (!strcmp(cache_opt, "unsafe"))
            cache = DISK_UNSAFE;
        else
            usage_error("--disk %s: want cache=writeback, writethrough or unsafe", arg);
    }
    if (index < 0) {
        for (int i = 0; i < DISK_MAX && index < 0; i++)
            if (!disks[i])
                index = i;
        if (index < 0)
            usage_error("--disk %s: all four ATA positions are taken", arg);
    }
    if (disks[index])
        usage_error("--disk %s: that index already has a disk", arg);
    disks[index] = file;
    caches[index] = cache;
}

// Seconds with an optional fraction ("2", "0.5") in nanoseconds, without floating point
// (the runtime is built with -mgeneral-regs-only).
static uint64_t parse_seconds(const char *s)
{
    uint64_t ns = 0, scale = 1000000000u;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        ns = ns * 10 + (uint64_t)(*p++ - '0');
    ns *= scale;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ns += (scale /= 10) * (uint64_t)(*p - '0');
    if (*p || p == s) {
        fprintf(stderr, "ring1-run: --timeout %s: want seconds, e.g. 10 or 0.5\n", s);
        exit(STATUS_LOAD_ERROR);
    }
    return ns;
}

static uint32_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 0);
    switch (*end) {
    case 'k': case 'K': n <<= 10; end++; break;
    case 'm': case 'M': n <<= 20; end++; break;
    case 'g': case 'G': n <<= 30; end++; break;
    case '\0': n <<= 20; break;   // a bare number is MiB, like QEMU's -m
    }
    if (errno || *end || n < (2u << 20) || n > 0xc0000000ull) {
        fprintf(stderr, "ring1-run: --mem %s: want 2M..3G\n", s);
        exit(STATUS_LOAD_ERROR);
    }
    return (uint32_t)(n & ~0xfffull);
}

// The code at R1_ENTRY: a compat-mode far jump to the 64-bit stub right after it, and the
// address the stub leaves through (entry.S); at HC_GATE_OFF ring 3's system call gate, a sled
// of nops ending in the same far jump (usergate.c). buf holds HC_GATE_OFF + HC_GATE_LEN bytes.
static size_t build_entry(uint8_t *buf, uint32_t window)
{
    const uint32_t stub_off = HC_STUB_OFF;
    uint32_t stub = window + R1_ENTRY_OFF + stub_off;
    uint8_t jmp[7] = {0xea, (uint8_t)stub, (uint8_t)(stub >> 8), (uint8_t)(stub >> 16),
                      (uint8_t)(stub >> 24), 0x33, 0x00};   // ljmp $0x33, $stub
    memset(buf, 0xcc, HC_GATE_OFF);
    memcpy(buf, jmp, sizeof jmp);
    size_t n = (size_t)(hc_stub64_end - hc_stub64_start);
    if (stub_off + n > HC_GATE_OFF)
        abort();   // (the stub outgrew its room)
    memcpy(buf + stub_off, hc_stub64_start, n);
    uint64_t landing = (uint64_t)(uintptr_t)guest_exit_landing;
    memcpy(buf + stub_off + (size_t)(hc_landing_slot - hc_stub64_start), &landing, 8);
    memset(buf + HC_GATE_OFF, 0x90, HC_GATE_SLED);
    memcpy(buf + HC_GATE_OFF + HC_GATE_SLED, jmp, sizeof jmp);
    return HC_GATE_OFF + HC_GATE_LEN;
}

int main(int argc, char **argv)
{
    const char *image = NULL, *cmdline = "", *kernel_name = NULL, *screen = NULL,
               *profile_out = NULL, *stats_json = NULL, *trace_file = NULL, *linux_setup = NULL,
               *initrd = NULL;
    bool want_screen = false, stats = false, jail = true;
    struct platform_config pc = {.serial = "stdio", .ram_size = 128u << 20,
                                 .serial_limit = 1ull << 30, .vga = true};
    static struct image img;
    uint64_t timeout_ns = 0;
    const char *modules[LOADER_MAX_MODS];
    unsigned nmodules = 0;
    bool no_reboot = false, unpatched = false;
    int c, li;
    opterr = 0;                 // our own messages: one line, then where the options are
    while (li = -1, optarg = NULL, (c = getopt_long_only(argc, argv, OPTSTRING, options, &li)) != -1) {
        // The option's own token: before a separate value, else the last one taken.
        const char *tok = optarg && optarg == argv[optind - 1] && optind >= 2 ? argv[optind - 2]
                                                                            : argv[optind - 1];
        if (c == '?') {
            for (const struct option *o = options; o->name; o++)
                if (o->has_arg == no_argument && strchr(tok, '=') && exact_name(tok, o->name))
                    usage_error("%s: the option takes no value", tok);
            if (optopt > ' ' && optopt < 127 && optopt != 'h' && optopt != 'm')
                usage_error("unknown option -%c", (char[]){(char)optopt, 0});   // in -hX
            usage_error("unknown option %s", tok);
        }
        if (c == ':')
            usage_error("%s wants a value", tok);
        if (li >= 0 && !exact_name(tok, options[li].name))   // no abbreviations
            usage_error("unknown option %s", tok);
        switch (c) {
        case 1:
            if (image)
                usage_error("one IMAGE only (%s is a second one)", optarg);
            image = optarg;
            break;
        case 'h':
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        case OPT_VERSION:
            printf("ring1-run %s (ABI %u)\n", RING1_VERSION, R1_ABI_VERSION);
            return 0;
        case OPT_LIST_OPTIONS:
            list_options();
            return 0;
        case OPT_GDB:
            if (!gdb_option(optarg))
                usage_error("--gdb %s: want tcp::PORT or tcp:HOST:PORT, e.g. tcp::1234", optarg);
            break;
        case OPT_GDB_S:
            gdb_option("tcp::1234");
            break;
        case OPT_GDB_WAIT:
            gdb_option_wait();
            break;
        case 'm':
        case OPT_MEM:
            // QEMU's -m [size=]SIZE
            pc.ram_size = parse_size(!strncmp(optarg, "size=", 5) ? optarg + 5 : optarg);
            break;
        case OPT_SERIAL:
            pc.serial = serial_arg(optarg);
            break;
        case OPT_SERIAL_LIMIT: {
            const char *arg = optarg;
            char *end;
            errno = 0;
            unsigned long long n = strtoull(arg, &end, 0);
            unsigned shift = *end == 'k' || *end == 'K' ? 10 : *end == 'm' || *end == 'M' ? 20
                           : *end == 'g' || *end == 'G' ? 30 : 0;
            if (shift)
                end++;
            if (errno || *end || end == arg || *arg == '-' || n > (~0ull >> shift))
                usage_error("--serial-limit %s: want a size, e.g. 100M, or 0", arg);
            pc.serial_limit = n << shift;
            break;
        }
        case OPT_INPUT:
            if (strcmp(optarg, "serial") && strcmp(optarg, "keyboard"))
                usage_error("--input %s: want serial or keyboard", optarg);
            pc.keyboard_input = !strcmp(optarg, "keyboard");
            break;
        case OPT_CLOCK:
            if (strcmp(optarg, "warp") && strcmp(optarg, "host"))
                usage_error("--clock %s: want warp or host", optarg);
            clock_warp = !strcmp(optarg, "warp");
            break;
        case OPT_RUNTIME_CODE:
            if (!strcmp(optarg, "fill"))
                rtcode_mode = RT_FILL;
            else if (!strcmp(optarg, "descent"))
                rtcode_mode = RT_DESCENT;
            else if (!strcmp(optarg, "off"))
                rtcode_mode = RT_OFF;
            else
                usage_error("--runtime-code %s: want fill, descent or off", optarg);
            break;
        case OPT_VGA:
            if (strcmp(optarg, "none") && strcmp(optarg, "std"))
                usage_error("--vga %s: want none or std", optarg);
            pc.vga = !strcmp(optarg, "std");
            break;
        case OPT_TESTDEV:
            pc.testdev = true;
            break;
        case OPT_CMDLINE:
            cmdline = optarg;
            break;
        case OPT_TIMEOUT:
            timeout_ns = parse_seconds(optarg);
            break;
        case OPT_KERNEL_NAME:
            kernel_name = optarg;
            break;
        case OPT_MODULE:
            if (nmodules == LOADER_MAX_MODS)
                usage_error("--module %s: too many modules", optarg);
            modules[nmodules++] = optarg;
            break;
        case OPT_LINUX_SETUP:
            if (linux_setup)
                usage_error("--linux-setup %s: given twice", optarg);
            linux_setup = optarg;
            break;
        case OPT_INITRD:
            if (initrd)
                usage_error("--initrd %s: given twice", optarg);
            initrd = optarg;
            break;
        case OPT_DISK:
            parse_disk(optarg, pc.disks, pc.disk_cache);
            break;
        case OPT_BREAK: {
            char *end;
            const char *arg = optarg;
            unsigned long addr = strtoul(arg, &end, 0), count = 1;
            if (*end == ':')
                count = strtoul(end + 1, &end, 0);
            if (*end || end == arg || addr > 0xffffffffu || !count || count > 0xffffffffu)
                usage_error("--break %s: want ADDR or ADDR:COUNT, e.g. 0x100f0b:3000", arg);
            vcpu_break_addr = (uint32_t)addr;
            vcpu_break_count = (uint32_t)count;
            break;
        }
        case OPT_SNAPSHOT:
            pc.snapshot = true;
            break;
        case OPT_SCREEN:
            if (optarg && !*optarg)
                usage_error("%s: want --screen, or --screen=FILE", tok);
            want_screen = true;
            screen = optarg;
            break;
        case OPT_STATS:
            stats = true;
            break;
        case OPT_STATS_JSON:
            stats_json = optarg;
            break;
        case OPT_PROFILE_OUT:
            profile_out = optarg;
            break;
        case OPT_TRACE:
            vcpu_trace = true;
            break;
        case OPT_TRACE_FILE:
            vcpu_trace = true;
            trace_file = optarg;
            break;
        case OPT_NO_JAIL:
            jail = false;
            break;
        case OPT_JAIL:
            jail = true;
            break;
        case OPT_KERNEL:
            if (image)
                usage_error("one IMAGE only (-kernel %s is a second one)", optarg);
            image = optarg;
            break;
        case OPT_NOGRAPHIC:
            break;              // ring1 has no graphical window: always QEMU's -nographic
        case OPT_NO_REBOOT:
            no_reboot = true;
            break;
        case OPT_UNPATCHED:
            unpatched = true;
            break;
        default:
            usage_error("unknown option %s", tok);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (image)
            usage_error("one IMAGE only (%s is a second one)", argv[i]);
        image = argv[i];
    }
    if (!image)
        usage_error("%s", "no IMAGE given");

    struct vcpu *v = &vcpu0;
    mem_init(pc.ram_size);
    for (unsigned i = 0; i < nmodules; i++)
        loader_add_module(&img, modules[i]);
    if (linux_setup)
        loader_set_linux_setup(&img, linux_setup);
    if (initrd)
        loader_set_initrd(&img, initrd);
    loader_load(image, &img);
    // An unpatched image runs wrong without a word (its silent sensitive instructions see
    // the host's state): only when asked for. After loading, so load errors come first.
    // A vmlinux with --linux-setup BZIMAGE (`ring1 run BZIMAGE`) is named with its bzImage,
    // which is what `ring1 boot` takes.
    if (!img.has_note && !unpatched) {
        const char *boot = linux_setup ? linux_setup : image;
        fprintf(stderr, "ring1-run: %s%s%s%s is not rewritten: pushf/popf, "
                        "sgdt/sidt/sldt/str/smsw, lar/lsl/verr/verw and segment register moves "
                        "would run natively and see the host's state, not the guest's; "
                        "`ring1 boot %s` rewrites and runs it (or `ring1 rewrite` it first), "
                        "--unpatched runs it anyway\n",
                image, linux_setup ? " (the vmlinux of " : "", linux_setup ? linux_setup : "",
                linux_setup ? ")" : "", boot);
        exit(STATUS_LOAD_ERROR);
    }
    if (kernel_name)
        img.path = kernel_name;

    // The vCPU page: in the window for a patched image (its trampolines use it), else a
    // host page (an unpatched kernel owns all 4 GiB).
    if (img.has_note) {
        uint8_t entry[HC_GATE_OFF + HC_GATE_LEN];
        size_t n = build_entry(entry, img.note.window_base);
        v->page = mem_window_map(img.note.window_base, entry, n,
                                 img.ring1_vaddr - img.note.window_base, img.ring1,
                                 img.ring1_len);
        if (r1_init((const struct r1_header *)(uintptr_t)img.note.image_vaddr, img.ring1_vaddr,
                    img.ring1_len) < 0)
            exit(STATUS_LOAD_ERROR);
        r1_set_alias_deltas(img.deltas, img.ndeltas);
        mem_window_alias_init(img.deltas, img.ndeltas);
    } else {
        v->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (img.has_note) {
        mmio_cache_init(v->page);
        pio_cache_init(v->page);
    }
    vcpu_reset(v);
    mem_view_reset(v);
    // platform_init turns on SIGIO for stdin and creates the timers; until signals_init
    // installs their handlers, their default action (terminate) must not run: hold them.
    sigset_t early, old;
    signals_async_set(&early);
    sigprocmask(SIG_BLOCK, &early, &old);
    platform_init(v, &pc);
    // --stats: each module's own lines, after the counters (stats.c)
    stats_register_json(mem_print_stats, "memory", mem_json_stats);
    stats_register_json(platform_print_stats, "devices", platform_json_stats);
    stats_register_json(pio_print_unhandled, "unassigned_ports", pio_json_unhandled);
    stats_register_json(mmio_print_unhandled, "unassigned_physical", mmio_json_unhandled);
    clock_init();
    loader_boot(v, &img, cmdline, pc.vga);
    signals_init(v);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (timeout_ns)
        signals_arm_timeout(timeout_ns);
    // Everything the run needs is open now (no file is opened after this point).
    FILE *screen_file = NULL;
    if (want_screen && screen && !(screen_file = fopen(screen, "w"))) {
        fprintf(stderr, "ring1-run: --screen=%s: %s\n", screen, strerror(errno));
        exit(STATUS_LOAD_ERROR);
    }
    FILE *profile_file = NULL;
    if (profile_out && !(profile_file = fopen(profile_out, "w"))) {
        fprintf(stderr, "ring1-run: --profile-out %s: %s\n", profile_out, strerror(errno));
        exit(STATUS_LOAD_ERROR);
    }
    if (trace_file && !(vcpu_trace_file = fopen(trace_file, "w"))) {
        fprintf(stderr, "ring1-run: --trace-file %s: %s\n", trace_file, strerror(errno));
        exit(STATUS_LOAD_ERROR);
    }
    FILE *stats_json_file = NULL;
    if (stats_json && !(stats_json_file = fopen(stats_json, "w"))) {
        fprintf(stderr, "ring1-run: --stats-json %s: %s\n", stats_json, strerror(errno));
        exit(STATUS_LOAD_ERROR);
    }
    int fds[MEM_FDS_MAX];
    unsigned nfds = mem_fds(fds);
    vcpu_cpuid_faulting();
    // The gdb stub listens (and with -S has its connection) before the jail: the jail lets
    // it accept on that one socket, nothing else (docs/security.md).
    int gdb_fd = gdb_start();
    if (gdb_fd >= 0)
        jail_allow_gdb(gdb_fd);
    if (jail)
        jail_enter(true, mem_page0_mappable(), fds, nfds, pc.serial_limit);

    // The run's own time: CPU time counts from here too (the process's clock started before an
    // exec: `ring1 boot`'s rewrite in the same process is not the run's).
    uint64_t t0 = clock_host_ns(CLOCK_MONOTONIC), cpu0 = clock_host_ns(CLOCK_PROCESS_CPUTIME_ID);
    int status = gdb_finish(v, vcpu_run(v));
    if (no_reboot && (status == STATUS_RESET || status == STATUS_TRIPLE_FAULT))
        status = 0;             // QEMU -no-reboot: a reset request ends the run, exit 0
    uint64_t elapsed = clock_host_ns(CLOCK_MONOTONIC) - t0,
             cpu = clock_host_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    if (stats || stats_json_file)
        pio_cache_account();
    if (stats)
        stats_print(stderr, elapsed, cpu);
    if (stats_json_file) {
        stats_write_json(stats_json_file, elapsed, cpu, status);
        if (fclose(stats_json_file) != 0)
            fprintf(stderr, "ring1-run: --stats-json %s: %s\n", stats_json, strerror(errno));
    }
    host_fpu_begin();
    if (profile_file) {
        stats_write_profile(profile_file, img.has_note ? img.note.input_sha256 : NULL,
                            img.has_note ? img.note.window_base : 0);
        if (fclose(profile_file) != 0)
            fprintf(stderr, "ring1-run: --profile-out %s: %s\n", profile_out, strerror(errno));
    }
    fflush(stdout);
    if (want_screen)
        platform_print_screen(screen_file);
    return status;
}
