// QEMU isa-debug-exit (hw/misc/debugexit.c: "exit((val << 1) | 1)") and the POST port 0x80.
#include "debugexit.h"

void debugexit_write(struct debugexit *d, uint32_t v)
{
    if (d->exit)
        d->exit(d->opaque, (int)(((v << 1) | 1) & 0xff));
}

uint32_t debugexit_read(const struct debugexit *d)
{
    (void)d;
    return 0;
}

void post_port_write(struct post_port *p, uint8_t v)
{
    p->last = v;
    p->writes++;
}

// QEMU's port 0x80 (hw/i386/pc.c ioport80) reads as all ones; so does ours.
uint8_t post_port_read(const struct post_port *p)
{
    (void)p;
    return 0xff;
}
