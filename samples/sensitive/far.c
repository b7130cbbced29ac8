// ljmp, lcall and lret within ring 0 (far.S); the cross-privilege ones are in user.S.
#include "sensitive.h"

uint32_t far_ljmp_direct(void);
uint32_t far_ljmp_indirect(void);
uint32_t far_lcall_direct(void);
uint32_t far_lcall_indirect(void);
uint32_t far_lret_imm(uint32_t *esp_delta);
uint32_t far_alias(void);

void check_far(void)
{
    uint32_t delta, v;

    // The first far jump also reloads CS from xgdt (lgdt alone keeps the old cached CS).
    printf("ljmp ptr16:32: cs=0x%04x\n", far_ljmp_direct());
    printf("ljmp m16:32: cs=0x%04x\n", far_ljmp_indirect());
    printf("lcall ptr16:32 + lret: callee saw cs=0x%04x\n", far_lcall_direct());
    printf("lcall m16:32 + lret: callee saw cs=0x%04x\n", far_lcall_indirect());
    v = far_lret_imm(&delta);
    printf("lcall + lret $8: callee arg=0x%04x, esp change after return=%u\n", v, delta);
    printf("ljmp to alias selector: cs=0x%04x, then back: cs=0x%04x\n", far_alias(),
           far_ljmp_direct());
}
