"""The stream of a Xen guest's migration between two hosts: a relay at each end.

``xl migrate`` talks to ``xl migrate-receive`` on the other host through a command
of its choice (``-s "" DOMID COMMAND``; normally ssh), whose stdin and stdout carry
the stream. Instead of ssh, each end runs this module as a program:

* ``receive ADDRESS [--cert C --key K --ca A] -- COMMAND...`` (the target's backend
  starts it): reads a one-time token from its stdin, listens on ADDRESS at a port of
  its choosing, prints ``port N`` on its stdout, accepts the first connection that
  presents the token (others are closed), then runs COMMAND (``xl migrate-receive``)
  and relays between it and the connection; it exits with COMMAND's status (or
  NO_SENDER when no sender came within ACCEPT_TIMEOUT).
* ``send HOST PORT [--cert ...] [--max-bandwidth BYTES]`` (``xl migrate`` on the
  source runs it, the token in XEND_MIGRATION_TOKEN): connects, presents the token
  and relays between its stdin/stdout (xl's stream) and the connection, at most
  BYTES a second towards the target.

With ``--cert``, ``--key`` and ``--ca`` the connection is TLS, each end checking the
other's certificate against the CA (the sender checks the name HOST too).

Run it by its path (``python .../migrelay.py``): it needs nothing but the standard
library, and ``-m`` would import the whole backend package first.

The sender is also where the migration is committed or abandoned, race-free: the
target's xl answers "domain received, ready to unpause" (READY) when it holds the
whole guest, and the source's xl, reading that, gives the guest away. The sender
holds READY back, says ``xend-migrelay: ready`` on stderr (xl's stderr, which the
source's backend reads) and waits for a signal: SIGUSR2 passes READY on, SIGUSR1 (or
SIGUSR1 at any earlier time) ends the relay without passing it, so that xl fails
and resumes the guest at the source. Before that it reports ``xend-migrelay: pid N``
once and ``xend-migrelay: sent N`` (bytes) as the guest's memory goes.
"""

import argparse
import hmac
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import time

TOKEN_ENV = "XEND_MIGRATION_TOKEN"
# xl's message (tools/xl/xl.h) that the target holds the whole guest, sent with its NUL.
READY = b"domain received, ready to unpause\0"
ACCEPT_TIMEOUT = 120.0
CHUNK = 1 << 16
REPORT_INTERVAL = 0.25      # seconds between two "sent" lines
PREFIX = "xend-migrelay: "

# Exit statuses of the relay itself (xl's own are 0 and 1).
NO_SENDER, REFUSED, CANCELLED = 3, 4, 5


def say(what):
    """One line on stderr, where the source's backend (through xl) reads it."""
    sys.stderr.write(PREFIX + what + "\n")
    sys.stderr.flush()


def tls_context(side, cert, key, ca):
    """A TLS context for ``side`` ("server" or "client") that presents ``cert`` and
    requires the peer's to be signed by ``ca``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if side == "server"
                         else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Relay:
    """Copies ``fd_in`` to ``sock`` and ``sock`` to ``fd_out`` until either side ends.

    (xl's protocol needs no half-closed connection: when one side ends, the
    migration has ended or failed.) ``limit``: the most bytes a second towards
    ``sock``; ``hold``: bytes that, met in what comes from ``sock``, are held back
    until ``release()`` (``hold_back()`` is called when they arrive)."""

    def __init__(self, sock, fd_in, fd_out, limit=None, hold=None, on_sent=None):
        self.sock, self.fd_in, self.fd_out = sock, fd_in, fd_out
        self.limit, self.hold, self.on_sent = limit, hold, on_sent
        self.sent = 0
        self.began = time.monotonic()
        self.held = None            # bytes kept back, while the decision is pending
        self.released = False
        self._tail = b""            # the end of the last chunk: READY may straddle two

    def _readable(self, timeout):
        if self.held is None and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return [self.sock]
        wanted = [self.sock] if self.held is None else []
        if self.limit is None or self.sent < self.limit * (time.monotonic() - self.began):
            wanted.append(self.fd_in)
        return select.select(wanted, [], [], timeout)[0]

    def step(self, timeout=0.1):
        """Move what is ready; False once either side has ended."""
        for source in self._readable(timeout):
            if source is self.fd_in:
                data = os.read(self.fd_in, CHUNK)
                if not data:
                    return False
                self.sock.sendall(data)
                self.sent += len(data)
                if self.on_sent:
                    self.on_sent(self.sent)
            else:
                data = self.sock.recv(CHUNK)
                if not data:
                    return False
                if self.hold and not self.released and self.hold in self._tail + data:
                    self.held = data
                    return True
                self._tail = data[-len(self.hold or b""):]
                _write_all(self.fd_out, data)
        return True

    def release(self):
        """Pass on what was held back, and everything after it."""
        self.released = True
        if self.held is not None:
            _write_all(self.fd_out, self.held)
            self.held = None


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


# -- the source's end -----------------------------------------------------------------

class _Signals:
    """SIGUSR1 (abandon) and SIGUSR2 (commit), seen by the relay's loop."""

    def __init__(self):
        self.abandon = self.commit = False
        signal.signal(signal.SIGUSR1, self._on)
        signal.signal(signal.SIGUSR2, self._on)

    def _on(self, signum, frame):
        if signum == signal.SIGUSR1:
            self.abandon = True
        else:
            self.commit = True


