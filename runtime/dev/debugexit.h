// QEMU's isa-debug-exit device (hw/misc/debugexit.c) and the POST diagnostic port 0x80.
#ifndef RING1_DEBUGEXIT_H
#define RING1_DEBUGEXIT_H

#include <stdint.h>

#define DEBUGEXIT_PORT  0xf4   // iobase=0xf4, iosize=4 in samples' QEMU command line
#define DEBUGEXIT_SIZE  4
#define POST_PORT       0x80

struct debugexit {
    void (*exit)(void *opaque, int status);   // end the run with this process exit status
    void *opaque;
};

// A write of v ends the run with status (v << 1) | 1, exactly like QEMU (so a guest can
// never produce status 0, and tests compare statuses across both machines).
void debugexit_write(struct debugexit *d, uint32_t v);
// A read answers 0 (QEMU's device has no register to read).
uint32_t debugexit_read(const struct debugexit *d);

struct post_port {
    uint8_t last;      // last POST code written
    uint64_t writes;
};

void post_port_write(struct post_port *p, uint8_t v);
uint8_t post_port_read(const struct post_port *p);

#endif
