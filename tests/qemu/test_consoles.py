"""The console proxy on real QEMU guests: the tiny guest's shell answers a command typed
through CONNECT /console and through the WebSocket; a guest's display is an RFB server
through the same proxy."""

import struct

import pytest
from harness import (
    BOOT_WAIT,
    console_connect,
    console_query,
    console_websocket,
    new_no_os_vm,
    new_tiny_vm,
    read_until,
    requires_qemu,
    rfb_colours,
    rfb_connect,
    tiny_args,
    wait_until,
)
from wsproto.events import BytesMessage

pytestmark = [pytest.mark.qemu, requires_qemu]


@pytest.fixture(scope="module")
def session(qemu_daemon):
    """A session of root's over the Unix socket."""
    return qemu_daemon.sdk_unix()._session


def console_of(api, vm, protocol):
    return next(c for c in api.VM.get_consoles(vm) if api.console.get_protocol(c) == protocol)


@pytest.fixture
def shell(api, tiny_guest):
    """(VM, its vt100 console) of a running tiny guest whose init is a shell on its serial
    console; halted at the test's end."""
    vm = new_tiny_vm(api, tiny_guest, kernel_args=tiny_args(tiny_guest) + " rdinit=/bin/sh")
    api.VM.start(vm, False)
    yield vm, console_of(api, vm, "vt100")
    api.VM.hard_shutdown(vm)


def test_the_guests_shell_answers_through_connect(qemu_daemon, session, shell):
    vm, con = shell
    status, sock = console_connect(qemu_daemon, console_query(con, session))
    with sock:
        assert status == 200
        read_until(sock, b"# ", timeout=BOOT_WAIT)            # the shell's prompt
        sock.sendall(b"echo $((6*7))\r")
        assert b"\r\n42\r\n" in read_until(sock, b"\r\n42\r\n")


def test_the_guests_shell_answers_through_the_websocket(qemu_daemon, session, shell):
    vm, con = shell
    status, _, client = console_websocket(qemu_daemon, console_query(con, session))
    with client.sock:
        assert status == 101
        client.read_until(b"# ", timeout=BOOT_WAIT)            # the shell's prompt
        client.send(BytesMessage(data=b"echo $((7*8))\r"))
        assert b"\r\n56\r\n" in client.read_until(b"\r\n56\r\n")


@pytest.mark.parametrize("mode", [None, "read"])
def test_a_guests_display_is_an_rfb_server_through_connect(api, qemu_daemon, session, mode):
    """Also watched only (mode=read): the proxy then drops the viewer's input
    (transport/rfb.py), and the display still answers around what it dropped."""
    vm = new_no_os_vm(api)    # a bios boot: a display, SeaBIOS's text on it
    api.VM.start(vm, False)
    try:
        status, sock = console_connect(
            qemu_daemon, console_query(console_of(api, vm, "rfb"), session, mode))
        with sock:
            assert status == 200
            width, height, depth = rfb_connect(sock)
            assert width > 0 and height > 0 and depth in (1, 2, 4)
            sock.sendall(struct.pack(">BBHH", 5, 0, 10, 10))    # a pointer moved
            wait_until(lambda: len(rfb_colours(sock, width, height, depth)) > 1, BOOT_WAIT,
                       "a screen that is not all one colour")
    finally:
        api.VM.hard_shutdown(vm)
