// File system calls: arguments checked here, the work done in file.c and fs.c.
#include "defs.h"
#include "fcntl.h"
#include "file.h"
#include "syscall.h"

// The n'th argument as a file descriptor: its number in *pfd and file in *pf (either may
// be 0). -1 if it is not an open descriptor.
static int argfd(int n, int *pfd, struct file **pf)
{
    int fd;
    struct file *f;
    if (argint(n, &fd) < 0 || fd < 0 || fd >= NOFILE || !(f = myproc()->ofile[fd]))
        return -1;
    if (pfd)
        *pfd = fd;
    if (pf)
        *pf = f;
    return 0;
}

// The lowest free descriptor, now referring to f; -1 if there is none.
static int fdalloc(struct file *f)
{
    struct proc *p = myproc();
    for (int fd = 0; fd < NOFILE; fd++)
        if (!p->ofile[fd]) {
            p->ofile[fd] = f;
            return fd;
        }
    return -1;
}

int sys_dup(void)
{
    struct file *f;
    int fd;
    if (argfd(0, 0, &f) < 0 || (fd = fdalloc(f)) < 0)
        return -1;
    filedup(f);
    return fd;
}

int sys_read(void)
{
    struct file *f;
    int n;
    char *p;
    if (argfd(0, 0, &f) < 0 || argint(2, &n) < 0 || argptr(1, &p, n) < 0)
        return -1;
    return fileread(f, p, n);
}

int sys_write(void)
{
    struct file *f;
    int n;
    char *p;
    if (argfd(0, 0, &f) < 0 || argint(2, &n) < 0 || argptr(1, &p, n) < 0)
        return -1;
    return filewrite(f, p, n);
}

int sys_close(void)
{
    int fd;
    struct file *f;
    if (argfd(0, &fd, &f) < 0)
        return -1;
    myproc()->ofile[fd] = 0;
    fileclose(f);
    return 0;
}

int sys_fstat(void)
{
    struct file *f;
    struct stat *st;
    if (argfd(0, 0, &f) < 0 || argptr(1, (char **)&st, sizeof(*st)) < 0)
        return -1;
    return filestat(f, st);
}

// link(old, new): another name for the file old.
int sys_link(void)
{
    char name[DIRSIZ], *new, *old;
    struct inode *dp, *ip;
    if (argstr(0, &old) < 0 || argstr(1, &new) < 0)
        return -1;
    if (!(ip = namei(old)))
        return -1;
    ilock(ip);
    if (ip->type == T_DIR) {
        iunlockput(ip);
        return -1;
    }
    ip->nlink++;        // count the new name first: a crash may then leak, never dangle
    iupdate(ip);
    iunlock(ip);

    if (!(dp = nameiparent(new, name)))
        goto bad;
    ilock(dp);
    if (dp->dev != ip->dev || dirlink(dp, name, ip->inum) < 0) {
        iunlockput(dp);
        goto bad;
    }
    iunlockput(dp);
    iput(ip);
    return 0;

bad:
    ilock(ip);
    ip->nlink--;
    iupdate(ip);
    iunlockput(ip);
    return -1;
}

// Is directory dp empty except for "." and ".."?
static int isdirempty(struct inode *dp)
{
    struct dirent de;
    for (uint32_t off = 2 * sizeof(de); off < dp->size; off += sizeof(de)) {
        if (readi(dp, (char *)&de, off, sizeof(de)) != sizeof(de))
            panic("isdirempty: read");
        if (de.inum != 0)
            return 0;
    }
    return 1;
}

int sys_unlink(void)
{
    struct dirent de;
    char name[DIRSIZ], *path;
    uint32_t off;
    struct inode *dp, *ip;

    if (argstr(0, &path) < 0 || !(dp = nameiparent(path, name)))
        return -1;
    ilock(dp);
    if (namecmp(name, ".") == 0 || namecmp(name, "..") == 0)   // cannot unlink . or ..
        goto bad;
    if (!(ip = dirlookup(dp, name, &off)))
        goto bad;
    ilock(ip);
    if (ip->nlink < 1)
        panic("unlink: nlink < 1");
    if (ip->type == T_DIR && !isdirempty(ip)) {
        iunlockput(ip);
        goto bad;
    }
    memset(&de, 0, sizeof(de));
    if (writei(dp, (char *)&de, off, sizeof(de)) != sizeof(de))
        panic("unlink: writei");
    if (ip->type == T_DIR) {   // its ".." no longer names dp
        dp->nlink--;
        iupdate(dp);
    }
    iunlockput(dp);
    ip->nlink--;
    iupdate(ip);
    iunlockput(ip);   // frees it if that was the last name and nothing has it open
    return 0;

bad:
    iunlockput(dp);
    return -1;
}

