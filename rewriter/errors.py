"""The rewriter's exceptions and the exit codes the CLI maps them to (documented in `--help`)."""

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1   # verify found a problem in an image (or a batch had a failing image)
EXIT_BAD_INPUT = 2       # a user mistake: bad file, bad option, unwritable output
EXIT_INTERNAL = 3        # a bug in ring1: the message says what to report


class Ring1Error(Exception):
    exit_code = EXIT_INTERNAL


class BadInput(Ring1Error):
    """The input (file, option, output path) is unusable; the message is one clear sentence."""
    exit_code = EXIT_BAD_INPUT


class VerifyFailed(Ring1Error):
    exit_code = EXIT_VERIFY_FAILED
