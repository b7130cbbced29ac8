"""Real guest kernels for ring1 to run: `fetch` downloads them from Debian's archive into
ring1's cache (`ring1 fetch`). Not part of the rewriter, which never needs it."""
