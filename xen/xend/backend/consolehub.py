"""A guest's text console shared by its clients: recent history, several readers, one writer.

A ``ConsoleHub`` subscribes to a console's output (``write(data)``, ``close()``: the
subscriber interface of backend/qemu/console.py) and serves the clients the console
proxy attaches. Each client is one end of a socket pair; the hub serves the other end
on an asyncio loop, with no thread of its own, so every backend (QEMU, Xen, sim) can
use it from whichever loop reads its guests' consoles.

A client first gets the console's history (the last ``history_bytes`` the guest
printed, kept also while nobody watched), then its live output. Bytes from the
client that is the writer go to the guest (``send_input``); a new writer takes over
and the previous one is told in its stream, then only reads; bytes from readers are
dropped. Nothing a client does can hold up the guest, the console log or another
client: output a client has not taken is buffered up to ``MAX_PENDING`` bytes, and a
client that falls further behind is disconnected. A client attached not ``live`` gets
the history only, then EOF (a dump of what the console printed lately).
"""

import logging
import os
import socket

log = logging.getLogger("xend.backend.console")

HISTORY_BYTES = 64 * 1024     # the default history kept per console
MAX_PENDING = 1 << 20         # output a client may leave unread before it is cut off
READ_SIZE = 4096              # input read from a client at a time
INPUT_MAX = 64 * 1024         # typed input waiting for the guest to take it, at most
TAKEOVER_NOTICE = b"\r\n[xend: another client took over this console]\r\n"


class _Client:
    """One attached client: the hub's end of its socket pair and the output it has yet
    to take."""

    def __init__(self, sock, writer, live):
        self.sock = sock
        self.writer = writer
        self.live = live     # False: the history only, then EOF
        self.pending = bytearray()


class ConsoleHub:
    """The clients of console ``name``; ``send_input(data)`` types into the guest.

    ``write`` and ``close`` (the console's subscriber side) run on ``loop``'s thread;
    ``attach`` may be called from any thread.
    """

    def __init__(self, loop, name, send_input, history_bytes=HISTORY_BYTES):
        self.loop = loop
        self.name = name
        self.send_input = send_input
        self.history_bytes = history_bytes
        self.history = bytearray()
        self.clients = []
        self.closed = False

    # ------------------------------------------------------------ any thread

    def attach(self, writer=True, live=True):
        """A new client: the caller's end of a connected socket pair (blocking), which
        gets the history, then live output; with ``writer`` its input goes to the guest.
        Without ``live`` it gets the history only, then EOF, and never writes. Once the
        console has closed, the socket is at EOF at once."""
        mine, theirs = socket.socketpair()
        theirs.setblocking(False)
        try:
            self.loop.call_soon_threadsafe(self._add, theirs, writer and live, live)
        except RuntimeError:    # the loop has stopped: the console is gone
            theirs.close()
        return mine

    # ------------------------------------------------------- the loop's thread

    def write(self, data):
        """Output of the guest: kept in the history and sent to every client."""
        self.history += data
        del self.history[:-self.history_bytes]
        for client in list(self.clients):
            if client.live:
                self._send(client, data)

    def close(self):
        """The console has ended: every client gets what is still pending, then EOF."""
        self.closed = True
        for client in list(self.clients):
            self._flush(client)
            self._drop(client)

    def _add(self, sock, writer, live):
        if self.closed:
            sock.close()
            return
        client = _Client(sock, writer, live)
        if writer:
            for other in self.clients:
                if other.writer:
                    other.writer = False
                    self._send(other, TAKEOVER_NOTICE)
        self.clients.append(client)
        self.loop.add_reader(sock, self._readable, client)
        self._send(client, bytes(self.history))
        self._end_dump(client)

    def _send(self, client, data):
        """Queue ``data`` for ``client`` and send what its socket takes now."""
        if client not in self.clients:
            return      # dropped by an earlier send of this same round
        client.pending += data
        if len(client.pending) > MAX_PENDING:
            log.info("console of %s: a client fell %d bytes behind; disconnected",
                     self.name, len(client.pending))
            self._drop(client)
            return
        self._flush(client)
        if client in self.clients and client.pending:
            self.loop.add_writer(client.sock, self._writable, client)

    def _flush(self, client):
        try:
            sent = client.sock.send(client.pending)
        except BlockingIOError:
            return
        except OSError:     # the client has gone
            self._drop(client)
            return
        del client.pending[:sent]

    def _writable(self, client):
        self._flush(client)
        if client in self.clients and not client.pending:
            self.loop.remove_writer(client.sock)
            self._end_dump(client)

    def _end_dump(self, client):
        """A client that is not live ends (EOF) once it has taken the history."""
        if not client.live and client in self.clients and not client.pending:
            self._drop(client)

    def _readable(self, client):
        try:
            data = client.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
        elif client.writer:
            try:
                self.send_input(data)
            except OSError as err:
                log.warning("console of %s: input lost: %s", self.name, err)

    def _drop(self, client):
        if client not in self.clients:
            return
        self.clients.remove(client)
        self.loop.remove_reader(client.sock)
        self.loop.remove_writer(client.sock)
        # Input left unread at close would reset the client's stream (ECONNRESET) and
        # lose the output it has not read yet: refuse more, discard what came, then end.
        try:
            client.sock.shutdown(socket.SHUT_RD)
            while client.sock.recv(READ_SIZE):
                pass
        except OSError:     # BlockingIOError: nothing left; or the client has gone
            pass
        client.sock.close()


class TypedInput:
    """What clients type into a guest, written to the guest's console descriptor ``fd``
    (non-blocking: QEMU's serial socket, a Xen pty) as the guest takes it, on ``loop``.
    Beyond INPUT_MAX bytes waiting, input is dropped, so that a client typing into a
    guest that does not read holds nothing up."""

    def __init__(self, loop, fd, name):
        self.loop = loop
        self.fd = fd
        self.name = name
        self._input = bytearray()

    def send(self, data):
        """Queue ``data`` for the guest and write what it takes now."""
        room = INPUT_MAX - len(self._input)
        if len(data) > room:
            log.warning("console of %s: the guest does not read; %d bytes of input dropped",
                        self.name, len(data) - room)
        self._input += data[:room]
        self._flush()

    def _flush(self):
        try:
            del self._input[:os.write(self.fd, self._input)]
        except BlockingIOError:
            pass
        except OSError as err:      # the guest has gone: so has its input
            log.warning("console of %s: input lost: %s", self.name, err)
            self._input.clear()
        if self._input:
            self.loop.add_writer(self.fd, self._flush)
        else:
            self.loop.remove_writer(self.fd)

    def close(self):
        """Drop what is still waiting; the descriptor stays the caller's."""
        self._input.clear()
        self.loop.remove_writer(self.fd)
