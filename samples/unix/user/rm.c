// rm: remove names (files, or empty directories).
#include "user.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(2, "usage: rm file...\n");
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (unlink(argv[i]) < 0) {
            fprintf(2, "rm: cannot remove %s\n", argv[i]);
            return 1;
        }
    return 0;
}
