// Parsing and validation of a kernel image held in memory (image.h): every field the loader
// and the hypercall handlers read is checked here before anything uses it. All arithmetic on
// file offsets and addresses is 64-bit (range_ok), so no value in the image can wrap a check.
// Structures are copied out with memcpy: the image gives no alignment guarantee.
#include "image.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MB_HEADER_MAGIC   0x1BADB002u
#define MB_SEARCH         8192        // the header lies within the first 8 KiB
#define MB_FLAG_PAGE      0x00000001u // align modules on pages
#define MB_FLAG_MEMINFO   0x00000002u // wants mem_* and the memory map
#define MB_FLAG_VIDEO     0x00000004u // wants video mode info (not provided; QEMU neither)
#define MB_FLAG_AOUT      0x00010000u // load addresses are in the header (a.out kludge)
#define MB_REQUIRED_KNOWN (MB_FLAG_PAGE | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)
#define MB_AOUT_SIZE      32          // magic, flags, checksum and the five address fields

#define PAGE              0x1000u
#define GIB4              0x100000000ull

static const char *fmt(char *err, size_t errlen, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static const char *fmt(char *err, size_t errlen, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(err, errlen, f, ap);
    va_end(ap);
    return err;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t align4(uint64_t n) { return (n + 3) & ~3ull; }
static uint64_t align_page(uint64_t n) { return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1); }

// [a, a + alen) and [b, b + blen) share a byte.
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

static bool in_window(const struct r1_note *n, uint32_t addr)
{
    return addr - n->window_base < R1_WINDOW_SIZE;
}

// ---- ELF ------------------------------------------------------------------------------------
struct elf {
    bool ok;                // a 32-bit little-endian i386 ELF with a sane, non-empty program
                            // header table
    Elf32_Ehdr eh;
};

static void phdr(const uint8_t *f, const struct elf *e, unsigned i, Elf32_Phdr *p)
{
    memcpy(p, f + e->eh.e_phoff + (size_t)i * sizeof *p, sizeof *p);
}

// An ELF32 i386 file's header and program header table. Anything else is not an ELF for this
// loader (e->ok false): an a.out-kludge kernel may be any file, ELF64 included.
static const char *elf_headers(const uint8_t *f, size_t size, struct elf *e, char *err,
                               size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (size < sizeof e->eh)
        return NULL;
    memcpy(&e->eh, f, sizeof e->eh);
    const Elf32_Ehdr *eh = &e->eh;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS32 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_386)
        return NULL;
    if (eh->e_phnum == 0)
        return NULL;    // nothing to load or to look for a note in (image_parse says so)
    if (eh->e_phentsize != sizeof(Elf32_Phdr))
        return fmt(err, errlen, "ELF header: e_phentsize is %u, want %zu", eh->e_phentsize,
                   sizeof(Elf32_Phdr));
    if (!range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr), size))
        return fmt(err, errlen, "ELF header: the program header table (e_phoff %#x, %u "
                   "entries) runs past the end of the file (%zu bytes)", eh->e_phoff,
                   eh->e_phnum, size);
    e->ok = true;
    return NULL;
}

// The ring1 note among the notes p[0, len) (a PT_NOTE segment or SHT_NOTE section: `what`).
static const char *find_note(const uint8_t *p, uint64_t len, const char *what, unsigned idx,
                             struct image_layout *out, char *err, size_t errlen)
{
    uint64_t off = 0;
    while (off < len) {
        if (len - off < sizeof(Elf32_Nhdr))
            return fmt(err, errlen, "%s %u: %llu stray bytes after its last note", what, idx,
                       (unsigned long long)(len - off));
        Elf32_Nhdr n;
        memcpy(&n, p + off, sizeof n);
        uint64_t name_off = off + sizeof n, desc_off = name_off + align4(n.n_namesz);
        uint64_t next = desc_off + align4(n.n_descsz);
        if (next > len)
            return fmt(err, errlen, "%s %u: the note at offset %#llx (n_namesz %u, n_descsz "
                       "%u) runs past its end (%llu bytes)", what, idx,
                       (unsigned long long)off, n.n_namesz, n.n_descsz,
                       (unsigned long long)len);
        if (n.n_type == R1_NOTE_ABI && n.n_namesz == sizeof R1_NOTE_NAME &&
            memcmp(p + name_off, R1_NOTE_NAME, sizeof R1_NOTE_NAME) == 0) {
            // struct r1_note, then (images since the options record) struct r1_options.
            if (n.n_descsz != sizeof out->note &&
                n.n_descsz != sizeof out->note + sizeof(struct r1_options))
                return fmt(err, errlen, "ring1 note: its descriptor is %u bytes, want %zu or "
                           "%zu", n.n_descsz, sizeof out->note,
                           sizeof out->note + sizeof(struct r1_options));
            memcpy(&out->note, p + desc_off, sizeof out->note);
            out->has_note = true;
            return NULL;
        }
        off = next;
    }
    return NULL;
}

