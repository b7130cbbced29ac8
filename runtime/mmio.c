// Memory-mapped I/O: registry, dispatch, and emulation of the faulting instruction.
#include "mmio.h"

#include "abi.h"
#include "decode.h"
#include "emulate.h"
#include "interrupt.h"
#include "mem.h"
#include "stats.h"
#include "vcpu.h"
#include "x86.h"

struct mmio_range {
    uint32_t base, len;
    const char *name;
    mmio_read_fn rd;
    mmio_write_fn wr;
    void *opaque;
    mmio_stable_fn stable;
    mmio_stable_fn write_keeps;   // writes at this offset leave every stable register as is
};

#define MMIO_MAX 16
static struct mmio_range ranges[MMIO_MAX];
static int nranges;
// Accesses to physical addresses with nothing there, per address (then one overflow count),
// each with the guest instruction of its first access.
#define UNASSIGNED_MAX 64
struct unassigned {
    uint32_t pa;
    uint64_t reads, writes;
    uint32_t eip;         // the guest instruction of the first access (original address)
    const char *kind;     // ... its kind
};
static struct unassigned unassigned[UNASSIGNED_MAX];
static int nunassigned;
static uint64_t unassigned_reads, unassigned_writes, unassigned_overflow;

void mmio_register(uint32_t base, uint32_t len, const char *name, mmio_read_fn rd,
                   mmio_write_fn wr, void *opaque)
{
    if (nranges < MMIO_MAX)
        ranges[nranges++] = (struct mmio_range){base, len, name, rd, wr, opaque, NULL, NULL};
}

void mmio_set_stable(uint32_t base, mmio_stable_fn stable, mmio_stable_fn write_keeps)
{
    for (int i = 0; i < nranges; i++)
        if (ranges[i].base == base) {
            ranges[i].stable = stable;
            ranges[i].write_keeps = write_keeps;
        }
}

// ---- the read cache in the vCPU page (abi.h, R1_VCPU_MMIOC) ----------------------------------
static volatile struct r1_mmioc *cache;

void mmio_cache_init(volatile uint32_t *vcpu_page)
{
    cache = (volatile struct r1_mmioc *)(vcpu_page + R1_VCPU_MMIOC / 4);
    mmio_cache_flush();
}

void mmio_cache_flush(void)
{
    if (cache)
        for (unsigned i = 0; i < R1_MMIOC_N; i++)
            cache[i].key = 0;
}

static void cache_fill(uint32_t lin, uint32_t value)
{
    if (!cache || (lin & 3))
        return;
    volatile struct r1_mmioc *e = &cache[(lin >> 4) & (R1_MMIOC_N - 1)];
    e->key = 0;
    e->value = value;
    e->key = lin | 1;
    stats_count("mmio-cache-fill");
}

static const struct mmio_range *find(uint32_t pa)
{
    for (int i = 0; i < nranges; i++)
        if (pa - ranges[i].base < ranges[i].len)
            return &ranges[i];
    return NULL;
}

static void note_unassigned(uint32_t pa, int size, int write, uint32_t value)
{
    const char *kind;
    uint32_t eip = stats_unassigned("physical", pa, size, write, value, &kind);
    if (write)
        unassigned_writes++;
    else
        unassigned_reads++;
    for (int i = 0; i < nunassigned; i++) {
        if (unassigned[i].pa == pa) {
            if (write)
                unassigned[i].writes++;
            else
                unassigned[i].reads++;
            return;
        }
    }
    if (nunassigned == UNASSIGNED_MAX) {
        unassigned_overflow++;
        return;
    }
    unassigned[nunassigned++] = (struct unassigned){pa, !write, !!write, eip, kind};
}

static uint32_t mmio_read1(uint32_t pa, int size);

uint32_t mmio_read(uint32_t pa, int size)
{
    uint32_t val = mmio_read1(pa, size);
    if (vcpu_trace)
        stats_trace_access("physical", pa, size, false, val);
    return val;
}

