// exec: replace the current process's memory with an ELF program from the file system.
// The new image, from virtual address 0:
//   [program segments][guard page (no PTE_U)][stack page: argument strings, argv, argc]
// and the stack pointer points at a fake return address above argc and argv, so that a
// cdecl _start(argc, argv) sees its arguments (user/crt0.S).
#include "defs.h"
#include "elf.h"
#include "syscall.h"

int exec(const char *path, char **argv)
{
    struct proc *p = myproc();
    struct elfhdr elf;
    struct proghdr ph;
    pde_t *pgdir = 0;
    uint32_t sz = 0, ustack[3 + MAXARG + 1];
    int argc;

    struct inode *ip = namei(path);
    if (!ip)
        return -1;
    ilock(ip);
    if (readi(ip, (char *)&elf, 0, sizeof(elf)) != sizeof(elf) || elf.magic != ELF_MAGIC)
        goto bad;
    if (!(pgdir = setupkvm()))
        goto bad;

    for (uint32_t i = 0, off = elf.phoff; i < elf.phnum; i++, off += sizeof(ph)) {
        if (readi(ip, (char *)&ph, off, sizeof(ph)) != sizeof(ph))
            goto bad;
        if (ph.type != ELF_PROG_LOAD)
            continue;
        if (ph.memsz < ph.filesz || ph.vaddr + ph.memsz < ph.vaddr || ph.vaddr % PGSIZE)
            goto bad;
        if (!(sz = allocuvm(pgdir, sz, ph.vaddr + ph.memsz)))
            goto bad;
        if (loaduvm(pgdir, (char *)ph.vaddr, ip, ph.off, ph.filesz) < 0)
            goto bad;
    }
    iunlockput(ip);
    ip = 0;

    // Two pages at the next page boundary: the lower one a guard against stack overflow.
    sz = PGROUNDUP(sz);
    if (!(sz = allocuvm(pgdir, sz, sz + 2 * PGSIZE)))
        goto bad;
    clearpteu(pgdir, (char *)(sz - 2 * PGSIZE));

    // The argument strings, then the argv array, argv, argc, and a fake return address.
    uint32_t sp = sz;
    for (argc = 0; argv[argc]; argc++) {
        if (argc >= MAXARG)
            goto bad;
        sp = (sp - (strlen(argv[argc]) + 1)) & ~3u;
        if (copyout(pgdir, sp, argv[argc], strlen(argv[argc]) + 1) < 0)
            goto bad;
        ustack[3 + argc] = sp;
    }
    ustack[3 + argc] = 0;
    ustack[0] = 0xffffffff;                     // fake return address
    ustack[1] = argc;
    ustack[2] = sp - (argc + 1) * 4;            // argv
    sp -= (3 + argc + 1) * 4;
    if (copyout(pgdir, sp, ustack, (3 + argc + 1) * 4) < 0)
        goto bad;

    // The program's name, for trap messages: the last element of its path.
    const char *last = path;
    for (const char *s = path; *s; s++)
        if (*s == '/')
            last = s + 1;
    safestrcpy(p->name, last, sizeof(p->name));

    // Commit to the new image.
    pde_t *oldpgdir = p->pgdir;
    p->pgdir = pgdir;
    p->sz = sz;
    p->tf->eip = elf.entry;
    p->tf->esp = sp;
    switchuvm(p);
    freevm(oldpgdir);
    return 0;

bad:
    if (pgdir)
        freevm(pgdir);
    if (ip)
        iunlockput(ip);
    return -1;
}
