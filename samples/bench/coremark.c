// A CoreMark-like integer workload (not EEMBC's code; the same three kernels in spirit):
// linked-list find/reverse/merge-sort, a small int16 matrix algebra kernel, and a
// state machine scanning number-like tokens, every result folded into a CRC16.
// size = iterations per repetition.
#include "work.h"

#define LIST_N   128
#define MAT_N    24
#define TEXT_N   256

struct node {
    struct node *next;
    int16_t data;
    uint16_t idx;
};

// 64-byte aligned, so that the data sits at the same offsets within cache lines in both builds
// (the Makefile does the same for code with -falign-functions=64).
static struct node nodes[LIST_N] __attribute__((aligned(64)));
static int16_t mat_a[MAT_N * MAT_N] __attribute__((aligned(64)));
static int16_t mat_b[MAT_N * MAT_N] __attribute__((aligned(64)));
static int32_t mat_c[MAT_N * MAT_N] __attribute__((aligned(64)));
static char text[TEXT_N] __attribute__((aligned(64)));
static uint32_t iterations;

// CRC-16/CCITT, bit by bit (as CoreMark's crcu8 is: branchy, dependent).
static uint16_t crc8(uint8_t data, uint16_t crc)
{
    for (int i = 0; i < 8; i++) {
        int x = (data ^ crc) & 1;
        data >>= 1;
        crc >>= 1;
        if (x)
            crc ^= 0x8408;
    }
    return crc;
}

static uint16_t crc16(uint16_t v, uint16_t crc)
{
    return crc8((uint8_t)(v >> 8), crc8((uint8_t)v, crc));
}

static uint16_t crc32w(uint32_t v, uint16_t crc)
{
    return crc16((uint16_t)(v >> 16), crc16((uint16_t)v, crc));
}

// ---- list -----------------------------------------------------------------------------------
static struct node *list_build(uint32_t seed)
{
    uint32_t s = seed | 1;
    for (int i = 0; i < LIST_N; i++) {
        nodes[i].idx = (uint16_t)i;
        nodes[i].data = (int16_t)(xorshift32(&s) & 0x7fff);
    }
    // link in a scrambled order: i -> (i * 37 + 11) mod LIST_N
    struct node *head = 0;
    for (int i = LIST_N - 1; i >= 0; i--) {
        struct node *n = &nodes[(i * 37 + 11) % LIST_N];
        n->next = head;
        head = n;
    }
    return head;
}

static struct node *list_reverse(struct node *l)
{
    struct node *r = 0;
    while (l) {
        struct node *next = l->next;
        l->next = r;
        r = l;
        l = next;
    }
    return r;
}

static int by_data(const struct node *a, const struct node *b)
{
    return a->data - b->data;
}

static int by_idx(const struct node *a, const struct node *b)
{
    return (int)a->idx - (int)b->idx;
}