// Create path as a new inode of the given type, returned locked; or, for T_FILE, return the
// existing file. 0 on failure.
static struct inode *create(const char *path, int16_t type, int16_t major, int16_t minor)
{
    char name[DIRSIZ];
    struct inode *dp, *ip;
    if (!(dp = nameiparent(path, name)))
        return 0;
    ilock(dp);
    if ((ip = dirlookup(dp, name, 0))) {
        iunlockput(dp);
        ilock(ip);
        if (type == T_FILE && ip->type == T_FILE)
            return ip;
        iunlockput(ip);
        return 0;
    }
    ip = ialloc(dp->dev, type);
    ilock(ip);
    ip->major = major;
    ip->minor = minor;
    ip->nlink = 1;
    iupdate(ip);
    if (type == T_DIR) {   // "." and ".."; "." is not counted in nlink (no cycles)
        dp->nlink++;       // for ".."
        iupdate(dp);
        if (dirlink(ip, ".", ip->inum) < 0 || dirlink(ip, "..", dp->inum) < 0)
            panic("create: dots");
    }
    if (dirlink(dp, name, ip->inum) < 0)
        panic("create: dirlink");
    iunlockput(dp);
    return ip;
}

int sys_open(void)
{
    char *path;
    int fd, omode;
    struct file *f;
    struct inode *ip;

    if (argstr(0, &path) < 0 || argint(1, &omode) < 0)
        return -1;
    if (omode & O_CREATE) {
        if (!(ip = create(path, T_FILE, 0, 0)))
            return -1;
    } else {
        if (!(ip = namei(path)))
            return -1;
        ilock(ip);
        if (ip->type == T_DIR && omode != O_RDONLY) {
            iunlockput(ip);
            return -1;
        }
    }
    if (!(f = filealloc()) || (fd = fdalloc(f)) < 0) {
        if (f)
            fileclose(f);
        iunlockput(ip);
        return -1;
    }
    if ((omode & O_TRUNC) && ip->type == T_FILE)
        itrunc(ip);
    iunlock(ip);
    f->type = FD_INODE;
    f->ip = ip;
    f->off = 0;
    f->readable = !(omode & O_WRONLY);
    f->writable = (omode & O_WRONLY) || (omode & O_RDWR);
    return fd;
}

int sys_mkdir(void)
{
    char *path;
    struct inode *ip;
    if (argstr(0, &path) < 0 || !(ip = create(path, T_DIR, 0, 0)))
        return -1;
    iunlockput(ip);
    return 0;
}

int sys_chdir(void)
{
    char *path;
    struct inode *ip;
    struct proc *p = myproc();
    if (argstr(0, &path) < 0 || !(ip = namei(path)))
        return -1;
    ilock(ip);
    if (ip->type != T_DIR) {
        iunlockput(ip);
        return -1;
    }
    iunlock(ip);
    iput(p->cwd);
    p->cwd = ip;
    return 0;
}

int sys_exec(void)
{
    char *path, *argv[MAXARG + 1];
    int uargv, uarg;
    if (argstr(0, &path) < 0 || argint(1, &uargv) < 0)
        return -1;
    for (int i = 0;; i++) {
        if (i > MAXARG)
            return -1;
        if (fetchint(uargv + 4 * i, &uarg) < 0)
            return -1;
        if (uarg == 0) {
            argv[i] = 0;
            break;
        }
        if (fetchstr(uarg, &argv[i]) < 0)
            return -1;
    }
    return exec(path, argv);
}

int sys_pipe(void)
{
    int *fd;
    struct file *rf, *wf;
    int fd0, fd1;
    if (argptr(0, (char **)&fd, 2 * sizeof(fd[0])) < 0 || pipealloc(&rf, &wf) < 0)
        return -1;
    if ((fd0 = fdalloc(rf)) < 0 || (fd1 = fdalloc(wf)) < 0) {
        if (fd0 >= 0)
            myproc()->ofile[fd0] = 0;
        fileclose(rf);
        fileclose(wf);
        return -1;
    }
    fd[0] = fd0;
    fd[1] = fd1;
    return 0;
}
