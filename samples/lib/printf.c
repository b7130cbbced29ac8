// Minimal printf to COM1: %s %c %d %u %x and %%, with an optional '0' flag and width.
#include "lib.h"

static int put_num(uint32_t v, int base, int neg, int width, char pad)
{
    char buf[12];
    int n = 0, out = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    for (int w = n; w < width; w++, out++)
        uart_putc(pad);
    while (n)
        uart_putc(buf[--n]), out++;
    return out;
}

int vprintf(const char *fmt, va_list ap)
{
    int out = 0;
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            uart_putc(*fmt);
            out++;
            continue;
        }
        char pad = ' ';
        int width = 0;
        if (*++fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            out += put_num(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u': out += put_num(va_arg(ap, uint32_t), 10, 0, width, pad); break;
        case 'x': out += put_num(va_arg(ap, uint32_t), 16, 0, width, pad); break;
        case 'c': uart_putc((char)va_arg(ap, int)); out++; break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int n = (int)strlen(s ? s : "(null)");
            for (; n < width; n++, out++)
                uart_putc(' ');
            uart_puts(s ? s : "(null)");
            out += (int)strlen(s ? s : "(null)");
            break;
        }
        case '%': uart_putc('%'); out++; break;
        case '\0': return out;
        default: uart_putc('%'); uart_putc(*fmt); out += 2; break;
        }
    }
    return out;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}
