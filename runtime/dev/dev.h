// What every device model shares: the interrupt line it drives. Devices never see the vCPU,
// file descriptors or signals; the host side hands them callbacks, and unit tests hand them
// fakes (Firecracker's split).
#ifndef RING1_DEV_H
#define RING1_DEV_H

// An interrupt request line from a device into an interrupt controller (or the CPU's INTR).
struct irq_line {
    void (*set)(void *opaque, int irq, int level);
    void *opaque;
    int irq;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
    if (l->set)
        l->set(l->opaque, l->irq, level);
}

#endif