static void mmio_write1(uint32_t pa, int size, uint32_t val);

void mmio_write(uint32_t pa, int size, uint32_t val)
{
    if (vcpu_trace)
        stats_trace_access("physical", pa, size, true, val);
    mmio_write1(pa, size, val);
}

static uint32_t mmio_read1(uint32_t pa, int size)
{
    const struct mmio_range *r = find(pa);
    if (r && r->rd)
        return r->rd(r->opaque, pa - r->base, size);
    const uint8_t *ram = r ? NULL : mem_phys(pa, (uint32_t)size);
    if (ram) {   // RAM behind a linear page the guest cannot map itself (the window's range)
        uint32_t v = 0;
        for (int i = 0; i < size; i++)
            v |= (uint32_t)ram[i] << (8 * i);
        return v;
    }
    note_unassigned(pa, size, 0, 0);
    return 0;   // QEMU's unassigned memory reads as zero (unassigned ports read as ones)
}

static void mmio_write1(uint32_t pa, int size, uint32_t val)
{
    const struct mmio_range *r = find(pa);
    // Only a device with stable registers has entries in the cache, and a write changes only
    // the device written (its other effects -- interrupts -- reach registers that are not
    // stable); a write it declares harmless (an EOI) keeps them too.
    if (r && r->stable && !(r->write_keeps && r->write_keeps(r->opaque, (pa - r->base) & ~3u)))
        mmio_cache_flush();
    if (r && r->wr) {
        r->wr(r->opaque, pa - r->base, size, val);
        return;
    }
    uint8_t *ram = r ? NULL : mem_phys(pa, (uint32_t)size);
    if (ram) {
        mem_frame_stored(pa, (uint32_t)size);
        for (int i = 0; i < size; i++)
            ram[i] = (uint8_t)(val >> (8 * i));
        return;
    }
    note_unassigned(pa, size, 1, val);
}

void mmio_print_unhandled(FILE *f)
{
    if (!unassigned_reads && !unassigned_writes)
        return;
    fprintf(f, "  accesses to physical addresses with nothing there: %llu reads (zero), %llu "
            "writes (dropped)\n", (unsigned long long)unassigned_reads,
            (unsigned long long)unassigned_writes);
    for (int i = 0; i < nunassigned; i++)
        fprintf(f, "    physical %#010x reads %llu writes %llu, first by %s at %#x\n",
                unassigned[i].pa, (unsigned long long)unassigned[i].reads,
                (unsigned long long)unassigned[i].writes, unassigned[i].kind, unassigned[i].eip);
    if (unassigned_overflow)
        fprintf(f, "    ... and %llu more at other addresses\n",
                (unsigned long long)unassigned_overflow);
}

// The same for --stats-json: {"reads", "writes", "addresses": [{"addr", "reads", "writes",
// "first_by", "first_at"}], "more"}; addresses as hex strings.
void mmio_json_unhandled(FILE *f)
{
    fprintf(f, "{\"reads\": %llu, \"writes\": %llu, \"addresses\": [",
            (unsigned long long)unassigned_reads, (unsigned long long)unassigned_writes);
    for (int i = 0; i < nunassigned; i++) {
        fprintf(f, "%s{\"addr\": \"0x%08x\", \"reads\": %llu, \"writes\": %llu, "
                "\"first_by\": ", i ? ", " : "", unassigned[i].pa,
                (unsigned long long)unassigned[i].reads, (unsigned long long)unassigned[i].writes);
        stats_json_lower(f, unassigned[i].kind);
        fprintf(f, ", \"first_at\": \"0x%08x\"}", unassigned[i].eip);
    }
    fprintf(f, "], \"more\": %llu}", (unsigned long long)unassigned_overflow);
}

// ---- the instruction -----------------------------------------------------------------------
// Access the memory operand: MMIO when it is the faulting page, ordinary guest memory
// otherwise (an unaligned access may straddle; each part goes where it belongs).
struct operand {
    struct vcpu *v;
    uint32_t lin, fault_page, pa_page;
};

