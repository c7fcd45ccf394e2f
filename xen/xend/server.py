"""Listeners (spec §1.4.1): HTTP/1.1 over a Unix socket, TCP and TLS; XML-RPC at / and /RPC2.

Each listener is a threaded HTTP server; a listener is one entry in the list
``listeners_from_config`` returns, so HTTPS is one more entry. The HTTP layer
knows requests and peers; it hands the body to the codec and the decoded call
to dispatch, and never looks inside either.

Every byte from the network is treated as hostile (docs/security.md):

  * a connection is admitted before any of its bytes are read: the peer's
    address must be in the listener's allow-list (``allow`` for TCP,
    ``tls_allow`` for TLS; the Unix socket is guarded by its file mode), and the
    listener must have fewer than ``max_connections`` open, fewer than
    ``max_connections_per_client`` from that address. Refusals are closed at
    once (a plain-HTTP listener that is full first says 503) and logged, at
    most one line a minute per listener and reason;
  * time is bounded, not only per read: a new connection must start a request
    within ``request_timeout`` seconds, an idle keep-alive one within
    ``keepalive_timeout``; from a request's first byte its request line,
    headers and body must all arrive within ``request_timeout``, and so must
    the client take the whole reply. A client that trickles bytes (slow loris)
    holds a thread for that long and no longer;
  * a body is at most ``max_request_bytes`` (413 and close), needs a
    Content-Length (411), and whatever it holds is answered with an XML-RPC
    reply, a fault, or an HTTP error; an unexpected error is logged with its
    traceback and never sent to the client.
"""

import base64
import errno
import http.server
import io
import ipaddress
import logging
import os
import socket
import socketserver
import struct
import sys
import threading
import time

from . import prometheus, tls
from .api import codec, xmlrepr
from .api.sessions import Peer
from .limits import LogGate

log = logging.getLogger("xend.server")

RPC_PATHS = ("/", "/RPC2")

# What a full plain-HTTP listener says before it closes a connection.
_BUSY_BODY = b"too many connections; retry later\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
         b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s"
         % (len(_BUSY_BODY), _BUSY_BODY))


