// Multiboot v1 loader (Multiboot Specification 0.6.96 §3.1-3.3) and the ring1 image note.
//
// The kernel is loaded the way GRUB and QEMU's -kernel do it: ELF PT_LOAD segments at their
// physical addresses (p_paddr), bss zeroed, entry point converted to physical; or, with header
// flag 16, the a.out-kludge addresses from the multiboot header. The boot information copies
// QEMU 7.2's layout exactly (read from a guest, runtime/tests/guest/qemuinfo.c) so that a
// kernel printing it prints the same thing on both machines.
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "segment.h"
#include "vcpu.h"
#include "x86.h"

#define MB_HEADER_MAGIC   0x1BADB002u
#define MB_BOOT_MAGIC     0x2BADB002u
#define MB_SEARCH         8192        // the header lies within the first 8 KiB
#define MB_FLAG_PAGE      0x00000001u // align modules on pages
#define MB_FLAG_MEMINFO   0x00000002u // wants mem_* and the memory map
#define MB_FLAG_VIDEO     0x00000004u // wants video mode info (not provided; QEMU neither)
#define MB_FLAG_AOUT      0x00010000u // load addresses are in the header (a.out kludge)
#define MB_REQUIRED_KNOWN (MB_FLAG_PAGE | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)

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
#define QEMU_GDT_ADDR     0xc02b8u     // the option ROM's GDT that GDTR still points at
#define QEMU_BOOT_ESP     0x6f08u
#define QEMU_BOOT_DEVICE  0x8000ffffu
#define BIOS_RESERVED_TOP 0x20000u     // SeaBIOS keeps the top 128 KiB of RAM (ACPI etc.)

static void fail(const char *path, const char *why)
{
    fprintf(stderr, "ring1-run: %s: %s\n", path, why);
    exit(STATUS_LOAD_ERROR);
}

static void copy_in(const char *path, uint32_t paddr, const uint8_t *src, uint32_t filesz,
                    uint32_t memsz)
{
    uint8_t *dst = mem_phys(paddr, memsz);
    if (!dst) {
        char msg[160];
        snprintf(msg, sizeof msg, "segment at physical %#x-%#x is outside guest RAM (%u MiB); "
                 "try a larger --mem", paddr, paddr + memsz, mem_ram_size >> 20);
        fail(path, msg);
    }
    memcpy(dst, src, filesz);
    memset(dst + filesz, 0, memsz - filesz);
}

// Look for the ring1 note among a block of notes.
static bool find_note(const uint8_t *p, size_t len, struct r1_note *out)
{
    size_t off = 0;
    while (off + sizeof(Elf32_Nhdr) <= len) {
        const Elf32_Nhdr *n = (const Elf32_Nhdr *)(p + off);
        size_t name_off = off + sizeof *n, desc_off = name_off + ((n->n_namesz + 3) & ~3u);
        size_t next = desc_off + ((n->n_descsz + 3) & ~3u);
        if (next > len)
            return false;
        if (n->n_type == R1_NOTE_ABI && n->n_namesz == sizeof R1_NOTE_NAME &&
            memcmp(p + name_off, R1_NOTE_NAME, sizeof R1_NOTE_NAME) == 0) {
            if (n->n_descsz < sizeof *out)
                return false;
            memcpy(out, p + desc_off, sizeof *out);
            return true;
        }
        off = next;
    }
    return false;
}

static const Elf32_Ehdr *elf_header(const uint8_t *f, size_t size)
{
    const Elf32_Ehdr *eh = (const Elf32_Ehdr *)f;
    if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_machine != EM_386 ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > size)
        return NULL;
    return eh;
}

static bool in_window(const struct image *img, uint32_t vaddr)
{
    return img->has_note && vaddr >= img->note.window_base &&
           vaddr - img->note.window_base < R1_WINDOW_SIZE;
}