static bool within_fault_page(const struct operand *o, int size)
{
    return (o->lin & ~(PGSIZE - 1)) == o->fault_page &&
           ((o->lin + (uint32_t)size - 1) & ~(PGSIZE - 1)) == o->fault_page;
}

static int opnd_read(struct operand *o, uint32_t *val, int size)
{
    // One access of the full size when the operand lies within the page (device registers
    // are naturally aligned); byte by byte when it straddles into ordinary memory.
    if (within_fault_page(o, size)) {
        *val = mmio_read(o->pa_page | (o->lin & (PGSIZE - 1)), size);
        return 0;
    }
    *val = 0;
    for (int i = 0; i < size; i++) {
        uint32_t a = o->lin + (uint32_t)i;
        uint8_t b;
        if ((a & ~(PGSIZE - 1)) == o->fault_page)
            b = (uint8_t)mmio_read(o->pa_page | (a & (PGSIZE - 1)), 1);
        else if (vmem_read(o->v, a, &b, 1, 0) < 0)
            return -1;
        *val |= (uint32_t)b << (8 * i);
    }
    return 0;
}

static int opnd_write(struct operand *o, uint32_t val, int size)
{
    if (within_fault_page(o, size)) {
        mmio_write(o->pa_page | (o->lin & (PGSIZE - 1)), size, val);
        return 0;
    }
    for (int i = 0; i < size; i++) {
        uint32_t a = o->lin + (uint32_t)i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        if ((a & ~(PGSIZE - 1)) == o->fault_page)
            mmio_write(o->pa_page | (a & (PGSIZE - 1)), 1, b);
        else if (vmem_write(o->v, a, &b, 1, 0) < 0)
            return -1;
    }
    return 0;
}


// The ALU group (ModRM.reg / opcode bits 5-3): result and arithmetic flags computed by the
// host CPU itself, so they are exactly the hardware's.
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST };

#define ALU_CASE(insn, sfx, type)                                                           \
    do {                                                                                    \
        type x = (type)a;                                                                   \
        __asm__("sub $128, %%rsp; push %3; popf; " insn sfx " %2, %0; pushf; pop %1; "      \
                "add $128, %%rsp"                                                           \
                : "+r"(x), "=r"(fl) : "r"((type)b), "r"(flin) : "cc");                      \
        res = (uint32_t)x;                                                                  \
    } while (0)

#define ALU_SIZES(insn)                                                                     \
    do {                                                                                    \
        if (size == 1) ALU_CASE(insn, "b", uint8_t);                                        \
        else if (size == 2) ALU_CASE(insn, "w", uint16_t);                                  \
        else ALU_CASE(insn, "l", uint32_t);                                                 \
    } while (0)

static uint32_t alu(struct vcpu *v, int op, uint32_t a, uint32_t b, int size)
{
    uint64_t fl, flin = (v->eflags & FL_ARITH) | FL_1;
    uint32_t res = 0;
    switch (op) {
    case ALU_ADD: ALU_SIZES("add"); break;
    case ALU_OR:  ALU_SIZES("or"); break;
    case ALU_ADC: ALU_SIZES("adc"); break;
    case ALU_SBB: ALU_SIZES("sbb"); break;
    case ALU_AND: ALU_SIZES("and"); break;
    case ALU_SUB: ALU_SIZES("sub"); break;
    case ALU_XOR: ALU_SIZES("xor"); break;
    case ALU_CMP: ALU_SIZES("sub"); res = a; break;
    default:      ALU_SIZES("and"); res = a; break;   // test
    }
    v->eflags = (v->eflags & ~FL_ARITH) | ((uint32_t)fl & FL_ARITH);
    return res;
}

// inc, dec, not, neg of r/m: one operand, the flags again the host CPU's (not: none).
enum { UN_INC, UN_DEC, UN_NOT, UN_NEG };

