"""Register-level unit tests of the runtime's C code (runtime/tests/test_*.c).

Each C test binary lists its tests (``--list``) and runs one by name, so every register
test is its own pytest item: a failure names the device and the behaviour
(``test_device[test_i8259-cascade_slave_irq12]``). Building is ``make -C runtime``.
"""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(ROOT, "runtime")
BUILD = os.path.join(RUNTIME, "build")
BINARIES = ["test_uart16550", "test_i8259", "test_i8254", "test_i8237", "test_portb", "test_mc146818",
            "test_debugexit", "test_decode", "test_ata", "test_i82078", "test_i8042",
            "test_lapic", "test_ioapic", "test_port92", "test_pci", "test_cga", "test_vga", "test_fw_cfg", "test_testdev",
            "test_piix4_pm", "test_hpet"]


def _build():
    r = subprocess.run(["make", "-s", "-C", RUNTIME], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("make -C runtime failed:\n" + r.stdout + r.stderr)


def _cases():
    _build()
    for b in BINARIES:
        out = subprocess.run([os.path.join(BUILD, b), "--list"], capture_output=True,
                             text=True, check=True).stdout
        for name in out.split():
            yield b, name


@pytest.mark.parametrize("binary,name", list(_cases()), ids=lambda x: x)
def test_device(binary, name):
    r = subprocess.run([os.path.join(BUILD, binary), name], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, f"{binary} {name}:\n{r.stdout}{r.stderr}"
    assert f"ok {name}" in r.stdout
