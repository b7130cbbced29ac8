// A gdb remote stub (gdb's remote serial protocol over TCP): QEMU's -s, -S and -gdb tcp::PORT.
// docs/gdb.md describes what gdb sees; the run loop (vcpu.c) calls the hooks below, main.c the
// set-up. Nothing here runs unless --gdb, -s or -S was given (gdb_on).
#ifndef RING1_GDBSTUB_H
#define RING1_GDBSTUB_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

extern bool gdb_on;   // a stub listens (the run loop's hooks are called only then)

// --gdb DEV (tcp::PORT, tcp:HOST:PORT; -s is tcp::1234): false if DEV is not one of those.
bool gdb_option(const char *dev);
// -S: stop before the first instruction, waiting for gdb (on tcp::1234 if no --gdb/-s).
void gdb_option_wait(void);
// Before the jail: listen, and with -S wait for gdb to connect. Exits 2 (one line) if the
// address cannot be had. Returns the listening descriptor (for the jail's allowlist) or -1.
int gdb_start(void);

// The run loop, at the top of each round (async: the socket's SIGIO came): accept a
// connection, take Ctrl-C, see a single step complete; while the guest is stopped, serve gdb
// (this blocks until gdb resumes the guest, detaches, or kills the run).
void gdb_run_hook(struct vcpu *v, bool async);
// Whether gdb single-steps the guest now: the run loop delivers no interrupt meanwhile and
// enters the guest with the host's TF (where it may: not over a hypercall's call).
bool gdb_stepping(void);
// A #DB or int3 exit: the end of gdb's host single step (tf_ours: the run loop set TF for
// gdb), or one of gdb's breakpoints. True if it was, and the exit is taken care of.
bool gdb_trap(struct vcpu *v, bool tf_ours);
// Whether one of gdb's breakpoints is at guest linear address lin (the run loop must not
// emulate a trap site there ahead of its int3).
bool gdb_breakpoint_at(struct vcpu *v, uint32_t lin);
// The run ended with status: gdb sees the guest stopped there (T05) and may look at it; when
// it resumes it is told the run exited (W). Returns the status to exit with.
int gdb_finish(struct vcpu *v, int status);

#endif
