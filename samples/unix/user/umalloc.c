// malloc and free: a first-fit free list of blocks carved from memory sbrk() hands out
// (after Kernighan and Ritchie, The C Programming Language, §8.7).
#include "user.h"

typedef union header {
    struct {
        union header *next;   // next free block
        size_t size;          // in header-sized units, this header included
    } s;
    uint64_t align;            // force the alignment of the largest type
} Header;

static Header base;
static Header *freep;

void free(void *ap)
{
    Header *bp = (Header *)ap - 1, *p;
    for (p = freep; !(bp > p && bp < p->s.next); p = p->s.next)
        if (p >= p->s.next && (bp > p || bp < p->s.next))
            break;   // at the end of the arena, by the start or the end of the list
    if (bp + bp->s.size == p->s.next) {   // join the upper neighbour
        bp->s.size += p->s.next->s.size;
        bp->s.next = p->s.next->s.next;
    } else {
        bp->s.next = p->s.next;
    }
    if (p + p->s.size == bp) {            // join the lower neighbour
        p->s.size += bp->s.size;
        p->s.next = bp->s.next;
    } else {
        p->s.next = bp;
    }
    freep = p;
}

static Header *morecore(size_t nu)
{
    if (nu < 4096)
        nu = 4096;
    char *p = sbrk(nu * sizeof(Header));
    if (p == (char *)-1)
        return 0;
    Header *hp = (Header *)p;
    hp->s.size = nu;
    free(hp + 1);
    return freep;
}

void *malloc(size_t nbytes)
{
    size_t nunits = (nbytes + sizeof(Header) - 1) / sizeof(Header) + 1;
    Header *prevp = freep, *p;
    if (!prevp) {
        base.s.next = freep = prevp = &base;
        base.s.size = 0;
    }
    for (p = prevp->s.next;; prevp = p, p = p->s.next) {
        if (p->s.size >= nunits) {
            if (p->s.size == nunits) {
                prevp->s.next = p->s.next;
            } else {   // hand out the tail end
                p->s.size -= nunits;
                p += p->s.size;
                p->s.size = nunits;
            }
            freep = prevp;
            return p + 1;
        }
        if (p == freep && !(p = morecore(nunits)))
            return 0;
    }
}
