// Multiboot v1 loader (Multiboot Specification 0.6.96 §3.1-3.3), the Linux 32-bit boot
// protocol (the kernel's Documentation/arch/x86/boot.rst) and the ring1 image note.
//
// The kernel is loaded the way GRUB and QEMU's -kernel do it: ELF PT_LOAD segments at their
// physical addresses (p_paddr), bss zeroed, entry point converted to physical; or, with header
// flag 16, the a.out-kludge addresses from the multiboot header. The boot information copies
// QEMU 7.2's layout exactly (read from a guest, runtime/tests/guest/qemuinfo.c) so that a
// kernel printing it prints the same thing on both machines. What to load, and where the boot
// information goes, comes from image.c, which checks the whole file first.
//
// A Linux vmlinux (an ELF with a "Linux" note and no multiboot header) is loaded the same way
// (PT_LOADs at p_paddr) and entered as a boot loader enters a bzImage's 32-bit entry after its
// real-mode setup has run: %esi = the zero page, flat __BOOT_CS 0x10 / __BOOT_DS 0x18, paging
// and interrupts off. The zero page holds the bzImage's setup header (--linux-setup) patched as
// QEMU's x86_load_linux patches it, and what the setup code would have asked the BIOS: the
// e820 map (the one SeaBIOS gives both boot paths here), the old memory sizes, the video
// state (linux_bios_answers).
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware.h"
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

_Static_assert(LOADER_MAX_MODS == IMAGE_MAX_MODS, "one module limit");

static void fail(const char *path, const char *why)
{
    fprintf(stderr, "ring1-run: %s: %s\n", path, why);
    exit(STATUS_LOAD_ERROR);
}

// A whole file, at most max bytes of it (the rest not read); exits on error.
static uint8_t *read_file(const char *opt, const char *path, uint64_t max, uint32_t *size,
                          bool cut)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (!cut && (uint64_t)st.st_size > max)) {
        fprintf(stderr, "ring1-run: %s %s: %s\n", opt, path,
                fd < 0 ? strerror(errno) : !S_ISREG(st.st_mode) ? "not a regular file"
                                                                  : "larger than guest RAM");
        exit(STATUS_LOAD_ERROR);
    }
    size_t n = (uint64_t)st.st_size < max ? (size_t)st.st_size : (size_t)max;
    uint8_t *data = malloc(n ? n : 1);
    size_t got = 0;
    while (data && got < n) {
        ssize_t r = read(fd, data + got, n - got);
        if (r <= 0) {
            fprintf(stderr, "ring1-run: %s %s: read error\n", opt, path);
            exit(STATUS_LOAD_ERROR);
        }
        got += (size_t)r;
    }
    if (!data) {
        fprintf(stderr, "ring1-run: %s %s: out of memory\n", opt, path);
        exit(STATUS_LOAD_ERROR);
    }
    close(fd);
    *size = (uint32_t)n;
    return data;
}

void loader_set_linux_setup(struct image *img, const char *path)
{
    uint32_t n;
    uint8_t *f = read_file("--linux-setup", path, LINUX_READ, &n, true);
    char err[IMAGE_ERR_LEN];
    const char *why = image_linux_header(f, n, &img->linux_hdr, err, sizeof err);
    if (why) {
        fprintf(stderr, "ring1-run: --linux-setup %s: %s\n", path, why);
        exit(STATUS_LOAD_ERROR);
    }
    free(f);
    img->linux_setup = path;
}

