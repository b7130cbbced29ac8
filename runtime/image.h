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

#endif
