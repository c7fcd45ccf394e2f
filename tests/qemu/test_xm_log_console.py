"""xm log on a real guest: its console log is the tiny guest's boot, read through the
daemon (GET /vm-log) rather than from the host's files."""

import subprocess
import sys

import pytest
from harness import READY, ROOT, console, new_tiny_vm, requires_qemu, wait_ready

pytestmark = [pytest.mark.qemu, requires_qemu]


def test_xm_log_shows_the_guests_boot_lines(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest)
    api.VM.start(vm, False)
    wait_ready(qemu_daemon, vm)
    out = subprocess.run([sys.executable, "-m", "xen.xm", "--socket", qemu_daemon.socket,
                          "log", vm, "--kind", "console"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stderr) == (0, "")
    assert READY in out.stdout.splitlines()
    # The guest is idle once ready: what xm shows is the whole console log on the host.
    assert out.stdout.splitlines() == console(qemu_daemon, vm).replace("\r", "").splitlines()
    api.VM.hard_shutdown(vm)
