// charout N: print N bytes one write() system call per character, as a printf that does not
// buffer does: 64-byte lines of letters (line i starts at letter i mod 26), then a total.
#include "user.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10240;
    uint32_t sum = 0;
    int col = 0, line = 0;
    for (int i = 0; i < n; i++) {
        char c = col == 63 ? '\n' : (char)('a' + (line + col) % 26);
        if (write(1, &c, 1) != 1)
            return 1;
        sum = sum * 31 + (uint8_t)c;
        if (++col == 64) {
            col = 0;
            line++;
        }
    }
    if (col)
        write(1, "\n", 1);
    printf("charout: %d bytes in %d writes of one byte; checksum %x\n", n, n, sum);
    return 0;
}
