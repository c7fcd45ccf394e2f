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

from harness import wait_until

LOGIN = "session.login_with_password"
# How long a refused connection may take to be answered and closed. A refusal is
# immediate, but a machine loaded by a nested Xen host has been seen to take over 5 s
# to run the accepting thread; an admitted connection would stay open for the whole
# request_timeout (30 s), so 20 s still tells the two apart.
REFUSAL_LIMIT = 20


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
    """One login over TCP from ``source``: its reply struct."""
    return getattr(proxy(daemon, source), LOGIN)(user, password)


def connect(port, source="127.0.0.1", host="127.0.0.1"):
    """A TCP connection to ``port`` from ``source``."""
    return socket.create_connection((host, port), timeout=10, source_address=(source, 0))


def read_until_closed(sock, limit=30.0):
    """Everything the server sends until it closes the connection. Raises AssertionError
    if it is still open after ``limit`` seconds (a bound against hangs)."""
    sock.settimeout(0.2)
    data = bytearray()

    def closed():
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True
        data.extend(chunk)
        return not chunk
    wait_until(closed, limit, "the server to close the connection", interval=0)
    return bytes(data)


def exchange(port, payload, limit=30.0, source="127.0.0.1"):
    """Send ``payload`` on a fresh connection, half-close, and return what comes back
    before the server closes."""
    with connect(port, source) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass   # the server may close early (413, 411): what it said still counts
        return read_until_closed(s, limit)


def post(body, path=b"/", extra_headers=b"", content_type=b"text/xml"):
    """Raw bytes of an HTTP/1.1 POST of ``body``."""
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type
            + b"\r\n" + extra_headers + b"Content-Length: %d\r\n\r\n" % len(body) + body)


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
    ctx = ssl._create_unverified_context()

    def serves_tls():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw):
                return True
        except OSError:
            return False
    wait_until(serves_tls, limit, "TLS on port %d" % port)


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


def still_open(sock):
    """Whether the server has neither closed ``sock`` nor sent anything on it (asked
    without waiting)."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def trickle(sock, data, gap, sent=None):
    """Send ``data`` a byte at a time, ``gap`` seconds apart, until the server closes;
    each byte sent is appended to ``sent`` (if given)."""
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return
        if sent is not None:
            sent.append(data[i:i + 1])
        time.sleep(gap)


def attackers(port, sources):
    """Idle connections, one from each of ``sources``, that send nothing."""
    return [connect(port, source) for source in sources]
