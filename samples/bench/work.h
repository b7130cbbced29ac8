// The benchmark workloads and the harness that drives them. The SAME object files are linked
// twice: into bench.elf, a multiboot guest kernel (kernel.c + ../lib), and into bench-native,
// a static 32-bit Linux program without libc (native.c + native_start.S). Everything here is
// a pure function of its arguments, so every machine must print the same checksums.
//
// The platform (guest kernel or Linux) provides the plat_* hooks below; nothing else.
#ifndef BENCH_WORK_H
#define BENCH_WORK_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_PAGE 4096u

// ---- platform hooks (kernel.c, native.c) ---------------------------------------------------
void plat_write(const char *s, size_t n);   // console output (COM1, or stdout)
void *plat_alloc(size_t bytes);             // page-aligned, zero-filled
// Drop the pages of [p, p + bytes) (page-aligned): the next touch of each page faults, and
// the fault handler (the guest kernel's, or Linux's) maps a zero-filled page there.
void plat_zap(void *p, size_t bytes);
// A sensitive-operation loop only the guest kernel has (kernel.c): 0 if op is unknown here.
int plat_nano(const char *op, void (**fn)(uint32_t n));
extern const char *const plat_nano_ops[];   // their names, 0-terminated

// ---- output (harness.c) --------------------------------------------------------------------
void out_str(const char *s);
void out_hex(uint32_t v);                   // 8 hex digits
void out_dec(uint32_t v);

// ---- the shared driver (harness.c) ----------------------------------------------------------
// cmdline: whitespace-separated words; the ones it reads are
//   run=NAME [reps=R] [size=S]   one workload, R repetitions ("@i CHECKSUM" after each)
//   nano=OP                      batches of 1024 << k operations ("@k N" after each), forever
//   check                        every workload twice at a small size (tests/test_bench.py)
//   nanocheck                    every nano loop once, 64 operations (tests/test_bench.py)
// Returns the exit code (0 = success).
int bench_main(const char *cmdline);

// ---- workloads -----------------------------------------------------------------------------
struct workload {
    const char *name;
    uint32_t size;        // default size per repetition (unit: see each file)
    uint32_t check_size;  // the small size of `check`
    void (*setup)(uint32_t size);
    uint32_t (*rep)(uint32_t rep);  // one repetition; returns its checksum
};
extern const struct workload workloads[];

// coremark.c: list, matrix and state-machine kernels with CRC16 (size: iterations)
void coremark_setup(uint32_t size);
uint32_t coremark_rep(uint32_t rep);
// sha256.c (size: MiB hashed per repetition)
void sha256(const uint8_t *data, uint32_t len, uint8_t digest[32]);
void sha256_setup(uint32_t size);
uint32_t sha256_rep(uint32_t rep);
// matmul.c: double precision, C = A * B (size: N of the N x N matrices)
void matmul_setup(uint32_t size);
uint32_t matmul_rep(uint32_t rep);
// memops.c: rep stos / rep movs (size: MiB per buffer)
void *bench_memset(void *d, int c, size_t n);
void *bench_memcpy(void *d, const void *s, size_t n);
void memops_setup(uint32_t size);
uint32_t memops_rep(uint32_t rep);
// pages.c: one word in each page of a large mapped region (size: MiB), and the same region
// zapped before every repetition, so each page is demand-faulted (size: MiB)
void pagetouch_setup(uint32_t size);
uint32_t pagetouch_rep(uint32_t rep);
void demandpage_setup(uint32_t size);
uint32_t demandpage_rep(uint32_t rep);

// nano.S (both builds): call/ret, 16 per loop iteration
void nano_callret(uint32_t n);

// A deterministic pseudo-random fill (xorshift32) shared by the workloads.
uint32_t xorshift32(uint32_t *state);
void fill_random(void *p, size_t bytes, uint32_t seed);

#endif
