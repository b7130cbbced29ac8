// A fake interrupt line for device unit tests: records the level and every rising edge.
#ifndef RING1_FAKE_IRQ_H
#define RING1_FAKE_IRQ_H

#include "dev.h"

struct fake_irq {
    int level;
    int rises;
    int last_irq;
};

static void fake_irq_set(void *opaque, int irq, int level)
{
    struct fake_irq *f = opaque;
    if (level && !f->level)
        f->rises++;
    f->level = level;
    f->last_irq = irq;
}

static inline struct irq_line fake_irq_line(struct fake_irq *f, int irq)
{
    return (struct irq_line){fake_irq_set, f, irq};
}

#endif