// The checks every PT_LOAD gets, wherever it goes.
static const char *check_load(const Elf32_Phdr *p, unsigned i, size_t size, char *err,
                              size_t errlen)
{
    if (!range_ok(p->p_offset, p->p_filesz, size))
        return fmt(err, errlen, "PT_LOAD segment %u: its file bytes %#x-%#llx lie outside the "
                   "file (%zu bytes)", i, p->p_offset,
                   (unsigned long long)p->p_offset + p->p_filesz, size);
    if (p->p_filesz > p->p_memsz)
        return fmt(err, errlen, "PT_LOAD segment %u: p_filesz %#x is larger than p_memsz %#x",
                   i, p->p_filesz, p->p_memsz);
    if ((uint64_t)p->p_vaddr + p->p_memsz > GIB4)
        return fmt(err, errlen, "PT_LOAD segment %u: virtual range %#x+%#x wraps past 4 GiB", i,
                   p->p_vaddr, p->p_memsz);
    return NULL;
}

// A patched image (ELF, whatever its multiboot header says): the ring1 note, which names the
// window, and the .ring1 segment inside it, which lives in the window, not in RAM.
static const char *elf_ring1(const uint8_t *f, size_t size, const struct elf *e,
                             uint32_t ram_size, struct image_layout *out, char *err,
                             size_t errlen)
{
    const Elf32_Ehdr *eh = &e->eh;
    const char *why;
    for (unsigned i = 0; i < eh->e_phnum && !out->has_note; i++) {
        Elf32_Phdr p;
        phdr(f, e, i, &p);
        if (p.p_type != PT_NOTE)
            continue;
        if (!range_ok(p.p_offset, p.p_filesz, size))
            return fmt(err, errlen, "PT_NOTE segment %u: its file bytes %#x-%#llx lie outside "
                       "the file (%zu bytes)", i, p.p_offset,
                       (unsigned long long)p.p_offset + p.p_filesz, size);
        if ((why = find_note(f + p.p_offset, p.p_filesz, "PT_NOTE segment", i, out, err,
                             errlen)))
            return why;
    }
    // An image without a PT_NOTE for it may still carry the note in a section.
    if (!out->has_note && eh->e_shoff && eh->e_shentsize == sizeof(Elf32_Shdr) &&
        range_ok(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf32_Shdr), size)) {
        for (unsigned i = 0; i < eh->e_shnum && !out->has_note; i++) {
            Elf32_Shdr sh;
            memcpy(&sh, f + eh->e_shoff + (size_t)i * sizeof sh, sizeof sh);
            if (sh.sh_type != SHT_NOTE || !range_ok(sh.sh_offset, sh.sh_size, size))
                continue;
            if ((why = find_note(f + sh.sh_offset, sh.sh_size, "SHT_NOTE section", i, out,
                                 err, errlen)))
                return why;
        }
    }
    if (!out->has_note)
        return NULL;
    const struct r1_note *n = &out->note;
    if (n->abi_version != R1_ABI_VERSION)
        return fmt(err, errlen, "patched for ring1 ABI version %u, but this runtime implements "
                   "version %u: rewrite the image with a matching rewriter", n->abi_version,
                   R1_ABI_VERSION);
    if (n->flags & ~R1_F_TRAP_ONLY)
        return fmt(err, errlen, "ring1 note: unknown flags %#x", n->flags);
    if (n->window_base & (R1_WINDOW_SIZE - 1))
        return fmt(err, errlen, "ring1 note: window base %#x is not aligned to the window size "
                   "(4 MiB)", n->window_base);
    if (n->window_base < ram_size)
        return fmt(err, errlen, "ring1 note: the hypervisor window at %#x overlaps guest RAM "
                   "(%u MiB): run with less --mem or rewrite with another --window",
                   n->window_base, ram_size >> 20);
    bool found = false;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr p;
        phdr(f, e, i, &p);
        if (p.p_type != PT_LOAD || !in_window(n, p.p_vaddr))
            continue;
        if ((why = check_load(&p, i, size, err, errlen)))
            return why;
        if (p.p_memsz == 0)
            continue;
        if (found)
            return "two PT_LOAD segments inside the hypervisor window (one .ring1 segment only)";
        uint32_t off = p.p_vaddr - n->window_base;
        if (off < R1_IMAGE_OFF || (uint64_t)off + p.p_memsz > R1_WINDOW_SIZE)
            return fmt(err, errlen, ".ring1 segment at %#x-%#llx is not inside the window's "
                       "image area %#x-%#x", p.p_vaddr,
                       (unsigned long long)p.p_vaddr + p.p_memsz,
                       n->window_base + R1_IMAGE_OFF, n->window_base + R1_WINDOW_SIZE);
        out->ring1 = (struct image_load){p.p_paddr, p.p_vaddr, p.p_offset, p.p_filesz,
                                         p.p_memsz};
        found = true;
    }
    if (!found)
        return "ring1 note present but no .ring1 segment inside the window";
    return image_check_ring1(f + out->ring1.off, out->ring1.vaddr, out->ring1.filesz,
                             out->ring1.memsz, n, size, err, errlen);
}

static const char *outside_ram(uint32_t paddr, uint32_t memsz, uint32_t ram_size, char *err,
                               size_t errlen)
{
    return fmt(err, errlen, "segment at physical %#x-%#llx is outside guest RAM (%u MiB); try a "
               "larger --mem", paddr, (unsigned long long)paddr + memsz, ram_size >> 20);
}

