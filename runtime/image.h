// Parsing and validation of a kernel image held in memory: multiboot v1 header (ELF or a.out
// kludge), ELF header and program headers, the ring1 note, the .ring1 segment's header, site
// table, o2t/t2o maps and undo records; and the layout of the boot information, command lines
// and modules after the kernel.
//
// Nothing here does I/O, exits or keeps state: every function returns NULL when all is well,
// or one line (no newline) saying what is wrong, in the caller's buffer or a string literal.
// Nothing from the image but numbers ever goes into a message. loader.c calls these before it
// touches guest RAM; fuzz/runtime_image.c feeds them arbitrary bytes.
#ifndef RING1_IMAGE_H
#define RING1_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define IMAGE_MAX_LOADS   64   // PT_LOAD segments copied into RAM (real kernels have < 10)
#define IMAGE_MAX_DELTAS  4    // distinct p_vaddr - p_paddr kept for the window's aliases
#define IMAGE_MAX_MODS    32   // multiboot modules (--module)
#define IMAGE_ERR_LEN     200  // a buffer this long holds any message

// One piece of the file to put into memory: filesz bytes from file offset `off`, then zeroes
// up to memsz.
struct image_load {
    uint32_t paddr, vaddr;
    uint32_t off, filesz, memsz;
};

struct image_layout {
    uint32_t entry;         // physical entry point (as GRUB and QEMU compute it)
    uint32_t load_start;    // lowest physical address loaded
    uint32_t load_end;      // end of everything loaded into RAM
    unsigned nloads;
    struct image_load loads[IMAGE_MAX_LOADS];   // into guest RAM at paddr
    bool has_note;          // a patched image
    struct r1_note note;
    struct image_load ring1;   // the .ring1 segment (vaddr in the window; paddr unused)
    uint32_t deltas[IMAGE_MAX_DELTAS];   // distinct non-zero p_vaddr - p_paddr of the loads
    unsigned ndeltas;
    bool is_linux;             // no multiboot header, an ELF with a "Linux" note: a vmlinux, booted
                            // by the Linux 32-bit boot protocol (image_linux_*)
};

// True if [off, off + len) lies within [0, size): no wrap-around, whatever the inputs.
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

// Parse and check the image f[0, size) for a machine with ram_size bytes of RAM. On success
// fills *out and returns NULL; else returns why not (err: IMAGE_ERR_LEN bytes of scratch).
const char *image_parse(const uint8_t *f, size_t size, uint32_t ram_size,
                        struct image_layout *out, char *err, size_t errlen);

// Check the .ring1 segment's tables: seg[0, filesz) are the segment's file bytes at guest
// address seg_vaddr (memsz with the zero fill); the header is at note->image_vaddr; undo
// records must name bytes of a file of file_size bytes. image_parse calls it.
const char *image_check_ring1(const uint8_t *seg, uint32_t seg_vaddr, uint32_t filesz,
                              uint32_t memsz, const struct r1_note *note, uint64_t file_size,
                              char *err, size_t errlen);

// Where loader_boot puts things after the kernel, as QEMU 7.2's multiboot code does: at the
// next page after load_end the module list (16 bytes a module), then the strings (each
// module's command line, the kernel's command line of cmdline_len bytes, "qemu"), then each
// module's contents at the next page.
struct boot_layout {
    uint32_t mods_addr;                     // the module list
    uint32_t strings_addr, strings_len;     // all the strings, NULs included
    uint32_t mod_addr[IMAGE_MAX_MODS];      // each module's contents
    int bad_mod;                            // the module an error is about, else -1
};

const char *image_boot_layout(uint32_t load_start, uint32_t load_end, uint32_t ram_size,
                              uint64_t cmdline_len, unsigned nmods, const uint64_t *mod_cmdline_len,
                              const uint64_t *mod_size, struct boot_layout *out, char *err,
                              size_t errlen);

// ---- the Linux boot protocol (the kernel's Documentation/arch/x86/boot.rst) -------------------
// A vmlinux is entered at its 32-bit entry point with %esi pointing at a zero page (struct
// boot_params) that holds the bzImage's setup header, patched as a boot loader does, as QEMU's
// x86_load_linux does it for -kernel/-append/-initrd.
#define LINUX_HDR_OFF     0x1f1   // struct setup_header, in the bzImage and in the zero page
#define LINUX_HDR_END_MAX 0x290   // boot_params' edd_mbr_sig_buffer: the header ends before
#define LINUX_HDR_MIN_END 0x264   // protocol 2.10 has fields up to init_size (0x260-0x263)
#define LINUX_READ        8192    // bytes of a bzImage the loader reads (QEMU reads as many)
#define LINUX_VERSION_MIN 0x020a  // 2.10 (Linux 2.6.31): pref_address, init_size
#define LINUX_ZERO_PAGE   0x10000u   // QEMU's real_addr for a protocol >= 2.02 kernel
#define LINUX_CMDLINE     0x20000u   // QEMU's cmdline_addr
#define LINUX_GDT         0x11000u   // the GDT with __BOOT_CS 0x10, __BOOT_DS 0x18 (ring1's)
#define LINUX_BOOT_ESP    0x1fff0u   // a stack below the command line (ring1's; startup_32
                                     // sets its own before it pushes anything)
#define LINUX_ACPI_DATA   0x20000u   // what QEMU 7.2 keeps free above initrd_max (measured:
                                     // a 12 KiB initrd ends at RAM - 128 KiB)
#define LINUX_LOADER_QEMU 0xb0       // type_of_loader QEMU writes

struct linux_header {
    uint8_t bytes[LINUX_HDR_END_MAX - LINUX_HDR_OFF];   // the header, zero after its end
    uint32_t end;               // offset in the zero page just past it (0x202 + jump byte)
    uint16_t version;
    uint8_t setup_sects, loadflags;
    uint16_t xloadflags;        // 0 before protocol 2.12
    uint32_t initrd_addr_max, kernel_alignment, cmdline_size, init_size;
    uint64_t pref_address;
    bool from_file;             // read from a bzImage (else made for a bare vmlinux)
};

// Check a bzImage's first bytes f[0, size) (size may be cut at LINUX_READ) and copy its setup
// header out: boot sector signature, "HdrS", protocol >= 2.10, the header inside the bytes and
// the zero page, a bzImage (loadflags LOADED_HIGH), not a 64-bit kernel (XLF_KERNEL_64).
const char *image_linux_header(const uint8_t *f, size_t size, struct linux_header *out,
                               char *err, size_t errlen);

// The header a bare vmlinux gets (no bzImage to copy one from): protocol 2.10's fields as an
// i386 bzImage's header.S gives them, pref_address/init_size from the loaded range.
void image_linux_default_header(uint32_t load_start, uint32_t load_end,
                                struct linux_header *out);

struct linux_layout {
    uint32_t zero_page, cmdline, gdt, esp;
    uint32_t initrd, initrd_size;   // 0, 0 without an initrd
};

// Where things go for a kernel loaded at [load_start, load_end) with header h on a machine of
// ram_size bytes: the command line (cmdline_len bytes without its NUL) must fit the kernel's
// cmdline_size; the kernel must load at its pref_address with init_size bytes of RAM; the
// initrd goes as QEMU puts it: page-aligned at the top of RAM below initrd_addr_max and below
// the top LINUX_ACPI_DATA bytes, above the kernel's init_size.
const char *image_linux_layout(const struct linux_header *h, uint32_t load_start,
                               uint32_t load_end, uint32_t ram_size, uint64_t cmdline_len,
                               uint64_t initrd_size, struct linux_layout *out, char *err,
                               size_t errlen);

#endif
