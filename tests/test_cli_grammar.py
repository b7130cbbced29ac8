"""The command-line grammar of `ring1-run`, `ring1 run` and `ring1 boot` (issue 13, item 1),
table-driven, and the exit-status table every command shares.

One grammar: options before or after the image, spelled with one dash or two, `--opt value`
or `--opt=value`, full names only; QEMU's spellings (-m, -kernel, -append, -initrd,
-snapshot, -serial, -no-reboot, -nographic, -s, -S, -gdb) where they mean the same (the gdb
stub itself: tests/test_gdb.py). ring1-run parses it with getopt_long_only from its option table;
`ring1 run/boot` read that table (`ring1-run --list-options`) and parse the same grammar
with argparse, passing the runtime canonical `--NAME=VALUE` options.

The runtime's table runs ring1-run itself (milliseconds a run) on runtime/tests/guest/qemuinfo,
which prints the multiboot memory size and command line it was given (it is unpatched:
runtime() puts --unpatched first, without which ring1-run refuses such an image); `ring1 run/boot`'s
table runs cli.main() in this process with the exec of the runtime caught, so each case
checks the exact runtime command line; a few real `ring1` processes check the whole way.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kernels import fetch as F
from rewriter import __version__, abi, cli, errors, pipeline

from conftest import RING1, ROOT, assert_one_line_error, run_main, run_ring1

RUN = ROOT / "runtime" / "build" / "ring1-run"
GUESTS = ROOT / "runtime" / "build" / "guests"
QI = str(GUESTS / "qemuinfo.elf")

pytestmark = pytest.mark.skipif(not RUN.exists() or not (GUESTS / "qemuinfo.elf").exists(),
                                reason="the runtime is not built (make runtime)")


def runtime(*args, timeout=30):
    """ring1-run --unpatched ARGS: the guests here are unpatched (runtime/build/guests)."""
    p = subprocess.run([str(RUN), "--unpatched", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def mem_upper(mib: int) -> str:
    """qemuinfo's mbi[8] line (multiboot mem_upper, KiB above 1 MiB, less the BIOS's 128 KiB
    at the top) for a machine of `mib` MiB."""
    return f"mbi[8]={mib * 1024 - 1024 - 128:#010x}"


# =============================================================================================
# ring1-run
# =============================================================================================
# (id, argv, memory in MiB the guest sees, its command line after its name)
RUNTIME_GOOD = [
    ("plain", [QI], 128, ""),
    ("mem-before", ["--mem", "64M", QI], 64, ""),
    ("mem-after", [QI, "--mem", "64M"], 64, ""),
    ("mem-eq-before", ["--mem=64M", QI], 64, ""),
    ("mem-eq-after", [QI, "--mem=64M"], 64, ""),
    ("mem-one-dash", ["-mem", "64M", QI], 64, ""),
    ("mem-one-dash-eq", [QI, "-mem=64M"], 64, ""),
    ("mem-bare-mib", [QI, "--mem", "64"], 64, ""),
    ("mem-gib", [QI, "--mem", "1G"], 1024, ""),
    ("qemu-m", ["-m", "64", QI], 64, ""),
    ("qemu-m-suffix", [QI, "-m", "96M"], 96, ""),
    ("qemu-m-size", [QI, "-m", "size=64"], 64, ""),
    ("qemu-m-eq", [QI, "-m=64"], 64, ""),
    ("qemu-m-attached", [QI, "-m64"], 64, ""),
    ("qemu-kernel", ["-kernel", QI, "-append", "a b"], 128, "a b"),
    ("qemu-kernel-eq", ["-m", "64", "-kernel=" + QI], 64, ""),
    ("cmdline-eq", [QI, "--cmdline=x=1 y"], 128, "x=1 y"),
    ("cmdline-dash-value", [QI, "--cmdline", "-v"], 128, "-v"),
    ("append-two-dashes", [QI, "--append", "q"], 128, "q"),
    ("last-wins", [QI, "--cmdline", "a", "-append", "b"], 128, "b"),
    ("nographic-snapshot", ["-nographic", QI, "-snapshot"], 128, ""),
    ("serial-stdio", [QI, "-serial", "stdio"], 128, ""),
    ("end-of-options", ["--mem", "64M", "--", QI], 64, ""),
    ("timeout-eq", [QI, "--timeout=20", "--mem=32M"], 32, ""),
]


@pytest.mark.parametrize("case", RUNTIME_GOOD, ids=[c[0] for c in RUNTIME_GOOD])
def test_runtime_grammar(case):
    _, argv, mib, cmdline = case
    rc, out, err = runtime(*argv)
    assert rc == 1 and err == "", (rc, err)
    assert mem_upper(mib) in out.splitlines(), out
    want = f"cmdline='{QI} {cmdline}'"          # QEMU's: the name, a space, -append's
    assert want in out.splitlines(), out


# (id, argv, words in the one line on stderr)
RUNTIME_BAD = [
    ("unknown-long", [QI, "--bogus"], ("unknown option --bogus",)),
    ("unknown-one-dash", ["-bogus", QI], ("unknown option -bogus",)),
    ("unknown-short", [QI, "-x"], ("unknown option -x",)),
    ("no-abbreviation", [QI, "--me", "64M"], ("unknown option --me",)),
    ("no-abbreviation-eq", [QI, "--cmd=x"], ("unknown option --cmd=x",)),
    ("no-abbreviation-one-dash", [QI, "-trac"], ("unknown option -trac",)),
    ("no-abbreviation-not-m", [QI, "-me", "64"], ("unknown option -me",)),
    ("missing-value", [QI, "--mem"], ("--mem wants a value",)),
    ("missing-value-qemu", [QI, "-append"], ("-append wants a value",)),
    ("flag-with-value", [QI, "--stats=yes"], ("--stats=yes", "takes no value")),
    ("bad-mem", [QI, "--mem", "1M"], ("--mem 1M", "want 2M..3G")),
    ("bad-mem-eq", [QI, "--mem=lots"], ("--mem lots", "want 2M..3G")),
    ("bad-m", [QI, "-m", "4096"], ("want 2M..3G",)),
    ("bad-vga", [QI, "--vga=svga"], ("--vga svga", "want none or std")),
    ("bad-timeout", [QI, "--timeout", "soon"], ("--timeout soon",)),
    ("bad-screen-empty", [QI, "--screen="], ("--screen=", "--screen=FILE")),
    ("gdb-nonsense", [QI, "-gdb", "nonsense"], ("--gdb nonsense", "want tcp::PORT")),
    ("gdb-eq-bad-port", [QI, "--gdb=tcp::70000"], ("--gdb tcp::70000", "want tcp::PORT")),
    ("gdb-missing-value", [QI, "--gdb"], ("--gdb wants a value",)),
    ("gdb-s-with-value", [QI, "-s=1"], ("-s=1", "takes no value")),
    ("serial-pty", [QI, "--serial", "pty"], ("--serial pty", "stdio or a file")),
    ("serial-tcp", [QI, "-serial", "tcp::4444,server"], ("--serial tcp::4444,server",)),
    ("serial-file-empty", [QI, "-serial", "file:"], ("want file:PATH",)),
    ("two-images", [QI, QI], ("one IMAGE only",)),
    ("kernel-and-image", ["-kernel", QI, QI], ("one IMAGE only",)),
    ("no-image", ["--mem", "64M"], ("no IMAGE",)),
]


@pytest.mark.parametrize("case", RUNTIME_BAD, ids=[c[0] for c in RUNTIME_BAD])
def test_runtime_bad_arguments(case):
    _, argv, words = case
    rc, out, err = runtime(*argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == errors.EXIT_BAD_INPUT and out == "" and len(lines) == 1, (rc, err)
    assert lines[0].startswith("ring1-run: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_runtime_options_after_the_image_even_posixly_correct():
    """getopt stops at the first non-option under POSIXLY_CORRECT; ring1-run takes IMAGE in
    order instead, so the grammar does not depend on the environment."""
    import os
    p = subprocess.run([str(RUN), QI, "--mem", "64M", "-append", "z", "--unpatched"],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, POSIXLY_CORRECT="1"))
    assert p.returncode == 1 and mem_upper(64) in p.stdout.splitlines(), p.stderr
    assert f"cmdline='{QI} z'" in p.stdout.splitlines()


def test_runtime_serial_file_spellings(tmp_path):
    """QEMU's -serial file:PATH is --serial PATH."""
    for i, spell in enumerate([["--serial", "{}"], ["--serial={}"], ["-serial", "file:{}"],
                               ["--serial=file:{}"]]):
        f = tmp_path / f"com1-{i}.txt"
        rc, out, err = runtime(QI, *[s.format(f) for s in spell])
        assert rc == 1 and out == "" and f.read_text().startswith("magic=0x2badb002"), err


