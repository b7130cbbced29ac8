// sensitive: executes every class of sensitive instruction of docs/design.md §2, one line per check.
//
// Every value printed is a function of this kernel's own setup (never of the host or of time),
// and addresses are printed by name, so the QEMU transcript is a golden for any toolchain.
#include "sensitive.h"

int main(void)
{
    // Faults and traps are expected only at PROBE()d instructions; probe_trap reports them.
    static const int expected[] = { T_DB, T_BP, T_OF, T_UD, T_NP, T_GP };
    for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        trap_register(expected[i], probe_trap);

    printf("sensitive: start\n");
    check_flags();
    check_tables();
    check_far();
    check_segments();
    check_descriptors();
    check_control();
    check_debug();
    check_msr();
    check_cpu();
    check_ports();
    check_interrupts();
    check_user();
    check_undefined();
    printf("sensitive: done\n");
    port_exit_l(0);  // ports.S: the last check, `outl %eax, $imm8` to the debug-exit port
}
