# The unix sample (included by ../Makefile): a small Unix-like kernel linked at 0x80100000,
# its user programs, and a file-system image built by a host tool (mkfs.c). It needs a disk
# and typed input, so it is not in SAMPLES (which qemu.sh runs bare); its golden comes from
# a run with build/unix-fs.img as IDE drive 1 and session.txt on the serial port.
#
#   build/unix.elf       the kernel (multiboot ELF: loaded at 1 MiB, linked at 0x80100000)
#   build/unix-fs.img    the file system: README, the console device, the programs below
#
# Workloads (bench/run.py's unix workload rows): unix/workloads/NAME.txt is a session that runs
# one program and halts, NAME-short.txt the same with small sizes (tests/test_unix_workloads.py);
# unix/workloads/machines.txt the RAM and kernel command line a session needs. Their goldens,
# golden/unix-NAME.txt, come from QEMU like golden/unix.txt (make unix-work-golden).

UNIX_PROGS := init sh echo cat ls mkdir rm wc grep forktest systest halt \
              lockstress charout forkexec fsstress memstress
UNIX_ULIB  := crt0.S usys.S ulib.c printf.c umalloc.c

UB := $(B)/unix
UNIX_KOBJS := $(patsubst %,$(B)/%.o,$(wildcard unix/kernel/*.c unix/kernel/*.S))
UNIX_UOBJS := $(UNIX_ULIB:%=$(UB)/user/%.o)
UNIX_BINS  := $(UNIX_PROGS:%=$(UB)/bin/%)

UNIX_CFLAGS  := -m32 -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib \
                -O2 -Wall -Wextra -fno-asynchronous-unwind-tables -mgeneral-regs-only \
                -fno-omit-frame-pointer -iquote unix/include -MMD -MP
UNIX_ASFLAGS := -m32 -ffreestanding -fno-pic -fno-pie -iquote unix/include -MMD -MP
UNIX_LDFLAGS := -m elf_i386 -nostdlib --build-id=none -z noexecstack -z max-page-size=4096
HOSTCC       := gcc

# The run: a fresh copy of the image (QEMU writes to it) on the primary slave, the session
# typed on COM1.
UNIX_RUN_IMG := $(UB)/run-fs.img
UNIX_DRIVE   := -drive file=$(UNIX_RUN_IMG),index=1,media=disk,format=raw

.PHONY: unix unix-run unix-golden unix-work-golden
all: unix
golden: unix-golden unix-work-golden
unix: $(B)/unix.elf $(B)/unix-fs.img

$(B)/unix.elf: $(UNIX_KOBJS) unix/kernel/kernel.ld
	$(LD) $(UNIX_LDFLAGS) -T unix/kernel/kernel.ld -o $@ $(UNIX_KOBJS)

$(B)/unix/kernel/%.c.o: unix/kernel/%.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIX_CFLAGS) -iquote unix/kernel -c -o $@ $<

$(B)/unix/kernel/%.S.o: unix/kernel/%.S
	@mkdir -p $(dir $@)
	$(CC) $(UNIX_ASFLAGS) -iquote unix/kernel -c -o $@ $<

$(UB)/user/%.c.o: unix/user/%.c
	@mkdir -p $(dir $@)
	$(CC) $(UNIX_CFLAGS) -c -o $@ $<

$(UB)/user/%.S.o: unix/user/%.S
	@mkdir -p $(dir $@)
	$(CC) $(UNIX_ASFLAGS) -c -o $@ $<

# Keep the programs' objects: make would delete them as intermediates.
.SECONDARY: $(UNIX_PROGS:%=$(UB)/user/%.c.o) $(UNIX_UOBJS)

$(UB)/bin/%: $(UB)/user/%.c.o $(UNIX_UOBJS) unix/user/user.ld
	@mkdir -p $(dir $@)
	$(LD) $(UNIX_LDFLAGS) -T unix/user/user.ld -o $@ $< $(UNIX_UOBJS)

$(UB)/mkfs: unix/mkfs.c unix/include/fs.h unix/include/stat.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=c11 -O2 -Wall -Wextra -iquote unix/include -o $@ unix/mkfs.c

$(B)/unix-fs.img: $(UB)/mkfs unix/user/README $(UNIX_BINS)
	$(UB)/mkfs $@ unix/user/README $(UNIX_BINS)

# Run the session once and print the transcript (exit status 1 = clean halt).
unix-run: unix
	cp $(B)/unix-fs.img $(UNIX_RUN_IMG)
	timeout $(TIMEOUT) $(QEMU_RUN) $(B)/unix.elf $(UNIX_DRIVE) < unix/session.txt

unix-golden: unix
	@mkdir -p golden
	@cp $(B)/unix-fs.img $(UNIX_RUN_IMG)
	@timeout $(TIMEOUT) $(QEMU_RUN) $(B)/unix.elf $(UNIX_DRIVE) < unix/session.txt \
	    > golden/unix.txt.new; rc=$$?; \
	  if [ $$rc != 1 ]; then echo "golden: unix exited with status $$rc (want 1)" >&2; \
	    rm -f golden/unix.txt.new; exit 1; fi; \
	  mv golden/unix.txt.new golden/unix.txt; \
	  echo "golden/unix.txt: $$(wc -l < golden/unix.txt) lines"

# The workload sessions' goldens, each from a fresh copy of the image on the machine
# machines.txt names (QEMU's -m and -append, after qemu.sh's own -m 128M, which they override).
UNIX_WORK := $(sort $(patsubst unix/workloads/%.txt,%,$(filter-out %/machines.txt,\
                 $(wildcard unix/workloads/*.txt))))
unix-work-golden: unix
	@mkdir -p golden
	@for w in $(UNIX_WORK); do \
	  ram=$$(awk -v w=$$w '$$1 == w { print $$2 }' unix/workloads/machines.txt); \
	  cmd=$$(awk -v w=$$w '$$1 == w { print $$3 }' unix/workloads/machines.txt); \
	  cp $(B)/unix-fs.img $(UNIX_RUN_IMG); \
	  timeout 120 $(QEMU_RUN) $(B)/unix.elf $(UNIX_DRIVE) $${ram:+-m $$ram} \
	      $${cmd:+-append "$$cmd"} < unix/workloads/$$w.txt > golden/unix-$$w.txt.new; rc=$$?; \
	  if [ $$rc != 1 ]; then echo "golden: unix workload $$w exited with status $$rc (want 1)" >&2; \
	    rm -f golden/unix-$$w.txt.new; exit 1; fi; \
	  mv golden/unix-$$w.txt.new golden/unix-$$w.txt; \
	  echo "golden/unix-$$w.txt: $$(wc -l < golden/unix-$$w.txt) lines"; \
	done
