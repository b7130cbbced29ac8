// forktest: fork, exit and wait; a pipe with several writers; exec with redirected output.
// Children print nothing: the parent reports totals after every child has been waited for,
// so the output is the same whatever order the children ran in.
#include "user.h"

#define NCHILD    20
#define NWRITER   4
#define PERWRITER 300    // more than a pipe holds, all told: writers must wait for the reader

static void die(const char *msg)
{
    printf("forktest: FAILED: %s\n", msg);
    exit(1);
}

static void forks(void)
{
    int sum = 0, n = 0, status;
    for (int i = 0; i < NCHILD; i++) {
        int pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0)
            exit(i);
    }
    while (wait(&status) > 0) {
        sum += status;
        n++;
    }
    if (n != NCHILD || sum != NCHILD * (NCHILD - 1) / 2)
        die("wrong children or statuses");
    printf("forktest: %d children exited; statuses add up to %d\n", n, sum);
    printf("forktest: wait with no children left returns %d\n", wait(0));
}

static void pipes(void)
{
    int p[2], count[NWRITER] = { 0 }, total = 0, n;
    char buf[100];
    if (pipe(p) < 0)
        die("pipe");
    for (int i = 0; i < NWRITER; i++) {
        int pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            close(p[0]);
            memset(buf, 'a' + i, sizeof(buf));
            for (int sent = 0; sent < PERWRITER; sent += 50)
                if (write(p[1], buf, 50) != 50)
                    exit(1);
            exit(0);
        }
    }
    close(p[1]);   // the reader sees end of file once every writer has exited
    while ((n = read(p[0], buf, sizeof(buf))) > 0)
        for (int i = 0; i < n; i++, total++)
            if (buf[i] >= 'a' && buf[i] < 'a' + NWRITER)
                count[buf[i] - 'a']++;
    close(p[0]);
    for (int i = 0, status; i < NWRITER; i++)
        if (wait(&status) < 0 || status != 0)
            die("a writer failed");
    for (int i = 0; i < NWRITER; i++)
        if (count[i] != PERWRITER)
            die("bytes lost");
    printf("forktest: pipe carried %d bytes from %d writers, %d each\n", total, NWRITER,
           PERWRITER);
}

static void execs(void)
{
    int p[2], n, got = 0, status;
    char buf[64];
    if (pipe(p) < 0)
        die("pipe");
    int pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        char *argv[] = { "echo", "hello", "from", "exec", 0 };
        close(1);
        dup(p[1]);
        close(p[0]);
        close(p[1]);
        exec("/echo", argv);
        exit(99);
    }
    close(p[1]);
    while (got < (int)sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += n;
    buf[got] = 0;
    close(p[0]);
    if (wait(&status) != pid)
        die("wait");
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    printf("forktest: exec'd echo wrote \"%s\" (%d bytes), exit status %d\n", buf, got, status);
}

int main(void)
{
    forks();
    pipes();
    execs();
    printf("forktest: ok\n");
    return 0;
}