@pytest.mark.parametrize("guest,args,plain", [("triple", [], 4),
                                              ("reset", ["--cmdline", "cf9"], 18),
                                              ("reset", ["-append", "kbc"], 18)])
def test_runtime_no_reboot(guest, args, plain):
    """ring1 never reboots: a reset exits 18, a triple fault 4 (diagnosed); -no-reboot gives
    QEMU's -no-reboot status for both, 0. Other statuses are left alone."""
    img = GUESTS / f"{guest}.elf"
    assert runtime(img, *args)[0] == plain
    rc, _, err = runtime(img, *args, "-no-reboot")
    assert rc == 0 and err, "the diagnosis is still printed"
    assert runtime(GUESTS / "hello.elf", "-no-reboot")[0] == 1


def list_options() -> list[tuple[str, ...]]:
    rc, out, err = runtime("--list-options")
    assert rc == 0 and err == ""
    return [tuple(ln.split("\t")) for ln in out.splitlines()]


def test_runtime_help_documents_every_option():
    rc, out, err = runtime("--help")
    assert rc == 0 and err == "" and out.startswith("usage: ring1-run ")
    table = list_options()
    assert len(table) > 25
    for name, arg, *refused in table:
        assert arg in ("none", "required", "optional")
        assert re.search(rf"(^|[ ,])--?{re.escape(name)}\b", out, re.M), f"{name} undocumented"
        assert not refused, "no QEMU option is refused at present"
    names = {t[0] for t in table}
    for qemu in ("m", "kernel", "append", "initrd", "snapshot", "serial", "no-reboot",
                 "nographic", "s", "S", "gdb"):
        assert qemu in names, qemu
    assert runtime("-h")[1] == out


