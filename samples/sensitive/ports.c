// in, out, ins, outs (ports.S), each result read back from a device with defined state.
#include "sensitive.h"

#define IMR_TEST    0xa5    // a mask pattern to read back; IF=0, so unmasking is harmless
#define SCR_TEST    0x3c
#define PCI_TEST    (PCI_CONFIG_EN | 0x10)  // bus 0 device 0 function 0 register 0x10

uint32_t port_imm8_b(uint32_t v);
uint32_t port_dx_b(uint32_t v);
uint32_t port_imm8_w(uint32_t v);
uint32_t port_dx_w(uint32_t v);
uint32_t port_imm8_l(void);
uint32_t port_dx_l(uint32_t v);
void port_outsb(const char *p);
void port_rep_outsb(const char *p, uint32_t n);
void port_rep_outsb_fs(uint32_t sel, uint32_t n);
void port_ins(uint8_t b[4], uint16_t *w, uint32_t l[2]);

void check_ports(void)
{
    uint8_t imr = inb(PIC1_DATA);

    printf("outb/inb imm8 (PIC1 IMR): wrote 0x%02x read 0x%02x\n", IMR_TEST,
           port_imm8_b(IMR_TEST));
    printf("outb/inb dx (COM1 SCR): wrote 0x%02x read 0x%02x\n", SCR_TEST, port_dx_b(SCR_TEST));
    uint32_t w = (IMR_TEST << 8) | PIC_OCW3_READ_ISR;
    printf("outw/inw imm8 (PIC1 OCW3+IMR): wrote 0x%04x read 0x%04x\n", w, port_imm8_w(w));
    w = ((IMR_TEST ^ 0xff) << 8) | PIC_OCW3_READ_ISR;
    printf("outw/inw dx (PIC1 OCW3+IMR): wrote 0x%04x read 0x%04x\n", w, port_dx_w(w));
    printf("inl imm8 (PIC1 ISR+IMR, low half): 0x%04x\n", port_imm8_l());
    printf("outl/inl dx (PCI CONFIG_ADDRESS): wrote 0x%08x read 0x%08x\n", PCI_TEST,
           port_dx_l(PCI_TEST));

    // The text after each colon is sent by the instruction named before it.
    static const char many[] = "via rep outsb";
    printf("outsb: ");
    port_outsb("*");
    printf("\nrep outsb: ");
    port_rep_outsb(many, sizeof(many) - 1);
    printf("\nrep outsb fs:0 (fs=window): ");
    port_rep_outsb_fs(SEL_WINDOW, 6);
    printf("\n");

    uint8_t b[4];
    uint16_t pic = (IMR_TEST << 8) | PIC_OCW3_READ_ISR;
    uint32_t l[2] = { PCI_TEST, 0 };
    port_ins(b, &pic, l);
    printf("insb + rep insb (COM1 SCR): 0x%02x 0x%02x 0x%02x 0x%02x\n", b[0], b[1], b[2], b[3]);
    printf("outsw/insw (PIC1 OCW3+IMR): 0x%04x\n", pic);
    printf("outsl/rep insl (PCI CONFIG_ADDRESS): 0x%08x 0x%08x\n", l[0], l[1]);

    outl(PCI_CONFIG_ADDR, 0);
    outb(PIC1_CMD, PIC_OCW3_READ_IRR);  // the 8259A's default read register
    outb(PIC1_DATA, imr);
}
