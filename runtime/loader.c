// Multiboot v1 loader (Multiboot Specification 0.6.96 §3.1-3.3) and the ring1 image note.
//
// The kernel is loaded the way GRUB and QEMU's -kernel do it: ELF PT_LOAD segments at their
// physical addresses (p_paddr), bss zeroed, entry point converted to physical; or, with header
// flag 16, the a.out-kludge addresses from the multiboot header. The boot information copies
// QEMU 7.2's layout exactly (read from a guest, runtime/tests/guest/qemuinfo.c) so that a
// kernel printing it prints the same thing on both machines. What to load, and where the boot
// information goes, comes from image.c, which checks the whole file first.
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "mem.h"
#include "patched.h"
#include "segment.h"
#include "vcpu.h"
#include "x86.h"

#define MB_BOOT_MAGIC     0x2BADB002u

// multiboot_info flags.
#define MBI_MEMORY        0x001u
#define MBI_BOOTDEV       0x002u
#define MBI_CMDLINE       0x004u
#define MBI_MODS          0x008u
#define MBI_MMAP          0x040u
#define MBI_LOADER_NAME   0x200u

// Where QEMU 7.2's multiboot path puts things (its option ROM and hw/i386/multiboot.c).
#define QEMU_MMAP_ADDR    0x9000u
#define QEMU_MBI_ADDR     0x9500u
// The option ROM's GDT that GDTR still points at: SeaBIOS puts the multiboot option ROM at
// 0xC0000, or with a VGA after the VGA BIOS's ROM (QEMU 7.2's vgabios-stdvga.bin: 0xCA000).
#define QEMU_GDT_ADDR     0xc02b8u
#define QEMU_GDT_ADDR_VGA 0xca2b8u
#define QEMU_BOOT_ESP     0x6f08u
#define QEMU_BOOT_DEVICE  0x8000ffffu
#define BIOS_RESERVED_TOP 0x20000u     // SeaBIOS keeps the top 128 KiB of RAM (ACPI etc.)

_Static_assert(LOADER_MAX_MODS == IMAGE_MAX_MODS, "one module limit");

static void fail(const char *path, const char *why)
{
    fprintf(stderr, "ring1-run: %s: %s\n", path, why);
    exit(STATUS_LOAD_ERROR);
}

void loader_add_module(struct image *img, const char *arg)
{
    if (img->nmods == LOADER_MAX_MODS) {
        fprintf(stderr, "ring1-run: more than %d --module options\n", LOADER_MAX_MODS);
        exit(STATUS_LOAD_ERROR);
    }
    // "FILE args...": the file is the first word, the whole string is its command line.
    size_t n = strcspn(arg, " ");
    char *file = strndup(arg, n);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 0x40000000) {
        fprintf(stderr, "ring1-run: --module %s: %s\n", file,
                fd < 0 ? strerror(errno) : "not a regular file of at most 1 GiB");
        exit(STATUS_LOAD_ERROR);
    }
    uint8_t *data = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r <= 0) {
            fprintf(stderr, "ring1-run: --module %s: read error\n", file);
            exit(STATUS_LOAD_ERROR);
        }
        got += (size_t)r;
    }
    close(fd);
    free(file);
    img->mods[img->nmods++] = (struct module){arg, data, (uint32_t)st.st_size};
}

static void index_patched(const struct image *img, const struct image_layout *lay);

