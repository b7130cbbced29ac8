// mov/pop/push of segment registers, the far-pointer loads, mov from segment registers, and
// selector loads that must fault (segments.S).
#include "sensitive.h"

void seg_mov_to(uint32_t sel, uint16_t out[5]);
void seg_pop(uint32_t sel, uint16_t out[5]);
void seg_lxs(uint32_t out[8]);
void seg_mov_from(uint32_t out[9]);
void seg_push32(uint16_t out[12]);
void seg_push16(uint16_t out[12]);
void seg_bad_loads(void);

static void print_sregs(const char *what, const uint16_t s[5])
{
    printf("%s: ds=0x%04x es=0x%04x fs=0x%04x gs=0x%04x ss=0x%04x\n", what, s[0], s[1], s[2],
           s[3], s[4]);
}

static void print_pushes(const char *what, const uint16_t p[12])
{
    static const char *const names[] = { "cs", "ss", "ds", "es", "fs", "gs" };
    printf("%s:", what);
    for (int i = 0; i < 6; i++)
        printf(" %s=0x%04x/-%u", names[i], p[2 * i], p[2 * i + 1]);
    printf("\n");
}

void check_segments(void)
{
    uint16_t s[5], p[12];
    uint32_t v[9];

    seg_mov_to(SEL_KDATA, s);
    print_sregs("mov to sreg", s);
    seg_pop(SEL_KDATA, s);
    print_sregs("pop sreg", s);

    seg_lxs(v);
    printf("lds/les: offset=0x%04x/0x%04x\n", v[0], v[1]);
    printf("lfs window: offset=0x%x fs:[0]=\"%c%c%c%c\"\n", v[2], v[4] & 0xff, (v[4] >> 8) & 0xff,
           (v[4] >> 16) & 0xff, v[4] >> 24);
    printf("lgs ldt entry 0: gs=0x%04x offset=0x%x gs:[0]=\"%c%c%c%c\"\n", v[7], v[3], v[5] & 0xff,
           (v[5] >> 8) & 0xff, (v[5] >> 16) & 0xff, v[5] >> 24);
    printf("lss: esp change=%u\n", v[6]);

    seg_mov_from(v);
    printf("mov cs/ss/ds -> r32: 0x%08x 0x%08x 0x%08x\n", v[0], v[1], v[2]);
    printf("mov cs/ss/ds -> r16: 0x%08x 0x%08x 0x%08x\n", v[3], v[4], v[5]);
    printf("mov cs/ss/ds -> m16: 0x%08x 0x%08x 0x%08x\n", v[6], v[7], v[8]);

    seg_mov_to(SEL_KDATA, s);  // FS and GS back to flat data for the pushes
    seg_push32(p);
    print_pushes("push sreg (32-bit)", p);
    seg_push16(p);
    print_pushes("push sreg (16-bit)", p);

    seg_bad_loads();
}
