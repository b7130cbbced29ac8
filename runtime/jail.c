// The jail: what a guest that took over this process could still do. See docs/security.md.
//
// Any guest code, ring 3 included, can far-jump through the host's 64-bit code selector and run
// 64-bit code here, with this process's whole address space (entry.S, "Hostile guests"). So,
// Firecracker-style, the process assumes it may be taken over and gives itself up first: after
// set-up -- every file opened, every memfd and timer made -- and before the guest's first
// instruction, jail_enter()
//   - makes the process undumpable and sets RLIMIT_CORE to 0 (no guest memory on disk);
//   - bounds what it can still take from the host, soft and hard (CAP_SYS_RESOURCE is gone, and
//     setrlimit/prlimit are not allowed): address space to what set-up mapped plus 256 MiB,
//     descriptors to those open, file size to the largest file open for writing plus the serial
//     output limit (a disk image cannot be grown, nor the host's disk filled);
//   - as root: new mount, network, IPC and UTS namespaces, an empty read-only root (a tmpfs,
//     pivot_root'ed, the old root detached), user and groups `nobody` (65534), every capability
//     dropped but CAP_SYS_RAWIO, and that one only when guest page 0 must be mappable
//     (vm.mmap_min_addr checks it against the initial user namespace);
//   - not as root: the same inside a new user namespace where the kernel allows one, else
//     nothing of this item (said once on stderr);
//   - always: a seccomp allowlist of the system calls the run loop makes. Anything else --
//     open*, execve*, socket, connect, ptrace, process_vm_*, clone, fork, prctl, ioctl (no
//     TIOCSTI into the terminal), kill/tgkill of another process, mmap of a file other than
//     guest memory -- raises SIGSYS, which signals.c reports (status 24) before anything else.
// `--no-jail` (debugging: gdb, strace) keeps only the filter that stops the guest's own system
// calls (signals.c).
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "vcpu.h"

#define NOBODY 65534u

static bool jailed_ns;   // namespaces, empty root and user nobody are in place

static void jail_fail(const char *what)
{
    fprintf(stderr, "ring1-run: jail: %s: %s (--no-jail runs without it)\n", what,
            strerror(errno));
    exit(STATUS_INTERNAL);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

// An empty, read-only tmpfs as "/": mounted over an existing directory of our private mount
// namespace, pivot_root'ed into, the old root detached. Nothing of the host's file system is
// reachable afterwards, by path or by "..".
static void empty_root(void)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        jail_fail("make the mounts private");
    static const char *const dirs[] = {"/tmp", "/mnt", "/proc", "/dev"};
    const char *dir = NULL;
    for (unsigned i = 0; i < sizeof dirs / sizeof dirs[0] && !dir; i++)
        if (mount("ring1-jail", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,nr_inodes=2,mode=0555") == 0)
            dir = dirs[i];
    if (!dir)
        jail_fail("mount an empty root");
    if (chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        jail_fail("pivot_root into the empty root");
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        jail_fail("detach the host's root");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0)
        jail_fail("make the empty root read-only");
}

// Keep only the capabilities in `keep` (a mask of CAP_* bits, < 64) in the bounding set (this
// takes CAP_SETPCAP: before the user changes) ...
static void bounding_keep(uint64_t keep)
{
    for (int c = 0; c <= 63; c++)
        if (!(keep >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            jail_fail("drop the capability bounding set");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// ... and in the permitted and effective sets (inheritable: none).
static void caps_keep(uint64_t keep)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)keep, (uint32_t)keep, 0},
        {(uint32_t)(keep >> 32), (uint32_t)(keep >> 32), 0},
    };
    if (syscall(SYS_capset, &h, d) < 0)
        jail_fail("set the capabilities");
}

static void namespaces_as_root(bool need_page0)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
        jail_fail("new namespaces");
    empty_root();
    // Become nobody, keeping (for mmap below vm.mmap_min_addr) CAP_SYS_RAWIO at most.
    uint64_t keep = need_page0 ? 1ull << CAP_SYS_RAWIO : 0;
    bounding_keep(keep);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
        setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
        jail_fail("become user nobody");
    caps_keep(keep);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    jailed_ns = true;
}

static bool namespaces_unprivileged(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
        return false;
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/setgroups", "deny") < 0 ||
        write_file("/proc/self/uid_map", map) < 0)
        jail_fail("map the user into its namespace");
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) < 0)
        jail_fail("map the group into its namespace");
    empty_root();
    bounding_keep(0);
    caps_keep(0);
    jailed_ns = true;
    return true;
}