// Bottom-up merge sort of a singly linked list (stable).
static struct node *list_sort(struct node *list, int (*cmp)(const struct node *, const struct node *))
{
    for (int insize = 1;; insize *= 2) {
        struct node *p = list, *tail = 0;
        list = 0;
        int merges = 0;
        while (p) {
            merges++;
            struct node *q = p;
            int psize = 0;
            for (int i = 0; i < insize && q; i++) {
                psize++;
                q = q->next;
            }
            int qsize = insize;
            while (psize > 0 || (qsize > 0 && q)) {
                struct node *e;
                if (psize == 0) {
                    e = q, q = q->next, qsize--;
                } else if (qsize == 0 || !q || cmp(p, q) <= 0) {
                    e = p, p = p->next, psize--;
                } else {
                    e = q, q = q->next, qsize--;
                }
                if (tail)
                    tail->next = e;
                else
                    list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1)
            return list;
    }
}

static uint16_t list_bench(uint32_t it, uint16_t crc)
{
    struct node *l = list_build(it * 2654435761u);
    // find: count nodes whose data matches a few keys in the low bits
    int found = 0, missed = 0;
    for (int k = 0; k < 8; k++) {
        int16_t key = (int16_t)((it + k * 131) & 0xff);
        int hit = 0;
        for (struct node *n = l; n; n = n->next)
            if ((n->data & 0xff) == key) {
                hit = 1;
                crc = crc16((uint16_t)n->idx, crc);
                break;
            }
        hit ? found++ : missed++;
    }
    l = list_reverse(l);
    l = list_sort(l, by_data);
    uint32_t i = 0;
    for (struct node *n = l; n; n = n->next, i++)
        if ((i & 7) == 0)
            crc = crc16((uint16_t)n->data, crc);
    l = list_sort(l, by_idx);
    crc = crc16((uint16_t)l->data, crc);
    return crc16((uint16_t)(found * 16 + missed), crc);
}

// ---- matrix ---------------------------------------------------------------------------------
static uint16_t matrix_bench(uint32_t it, uint16_t crc)
{
    uint32_t s = it * 40503u + 1;
    for (int i = 0; i < MAT_N * MAT_N; i++) {
        mat_a[i] = (int16_t)((xorshift32(&s) & 0x0fff) - 0x800);
        mat_b[i] = (int16_t)((xorshift32(&s) & 0x0fff) - 0x800);
    }
    int16_t c = (int16_t)(it & 0xff);
    for (int i = 0; i < MAT_N * MAT_N; i++)          // add a constant
        mat_a[i] = (int16_t)(mat_a[i] + c);
    for (int i = 0; i < MAT_N; i++)                  // C = A * B
        for (int j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < MAT_N; k++)
                acc += (int32_t)mat_a[i * MAT_N + k] * mat_b[k * MAT_N + j];
            mat_c[i * MAT_N + j] = acc;
        }
    int32_t sum = 0;
    for (int i = 0; i < MAT_N * MAT_N; i++) {        // bit extraction, as CoreMark does
        int32_t bits = (mat_c[i] >> 2) & 0xf;
        sum += bits > 7 ? bits * 3 : -bits;
    }
    crc = crc32w((uint32_t)sum, crc);
    for (int i = 0; i < MAT_N; i++) {                // C = A * vector(row 0 of B)
        int32_t acc = 0;
        for (int k = 0; k < MAT_N; k++)
            acc += (int32_t)mat_a[i * MAT_N + k] * mat_b[k];
        mat_c[i] = acc;
    }
    for (int i = 0; i < MAT_N; i++)
        crc = crc16((uint16_t)mat_c[i], crc);
    return crc;
}

// ---- state machine --------------------------------------------------------------------------
enum { S_START, S_INT, S_SIGN, S_FRAC, S_EXP, S_EXPSIGN, S_SCI, S_BAD, S_N };

static void text_build(uint32_t it)
{
    static const char *const tok[] = {"5012", "1234", "-874", "+122", "7.5e-3", "3.14159",
                                      "-.5", "1e10", "0x1f", "--3", "2.5E+7", "abc", "+",
                                      "8.", "99e", "-1.0e-9"};
    uint32_t s = it * 2246822519u + 7;
    int n = 0;
    while (n < TEXT_N - 12) {
        const char *t = tok[xorshift32(&s) & 15];
        while (*t)
            text[n++] = *t++;
        text[n++] = ',';
    }
    text[n] = 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static uint16_t state_bench(uint32_t it, uint16_t crc)
{
    text_build(it);
    uint32_t final[S_N] = {0}, transitions = 0;
    int state = S_START;
    for (const char *p = text; *p; p++) {
        char c = *p;
        int next = state;
        if (c == ',') {
            final[state]++;
            state = S_START;
            continue;
        }
        switch (state) {
        case S_START:
            next = is_digit(c) ? S_INT : (c == '+' || c == '-') ? S_SIGN : c == '.' ? S_FRAC : S_BAD;
            break;
        case S_SIGN:
            next = is_digit(c) ? S_INT : c == '.' ? S_FRAC : S_BAD;
            break;
        case S_INT:
            next = is_digit(c) ? S_INT : c == '.' ? S_FRAC : (c == 'e' || c == 'E') ? S_EXP : S_BAD;
            break;
        case S_FRAC:
            next = is_digit(c) ? S_FRAC : (c == 'e' || c == 'E') ? S_EXP : S_BAD;
            break;
        case S_EXP:
            next = (c == '+' || c == '-') ? S_EXPSIGN : is_digit(c) ? S_SCI : S_BAD;
            break;
        case S_EXPSIGN:
        case S_SCI:
            next = is_digit(c) ? S_SCI : S_BAD;
            break;
        default:
            next = S_BAD;
        }
        transitions += next != state;
        state = next;
    }
    for (int i = 0; i < S_N; i++)
        crc = crc16((uint16_t)final[i], crc);
    return crc16((uint16_t)transitions, crc);
}

// ---- the workload ---------------------------------------------------------------------------
void coremark_setup(uint32_t size)
{
    iterations = size;
}

uint32_t coremark_rep(uint32_t rep)
{
    uint16_t crc = 0;
    for (uint32_t i = 0; i < iterations; i++) {
        uint32_t it = rep * 100003u + i;
        crc = list_bench(it, crc);
        crc = matrix_bench(it, crc);
        crc = state_bench(it, crc);
    }
    return crc;
}
