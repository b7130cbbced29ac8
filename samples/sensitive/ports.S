# in/out in every operand size with an imm8 port and with DX, and ins/outs with and without
# rep (one with an FS override). Devices are chosen for deterministic read-back:
#   PIC1 (0x20/0x21): a 16-bit access is command port + IMR; after OCW3 "read ISR" the command
#                     port reads the in-service register, 0 outside interrupt handlers.
#   COM1 scratch (0x3ff): plain storage.    PCI CONFIG_ADDRESS (0xcf8): reads back as written.
#include "sensitive.h"

.text
.globl port_imm8_b, port_dx_b, port_imm8_w, port_dx_w, port_imm8_l, port_dx_l
.globl port_outsb, port_rep_outsb, port_rep_outsb_fs, port_ins, port_exit_l

# uint32_t port_imm8_b(uint32_t v): PIC1 IMR
port_imm8_b:
    movl 4(%esp), %eax
    outb %al, $PIC1_DATA
    xorl %eax, %eax
    inb $PIC1_DATA, %al
    ret

# uint32_t port_dx_b(uint32_t v): COM1 scratch register
port_dx_b:
    movl 4(%esp), %eax
    movw $(COM1 + UART_SCR), %dx
    outb %al, %dx
    xorl %eax, %eax
    inb %dx, %al
    ret

# uint32_t port_imm8_w(uint32_t v): v = IMR << 8 | OCW3; reads ISR | IMR << 8
port_imm8_w:
    movl 4(%esp), %eax
    outw %ax, $PIC1_CMD
    xorl %eax, %eax
    inw $PIC1_CMD, %ax
    ret

# uint32_t port_dx_w(uint32_t v): as port_imm8_w, port in DX
port_dx_w:
    movl 4(%esp), %eax
    movw $PIC1_CMD, %dx
    outw %ax, %dx
    xorl %eax, %eax
    inw %dx, %ax
    ret

# uint32_t port_imm8_l(void): 32-bit read at PIC1_CMD; only the low half (ISR, IMR) is
# defined: what answers at 0x22/0x23 differs between chipsets.
port_imm8_l:
    inl $PIC1_CMD, %eax
    movzwl %ax, %eax
    ret

# uint32_t port_dx_l(uint32_t v): PCI CONFIG_ADDRESS
port_dx_l:
    movl 4(%esp), %eax
    movw $PCI_CONFIG_ADDR, %dx
    outl %eax, %dx
    xorl %eax, %eax
    inl %dx, %eax
    ret

# void port_outsb(const char *p): one outsb to the COM1 transmit register
port_outsb:
    pushl %esi
    movw $(COM1 + UART_THR), %dx
    movl 8(%esp), %esi
    outsb
    popl %esi
    ret

# void port_rep_outsb(const char *p, uint32_t n)
port_rep_outsb:
    pushl %esi
    movw $(COM1 + UART_THR), %dx
    movl 8(%esp), %esi
    movl 12(%esp), %ecx
    rep outsb
    popl %esi
    ret

# void port_rep_outsb_fs(uint32_t sel, uint32_t n): n bytes from sel:0 (FS override)
port_rep_outsb_fs:
    pushl %esi
    movw $(COM1 + UART_THR), %dx
    movw 8(%esp), %fs
    xorl %esi, %esi
    movl 12(%esp), %ecx
    rep outsb %fs:(%esi), (%dx)
    movw $SEL_KDATA, %ax
    movw %ax, %fs
    popl %esi
    ret

# void port_ins(uint8_t b[4], uint16_t *w, uint32_t l[2])
#   b: insb then rep insb x3 from COM1 scratch (set to 0x5a, then 0xa5 in between)
#   w: outsw then insw at PIC1_CMD from/to *w (as port_imm8_w)
#   l: outsl l[0] to CONFIG_ADDRESS, then rep insl x2 into l[0..1]
port_ins:
    pushl %edi
    pushl %esi
    movw $(COM1 + UART_SCR), %dx
    movb $0x5a, %al
    outb %al, %dx
    movl 12(%esp), %edi
    insb
    movb $0xa5, %al
    outb %al, %dx
    movl $3, %ecx
    rep insb

    movw $PIC1_CMD, %dx
    movl 16(%esp), %esi
    outsw
    movl 16(%esp), %edi
    insw

    movw $PCI_CONFIG_ADDR, %dx
    movl 20(%esp), %esi
    outsl
    movl 20(%esp), %edi
    movl $2, %ecx
    rep insl
    popl %esi
    popl %edi
    ret

# void port_exit_l(uint32_t code): outl with an imm8 port, to QEMU's debug-exit device,
# which then exits with status (code << 1) | 1. Does not return.
port_exit_l:
    movl 4(%esp), %eax
    outl %eax, $DEBUG_EXIT_PORT
1:  cli
    hlt
    jmp 1b