// A patched image (ELF, whatever its multiboot header says): the ring1 note, which names
// the window, and the .ring1 segment inside it, which lives in the window, not in RAM.
static void elf_ring1(const char *path, const uint8_t *f, size_t size, struct image *img)
{
    const Elf32_Ehdr *eh = elf_header(f, size);
    if (!eh)
        return;
    const Elf32_Phdr *ph = (const Elf32_Phdr *)(f + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum && !img->has_note; i++)
        if (ph[i].p_type == PT_NOTE && ph[i].p_offset + (uint64_t)ph[i].p_filesz <= size)
            img->has_note = find_note(f + ph[i].p_offset, ph[i].p_filesz, &img->note);
    if (!img->has_note && eh->e_shoff && eh->e_shentsize == sizeof(Elf32_Shdr) &&
        eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf32_Shdr) <= size) {
        const Elf32_Shdr *sh = (const Elf32_Shdr *)(f + eh->e_shoff);
        for (int i = 0; i < eh->e_shnum && !img->has_note; i++)
            if (sh[i].sh_type == SHT_NOTE && sh[i].sh_offset + (uint64_t)sh[i].sh_size <= size)
                img->has_note = find_note(f + sh[i].sh_offset, sh[i].sh_size, &img->note);
    }
    if (!img->has_note)
        return;
    const struct r1_note *n = &img->note;
    if (n->abi_version != R1_ABI_VERSION) {
        char msg[200];
        snprintf(msg, sizeof msg, "patched for ring1 ABI version %u, but this runtime "
                 "implements version %u: rewrite the image with a matching rewriter",
                 n->abi_version, R1_ABI_VERSION);
        fail(path, msg);
    }
    if (n->window_base & (R1_WINDOW_SIZE - 1))
        fail(path, "ring1 note: window base is not aligned to the window size");
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf32_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || p->p_memsz == 0 || !in_window(img, p->p_vaddr))
            continue;
        if (p->p_offset + (uint64_t)p->p_filesz > size || p->p_filesz > p->p_memsz)
            fail(path, ".ring1 segment outside the file");
        uint32_t off = p->p_vaddr - n->window_base;
        if (off < R1_IMAGE_OFF || off + (uint64_t)p->p_memsz > R1_WINDOW_SIZE)
            fail(path, ".ring1 segment overlaps the runtime's part of the window");
        uint8_t *buf = calloc(1, p->p_memsz);
        memcpy(buf, f + p->p_offset, p->p_filesz);
        img->ring1 = buf;
        img->ring1_vaddr = p->p_vaddr;
        img->ring1_len = p->p_memsz;
    }
    if (!img->ring1)
        fail(path, "ring1 note present but no .ring1 segment inside the window");
}

static void load_elf(const char *path, const uint8_t *f, size_t size, struct image *img)
{
    const Elf32_Ehdr *eh = elf_header(f, size);
    if (!eh)
        fail(path, "not a 32-bit x86 ELF (and no a.out-kludge multiboot header)");
    const Elf32_Phdr *ph = (const Elf32_Phdr *)(f + eh->e_phoff);
    img->load_start = UINT32_MAX;
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf32_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || p->p_memsz == 0 || in_window(img, p->p_vaddr))
            continue;
        if (p->p_offset + (uint64_t)p->p_filesz > size || p->p_filesz > p->p_memsz)
            fail(path, "PT_LOAD segment outside the file");
        copy_in(path, p->p_paddr, f + p->p_offset, p->p_filesz, p->p_memsz);
        uint32_t delta = p->p_vaddr - p->p_paddr;
        bool known = delta == 0;
        for (unsigned k = 0; k < img->ndeltas; k++)
            known |= img->deltas[k] == delta;
        if (!known && img->ndeltas < 4)
            img->deltas[img->ndeltas++] = delta;
        if (p->p_paddr < img->load_start)
            img->load_start = p->p_paddr;
        if (p->p_paddr + p->p_memsz > img->load_end)
            img->load_end = p->p_paddr + p->p_memsz;
        // The entry point is virtual; jump to its physical address (GRUB, QEMU's load_elf).
        if (eh->e_entry >= p->p_vaddr && eh->e_entry - p->p_vaddr < p->p_filesz &&
            (p->p_flags & PF_X))
            img->entry = eh->e_entry - p->p_vaddr + p->p_paddr;
    }
    if (img->load_start == UINT32_MAX)
        fail(path, "no loadable segment");
    if (!img->entry)
        img->entry = eh->e_entry;
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
    if (fstat(fd, &st) < 0 || st.st_size < 64)
        fail(path, "too small to be a kernel");
    size_t size = (size_t)st.st_size;
    const uint8_t *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        fail(path, strerror(errno));

    // The multiboot header: 32-bit aligned, within the first 8 KiB, checksummed.
    const uint32_t *mh = NULL;
    size_t mh_off = 0;
    for (size_t off = 0; off + 12 <= size && off < MB_SEARCH; off += 4) {
        const uint32_t *w = (const uint32_t *)(f + off);
        if (w[0] == MB_HEADER_MAGIC && w[0] + w[1] + w[2] == 0) {
            mh = w;
            mh_off = off;
            break;
        }
    }
    if (!mh)
        fail(path, "no multiboot header in the first 8 KiB (only multiboot v1 kernels boot)");
    uint32_t flags = mh[1];
    if ((flags & 0xffff) & ~MB_REQUIRED_KNOWN)
        fail(path, "multiboot header requires features this loader does not know");

    if (flags & MB_FLAG_AOUT) {
        if (mh_off + 32 > size)
            fail(path, "truncated a.out-kludge multiboot header");
        uint32_t header_addr = mh[3], load_addr = mh[4], load_end = mh[5], bss_end = mh[6];
        uint32_t entry = mh[7];
        if (load_addr > header_addr)
            fail(path, "a.out kludge: load_addr above header_addr");
        uint64_t file_off = mh_off - (header_addr - load_addr);
        uint32_t filesz = load_end ? load_end - load_addr : (uint32_t)(size - file_off);
        uint32_t memsz = bss_end > load_addr + filesz ? bss_end - load_addr : filesz;
        if (file_off + filesz > size)
            fail(path, "a.out kludge: image extends past the end of the file");
        copy_in(path, load_addr, f + file_off, filesz, memsz);
        img->entry = entry;
        img->load_start = load_addr;
        img->load_end = load_addr + memsz;
        elf_ring1(path, f, size, img);   // a patched a.out-kludge kernel is still an ELF
    } else {
        elf_ring1(path, f, size, img);
        load_elf(path, f, size, img);
    }
}

