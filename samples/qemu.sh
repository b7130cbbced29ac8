#!/bin/sh
# Run one sample kernel on the reference machine (QEMU): COM1 on stdout, nothing else.
# Usage: qemu.sh KERNEL.elf [QEMU OPTION...]   (extra options, e.g. a -drive, go last)
# Exit status: (v << 1) | 1 when the guest writes v to the isa-debug-exit port, so 1 = success.
# This is the one QEMU command line for samples: the Makefile and tests/test_samples.py use it.
#
# -display none, not -nographic: with -nographic QEMU turns on SeaBIOS's serial console, which
#   prints the SeaBIOS banner (with its version) on COM1 before the kernel runs.
# -cpu qemu32 (QEMU's default for i386, pinned): the transcripts depend on the CPU model, e.g.
#   rdtscp, syscall and monitor are #UD on it. -m 128M likewise pins the memory size.
kernel=$1
shift
exec qemu-system-i386 -nodefaults -display none -no-reboot -serial stdio -monitor none \
    -cpu qemu32 -m 128M -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" "$@"
