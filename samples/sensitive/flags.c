// cli, sti, pushf, popf: the virtual interrupt flag and the other bits ring 3 cannot change.
#include "sensitive.h"

uint32_t flags_cli(void);
uint32_t flags_sti(void);
uint32_t flags_pushfl(uint32_t *esp_delta);
uint32_t flags_pushfw(uint32_t *esp_delta);
uint32_t flags_popfl(uint32_t image);
uint32_t flags_popfw(uint32_t image);

void check_flags(void)
{
    uint32_t delta, fl;

    // All IRQs are masked at the PIC, so IF=1 here lets nothing in.
    printf("cli: ");
    print_vflags(flags_cli());
    printf("\nsti: ");
    print_vflags(flags_sti());

    fl = flags_pushfl(&delta);
    printf("\npushfl: esp-=%u reserved1=%u ", delta, !!(fl & FL_1));
    print_vflags(fl);
    fl = flags_pushfw(&delta);
    printf("\npushfw: esp-=%u reserved1=%u ", delta, !!(fl & FL_1));
    print_vflags(fl);
    printf("\n");

    uint32_t base = flags_cli() & ~FL_VM;
    printf("popfl IF=0: ");
    print_vflags(flags_popfl(base & ~FL_IF));
    printf("\npopfl IF=1: ");
    print_vflags(flags_popfl(base | FL_IF));
    printf("\npopfl IOPL=3 NT=1 AC=1: ");
    print_vflags(flags_popfl((base & ~FL_IF) | FL_IOPL_MASK | FL_NT | FL_AC));
    // popfw loads only the low 16 bits: IF and IOPL change, AC (bit 18) must survive.
    printf("\npopfw IF=1 IOPL=0 NT=0: ");
    print_vflags(flags_popfw((base | FL_IF) & 0xffff & ~(FL_IOPL_MASK | FL_NT)));
    printf("\npopfl back to IF=0: ");
    print_vflags(flags_popfl(base & ~(FL_IF | FL_IOPL_MASK | FL_NT | FL_AC)));
    printf("\n");
}
