// The gdb remote stub (gdbstub.h, docs/gdb.md): gdb's remote serial protocol on one TCP
// connection, all-stop, one thread.
//
// What gdb sees is the guest's machine, not the host's: registers from the vCPU (EFLAGS with
// the guest's virtual IF and IOPL, its selectors, EIP mapped out of the trampolines to the
// original instruction), memory through the guest's own page tables (physical with paging
// off) with the input's original bytes where the rewriter patched. Breakpoints (Z0, Z1) are
// int3 bytes the stub writes where the instruction executes: into the frame the address maps
// to, or -- for an instruction the rewriter moved into a trampoline -- into that trampoline,
// through the window's memfd. gdb's reads show the byte that was there. Single steps are
// the host's TF, as the run loop already uses it for interrupt shadows, carried on through
// trampolines until the guest is at a guest instruction again, with no interrupt delivered
// meanwhile (QEMU's default). Ctrl-C reaches the run loop as a signal (SIGIO on the socket,
// F_SETSIG SIG_GDB), so a running guest costs the stub nothing.
#include "gdbstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hypercall.h"
#include "mem.h"
#include "patched.h"
#include "signals.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

bool gdb_on;

static char *opt_host;           // NULL: 127.0.0.1
static int opt_port = -1;        // -1: no --gdb/-s given
static bool opt_wait;            // -S

static int lsn = -1, conn = -1;  // listening socket, gdb's connection

// What the guest is doing as far as gdb is concerned.
static bool stop_pending;        // report a stop at the next hook (-S, breakpoint, Ctrl-C)
static bool stepping;            // a single step is under way
static bool step_then_continue;  // ... only to get past a breakpoint: then run on
static bool step_trapped;        // ... and its #DB has come (a step that stays put: jmp .)
static uint32_t step_from;       // ... from this linear EIP
static uint8_t step_pushf;       // ... over a pushf (1, 2 with 0x66): the host's TF goes
                                 //     into the pushed flags, and is taken out again
static int reinsert = -1;        // a breakpoint taken out for that step, put back after it
static bool ended;               // the run is over (gdb_finish): nothing runs on after gdb

// ---- breakpoints ----------------------------------------------------------------------------
#define BP_MAX 64
struct bp {
    bool used, inserted, in_window;
    uint32_t addr;      // the address gdb gave (a guest instruction)
    uint32_t exec;      // linear address of the int3: addr, or its trampoline instruction
    uint32_t pa;        // the frame's byte (RAM), or the window address (in_window)
    uint8_t saved;      // the byte the int3 replaced
};
static struct bp bps[BP_MAX];

static bool bp_write(struct bp *b, uint8_t byte)
{
    if (b->in_window)
        return mem_window_poke(b->pa, &byte, true);
    uint8_t *p = mem_phys(b->pa, 1);
    if (!p)
        return false;
    mem_frame_stored(b->pa, 1);   // a frame checked for copies of patched code: look again
    *p = byte;
    return true;
}

// The byte now where b's int3 goes (the guest may have written over it).
static bool bp_read(const struct bp *b, uint8_t *cur)
{
    if (b->in_window)
        return mem_window_poke(b->pa, cur, false);
    const uint8_t *p = mem_phys(b->pa, 1);
    if (p)
        *cur = *p;
    return p != NULL;
}

static bool bp_insert(struct vcpu *v, uint32_t addr)
{
    for (unsigned i = 0; i < BP_MAX; i++)
        if (bps[i].used && bps[i].addr == addr)
            return true;   // (gdb inserts each address once; again is harmless)
    struct bp b = {.used = true, .addr = addr, .exec = r1_o2t(v, addr)};
    uint32_t w = b.exec + mem_window_alias_delta(v, b.exec);
    if (b.exec != addr && mem_in_window(w)) {
        // An instruction the rewriter moved: it runs in its trampoline.
        b.in_window = true;
        b.pa = w;
        uint8_t byte = 0xcc;
        if (!mem_window_poke(w, &byte, true))
            return false;
        b.saved = byte;
    } else {
        if (!mem_debug_translate(v, addr, &b.pa) || !mem_phys(b.pa, 1))
            return false;
        b.saved = *(uint8_t *)mem_phys(b.pa, 1);
        bp_write(&b, 0xcc);
    }
    b.inserted = true;
    for (unsigned i = 0; i < BP_MAX; i++)
        if (!bps[i].used) {
            bps[i] = b;
            return true;
        }
    bp_write(&b, b.saved);
    return false;
}

