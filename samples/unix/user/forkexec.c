// forkexec N: N × (fork; the child execs this program again, which exits at once with a
// status; the parent waits for it): the process creation and teardown of a shell script.
// Prints the count and the sum of the statuses.
#include "user.h"

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "-c") == 0)   // the exec'd child
        exit(atoi(argv[2]) % 7);
    int n = argc > 1 ? atoi(argv[1]) : 200, sum = 0, want = 0, status;
    for (int i = 0; i < n; i++) {
        char num[12], *p = num + sizeof(num) - 1;
        *p = 0;
        int v = i;
        do {
            *--p = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        int pid = fork();
        if (pid < 0) {
            printf("forkexec: FAILED: fork %d\n", i);
            return 1;
        }
        if (pid == 0) {
            char *args[] = { "forkexec", "-c", p, 0 };
            exec("/forkexec", args);
            exit(100);   // exec failed
        }
        if (wait(&status) != pid) {
            printf("forkexec: FAILED: wait %d\n", i);
            return 1;
        }
        sum += status;
        want += i % 7;
    }
    printf("forkexec: %d fork+exec+wait; statuses add up to %d (%s)\n", n, sum,
           sum == want ? "right" : "WRONG");
    return 0;
}