static const char *load_elf(const uint8_t *f, size_t size, const struct elf *e,
                            uint32_t ram_size, struct image_layout *out, char *err,
                            size_t errlen)
{
    const Elf32_Ehdr *eh = &e->eh;
    const struct r1_note *n = out->has_note ? &out->note : NULL;
    const char *why;
    out->load_start = UINT32_MAX;
    bool entry_found = false;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr p;
        phdr(f, e, i, &p);
        if (p.p_type != PT_LOAD)
            continue;
        if ((why = check_load(&p, i, size, err, errlen)))
            return why;
        if (p.p_memsz == 0 || (n && in_window(n, p.p_vaddr)))
            continue;   // nothing to load, or the .ring1 segment (elf_ring1)
        if (n && overlap(p.p_vaddr, p.p_memsz, n->window_base, R1_WINDOW_SIZE))
            return fmt(err, errlen, "PT_LOAD segment %u (virtual %#x-%#llx) overlaps the "
                       "hypervisor window at %#x", i, p.p_vaddr,
                       (unsigned long long)p.p_vaddr + p.p_memsz, n->window_base);
        if (!range_ok(p.p_paddr, p.p_memsz, ram_size))
            return outside_ram(p.p_paddr, p.p_memsz, ram_size, err, errlen);
        for (unsigned k = 0; k < out->nloads; k++) {
            const struct image_load *l = &out->loads[k];
            if (overlap(p.p_paddr, p.p_memsz, l->paddr, l->memsz))
                return fmt(err, errlen, "PT_LOAD segment %u (physical %#x-%#x) overlaps an "
                           "earlier one (%#x-%#x)", i, p.p_paddr, p.p_paddr + p.p_memsz,
                           l->paddr, l->paddr + l->memsz);
        }
        if (out->nloads == IMAGE_MAX_LOADS)
            return fmt(err, errlen, "more than %d loadable segments", IMAGE_MAX_LOADS);
        out->loads[out->nloads++] = (struct image_load){p.p_paddr, p.p_vaddr, p.p_offset,
                                                        p.p_filesz, p.p_memsz};
        uint32_t delta = p.p_vaddr - p.p_paddr;
        bool known = delta == 0;
        for (unsigned k = 0; k < out->ndeltas; k++)
            known |= out->deltas[k] == delta;
        if (!known && out->ndeltas < IMAGE_MAX_DELTAS)
            out->deltas[out->ndeltas++] = delta;
        if (p.p_paddr < out->load_start)
            out->load_start = p.p_paddr;
        if (p.p_paddr + p.p_memsz > out->load_end)
            out->load_end = p.p_paddr + p.p_memsz;
        // The entry point is virtual; jump to its physical address (GRUB, QEMU's load_elf).
        if (!entry_found && eh->e_entry - p.p_vaddr < p.p_filesz && (p.p_flags & PF_X)) {
            out->entry = eh->e_entry - p.p_vaddr + p.p_paddr;
            entry_found = true;
        }
    }
    if (out->nloads == 0)
        return "no loadable segment";
    if (!entry_found)
        out->entry = eh->e_entry;   // already physical (Linux's vmlinux)
    for (unsigned k = 0; k < out->nloads; k++)
        if (out->entry - out->loads[k].paddr < out->loads[k].memsz)
            return NULL;
    return fmt(err, errlen, "entry point %#x (e_entry %#x) is not inside a loaded segment",
               out->entry, eh->e_entry);
}

// ---- multiboot a.out kludge -----------------------------------------------------------------
static const char *load_aout(const uint8_t *f, size_t size, size_t mh_off, uint32_t ram_size,
                             struct image_layout *out, char *err, size_t errlen)
{
    if (!range_ok(mh_off, MB_AOUT_SIZE, size))
        return "a.out kludge: the multiboot header is cut off by the end of the file";
    const uint8_t *mh = f + mh_off;
    uint32_t header_addr = rd32(mh + 12), load_addr = rd32(mh + 16), load_end = rd32(mh + 20);
    uint32_t bss_end = rd32(mh + 24), entry = rd32(mh + 28);
    if (load_addr > header_addr)
        return fmt(err, errlen, "a.out kludge: load_addr %#x is above header_addr %#x",
                   load_addr, header_addr);
    if (header_addr - load_addr > mh_off)
        return fmt(err, errlen, "a.out kludge: header_addr - load_addr (%#x) is more than the "
                   "header's offset in the file (%#zx)", header_addr - load_addr, mh_off);
    uint64_t file_off = mh_off - (header_addr - load_addr);
    uint64_t filesz;
    if (load_end) {
        if (load_end < load_addr)
            return fmt(err, errlen, "a.out kludge: load_end_addr %#x is below load_addr %#x",
                       load_end, load_addr);
        filesz = load_end - load_addr;
        if (!range_ok(file_off, filesz, size))
            return fmt(err, errlen, "a.out kludge: load_addr-load_end_addr (%#x-%#x) at file "
                       "offset %#llx runs past the end of the file (%zu bytes)", load_addr,
                       load_end, (unsigned long long)file_off, size);
    } else {
        filesz = size - file_off;   // the rest of the file
    }
    if (filesz < (uint64_t)(header_addr - load_addr) + MB_AOUT_SIZE)
        return fmt(err, errlen, "a.out kludge: load_end_addr %#x leaves the multiboot header "
                   "(header_addr %#x) out of the loaded image", load_end, header_addr);
    uint64_t memsz = filesz;
    if (bss_end) {
        if (bss_end < load_addr + filesz)
            return fmt(err, errlen, "a.out kludge: bss_end_addr %#x is below the end of the "
                       "loaded image %#llx", bss_end, (unsigned long long)load_addr + filesz);
        memsz = bss_end - load_addr;
    }
    if (!range_ok(load_addr, memsz, ram_size))
        return fmt(err, errlen, "a.out kludge: image at physical %#x-%#llx is outside guest RAM "
                   "(%u MiB); try a larger --mem", load_addr,
                   (unsigned long long)load_addr + memsz, ram_size >> 20);
    if (entry - load_addr >= filesz)
        return fmt(err, errlen, "a.out kludge: entry_addr %#x is outside the loaded image "
                   "%#x-%#llx", entry, load_addr, (unsigned long long)load_addr + filesz);
    out->loads[0] = (struct image_load){load_addr, load_addr, (uint32_t)file_off,
                                        (uint32_t)filesz, (uint32_t)memsz};
    out->nloads = 1;
    out->entry = entry;
    out->load_start = load_addr;
    out->load_end = load_addr + (uint32_t)memsz;
    return NULL;
}