static void bp_lift(struct bp *b)
{
    if (!b->inserted)
        return;
    // Unless the guest has written over the int3 meanwhile (then its byte stands).
    uint8_t cur = 0;
    if (bp_read(b, &cur) && cur == 0xcc)
        bp_write(b, b->saved);
    b->inserted = false;
}

static bool bp_remove(uint32_t addr)
{
    for (unsigned i = 0; i < BP_MAX; i++)
        if (bps[i].used && bps[i].addr == addr) {
            bp_lift(&bps[i]);
            bps[i].used = false;
            if (reinsert == (int)i)
                reinsert = -1;
            return true;
        }
    return false;
}

static void bp_remove_all(void)
{
    for (unsigned i = 0; i < BP_MAX; i++)
        if (bps[i].used) {
            bp_lift(&bps[i]);
            bps[i].used = false;
        }
    reinsert = -1;
}

// The breakpoint whose int3 is at linear address lin (or at the frame lin maps to), or -1.
static int bp_find(struct vcpu *v, uint32_t lin)
{
    uint32_t pa = 0;
    bool have_pa = mem_debug_translate(v, lin, &pa);
    uint32_t w = lin + mem_window_alias_delta(v, lin);
    for (unsigned i = 0; i < BP_MAX; i++) {
        const struct bp *b = &bps[i];
        if (!b->used || !b->inserted)
            continue;
        if (b->exec == lin || (b->in_window ? b->pa == w : have_pa && b->pa == pa))
            return (int)i;
    }
    return -1;
}

bool gdb_breakpoint_at(struct vcpu *v, uint32_t lin)
{
    return bp_find(v, lin) >= 0;
}

// ---- the connection --------------------------------------------------------------------------
static void conn_close(void)
{
    if (conn >= 0)
        close(conn);
    conn = -1;
}

// Writes all of buf (the socket is non-blocking: wait while it is full). False if gdb is gone.
static bool send_all(const char *buf, size_t len)
{
    while (len && conn >= 0) {
        ssize_t n = write(conn, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {.fd = conn, .events = POLLOUT};
            poll(&p, 1, 1000);
        } else {
            conn_close();
            return false;
        }
    }
    return conn >= 0;
}

static char inbuf[4096];
static size_t inlen, inpos;

// The next byte from gdb: -1 if it has gone, -2 if none came and `block` is false, -3 if the
// wait was interrupted by what must end the run (SIGINT/SIGTERM, --timeout).
static int get_byte(struct vcpu *v, bool block)
{
    while (inpos == inlen) {
        if (conn < 0)
            return -1;
        ssize_t n = read(conn, inbuf, sizeof inbuf);
        if (n > 0) {
            inlen = (size_t)n;
            inpos = 0;
            break;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            conn_close();
            return -1;
        }
        if (!block)
            return -2;
        if (v->async & (ASYNC_SIGNAL | ASYNC_TIMEOUT))
            return -3;
        // Wait for gdb; the guest's timers still fire (their signals end the wait: look at
        // the bits and wait again), so do SIGINT and --timeout, which end the run.
        struct pollfd p = {.fd = conn, .events = POLLIN};
        poll(&p, 1, -1);
    }
    return (unsigned char)inbuf[inpos++];
}

static const char hexd[] = "0123456789abcdef";

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

#define PKT_MAX 4096   // qSupported's PacketSize (hex digits of 2 KiB of memory, with room)

static bool put_packet(const char *data)
{
    static char out[PKT_MAX + 8];
    size_t n = strlen(data);
    if (n > PKT_MAX)
        n = PKT_MAX;
    unsigned sum = 0;
    out[0] = '$';
    for (size_t i = 0; i < n; i++) {
        out[1 + i] = data[i];
        sum += (unsigned char)data[i];
    }
    out[1 + n] = '#';
    out[2 + n] = hexd[(sum >> 4) & 15];
    out[3 + n] = hexd[sum & 15];
    return send_all(out, n + 4);   // (no-ack mode is not offered: gdb's '+' are skipped)
}

