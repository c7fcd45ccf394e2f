"""The Xen guests' consoles (backend/xen/console.py) without Xen: a pty pair from
os.openpty() stands in for xenconsoled's, its master side playing the guest."""

import os

import pytest
from harness import read_until, wait_until

from xen.xend.backend.spec import VMConfig
from xen.xend.backend.xen import console as xen_console

VM = "0b8f3b2e-6f0e-4a55-9f4c-2f1d1c0e9a11"


@pytest.fixture
def consoles():
    c = xen_console.Consoles(history_bytes=1024)
    yield c
    c.close()


@pytest.fixture
def pty():
    """(master, slave path) of a new pty in its default, cooked mode; the master is the
    guest's side, non-blocking."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    yield master, path
    os.close(master)


def guest_reads(master, expected):
    """What the guest side of the pty reads until ``expected`` is in it."""
    got = bytearray()

    def more():
        try:
            got.extend(os.read(master, 4096))
        except BlockingIOError:
            pass
        return expected in got
    wait_until(more, 10, lambda: "%r in the guest's input %r" % (expected, bytes(got)))
    return bytes(got)


def test_a_client_gets_the_output_so_far_then_types_into_the_guest_unchanged(consoles, pty):
    master, path = pty
    consoles.follow(VM, path)
    with consoles.attach(VM, False) as first:
        os.write(master, b"boot: hello\r\n")
        assert read_until(first, b"hello\r\n") == b"boot: hello\r\n"
    with consoles.attach(VM, True, live=False) as dump:     # the history, then EOF
        assert read_until(dump, b"never") == b"boot: hello\r\n"
    # A client attaching later gets it from the history first. The pty is raw: a cooked
    # one would turn \r into \n on its way in and \n into \r\n on its way out, and take
    # ^C as a signal.
    with consoles.attach(VM, True) as client:
        assert read_until(client, b"hello\r\n") == b"boot: hello\r\n"
        client.sendall(b"uname\x03\n\r")
        assert guest_reads(master, b"\r") == b"uname\x03\n\r"
        os.write(master, b"Linux\r\n\x7f.")
        assert read_until(client, b".") == b"Linux\r\n\x7f."


def test_a_new_pty_keeps_the_clients_and_the_end_gives_them_eof(consoles, pty):
    master, path = pty
    consoles.follow(VM, path)
    client = consoles.attach(VM, True)
    os.write(master, b"first boot\r\n")
    assert read_until(client, b"boot\r\n") == b"first boot\r\n"
    # A reboot: a new domain, a new pty; the client stays and hears the new one.
    master2, slave2 = os.openpty()
    try:
        consoles.follow(VM, os.ttyname(slave2))
        os.close(slave2)
        os.write(master2, b"second boot\r\n")
        assert read_until(client, b"second boot\r\n").endswith(b"second boot\r\n")
    finally:
        os.close(master2)
    consoles.end(VM)
    assert read_until(client, b"never") == b""
    client.close()
    assert not consoles.has(VM) and consoles.attach(VM, True) is None


def test_a_path_that_is_no_pty_gives_no_console(consoles, tmp_path):
    plain = tmp_path / "file"
    plain.write_text("")
    for path in ("/dev/null", str(plain)):
        consoles.follow(VM, path)
        assert not consoles.has(VM)


class Store:
    """A xenstore holding one node."""

    def __init__(self, node, value):
        self.node, self.value = node, value

    def read(self, path):
        return self.value if path == self.node else None


def test_find_tty_takes_only_a_pty_path(monkeypatch):
    node = b"/local/domain/7/console/tty"
    assert xen_console.find_tty(Store(node, "/dev/pts/3"), 7, "console/tty") == "/dev/pts/3"
    for forged in ("/etc/shadow", "/dev/pts/3/../../sda", "/dev/pts/3\n"):
        assert xen_console.find_tty(Store(node, forged), 7, "console/tty") is None
    monkeypatch.setattr(xen_console, "TTY_WAIT", 0)
    assert xen_console.find_tty(Store(node, "/dev/pts/3"), 8, "console/tty") is None


def test_the_console_node_follows_the_domain_type():
    assert xen_console.tty_node(VMConfig(builder="linux")) == "console/tty"
    assert xen_console.tty_node(VMConfig(builder="pvh")) == "console/tty"
    assert xen_console.tty_node(VMConfig(builder="hvm", platform_serial="pty")) == \
        "serial/0/tty"
    assert xen_console.tty_node(VMConfig(builder="hvm")) is None
