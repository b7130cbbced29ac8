// Ring 3 and back (user.S): iret and lret to ring 3, sysenter/sysexit, a call gate, and
// int $0x80 through a DPL-3 gate with the TSS's stack switch.
#include "sensitive.h"

extern uint8_t user_stack_top[], sysenter_stack_top[];
void user_main(void);
void sysenter_entry(void);

void sysenter_seen(uint32_t eax, uint32_t user_esp, uint32_t cs3, uint32_t ss3, uint32_t fl3,
                   uint32_t cs, uint32_t ss)
{
    printf("iret to ring 3: cs=0x%04x ss=0x%04x pushfl: ", cs3, ss3);
    print_vflags(fl3);
    printf("\nsysenter: ring 0 cs=0x%04x ss=0x%04x, eax=0x%x, user esp=%s\n", cs, ss, eax,
           user_esp == (uint32_t)user_stack_top ? "user_stack_top" : addr_name(user_esp));
}

void callgate_seen(const uint32_t *frame, uint32_t cs3, uint32_t ss3, uint32_t cs, uint32_t ss)
{
    printf("sysexit to ring 3: cs=0x%04x ss=0x%04x\n", cs3, ss3);
    printf("lcall gate 0x%04x: ring 0 cs=0x%04x ss=0x%04x, caller cs=0x%04x ss=0x%04x\n",
           SEL_GATE, cs, ss, frame[1] & 0xffff, frame[3] & 0xffff);
}

static void on_syscall(struct trapframe *tf)
{
    printf("lret to ring 3: cs=0x%04x ss=0x%04x\n", tf->ebx & 0xffff, tf->esi & 0xffff);
    printf("int $0x%x from ring 3: frame cs=0x%04x ss=0x%04x\n", tf->trapno, tf->cs, tf->ss);
    ring3_leave(tf);
}

void check_user(void)
{
    wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
    wrmsr(MSR_SYSENTER_ESP, (uint32_t)sysenter_stack_top);
    wrmsr(MSR_SYSENTER_EIP, (uint32_t)sysenter_entry);
    trap_register(SYSCALL_VECTOR, on_syscall);
    idt_set_gate(SYSCALL_VECTOR, DESC_T_INTGATE, 3);

    ring3_call(user_main, user_stack_top, FL_1);  // IF=0 IOPL=0 in ring 3
    uint32_t cs;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    printf("back in ring 0: cs=0x%04x\n", cs);
}
