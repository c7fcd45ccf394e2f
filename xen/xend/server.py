"""Listeners (spec §1.4.1): HTTP/1.1 over a Unix socket, TCP and TLS; XML-RPC at / and /RPC2.

Each listener is a threaded HTTP server; a listener is one entry in the list
``listeners_from_config`` returns, so HTTPS is one more entry. The HTTP layer
knows requests and peers; it hands the body to the codec and the decoded call
to dispatch, and never looks inside either.
"""

import base64
import errno
import http.server
import logging
import os
import socket
import socketserver
import struct
import threading

from . import prometheus, tls
from .api import codec, xmlrepr
from .api.sessions import Peer

log = logging.getLogger("xend.server")

RPC_PATHS = ("/", "/RPC2")


class RequestHandler(http.server.BaseHTTPRequestHandler):
    """One HTTP connection; keep-alive, one XML-RPC call per POST."""

    protocol_version = "HTTP/1.1"
    server_version = "xend"
    sys_version = ""

    # Buffer each reply (headers and body) and send it in one write at the end of the
    # request; TCP_NODELAY then sends it at once instead of waiting for a delayed ACK.
    wbufsize = -1

    def setup(self):
        self.timeout = self.server.app.config["keepalive_timeout"]
        self.disable_nagle_algorithm = self.server.kind != "unix"   # no TCP on AF_UNIX
        super().setup()

    def do_POST(self):
        if self.path.split("?")[0] not in RPC_PATHS:
            return self._send(404, b"not found\n", "text/plain", close=True)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._send(411, b"Content-Length required\n", "text/plain", close=True)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send(411, b"Content-Length required\n", "text/plain", close=True)
        limit = self.server.app.config["max_request_bytes"]
        if length < 0 or length > limit:
            return self._send(413, b"request body too large\n", "text/plain", close=True)
        self.connection.settimeout(self.server.app.config["request_timeout"])
        body = self.rfile.read(length)
        self.connection.settimeout(self.timeout)
        if len(body) != length:
            self.close_connection = True
            return
        try:
            method, params = codec.decode_call(body)
        except codec.WireError as e:
            return self._send(200, codec.encode_fault(-32700, str(e)), "text/xml")
        reply = self.server.app.dispatcher.dispatch(method, params, self.peer())
        self._send(200, codec.encode_reply(reply), "text/xml")

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
        """The Unix socket (root only by its mode), or HTTP Basic credentials of a user."""
        if self.server.kind == "unix":
            return True
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.server.app.sessions.check_credentials(user, password)

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

    def log_message(self, fmt, *args):
        log.debug("%s: " + fmt, self.server.kind, *args)

    def address_string(self):
        return self.server.kind


class UnixListener(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """HTTP over a Unix domain socket (mode 0600 in a 0700 directory)."""

    daemon_threads = True
    kind = "unix"

    def __init__(self, app, path):
        self.app = app
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


class TCPListener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """HTTP over TCP."""

    daemon_threads = True
    kind = "tcp"

    def __init__(self, app, host, port):
        self.app = app
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), RequestHandler)

    def peer_of(self, handler):
        return Peer(self.kind, address=handler.client_address[0])

    def describe(self):
        host, port = self.server_address[:2]
        return "http://%s:%d/" % (host, port)


class TLSListener(TCPListener):
    """HTTPS: HTTP over TLS 1.2+ on TCP. The handshake runs in the connection's own
    thread, under the request timeout, so a silent client cannot stall accept()."""

    kind = "tls"

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