class _DeadlineIO(io.RawIOBase):
    """A connection's byte stream in which every read and write ends by ``deadline``
    (time.monotonic()), however the bytes trickle in: a socket timeout alone bounds
    each recv, so a client sending a byte a minute would never time out."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline = time.monotonic()

    def readable(self):
        return True

    def writable(self):
        return True

    def _arm(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(remaining)

    def readinto(self, buf):
        self._arm()
        return self._sock.recv_into(buf)

    def write(self, data):
        self._arm()
        return self._sock.send(data)


class RequestHandler(http.server.BaseHTTPRequestHandler):
    """One HTTP connection; keep-alive, one XML-RPC call per POST."""

    protocol_version = "HTTP/1.1"
    # What an unparseable request line is taken to be: the stock HTTP/0.9 would send
    # its error page without a status line, which no client can tell from data.
    default_request_version = "HTTP/1.1"
    server_version = "xend"
    sys_version = ""

    def setup(self):
        # StreamRequestHandler.setup's plain socket files, with deadlines instead.
        config = self.server.app.config
        self.request_timeout = config["request_timeout"]
        self.idle_timeout = config["keepalive_timeout"]
        self.next_wait = self.request_timeout     # a new connection must begin promptly
        self.connection = self.request
        if self.server.kind != "unix":            # no TCP on AF_UNIX
            # Replies go out in one write at the end of a request (the buffered writer
            # below); TCP_NODELAY then sends it at once instead of after a delayed ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.stream = _DeadlineIO(self.connection)
        self.rfile = io.BufferedReader(self.stream)
        self.wfile = io.BufferedWriter(self.stream)

    def handle_one_request(self):
        """Wait (bounded) for a request to begin, then read and answer it under one deadline."""
        self.stream.deadline = time.monotonic() + self.next_wait
        try:
            if not self.rfile.peek(1):
                self.close_connection = True       # the client closed
                return
        except TimeoutError:
            self.close_connection = True           # idle for too long
            return
        self.next_wait = self.idle_timeout
        self.stream.deadline = time.monotonic() + self.request_timeout
        super().handle_one_request()

    def send_response(self, code, message=None):
        # Every reply starts here: the client gets request_timeout to take it, counted
        # from now, however long the call itself took (event.next, a clean shutdown).
        self.stream.deadline = time.monotonic() + self.request_timeout
        super().send_response(code, message)

    def do_POST(self):
        if self.path.split("?")[0] not in RPC_PATHS:
            return self._send(404, b"not found\n", "text/plain", close=True)
        if "Transfer-Encoding" in self.headers:
            return self._send(411, b"Content-Length required\n", "text/plain", close=True)
        lengths = self.headers.get_all("Content-Length") or []
        text = lengths[0].strip() if len(set(lengths)) == 1 else ""
        if not (text.isascii() and text.isdigit()):   # int() would take "+1", "1_0", "١"
            return self._send(411, b"Content-Length required\n", "text/plain", close=True)
        # Compared as text first: int() refuses numbers of over 4300 digits with an error.
        if len(text) > 18 or int(text) > self.server.app.config["max_request_bytes"]:
            return self._send(413, b"request body too large\n", "text/plain", close=True)
        length = int(text)
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return
        try:
            method, params = codec.decode_call(body)
        except codec.WireError as e:
            return self._send(200, codec.encode_fault(-32700, str(e)), "text/xml")
        reply = self.server.app.dispatcher.dispatch(method, params, self.peer())
        try:
            data = codec.encode_reply(reply)
        except (TypeError, ValueError, OverflowError):   # a handler returned an unsendable value
            log.exception("internal error: the reply to %s cannot be encoded", method[:200])
            data = codec.encode_reply(codec.failure(
                ["INTERNAL_ERROR", "the reply to %s cannot be encoded" % method[:200]]))
        self._send(200, data, "text/xml")

    def do_GET(self):
        if self.path == "/xen-api.dtd":
            return self._send(200, xmlrepr.dtd_text().encode("utf-8"), "application/xml-dtd")
        if self.path == "/metrics":
            if not self._may_scrape():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="xend"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self._send(200, prometheus.render(self.server.app).encode("utf-8"),
                              "text/plain; version=0.0.4")
        self._send(404, b"not found\n", "text/plain")

    def _may_scrape(self):
        """The Unix socket (root only by its mode), or HTTP Basic credentials of a user
        (throttled like logins)."""
        if self.server.kind == "unix":
            return True
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.server.app.sessions.check_credentials(user, password, self.peer())

    def _send(self, status, body, ctype, close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def peer(self):
        return self.server.peer_of(self)

    def log_request(self, code="-", size="-"):
        """No access line: dispatch logs one line per API call already."""

    def log_message(self, fmt, *args):
        log.debug("%s: " + fmt, self.server.kind, *args)

    def address_string(self):
        return self.server.kind


class Admission:
    """Which connections one listener takes: an allow-list of networks and two caps.

    ``enter`` is called in the accepting thread before any byte is read, ``leave``
    when the connection's thread ends. Unix peers (client None) are counted
    against the listener's cap only.
    """

    def __init__(self, allow, max_total, max_per_client):
        self.networks = None if allow is None else \
            [ipaddress.ip_network(n, strict=False) for n in allow]
        self.max_total = max_total
        self.max_per_client = max_per_client
        self._total = 0
        self._per_client = {}
        self._lock = threading.Lock()

    def allows(self, client):
        """True if ``client`` (an address string, None for a Unix peer) may connect."""
        if self.networks is None or client is None:
            return True
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        # An IPv4 client of a dual-stack IPv6 socket shows as ::ffff:a.b.c.d.
        address = getattr(address, "ipv4_mapped", None) or address
        return any(address in n for n in self.networks)

    def enter(self, client):
        """None if the connection is admitted (and counted), else why not."""
        if not self.allows(client):
            return "not in the allow-list"
        with self._lock:
            if self._total >= self.max_total:
                return "too many connections (%d)" % self.max_total
            if client is not None and self._per_client.get(client, 0) >= self.max_per_client:
                return "too many connections from one client (%d)" % self.max_per_client
            self._total += 1
            if client is not None:
                self._per_client[client] = self._per_client.get(client, 0) + 1
        return None

    def leave(self, client):
        with self._lock:
            self._total -= 1
            if client is not None:
                left = self._per_client.pop(client) - 1
                if left:
                    self._per_client[client] = left

    @property
    def open(self):
        return self._total


class _Guarded:
    """Admission control and quiet error handling for a threaded listener (a mix-in
    placed before socketserver's classes). Subclasses set ``allow_key`` (the config
    key of their allow-list, None for none) and ``client_of``."""

    # Daemon threads: stopping or reloading does not wait for open connections, which
    # an idle keep-alive client would hold for keepalive_timeout seconds.
    daemon_threads = True
    request_queue_size = 128   # the default 5 drops connections under a short burst
    allow_key = None

    def setup_admission(self, app):
        config = app.config
        self.app = app
        self.admission = Admission(config[self.allow_key] if self.allow_key else None,
                                   config["max_connections"],
                                   config["max_connections_per_client"])
        self._log_gate = LogGate()

    def client_of(self, client_address):
        """The address connections are counted and allowed by; None for none."""
        return None

    def verify_request(self, request, client_address):
        client = self.client_of(client_address)
        reason = self.admission.enter(client)
        if reason is None:
            return True
        if self.kind != "tls" and reason.startswith("too many"):
            try:   # never blocks the accepting thread: a full send buffer just drops it
                request.send(_BUSY, socket.MSG_DONTWAIT)
            except OSError:
                pass
        held = self._log_gate.allow(reason)
        if held is not None:
            log.warning("%s: refused a connection from %s: %s%s", self.kind, client or "a local "
                        "process", reason, " (and %d more since the last such line)" % held
                        if held else "")
        return False   # socketserver closes it

    def process_request(self, request, client_address):
        try:
            super().process_request(request, client_address)
        except BaseException:   # no thread to leave for us: leave here
            self.admission.leave(self.client_of(client_address))
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.admission.leave(self.client_of(client_address))

    def handle_error(self, request, client_address):
        """socketserver prints tracebacks to stderr; log instead, and a traceback only
        for what is not the network's doing (a bug)."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):   # resets, broken pipes, TLS alerts, timeouts
            log.debug("%s: connection from %s ended: %s", self.kind,
                      self.client_of(client_address) or "a local process", error)
        else:
            log.error("%s: internal error serving a connection", self.kind, exc_info=True)