void loader_set_initrd(struct image *img, const char *path)
{
    img->initrd = read_file("--initrd", path, mem_ram_size, &img->initrd_size, false);
    img->initrd_path = path;
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
    static struct image keep;
    keep = *img;
    memset(img, 0, sizeof *img);
    img->nmods = keep.nmods;
    memcpy(img->mods, keep.mods, sizeof keep.mods);
    img->linux_setup = keep.linux_setup;
    img->linux_hdr = keep.linux_hdr;
    img->initrd_path = keep.initrd_path;
    img->initrd = keep.initrd;
    img->initrd_size = keep.initrd_size;
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
    if (!lay.is_linux && img->linux_setup)
        fail(path, "--linux-setup is for a Linux vmlinux, and this is a multiboot kernel");
    if (!lay.is_linux && img->initrd_path)
        fail(path, "--initrd is for a Linux kernel (a multiboot kernel takes --module)");
    if (lay.is_linux && img->nmods)
        fail(path, "--module is for a multiboot kernel (a Linux kernel takes --initrd)");
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
    img->is_linux = lay.is_linux;
    if (lay.is_linux && !img->linux_setup)
        image_linux_default_header(lay.load_start, lay.load_end, &img->linux_hdr);
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
    // Each load's bytes as the input had them (every undo record applied), for the context of
    // the int3 sites' fingerprints (patched.c).
    uint8_t *orig[IMAGE_MAX_LOADS] = {0};
    for (unsigned i = 0; i < lay->nloads; i++) {
        if (!(orig[i] = malloc(lay->loads[i].filesz ? lay->loads[i].filesz : 1)))
            fail(img->path, "out of memory for the patched ranges");
        memcpy(orig[i], mem_phys(lay->loads[i].paddr, lay->loads[i].filesz),
               lay->loads[i].filesz);
    }
    for (int pass = 0; pass < 3; pass++) {
        for (const uint8_t *p = hdr + h.undo_off, *end = p + h.undo_size; p < end;) {
            struct r1_undo u;
            memcpy(&u, p, sizeof u);
            for (unsigned i = 0; i < lay->nloads; i++) {
                const struct image_load *l = &lay->loads[i];
                if (u.offset < l->off || u.len > l->filesz || u.offset - l->off > l->filesz - u.len)
                    continue;
                uint32_t at = u.offset - l->off;
                if (pass == 0)
                    memcpy(orig[i] + at, p + sizeof u, u.len);
                else if (pass == 1)
                    patched_add(l->paddr + at, l->vaddr + at, p + sizeof u, u.len,
                                mem_phys(l->paddr, l->filesz), orig[i], l->paddr, l->filesz);
                else
                    mem_frames_exempt(l->paddr + at, u.len);
            }
            p += sizeof u + ((u.len + 3) & ~3u);
        }
        if (pass == 1) {
            for (unsigned i = 0; i < lay->nloads; i++)
                free(orig[i]);
            patched_index();
            if (!patched_any())
                return;
            mem_track_copies();
            for (unsigned i = 0; i < lay->nloads; i++)
                mem_image_bytes(lay->loads[i].paddr, lay->loads[i].filesz);
        }
    }
}

// ---- boot information ------------------------------------------------------------------------
struct mb_mmap_entry {
    uint32_t size;   // of the rest of the entry: 20
    uint64_t base, len;
    uint32_t type;   // 1 available, 2 reserved
} __attribute__((packed));

// The memory map SeaBIOS reports through int 15h e820 (to QEMU's multiboot ROM and to Linux's
// real-mode setup alike): the PC's holes below 1 MiB, the top 128 KiB of RAM it keeps, the BIOS
// ROM below 4 GiB. Returns the number of entries.
struct e820_entry {
    uint64_t base, len;
    uint32_t type;   // 1 available, 2 reserved
} __attribute__((packed));
#define E820_N 6

static unsigned pc_e820(uint32_t ram, struct e820_entry map[E820_N])
{
    const struct e820_entry m[E820_N] = {
        {0x00000, 0x9fc00, 1},
        {0x9fc00, 0x00400, 2},
        {0xf0000, 0x10000, 2},
        {0x100000, ram - BIOS_RESERVED_TOP - 0x100000, 1},
        {ram - BIOS_RESERVED_TOP, BIOS_RESERVED_TOP, 2},
        {0xfffc0000u, 0x40000, 2},
    };
    memcpy(map, m, sizeof m);
    return E820_N;
}

static void boot_linux(struct vcpu *v, const struct image *img, const char *cmdline, bool vga);