// The next packet's data (NUL-terminated) into pkt: 1, or 0 for Ctrl-C (0x03), -1 gdb gone,
// -3 the run must end.
static int get_packet(struct vcpu *v, char *pkt, size_t cap)
{
    for (;;) {
        int c = get_byte(v, true);
        if (c < 0)
            return c;
        if (c == 0x03)
            return 0;
        if (c != '$')
            continue;   // '+', '-' and noise between packets
        size_t n = 0;
        unsigned sum = 0;
        bool bad = false;
        while ((c = get_byte(v, true)) >= 0 && c != '#') {
            if (n + 1 < cap)
                pkt[n++] = (char)c;
            else
                bad = true;
            sum += (unsigned)c;
        }
        if (c < 0)
            return c;
        int h = get_byte(v, true), l = h >= 0 ? get_byte(v, true) : h;
        if (l < 0)
            return l;
        pkt[n] = '\0';
        if (bad || hexval(h) < 0 || hexval(l) < 0 ||
            (unsigned)(hexval(h) << 4 | hexval(l)) != (sum & 0xff)) {
            send_all("-", 1);
            continue;
        }
        send_all("+", 1);
        return 1;
    }
}

// ---- registers -----------------------------------------------------------------------------
// gdb's i386 order: eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs.
#define NREGS 16
static const int sreg_of[6] = {R1_SREG_CS, R1_SREG_SS, R1_SREG_DS, R1_SREG_ES, R1_SREG_FS,
                               R1_SREG_GS};

static uint32_t reg_get(const struct vcpu *v, int r)
{
    if (r < 8)
        return v->gpr[r];
    if (r == 8)
        return r1_t2o(v, v->eip);   // never a trampoline address
    if (r == 9)
        return vcpu_eflags(v);
    return v->seg[sreg_of[r - 10]].sel;
}

// The flags gdb may change: the arithmetic ones, TF, IF, DF, IOPL, NT, AC, ID.
#define FL_GDB (FL_ARITH | FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT | FL_AC | FL_ID)

static bool reg_set(struct vcpu *v, int r, uint32_t val)
{
    if (r < 8) {
        v->gpr[r] = val;
        return true;
    }
    if (r == 8) {
        if (val != r1_t2o(v, v->eip))
            v->eip = val;
        return true;
    }
    if (r == 9) {
        vcpu_set_eflags(v, val, FL_GDB);
        return true;
    }
    // A selector change would be a segment load with its checks and descriptor: refused
    // (unchanged values, as in every G packet gdb sends, are fine).
    return val == v->seg[sreg_of[r - 10]].sel;
}

static void hex32(char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++, x >>= 8) {
        p[2 * i] = hexd[(x >> 4) & 15];
        p[2 * i + 1] = hexd[x & 15];
    }
}

static bool unhex32(const char *p, uint32_t *x)
{
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[2 * i]), l = h >= 0 ? hexval(p[2 * i + 1]) : -1;
        if (l < 0)
            return false;
        r |= (uint32_t)(h << 4 | l) << (8 * i);
    }
    *x = r;
    return true;
}

// ---- memory --------------------------------------------------------------------------------
// Up to len bytes of guest linear memory at lin into buf, as the guest's program would read
// them were it not rewritten: gdb's int3 bytes and the rewrite's patches show the bytes they
// replaced. Stops at the first byte that is not RAM or not mapped; returns how many.
static uint32_t mem_read(struct vcpu *v, uint32_t lin, uint8_t *buf, uint32_t len)
{
    uint32_t done = 0;
    while (done < len) {
        uint32_t a = lin + done, pa;
        uint32_t chunk = 4096 - (a & 4095);
        if (chunk > len - done)
            chunk = len - done;
        uint8_t *h;
        if (!mem_debug_translate(v, a, &pa) || !(h = mem_phys(pa, chunk)))
            break;
        memcpy(buf + done, h, chunk);
        for (unsigned i = 0; i < BP_MAX; i++) {
            const struct bp *b = &bps[i];
            if (b->used && b->inserted && !b->in_window && b->pa >= pa && b->pa - pa < chunk &&
                buf[done + b->pa - pa] == 0xcc)
                buf[done + b->pa - pa] = b->saved;
        }
        patched_show_original(pa, buf + done, chunk);
        done += chunk;
    }
    return done;
}

