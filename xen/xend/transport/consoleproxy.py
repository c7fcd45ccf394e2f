"""The console proxy: a client's connection joined to a guest's console stream.

Once a console request is accepted (listeners.py: ``CONNECT /console`` and
``GET /console/ws``), ``pump`` carries bytes both ways between the client's
connection and the socket the backend's ``open_console`` returned, in the
connection's own thread, until either side ends. Each direction holds at most
``BUFFER`` bytes: while the other side does not take them, its source is not read,
so a client that stops reading only fills its own buffers; the console hub then
cuts it off (backend/consolehub.py), and never holds up the guest or other clients.

The client's side has a framing: ``Raw`` (CONNECT: the bytes themselves) or
``WebSocket`` (RFC 6455 binary frames, through wsproto, which does no I/O).
"""

import selectors
import ssl

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import generate_accept_token

BUFFER = 65536   # bytes one direction holds before it stops reading its source
_RECV = 16384    # bytes asked of a socket per read

# What a non-blocking read or write raises when the socket cannot go on now.
_NOT_NOW = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class Raw:
    """CONNECT: the client's bytes are the console's, both ways."""

    def receive(self, data):
        """(bytes for the console, bytes to answer the client with, whether the client
        has ended) from ``data`` the client sent."""
        return data, b"", False

    def send(self, data):
        """The bytes that carry console output ``data`` to the client."""
        return data

    def close(self):
        """The bytes that end the stream, once the console has ended."""
        return b""


class WebSocket:
    """A WebSocket after its handshake: binary frames both ways (text frames from the
    client are taken as their UTF-8 bytes), pings answered, a close answered and ended."""

    def __init__(self):
        self.ws = Connection(ConnectionType.SERVER)

    def receive(self, data):
        self.ws.receive_data(data)
        to_console, reply, ended = bytearray(), bytearray(), False
        for event in self.ws.events():
            if isinstance(event, BytesMessage):
                to_console += event.data
            elif isinstance(event, TextMessage):
                to_console += event.data.encode("utf-8")
            elif isinstance(event, Ping):
                reply += self.ws.send(event.response())
            elif isinstance(event, CloseConnection):   # also a frame wsproto cannot parse
                reply += self.ws.send(event.response())
                ended = True
                break
        return bytes(to_console), bytes(reply), ended

    def send(self, data):
        return self.ws.send(BytesMessage(data=data))

    def close(self):
        return self.ws.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE))


def websocket_handshake(request):
    """The reply head that accepts ``request``'s WebSocket upgrade; ValueError saying
    what is missing if it is not one (RFC 6455 §4.2.1). The subprotocol ``binary`` is
    chosen where the client offers it (noVNC does)."""
    upgrade = (request.header("upgrade") or "").lower()
    connection = (request.header("connection") or "").lower().replace(" ", "").split(",")
    key = request.header("sec-websocket-key")
    if upgrade != "websocket" or "upgrade" not in connection:
        raise ValueError("a WebSocket upgrade is required (Upgrade: websocket)")
    if request.header("sec-websocket-version") != "13":
        raise ValueError("WebSocket version 13 is required")
    if not key:
        raise ValueError("Sec-WebSocket-Key is required")
    offered = (request.header("sec-websocket-protocol") or "").replace(" ", "").split(",")
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: %s\r\n%s\r\n"
            % (generate_accept_token(key.encode("latin-1")),
               b"Sec-WebSocket-Protocol: binary\r\n" if "binary" in offered else b""))