def send(args):
    """The sender (module docstring); its exit status."""
    signals = _Signals()
    say("pid %d" % os.getpid())
    token = os.environ.get(TOKEN_ENV, "")
    sock = socket.create_connection((args.host, args.port), timeout=30)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if args.cert:
        sock = tls_context("client", args.cert, args.key, args.ca).wrap_socket(
            sock, server_hostname=args.host)
    sock.sendall(token.encode() + b"\n")
    last = [0.0]

    def report(sent):
        now = time.monotonic()
        if now - last[0] >= REPORT_INTERVAL:
            last[0] = now
            say("sent %d" % sent)
    relay = Relay(sock, 0, 1, limit=args.max_bandwidth, hold=READY, on_sent=report)
    asked = False
    while True:
        if signals.abandon and not relay.released:
            say("abandoned")
            return CANCELLED
        if relay.held is not None and not relay.released:
            if signals.commit:
                relay.release()
                say("committed")
            elif not asked:
                asked = True
                say("sent %d" % relay.sent)
                say("ready")
        if not relay.step():
            return 0


# -- the target's end -----------------------------------------------------------------

def _accept(listener, token, ctx):
    """The first connection that presents ``token`` (TLS-wrapped with ``ctx``), None
    after ACCEPT_TIMEOUT."""
    deadline = time.monotonic() + ACCEPT_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        listener.settimeout(left)
        try:
            conn, peer = listener.accept()
        except socket.timeout:
            return None
        try:
            conn.settimeout(10)
            if ctx is not None:
                conn = ctx.wrap_socket(conn, server_side=True)
            line = b""
            while not line.endswith(b"\n") and len(line) < 256:
                data = conn.recv(1)
                if not data:
                    break
                line += data
            if hmac.compare_digest(line.strip(), token.encode()):
                conn.settimeout(None)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return conn
            say("refused a connection from %s: wrong token" % (peer[0],))
        except (OSError, ssl.SSLError) as e:
            say("refused a connection from %s: %s" % (peer[0], e))
        conn.close()


def receive(args):
    """The receiver (module docstring); its exit status."""
    token = sys.stdin.readline().strip()
    family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, 0))
    listener.listen(4)
    sys.stdout.write("port %d\n" % listener.getsockname()[1])
    sys.stdout.flush()
    ctx = tls_context("server", args.cert, args.key, args.ca) if args.cert else None
    conn = _accept(listener, token, ctx)
    listener.close()
    if conn is None:
        say("no sender came in %d s" % ACCEPT_TIMEOUT)
        return NO_SENDER
    child = subprocess.Popen(args.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    relay = Relay(conn, child.stdout.fileno(), child.stdin.fileno())
    try:
        while relay.step():
            pass
    except (OSError, ssl.SSLError) as e:
        say("the stream broke: %s" % e)
    conn.close()
    child.stdin.close()
    return child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="migrelay")
    roles = parser.add_subparsers(dest="role", required=True)
    for name in ("send", "receive"):
        p = roles.add_parser(name)
        if name == "send":
            p.add_argument("host")
            p.add_argument("port", type=int)
            p.add_argument("--max-bandwidth", type=int, default=None)
        else:
            p.add_argument("address")
            p.add_argument("command", nargs="+")
        for opt in ("--cert", "--key", "--ca"):
            p.add_argument(opt)
    args = parser.parse_args(argv)
    if args.cert and not (args.key and args.ca):
        parser.error("--cert needs --key and --ca")
    try:
        return (send if args.role == "send" else receive)(args)
    except (OSError, ssl.SSLError, OverflowError) as e:
        say("failed: %s" % e)
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
