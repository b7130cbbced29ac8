// Formatted output to a file descriptor. Each call ends in as few write()s as its buffer
// allows, so a line from one process is not interleaved byte by byte with another's.
#include <stdarg.h>
#include "user.h"

struct out {
    int fd;
    int n;          // bytes in buf
    int total;      // bytes output so far
    char buf[128];
};

static void flush(struct out *o)
{
    if (o->n > 0)
        write(o->fd, o->buf, o->n);
    o->n = 0;
}

static void out_putc(struct out *o, char c)
{
    if (o->n == (int)sizeof(o->buf))
        flush(o);
    o->buf[o->n++] = c;
    o->total++;
}

static void putnum(struct out *o, uint32_t v, int base, int neg, int width, char pad)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int w = n; w < width; w++)
        out_putc(o, pad);
    while (n)
        out_putc(o, tmp[--n]);
}

static int vfprintf(int fd, const char *fmt, va_list ap)
{
    struct out o = { .fd = fd };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_putc(&o, *fmt);
            continue;
        }
        char pad = ' ';
        int width = 0, left = 0;
        if (*++fmt == '-')
            left = 1, fmt++;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'd': {
            int v = va_arg(ap, int);
            putnum(&o, v < 0 ? -(uint32_t)v : (uint32_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u': putnum(&o, va_arg(ap, uint32_t), 10, 0, width, pad); break;
        case 'x': putnum(&o, va_arg(ap, uint32_t), 16, 0, width, pad); break;
        case 'c': out_putc(&o, (char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = strlen(s);
            for (int w = len; !left && w < width; w++)
                out_putc(&o, ' ');
            while (*s)
                out_putc(&o, *s++);
            for (int w = len; left && w < width; w++)
                out_putc(&o, ' ');
            break;
        }
        case '%': out_putc(&o, '%'); break;
        case '\0': flush(&o); return o.total;
        default: out_putc(&o, '%'); out_putc(&o, *fmt); break;
        }
    }
    flush(&o);
    return o.total;
}

int fprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(fd, fmt, ap);
    va_end(ap);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(1, fmt, ap);
    va_end(ap);
    return n;
}
