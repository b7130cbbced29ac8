#!/usr/bin/env python3
"""Fetch real guest kernels from Debian's archive into the ring1 cache.

    scripts/fetch-kernels.py NAME... | all | --list     (also: --refresh, -q)

Prints the cached path of each kernel on stdout (progress on stderr). Names and behaviour:
see kernels/fetch.py (this is `ring1 fetch`, parsed by ring1's parser). Cache: $RING1_CACHE, else
${XDG_CACHE_HOME:-~/.cache}/ring1/kernels. Exit: 2 unknown name, 26 network/apt failure,
28 cache not writable, 30 unexpected package content (README.md's Exit status).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from kernels.fetch import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