// ---- the whole image ------------------------------------------------------------------------
static const char *window_aliases(const struct image_layout *out, uint32_t ram_size, char *err,
                                  size_t errlen);

// A note named "Linux" (the kernel's LINUX_ELFNOTE entries) in a PT_NOTE segment.
static bool linux_note(const uint8_t *f, size_t size, const struct elf *e)
{
    for (unsigned i = 0; i < e->eh.e_phnum; i++) {
        Elf32_Phdr p;
        phdr(f, e, i, &p);
        if (p.p_type != PT_NOTE || !range_ok(p.p_offset, p.p_filesz, size))
            continue;
        const uint8_t *n = f + p.p_offset;
        for (uint64_t off = 0; p.p_filesz - off >= sizeof(Elf32_Nhdr);) {
            Elf32_Nhdr h;
            memcpy(&h, n + off, sizeof h);
            uint64_t name = off + sizeof h;
            uint64_t next = name + align4(h.n_namesz) + align4(h.n_descsz);
            if (next > p.p_filesz)
                break;
            if (h.n_namesz == sizeof "Linux" && !memcmp(n + name, "Linux", sizeof "Linux"))
                return true;
            off = next;
        }
    }
    return false;
}

const char *image_parse(const uint8_t *f, size_t size, uint32_t ram_size,
                        struct image_layout *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size < 64)
        return "too small to be a kernel";
    if (size > UINT32_MAX)
        return "larger than 4 GiB: not a 32-bit kernel";

    // The multiboot header: 32-bit aligned, within the first 8 KiB, checksummed.
    size_t mh_off = SIZE_MAX;
    for (size_t off = 0; off + 12 <= size && off < MB_SEARCH; off += 4) {
        uint32_t magic = rd32(f + off);
        if (magic == MB_HEADER_MAGIC && magic + rd32(f + off + 4) + rd32(f + off + 8) == 0) {
            mh_off = off;
            break;
        }
    }
    if (mh_off == SIZE_MAX) {
        // No multiboot header: a Linux vmlinux (an ELF with a "Linux" note) boots by the Linux
        // boot protocol; nothing else boots.
        struct elf e;
        const char *why = elf_headers(f, size, &e, err, errlen);
        if (why)
            return why;
        if (!e.ok || !linux_note(f, size, &e))
            return "no multiboot header in the first 8 KiB, and not a Linux vmlinux (an ELF "
                   "with a \"Linux\" note): only multiboot v1 kernels and Linux boot";
        out->is_linux = true;
        why = elf_ring1(f, size, &e, ram_size, out, err, errlen);
        if (!why)
            why = load_elf(f, size, &e, ram_size, out, err, errlen);
        return why ? why : window_aliases(out, ram_size, err, errlen);
    }
    uint32_t flags = rd32(f + mh_off + 4);
    if ((flags & 0xffff) & ~MB_REQUIRED_KNOWN)
        return fmt(err, errlen, "multiboot header requires features this loader does not know "
                   "(flags %#x)", flags);

    struct elf e;
    const char *why = elf_headers(f, size, &e, err, errlen);
    if (why)
        return why;
    if (flags & MB_FLAG_AOUT) {
        why = load_aout(f, size, mh_off, ram_size, out, err, errlen);
        if (!why && e.ok)
            why = elf_ring1(f, size, &e, ram_size, out, err, errlen);   // still an ELF
    } else if (!e.ok) {
        why = size >= sizeof e.eh && !memcmp(e.eh.e_ident, ELFMAG, SELFMAG) &&
                      e.eh.e_ident[EI_CLASS] == ELFCLASS32 && e.eh.e_machine == EM_386 &&
                      e.eh.e_ident[EI_DATA] == ELFDATA2LSB
                  ? "ELF header: no program headers (e_phnum is 0)"
                  : "not a 32-bit x86 ELF (and no a.out-kludge multiboot header)";
    } else {
        why = elf_ring1(f, size, &e, ram_size, out, err, errlen);
        if (!why)
            why = load_elf(f, size, &e, ram_size, out, err, errlen);
    }
    if (why)
        return why;
    return window_aliases(out, ram_size, err, errlen);
}