// ---- boot information ------------------------------------------------------------------------
struct mb_mmap_entry {
    uint32_t size;   // of the rest of the entry: 20
    uint64_t base, len;
    uint32_t type;   // 1 available, 2 reserved
} __attribute__((packed));

void loader_boot(struct vcpu *v, const struct image *img, const char *cmdline)
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
    // then, each at the next page, the modules' contents.
    uint32_t base = img->load_start;
    uint32_t mods_addr = base + ((img->load_end - base + PGSIZE - 1) & ~(PGSIZE - 1));
    size_t linelen = strlen(img->path) + strlen(cmdline ? cmdline : "") + 2;
    char *line = malloc(linelen);
    snprintf(line, linelen, "%s %s", img->path, cmdline ? cmdline : "");
    uint32_t strings_len = (uint32_t)linelen + 5;
    for (unsigned i = 0; i < img->nmods; i++)
        strings_len += (uint32_t)strlen(img->mods[i].cmdline) + 1;
    uint32_t at = mods_addr + 16 * img->nmods;        // the strings
    uint64_t next = ((uint64_t)at + strings_len + PGSIZE - 1) & ~(uint64_t)(PGSIZE - 1);
    char *dst = mem_phys(mods_addr, 16 * img->nmods + strings_len);
    if (!dst) {
        fprintf(stderr, "ring1-run: no room for the boot information after the kernel\n");
        exit(STATUS_LOAD_ERROR);
    }
    for (unsigned i = 0; i < img->nmods; i++) {
        const struct module *m = &img->mods[i];
        uint8_t *data = next + m->size <= mem_ram_size ? mem_phys((uint32_t)next, m->size) : NULL;
        if (!data) {
            fprintf(stderr, "ring1-run: --module %s: %u bytes at %#llx do not fit in guest "
                    "RAM (%u MiB); try a larger --mem\n", m->cmdline, m->size,
                    (unsigned long long)next, mem_ram_size >> 20);
            exit(STATUS_LOAD_ERROR);
        }
        memcpy(data, m->data, m->size);
        uint32_t entry[4] = {(uint32_t)next, (uint32_t)next + m->size, at, 0};
        memcpy(mem_phys(mods_addr + 16 * i, 16), entry, 16);
        strcpy(mem_phys(at, (uint32_t)strlen(m->cmdline) + 1), m->cmdline);
        at += (uint32_t)strlen(m->cmdline) + 1;
        next = (next + m->size + PGSIZE - 1) & ~(uint64_t)(PGSIZE - 1);
    }
    uint32_t cmd_addr = at, name_addr = at + (uint32_t)strlen(line) + 1;
    strcpy(mem_phys(cmd_addr, (uint32_t)strlen(line) + 1), line);
    strcpy(mem_phys(name_addr, 5), "qemu");
    free(line);

    uint32_t *mbi = mem_phys(QEMU_MBI_ADDR, 88);
    memset(mbi, 0, 88);
    mbi[0] = MBI_MEMORY | MBI_BOOTDEV | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
    mbi[1] = 0x9fc00 / 1024;                                   // mem_lower: 639 KiB
    mbi[2] = (ram - BIOS_RESERVED_TOP - 0x100000) / 1024;      // mem_upper
    mbi[3] = QEMU_BOOT_DEVICE;
    mbi[4] = cmd_addr;
    mbi[5] = img->nmods;                                       // mods_count
    mbi[6] = mods_addr;                                        // mods_addr
    mbi[11] = sizeof map;                                      // mmap_length
    mbi[12] = QEMU_MMAP_ADDR;
    mbi[16] = name_addr;                                       // boot_loader_name

    // The GDT QEMU's option ROM leaves GDTR pointing at: null, flat code 0x08, flat data
    // 0x10, 16-bit code 0x18, 16-bit data 0x20.
    static const uint64_t gdt[5] = {0, 0x00cf9a000000ffffull, 0x00cf93000000ffffull,
                                    0x00009e000000ffffull, 0x000092000000ffffull};
    uint8_t *g = mem_phys(QEMU_GDT_ADDR, sizeof gdt);
    if (g)
        memcpy(g, gdt, sizeof gdt);
    v->gdtr = (struct dtr){.base = QEMU_GDT_ADDR, .limit = sizeof gdt - 1};

    memset(v->gpr, 0, sizeof v->gpr);
    v->gpr[R_EAX] = MB_BOOT_MAGIC;
    v->gpr[R_EBX] = QEMU_MBI_ADDR;
    v->gpr[R_ESP] = QEMU_BOOT_ESP;
    v->eip = img->entry;
}
