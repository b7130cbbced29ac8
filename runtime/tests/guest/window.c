// Touches the top 4 MiB, where a patched image has its hypervisor window by default. On the
// PC (and unpatched) that range holds nothing but the BIOS ROM's last 256 KiB: a write there
// vanishes. The command line adds, in order:
//   read    read 0xffe00000 back (nothing there: QEMU reads 0)
//   paging  turn paging on with 0xffe00000 mapped to RAM at 0x300000 and 0xffe01000 not
//           present: a write through the first reaches that RAM, a read of the second is
//           a #PF with CR2 0xffe01000
//   jump    jump to 0xffe00000 (ring1 cannot run code there: diagnosed, status 12)
#include "glib.h"

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static volatile uint32_t pf_cr2, pf_err, pf_seen;

void pf_entry(void);
__asm__(".globl pf_entry\n"
        "pf_entry:\n"
        "  popl pf_err\n"
        "  pushl %eax\n"
        "  movl %cr2, %eax\n"
        "  movl %eax, pf_cr2\n"
        "  incl pf_seen\n"
        "  addl $2, 4(%esp)\n"          // past the 2-byte movl (%eax), %ebx
        "  popl %eax\n"
        "  iret\n");

static int has(const char *cmd, const char *word)
{
    for (; *cmd; cmd++) {
        const char *a = cmd, *b = word;
        while (*b && *a == *b)
            a++, b++;
        if (!*b && cmd[-1] == ' ')
            return 1;
    }
    return 0;
}

int gmain(uint32_t magic, uint32_t info)
{
    (void)magic;
    const char *cmd = (const char *)((uint32_t *)info)[4];
    *(volatile uint32_t *)0xffe00000 = 1;
    puts("wrote to 0xffe00000\n");
    if (has(cmd, "read")) {
        puts("read back ");
        puthex(*(volatile uint32_t *)0xffe00000);
        puts("\n");
    }
    if (has(cmd, "paging")) {
        idt_gate(14, pf_entry);
        pd[0] = 0x00000083;                          // 0-4 MiB: one 4 MiB page, identity
        pd[0xffe00000u >> 22] = (uint32_t)pt | 3;
        pt[(0xffe00000u >> 12) & 1023] = 0x300000 | 3;
        *(volatile uint32_t *)0x300010 = 0;
        __asm__ volatile("movl %%cr4, %%eax; orl $0x10, %%eax; movl %%eax, %%cr4\n"   // PSE
                         "movl %0, %%cr3\n"
                         "movl %%cr0, %%eax; orl $0x80000000, %%eax; movl %%eax, %%cr0"
                         :: "r"(pd) : "eax", "memory");
        *(volatile uint32_t *)0xffe00010 = 0x12345678;
        puts("through 0xffe00010: ram 0x300010 = ");
        puthex(*(volatile uint32_t *)0x300010);
        puts(", read back ");
        puthex(*(volatile uint32_t *)0xffe00010);
        puts("\n");
        uint32_t got;
        __asm__ volatile("movl $0, %%ebx\n"
                         "  movl (%%eax), %%ebx" : "=b"(got) : "a"(0xffe01004u) : "memory");
        puts("read 0xffe01004: ");
        puts(pf_seen == 1 ? "#PF cr2 " : "no #PF, cr2 ");
        puthex(pf_cr2);
        puts(" error ");
        puthex(pf_err);
        puts("\n");
    }
    if (has(cmd, "jump"))
        ((void (*)(void))0xffe00000)();
    return 0;
}
