// Dense double-precision matrix multiply, C = A * B, N x N, i-k-j loop order (SSE2 doubles).
// The elements are small multiples of 1/4 and 1/2, so every sum is exact and the checksum is
// the same on any IEEE-754 machine. size = N.
#include "work.h"

static double *ma, *mb, *mc;
static uint32_t n;

void matmul_setup(uint32_t size)
{
    n = size;
    ma = plat_alloc(n * n * sizeof(double));
    mb = plat_alloc(n * n * sizeof(double));
    mc = plat_alloc(n * n * sizeof(double));
}

static void multiply(const double *restrict a, const double *restrict b, double *restrict c)
{
    for (uint32_t i = 0; i < n * n; i++)
        c[i] = 0.0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = b + k * n;
            double *crow = c + i * n;
            for (uint32_t j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
}

uint32_t matmul_rep(uint32_t rep)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            ma[i * n + j] = (double)((int32_t)((i * 3 + j * 5 + rep) % 17) - 8) * 0.25;
            mb[i * n + j] = (double)((int32_t)((i * 7 + j * 2 + rep) % 13) - 6) * 0.5;
        }
    multiply(ma, mb, mc);
    uint32_t h = 0;
    for (uint32_t i = 0; i < n * n; i++)
        h = h * 31 + (uint32_t)(int32_t)(mc[i] * 8.0);
    return h;
}