// The window's physical aliases (abi.h, "Kernels linked above where they are loaded") must
// miss RAM and the window itself.
static const char *window_aliases(const struct image_layout *out, uint32_t ram_size, char *err,
                                  size_t errlen)
{
    if (!out->has_note)
        return NULL;
    for (unsigned i = 0; i < out->ndeltas; i++) {
        uint32_t a = out->note.window_base - out->deltas[i];
        if (a & (R1_WINDOW_SIZE - 1))
            continue;   // a delta that is not a multiple of 4 MiB cannot alias the window
        if (a < ram_size || a == out->note.window_base)
            return fmt(err, errlen, "the window's physical alias %#x-%#x (window %#x - (p_vaddr "
                       "- p_paddr) %#x) overlaps guest RAM (%u MiB) or the window: run with "
                       "less --mem or rewrite with another --window", a, a + R1_WINDOW_SIZE - 1,
                       out->note.window_base, out->deltas[i], ram_size >> 20);
    }
    return NULL;
}

// ---- the .ring1 segment ---------------------------------------------------------------------
const char *image_check_ring1(const uint8_t *seg, uint32_t seg_vaddr, uint32_t filesz,
                              uint32_t memsz, const struct r1_note *note, uint64_t file_size,
                              char *err, size_t errlen)
{
    if (filesz > memsz || (uint64_t)seg_vaddr + memsz > GIB4)
        return ".ring1 segment: bad size";
    uint32_t hv = note->image_vaddr, wb = note->window_base;
    if (!range_ok(hv - seg_vaddr, sizeof(struct r1_header), filesz))
        return fmt(err, errlen, "ring1 note: the header address %#x is not inside the .ring1 "
                   "segment's file bytes (%#x-%#x)", hv, seg_vaddr, seg_vaddr + filesz);
    if (hv & 3)
        return fmt(err, errlen, "ring1 note: the header address %#x is not 4-byte aligned", hv);
    const uint32_t ho = hv - seg_vaddr;
    struct r1_header h;
    memcpy(&h, seg + ho, sizeof h);
    if (memcmp(h.magic, R1_MAGIC, sizeof h.magic) != 0)
        return fmt(err, errlen, ".ring1 header at %#x: bad magic (want \"%s\")", hv, R1_MAGIC);
    if (h.abi_version != note->abi_version)
        return fmt(err, errlen, ".ring1 header: ABI version %u, the note says %u",
                   h.abi_version, note->abi_version);
    if (h.window_base != wb)
        return fmt(err, errlen, ".ring1 header: window base %#x, the note says %#x",
                   h.window_base, wb);
    if (h.flags != note->flags)
        return fmt(err, errlen, ".ring1 header: flags %#x, the note says %#x", h.flags,
                   note->flags);
    if (h.header_size < sizeof h)
        return fmt(err, errlen, ".ring1 header: header_size %u, want at least %zu",
                   h.header_size, sizeof h);

    // Every table lies in the segment's file bytes, tables 4-byte aligned, none overlapping.
    static const char *const names[] = {"header", "site table", "o2t map", "t2o map",
                                        "trampolines", "undo records"};
    const uint64_t off[] = {ho, (uint64_t)ho + h.sites_off, (uint64_t)ho + h.map_o2t_off,
                            (uint64_t)ho + h.map_t2o_off, (uint64_t)ho + h.tramp_off,
                            (uint64_t)ho + h.undo_off};
    const uint64_t len[] = {h.header_size, (uint64_t)h.nsites * sizeof(struct r1_site),
                            (uint64_t)h.nmap_o2t * sizeof(struct r1_map),
                            (uint64_t)h.nmap_t2o * sizeof(struct r1_map), h.tramp_size,
                            h.undo_size};
    const uint32_t count[] = {1, h.nsites, h.nmap_o2t, h.nmap_t2o, h.tramp_size, h.undo_size};
    enum { T_HDR, T_SITES, T_O2T, T_T2O, T_TRAMP, T_UNDO, T_N };
    for (int i = 0; i < T_N; i++) {
        if (!range_ok(off[i], len[i], filesz))
            return fmt(err, errlen, ".ring1 header: the %s (offset %#llx, %u %s) runs past the "
                       "segment's %u file bytes", names[i], (unsigned long long)(off[i] - ho),
                       count[i], i == T_TRAMP || i == T_UNDO ? "bytes" : "entries", filesz);
        if (i != T_TRAMP && ((seg_vaddr + off[i]) & 3))
            return fmt(err, errlen, ".ring1 header: the %s at %#llx is not 4-byte aligned",
                       names[i], (unsigned long long)(seg_vaddr + off[i]));
        for (int k = 0; k < i; k++)
            if (overlap(off[i], len[i], off[k], len[k]))
                return fmt(err, errlen, ".ring1 header: the %s and the %s overlap", names[k],
                           names[i]);
    }
    const uint32_t lo = seg_vaddr + (uint32_t)off[T_TRAMP], hi = lo + h.tramp_size;
    const bool trap_only = note->flags & R1_F_TRAP_ONLY;

    // Sites: sorted by address, unique (the runtime binary-searches them), outside the window.
    const uint8_t *sp = seg + off[T_SITES];
    for (uint32_t i = 0; i < h.nsites; i++) {
        struct r1_site s, prev;
        memcpy(&s, sp + (size_t)i * sizeof s, sizeof s);
        if (i) {
            memcpy(&prev, sp + (size_t)(i - 1) * sizeof s, sizeof s);
            if (s.addr <= prev.addr)
                return fmt(err, errlen, "site %u: address %#x is not above the previous site's "
                           "(%#x): the table must be sorted, addresses unique", i, s.addr,
                           prev.addr);
        }
        if (s.kind == 0 || s.kind >= R1_KIND_MAX)
            return fmt(err, errlen, "site %u (%#x): unknown kind %u", i, s.addr, s.kind);
        if (s.tactic < R1_TACTIC_INLINE || s.tactic > R1_TACTIC_TRAP)
            return fmt(err, errlen, "site %u (%#x): unknown tactic %u", i, s.addr, s.tactic);
        if (s.len == 0 || s.len > 15)
            return fmt(err, errlen, "site %u (%#x): instruction length %u (want 1-15)", i,
                       s.addr, s.len);
        if ((uint64_t)s.addr + s.len > GIB4 || overlap(s.addr, s.len, wb, R1_WINDOW_SIZE))
            return fmt(err, errlen, "site %u: its instruction at %#x (%u bytes) is inside the "
                       "hypervisor window or wraps past 4 GiB", i, s.addr, s.len);
        if (trap_only && s.tactic != R1_TACTIC_TRAP)
            return fmt(err, errlen, "site %u (%#x): tactic %u in an image the note says is "
                       "trap-only", i, s.addr, s.tactic);
        bool tramp_ok = s.tramp >= lo && s.tramp < hi;
        if (s.tactic == R1_TACTIC_TRAP) {
            if (s.resume != s.addr + s.len)
                return fmt(err, errlen, "site %u (%#x): a trap site resumes at %#x, not right "
                           "after its %u bytes", i, s.addr, s.resume, s.len);
            tramp_ok |= s.tramp == 0;
        } else {
            // An inline translation that never calls the runtime has no resume point.
            bool resume_ok = (s.resume >= lo && s.resume <= hi) ||
                             (s.resume == 0 && s.tactic == R1_TACTIC_INLINE);
            if (!resume_ok)
                return fmt(err, errlen, "site %u (%#x): resume point %#x outside the "
                           "trampolines (%#x-%#x)", i, s.addr, s.resume, lo, hi);
        }
        if (!tramp_ok)
            return fmt(err, errlen, "site %u (%#x): trampoline %#x outside the trampolines "
                       "(%#x-%#x)", i, s.addr, s.tramp, lo, hi);
    }

    // The maps: binary-searched, so strictly sorted by their key; trampoline addresses inside
    // the trampolines, original addresses outside the window.
    for (int m = 0; m < 2; m++) {
        const uint8_t *mp = seg + off[m ? T_T2O : T_O2T];
        uint32_t n = m ? h.nmap_t2o : h.nmap_o2t;
        const char *name = m ? "t2o" : "o2t";
        for (uint32_t i = 0; i < n; i++) {
            struct r1_map e, prev;
            memcpy(&e, mp + (size_t)i * sizeof e, sizeof e);
            if (i) {
                memcpy(&prev, mp + (size_t)(i - 1) * sizeof e, sizeof e);
                uint32_t k = m ? e.tramp : e.orig, pk = m ? prev.tramp : prev.orig;
                if (k <= pk)
                    return fmt(err, errlen, "%s map entry %u: %s address %#x is not above the "
                               "previous entry's (%#x): the map must be sorted, keys unique",
                               name, i, m ? "trampoline" : "original", k, pk);
            }
            if (e.tramp < lo || e.tramp >= hi)
                return fmt(err, errlen, "%s map entry %u: trampoline address %#x outside the "
                           "trampolines (%#x-%#x)", name, i, e.tramp, lo, hi);
            if (in_window(note, e.orig))
                return fmt(err, errlen, "%s map entry %u: original address %#x is inside the "
                           "hypervisor window", name, i, e.orig);
        }
    }

    // Undo records: each names bytes of the original file and fits the undo area exactly.
    if (h.orig_file_size > file_size)
        return fmt(err, errlen, ".ring1 header: orig_file_size %u is larger than the file "
                   "(%llu bytes)", h.orig_file_size, (unsigned long long)file_size);
    uint64_t p = off[T_UNDO], end = p + h.undo_size;
    for (unsigned k = 0; p < end; k++) {
        if (end - p < sizeof(struct r1_undo))
            return fmt(err, errlen, "undo record %u: its header runs past the undo records' "
                       "end", k);
        struct r1_undo u;
        memcpy(&u, seg + p, sizeof u);
        if (sizeof u + align4(u.len) > end - p)
            return fmt(err, errlen, "undo record %u: its %u bytes run past the undo records' "
                       "end", k, u.len);
        if (!range_ok(u.offset, u.len, h.orig_file_size))
            return fmt(err, errlen, "undo record %u: file bytes %#x+%u lie outside the original "
                       "file (%u bytes)", k, u.offset, u.len, h.orig_file_size);
        p += sizeof u + align4(u.len);
    }
    return NULL;
}

