// fsstress R F S: R rounds of: create F files of S bytes each (written in 128-byte writes),
// read every one back and check it, unlink them all. Prints totals and a checksum.
#include "user.h"

static char buf[128];

static void name(char *s, int f)
{
    s[0] = 's';
    s[1] = (char)('a' + f / 26);
    s[2] = (char)('a' + f % 26);
    s[3] = 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10, nfiles = argc > 2 ? atoi(argv[2]) : 32;
    int size = argc > 3 ? atoi(argv[3]) : 1024, bad = 0;
    uint32_t sum = 0;
    char fn[4];
    if (nfiles > 26 * 26 || size % (int)sizeof(buf)) {
        printf("fsstress: at most 676 files, sizes in multiples of 128\n");
        return 1;
    }
    for (int r = 0; r < rounds; r++) {
        for (int f = 0; f < nfiles; f++) {
            name(fn, f);
            int fd = open(fn, O_CREATE | O_RDWR);
            if (fd < 0) {
                printf("fsstress: FAILED: create %s in round %d\n", fn, r);
                return 1;
            }
            for (int off = 0; off < size; off += sizeof(buf)) {
                for (int i = 0; i < (int)sizeof(buf); i++)
                    buf[i] = (char)(r * 7 + f * 13 + off + i);
                if (write(fd, buf, sizeof(buf)) != (int)sizeof(buf)) {
                    printf("fsstress: FAILED: write %s in round %d\n", fn, r);
                    return 1;
                }
            }
            close(fd);
        }
        for (int f = 0; f < nfiles; f++) {
            name(fn, f);
            int fd = open(fn, O_RDONLY);
            if (fd < 0) {
                printf("fsstress: FAILED: open %s in round %d\n", fn, r);
                return 1;
            }
            for (int off = 0; off < size; off += sizeof(buf)) {
                if (read(fd, buf, sizeof(buf)) != (int)sizeof(buf)) {
                    bad++;
                    break;
                }
                for (int i = 0; i < (int)sizeof(buf); i++) {
                    if (buf[i] != (char)(r * 7 + f * 13 + off + i))
                        bad++;
                    sum = sum * 31 + (uint8_t)buf[i];
                }
            }
            if (read(fd, buf, 1) != 0)
                bad++;
            close(fd);
        }
        for (int f = 0; f < nfiles; f++) {
            name(fn, f);
            if (unlink(fn) < 0 || open(fn, O_RDONLY) >= 0)
                bad++;
        }
    }
    printf("fsstress: %d rounds of %d files x %d bytes: created, read back, unlinked; "
           "checksum %x, %d errors\n", rounds, nfiles, size, sum, bad);
    return bad != 0;
}