// gdb's write: byte by byte through the page tables; where gdb has an int3, its saved byte
// changes instead. Refused (E03) over a patched range: the bytes there are the rewrite's and
// the guest never runs them as written (docs/gdb.md). Returns 0, or the error number.
static int mem_write(struct vcpu *v, uint32_t lin, const uint8_t *buf, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {   // all checks first: all of it or none
        uint32_t pa;
        uint8_t probe = 0;
        if (!mem_debug_translate(v, lin + i, &pa) || !mem_phys(pa, 1))
            return 14;
        if (patched_show_original(pa, &probe, 1))
            return 3;
    }
    for (uint32_t i = 0; i < len; i++) {
        uint32_t pa;
        mem_debug_translate(v, lin + i, &pa);
        bool under = false;
        for (unsigned k = 0; k < BP_MAX; k++)
            if (bps[k].used && bps[k].inserted && !bps[k].in_window && bps[k].pa == pa) {
                bps[k].saved = buf[i];
                under = true;
            }
        if (!under) {
            mem_frame_stored(pa, 1);
            *(uint8_t *)mem_phys(pa, 1) = buf[i];
        }
    }
    return 0;
}

// ---- the session -------------------------------------------------------------------------
static void reply_error(int e)
{
    char b[4] = {'E', hexd[(e >> 4) & 15], hexd[e & 15], 0};
    put_packet(b);
}

static void report_stop(void)
{
    put_packet("T05thread:01;");
}

// Resume: continue or single-step, getting past a breakpoint under EIP first (gdb lifts its
// breakpoints before it steps off one; this is for one that stays).
static void resume(struct vcpu *v, bool step)
{
    uint32_t at = vcpu_lin_eip(v);
    int i = bp_find(v, at);
    stepping = step;
    step_then_continue = false;
    if (i >= 0) {
        bp_lift(&bps[i]);
        reinsert = i;
        stepping = true;
        step_then_continue = !step;
    }
    if (stepping) {
        step_from = at;
        step_trapped = false;
        uint8_t b[2] = {0};
        vmem_fetch(v, at, b, 2);
        step_pushf = b[0] == 0x9c ? 1 : b[0] == 0x66 && b[1] == 0x9c ? 2 : 0;
    }
}

// The connection ended while the guest was stopped or running: it runs on, without gdb.
static void detach(void)
{
    bp_remove_all();
    stepping = step_then_continue = stop_pending = false;
    conn_close();
    inlen = inpos = 0;
}

static void parse_addr_len(const char *p, uint32_t *addr, uint32_t *len, const char **end)
{
    char *e;
    *addr = (uint32_t)strtoul(p, &e, 16);
    *len = *e == ',' ? (uint32_t)strtoul(e + 1, &e, 16) : 0;
    *end = e;
}

