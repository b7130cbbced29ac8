// The jail (jail.c): what the process gives up before the guest's first instruction.
#ifndef RING1_JAIL_H
#define RING1_JAIL_H

#include <stdbool.h>
#include <stdint.h>

// Enter the jail: namespaces, empty root and user nobody when `namespaces` (--jail, the
// default), then the system-call allowlist, in which mmap may map no file descriptor but
// `mappable_fds` (guest memory). `need_page0`: keep what mapping linear page 0 takes.
// `output_limit`: how much serial output a file may still take (--serial-limit).
void jail_enter(bool namespaces, bool need_page0, const int *mappable_fds, unsigned nfds,
                uint64_t output_limit);
// Before jail_enter: the gdb stub listens on listen_fd (gdbstub.c). The allowlist then lets
// accept4 take a connection on it, and fcntl give the connection SIGIO (F_SETOWN to this
// process, F_SETSIG to SIG_GDB); the descriptor limit leaves room for that connection.
void jail_allow_gdb(int listen_fd);
// Whether the namespaces, empty root and user nobody are in place (for --stats).
bool jail_namespaces(void);
// A name for the system calls an escaped guest would try first, or "?".
const char *jail_syscall_name(int nr);

#endif
