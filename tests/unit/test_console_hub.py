"""A console's clients (backend/consolehub.py): history first, several readers, one
writer, a client that does not keep up cut off while the others and the log go on."""

import pytest
from harness import read_until, wait_until

from xen.xend.backend import consolehub
from xen.xend.backend.common import LoopThread
from xen.xend.backend.consolehub import TAKEOVER_NOTICE, ConsoleHub

WAIT = 10


class Log:
    """A console subscriber keeping everything, as console.log does."""

    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data

    def close(self):
        pass


@pytest.fixture
def hub():
    thread = LoopThread("test-console-hub")
    typed = []
    hub = ConsoleHub(thread.loop, "guest", typed.append, history_bytes=16)
    hub.typed = typed
    hub.output = lambda data: thread.loop.call_soon_threadsafe(hub.write, data)
    hub.end = lambda: thread.loop.call_soon_threadsafe(hub.close)
    yield hub
    thread.stop()


def test_a_client_gets_the_recent_history_then_live_output(hub):
    hub.output(b"0123456789")
    hub.output(b"abcdefghij")    # 20 bytes printed, 16 kept
    client = hub.attach(writer=False)
    assert read_until(client, b"j") == b"456789abcdefghij"
    hub.output(b"live\r\n")
    assert read_until(client, b"\r\n") == b"live\r\n"


def test_only_the_writer_types_and_a_new_writer_takes_over(hub):
    first = hub.attach(writer=True)
    reader = hub.attach(writer=False)
    first.sendall(b"ls\r")
    wait_until(lambda: hub.typed == [b"ls\r"], WAIT, "the writer's input typed")
    reader.sendall(b"rm\r")
    second = hub.attach(writer=True)
    assert read_until(first, TAKEOVER_NOTICE) == TAKEOVER_NOTICE
    first.sendall(b"x")              # no longer the writer: dropped
    second.sendall(b"pwd\r")
    wait_until(lambda: hub.typed[-1:] == [b"pwd\r"], WAIT, "the new writer's input typed")
    assert hub.typed == [b"ls\r", b"pwd\r"]


def test_a_client_that_does_not_read_is_cut_off_and_the_others_go_on(hub, monkeypatch):
    monkeypatch.setattr(consolehub, "MAX_PENDING", 64 * 1024)
    log = Log()
    hub.output = lambda data: hub.loop.call_soon_threadsafe(deliver, data)

    def deliver(data):      # as the console hands each chunk to its subscribers
        log.write(data)
        hub.write(data)
    stalled = hub.attach(writer=False)
    reader = hub.attach(writer=False)
    reader.settimeout(WAIT)
    chunk = b"x" * 1023 + b"\n"
    received = bytearray()

    def receive():
        data = reader.recv(65536)
        assert data, "the reader that keeps up was disconnected"
        received.extend(data)
    for sent in range(1, 2049):     # 2 MiB: far beyond the socket buffers and the bound
        hub.output(chunk)
        while len(received) + 32 * len(chunk) < sent * len(chunk):
            receive()
    while len(received) < 2048 * len(chunk):
        receive()
    assert received == log.data == chunk * 2048
    wait_until(lambda: len(hub.clients) == 1, WAIT, "the stalled client cut off")
    stalled.settimeout(WAIT)
    while stalled.recv(65536):      # what it had been sent, then EOF
        pass


def test_close_ends_every_stream_with_what_was_pending(hub):
    clients = [hub.attach(writer=True), hub.attach(writer=False)]
    hub.output(b"bye\r\n")
    for client in clients:      # input the hub has not read yet does not reset the stream
        client.sendall(b"exit\r")
    hub.end()
    for client in clients:
        assert read_until(client, b"never") == b"bye\r\n"
    late = hub.attach()
    late.settimeout(WAIT)
    assert late.recv(10) == b""