// Serve gdb while the guest is stopped: until it continues, steps, detaches or kills.
static void serve(struct vcpu *v)
{
    static char pkt[PKT_MAX + 64], out[PKT_MAX + 64];
    host_fpu_begin();   // (the C library below may use vector registers)
    report_stop();
    for (;;) {
        int r = get_packet(v, pkt, sizeof pkt);
        if (r == -3) {
            // SIGINT, SIGTERM or --timeout while gdb looks: the run ends (the loop says why).
            return;
        }
        if (r < 0) {
            rlog("ring1-run: gdb: the connection closed%s\n", ended ? "" : "; the guest runs on");
            detach();
            return;
        }
        if (r == 0)
            continue;   // Ctrl-C while stopped: nothing to stop
        char *p = pkt;
        switch (*p) {
        case '?':
            report_stop();
            break;
        case 'g': {
            for (int i = 0; i < NREGS; i++)
                hex32(out + 8 * i, reg_get(v, i));
            out[8 * NREGS] = 0;
            put_packet(out);
            break;
        }
        case 'G': {
            size_t n = strlen(p + 1);
            bool ok = n % 8 == 0 && n <= 8 * NREGS;
            uint32_t vals[NREGS];
            for (size_t i = 0; ok && i < n / 8; i++)   // (selectors: only unchanged ones)
                ok = unhex32(p + 1 + 8 * i, &vals[i]) && (i < 10 || reg_set(v, (int)i, vals[i]));
            for (size_t i = 0; ok && i < n / 8 && i < 10; i++)
                reg_set(v, (int)i, vals[i]);
            if (ok)
                put_packet("OK");
            else
                reply_error(1);
            break;
        }
        case 'p': {
            unsigned long r = strtoul(p + 1, NULL, 16);
            if (r >= NREGS) {
                put_packet("");   // x87, SSE: not offered (gdb reads them with g, unavailable)
                break;
            }
            hex32(out, reg_get(v, (int)r));
            out[8] = 0;
            put_packet(out);
            break;
        }
        case 'P': {
            char *e;
            unsigned long r = strtoul(p + 1, &e, 16);
            uint32_t val;
            if (*e != '=' || r >= NREGS || !unhex32(e + 1, &val) || !reg_set(v, (int)r, val))
                reply_error(1);
            else
                put_packet("OK");
            break;
        }
        case 'm': {
            uint32_t addr, len;
            const char *e;
            parse_addr_len(p + 1, &addr, &len, &e);
            if (len > PKT_MAX / 2)
                len = PKT_MAX / 2;
            uint8_t buf[PKT_MAX / 2];
            uint32_t n = mem_read(v, addr, buf, len);
            if (!n && len) {
                reply_error(14);
                break;
            }
            for (uint32_t i = 0; i < n; i++) {
                out[2 * i] = hexd[buf[i] >> 4];
                out[2 * i + 1] = hexd[buf[i] & 15];
            }
            out[2 * n] = 0;
            put_packet(out);
            break;
        }
        case 'M': {
            uint32_t addr, len;
            const char *e;
            parse_addr_len(p + 1, &addr, &len, &e);
            uint8_t buf[PKT_MAX / 2];
            bool ok = *e == ':' && len <= sizeof buf && strlen(e + 1) == 2 * (size_t)len;
            for (uint32_t i = 0; ok && i < len; i++) {
                int h = hexval(e[1 + 2 * i]), l = hexval(e[2 + 2 * i]);
                ok = h >= 0 && l >= 0;
                buf[i] = (uint8_t)(h << 4 | l);
            }
            int err = ok ? mem_write(v, addr, buf, len) : 1;
            if (err)
                reply_error(err);
            else
                put_packet("OK");
            break;
        }
        case 'Z':
        case 'z': {
            uint32_t addr, kind;
            const char *e;
            if ((p[1] != '0' && p[1] != '1') || p[2] != ',') {
                put_packet("");   // watchpoints: not offered
                break;
            }
            parse_addr_len(p + 3, &addr, &kind, &e);
            bool ok = *p == 'Z' ? bp_insert(v, addr) : (bp_remove(addr), true);
            if (ok)
                put_packet("OK");
            else
                reply_error(14);
            break;
        }
        case 'c':
        case 's':
        case 'C':
        case 'S':
            // (An address to resume at, c ADDR, is not supported by gdb's own use any more.)
            resume(v, *p == 's' || *p == 'S');
            return;
        case 'v':
            if (!strcmp(p, "vCont?")) {
                put_packet("vCont;c;C;s;S");
            } else if (!strncmp(p, "vCont;", 6)) {
                // The first action is the one for our one thread.
                char a = p[6];
                if (a == 'c' || a == 'C' || a == 's' || a == 'S') {
                    resume(v, a == 's' || a == 'S');
                    return;
                }
                reply_error(1);
            } else if (!strncmp(p, "vKill", 5)) {
                put_packet("OK");
                goto kill;
            } else {
                put_packet("");
            }
            break;
        case 'k':
        kill:
            rlog("ring1-run: gdb: killed\n");
            bp_remove_all();
            conn_close();
            vcpu_stop(v, STATUS_SIGNAL, NULL);
            return;
        case 'D':
            put_packet("OK");
            rlog("ring1-run: gdb: detached%s\n", ended ? "" : "; the guest runs on");
            detach();
            return;
        case 'H':
        case 'T':
            put_packet("OK");
            break;
        case 'q':
            if (!strncmp(p, "qSupported", 10))
                put_packet("PacketSize=1000");   // (hex: 4096 bytes)
            else if (!strcmp(p, "qAttached"))
                put_packet("1");
            else if (!strcmp(p, "qC"))
                put_packet("QC01");
            else if (!strcmp(p, "qfThreadInfo"))
                put_packet("m01");
            else if (!strcmp(p, "qsThreadInfo"))
                put_packet("l");
            else if (!strncmp(p, "qSymbol", 7))
                put_packet("OK");
            else
                put_packet("");
            break;
        default:
            put_packet("");
        }
    }
}

