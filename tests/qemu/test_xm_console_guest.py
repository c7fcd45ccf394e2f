"""xm console and xm vncviewer on real QEMU guests: the tiny guest's shell answers a
command typed at xm's terminal; a guest's display is reached through the local port
xm vncviewer forwards, by a viewer it runs or by one given the address it prints."""

import os
import signal
import socket
import subprocess
import sys

import pexpect
import pytest
from harness import (
    BOOT_WAIT,
    ROOT,
    STATE_WAIT,
    new_no_os_vm,
    new_tiny_vm,
    requires_qemu,
    rfb_connect,
    tiny_args,
)

pytestmark = [pytest.mark.qemu, requires_qemu]

# A VNC viewer for the test: connects to the HOST::PORT it is given and writes the
# server's first 12 bytes (its RFB version) to the file named by $VIEWER_OUT.
FAKE_VIEWER = """#!%s
import os, socket, sys
host, _, port = sys.argv[1].partition("::")
with socket.create_connection((host, int(port)), timeout=30) as s:
    data = b""
    while len(data) < 12:
        data += s.recv(12 - len(data)) or sys.exit("EOF")
with open(os.environ["VIEWER_OUT"], "wb") as f:
    f.write(data)
"""


def xm_args(daemon, *args):
    return ["-m", "xen.xm", "--socket", daemon.socket] + list(args)


def test_the_guests_shell_answers_at_xm_console(api, qemu_daemon, tiny_guest):
    vm = new_tiny_vm(api, tiny_guest, kernel_args=tiny_args(tiny_guest) + " rdinit=/bin/sh")
    api.VM.start(vm, False)
    try:
        xm = pexpect.spawn(sys.executable, xm_args(qemu_daemon, "console", vm), cwd=ROOT,
                           timeout=BOOT_WAIT)
        xm.expect_exact(b"# ")                      # the shell's prompt
        xm.send(b"echo $((6*7))\r")
        xm.expect_exact(b"\r\n42\r\n")
        xm.send(b"\x1d")                            # Ctrl-]
        xm.expect(pexpect.EOF)
        xm.close()
        assert xm.exitstatus == 0
        assert api.VM.get_power_state(vm) == "Running"
    finally:
        api.VM.hard_shutdown(vm)


@pytest.fixture
def display(api):
    """A running VM with a display (a bios boot: SeaBIOS's text on it)."""
    vm = new_no_os_vm(api)
    api.VM.start(vm, False)
    yield vm
    api.VM.hard_shutdown(vm)


def test_vncviewer_without_a_viewer_prints_an_address_only_its_user_reaches(
        qemu_daemon, display, tmp_path):
    p = subprocess.Popen([sys.executable] + xm_args(qemu_daemon, "vncviewer", display),
                         cwd=ROOT, env=dict(os.environ, PATH=str(tmp_path)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        host, _, port = p.stdout.readline().strip().partition(":")
        assert host == "127.0.0.1"
        with socket.create_connection((host, int(port)), timeout=STATE_WAIT) as sock:
            width, height, depth = rfb_connect(sock)
        assert width > 0 and height > 0 and depth in (1, 2, 4)
        # Another user of the host connecting to the port gets nothing (the system's
        # Python: the test's own may be in a directory only root may enter).
        other = subprocess.run(
            ["/usr/bin/python3", "-c", "import socket; s = socket.create_connection(('%s', %s)); "
             "s.settimeout(%d); print(len(s.recv(12)))" % (host, port, STATE_WAIT)],
            user=65534, cwd="/", capture_output=True, text=True, timeout=STATE_WAIT + 10)
        assert other.stdout == "0\n", other.stderr
    finally:
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=STATE_WAIT) == 130
        assert "Traceback" not in p.stderr.read()


def test_vncviewer_runs_the_viewer_on_the_forwarded_display(qemu_daemon, display, tmp_path):
    viewer = tmp_path / "vncviewer"
    viewer.write_text(FAKE_VIEWER % sys.executable)
    viewer.chmod(0o755)
    out = tmp_path / "viewer.out"
    p = subprocess.run([sys.executable] + xm_args(qemu_daemon, "vncviewer", display), cwd=ROOT,
                       env=dict(os.environ, PATH=str(tmp_path), VIEWER_OUT=str(out)),
                       capture_output=True, text=True, timeout=BOOT_WAIT)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert out.read_bytes() == b"RFB 003.008\n"