// ---- the seccomp allowlist ------------------------------------------------------------------
// What the run loop calls, found with strace over the whole test suite: exits and signals,
// guest memory (mmap of the RAM and window memfds, mprotect, munmap), host timers and clocks,
// console and disk I/O on descriptors opened at start-up, LDT slots for guest segments.
static const int allowed[] = {
    SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_lseek,
    SYS_fdatasync, SYS_fsync, SYS_close, SYS_fstat,
    SYS_mprotect, SYS_munmap, SYS_madvise, SYS_brk,
    SYS_rt_sigreturn, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigpending, SYS_rt_sigtimedwait,
    SYS_poll, SYS_ppoll, SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime,
    SYS_clock_getres, SYS_gettimeofday, SYS_sched_yield, SYS_getrusage,
    SYS_timer_create, SYS_timer_settime, SYS_timer_gettime, SYS_timer_delete,
    SYS_getpid, SYS_gettid, SYS_futex, SYS_getrandom, SYS_restart_syscall,
    SYS_sysinfo,   // qsort asks for the size of physical memory (--stats)
    SYS_modify_ldt, SYS_exit, SYS_exit_group,
};

#define LD_NR     BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define LD_ARG_HI(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]) + 4)
#define RET(v)    BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define JSET(k, t, f) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))
#define ALLOW     SECCOMP_RET_ALLOW
#define DENY      SECCOMP_RET_TRAP

// The gdb stub's listening socket (jail_allow_gdb), or -1.
static int gdb_fd = -1;

void jail_allow_gdb(int listen_fd)
{
    gdb_fd = listen_fd;
}

static void allowlist(const int *mappable_fds, unsigned nfds)
{
    struct sock_filter f[160];
    unsigned n = 0;
#define EMIT(...) (f[n++] = (struct sock_filter)__VA_ARGS__)
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    EMIT(JEQ(AUDIT_ARCH_X86_64, 1, 0));
    EMIT(RET(DENY));
    EMIT(LD_NR);
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));   // x32 numbers
    EMIT(RET(DENY));

    // mmap: anonymous memory, or guest memory (the RAM and window memfds); no other file.
    EMIT(JEQ(SYS_mmap, 0, (uint8_t)(5 + 2 * nfds)));
    EMIT(LD_ARG_LO(3));                      // flags
    EMIT(JSET(MAP_ANONYMOUS, (uint8_t)(2 + 2 * nfds), 0));
    EMIT(LD_ARG_LO(4));                      // fd (the kernel takes its low 32 bits)
    for (unsigned i = 0; i < nfds; i++) {
        EMIT(JEQ((uint32_t)mappable_fds[i], 0, 1));
        EMIT(RET(ALLOW));
    }
    EMIT(RET(DENY));
    EMIT(RET(ALLOW));
    EMIT(LD_NR);

    // kill, tkill, tgkill: this process only (raise, abort).
    uint32_t pid = (uint32_t)getpid();
    static const int killers[] = {SYS_kill, SYS_tkill, SYS_tgkill};
    for (unsigned i = 0; i < 3; i++) {
        EMIT(JEQ((uint32_t)killers[i], 0, 6));
        EMIT(LD_ARG_HI(0));
        EMIT(JEQ(0, 0, 2));
        EMIT(LD_ARG_LO(0));
        EMIT(JEQ(pid, 1, 0));
        EMIT(RET(DENY));
        EMIT(RET(ALLOW));
    }
    // The gdb stub (--gdb, -s; gdbstub.c), when there is one: accept4 on its listening socket
    // only (a connection gdb makes while the guest runs), and on a connection's descriptor the
    // SIGIO set-up that lets Ctrl-C from gdb stop the guest -- F_SETOWN to this process,
    // F_SETSIG to SIG_GDB, nothing else -- beside the file status flags below.
    if (gdb_fd >= 0) {
        EMIT(JEQ(SYS_accept4, 0, 4));
        EMIT(LD_ARG_LO(0));
        EMIT(JEQ((uint32_t)gdb_fd, 1, 0));
        EMIT(RET(DENY));
        EMIT(RET(ALLOW));
        EMIT(JEQ(SYS_fcntl, 0, 11));
        EMIT(LD_ARG_LO(1));
        EMIT(JEQ(F_GETFL, 8, 0));
        EMIT(JEQ(F_SETFL, 7, 0));
        EMIT(JEQ(F_SETOWN, 0, 2));
        EMIT(LD_ARG_LO(2));
        EMIT(JEQ(pid, 4, 3));
        EMIT(JEQ(F_SETSIG, 0, 2));
        EMIT(LD_ARG_LO(2));
        EMIT(JEQ((uint32_t)SIG_GDB, 1, 0));
        EMIT(RET(DENY));
        EMIT(RET(ALLOW));
    }
    // fcntl: file status flags only (stdin's O_NONBLOCK/O_ASYNC are put back at exit), never
    // F_SETOWN/F_SETSIG (a signal to another process).
    EMIT(JEQ(SYS_fcntl, 0, 5));
    EMIT(LD_ARG_LO(1));
    EMIT(JEQ(F_GETFL, 2, 0));
    EMIT(JEQ(F_SETFL, 1, 0));
    EMIT(RET(DENY));
    EMIT(RET(ALLOW));

    // newfstatat: of a descriptor (the C library's fstat, AT_EMPTY_PATH), never of a path.
    EMIT(JEQ(SYS_newfstatat, 0, 4));
    EMIT(LD_ARG_LO(3));
    EMIT(JSET(AT_EMPTY_PATH, 1, 0));
    EMIT(RET(DENY));
    EMIT(RET(ALLOW));

    unsigned nallowed = sizeof allowed / sizeof allowed[0];
    for (unsigned i = 0; i < nallowed; i++)
        EMIT(JEQ((uint32_t)allowed[i], (uint8_t)(nallowed - i), 0));
    EMIT(RET(DENY));
    EMIT(RET(ALLOW));
