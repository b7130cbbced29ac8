# ring1 — top-level build. `make demo` and `make test` are the README's two commands; each
# sets up everything it needs on a fresh Debian machine (apt packages, a venv, the C builds).

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
APT_PKGS := qemu-system-x86 binutils gcc xz-utils
APT_CHECK := qemu-system-i386 ld gcc xz objdump
export RING1_ROOT := $(CURDIR)

.PHONY: all setup system-deps venv samples runtime demo test test-slow kernels bench bench-quick kut clean distclean \
        fuzz fuzz-deps

all: setup

setup: system-deps venv samples runtime

# Debian packages: installed only when a command is missing (we are root on these machines).
system-deps:
	@missing=""; for c in $(APT_CHECK); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "ring1: installing Debian packages (missing:$$missing)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "ring1: need root to apt-get install $(APT_PKGS)" >&2; exit 1; fi; \
	  apt-get update -q || echo "ring1: apt-get update reported an error; trying the install anyway"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PKGS); \
	fi

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]'
	@touch $@

samples:
	$(MAKE) -C samples

runtime:
	@if [ -f runtime/Makefile ]; then $(MAKE) -C runtime; fi

# README command 1: rewrite, verify and boot the bundled sample kernel under ring1, showing its
# console, then check it against the same kernel's transcript under QEMU (the reference).
DEMO := samples/build/sensitive.elf
demo: setup
	@mkdir -p build
	$(VENV)/bin/ring1 inspect $(DEMO)
	$(VENV)/bin/ring1 rewrite $(DEMO) -o build/sensitive.r1.elf --report build/sensitive.report.json
	$(VENV)/bin/ring1 verify build/sensitive.r1.elf
	@echo "--- console of build/sensitive.r1.elf under ring1 ---"
	@$(VENV)/bin/ring1 run build/sensitive.r1.elf --kernel-name $(DEMO) --timeout 60 \
	  | tee build/sensitive.ring1.txt; rc=$${PIPESTATUS[0]}; \
	  [ $$rc = 1 ] || { echo "ring1: guest exit status $$rc (expected 1: debug-exit 0)" >&2; exit 1; }
	@samples/qemu.sh $(DEMO) > build/sensitive.qemu.txt; \
	  if cmp -s build/sensitive.ring1.txt build/sensitive.qemu.txt; then \
	    echo "--- identical to the transcript of $(DEMO) under qemu-system-i386 ($$(wc -l < build/sensitive.qemu.txt) lines) ---"; \
	  else echo "--- differs from qemu-system-i386:" >&2; diff build/sensitive.qemu.txt build/sensitive.ring1.txt >&2; exit 1; fi

# README command 2: the test suite (what CI runs).
test: setup
	$(VENV)/bin/pytest -q

# Slow suite: Debian's 686 Linux kernel (~40 MB download on first use, then cached).
test-slow: setup
	$(VENV)/bin/pytest -q -m slow

# Benchmarks (not tests): tables, raw JSON and plots in bench/results/<date-time>/.
bench: setup
	$(VPY) -m pip install -q -e '.[test,bench]'
	$(VPY) bench/run.py

bench-quick: setup
	$(VPY) -m pip install -q -e '.[test,bench]'
	$(VPY) bench/run.py --quick

# Fuzzing (README, "Fuzzing"): every fuzz/*.c (libFuzzer, clang, ASan/UBSan) and the rewriter
# (atheris), FUZZ_SECONDS each; findings in build/fuzz/. The smoke run is part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_STAMP := $(VENV)/.fuzz-installed
fuzz: setup fuzz-deps
	$(VPY) fuzz/run.py --seconds $(FUZZ_SECONDS)

# clang (with libFuzzer and the sanitizer runtimes) from Debian, atheris from PyPI: only here.
fuzz-deps: venv $(FUZZ_STAMP)
	@command -v clang >/dev/null 2>&1 || { \
	  echo "ring1: installing Debian package clang (for the libFuzzer targets)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "ring1: need root to apt-get install clang" >&2; exit 1; fi; \
	  apt-get update -q || echo "ring1: apt-get update reported an error; trying the install anyway"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang; }
$(FUZZ_STAMP): pyproject.toml $(STAMP)
	$(VPY) -m pip install -q -e '.[test,fuzz]'
	@touch $@

# kvm-unit-tests' i386 tests under QEMU and ring1 (README, "kvm-unit-tests"); the suite is not a
# package, so this is not part of `make test`.
kut: setup
	@test -n "$(KUT)" || { echo "usage: make kut KUT=path/to/kvm-unit-tests [KUT_ARGS=...]" >&2; exit 2; }
	$(VPY) scripts/kut.py $(KUT) $(KUT_ARGS)

kernels: venv
	$(VPY) scripts/fetch-kernels.py all

clean:
	rm -rf build
	$(MAKE) -C samples clean
	@if [ -f runtime/Makefile ]; then $(MAKE) -C runtime clean; fi

distclean: clean
	rm -rf $(VENV)