// ---- boot information -----------------------------------------------------------------------
const char *image_boot_layout(uint32_t load_start, uint32_t load_end, uint32_t ram_size,
                              uint64_t cmdline_len, unsigned nmods, const uint64_t *mod_cmdline_len,
                              const uint64_t *mod_size, struct boot_layout *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->bad_mod = -1;
    if (nmods > IMAGE_MAX_MODS)
        return fmt(err, errlen, "more than %d modules", IMAGE_MAX_MODS);
    if (load_end < load_start || load_end > ram_size)
        return "the kernel's loaded range is outside guest RAM";
    uint64_t mods = load_start + align_page((uint64_t)load_end - load_start);
    uint64_t strings = mods + 16ull * nmods;
    // Each length below 4 GiB, at most 33 of them: the sum cannot wrap.
    uint64_t slen = (cmdline_len < GIB4 ? cmdline_len : GIB4) + 1 + sizeof "qemu";
    for (unsigned i = 0; i < nmods; i++)
        slen += (mod_cmdline_len[i] < GIB4 ? mod_cmdline_len[i] : GIB4) + 1;
    if (!range_ok(mods, strings - mods + slen, ram_size))
        return fmt(err, errlen, "no room in guest RAM (%u MiB) for the boot information "
                   "(%llu bytes at %#llx, after the kernel): try a larger --mem or a shorter "
                   "--cmdline", ram_size >> 20, (unsigned long long)(strings - mods + slen),
                   (unsigned long long)mods);
    out->mods_addr = (uint32_t)mods;
    out->strings_addr = (uint32_t)strings;
    out->strings_len = (uint32_t)slen;
    uint64_t next = align_page(strings + slen);
    for (unsigned i = 0; i < nmods; i++) {
        if (!range_ok(next, mod_size[i], ram_size)) {
            out->bad_mod = (int)i;
            return fmt(err, errlen, "%llu bytes at %#llx do not fit in guest RAM (%u MiB); try a "
                       "larger --mem", (unsigned long long)mod_size[i],
                       (unsigned long long)next, ram_size >> 20);
        }
        out->mod_addr[i] = (uint32_t)next;
        next = align_page(next + mod_size[i]);
    }
    return NULL;
}

