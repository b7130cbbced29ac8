// libFuzzer target, links runtime/mmio.c runtime/decode.c: the MMIO emulator.
// One guest instruction (the input's first 15 bytes, of which the input says how many can be
// fetched) is emulated by mmio_emulate against a fake register file (the rest of the input),
// 64 KiB of fake RAM at linear 0 and one fake device page at DEV_BASE; everything else faults.
// The stubs below stand in for the runtime's memory, interrupt and statistics modules.
// Properties checked:
//   - device callbacks see only sizes 1, 2, 4 and accesses that lie inside their range;
//   - an instruction it does not emulate (false) leaves the vCPU untouched;
//   - an emulated one moves EIP by its length (at most 15), or not at all when it faulted or
//     a rep string instruction stopped part-way; a fault is one the stubs raised;
//   - nothing reads or writes outside the buffers (ASan), no undefined behaviour (UBSan).
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "interrupt.h"
#include "mem.h"
#include "mmio.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

#define RAM_SIZE 0x10000u
#define DEV_BASE 0xfee00000u
#define DEV_LEN  0x1000u

static uint8_t ram[RAM_SIZE];
static uint8_t code[INSN_MAX];
static unsigned code_len;
static unsigned faults_raised, faults_delivered;
static uint32_t dev_reg;

static void check_access(uint32_t off, int size)
{
    assert(size == 1 || size == 2 || size == 4);
    assert(off < DEV_LEN && off + (uint32_t)size <= DEV_LEN);
}

static uint32_t dev_read(void *opaque, uint32_t off, int size)
{
    (void)opaque;
    check_access(off, size);
    return dev_reg ^ off;
}

static void dev_write(void *opaque, uint32_t off, int size, uint32_t val)
{
    (void)opaque;
    check_access(off, size);
    if (size < 4)
        assert(val < (1u << (8 * size)));
    dev_reg = val;
}

// ---- stubs for mem.c, interrupt.c, stats.c ------------------------------------------------
static int copy(struct vcpu *v, uint32_t lin, uint8_t *b, unsigned len, bool write)
{
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = lin + i;
        if (a < RAM_SIZE) {
            if (write)
                ram[a] = b[i];
            else
                b[i] = ram[a];
        } else if (a - DEV_BASE < DEV_LEN) {
            if (write)
                mmio_write(a, 1, b[i]);
            else
                b[i] = (uint8_t)mmio_read(a, 1);
        } else {
            v->cr2 = a;
            v->exc.vector = T_PF;
            v->exc.err = write ? 2 : 0;
            faults_raised++;
            return -1;
        }
    }
    return 0;
}

int vmem_read(struct vcpu *v, uint32_t lin, void *buf, unsigned len, int acc)
{
    (void)acc;
    assert(len >= 1 && len <= 4);
    if (len > 1 && !(lin & (len - 1)) && lin - DEV_BASE < DEV_LEN) {   // one sized access
        uint32_t val = mmio_read(lin, (int)len);
        memcpy(buf, &val, len);
        return 0;
    }
    return copy(v, lin, buf, len, false);
}

int vmem_write(struct vcpu *v, uint32_t lin, const void *buf, unsigned len, int acc)
{
    (void)acc;
    assert(len >= 1 && len <= 4);
    if (len > 1 && !(lin & (len - 1)) && lin - DEV_BASE < DEV_LEN) {
        uint32_t val = 0;
        memcpy(&val, buf, len);
        mmio_write(lin, (int)len, val);
        return 0;
    }
    return copy(v, lin, (void *)buf, len, true);
}

unsigned vmem_fetch(struct vcpu *v, uint32_t lin, uint8_t *buf, unsigned len)
{
    (void)v;
    (void)lin;
    unsigned n = len < code_len ? len : code_len;
    memcpy(buf, code, n);
    return n;
}

// Identity paging over the fake RAM and the device page; anything else is not present.
int vmem_translate(struct vcpu *v, uint32_t lin, int acc, uint32_t *pa, uint32_t *pferr)
{
    (void)v;
    (void)acc;
    if (lin < RAM_SIZE || lin - DEV_BASE < DEV_LEN) {
        *pa = lin;
        return 0;
    }
    *pferr = 0;
    return -1;
}

void intr_raise_recorded(struct vcpu *v)
{
    assert(v->exc.vector >= 0);
    faults_delivered++;
}

// Physical RAM: the fake RAM (mmio.c reaches it for RAM behind an unmappable linear page).
void *mem_phys(uint32_t pa, uint32_t len)
{
    return pa < RAM_SIZE && len <= RAM_SIZE - pa ? ram + pa : NULL;
}