def test_versions_agree():
    rc, out, err = runtime("--version")
    assert rc == 0 and err == "" and out == f"ring1-run {__version__} (ABI {abi.ABI_VERSION})\n"
    r = run_ring1("--version")
    assert r.returncode == 0 and r.stdout == f"ring1 {__version__} (ABI {abi.ABI_VERSION})\n"


# =============================================================================================
# ring1 run / ring1 boot: the same grammar
# =============================================================================================
class Exec(BaseException):        # past main()'s "internal error" handler
    pass


@pytest.fixture
def caught(monkeypatch, tmp_path):
    """cli.main() with the exec of the runtime caught: returns (image, runtime argv)."""
    monkeypatch.setenv("RING1_CACHE", str(tmp_path / "cache"))
    got = {}

    def exec_runtime(image, rest):
        got["image"], got["rest"] = image, rest
        raise Exec()
    monkeypatch.setattr(cli, "_exec_runtime", exec_runtime)

    def main(argv, capsys):
        capsys.readouterr()
        try:
            code = cli.main([str(a) for a in argv])
        except Exec:
            return got["image"], got["rest"]
        except SystemExit as e:
            code = e.code
        cap = capsys.readouterr()
        raise AssertionError(f"ring1 {argv} exited {code}:\n{cap.out}{cap.err}")
    return main