// ---- the Linux boot protocol ----------------------------------------------------------------
#define LF_LOADED_HIGH          0x01    // loadflags: protected-mode code at 0x100000 (bzImage)
#define XLF_KERNEL_64           0x0001  // xloadflags: a 64-bit kernel (startup_64)
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// The header's fields, from out->bytes (offsets are the zero page's).
static void linux_fields(struct linux_header *h)
{
#define HB(o) (h->bytes + ((o) - LINUX_HDR_OFF))
    h->setup_sects = *HB(0x1f1);
    h->version = rd16(HB(0x206));
    h->loadflags = *HB(0x211);
    h->initrd_addr_max = rd32(HB(0x22c));
    h->kernel_alignment = rd32(HB(0x230));
    h->xloadflags = h->version >= 0x020c ? rd16(HB(0x236)) : 0;
    h->cmdline_size = rd32(HB(0x238));
    h->pref_address = rd64(HB(0x258));
    h->init_size = rd32(HB(0x260));
#undef HB
}

const char *image_linux_header(const uint8_t *f, size_t size, struct linux_header *out,
                               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size < 0x206 || memcmp(f + 0x202, "HdrS", 4) != 0)
        return "not a bzImage: no Linux setup header (\"HdrS\" at 0x202)";
    if (rd16(f + 0x1fe) != 0xaa55)
        return "not a bzImage: no boot sector signature 0xaa55 at 0x1fe";
    if (size < 0x208)
        return "not a bzImage: the setup header is cut off";
    uint16_t version = rd16(f + 0x206);
    if (version < LINUX_VERSION_MIN)
        return fmt(err, errlen, "Linux boot protocol %u.%02u is older than 2.10 (Linux 2.6.31), "
                   "the oldest ring1 loads", version >> 8, version & 0xff);
    // The header runs from 0x1f1 to the end of the jump at 0x200 (its target).
    uint32_t end = 0x202u + f[0x201];
    if (f[0x200] != 0xeb || end < LINUX_HDR_MIN_END || end > LINUX_HDR_END_MAX)
        return fmt(err, errlen, "setup header: the jump at 0x200 (%02x %02x) does not end the "
                   "header between %#x and %#x", f[0x200], f[0x201], LINUX_HDR_MIN_END,
                   LINUX_HDR_END_MAX);
    if (end > size)
        return fmt(err, errlen, "setup header: it ends at %#x, past the end of the file (%zu "
                   "bytes)", end, size);
    memcpy(out->bytes, f + LINUX_HDR_OFF, end - LINUX_HDR_OFF);
    out->end = end;
    out->from_file = true;
    linux_fields(out);
    if (out->xloadflags & XLF_KERNEL_64)
        return "a 64-bit (x86-64) kernel: ring1 runs 32-bit x86 kernels only";
    if (!(out->loadflags & LF_LOADED_HIGH))
        return "not a bzImage: loadflags LOADED_HIGH is clear (a zImage, loaded at 0x10000: "
               "ring1 loads bzImages only)";
    return NULL;
}

