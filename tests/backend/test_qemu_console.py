"""The serial console of QEMU guests: a socket the daemon binds and reads, logged to a
capped console.log with one earlier generation, console.log.1."""

import os
import re
import stat

import pytest
from harness import (
    BOOT_WAIT,
    READY,
    STATE_WAIT,
    console_text,
    qemu_pids,
    read_until,
    requires_qemu,
    rfb_colours,
    rfb_connect,
    wait_until,
)
from qemutest import console, wait_console

from xen.xend.backend import consolehub
from xen.xend.backend.base import BackendError
from xen.xend.backend.consolehub import TAKEOVER_NOTICE

pytestmark = [pytest.mark.qemu, requires_qemu]


def open_files(pid):
    """The paths the descriptors of process ``pid`` point at (one closed meanwhile, such
    as listdir's own, left out)."""
    fds, paths = "/proc/%d/fd" % pid, set()
    for fd in os.listdir(fds):
        try:
            paths.add(os.readlink(os.path.join(fds, fd)))
        except FileNotFoundError:
            pass
    return paths


def test_boot_output_reaches_console_log_through_the_daemon(backend, linux_spec):
    spec = linux_spec()
    pid = backend.start(spec, paused=False)["pid"]
    wait_console(spec, READY)
    log = os.path.join(spec.state_dir, "console.log")
    sock = os.lstat(os.path.join(spec.state_dir, "console.sock"))
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    # QEMU opens no console file: it writes to the socket it inherited, the daemon logs.
    assert log not in open_files(pid)
    assert log in open_files(os.getpid())
    backend.hard_shutdown(spec.uuid)
    # The guest has gone: its reader has stopped and closed the log.
    assert log not in open_files(os.getpid())


def stamps(text):
    """The kernel's printk timestamps in ``text``, in order."""
    return [float(t) for t in re.findall(r"^\[ *(\d+\.\d+)\]", text, re.M)]


def test_a_chatty_guest_fills_console_log_to_its_cap_and_rotates(backend_factory,
                                                                 linux_spec, tiny_guest):
    cap = 4096
    backend = backend_factory(console_log_bytes=cap)
    # Every kernel message on the console: far more than the cap before the guest is up.
    args = tiny_guest["cmdline"].replace("quiet", "") + " ignore_loglevel printk.time=1"
    spec = linux_spec(kernel_args=args)
    backend.start(spec, paused=False)
    log = os.path.join(spec.state_dir, "console.log")

    def both():     # the two generations, oldest first
        return console_text(spec.state_dir, "console.log.1") + console(spec)
    wait_until(lambda: READY in both(), BOOT_WAIT, "%r on the console" % READY)
    backend.hard_shutdown(spec.uuid)
    assert os.path.getsize(log) <= cap
    assert os.path.getsize(log + ".1") == cap
    # console.log.1 is the generation just before console.log: the stream carries on.
    times = stamps(both())
    assert len(times) > 2 and times == sorted(times)
    assert "Linux version" not in both()      # the first lines have rotated out


def test_the_console_is_logged_again_after_a_daemon_restart(backend_factory, linux_spec):
    first = backend_factory()
    spec = linux_spec()
    private = first.start(spec, paused=True)     # the guest has said nothing yet
    first.close()
    second = backend_factory()
    assert second.reattach(spec.uuid, private) == "Paused"
    assert second.consoles(spec.uuid) == ["vt100"]
    second.unpause(spec.uuid)
    wait_console(spec, READY)                    # the whole boot, read by the second
    with second.open_console(spec.uuid, "vt100", writer=False) as client:
        assert READY.encode() in read_until(client, READY.encode())
    second.clean_shutdown(spec.uuid, 90)
    assert "power button, powering off" in console(spec)


def test_a_symlink_planted_at_console_log_is_not_followed(backend_factory, linux_spec,
                                                          tmp_path):
    target = tmp_path / "target"
    target.write_text("precious\n")
    spec = linux_spec()
    os.makedirs(spec.state_dir, exist_ok=True)
    log = os.path.join(spec.state_dir, "console.log")
    os.symlink(target, log)
    backend = backend_factory()
    with pytest.raises(BackendError) as err:
        backend.start(spec, paused=False)
    assert err.value.code == "INTERNAL_ERROR" and "console log" in err.value.params[0]
    assert qemu_pids(spec.uuid) == []
    # Planted while the guest runs, before a daemon restart: still not followed.
    os.unlink(log)
    private = backend.start(spec, paused=True)
    backend.close()
    os.unlink(log)
    os.symlink(target, log)
    again = backend_factory()
    assert again.reattach(spec.uuid, private) == "Paused"
    again.unpause(spec.uuid)
    again.hard_shutdown(spec.uuid)
    assert target.read_text() == "precious\n"