#undef EMIT
    if (n > sizeof f / sizeof f[0])
        abort();
    struct sock_fprog prog = {(unsigned short)n, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        jail_fail("seccomp allowlist");
}

// Soft and hard limit at once (only ever lowered).
static void bound(int resource, uint64_t v, const char *what)
{
    struct rlimit r;
    if (getrlimit(resource, &r) == 0 && r.rlim_max != RLIM_INFINITY && r.rlim_max < v)
        v = r.rlim_max;
    r.rlim_cur = r.rlim_max = v;
    if (setrlimit(resource, &r) != 0)
        jail_fail(what);
}

// What the process may still use of the host once jailed (see the top of this file):
// measured before the namespaces (/proc is gone after them), set after them (they open files).
struct bounds { uint64_t as, nofile, fsize; };

static struct bounds resource_bounds(uint64_t output_limit)
{
    uint64_t vsize = 0, largest = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f && fscanf(f, "%llu", &pages) == 1)
        vsize = pages * (uint64_t)sysconf(_SC_PAGESIZE);
    if (f)
        fclose(f);
    int top = -1;
    for (int fd = 0; fd < 1024; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
            continue;
        top = fd;
        struct stat st;
        if ((fl & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size > largest)
            largest = (uint64_t)st.st_size;
    }
    // (A gdb stub accepts a connection later: one descriptor more.)
    return (struct bounds){vsize ? vsize + (256ull << 20) : RLIM_INFINITY,
                           (uint64_t)top + 1 + (gdb_fd >= 0),
                           largest + (output_limit ? output_limit : 1ull << 30) + (1u << 20)};
}

static void set_bounds(struct bounds b)
{
    bound(RLIMIT_AS, b.as, "bound the address space");
    bound(RLIMIT_NOFILE, b.nofile, "bound the descriptors");
    bound(RLIMIT_FSIZE, b.fsize, "bound file sizes");
    bound(RLIMIT_MEMLOCK, 0, "bound locked memory");
}

void jail_enter(bool namespaces, bool need_page0, const int *mappable_fds, unsigned nfds,
                uint64_t output_limit)
{
    tzset();   // the C library reads /etc/localtime once; now, while it exists
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    struct bounds b = resource_bounds(output_limit);
    if (namespaces) {
        if (geteuid() == 0)
            namespaces_as_root(need_page0);
        else if (!namespaces_unprivileged())
            fprintf(stderr, "ring1-run: jail: no user namespaces here (%s): running with the "
                    "system-call allowlist only\n", strerror(errno));
    }
    set_bounds(b);
    // (Only now: a process that is not dumpable may not write its own uid_map.)
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    allowlist(mappable_fds, nfds);
}

bool jail_namespaces(void)
{
    return jailed_ns;
}

const char *jail_syscall_name(int nr)
{
    switch (nr) {
    case SYS_open: return "open";
    case SYS_openat: return "openat";
    case SYS_openat2: return "openat2";
    case SYS_execve: return "execve";
    case SYS_execveat: return "execveat";
    case SYS_socket: return "socket";
    case SYS_connect: return "connect";
    case SYS_ptrace: return "ptrace";
    case SYS_process_vm_readv: return "process_vm_readv";
    case SYS_process_vm_writev: return "process_vm_writev";
    case SYS_clone: return "clone";
    case SYS_clone3: return "clone3";
    case SYS_fork: return "fork";
    case SYS_vfork: return "vfork";
    case SYS_prctl: return "prctl";
    case SYS_ioctl: return "ioctl";
    case SYS_mmap: return "mmap";
    case SYS_kill: return "kill";
    case SYS_tgkill: return "tgkill";
    case SYS_fcntl: return "fcntl";
    case SYS_mount: return "mount";
    case SYS_unlink: return "unlink";
    case SYS_mkdir: return "mkdir";
    case SYS_chdir: return "chdir";
    case SYS_sysinfo: return "sysinfo";
    case SYS_newfstatat: return "newfstatat";
    default: return "?";
    }
}
