// Spins forever with no sensitive instruction at all: only --timeout can end it.
#include "glib.h"

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    puts("spinning\n");
    for (volatile int i = 0;; i++)
        ;
    return 1;
}