def test_a_console_client_gets_the_boot_from_history_then_live_output(backend, linux_spec):
    spec = linux_spec()
    backend.start(spec, paused=False)
    wait_console(spec, READY)
    assert backend.consoles(spec.uuid) == ["vt100"]
    with backend.open_console(spec.uuid, "vt100", writer=False) as client:
        seen = read_until(client, READY.encode())
        assert b"xend-test: devices:" in seen and READY.encode() in seen
        backend.clean_shutdown(spec.uuid, BOOT_WAIT)
        # Live: what the guest says as it powers off, then EOF once it has gone.
        assert b"powering off" in read_until(client, b"never", timeout=STATE_WAIT)
    assert backend.consoles(spec.uuid) == []
    with pytest.raises(BackendError) as err:
        backend.open_console(spec.uuid, "vt100")
    assert err.value.code == "VALUE_NOT_SUPPORTED"


def shell_spec(linux_spec, tiny_guest):
    """A tiny guest whose init is a shell on its serial console."""
    return linux_spec(kernel_args=tiny_guest["cmdline"] + " rdinit=/bin/sh")


def test_the_writer_types_into_the_guests_shell_and_a_second_writer_takes_over(
        backend, linux_spec, tiny_guest):
    spec = shell_spec(linux_spec, tiny_guest)
    backend.start(spec, paused=False)
    with backend.open_console(spec.uuid, "vt100") as first:
        read_until(first, b"# ", timeout=BOOT_WAIT)           # the shell's prompt
        first.sendall(b"echo $((6*7))\r")
        assert b"\r\n42\r\n" in read_until(first, b"\r\n42\r\n")
        with backend.open_console(spec.uuid, "vt100") as second:
            assert TAKEOVER_NOTICE in read_until(first, TAKEOVER_NOTICE)
            second.sendall(b"echo $((7*8))\r")
            assert b"\r\n56\r\n" in read_until(second, b"\r\n56\r\n")
    backend.hard_shutdown(spec.uuid)


def test_a_client_that_never_reads_holds_up_neither_the_log_nor_others(
        backend, linux_spec, tiny_guest, monkeypatch):
    monkeypatch.setattr(consolehub, "MAX_PENDING", 16 * 1024)
    spec = shell_spec(linux_spec, tiny_guest)
    backend.start(spec, paused=False)
    stalled = backend.open_console(spec.uuid, "vt100", writer=False)
    with backend.open_console(spec.uuid, "vt100") as writer:
        read_until(writer, b"# ", timeout=BOOT_WAIT)
        # Far more than the socket buffers of the client that never reads hold.
        writer.sendall(b"seq 1 100000; echo $((1000*1000))\r")
        assert b"1000000" in read_until(writer, b"\r\n1000000\r\n", timeout=BOOT_WAIT)
    assert "\n99999\n100000\n1000000\n" in console(spec)     # the log has it all
    stalled.settimeout(STATE_WAIT)
    while stalled.recv(65536):      # what it was sent before it fell behind, then EOF
        pass
    stalled.close()
    backend.hard_shutdown(spec.uuid)


def test_a_guest_with_a_display_serves_rfb_through_a_socket_it_is_handed(backend_factory,
                                                                          vms):
    spec = vms.spec()       # a bios boot: a display unless platform/display says none
    first = backend_factory()
    private = first.start(spec, paused=False)
    assert first.consoles(spec.uuid) == ["vt100", "rfb"]
    first.close()
    backend = backend_factory()     # the display is found again after a daemon restart
    assert backend.reattach(spec.uuid, private) == "Running"
    assert backend.consoles(spec.uuid) == ["vt100", "rfb"]
    with backend.open_console(spec.uuid, "rfb") as viewer:
        width, height, depth = rfb_connect(viewer)
        assert width > 0 and height > 0 and depth in (1, 2, 4)
        # The firmware's text on the screen, sooner or later.
        wait_until(lambda: len(rfb_colours(viewer, width, height, depth)) > 1, BOOT_WAIT,
                   "a screen that is not all one colour")
    backend.hard_shutdown(spec.uuid)


def test_a_guest_without_a_display_has_no_rfb_console(backend, linux_spec):
    spec = linux_spec()     # a kernel boot: no display unless platform/display says vnc
    backend.start(spec, paused=False)
    assert backend.consoles(spec.uuid) == ["vt100"]
    with pytest.raises(BackendError) as err:
        backend.open_console(spec.uuid, "rfb")
    assert err.value.code == "VALUE_NOT_SUPPORTED" and err.value.params[:2] == ["console", "rfb"]
    backend.hard_shutdown(spec.uuid)
