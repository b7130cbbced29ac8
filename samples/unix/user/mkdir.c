// mkdir: create directories.
#include "user.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(2, "usage: mkdir dir...\n");
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (mkdir(argv[i]) < 0) {
            fprintf(2, "mkdir: cannot create %s\n", argv[i]);
            return 1;
        }
    return 0;
}