// ---- options and set-up ------------------------------------------------------------------
bool gdb_option(const char *dev)
{
    if (strncmp(dev, "tcp:", 4))
        return false;
    const char *h = dev + 4, *colon = strrchr(h, ':');
    if (!colon)
        return false;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || port < 0 || port > 65535)
        return false;
    free(opt_host);
    opt_host = colon > h ? strndup(h, (size_t)(colon - h)) : NULL;
    opt_port = (int)port;
    gdb_on = true;
    return true;
}

void gdb_option_wait(void)
{
    opt_wait = true;
    if (opt_port < 0)
        gdb_option("tcp::1234");
    gdb_on = true;
}

// SIGIO on a descriptor of the stub's: SIG_GDB, to this process.
static void async_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK | O_ASYNC);
    fcntl(fd, F_SETOWN, getpid());
    fcntl(fd, F_SETSIG, SIG_GDB);
}

static bool take_connection(void)
{
    int fd = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return false;
    if (conn >= 0) {
        close(fd);   // one gdb at a time
        return false;
    }
    conn = fd;   // (TCP_NODELAY comes from the listening socket: no setsockopt once jailed)
    async_fd(conn);
    inlen = inpos = 0;
    return true;
}

int gdb_start(void)
{
    if (!gdb_on)
        return -1;
    const char *host = opt_host ? opt_host : "127.0.0.1";
    char port[8];
    snprintf(port, sizeof port, "%d", opt_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    int e = getaddrinfo(host, port, &hints, &ai);
    if (e) {
        fprintf(stderr, "ring1-run: --gdb tcp:%s:%d: %s\n", opt_host ? opt_host : "",
                opt_port, gai_strerror(e));
        exit(STATUS_LOAD_ERROR);
    }
    int err = 0;
    for (struct addrinfo *a = ai; a && lsn < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        int one = 1;
        if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
            bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0) {
            lsn = fd;
            break;
        }
        err = errno;
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(ai);
    if (lsn < 0) {
        fprintf(stderr, "ring1-run: --gdb tcp:%s:%d: %s\n", opt_host ? opt_host : "", opt_port,
                strerror(err));
        exit(STATUS_LOAD_ERROR);
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char name[64] = "?";
    int bound = opt_port;
    if (getsockname(lsn, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, name, sizeof name);
            bound = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, name, sizeof name);
            bound = ntohs(s6->sin6_port);
        }
    }
    int fl = fcntl(lsn, F_GETFL);
    fcntl(lsn, F_SETFL, fl | O_NONBLOCK);
    if (opt_wait) {
        fprintf(stderr, "ring1-run: gdb: waiting for a connection on %s:%d (-S)\n", name,
                bound);
        // (Waiting in poll, not accept: --timeout and SIGINT still end the run.)
        while (!take_connection()) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                fprintf(stderr, "ring1-run: gdb: accept: %s\n", strerror(errno));
                exit(STATUS_INTERNAL);
            }
            if (vcpu0.async & ASYNC_TIMEOUT) {
                fprintf(stderr, "ring1-run: timeout, waiting for gdb (-S)\n");
                exit(STATUS_TIMEOUT);
            }
            if (vcpu0.async & ASYNC_SIGNAL) {
                fprintf(stderr, "ring1-run: interrupted by a signal, waiting for gdb (-S)\n");
                exit(STATUS_SIGNAL);
            }
            struct pollfd p = {.fd = lsn, .events = POLLIN};
            poll(&p, 1, -1);
        }
        stop_pending = true;
    } else {
        fprintf(stderr, "ring1-run: gdb: listening on %s:%d\n", name, bound);
    }
    async_fd(lsn);
    return lsn;
}

// ---- the run loop's hooks ----------------------------------------------------------------
bool gdb_stepping(void)
{
    return stepping;
}

