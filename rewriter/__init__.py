"""ring1 rewriter: a 32-bit x86 kernel image in, a patched image for the ring1 runtime out.

Stages, one module each, each a function of the previous stage's output:
    image (LIEF) -> disasm (capstone) -> cfg (networkx) -> classify -> plan -> trampoline -> emit
and verify, which re-reads an emitted image. cli ties them together.
"""

__version__ = "0.1.0"