# (id, argv, runtime options passed on)
PY_GOOD = [
    ("run", ["run", QI], []),
    ("mem-before", ["run", "--mem", "64M", QI], ["--mem=64M"]),
    ("mem-after", ["run", QI, "--mem", "64M"], ["--mem=64M"]),
    ("mem-eq", ["run", QI, "--mem=64M"], ["--mem=64M"]),
    ("mem-one-dash", ["run", "-mem", "64M", QI], ["--mem=64M"]),
    ("qemu-m", ["run", "-m", "64", QI], ["--m=64"]),
    ("qemu-m-attached", ["run", QI, "-m64"], ["--m=64"]),
    ("qemu-m-eq", ["run", QI, "-m=64"], ["--m=64"]),
    ("qemu-kernel", ["run", "-m", "64", "-kernel", QI, "-append", "a b"],
     ["--m=64", "--append=a b"]),
    ("qemu-initrd", ["run", QI, "-initrd", "/x/initrd"], ["--initrd=/x/initrd"]),
    ("dash-value", ["run", QI, "--cmdline", "-v"], ["--cmdline=-v"]),
    ("flags", ["run", "-snapshot", QI, "-nographic", "-no-reboot", "--stats"],
     ["--snapshot", "--nographic", "--no-reboot", "--stats"]),
    ("screen-flag-before-image", ["run", "--screen", QI], ["--screen"]),
    ("screen-file", ["run", QI, "--screen=s.txt"], ["--screen=s.txt"]),
    ("screen-file-one-dash", ["run", "-screen=s.txt", QI], ["--screen=s.txt"]),
    ("repeated-in-order", ["run", "--module", "a 1", QI, "--module=b", "--disk", "d.img"],
     ["--module=a 1", "--module=b", "--disk=d.img"]),
    ("serial", ["run", QI, "-serial", "file:/tmp/c"], ["--serial=file:/tmp/c"]),
    ("end-of-options", ["run", "--mem=8M", "--", QI], ["--mem=8M"]),
    ("unpatched", ["run", QI, "--unpatched"], ["--unpatched"]),
    ("qemu-gdb", ["run", "-s", QI, "-S"], ["--s", "--S"]),
    ("gdb-dev", ["run", QI, "-gdb", "tcp::1235"], ["--gdb=tcp::1235"]),
    ("gdb-dev-eq", ["run", "--gdb=tcp:0.0.0.0:1235", QI], ["--gdb=tcp:0.0.0.0:1235"]),
    ("boot-gdb", ["boot", "-S", QI, "--no-profile", "-s"], ["--S", "--s"]),
    ("unpatched-one-dash-before", ["run", "-unpatched", QI], ["--unpatched"]),
    ("boot-mem-before", ["boot", "--mem", "64M", QI, "--no-profile"], ["--mem=64M"]),
    ("boot-own-after", ["boot", QI, "--no-profile", "--window=0xffc00000",
                        "--tactics", "inline,trampoline,trap", "-append", "x"], ["--append=x"]),
    ("boot-one-dash-own", ["boot", "-no-profile", "-kernel", QI, "-m", "32"], ["--m=32"]),
]


@pytest.mark.parametrize("case", PY_GOOD, ids=[c[0] for c in PY_GOOD])
def test_ring1_grammar(case, caught, capsys):
    _, argv, want = case
    image, rest = caught(argv, capsys)
    if argv[0] == "run":
        assert image == QI and rest == want
    else:
        assert image.endswith(".r1.elf") and rest[:2] == ["--kernel-name", QI], rest
        assert rest[2:] == want, "--no-profile: no --profile-out"


def test_boot_keeps_its_additions_unless_given(caught, capsys, tmp_path):
    _, rest = caught(["boot", QI, "--mem=64M"], capsys)
    assert rest[:3] == ["--kernel-name", QI, "--mem=64M"] and rest[3] == "--profile-out"
    p = tmp_path / "p.json"
    _, rest = caught(["boot", "--kernel-name=k", QI, "--profile-out", p], capsys)
    assert rest == ["--kernel-name=k", f"--profile-out={p}"]


# (id, argv, words in the one line on stderr)
PY_BAD = [
    ("unknown", ["run", QI, "--bogus"], ("run: unknown option --bogus", "--help")),
    ("unknown-before", ["boot", "--bogus", QI], ("boot: unknown option --bogus",)),
    ("no-abbreviation", ["run", QI, "--me", "64M"], ("unknown option --me",)),
    ("no-abbreviation-one-dash", ["run", QI, "-trac"], ("unknown option -trac",)),
    ("no-abbreviation-not-m", ["boot", QI, "-me", "64"], ("unknown option -me",)),
    ("unknown-one-dash", ["run", "-bogus", QI], ("unknown option -bogus",)),
    ("missing-value", ["run", QI, "--mem"], ("--mem wants a value",)),
    ("flag-with-value", ["run", QI, "--stats=yes"], ("--stats=yes: the option takes no value",)),
    ("boot-own-on-run", ["run", QI, "--no-profile"], ("unknown option --no-profile",)),
    ("boot-missing-value", ["boot", QI, "--tactics"], ("--tactics wants a value",)),
    ("boot-bad-value", ["boot", QI, "--tactics=magic"], ("unknown tactic",)),
    ("gdb-missing-value", ["run", QI, "--gdb"], ("--gdb wants a value",)),
    ("two-images", ["run", QI, QI], ("one IMAGE only",)),
    ("kernel-and-image", ["boot", "-kernel", QI, QI], ("one IMAGE only",)),
    ("kernel-twice", ["run", "-kernel", QI, "-kernel", QI], ("one IMAGE only",)),
    ("no-image", ["run", "--mem", "64M"], ("no IMAGE",)),
    ("missing-image", ["run", "/nonexistent/k.elf", "-m", "64"], ("no such file",)),
    ("unknown-command", ["frobnicate"], ("invalid choice",)),
    ("inspect-extra", ["inspect", QI, "extra"], ("unexpected argument extra",)),
]


