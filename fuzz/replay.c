// A libFuzzer stand-in (not a target: it defines no LLVMFuzzerTestOneInput): runs a fuzz
// target on files, each once, then on --mutants N byte-level mutants of them made by a fixed
// pseudo-random sequence (the same on every run). Built with gcc's ASan/UBSan, it replays the
// committed corpora in `make test`, where clang and libFuzzer are not installed.
//   replay [--mutants N] FILE...
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static void run(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);   // exactly the input's size: ASan sees overreads
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

int main(int argc, char **argv)
{
    long mutants = 0;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--mutants") == 0) {
        mutants = atol(argv[2]);
        first = 3;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int n = argc - first;
    uint8_t **bufs = calloc((size_t)(n ? n : 1), sizeof *bufs);
    size_t *sizes = calloc((size_t)(n ? n : 1), sizeof *sizes);
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(argv[first + i], "rb");
        if (!f) {
            perror(argv[first + i]);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        sizes[i] = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        bufs[i] = malloc(sizes[i] ? sizes[i] : 1);
        if (fread(bufs[i], 1, sizes[i], f) != sizes[i]) {
            perror(argv[first + i]);
            return 2;
        }
        fclose(f);
        run(bufs[i], sizes[i]);
    }
    for (long m = 0; n && m < mutants; m++) {
        int i = (int)(next() % (unsigned)n);
        size_t size = sizes[i];
        uint8_t *b = malloc(size ? size : 1);
        memcpy(b, bufs[i], size);
        for (int k = 1 + (int)(next() % 8); k-- && size;) {
            size_t at = next() % size;
            switch (next() % 4) {
            case 0: b[at] ^= (uint8_t)(1u << (next() % 8)); break;
            case 1: b[at] = (uint8_t)next(); break;
            case 2: b[at] = (next() & 1) ? 0xff : 0; break;
            default: if (next() % 4 == 0) size = at; break;   // truncate
            }
        }
        run(b, size);
        free(b);
    }
    printf("replay: %d file(s), %ld mutant(s)\n", n, mutants);
    for (int i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(sizes);
    return 0;
}
