// lockstress N: N × (uptime, getpid), the cheapest system calls, so that the kernel's own
// locking dominates: each call goes through trap() and syscall() (myproc(): pushcli, mycpu,
// popcli), and uptime takes and drops the ticks spinlock, all of which read the local APIC's
// ID register (kernel/cli.c). Prints totals only.
#include "user.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int pid = getpid(), backwards = 0, pids = 0, last = uptime();
    for (int i = 0; i < n; i++) {
        int t = uptime();
        if (t < last)
            backwards++;
        last = t;
        if (getpid() != pid)
            pids++;
    }
    if (backwards || pids) {
        printf("lockstress: FAILED: uptime went back %d times, getpid changed %d times\n",
               backwards, pids);
        return 1;
    }
    printf("lockstress: %d uptime and %d getpid calls; pid constant, uptime never went back\n",
           n, n);
    return 0;
}
