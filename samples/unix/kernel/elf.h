// The parts of the ELF format exec() reads (System V ABI, i386 supplement).
#ifndef UNIX_ELF_H
#define UNIX_ELF_H

#include <stdint.h>

#define ELF_MAGIC 0x464c457fu   // "\x7fELF", little-endian

struct elfhdr {
    uint32_t magic;
    uint8_t elf[12];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct proghdr {
    uint32_t type, off, vaddr, paddr, filesz, memsz, flags, align;
};

#define ELF_PROG_LOAD 1

#endif
