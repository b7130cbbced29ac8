// systest: the remaining system calls — sbrk, sleep and uptime, kill (of a process spinning
// in ring 3, which only timer preemption lets the parent reach, and of one blocked in a
// read), getpid, link, unlink, dup, fstat, mkdir and chdir. One line per check, printed by
// the parent only, with nothing that depends on timing.
#include "user.h"

#define GROW 40960

static void die(const char *msg)
{
    printf("systest: FAILED: %s\n", msg);
    exit(1);
}

static void memory(void)
{
    char *old = sbrk(0), *p = sbrk(GROW);
    if (p != old)
        die("sbrk did not return the old end");
    for (int i = 0; i < GROW; i++)
        p[i] = (char)(i * 7);
    int pid = fork(), status;
    if (pid == 0) {   // the child has its own copy
        for (int i = 0; i < GROW; i++)
            if (p[i] != (char)(i * 7))
                exit(1);
        p[0] = 1;
        exit(0);
    }
    if (pid < 0 || wait(&status) != pid || status != 0 || p[0] != 0)
        die("fork did not copy memory");
    if (sbrk(-GROW) == (char *)-1 || sbrk(0) != old)
        die("sbrk did not shrink");
    char *blocks[32];
    for (int i = 0; i < 32; i++)
        if (!(blocks[i] = malloc(1000)))
            die("malloc");
    for (int i = 0; i < 32; i++)
        free(blocks[i]);
    printf("systest: sbrk grew and shrank %d bytes; the forked child had its own copy\n", GROW);
}

static void timing(void)
{
    int t0 = uptime();
    if (sleep(5) < 0)
        die("sleep");
    if (uptime() - t0 < 5)
        die("uptime did not advance");
    printf("systest: sleep(5) took at least 5 ticks of uptime\n");
}

static void kills(void)
{
    int status, p[2];
    int pid = fork();
    if (pid == 0)
        for (;;)   // spin in ring 3: only the timer takes the CPU away
            ;
    sleep(2);      // the child runs now
    if (pid < 0 || kill(pid) < 0 || wait(&status) != pid || status != -1)
        die("kill of a spinning child");
    printf("systest: killed a child spinning in ring 3; status %d\n", status);

    if (pipe(p) < 0)
        die("pipe");
    if ((pid = fork()) == 0) {
        char c;
        read(p[0], &c, 1);   // nobody writes: blocks until killed
        exit(0);
    }
    sleep(2);
    if (pid < 0 || kill(pid) < 0 || wait(&status) != pid || status != -1)
        die("kill of a blocked child");
    close(p[0]);
    close(p[1]);
    printf("systest: killed a child blocked in read; status %d\n", status);
    if (kill(pid) != -1)
        die("kill of a reaped pid");

    // Ring 3 may not touch the kernel's pages (PTE_U clear): a read, then a write, of the
    // kernel's text traps (#PF, protection, user) and the kernel kills the child.
    for (int write = 0; write < 2; write++) {
        if ((pid = fork()) == 0) {
            volatile int *kernel = (volatile int *)0x80100000;
            if (write)
                *kernel = 0;
            else
                (void)*kernel;
            exit(0);
        }
        if (pid < 0 || wait(&status) != pid || status != -1)
            die(write ? "a write to kernel memory from ring 3 succeeded"
                      : "a read of kernel memory from ring 3 succeeded");
    }
    printf("systest: ring 3 reading and writing kernel memory was stopped; status %d\n",
           status);

    pid = fork();
    if (pid == 0)
        exit(getpid() == 1 ? 2 : 0);
    if (pid < 0 || wait(&status) != pid || status != 0 || getpid() == pid)
        die("getpid");
    printf("systest: getpid differs in parent and child\n");
}

static void files(void)
{
    char buf[600], back[600];
    struct stat st;
    for (int i = 0; i < (int)sizeof(buf); i++)
        buf[i] = 'A' + i % 26;

    int fd = open("st.a", O_CREATE | O_RDWR);
    if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf))
        die("create");
    close(fd);
    if (link("st.a", "st.b") < 0 || stat("st.a", &st) < 0 || st.nlink != 2)
        die("link");
    if (unlink("st.a") < 0 || open("st.a", O_RDONLY) >= 0)
        die("unlink");
    if ((fd = open("st.b", O_RDONLY)) < 0 || fstat(fd, &st) < 0)
        die("open the link");
    if (st.nlink != 1 || st.size != sizeof(buf) || st.type != T_FILE)
        die("fstat");
    int fd2 = dup(fd);   // shares the offset
    if (read(fd, back, 100) != 100 || read(fd2, back + 100, 500) != 500 ||
        memcmp(buf, back, sizeof(buf)) != 0 || read(fd, back, 1) != 0)
        die("read through dup");
    close(fd);
    close(fd2);
    if (unlink("st.b") < 0 || stat("st.b", &st) >= 0)
        die("unlink the last name");
    printf("systest: link, unlink, fstat, dup: %d bytes, nlink 2 then 1\n", (int)sizeof(buf));

    if (mkdir("st.d") < 0 || chdir("st.d") < 0 || (fd = open("f", O_CREATE | O_WRONLY)) < 0)
        die("mkdir/chdir");
    close(fd);
    if (chdir("..") < 0 || unlink("st.d") >= 0)
        die("a non-empty directory was unlinked");
    if (unlink("st.d/f") < 0 || unlink("st.d") < 0)
        die("rmdir");
    printf("systest: mkdir, chdir, and unlink of a directory only once empty\n");
}

int main(void)
{
    memory();
    timing();
    kills();
    files();
    printf("systest: ok\n");
    return 0;
}
