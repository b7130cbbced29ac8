// The console: output to COM1 and CGA; input from COM1 through a line discipline.
//
// Input is echoed when a reader *consumes* it, not when it arrives. Under QEMU a whole
// scripted session is fed to the serial port at once; echoing on arrival would mix the
// commands typed ahead into the output of the command running now, at points that depend
// on timing. Echoing at consumption puts each command line right after the prompt that reads
// it, so the transcript is the same however the bytes arrive.
#include "defs.h"
#include "file.h"

#define LINE_MAX   128                  // longest input line
#define CTRL(x)    ((x) - '@')
#define BACKSPACE  0x7f                 // DEL, what terminals send for the backspace key

// Raw bytes from the UART interrupt, not yet consumed (free-running indices).
static struct {
    char buf[INPUT_BUF];
    uint32_t r, w;
} raw;

// The line being edited and handed to readers.
static struct {
    char buf[LINE_MAX];
    int len;    // bytes in buf
    int off;    // bytes of buf already returned by read
    int done;   // the line is complete (newline, ^D or full): readers may take it
} line;

void consputc(int c)
{
    uartputc(c);
    cgaputc(c);
}

// Room left in the raw ring. Called by uartintr with interrupts off.
int consoleroom(void)
{
    return INPUT_BUF - (int)(raw.w - raw.r);
}

// One received byte. Called by uartintr with interrupts off, only when consoleroom() > 0.
void consoleinput(int c)
{
    raw.buf[raw.w++ % INPUT_BUF] = (char)c;
    wakeup(&raw);
}

// Apply one input byte to the line: edit and echo.
static void line_edit(int c)
{
    switch (c) {
    case CTRL('D'):                     // end of file: a read of an empty line returns 0
        line.done = 1;
        break;
    case CTRL('H'):
    case BACKSPACE:
        if (line.len > 0) {
            line.len--;
            consputc('\b'); consputc(' '); consputc('\b');
        }
        break;
    case CTRL('U'):                     // kill the line
        while (line.len > 0) {
            line.len--;
            consputc('\b'); consputc(' '); consputc('\b');
        }
        break;
    case '\r':
        c = '\n';
        // fall through
    default:
        line.buf[line.len++] = (char)c;
        consputc(c);
        if (c == '\n' || line.len == LINE_MAX)
            line.done = 1;
        break;
    }
}

// Read up to n bytes of the current line, waiting for it to be complete.
static int consoleread(struct inode *ip, char *dst, int n)
{
    iunlock(ip);
    pushcli();
    while (!line.done) {
        if (raw.r == raw.w) {
            if (myproc()->killed) {
                popcli();
                ilock(ip);
                return -1;
            }
            sleep(&raw);
            continue;
        }
        int c = raw.buf[raw.r++ % INPUT_BUF];
        uartunthrottle();
        line_edit(c);
    }
    int m = line.len - line.off;
    if (m > n)
        m = n;
    memmove(dst, line.buf + line.off, m);
    line.off += m;
    if (line.off == line.len)
        line.done = line.len = line.off = 0;
    popcli();
    ilock(ip);
    return m;
}

static struct spinlock conslock;   // one writer's bytes at a time

static int consolewrite(struct inode *ip, const char *src, int n)
{
    iunlock(ip);
    acquire(&conslock);
    for (int i = 0; i < n; i++)
        consputc(src[i]);
    release(&conslock);
    ilock(ip);
    return n;
}

void consoleinit(void)
{
    initlock(&conslock, "console");
    uartinit();
    cgainit();
    devsw[CONSOLE].read = consoleread;
    devsw[CONSOLE].write = consolewrite;
}