void loader_load(const char *path, struct image *img)
{
    unsigned nmods = img->nmods;
    struct module mods[LOADER_MAX_MODS];
    memcpy(mods, img->mods, sizeof mods);
    memset(img, 0, sizeof *img);
    img->nmods = nmods;
    memcpy(img->mods, mods, sizeof mods);
    img->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        fail(path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail(path, "not a regular file");
    if (st.st_size < 64)
        fail(path, "too small to be a kernel");
    size_t size = (size_t)st.st_size;
    const uint8_t *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        fail(path, strerror(errno));

    // Everything in the file is checked (image.c) before anything is copied anywhere.
    static struct image_layout lay;
    char err[IMAGE_ERR_LEN];
    const char *why = image_parse(f, size, mem_ram_size, &lay, err, sizeof err);
    if (why)
        fail(path, why);
    for (unsigned i = 0; i < lay.nloads; i++) {
        const struct image_load *l = &lay.loads[i];
        uint8_t *dst = mem_phys(l->paddr, l->memsz);   // image_parse checked: inside RAM
        memcpy(dst, f + l->off, l->filesz);
        memset(dst + l->filesz, 0, l->memsz - l->filesz);
    }
    img->entry = lay.entry;
    img->load_start = lay.load_start;
    img->load_end = lay.load_end;
    img->has_note = lay.has_note;
    img->note = lay.note;
    if (lay.has_note) {
        uint8_t *buf = calloc(1, lay.ring1.memsz);
        if (!buf)
            fail(path, "out of memory for the .ring1 segment");
        memcpy(buf, f + lay.ring1.off, lay.ring1.filesz);
        img->ring1 = buf;
        img->ring1_vaddr = lay.ring1.vaddr;
        img->ring1_len = lay.ring1.memsz;
    }
    memcpy(img->deltas, lay.deltas, sizeof img->deltas);
    img->ndeltas = lay.ndeltas;
    munmap((void *)f, size);
    if (lay.has_note)
        index_patched(img, &lay);
}

// The patched ranges, where the kernel has them in RAM (the undo records that name loaded
// file bytes; the ELF header's is none), for finding copies of them (patched.h). image_parse
// has checked the header and every record. Then copy tracking for every frame but those the
// ranges lie in (which must keep their patched bytes).
static void index_patched(const struct image *img, const struct image_layout *lay)
{
    const uint8_t *hdr = img->ring1 + (img->note.image_vaddr - img->ring1_vaddr);
    struct r1_header h;
    memcpy(&h, hdr, sizeof h);
    for (int pass = 0; pass < 2; pass++) {
        for (const uint8_t *p = hdr + h.undo_off, *end = p + h.undo_size; p < end;) {
            struct r1_undo u;
            memcpy(&u, p, sizeof u);
            for (unsigned i = 0; i < lay->nloads; i++) {
                const struct image_load *l = &lay->loads[i];
                if (u.offset < l->off || u.len > l->filesz || u.offset - l->off > l->filesz - u.len)
                    continue;
                uint32_t home = l->paddr + (u.offset - l->off);
                if (pass == 0)
                    patched_add(home, l->vaddr + (u.offset - l->off), p + sizeof u, u.len,
                                mem_phys(l->paddr, l->filesz), l->paddr, l->filesz);
                else
                    mem_frames_exempt(home, u.len);
            }
            p += sizeof u + ((u.len + 3) & ~3u);
        }
        if (pass == 0) {
            patched_index();
            if (!patched_any())
                return;
            mem_track_copies();
        }
    }
}

// ---- boot information ------------------------------------------------------------------------
struct mb_mmap_entry {
    uint32_t size;   // of the rest of the entry: 20
    uint64_t base, len;
    uint32_t type;   // 1 available, 2 reserved
} __attribute__((packed));

void loader_boot(struct vcpu *v, const struct image *img, const char *cmdline, bool vga)
{
    uint32_t ram = mem_ram_size;
    // The memory map SeaBIOS reports to QEMU's multiboot ROM (e820).
    const struct mb_mmap_entry map[] = {
        {20, 0x00000, 0x9fc00, 1},
        {20, 0x9fc00, 0x00400, 2},
        {20, 0xf0000, 0x10000, 2},
        {20, 0x100000, ram - BIOS_RESERVED_TOP - 0x100000, 1},
        {20, ram - BIOS_RESERVED_TOP, BIOS_RESERVED_TOP, 2},
        {20, 0xfffc0000u, 0x40000, 2},
    };
    uint8_t *mm = mem_phys(QEMU_MMAP_ADDR, sizeof map);
    memcpy(mm, map, sizeof map);

    // After the kernel, as QEMU's hw/i386/multiboot.c lays out its buffer (which starts at
    // the kernel's lowest load address): at the next page, the module list (16 bytes each),
    // then the module command lines, the kernel's "<path> <cmdline>" and the loader name;
    // then, each at the next page, the modules' contents. image_boot_layout checks that all
    // of it fits in RAM.
    size_t linelen = strlen(img->path) + strlen(cmdline ? cmdline : "") + 2;
    char *line = malloc(linelen);
    snprintf(line, linelen, "%s %s", img->path, cmdline ? cmdline : "");
    uint64_t mod_cmdline_len[LOADER_MAX_MODS], mod_size[LOADER_MAX_MODS];
    for (unsigned i = 0; i < img->nmods; i++) {
        mod_cmdline_len[i] = strlen(img->mods[i].cmdline);
        mod_size[i] = img->mods[i].size;
    }
    struct boot_layout bl;
    char err[IMAGE_ERR_LEN];
    const char *why = image_boot_layout(img->load_start, img->load_end, ram, strlen(line),
                                        img->nmods, mod_cmdline_len, mod_size, &bl, err,
                                        sizeof err);
    if (why && bl.bad_mod >= 0) {
        fprintf(stderr, "ring1-run: --module %s: %s\n", img->mods[bl.bad_mod].cmdline, why);
        exit(STATUS_LOAD_ERROR);
    }
    if (why)
        fail(img->path, why);
    uint32_t at = bl.strings_addr;
    for (unsigned i = 0; i < img->nmods; i++) {
        const struct module *m = &img->mods[i];
        uint32_t len = (uint32_t)mod_cmdline_len[i] + 1;
        if (m->size)
            memcpy(mem_phys(bl.mod_addr[i], m->size), m->data, m->size);
        uint32_t entry[4] = {bl.mod_addr[i], bl.mod_addr[i] + m->size, at, 0};
        memcpy(mem_phys(bl.mods_addr + 16 * i, 16), entry, 16);
        memcpy(mem_phys(at, len), m->cmdline, len);
        at += len;
    }
    uint32_t cmd_addr = at, name_addr = at + (uint32_t)strlen(line) + 1;
    memcpy(mem_phys(cmd_addr, (uint32_t)strlen(line) + 1), line, strlen(line) + 1);
    memcpy(mem_phys(name_addr, 5), "qemu", 5);
    free(line);

    uint32_t *mbi = mem_phys(QEMU_MBI_ADDR, 88);
    memset(mbi, 0, 88);
    mbi[0] = MBI_MEMORY | MBI_BOOTDEV | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
    mbi[1] = 0x9fc00 / 1024;                                   // mem_lower: 639 KiB
    mbi[2] = (ram - BIOS_RESERVED_TOP - 0x100000) / 1024;      // mem_upper
    mbi[3] = QEMU_BOOT_DEVICE;
    mbi[4] = cmd_addr;
    mbi[5] = img->nmods;                                       // mods_count
    mbi[6] = bl.mods_addr;                                     // mods_addr
    mbi[11] = sizeof map;                                      // mmap_length
    mbi[12] = QEMU_MMAP_ADDR;
    mbi[16] = name_addr;                                       // boot_loader_name

    // The GDT QEMU's option ROM leaves GDTR pointing at: null, flat code 0x08, flat data
    // 0x10, 16-bit code 0x18, 16-bit data 0x20.
    static const uint64_t gdt[5] = {0, 0x00cf9a000000ffffull, 0x00cf93000000ffffull,
                                    0x00009e000000ffffull, 0x000092000000ffffull};
    uint32_t gdt_addr = vga ? QEMU_GDT_ADDR_VGA : QEMU_GDT_ADDR;
    uint8_t *g = mem_phys(gdt_addr, sizeof gdt);
    if (g)
        memcpy(g, gdt, sizeof gdt);
    v->gdtr = (struct dtr){.base = gdt_addr, .limit = sizeof gdt - 1};

    memset(v->gpr, 0, sizeof v->gpr);
    v->gpr[R_EAX] = MB_BOOT_MAGIC;
    v->gpr[R_EBX] = QEMU_MBI_ADDR;
    v->gpr[R_ESP] = QEMU_BOOT_ESP;
    v->eip = img->entry;
}
