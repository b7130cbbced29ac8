// An image carrying a ring1 note for ABI version 99: the runtime must refuse it clearly.
#include "glib.h"

__asm__(".pushsection .note.ring1, \"a\", @note\n"
        ".balign 4\n"
        ".long 6, 48, 0x52310001\n"      // namesz, descsz, R1_NOTE_ABI
        ".asciz \"ring1\"\n"
        ".balign 4\n"
        ".long 99, 0xffc00000, 0xffc10000, 0\n"
        ".fill 32, 1, 0\n"
        ".popsection\n");

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    puts("should not run\n");
    return 1;
}
