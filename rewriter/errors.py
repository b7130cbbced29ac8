"""The rewriter's exceptions, and the exit statuses of every ring1 command (one table: `ring1
--help` prints it, README.md's "Exit status" shows it, runtime/vcpu.h's STATUS_* are its even
rows from 4 on; tests/test_cli_grammar.py checks that the three agree)."""

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1   # verify found a problem in an image (or a batch had a failing image)
EXIT_BAD_INPUT = 2       # a user mistake: bad file, bad option, unwritable output
EXIT_INTERNAL = 3        # a bug in ring1: the message says what to report
EXIT_RUNTIME = 14        # run/boot: a host error or a bug (the runtime's STATUS_INTERNAL)
EXIT_INTERRUPTED = 16    # SIGINT (Ctrl-C); the runtime's STATUS_SIGNAL
EXIT_NETWORK = 26        # fetch: the archive could not be reached, or apt failed
EXIT_CACHE = 28          # fetch, boot: the cache cannot be created or written
EXIT_CONTENT = 30        # fetch: the archive's package is not what ring1 expects

# (status, meaning, commands). Odd statuses of run and boot are the guest's, so ring1's own
# verdicts there are even (an internal error of run or boot is 14, not 3).
EXIT_TABLE = [
    ("0", "success (a guest that ran: see the odd statuses; one that turned the machine off "
          "through ACPI, as QEMU exits)", "every command"),
    ("1", "verification failed, or an image of a batch failed", "verify, rewrite"),
    ("2", "bad input: a bad option or value, an unreadable or unusable file (not an i386 "
          "kernel, already patched, a disk another ring1 has open), an unwritable output; "
          "for run, an unpatched image without --unpatched",
     "every command"),
    ("3", "internal error in ring1 (a bug: please report it with the input)",
     "inspect, rewrite, verify, fetch"),
    ("(v << 1) | 1", "the guest wrote v to the debug-exit port 0xf4 (QEMU's isa-debug-exit)",
     "run, boot"),
    ("4", "the guest triple-faulted (with -no-reboot: 0, as QEMU)", "run, boot"),
    ("6", "the guest halted for good (hlt with interrupts off, or nothing left to wake it)",
     "run, boot"),
    ("8", "--timeout expired", "run, boot"),
    ("10", "the guest did something the runtime does not emulate", "run, boot"),
    ("12", "the guest touched the hypervisor window (ring1 rewrite --window)", "run, boot"),
    ("14", "runtime failure: a host error, or a bug in ring1", "run, boot"),
    ("16", "interrupted: SIGINT (Ctrl-C); run and boot also SIGTERM, SIGHUP", "every command"),
    ("18", "the guest reset the machine (with -no-reboot: 0, as QEMU)", "run, boot"),
    ("20", "--break reached", "run, boot"),
    ("22", "guest code ran in 64-bit mode", "run, boot"),
    ("24", "the jail stopped a system call of the runtime", "run, boot"),
    ("26", "network: Debian's archive could not be reached, or apt failed (retrying may "
           "help)", "fetch"),
    ("28", "cache: the cache directory cannot be created or written (permissions, disk full; "
           "$RING1_CACHE moves it)", "fetch, boot, cache"),
    ("30", "the archive's package is not what ring1 expects (no kernel file, a bad bzImage, "
           "the wrong ELF)", "fetch"),
]


class Ring1Error(Exception):
    exit_code = EXIT_INTERNAL


class BadInput(Ring1Error):
    """The input (file, option, output path) is unusable; the message is one clear sentence."""
    exit_code = EXIT_BAD_INPUT


class VerifyFailed(Ring1Error):
    exit_code = EXIT_VERIFY_FAILED


class CacheError(Ring1Error):
    """A cache directory (boot images, kernels) cannot be created or written."""
    exit_code = EXIT_CACHE