#define UNARY_CASE(insn, sfx, type)                                                         \
    do {                                                                                    \
        type x = (type)a;                                                                   \
        __asm__("sub $128, %%rsp; push %2; popf; " insn sfx " %0; pushf; pop %1; "          \
                "add $128, %%rsp"                                                           \
                : "+r"(x), "=r"(fl) : "r"(flin) : "cc");                                    \
        res = (uint32_t)x;                                                                  \
    } while (0)

#define UNARY_SIZES(insn)                                                                   \
    do {                                                                                    \
        if (size == 1) UNARY_CASE(insn, "b", uint8_t);                                      \
        else if (size == 2) UNARY_CASE(insn, "w", uint16_t);                                \
        else UNARY_CASE(insn, "l", uint32_t);                                               \
    } while (0)

static uint32_t unary(struct vcpu *v, int op, uint32_t a, int size)
{
    uint64_t fl, flin = (v->eflags & FL_ARITH) | FL_1;
    uint32_t res = 0;
    switch (op) {
    case UN_INC: UNARY_SIZES("inc"); break;
    case UN_DEC: UNARY_SIZES("dec"); break;
    case UN_NOT: UNARY_SIZES("not"); break;
    default:     UNARY_SIZES("neg"); break;
    }
    v->eflags = (v->eflags & ~FL_ARITH) | ((uint32_t)fl & FL_ARITH);
    return res;
}

// bt, bts, btr, btc of r/m with a bit number: the host CPU computes CF (and whatever it
// does to the flags the SDM leaves undefined) on the dword or word read.
enum { BIT_T, BIT_TS, BIT_TR, BIT_TC };

#define BIT_CASE(insn, sfx, type)                                                           \
    do {                                                                                    \
        type x = (type)a;                                                                   \
        __asm__("sub $128, %%rsp; push %3; popf; " insn sfx " %2, %0; pushf; pop %1; "      \
                "add $128, %%rsp"                                                           \
                : "+r"(x), "=r"(fl) : "r"((type)bit), "r"(flin) : "cc");                    \
        res = (uint32_t)x;                                                                  \
    } while (0)

#define BIT_SIZES(insn)                                                                     \
    do {                                                                                    \
        if (size == 2) BIT_CASE(insn, "w", uint16_t);                                       \
        else BIT_CASE(insn, "l", uint32_t);                                                 \
    } while (0)

static uint32_t bitop(struct vcpu *v, int op, uint32_t a, uint32_t bit, int size)
{
    uint64_t fl, flin = (v->eflags & FL_ARITH) | FL_1;
    uint32_t res = 0;
    switch (op) {
    case BIT_T:  BIT_SIZES("bt"); break;
    case BIT_TS: BIT_SIZES("bts"); break;
    case BIT_TR: BIT_SIZES("btr"); break;
    default:     BIT_SIZES("btc"); break;
    }
    v->eflags = (v->eflags & ~FL_ARITH) | ((uint32_t)fl & FL_ARITH);
    return res;
}

