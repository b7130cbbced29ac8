"""ring1 rewriter: a 32-bit x86 kernel image in, a patched image for the ring1 runtime out.

The stages, each a function of the previous stage's output, are pipeline.STAGES (README.md
draws them); verify re-reads an emitted image; cli ties them together.
"""

__version__ = "0.1.0"
