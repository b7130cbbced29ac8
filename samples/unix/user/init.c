// init: the first user program. Open the console as descriptors 0, 1 and 2, then run the
// shell, starting it again whenever it exits; collect orphaned children on the way.
#include "user.h"

int main(void)
{
    if (open("/console", O_RDWR) < 0)
        exit(1);   // nowhere to complain
    dup(0);
    dup(0);
    for (;;) {
        printf("init: starting sh\n");
        int pid = fork();
        if (pid < 0) {
            printf("init: fork failed\n");
            exit(1);
        }
        if (pid == 0) {
            char *argv[] = { "sh", 0 };
            exec("/sh", argv);
            printf("init: exec sh failed\n");
            exit(1);
        }
        int wpid;
        while ((wpid = wait(0)) >= 0 && wpid != pid)
            ;   // an orphan
    }
}