class _Pump:
    """The two directions between ``client`` and ``console`` (see the module's doc)."""

    def __init__(self, client, console, framing, linger, inbound):
        self.client = client
        self.console = console
        self.framing = framing
        self.inbound = inbound        # what filters the client's bytes (None: nothing)
        self.linger = linger          # seconds the client has to take the rest at the end
        self.up = bytearray()         # for the console
        self.down = bytearray()       # for the client, framed
        self.client_done = False      # the client has ended (EOF, close frame, error)
        self.console_done = False     # the console has ended (the guest stopped)
        self.selector = selectors.DefaultSelector()
        self.watched = {}             # socket -> the events the selector waits for

    def run(self, first):
        self._from_client(first)
        for sock in (self.client, self.console):
            sock.setblocking(False)   # no request timeouts once upgraded
        while not self._finished():
            if self._tls_has_more():  # decrypted bytes wait beneath the selector's sight
                self._read_client()
                continue
            ending = self._ending()
            ready = dict((key.fileobj, events)
                         for key, events in self._select(self.linger if ending else None))
            if not ready and ending:
                return   # the rest was not taken in time
            self._step(ready)

    def _ending(self):
        """Either side has ended: nothing more is read, what is held is delivered."""
        return self.client_done or self.console_done

    def _finished(self):
        return self._ending() and not self.down and (self.console_done or not self.up)

    def _select(self, timeout):
        for sock, events in ((self.client, self._client_events()),
                             (self.console, self._console_events())):
            # Told the kernel only when they change: most rounds wait for the same.
            watched = self.watched.pop(sock, 0)
            if not events:
                if watched:
                    self.selector.unregister(sock)
                continue
            if events != watched:
                (self.selector.modify if watched else self.selector.register)(sock, events)
            self.watched[sock] = events
        return self.selector.select(timeout)

    def _client_events(self):
        return (selectors.EVENT_READ if self._may_read_client() else 0) | \
            (selectors.EVENT_WRITE if self.down else 0)

    def _console_events(self):
        reading = not self._ending() and len(self.down) < BUFFER
        return (selectors.EVENT_READ if reading else 0) | \
            (selectors.EVENT_WRITE if self.up and not self.console_done else 0)

    def _may_read_client(self):
        return not self._ending() and len(self.up) < BUFFER

    def _tls_has_more(self):
        return isinstance(self.client, ssl.SSLSocket) and self._may_read_client() and \
            self.client.pending() > 0

    def _step(self, ready):
        client, console = ready.get(self.client, 0), ready.get(self.console, 0)
        if console & selectors.EVENT_READ:
            data = self._io(self.console.recv, _RECV)
            if data == b"":
                self.console_done = True
                self.down += self.framing.close()
            elif data:
                self.down += self.framing.send(data)
        if client & selectors.EVENT_READ:
            self._read_client()
        if console & selectors.EVENT_WRITE and self.up:
            del self.up[:self._io(self.console.send, self.up) or 0]
        if client & selectors.EVENT_WRITE and self.down:
            del self.down[:self._io(self.client.send, self.down[:BUFFER]) or 0]

    def _read_client(self):
        data = self._io(self.client.recv, _RECV)
        if data == b"":
            self.client_done = True
        elif data:
            self._from_client(data)

    def _from_client(self, data):
        to_console, reply, ended = self.framing.receive(data)
        if self.inbound is not None and to_console:
            try:
                to_console = self.inbound.feed(to_console)
            except ValueError:   # bytes the filter cannot judge: forward none of them
                self.client_done = self.console_done = True
                self.up.clear()
                return
        self.up += to_console
        self.down += reply
        self.client_done = self.client_done or ended

    def _io(self, call, arg):
        """``call(arg)``; None if the socket cannot go on now. A socket that failed
        ends the pump: both sides are then done, and what is held is dropped."""
        try:
            return call(arg)
        except _NOT_NOW:
            return None
        except OSError:
            self.client_done = self.console_done = True
            self.up.clear()
            self.down.clear()
            return None


def pump(client, console, framing, first=b"", linger=30.0, inbound=None):
    """Carry bytes between ``client`` (the connection, plain or TLS) and ``console``
    (the backend's stream) through ``framing`` until either side ends; ``first`` is
    what the client sent beyond its request. Once the console ends, the client has
    ``linger`` seconds to take the rest. ``inbound`` (an object with ``feed(bytes)``
    returning the bytes to forward, ValueError to end the stream) filters what the
    client sends. The caller closes both sockets."""
    p = _Pump(client, console, framing, linger, inbound)
    try:
        p.run(first)
    finally:
        p.selector.close()
