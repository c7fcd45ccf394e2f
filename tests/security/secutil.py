"""Helpers of the security tests: clients that speak raw bytes, from chosen loopback
addresses, or TLS.

Every address used is on the loopback range (127.0.0.0/8): a client picks its
source address by binding to, say, 127.0.0.2 before it connects, which is how
these tests play several remote hosts on one machine.
"""

import http.client
import os
import socket
import ssl
import time
import xmlrpc.client

LOGIN = "session.login_with_password"


def set_password(daemon, user, password):
    """Create ``user`` if needed (as root over the Unix socket) and set its password."""
    s = daemon.sdk_unix()
    try:
        refs = s.xenapi.user.get_by_short_name(user)
        ref = refs[0] if refs else s.xenapi.user.create({"short_name": user, "fullname": user})
        s.xenapi.user.set_password(ref, password)
        return ref
    finally:
        s.xenapi.session.logout()


class SourceTransport(xmlrpc.client.Transport):
    """xmlrpc.client over TCP from a chosen local address (127.0.0.x)."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        chost, self._extra_headers, _ = self.get_host_info(host)
        self._connection = host, http.client.HTTPConnection(
            chost, source_address=(self.source, 0), timeout=30)
        return self._connection[1]


def proxy(daemon, source="127.0.0.1"):
    """A plain xmlrpc.client proxy of ``daemon``'s TCP listener, from ``source``."""
    return xmlrpc.client.ServerProxy(daemon.url, transport=SourceTransport(source))


def login(daemon, user, password, source="127.0.0.1"):
    """One login over TCP from ``source``: (reply struct, seconds it took)."""
    started = time.monotonic()
    reply = getattr(proxy(daemon, source), LOGIN)(user, password)
    return reply, time.monotonic() - started


def connect(port, source="127.0.0.1", host="127.0.0.1"):
    """A TCP connection to ``port`` from ``source``."""
    return socket.create_connection((host, port), timeout=10, source_address=(source, 0))


def read_until_closed(sock, limit=30.0):
    """Everything the server sends until it closes the connection: (bytes, seconds).
    Raises AssertionError if it is still open after ``limit`` seconds."""
    started = time.monotonic()
    sock.settimeout(0.2)
    data = b""
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    else:
        raise AssertionError("connection still open after %.0f s" % limit)
    return data, time.monotonic() - started


def exchange(port, payload, limit=30.0, source="127.0.0.1"):
    """Send ``payload`` on a fresh connection, half-close, and return what comes back
    before the server closes."""
    with connect(port, source) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass   # the server may close early (413, 411): what it said still counts
        return read_until_closed(s, limit)[0]


def post(body, path=b"/", extra_headers=b""):
    """Raw bytes of an HTTP/1.1 POST of ``body``."""
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            + extra_headers + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def status_of(response):
    """The status code of a raw HTTP response (None if there is none)."""
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


def body_of(response):
    return response.partition(b"\r\n\r\n")[2]


def wait_for_tls(daemon, port, limit=20.0):
    """Wait until ``daemon`` serves TLS on ``port``: the TCP listener answers first,
    and the certificate may still be in the making."""
    deadline = time.monotonic() + limit
    ctx = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("no TLS on port %d" % port)


def tls_context_for(daemon):
    """A client context that verifies the daemon's generated certificate."""
    ctx = ssl.create_default_context(cafile=os.path.join(daemon.state_dir, "xend-cert.pem"))
    return ctx


# Log lines that introduce a traceback on purpose: the catch-alls that answer an
# unexpected exception with INTERNAL_ERROR (dispatch for calls, the task runner for
# Async calls, the listener for a reply that cannot be encoded) log the bug whole.
DELIBERATE = ("xend.dispatch: internal error in ", "xend.tasks: task ",
              "xend.server: internal error: the reply to ")


def tracebacks(log_text):
    """The log records carrying a traceback, each as the line that introduced it."""
    lines = log_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            j = i - 1
            while j >= 0 and not lines[j][:4].isdigit():
                j -= 1
            out.append(lines[j] if j >= 0 else "")
    return out


def unexpected_tracebacks(log_text):
    """Tracebacks from anywhere but the deliberate internal-error paths."""
    return [t for t in tracebacks(log_text) if not any(d in t for d in DELIBERATE)]