@pytest.mark.parametrize("case", PY_BAD, ids=[c[0] for c in PY_BAD])
def test_ring1_bad_arguments(case, caught, capsys, monkeypatch, tmp_path):
    _, argv, words = case
    r = run_main(argv, capsys, monkeypatch)
    assert_one_line_error(r, errors.EXIT_BAD_INPUT, *words)
    assert r.stdout == ""
    assert not (tmp_path / "cache" / "boot").exists() or \
        not list((tmp_path / "cache" / "boot").glob("*.r1.elf")), "rewrote before refusing"


@pytest.mark.parametrize("cmd", ["run", "boot"])
def test_ring1_help_lists_every_runtime_option(cmd, capsys, monkeypatch, tmp_path):
    """`ring1 boot X --help` is help, and rewrites nothing (X need not even exist)."""
    r = run_main([cmd, "/nonexistent/X.elf", "--mem", "64M", "--help"], capsys, monkeypatch,
                 env={"RING1_CACHE": str(tmp_path)})
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith(f"usage: ring1 {cmd} ")
    assert not list(tmp_path.rglob("*.elf"))
    for name, *_ in list_options():
        assert re.search(rf"(^|[ ,])--?{re.escape(name)}\b", r.stdout, re.M), name
    if cmd == "boot":
        for own in ("--window", "--tactics", "--no-profile"):
            assert own in r.stdout
    # without the runtime: still help, saying so
    r = run_main([cmd, "--help"], capsys, monkeypatch, env={"RING1_RUNTIME": "/nonexistent"})
    assert r.returncode == 0 and "not built" in r.stdout


def test_ring1_run_version(capsys, monkeypatch):
    r = run_main(["run", "--version"], capsys, monkeypatch)
    assert r.returncode == 0 and r.stdout == (f"ring1 {__version__} (ABI {abi.ABI_VERSION})\n"
                                             f"ring1-run {__version__} (ABI {abi.ABI_VERSION})\n")


# The whole way, in real processes: the three command lines, and the runtime's own
# value checks reached through ring1.
def test_ring1_end_to_end(tmp_path):
    cache = {"RING1_CACHE": str(tmp_path / "cache")}
    runs = {
        "boot-mem-before": run_ring1("boot", "--mem", "64M", QI, "--no-profile", env=cache),
        "run-mem-eq-after": run_ring1("run", QI, "--mem=64M", "-append", "-x y",
                                      "--unpatched"),
        "boot-no-profile-after": run_ring1("boot", QI, "--no-profile", "-m", "32", env=cache),
        "run-bad-mem": run_ring1("run", QI, "--mem", "1M"),
        "run-unpatched-refused": run_ring1("run", QI, "--mem=64M"),
    }
    for k in ("boot-mem-before", "run-mem-eq-after"):
        r = runs[k]
        assert r.returncode == 1 and mem_upper(64) in r.stdout.splitlines(), r
    assert f"cmdline='{QI} -x y'" in runs["run-mem-eq-after"].stdout
    r = runs["boot-no-profile-after"]
    assert r.returncode == 1 and mem_upper(32) in r.stdout.splitlines(), r
    assert not list((tmp_path / "cache" / "boot").glob("*profile*")), "--no-profile ignored"
    r = runs["run-bad-mem"]
    assert r.returncode == 2 and r.stdout == "" and r.err_lines == [
        "ring1-run: --mem 1M: want 2M..3G"], r
    # qemuinfo is unpatched: `ring1 run` without --unpatched gets the runtime's one line
    r = runs["run-unpatched-refused"]
    assert r.returncode == 2 and r.stdout == "" and len(r.err_lines) == 1, r
    assert r.err_lines[0].startswith(f"ring1-run: {QI} is not rewritten: "), r
    assert f"`ring1 boot {QI}`" in r.err_lines[0] and "--unpatched" in r.err_lines[0], r


# =============================================================================================
# exit statuses: one table
# =============================================================================================
def _readme_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \| (.+?) \|$", text, re.M)
    return {code.replace("\\|", "|"): cmds for code, _, cmds in rows}


