// Multiboot v1 loader (ELF and a.out kludge), the Linux 32-bit boot protocol, and the ring1
// image note.
#ifndef RING1_LOADER_H
#define RING1_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "image.h"

struct vcpu;

#define LOADER_MAX_MODS 32      // IMAGE_MAX_MODS

// A multiboot module (--module 'FILE args').
struct module {
    const char *cmdline;    // "FILE args" as given: the module's command line
    const uint8_t *data;
    uint32_t size;
};

struct image {
    const char *path;
    uint32_t entry;         // physical entry point (as GRUB and QEMU compute it)
    uint32_t load_start;    // lowest physical address loaded (QEMU's mb_buf_phys)
    uint32_t load_end;      // end of everything loaded into RAM (boot info goes after it)
    bool has_note;          // a patched image: the ring1 note names the window and tables
    struct r1_note note;
    const uint8_t *ring1;   // the .ring1 segment's bytes (memsz, zero-filled), if any
    uint32_t ring1_vaddr, ring1_len;
    uint32_t deltas[4];     // distinct p_vaddr - p_paddr of the loaded segments (non-zero)
    unsigned ndeltas;
    struct module mods[LOADER_MAX_MODS];
    unsigned nmods;
    bool is_linux;             // a vmlinux: booted by the Linux 32-bit boot protocol
    const char *linux_setup;   // --linux-setup FILE: the bzImage its setup header comes from
    struct linux_header linux_hdr;
    const char *initrd_path;   // --initrd FILE
    const uint8_t *initrd;
    uint32_t initrd_size;
};

// --linux-setup FILE: read and check the bzImage's setup header now (before loader_load).
void loader_set_linux_setup(struct image *img, const char *path);
// --initrd FILE: read it now (before loader_load).
void loader_set_initrd(struct image *img, const char *path);

// Read a module file now (before loader_load, which keeps the list): arg is "FILE args".
void loader_add_module(struct image *img, const char *arg);

// Load the image's segments into guest RAM. Everything in the file is checked first (image.c);
// on anything wrong, exits with STATUS_LOAD_ERROR and one line saying what.
void loader_load(const char *path, struct image *img);
// Build the multiboot information (memory map, command line, loader name) in guest RAM the
// way QEMU 7.2 lays it out, and set EAX/EBX/EIP/ESP for the jump to the kernel. vga: the
// machine has a VGA, whose BIOS ROM comes first at 0xC0000 (and moves QEMU's option ROM).
// For a Linux vmlinux: the zero page, command line and initrd as QEMU's -kernel/-append/-initrd
// put them, the boot protocol's GDT, segments and ESI.
void loader_boot(struct vcpu *v, const struct image *img, const char *cmdline, bool vga);

#endif
