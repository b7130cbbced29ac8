// Kernel formatted output to the console, and panic.
#include <stdarg.h>
#include "defs.h"

static void printint(uint32_t v, int base, int neg)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    while (n)
        consputc(buf[--n]);
}

// %d %u %x %p %s %c %%: enough for the kernel's messages.
static void vcprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            consputc(*fmt);
            continue;
        }
        switch (*++fmt) {
        case 'd': {
            int v = va_arg(ap, int);
            printint(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, v < 0);
            break;
        }
        case 'u': printint(va_arg(ap, uint32_t), 10, 0); break;
        case 'x':
        case 'p': printint(va_arg(ap, uint32_t), 16, 0); break;
        case 'c': consputc(va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s; s++)
                consputc(*s);
            break;
        }
        case '%': consputc('%'); break;
        case '\0': return;
        default: consputc('%'); consputc(*fmt); break;
        }
    }
}

void cprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcprintf(fmt, ap);
    va_end(ap);
}

// Report and stop: debug-exit value 1, so a test sees a failure rather than a hang.
void panic(const char *fmt, ...)
{
    va_list ap;
    cli();
    cprintf("panic: ");
    va_start(ap, fmt);
    vcprintf(fmt, ap);
    va_end(ap);
    cprintf("\n");
    halt(1);
}