def test_exit_status_table_is_one():
    """errors.EXIT_TABLE (ring1 --help prints it), README's table and the runtime's STATUS_*
    and --help agree."""
    table = {code: cmds for code, _, cmds in errors.EXIT_TABLE}
    assert _readme_table() == table
    vcpu_h = (ROOT / "runtime" / "vcpu.h").read_text()
    statuses = dict(re.findall(r"#define (STATUS_\w+)\s+(\d+)", vcpu_h))
    assert statuses and all(v in table for v in statuses.values()), statuses
    rc, out, _ = runtime("--help")
    listed = re.findall(r"^  (\d+) ", out.split("Exit status:")[1], re.M)
    assert listed and all(c in table for c in listed), listed
    for code in statuses.values():
        assert "run" in table[code] or table[code] == "every command", code
    # the Python side's constants
    for name in ("EXIT_OK", "EXIT_VERIFY_FAILED", "EXIT_BAD_INPUT", "EXIT_INTERNAL",
                 "EXIT_RUNTIME", "EXIT_INTERRUPTED", "EXIT_NETWORK", "EXIT_CACHE",
                 "EXIT_CONTENT"):
        assert str(getattr(errors, name)) in table, name
    assert errors.EXIT_RUNTIME == int(statuses["STATUS_INTERNAL"])
    assert errors.EXIT_INTERRUPTED == int(statuses["STATUS_SIGNAL"])
    r = run_ring1("--help")
    text = " ".join(r.stdout.split())
    for code, meaning, _ in errors.EXIT_TABLE:
        assert f"{code} {' '.join(meaning.split())[:40]}" in text, code


def test_fetch_failures_are_not_internal_errors(capsys, monkeypatch, tmp_path):
    """Network: 26; a cache that cannot be written: 28; neither is 3, "internal error"."""
    monkeypatch.setenv("RING1_CACHE", str(tmp_path / "kernels"))

    def unreachable(*a, **k):
        raise F.FetchError("apt-get update: Could not resolve 'deb.debian.org'",
                           F.EXIT_NETWORK, unreachable=True)
    monkeypatch.setattr(F, "_obtain", unreachable)
    r = run_main(["fetch", "-q", "gnumach"], capsys, monkeypatch)
    assert r.returncode == errors.EXIT_NETWORK == 26 and "Could not resolve" in r.stderr
    assert "Traceback" not in r.stderr and len(r.err_lines) == 1
    (tmp_path / "file").write_text("x")
    r = run_main(["fetch", "-q", "gnumach"], capsys, monkeypatch,
                 env={"RING1_CACHE": str(tmp_path / "file" / "kernels")})
    assert r.returncode == errors.EXIT_CACHE == 28 and len(r.err_lines) == 1, r
    assert "Traceback" not in r.stderr


def test_boot_cache_failure_and_internal_error(capsys, monkeypatch, tmp_path):
    (tmp_path / "file").write_text("x")
    r = run_main(["boot", QI], capsys, monkeypatch,
                 env={"RING1_CACHE": str(tmp_path / "file")})
    assert_one_line_error(r, errors.EXIT_CACHE, "boot cache", "RING1_CACHE")

    def boom(*a, **k):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr(pipeline, "rewrite", boom)
    r = run_main(["boot", QI], capsys, monkeypatch, env={"RING1_CACHE": str(tmp_path / "c")})
    assert r.returncode == errors.EXIT_RUNTIME == 14, r     # not 3: the guest's, under boot
    assert "internal error" in r.stderr and "Traceback" not in r.stderr


def test_boot_cache_is_keyed_on_the_rewriters_code(caught, capsys, monkeypatch):
    """A changed rewriter never reuses an image another one made: the boot cache's key holds a
    digest of the rewriter's own modules, by content (not the version string, which changes
    by hand)."""
    import hashlib
    from pathlib import Path as P
    h = hashlib.sha256(cli.__version__.encode())
    for f in sorted(P(cli.__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    assert cli._rewriter_digest() == h.hexdigest()
    first, _ = caught(["boot", "--no-profile", QI], capsys)
    again, _ = caught(["boot", "--no-profile", QI], capsys)
    monkeypatch.setattr(cli, "_rewriter_digest", lambda: "another rewriter")
    other, _ = caught(["boot", "--no-profile", QI], capsys)
    assert first == again and other != first
    assert P(first).is_file() and P(other).is_file()
