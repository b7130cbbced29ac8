// The interrupt descriptor table: every vector goes to its stub in vectors.S, then to trap().
#include "lib.h"

extern uint32_t vectors[NIDT];

__attribute__((aligned(8))) uint64_t idt[NIDT];
struct pseudodesc idt_pd = { sizeof(idt) - 1, (uint32_t)idt };

// Interrupt gates everywhere (IF cleared on entry, so handlers never nest), reachable only
// from ring 0 until a sample opens one with idt_set_gate().
void idt_init(void)
{
    for (int v = 0; v < NIDT; v++)
        idt[v] = GATE_DESC(SEL_KCODE, vectors[v], DESC_T_INTGATE, 0);
    lidt(&idt_pd);
}

// Change vector vec's gate type (DESC_T_INTGATE or DESC_T_TRAPGATE) and the lowest
// privilege level that may reach it with `int n`.
void idt_set_gate(int vec, int type, int dpl)
{
    idt[vec] = GATE_DESC(SEL_KCODE, vectors[vec], type, dpl);
}
