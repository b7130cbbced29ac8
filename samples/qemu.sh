#!/bin/sh
# Run one sample kernel on the reference machine (QEMU): COM1 on stdout, nothing else.
# Usage: qemu.sh KERNEL.elf [QEMU OPTION...]   (extra options, e.g. a -drive, go last)
# Exit status: (v << 1) | 1 when the guest writes v to the isa-debug-exit port, so 1 = success.
# This is the one QEMU command line of the project: the Makefile's goldens, the tests (through
# tests/qemuref.py) and the bench (bench/guests.py) all read it from here.
#
# -nodefaults -vga std: a PC with QEMU's std VGA (in text mode 3 after its BIOS), as every PC
#   and QEMU's default machine have, and nothing else QEMU's default machine adds (NIC, CD-ROM,
#   floppy drive, parallel port). ring1-run's default machine is this one; `-vga none` after it
#   (ring1-run --vga none) is the PC without a display adapter.
# -display none, not -nographic: with -nographic QEMU turns on SeaBIOS's serial console, which
#   prints the SeaBIOS banner (with its version) on COM1 before the kernel runs; the VGA is
#   there all the same, shown nowhere.
# -cpu qemu32 (QEMU's default for i386, pinned): the transcripts depend on the CPU model, e.g.
#   rdtscp, syscall and monitor are #UD on it. -m 128M likewise pins the memory size.
kernel=$1
shift
exec qemu-system-i386 -nodefaults -vga std -display none -no-reboot -serial stdio -monitor none \
    -cpu qemu32 -m 128M -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" "$@"