// String instructions with a device on either side (movs, stos, lods, cmps, scas; rep, repe,
// repne or not): element by element through vmem_read/vmem_write, which reach the device
// registry with the element's size. Registers advance as the hardware's do, so a fault
// part-way leaves a restartable state; cmps and scas set the flags as cmp does (by the host
// CPU) and end a repe/repne on the element whose ZF says so.
static bool string_op(struct vcpu *v, const struct insn *in)
{
    int size = (in->op & 1) ? in->opsize : 1;
    uint32_t amask = in->adsize == 4 ? 0xffffffffu : 0xffffu;
    uint32_t step = (v->eflags & FL_DF) ? (uint32_t)-size : (uint32_t)size;
    uint32_t count = in->rep ? (v->gpr[R_ECX] & amask) : 1;
    int src_seg = in->seg >= 0 ? in->seg : R1_SREG_DS;
    bool cmps = in->op == 0xa6 || in->op == 0xa7, scas = in->op == 0xae || in->op == 0xaf;
    bool lods = in->op == 0xac || in->op == 0xad;
    bool reads = !scas && in->op != 0xaa && in->op != 0xab;   // from seg:ESI
    bool writes = in->op == 0xa4 || in->op == 0xa5 || in->op == 0xaa || in->op == 0xab;
    bool compares = cmps || scas;                             // with ES:EDI
    bool ended = false;
    v->exc.vector = -1;
    // At most this many elements per exit: a rep with a huge count then resumes where it
    // stopped (ECX/ESI/EDI say where), and signals -- --timeout -- are seen in between.
    unsigned budget = 65536;
    while (count && budget--) {
        uint32_t val = reads ? 0 : v->gpr[R_EAX], other = 0;
        if (reads && vmem_read(v, v->seg[src_seg].base + (v->gpr[R_ESI] & amask), &val,
                               (unsigned)size, 0) < 0)
            goto fault;
        if (compares && vmem_read(v, v->seg[R1_SREG_ES].base + (v->gpr[R_EDI] & amask),
                                  &other, (unsigned)size, 0) < 0)
            goto fault;
        if (writes && vmem_write(v, v->seg[R1_SREG_ES].base + (v->gpr[R_EDI] & amask), &val,
                                 (unsigned)size, 0) < 0)
            goto fault;
        if (lods)
            vcpu_set_reg(v, R_EAX, size, val);
        if (compares)
            alu(v, ALU_CMP, cmps ? val : vcpu_reg(v, R_EAX, size), other, size);
        if (reads)
            v->gpr[R_ESI] = (v->gpr[R_ESI] & ~amask) | ((v->gpr[R_ESI] + step) & amask);
        if (writes || compares)
            v->gpr[R_EDI] = (v->gpr[R_EDI] & ~amask) | ((v->gpr[R_EDI] + step) & amask);
        count--;
        if (in->rep)
            v->gpr[R_ECX] = (v->gpr[R_ECX] & ~amask) | (count & amask);
        // repe (F3) goes on while ZF = 1, repne (F2) while ZF = 0.
        if (compares && in->rep && !(v->eflags & FL_ZF) == (in->rep == 0xf3)) {
            ended = true;
            break;
        }
    }
    stats_count("mmio-string");
    if (!count || ended)
        v->eip += in->len;   // else the instruction runs again with the registers advanced
    return true;
fault:
    intr_raise_recorded(v);
    return true;
}

// The linear address of the instruction's memory operand; false if it has none.
static bool operand_lin(const struct vcpu *v, const struct insn *in, uint32_t *lin)
{
    if (in->op >= 0xa0 && in->op <= 0xa3) {   // moffs
        *lin = v->seg[in->seg >= 0 ? in->seg : R1_SREG_DS].base + in->imm;
        return true;
    }
    if (!insn_has_mem(in))
        return false;
    *lin = v->seg[insn_seg(in)].base + insn_ea(in, v->gpr);
    return true;
}

static bool is_string_op(const struct insn *in)
{
    return (in->op >= 0xa4 && in->op <= 0xa7) || (in->op >= 0xaa && in->op <= 0xaf);
}

static bool emulate_access(struct vcpu *v, const struct insn *in, struct operand o);

bool mmio_emulate(struct vcpu *v, uint32_t lin, uint32_t pa)
{
    uint8_t buf[INSN_MAX];
    unsigned n = vmem_fetch(v, vcpu_lin_eip(v), buf, sizeof buf);
    struct insn in;
    if (decode(buf, n, &in) < 0)
        return false;
    if (is_string_op(&in))
        return string_op(v, &in);
    struct operand o = {v, 0, lin & ~(PGSIZE - 1), pa & ~(PGSIZE - 1)};
    if (!operand_lin(v, &in, &o.lin) || !emulate_access(v, &in, o))
        return false;
    stats_count("mmio");
    return true;
}

