"""Listeners (spec §1.4.1): HTTP/1.1 over a Unix socket, TCP and TLS; XML-RPC at / and /RPC2.

What each request is answered with is one table, routes.py's ``ROUTES``: (method,
path) to the function that answers it (XML-RPC, the DTD, /metrics, a VM's logs, the
console proxy). Which connections are let in is admission.py's ``Admission``.

Each listener is a threaded server (a thread per connection) whose requests are
read by httpio, xend's own HTTP/1.1 reader; a listener is one entry in the list
``listeners_from_config`` returns, so HTTPS is one more entry. The HTTP layer
knows requests and peers; it hands the body to the codec and the decoded call
to dispatch, and never looks inside either.

Every byte from the network is treated as hostile (docs/security.md):

  * a connection is admitted before any of its bytes are read: the peer's
    address must be in the listener's allow-list (``allow`` for TCP,
    ``tls_allow`` for TLS; the Unix socket is guarded by its file mode), and the
    listener must have fewer than ``max_connections`` open, fewer than
    ``max_unauthenticated_connections`` not yet authenticated, fewer than
    ``max_connections_per_client`` from that client (Admission says which
    connection is closed to make room when one is full). Refusals are closed at
    once (a plain-HTTP listener that is full first says 503) and logged, at
    most one line a minute per listener and reason;
  * time is bounded, not only per read: a new connection must send its first
    byte within ``first_byte_timeout`` seconds (unless authenticated at once)
    and start a request within ``request_timeout``, an idle keep-alive one within
    ``keepalive_timeout``; from a request's first byte its request line,
    headers and body must all arrive within ``request_timeout``, and so must
    the client take the whole reply. A client that trickles bytes (slow loris)
    holds a thread for that long and no longer;
  * a body is at most ``max_request_bytes`` (413 and close), needs a
    Content-Length (411), and whatever it holds is answered with an XML-RPC
    reply, a fault, or an HTTP error; the request line and headers have limits
    of their own (httpio); an unexpected error is logged with its traceback and
    never sent to the client. A PUT's body (a disk image) is the exception to
    the size limit: its route reads it in bounded pieces once the request is
    checked, each within ``request_timeout``, and never holds it whole.
"""

import base64
import errno
import functools
import logging
import os
import select
import socket
import socketserver
import stat
import struct
import sys
import threading

from ..api.limits import LogGate
from ..api.sessions import Peer
from ..util.addresses import parse_listen
from ..util.files import unlink_if_exists
from . import httpio, tls
from .admission import Admission
from .routes import ROUTES

log = logging.getLogger("xend.server")

# What a full plain-HTTP listener says before it closes a connection.
_BUSY_BODY = b"too many connections; retry later\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
         b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s"
         % (len(_BUSY_BODY), _BUSY_BODY))


class ConnectionHandler(socketserver.BaseRequestHandler):
    """One connection: its requests in turn (keep-alive), one XML-RPC call per POST."""

    def handle(self):
        server = self.server
        config = server.app.config
        if server.kind != "unix":   # no TCP on AF_UNIX
            # Replies are written whole (or in large chunks): TCP_NODELAY sends a
            # reply's last segment at once instead of after the client's delayed ACK.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        conn = httpio.Connection(self.request, config["request_timeout"],
                                 config["keepalive_timeout"], config["max_request_bytes"])
        peer = server.peer_of(self.request, self.client_address)   # fixed for the connection
        while True:
            try:
                request = conn.next_request()
            except httpio.HttpError as e:
                conn.send_error(e.status, e.message)
                return
            except TimeoutError:
                conn.send_error(408, "the request did not arrive in time")
                return
            if request is None or not server.answering(self.request):
                return
            try:
                more = self._answer(conn, request, peer)
            finally:
                server.answered(self.request, peer)
            if not more or not request.keep_alive:
                return

    def _answer(self, conn, request, peer):
        """Answer one request by its route; False if the connection cannot carry
        another."""
        path, _, query = request.target.partition("?")
        route = ROUTES.get((request.method, path))
        if route is None:
            conn.send(404, b"not found\n", "text/plain", not request.keep_alive)
            return True
        return route(self, conn, request, peer, query)

    def _may_scrape(self, request, peer):
        """The Unix socket (root only by its mode), or HTTP Basic credentials of a user
        (throttled like logins)."""
        if self.server.kind == "unix":
            return True
        auth = request.header("authorization") or ""
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.server.app.sessions.check_credentials(user, password, peer)