class UnixListener(_Guarded, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """HTTP over a Unix domain socket (mode 0600 in a 0700 directory)."""

    kind = "unix"

    def __init__(self, app, path):
        self.setup_admission(app)
        self.path = path
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o700, exist_ok=True)
        _remove_stale_socket(path)
        old = os.umask(0o177)
        try:
            super().__init__(path, RequestHandler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    def peer_of(self, handler):
        creds = handler.connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                              struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        return Peer("unix", uid=uid, address="pid %d" % pid)

    def server_close(self):
        super().server_close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def describe(self):
        return "unix:%s" % self.path


class TCPListener(_Guarded, socketserver.ThreadingMixIn, http.server.HTTPServer):
    """HTTP over TCP, for the networks in ``allow`` (loopback by default)."""

    kind = "tcp"
    allow_key = "allow"

    def __init__(self, app, host, port):
        self.setup_admission(app)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), RequestHandler)

    def client_of(self, client_address):
        return client_address[0]

    def peer_of(self, handler):
        return Peer(self.kind, address=handler.client_address[0])

    def describe(self):
        host, port = self.server_address[:2]
        return "http://%s:%d/" % (host, port)


class TLSListener(TCPListener):
    """HTTPS: HTTP over TLS 1.2+ on TCP, for the networks in ``tls_allow`` (all by
    default). Admission is decided before the handshake, which then runs in the
    connection's own thread under the request timeout (a total, not per read), so
    a silent or trickling client cannot stall accept()."""

    kind = "tls"
    allow_key = "tls_allow"

    def __init__(self, app, host, port, context):
        self.context = context
        super().__init__(app, host, port)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        request.settimeout(self.app.config["request_timeout"])
        try:
            request.do_handshake()
        except (OSError, ValueError) as e:
            log.debug("TLS handshake with %s failed: %s", client_address[0], e)
            return
        super().finish_request(request, client_address)

    def describe(self):
        host, port = self.server_address[:2]
        return "https://%s:%d/" % (host, port)


def _remove_stale_socket(path):
    """Remove a socket left by a killed daemon; refuse if a live one answers on it."""
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
            raise
        os.unlink(path)
        return
    finally:
        probe.close()
    raise RuntimeError("another daemon is answering on %s" % path)


def parse_listen(value):
    """"ADDR:PORT" or "[v6]:PORT" -> (host, port); "none" -> None."""
    if value in ("", "none"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("listen address must be ADDR:PORT or none, not %r" % value)
    return host.strip("[]") or "127.0.0.1", int(port)


def listeners_from_config(app):
    """Create (bind) every listener the configuration asks for."""
    out = []
    if app.config["socket"] not in ("", "none"):
        out.append(UnixListener(app, app.config["socket"]))
    tcp = parse_listen(app.config["listen"])
    if tcp:
        out.append(TCPListener(app, *tcp))
    tls_addr = parse_listen(app.config["tls_listen"])
    if tls_addr:
        cert, key = app.config["tls_cert"], app.config["tls_key"]
        if not cert:
            cert, key = tls.ensure_self_signed(app.state_dir)
        out.append(TLSListener(app, *tls_addr, tls.server_context(cert, key)))
    return out


class Servers:
    """The running listeners, each served by its own thread."""

    def __init__(self, listeners):
        self.listeners = listeners
        self.threads = []
        for listener in listeners:
            t = threading.Thread(target=listener.serve_forever, name=listener.describe(),
                                 daemon=True)
            t.start()
            self.threads.append(t)
            log.info("listening on %s", listener.describe())

    def close(self):
        """Stop accepting and close every listening socket."""
        for listener in self.listeners:
            listener.shutdown()
            listener.server_close()