bool mmio_emulate_ram(struct vcpu *v, const struct insn *in)
{
    struct operand o = {v, 0, 1, 0};   // fault_page 1: no page is it
    return !is_string_op(in) && operand_lin(v, in, &o.lin) && emulate_access(v, in, o);
}

int mmio_emulate_site(struct vcpu *v, const struct insn *in)
{
    struct operand o = {v, 0, 1, 0};   // fault_page 1: no page is it (RAM path) ...
    if (is_string_op(in) || !operand_lin(v, in, &o.lin))
        return -1;
    uint32_t pa, pferr;
    bool device = false;
    if (vmem_translate(v, o.lin, 0, &pa, &pferr) == 0 && !mem_phys(pa, 1)) {
        o.fault_page = o.lin & ~(PGSIZE - 1);   // ... unless the operand is on a device
        o.pa_page = pa & ~(PGSIZE - 1);
        device = true;
    }
    if (!emulate_access(v, in, o))
        return -1;
    stats_count("mmio");
    // A stable register read by `mov r32, [mem]` (the form the site's trampoline can answer
    // from the cache): remember it for the next time.
    const struct mmio_range *r = device ? find(pa) : NULL;
    bool form = (in->op == 0x8b || in->op == 0xa1) && in->opsize == 4;
    if (r && r->stable && form && v->exc.vector < 0 && r->stable(r->opaque, (pa - r->base) & ~3u))
        cache_fill(o.lin, vcpu_reg(v, in->op == 0xa1 ? R_EAX : in->reg, 4));
    return device;
}