bool gdb_trap(struct vcpu *v, bool tf_ours)
{
    const struct exit_info *x = &v->exit;
    if (x->signo != SIGTRAP)
        return false;
    if (x->trapno == T_BP) {
        uint32_t lin = vcpu_lin_eip(v) - 1;
        if (bp_find(v, lin) < 0)
            return false;
        v->eip--;
        stop_pending = true;
        stepping = false;
        stats_count("gdb-breakpoint");
        return true;
    }
    if (x->trapno == T_DB && tf_ours && stepping) {
        step_trapped = true;
        if (step_pushf && vcpu_lin_eip(v) == step_from + step_pushf) {
            // The pushf pushed the host's TF: the guest's flags had none.
            uint32_t fl;
            uint32_t sp = v->seg[R1_SREG_SS].base + v->gpr[R_ESP];
            if (vmem_read(v, sp, &fl, step_pushf == 2 ? 2 : 4, ACC_SYS) == 0) {
                fl &= ~FL_TF;
                vmem_write(v, sp, &fl, step_pushf == 2 ? 2 : 4, ACC_SYS);
            }
        }
        return true;
    }
    return false;
}

// Has the single step under way reached a guest instruction boundary? In a trampoline, only
// at the start of the next original instruction's piece (where an interrupt could be taken:
// the guest's state there is the original's), not within the step's own instruction's.
static bool step_complete(struct vcpu *v)
{
    uint32_t at = vcpu_lin_eip(v);
    if (at == step_from && !step_trapped)
        return false;   // (nothing ran: a page filled, a timer's exit)
    uint32_t w = at + mem_window_alias_delta(v, at);
    if (!mem_in_window(w))
        return true;
    return r1_in_tramp(w) && r1_interruptible(v, at) &&
           r1_t2o(v, at) != r1_t2o(v, step_from);
}

void gdb_run_hook(struct vcpu *v, bool async)
{
    if (async && lsn >= 0 && conn < 0 && take_connection()) {
        rlog("ring1-run: gdb: connected; the guest stops\n");
        stop_pending = true;
        stepping = false;
    }
    if (async && conn >= 0 && !stop_pending) {
        // While the guest runs, gdb sends nothing but Ctrl-C.
        int c;
        while ((c = get_byte(v, false)) >= 0)
            if (c == 0x03) {
                stop_pending = true;
                stepping = false;
                stats_count("gdb-interrupt");
            }
        if (c == -1) {
            rlog("ring1-run: gdb: the connection closed; the guest runs on\n");
            detach();
            return;
        }
    }
    if (stepping && step_complete(v)) {
        stepping = false;
        if (reinsert >= 0) {
            struct bp *b = &bps[reinsert];
            reinsert = -1;
            if (b->used) {
                uint8_t cur = 0;
                if (bp_read(b, &cur))
                    b->saved = cur;
                b->inserted = bp_write(b, 0xcc);
            }
        }
        if (!step_then_continue)
            stop_pending = true;
        step_then_continue = false;
    }
    if (!stop_pending || conn < 0)
        return;
    stop_pending = false;
    serve(v);
    if (v->async & ASYNC_SIGNAL)
        vcpu_stop(v, STATUS_SIGNAL, "interrupted by a signal");
    else if (v->async & ASYNC_TIMEOUT)
        vcpu_stop(v, STATUS_TIMEOUT, "timeout");
}

int gdb_finish(struct vcpu *v, int status)
{
    if (!gdb_on || conn < 0)
        return status;
    char w[8];
    snprintf(w, sizeof w, "W%02x", status & 0xff);
    if (status != STATUS_SIGNAL && status != STATUS_TIMEOUT && !(v->async & (ASYNC_SIGNAL |
                                                                           ASYNC_TIMEOUT))) {
        // The guest stopped for good: gdb may look at it where it stopped.
        bp_remove_all();
        ended = true;
        v->stop = false;
        stepping = false;
        serve(v);
        bool killed = v->stop && v->exit_status == STATUS_SIGNAL && conn < 0;
        v->stop = true;
        if (killed)
            return STATUS_SIGNAL;
    }
    if (conn >= 0) {
        rlog("ring1-run: gdb: the run ended (status %d)\n", status);
        put_packet(w);
        conn_close();
    }
    return status;
}