# -- the routes: each answers one request, (handler, conn, request, peer, query) with
# the ConnectionHandler and the target's query string, and returns False if the
# connection cannot carry another request.

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
                                   config["max_connections_per_client"],
                                   config["max_unauthenticated_connections"],
                                   config["loopback_is_one_client"])
        self._log_gate = LogGate()

    def client_of(self, client_address):
        """The address connections are counted and allowed by; None for none."""
        return None

    def authenticated_at_once(self, sock):
        """Whether a connection is authenticated before it sends a byte."""
        return False

    def verify_request(self, request, client_address):
        client = self.client_of(client_address)
        admitted, reason = self.admission.enter(request, client,
                                                self.authenticated_at_once(request))
        if admitted and reason is None:
            return True
        if not admitted and self.kind != "tls" and reason.startswith("too many"):
            try:   # never blocks the accepting thread: a full send buffer just drops it
                request.send(_BUSY, socket.MSG_DONTWAIT)
            except OSError:
                pass
        held = self._log_gate.allow("closed for room: " + reason if admitted else reason)
        if held is not None:
            log.warning("%s: %s a connection from %s: %s%s", self.kind,
                        "closed an idle unauthenticated connection to admit" if admitted
                        else "refused", client or "a local process", reason,
                        " (and %d more since the last such line)" % held if held else "")
        return admitted   # socketserver closes a refused one

    def process_request(self, request, client_address):
        try:
            super().process_request(request, client_address)
        except BaseException:   # no thread to leave for us: leave here
            self.admission.leave(request)
            raise

    def process_request_thread(self, request, client_address):
        """Serve the connection in its own thread. One not yet authenticated must send a
        byte (for TLS, of its handshake) within first_byte_timeout, or is closed: it
        would otherwise hold its slot for request_timeout while sending nothing."""
        try:
            if self.admission.authenticated(request) or \
                    _readable(request, self.app.config["first_byte_timeout"]):
                super().process_request_thread(request, client_address)   # closes it
            else:
                self.shutdown_request(request)
        finally:
            self.admission.leave(request)

    def answering(self, sock):
        """Called before the connection ``sock`` answers a request: False if it was
        closed to make room for another, and must not answer."""
        return self.admission.answering(sock)

    def answered(self, sock, peer):
        """Called once the connection ``sock`` has answered a request from ``peer``."""
        self.admission.answered(sock, peer.authenticated)

    def end_connections(self):
        """Let every open connection end after the request it is answering: reading is
        shut, so an idle keep-alive connection sees EOF at once, and a busy one once its
        reply is written. A closed or reloaded listener then admits nobody through a
        connection it accepted under the old rules (clients reconnect, and keep their
        sessions)."""
        for sock in self.admission.sockets():
            try:   # beneath TLS: the reply in flight must still be written
                socket.socket.shutdown(sock, socket.SHUT_RD)
            except OSError:
                pass

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
        socket_directory(os.path.dirname(path))
        _remove_stale_socket(path)
        old = os.umask(0o177)
        try:
            super().__init__(path, ConnectionHandler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    def authenticated_at_once(self, sock):
        """Root's connections are: the kernel vouches for the peer's uid."""
        return _peer_credentials(sock)[1] == 0

    def peer_of(self, sock, client_address):
        """Who is connected: the peer's uid and pid, from the kernel."""
        pid, uid = _peer_credentials(sock)
        return Peer("unix", uid=uid, address="pid %d" % pid, authenticated=uid == 0,
                    hung_up=functools.partial(_hung_up, sock))

    def server_close(self):
        super().server_close()
        unlink_if_exists(self.path)

    def describe(self):
        return "unix:%s" % self.path


class TCPListener(_Guarded, socketserver.ThreadingMixIn, socketserver.TCPServer):
    """HTTP over TCP, for the networks in ``allow`` (loopback by default)."""

    kind = "tcp"
    allow_key = "allow"
    allow_reuse_address = True   # a restart binds again at once, past TIME_WAIT

    def __init__(self, app, host, port):
        self.setup_admission(app)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), ConnectionHandler)

    def client_of(self, client_address):
        return client_address[0]

    def peer_of(self, sock, client_address):
        """Who is connected: the peer's address."""
        return Peer(self.kind, address=client_address[0],
                    hung_up=functools.partial(_hung_up, sock))

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


def socket_directory(parent):
    """Make the Unix socket's directory 0700 when it is the daemon's own: one it creates
    now, or one named for it (the default /var/run/xend, left 0755 by an older package or
    an administrator's mkdir). Any other directory (a shared one such as /tmp) is left
    alone with a warning if others may enter it: the socket's own 0600 still guards it."""
    created = not os.path.lexists(parent)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    st = os.lstat(parent)
    if not st.st_mode & 0o077:
        return
    own = (created or "xend" in os.path.basename(parent.rstrip("/"))) and \
        stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
    if own:
        os.chmod(parent, 0o700)
        log.info("socket directory %s was mode %04o: made it 0700", parent,
                 stat.S_IMODE(st.st_mode))
    else:
        log.warning("socket directory %s is mode %04o and not xend's own: left as it is; "
                    "the socket itself is 0600", parent, stat.S_IMODE(st.st_mode))


def _peer_credentials(sock):
    """(pid, uid) of the process at the other end of the Unix socket ``sock``."""
    pid, uid, _gid = struct.unpack("3i", sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid, uid


def _readable(sock, timeout):
    """Whether ``sock`` has a byte to read (or its client's EOF) within ``timeout``
    seconds; asked of the raw socket, beneath any TLS layer."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _hung_up(sock):
    """Whether the client closed its end: EOF is all the kernel holds for us. Bytes of
    a next request (or, on TLS, of a record) mean it is still there. Peeks at the raw
    socket, beneath any TLS layer, and never blocks: on a socket with a timeout (a TLS
    connection's, set for its handshake) Python's recv first waits for a byte for that
    long whatever its flags say, so only a socket with something to read is peeked."""
    if not _readable(sock, 0):
        return False
    try:
        return socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _remove_stale_socket(path):
    """Remove a socket left by a killed daemon; refuse if a live one answers on it, and
    never remove anything that is not a socket (a mistyped ``socket`` setting must not
    delete the file it names)."""
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise RuntimeError("%s exists and is not a socket: not replacing it" % path)
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise
        os.unlink(path)
        return
    finally:
        probe.close()
    raise RuntimeError("another daemon is answering on %s" % path)


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
        """Stop accepting, close every listening socket, and end the open connections
        once their replies are written (see end_connections)."""
        # Each serve_forever sees its shutdown request at its next poll (every 0.5 s):
        # asked all at once, a stop waits for one poll, not for one per listener.
        stoppers = [threading.Thread(target=listener.shutdown) for listener in self.listeners]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for listener in self.listeners:
            listener.server_close()
            listener.end_connections()