static bool emulate_access(struct vcpu *v, const struct insn *in_, struct operand o)
{
    const struct insn in = *in_;
    int size = (in.op & 1) ? in.opsize : 1;
    uint32_t val, r;
    v->exc.vector = -1;
    int rc = 0;
    switch (in.op) {
    case 0x88: case 0x89:                                   // mov r/m, r
        rc = opnd_write(&o, vcpu_reg(v, in.reg, size), size);
        break;
    case 0x8a: case 0x8b:                                   // mov r, r/m
        rc = opnd_read(&o, &val, size);
        if (!rc)
            vcpu_set_reg(v, in.reg, size, val);
        break;
    case 0xc6: case 0xc7:                                   // mov r/m, imm
        if (in.reg != 0)
            return false;
        rc = opnd_write(&o, in.imm, size);
        break;
    case 0xa0: case 0xa1:                                   // mov al/eax, moffs
        rc = opnd_read(&o, &val, size);
        if (!rc)
            vcpu_set_reg(v, R_EAX, size, val);
        break;
    case 0xa2: case 0xa3:                                   // mov moffs, al/eax
        rc = opnd_write(&o, vcpu_reg(v, R_EAX, size), size);
        break;
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf: {   // movzx, movsx
        int ssize = (in.op & 1) ? 2 : 1;
        rc = opnd_read(&o, &val, ssize);
        if (rc)
            break;
        if (in.op >= 0x0fbe)
            val = ssize == 1 ? (uint32_t)(int32_t)(int8_t)val : (uint32_t)(int32_t)(int16_t)val;
        vcpu_set_reg(v, in.reg, in.opsize, val);
        break;
    }
    case 0x00: case 0x01: case 0x08: case 0x09: case 0x20: case 0x21:   // alu r/m, r
    case 0x28: case 0x29: case 0x30: case 0x31: case 0x38: case 0x39:
    case 0x10: case 0x11: case 0x18: case 0x19: {
        int op = in.op >> 3;
        rc = opnd_read(&o, &val, size);
        if (rc)
            break;
        r = alu(v, op, val, vcpu_reg(v, in.reg, size), size);
        if (op != ALU_CMP)
            rc = opnd_write(&o, r, size);
        break;
    }
    case 0x02: case 0x03: case 0x0a: case 0x0b: case 0x22: case 0x23:   // alu r, r/m
    case 0x2a: case 0x2b: case 0x32: case 0x33: case 0x3a: case 0x3b:
    case 0x12: case 0x13: case 0x1a: case 0x1b: {
        int op = in.op >> 3;
        rc = opnd_read(&o, &val, size);
        if (rc)
            break;
        r = alu(v, op, vcpu_reg(v, in.reg, size), val, size);
        if (op != ALU_CMP)
            vcpu_set_reg(v, in.reg, size, r);
        break;
    }
    case 0x80: case 0x81: case 0x83: {                      // alu r/m, imm
        uint32_t imm = in.imm;
        if (in.op == 0x83)
            imm = (uint32_t)(int32_t)(int8_t)imm;
        size = in.op == 0x80 ? 1 : in.opsize;
        rc = opnd_read(&o, &val, size);
        if (rc)
            break;
        r = alu(v, in.reg, val, imm, size);
        if (in.reg != ALU_CMP)
            rc = opnd_write(&o, r, size);
        break;
    }
    case 0x84: case 0x85:                                   // test r/m, r
        rc = opnd_read(&o, &val, size);
        if (!rc)
            alu(v, ALU_TEST, val, vcpu_reg(v, in.reg, size), size);
        break;
    case 0xf6: case 0xf7:                                   // test r/m, imm; not, neg
        if (in.reg > 3)
            return false;
        rc = opnd_read(&o, &val, size);
        if (!rc && in.reg <= 1)
            alu(v, ALU_TEST, val, in.imm, size);
        else if (!rc)
            rc = opnd_write(&o, unary(v, in.reg == 2 ? UN_NOT : UN_NEG, val, size), size);
        break;
    case 0x0fa3: case 0x0fab: case 0x0fb3: case 0x0fbb:    // bt/bts/btr/btc r/m, r
    case 0x0fba: {                                          // the same with imm8 (/4-/7)
        int op;
        uint32_t bit;
        size = in.opsize;
        if (in.op == 0x0fba) {
            if (in.reg < 4)
                return false;
            op = in.reg - 4;
            bit = in.imm & (uint32_t)(size * 8 - 1);
        } else {
            // A register bit number addresses the whole bit string: the operand moves by
            // whole words or dwords (signed), the bit is what is left.
            op = in.op == 0x0fa3 ? BIT_T : in.op == 0x0fab ? BIT_TS
               : in.op == 0x0fb3 ? BIT_TR : BIT_TC;
            int32_t off = size == 2 ? (int16_t)vcpu_reg(v, in.reg, 2)
                                    : (int32_t)vcpu_reg(v, in.reg, 4);
            o.lin += (uint32_t)((off >> (size == 2 ? 4 : 5)) * size);
            bit = (uint32_t)off & (uint32_t)(size * 8 - 1);
        }
        rc = opnd_read(&o, &val, size);
        if (rc)
            break;
        r = bitop(v, op, val, bit, size);
        if (op != BIT_T)
            rc = opnd_write(&o, r, size);
        break;
    }
    case 0xfe: case 0xff:                                   // inc, dec r/m; push r/m
        if (in.op == 0xff && in.reg == 6) {
            rc = opnd_read(&o, &val, in.opsize);
            if (!rc)
                rc = emu_push(v, val, in.opsize);
            break;
        }
        if (in.reg > 1)
            return false;
        rc = opnd_read(&o, &val, size);
        if (!rc)
            rc = opnd_write(&o, unary(v, in.reg ? UN_DEC : UN_INC, val, size), size);
        break;
    case 0x86: case 0x87:                                   // xchg r/m, r
        rc = opnd_read(&o, &val, size);
        if (!rc)
            rc = opnd_write(&o, vcpu_reg(v, in.reg, size), size);
        if (!rc)
            vcpu_set_reg(v, in.reg, size, val);
        break;
    default:
        return false;
    }
    if (rc < 0) {
        intr_raise_recorded(v);   // a fault on the RAM part of a straddling operand
        return true;
    }
    v->eip += in.len;
    return true;
}