void image_linux_default_header(uint32_t load_start, uint32_t load_end,
                                struct linux_header *out)
{
    memset(out, 0, sizeof *out);
#define B(o) (out->bytes + ((o) - LINUX_HDR_OFF))   // by zero-page offset
    const uint16_t flag = 0xaa55, version = LINUX_VERSION_MIN;
    const uint32_t initrd_max = 0x7fffffff, cmdline_size = 2047;
    const uint32_t init_size = load_end - load_start;
    const uint64_t pref = load_start;
    memcpy(B(0x1fe), &flag, 2);
    *B(0x200) = 0xeb;
    *B(0x201) = LINUX_HDR_MIN_END - 0x202;
    memcpy(B(0x202), "HdrS", 4);
    memcpy(B(0x206), &version, 2);
    *B(0x211) = LF_LOADED_HIGH;
    memcpy(B(0x22c), &initrd_max, 4);
    memcpy(B(0x238), &cmdline_size, 4);
    memcpy(B(0x258), &pref, 8);
    memcpy(B(0x260), &init_size, 4);
#undef B
    out->end = LINUX_HDR_MIN_END;
    linux_fields(out);
}

const char *image_linux_layout(const struct linux_header *h, uint32_t load_start,
                               uint32_t load_end, uint32_t ram_size, uint64_t cmdline_len,
                               uint64_t initrd_size, struct linux_layout *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->zero_page = LINUX_ZERO_PAGE;
    out->cmdline = LINUX_CMDLINE;
    out->gdt = LINUX_GDT;
    out->esp = LINUX_BOOT_ESP;
    if (load_end < load_start || load_end > ram_size || ram_size < (2u << 20))
        return "the kernel's loaded range is outside guest RAM";
    if (load_start < 0x100000)
        return fmt(err, errlen, "the kernel loads at %#x, below 1 MiB, where the zero page and "
                   "the command line go", load_start);
    if (h->from_file && h->pref_address != load_start)
        return fmt(err, errlen, "the vmlinux loads at %#x but the bzImage's setup header wants "
                   "it at %#llx (pref_address): not this bzImage's kernel, or one that must be "
                   "relocated, which only its decompressor does", load_start,
                   (unsigned long long)h->pref_address);
    // The kernel's own early allocations (page tables, brk) run up to init_size.
    uint64_t need = h->init_size > load_end - load_start ? h->init_size : load_end - load_start;
    uint64_t usable = ram_size > 0x20000u ? ram_size - 0x20000u : 0;   // SeaBIOS keeps the top
    if (!range_ok(load_start, need, usable))
        return fmt(err, errlen, "the kernel needs physical %#x-%#llx (its init_size) but guest "
                   "RAM (%u MiB) ends sooner; try a larger --mem", load_start,
                   (unsigned long long)load_start + need, ram_size >> 20);
    if (cmdline_len > h->cmdline_size)
        return fmt(err, errlen, "the command line is %llu bytes; this kernel takes at most %u "
                   "(cmdline_size)", (unsigned long long)cmdline_len, h->cmdline_size);
    if (cmdline_len >= 0x10000)
        return "the command line is longer than 64 KiB";
    if (!initrd_size)
        return NULL;
    // QEMU's x86_load_linux: the top of RAM below initrd_addr_max and the ACPI data, aligned
    // down to a page.
    uint64_t max = h->initrd_addr_max;
    if (h->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)
        max = UINT32_MAX;
    if (max >= (uint64_t)ram_size - LINUX_ACPI_DATA)
        max = (uint64_t)ram_size - LINUX_ACPI_DATA - 1;
    if (initrd_size >= max)
        return fmt(err, errlen, "the initrd (%llu bytes) is larger than the %llu bytes below "
                   "%#llx; try a larger --mem", (unsigned long long)initrd_size,
                   (unsigned long long)max, (unsigned long long)max + 1);
    uint64_t addr = (max - initrd_size) & ~(uint64_t)(PAGE - 1);
    if (addr < load_start + need)
        return fmt(err, errlen, "the initrd (%llu bytes) does not fit in guest RAM between the "
                   "kernel (up to %#llx) and %#llx; try a larger --mem",
                   (unsigned long long)initrd_size, (unsigned long long)load_start + need,
                   (unsigned long long)max + 1);
    out->initrd = (uint32_t)addr;
    out->initrd_size = (uint32_t)initrd_size;
    return NULL;
}