void mem_frame_stored(uint32_t pa, uint32_t len) { (void)pa; (void)len; }

// push r/m (the ring-3 wrapping accesses' form): onto SS:ESP, flat, as emulate.c does.
int emu_push(struct vcpu *v, uint32_t val, int size)
{
    uint32_t esp = v->gpr[R_ESP] - (uint32_t)size;
    if (vmem_write(v, v->seg[R1_SREG_SS].base + esp, &val, (unsigned)size, 0) < 0)
        return -1;
    v->gpr[R_ESP] = esp;
    return 0;
}

void stats_count(const char *name) { (void)name; }
bool vcpu_trace;   // (--trace: off)
void stats_trace_access(const char *space, uint32_t addr, int size, bool write, uint32_t value)
{
    (void)space; (void)addr; (void)size; (void)write; (void)value;
}
uint32_t stats_unassigned(const char *space, uint32_t addr, int size, int write, uint32_t value,
                          const char **kind)
{
    (void)space; (void)addr; (void)size; (void)write; (void)value;
    *kind = "memory access";
    return 0;
}

// ---- the target ---------------------------------------------------------------------------
static uint32_t u32(const uint8_t **p, size_t *n)
{
    uint32_t x = 0;
    for (int i = 0; i < 4 && *n; i++, (*p)++, (*n)--)
        x |= (uint32_t)**p << (8 * i);
    return x;
}

// A register value: mostly small (inside the fake RAM or device page), sometimes anything.
static uint32_t reg_value(uint32_t x)
{
    switch (x >> 30) {
    case 0: return x & (RAM_SIZE - 1);
    case 1: return DEV_BASE + (x & (DEV_LEN - 1));
    case 2: return x & 0xff;
    default: return x;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool registered;
    if (!registered) {
        mmio_register(DEV_BASE, DEV_LEN, "fuzz", dev_read, dev_write, NULL);
        registered = true;
    }
    if (size < 1)
        return 0;
    code_len = data[0] % (INSN_MAX + 1);
    data++, size--;
    memset(code, 0, sizeof code);
    size_t k = size < INSN_MAX ? size : INSN_MAX;
    memcpy(code, data, k);
    data += k, size -= k;

    static struct vcpu v;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < 8; i++)
        v.gpr[i] = reg_value(u32(&data, &size));
    v.eflags = (u32(&data, &size) & FL_ARITH) | FL_1 | FL_IF;
    if (size && (*data & 1))
        v.eflags |= FL_DF;
    uint32_t segbits = u32(&data, &size);
    for (int s = 0; s < 6; s++)   // flat segments, or a base of a page or two
        v.seg[s].base = (segbits >> (2 * s) & 3) == 3 ? 0x1000u * ((segbits >> 12) & 3) : 0;
    v.eip = u32(&data, &size) & 0xfff;
    v.exc.vector = -1;
    uint32_t lin = DEV_BASE + (u32(&data, &size) & (DEV_LEN - 1));
    uint32_t pa = lin;
    dev_reg = u32(&data, &size);

    struct vcpu before = v;
    faults_raised = faults_delivered = 0;
    struct insn in;
    int len = decode(code, code_len, &in);
    if (segbits >> 31 && len > 0) {
        // As a profile-made site (hypercall): the operand may be anywhere, device or RAM.
        int r = mmio_emulate_site(&v, &in);
        if (r < 0) {
            assert(memcmp(before.gpr, v.gpr, sizeof v.gpr) == 0 && before.eip == v.eip);
            return 0;
        }
        assert(faults_delivered <= faults_raised);
        assert(v.eip == before.eip || v.eip == before.eip + (uint32_t)len);
        assert((v.eflags & ~FL_ARITH) == (before.eflags & ~FL_ARITH));
        return 0;
    }
    bool done = mmio_emulate(&v, lin, pa);
    if (!done) {
        assert(memcmp(before.gpr, v.gpr, sizeof v.gpr) == 0);
        assert(before.eip == v.eip && before.eflags == v.eflags);
        return 0;
    }
    assert(faults_delivered <= faults_raised);
    assert(len > 0);
    assert(v.eip == before.eip || v.eip == before.eip + (uint32_t)len);
    if (faults_delivered)
        assert(v.eip == before.eip);
    assert((v.eflags & ~FL_ARITH) == (before.eflags & ~FL_ARITH));
    return 0;
}