void loader_boot(struct vcpu *v, const struct image *img, const char *cmdline, bool vga)
{
    if (img->is_linux) {
        boot_linux(v, img, cmdline, vga);
        return;
    }
    uint32_t ram = mem_ram_size;
    struct e820_entry e820[E820_N];
    unsigned n = pc_e820(ram, e820);
    struct mb_mmap_entry map[E820_N];
    for (unsigned i = 0; i < n; i++)
        map[i] = (struct mb_mmap_entry){20, e820[i].base, e820[i].len, e820[i].type};
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

// ---- the Linux boot protocol ------------------------------------------------------------------
// Zero-page (struct boot_params) offsets.
#define BP_E820_ENTRIES  0x1e8
#define BP_E820_TABLE    0x2d0
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS     0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE  0x21c
#define BP_HEAP_END_PTR  0x224
#define BP_CMD_LINE_PTR  0x228
#define LF_CAN_USE_HEAP  0x80
// What Linux's decompressor (which ring1 does not run: it enters the vmlinux) leaves in the
// zero page: where it found the ACPI root pointer, by the BIOS area scan.
#define BP_ACPI_RSDP_ADDR 0x070

// What Linux's real-mode setup code (arch/x86/boot: main.c, memory.c, video*.c) stores in the
// zero page from the BIOS's answers, which ring1 gives without running it: SeaBIOS's answers on
// this PC, read from QEMU -nodefaults with and without -vga std (the zero page Linux keeps,
// /sys/kernel/boot_params/data, at -m 64 and -m 256).
#define BP_VIDEO_X       0x000   // screen_info.orig_x, orig_y: int 10h, AH=03h
#define BP_VIDEO_Y       0x001
#define BP_EXT_MEM_K     0x002   // screen_info.ext_mem_k: int 15h, AH=88h
#define BP_VIDEO_PAGE    0x004
#define BP_VIDEO_MODE    0x006
#define BP_VIDEO_COLS    0x007
#define BP_VIDEO_EGA_BX  0x00a
#define BP_VIDEO_LINES   0x00e
#define BP_VIDEO_ISVGA   0x00f
#define BP_VIDEO_POINTS  0x010
#define BP_IST_INFO      0x060
#define BP_EDID_INFO     0x140
#define BP_ALT_MEM_K     0x1e0   // int 15h, AX=E801h

// The EDID QEMU 7.2's std VGA BIOS reports (VBE function 4F15h), which Linux's setup stores.
static const uint8_t qemu_stdvga_edid[128] = {
    0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x49, 0x14, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,
    0x2a, 0x18, 0x01, 0x04, 0xa5, 0x20, 0x14, 0x78, 0x06, 0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26,
    0x0f, 0x50, 0x54, 0x21, 0x08, 0x00, 0xe1, 0xc0, 0xd1, 0xc0, 0xd1, 0x00, 0xa9, 0x40, 0xb3, 0x00,
    0x95, 0x00, 0x81, 0x80, 0x81, 0x40, 0xea, 0x29, 0x00, 0xc0, 0x51, 0x20, 0x1c, 0x30, 0x40, 0x26,
    0x44, 0x40, 0x45, 0xcb, 0x10, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0xf7, 0x00, 0x0a, 0x00, 0x40,
    0x82, 0x00, 0x28, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x32,
    0x7d, 0x1e, 0xa0, 0xff, 0x01, 0x0a, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x00, 0x00, 0x00, 0xfc,
    0x00, 0x51, 0x45, 0x4d, 0x55, 0x20, 0x4d, 0x6f, 0x6e, 0x69, 0x74, 0x6f, 0x72, 0x0a, 0x01, 0x3a,
};

static void linux_bios_answers(uint8_t *zp, uint32_t ram, bool vga)
{
    // SeaBIOS's RAM size for the old memory calls: the top of RAM it leaves usable.
    uint32_t rs = ram - BIOS_RESERVED_TOP;
    uint16_t ext = rs > (64u << 20) ? 63 * 1024 : (uint16_t)((rs - 0x100000) / 1024);
    memcpy(zp + BP_EXT_MEM_K, &ext, 2);
    uint32_t alt = rs > (16u << 20) ? 15 * 1024 + ((rs - (16u << 20)) >> 16) * 64
                                    : (rs - 0x100000) / 1024;
    memcpy(zp + BP_ALT_MEM_K, &alt, 4);
    const uint8_t *bda = mem_phys(0x400, 0x100);
    uint16_t ega_bx, points;
    if (vga) {
        // The std VGA's BIOS in text mode 3 answers int 10h from the BIOS data area: the
        // cursor (AH=03h) and the mode and page (AH=0Fh) where SeaBIOS left them; the EGA/VGA
        // checks find a VGA (BX 3, then AL 1Ah); the font height; the EDID through VBE. Linux
        // says "Console: colour VGA+ 80x25", as under QEMU -vga std.
        zp[BP_VIDEO_X] = bda[0x50];
        zp[BP_VIDEO_Y] = bda[0x51];
        zp[BP_VIDEO_MODE] = bda[0x49] & 0x7f;
        zp[BP_VIDEO_PAGE] = bda[0x62];
        ega_bx = 3;
        zp[BP_VIDEO_ISVGA] = 1;
        memcpy(&points, bda + 0x85, 2);
        memcpy(zp + BP_EDID_INFO, qemu_stdvga_edid, sizeof qemu_stdvga_edid);
    } else {
        // No video BIOS answers int 10h (QEMU -nodefaults, ring1 --vga none), so every call
        // returns the registers it was given: cursor 0,0, mode 0, the EGA check's BX still
        // 0x10 (a CGA); the font height from the BIOS data area; the setup code's "no EDID"
        // filler. Linux then says "Console: colour *CGA 80x25", as under QEMU -nodefaults.
        ega_bx = 0x10;
        memcpy(&points, bda + 0x85, 2);
        memset(zp + BP_EDID_INFO, 0x13, 128);
    }
    zp[BP_VIDEO_COLS] = 80;       // the default mode sets 80x25 by itself
    zp[BP_VIDEO_LINES] = 25;
    memcpy(zp + BP_VIDEO_EGA_BX, &ega_bx, 2);
    memcpy(zp + BP_VIDEO_POINTS, &points, 2);
    // SpeedStep IST (int 15h, AX=E980h): SeaBIOS does not implement it and answers AH=86h,
    // leaving the other registers; the setup code stores them as they come back.
    const uint32_t ist[4] = {0x8680, 0, 0, 0x47534943};
    memcpy(zp + BP_IST_INFO, ist, sizeof ist);
}

static void boot_linux(struct vcpu *v, const struct image *img, const char *cmdline, bool vga)
{
    const struct linux_header *h = &img->linux_hdr;
    uint32_t ram = mem_ram_size;
    size_t cmdlen = strlen(cmdline ? cmdline : "");
    struct linux_layout L;
    char err[IMAGE_ERR_LEN];
    const char *why = image_linux_layout(h, img->load_start, img->load_end, ram, cmdlen,
                                         img->initrd_path ? img->initrd_size : 0, &L, err,
                                         sizeof err);
    if (why && img->initrd_path && strstr(why, "initrd")) {
        fprintf(stderr, "ring1-run: --initrd %s: %s\n", img->initrd_path, why);
        exit(STATUS_LOAD_ERROR);
    }
    if (why)
        fail(img->path, why);

    // The zero page: zeroes, the setup header as the bzImage has it, then what QEMU's loader
    // writes into the header and what the real-mode setup code would have asked the BIOS.
    uint8_t *zp = mem_phys(L.zero_page, 4096);
    memset(zp, 0, 4096);
    memcpy(zp + LINUX_HDR_OFF, h->bytes, h->end - LINUX_HDR_OFF);
    zp[BP_TYPE_OF_LOADER] = LINUX_LOADER_QEMU;
    zp[BP_LOADFLAGS] |= LF_CAN_USE_HEAP;
    uint16_t heap_end = (uint16_t)(L.cmdline - L.zero_page - 0x200);
    memcpy(zp + BP_HEAP_END_PTR, &heap_end, 2);
    memcpy(zp + BP_CMD_LINE_PTR, &L.cmdline, 4);
    memcpy(zp + BP_RAMDISK_IMAGE, &L.initrd, 4);
    memcpy(zp + BP_RAMDISK_SIZE, &L.initrd_size, 4);
    struct e820_entry e820[E820_N];
    unsigned n = pc_e820(ram, e820);
    zp[BP_E820_ENTRIES] = (uint8_t)n;
    memcpy(zp + BP_E820_TABLE, e820, sizeof e820);
    linux_bios_answers(zp, ram, vga);
    uint64_t rsdp = ACPI_RSDP_ADDR;
    memcpy(zp + BP_ACPI_RSDP_ADDR, &rsdp, 8);

    memcpy(mem_phys(L.cmdline, (uint32_t)cmdlen + 1), cmdline ? cmdline : "", cmdlen + 1);
    if (L.initrd_size)
        memcpy(mem_phys(L.initrd, L.initrd_size), img->initrd, L.initrd_size);

    // The 32-bit boot protocol: a GDT with flat __BOOT_CS (0x10) and __BOOT_DS (0x18), CS and
    // the data segments loaded from it, paging and interrupts off, %esi the zero page, %ebp,
    // %edi and %ebx zero.
    // (Accessed bits set, as Linux's own setup code writes them and as loading them sets.)
    static const uint64_t gdt[4] = {0, 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    memcpy(mem_phys(L.gdt, sizeof gdt), gdt, sizeof gdt);
    v->gdtr = (struct dtr){.base = L.gdt, .limit = sizeof gdt - 1};
    seg_set_flat(v, R1_SREG_CS, 0x10, true, 0);
    static const int data[] = {R1_SREG_ES, R1_SREG_SS, R1_SREG_DS, R1_SREG_FS, R1_SREG_GS};
    for (unsigned i = 0; i < 5; i++)
        seg_set_flat(v, data[i], 0x18, false, 0);
    memset(v->gpr, 0, sizeof v->gpr);
    v->gpr[R_ESI] = L.zero_page;
    v->gpr[R_ESP] = L.esp;
    v->eip = img->entry;
}
