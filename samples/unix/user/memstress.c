// memstress M: grow this process by M MiB, 1 MiB per sbrk, writing one word in every new
// page; read every page back; shrink it to its old size; all the while a forked child spins
// in ring 3, so that every timer tick switches between the two address spaces. Then kill
// the child. Prints totals and a checksum.
#include "user.h"

#define MIB (1024 * 1024)
#define PAGE 4096

int main(int argc, char **argv)
{
    int mib = argc > 1 ? atoi(argv[1]) : 200, status;
    int child = fork();
    if (child < 0) {
        printf("memstress: FAILED: fork\n");
        return 1;
    }
    if (child == 0) {
        for (volatile uint32_t spin = 0;; spin++)   // only the timer takes the CPU away
            ;
    }
    char *base = sbrk(0);
    int grown = 0;
    for (; grown < mib; grown++) {
        char *p = sbrk(MIB);
        if (p == (char *)-1)
            break;
        for (int off = 0; off < MIB; off += PAGE)
            *(uint32_t *)(p + off) = (uint32_t)(p + off) ^ 0x5a5a5a5a;
    }
    uint32_t sum = 0, pages = 0, bad = 0;
    for (char *p = base; p < base + (uint32_t)grown * MIB; p += PAGE) {
        uint32_t v = *(uint32_t *)p;
        if (v != ((uint32_t)p ^ 0x5a5a5a5a))
            bad++;
        sum = sum * 31 + v;
        pages++;
    }
    char *top = sbrk(-grown * MIB);
    int back = sbrk(0) == base && top == base + (uint32_t)grown * MIB;
    kill(child);
    if (wait(&status) != child)
        status = 999;
    if (grown < mib)
        printf("memstress: FAILED: sbrk refused after %d of %d MiB\n", grown, mib);
    printf("memstress: grew by %d MiB (%d pages, %d wrong, checksum %x), %s; "
           "the spinning child was killed, status %d\n", grown, pages, bad, sum,
           back ? "shrank back" : "did NOT shrink back", status);
    return grown < mib || bad || !back;
}
