// Links: runtime/image.c (build: clang -fsanitize=fuzzer,address,undefined -Iruntime -Iruntime/include fuzz/runtime_image.c runtime/image.c)
//
// libFuzzer harness for the runtime's image parser: any bytes as a kernel image file, for a
// few RAM sizes; an accepted image's boot layout with a module and a command line derived from
// the input too; the same bytes as a bzImage's setup header (--linux-setup) with the Linux
// layout (command line, initrd). image.c must return a message or a layout that lies inside the input and RAM,
// never crash, and never put anything but numbers into a message.
// An input that starts with R1_MAGIC is also checked as a bare .ring1 segment (at the default
// window's image address, with a note that agrees with its header), so that mutations reach
// the site table, maps and undo records directly (seeds: *.ring1, cut from patched images).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static void check_inside(const struct image_load *l, size_t size)
{
    if (!range_ok(l->off, l->filesz, size) || l->filesz > l->memsz)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t rams[] = {128u << 20, 2u << 20, 0xc0000000u};
    // A private copy of exactly `size` bytes, so that ASan sees any read past the end.
    uint8_t *f = malloc(size ? size : 1);
    if (size)
        memcpy(f, data, size);
    uint32_t ram = rams[size % 3];
    static struct image_layout lay;
    if (size >= sizeof(struct r1_header) && !memcmp(data, R1_MAGIC, 8) && size <= R1_IMAGE_MAX) {
        struct r1_header h;
        memcpy(&h, f, sizeof h);
        struct r1_note n = {R1_ABI_VERSION, R1_WINDOW_DEFAULT, R1_WINDOW_DEFAULT + R1_IMAGE_OFF,
                            h.flags, {0}};
        char e[IMAGE_ERR_LEN];
        const char *w = image_check_ring1(f, n.image_vaddr, (uint32_t)size, (uint32_t)size, &n,
                                          UINT32_MAX, e, sizeof e);
        if (w && (!memchr(w, '\0', IMAGE_ERR_LEN) || strchr(w, '\n')))
            abort();
    }
    char err[IMAGE_ERR_LEN];
    // The input as a bzImage's first bytes (--linux-setup): the setup header, then where a
    // kernel at 1 MiB, a command line and an initrd sized from the input would go.
    {
        static struct linux_header lh;
        struct linux_layout L;
        const char *w = image_linux_header(f, size, &lh, err, sizeof err);
        if (!w) {
            uint32_t end = 0x100000u + (uint32_t)(size & 0xffffff);
            w = image_linux_layout(&lh, 0x100000, end, ram, size / 3, (uint64_t)size * 997, &L,
                                   err, sizeof err);
            if (!w && L.initrd_size && (!range_ok(L.initrd, L.initrd_size, ram) ||
                                        L.initrd < end || (L.initrd & 0xfff)))
                abort();
        }
        if (w && (!memchr(w, '\0', IMAGE_ERR_LEN) || strchr(w, '\n')))
            abort();
    }
    const char *why = image_parse(f, size, ram, &lay, err, sizeof err);
    if (why) {
        if (!memchr(why, '\0', IMAGE_ERR_LEN) || strchr(why, '\n'))
            abort();
    } else {
        for (unsigned i = 0; i < lay.nloads; i++) {
            check_inside(&lay.loads[i], size);
            if (!range_ok(lay.loads[i].paddr, lay.loads[i].memsz, ram))
                abort();
        }
        if (lay.has_note)
            check_inside(&lay.ring1, size);
        if (lay.is_linux) {
            static struct linux_header lh;
            struct linux_layout L;
            image_linux_default_header(lay.load_start, lay.load_end, &lh);
            if (!image_linux_layout(&lh, lay.load_start, lay.load_end, ram, size, size, &L, err,
                                    sizeof err) &&
                L.initrd_size && !range_ok(L.initrd, L.initrd_size, ram))
                abort();
        }
        uint64_t cl = size, ml = size / 2, ms = size * 1000;
        struct boot_layout bl;
        why = image_boot_layout(lay.load_start, lay.load_end, ram, cl, 1, &ml, &ms, &bl, err,
                                sizeof err);
        if (!why && (!range_ok(bl.mods_addr, 16 + (uint64_t)bl.strings_len, ram) ||
                     !range_ok(bl.mod_addr[0], ms, ram)))
            abort();
    }
    free(f);
    return 0;
}
