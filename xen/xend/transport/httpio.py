"""HTTP/1.1 on one connection: requests read under deadlines and limits, replies sent.

The listeners (listeners.py) read every request with this and nothing else. It reads
what XML-RPC clients send, a request line, headers and a body of Content-Length
bytes, with keep-alive and pipelining, straight from the socket into one buffer:
no line-by-line reads, no header object model (Python's http.server spent more
time parsing a request's headers than xend spent answering the call).

What it refuses, with the status the caller sends before closing (``HttpError``):

  * a request line longer than MAX_REQUEST_LINE bytes: 414; a head (request line and
    headers) longer than MAX_HEAD bytes or with more than MAX_HEADERS headers: 431;
  * a malformed request line or header, a bare CR or LF, a NUL, an obsolete folded
    header line: 400; a version other than HTTP/1.0 and HTTP/1.1: 505; a method other
    than GET, POST, PUT (disk images) and CONNECT (the console proxy's): 501;
  * a body without one plain decimal Content-Length (chunked transfer coding is not
    supported: XML-RPC clients send a length), or a POST or PUT without one: 411; a
    body over the caller's limit: 413, judged on the header before any of the body is
    read. A PUT's body (a disk image, of any size) is left unread for its route, which
    reads it in bounded pieces (``body_pieces``) once it has checked the request;
  * an Expect other than 100-continue: 417.

Time is bounded as a whole, not per read (a client sending a byte a second would
never trip a per-read timeout): a request's head and body must arrive within
``request_timeout`` of its first byte, and the client must take a reply within
``request_timeout`` of its first byte being sent. Before a request begins, the
connection may stay idle for ``request_timeout`` if it is new and
``keepalive_timeout`` between requests; then ``next_request`` says the connection is
done, and nothing is sent.
"""

import email.utils
import re
import socket
import ssl
import struct
import time

MAX_REQUEST_LINE = 8192
MAX_HEAD = 32768
MAX_HEADERS = 100

_RECV = 65536           # bytes asked of the socket per read
_SEND = 262144          # bytes handed to the socket per write, each under the deadline
_PIECE = 1048576         # bytes of a streamed request body read at a time
_SMALL = 65536          # replies up to this size go out in one write, head and body together
_TIMEVAL = struct.Struct("@ll")
# Kernel timeouts are set a little short of a deadline, rounded down to this step, so
# that the next request's deadline (a little later) needs no new one (Connection._arm).
_ARM_STEP = 1.0

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rb"(%s) ([^\x00-\x20\x7f]+) ([^\x00-\x20\x7f]+)" % _TOKEN)
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_FIELDS = re.compile(rb"(?:%s:[^\x00\r\n]*\r\n)*" % _TOKEN)
_FIELD = re.compile(rb"(%s):([^\x00\r\n]*)\r\n" % _TOKEN)   # greedy: linear time
# A line break that is not CRLF: a CR followed by anything but LF, an LF without its CR.
_BARE_BREAK = re.compile(rb"\r[^\n]|(?<!\r)\n")

REASONS = {
    100: "Continue", 200: "OK", 204: "No Content", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}


class HttpError(Exception):
    """A request to refuse: the caller answers ``status`` and closes the connection."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Request:
    """One request: ``method``, ``target`` and ``version`` as str, ``headers`` as
    lowercased bytes names to lists of bytes values, ``body`` as bytes-like, and
    whether the connection stays open after the reply."""

    __slots__ = ("method", "target", "version", "headers", "body", "keep_alive")

    def __init__(self, method, target, version, headers, body, keep_alive):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive

    def header(self, name):
        """The first value of header ``name`` (lowercase) as str, or None."""
        values = self.headers.get(name.encode("ascii"))
        return values[0].decode("latin-1") if values else None


class _Clock:
    """The Date header's value, formatted at most once a second."""

    def __init__(self):
        self._second = None
        self._text = b""

    def date(self):
        now = int(time.time())
        if now != self._second:   # a race only formats the same second twice
            self._text = email.utils.formatdate(now, usegmt=True).encode("ascii")
            self._second = now
        return self._text


_CLOCK = _Clock()


class Connection:
    """Requests read from, and replies written to, one connected socket."""

    def __init__(self, sock, request_timeout, keepalive_timeout, max_body,
                 clock=time.monotonic):
        self.sock = sock
        self.clock = clock   # the time the deadlines are on (replaceable for tests)
        self.request_timeout = request_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_body = max_body
        self._buf = bytearray()
        self._idle = request_timeout   # a new connection must begin promptly
        # A plain socket stays blocking, each read and write bounded by the kernel
        # (SO_RCVTIMEO, SO_SNDTIMEO): one system call that releases the GIL, where a
        # Python socket timeout adds a poll() and an ioctl() that release it too, each
        # release a chance of a thread switch when many connections are busy. TLS keeps
        # Python's timeouts, which its reads and writes are built on.
        self._kernel_timeouts = not isinstance(sock, ssl.SSLSocket)
        self._armed = {}   # option -> the kernel timeout in force (s); none: unbounded
        if self._kernel_timeouts:
            sock.settimeout(None)

    def _arm(self, deadline, option):
        """Bound the next read (SO_RCVTIMEO) or write (SO_SNDTIMEO) by ``deadline``.

        The kernel's timeout is per call and relative. One in force that ends no later
        than the deadline is kept; otherwise a new one is set, rounded down to _ARM_STEP,
        so that the next request's deadline, a moment later, keeps it too: a keep-alive
        call then costs no setsockopt. A timeout that falls short of the deadline
        makes ``_bounded`` try again."""
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        if not self._kernel_timeouts:
            self.sock.settimeout(remaining)
        elif self._armed.get(option, remaining + 1) > remaining:
            if remaining > _ARM_STEP:
                remaining -= remaining % _ARM_STEP
            seconds = int(remaining)   # a zero timeval would mean no timeout: at least 1 us
            self.sock.setsockopt(socket.SOL_SOCKET, option, _TIMEVAL.pack(
                seconds, max(1, int((remaining - seconds) * 1e6))))
            self._armed[option] = remaining

    def _bounded(self, deadline, option, io, *args):
        """``io(*args)`` (a read or write of the socket) within ``deadline``;
        TimeoutError once it has passed."""
        while True:
            self._arm(deadline, option)
            try:
                return io(*args)
            except BlockingIOError:   # the kernel's timeout, perhaps short of the deadline
                pass

    # -- reading ---------------------------------------------------------------------

    def _fill(self, deadline):
        """Read more bytes into the buffer before ``deadline``; False once the peer
        has closed its side. TimeoutError when the deadline passes."""
        data = self._bounded(deadline, socket.SO_RCVTIMEO, self.sock.recv, _RECV)
        if not data:
            return False
        self._buf += data
        return True

    def next_request(self):
        """The next request; None when the connection is done (the client closed, or
        no request began in time). HttpError for a request to refuse, TimeoutError for
        one that did not arrive whole within request_timeout."""
        buf = self._buf
        if not buf:
            try:
                if not self._fill(self.clock() + self._idle):
                    return None
            except TimeoutError:
                return None
        self._idle = self.keepalive_timeout
        deadline = self.clock() + self.request_timeout
        skipped = 0
        searched = 0
        while True:
            if buf and buf[0] in b"\r\n":   # empty lines before a request (RFC 9112 §2.2)
                stripped = len(buf) - len(buf.lstrip(b"\r\n"))
                del buf[:stripped]
                skipped += stripped
                searched = 0
                if skipped > MAX_HEAD:
                    raise HttpError(400, "too many empty lines")
            end = buf.find(b"\r\n\r\n", searched)
            if end > MAX_HEAD or end < 0 and len(buf) > MAX_HEAD:
                line_end = buf.find(b"\r\n", 0, MAX_REQUEST_LINE + 2)
                raise HttpError(414 if line_end < 0 else 431, "request head too large")
            if end >= 0:
                break
            # A client whose lines end in a bare LF (or CR) would never send the CRLF CRLF
            # that ends a head; it is refused as soon as such a break arrives, not left
            # waiting for request_timeout. A whole head gets the same 400 from _parse_head.
            if _BARE_BREAK.search(buf, searched):
                raise HttpError(400, "a line break that is not CRLF")
            searched = max(0, len(buf) - 3)
            if not self._fill(deadline):
                if not buf:
                    return None
                raise HttpError(400, "the request ends within its head")
        head = bytes(buf[:end])
        del buf[:end + 4]
        method, target, version, headers = _parse_head(head)
        keep_alive = _keep_alive(version, headers.get(b"connection"))
        body = b""
        if method == "PUT":   # a disk image: its route reads it (body_pieces), if at all
            body = None
            _content_length(headers)
            _expectation(headers)
        elif method == "POST" or b"content-length" in headers or b"transfer-encoding" in headers:
            body = self._read_body(headers, deadline)
            if body is None:
                return None
        return Request(method, target, version.decode("ascii"), headers, body, keep_alive)

    def _read_body(self, headers, deadline):
        """The body of the request whose headers are ``headers``; None if the client
        closed before sending it whole."""
        length = _content_length(headers)
        if length > self.max_body:
            raise HttpError(413, "request body too large")
        buf = self._buf
        if len(buf) >= length:
            body = bytes(buf[:length])
            del buf[:length]
            return body
        self._continue(headers, deadline)
        body = bytearray(length)
        have = len(buf)
        body[:have] = buf
        buf.clear()
        view = memoryview(body)
        while have < length:
            got = self._bounded(deadline, socket.SO_RCVTIMEO, self.sock.recv_into, view[have:])
            if not got:
                return None
            have += got
        return body

    def _continue(self, headers, deadline):
        """Answer an ``Expect: 100-continue`` before the body is read."""
        if _expectation(headers):
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n", deadline)

    def body_length(self, request):
        """The Content-Length of a request whose body was left unread (PUT)."""
        return _content_length(request.headers)

    def body_pieces(self, request):
        """The body of a PUT ``request``, left unread by ``next_request``, as pieces of
        at most _PIECE bytes, each a view of one buffer valid until the next is taken
        (bounded memory whatever the body's size). A body is as long as it takes:
        each piece must arrive within request_timeout of the one before. The pieces
        stop early when the client closes, stalls or sends less."""
        remaining = _content_length(request.headers)
        try:
            self._continue(request.headers, self.clock() + self.request_timeout)
        except OSError:
            return
        buf = self._buf
        if buf:
            first = bytes(buf[:remaining])
            del buf[:remaining]
            remaining -= len(first)
            yield first
        piece = bytearray(_PIECE)
        view = memoryview(piece)
        # A plain socket fills the whole piece in one call (MSG_WAITALL: a tenth of the
        # system calls and loop turns of reading what has arrived); TLS takes no flags.
        flags = socket.MSG_WAITALL if self._kernel_timeouts else 0
        while remaining > 0:
            want = min(remaining, _PIECE)
            try:
                got = self._bounded(self.clock() + self.request_timeout, socket.SO_RCVTIMEO,
                                    self.sock.recv_into, view[:want], want, flags)
            except OSError:   # TimeoutError included: the client stalled
                return
            if not got:
                return
            remaining -= got
            yield view[:got]

    # -- writing ---------------------------------------------------------------------

    def _write(self, data, deadline):
        view = memoryview(data)
        while view:
            sent = self._bounded(deadline, socket.SO_SNDTIMEO, self.sock.send, view[:_SEND])
            view = view[sent:]

    def _head(self, status, content_type, length, close=False, extra=b""):
        """A reply's status line and headers; ``length`` None for a chunked body. No
        Server header: a client parses every header line, and a peer need not be told
        what answers. A 204 has no body and so no length (RFC 9110 §8.6)."""
        return b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n%s%s%s\r\n" \
            % (status, REASONS[status].encode("ascii"), _CLOCK.date(),
               content_type.encode("ascii"), b"" if status == 204
               else b"Transfer-Encoding: chunked\r\n" if length is None
               else b"Content-Length: %d\r\n" % length, extra,
               b"Connection: close\r\n" if close else b"")

    def send(self, status, body, content_type, close=False, extra=b""):
        """Send one whole reply; the client has request_timeout to take it.
        ``extra`` is further header lines, each ending in CRLF."""
        head = self._head(status, content_type, len(body), close, extra)
        deadline = self.clock() + self.request_timeout
        if len(body) <= _SMALL:
            self._write(head + body, deadline)
        else:   # a large body is not copied only to put the head before it
            self._write(head, deadline)
            self._write(body, deadline)

    def send_pieces(self, status, content_type, length, pieces, close=False, extra=b""):
        """Send a reply of ``length`` bytes made of ``pieces`` (an iterable of
        bytes-like) as they come, each within request_timeout, however long the
        whole takes. False if the pieces fell short of ``length`` (the connection must
        then close: the client waits for bytes that will not come)."""
        self._write(self._head(status, content_type, length, close, extra),
                    self.clock() + self.request_timeout)
        sent = 0
        for piece in pieces:
            self._write(piece, self.clock() + self.request_timeout)
            sent += len(piece)
        return sent == length

    def send_error(self, status, message):
        """Send an error reply in plain text; the caller then closes the connection."""
        self.send(status, (message + "\n").encode("utf-8"), "text/plain", close=True)

    def take_over(self, head):
        """Send ``head`` (a reply's status line and headers that hands the connection
        to another protocol) and return what the client sent beyond its request; the
        caller then owns the socket."""
        self._write(head, self.clock() + self.request_timeout)
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    def stream(self, request, status, content_type):
        """A ReplyStream answering ``request``."""
        return ReplyStream(self, request, status, content_type)


class ReplyStream:
    """A reply sent while its body is being made: the maker calls the stream with
    each piece of the body as it is ready, then ``finish`` with the last one.

    A body of one piece goes out whole with a Content-Length. A longer one goes
    to an HTTP/1.1 client in chunks (RFC 9112 §7.1), each as soon as it is made,
    so that the client reads the first while the server makes the last; an
    HTTP/1.0 client gets it whole. The client has request_timeout to take it all,
    counted from its first byte."""

    def __init__(self, conn, request, status, content_type):
        self._conn = conn
        self._chunked = request.version == "HTTP/1.1"
        self._close = not request.keep_alive
        self._status = status
        self._content_type = content_type
        self._held = []
        self._deadline = None
        self.started = False   # part of the reply is out: no other reply can replace it

    def _chunk(self, piece):
        if piece:   # an empty chunk would end the body
            self._conn._write(b"%x\r\n%s\r\n" % (len(piece), piece), self._deadline)

    def __call__(self, piece):
        """Take the next piece of the body."""
        if self.started:
            return self._chunk(piece)
        self._held.append(piece)
        if self._chunked and len(self._held) > 1:
            self._deadline = self._conn.clock() + self._conn.request_timeout
            self._conn._write(self._conn._head(self._status, self._content_type, None,
                                               self._close), self._deadline)
            self.started = True
            for held in self._held:
                self._chunk(held)
            self._held = None

    def finish(self, last):
        """Take the last piece of the body and end the reply."""
        if not self.started:
            self._held.append(last)
            return self._conn.send(self._status, b"".join(self._held), self._content_type,
                                   self._close)
        self._chunk(last)
        self._conn._write(b"0\r\n\r\n", self._deadline)


def _content_length(headers):
    """A body's one plain decimal Content-Length; 411 for none, chunked or several."""
    if b"transfer-encoding" in headers:
        raise HttpError(411, "Content-Length required")
    lengths = headers.get(b"content-length", ())
    text = lengths[0] if len(set(lengths)) == 1 else b""
    # bytes.isdigit: ASCII digits only, no sign, no "1_0"; compared as text first, so
    # that a number of thousands of digits is refused unconverted.
    if not text.isdigit():
        raise HttpError(411, "Content-Length required")
    if len(text) > 18:
        raise HttpError(413, "request body too large")
    return int(text)


def _expectation(headers):
    """Whether the client expects ``100 Continue``; 417 for any other expectation."""
    expect = headers.get(b"expect")
    if expect is not None and [e.lower() for e in expect] != [b"100-continue"]:
        raise HttpError(417, "only 100-continue is understood")
    return expect is not None


def _parse_head(head):
    """(method, target, version, headers) of a request head without its final CRLFs."""
    line_end = head.find(b"\r\n")
    line = head if line_end < 0 else head[:line_end]
    if len(line) > MAX_REQUEST_LINE:
        raise HttpError(414, "request line too long")
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise HttpError(400, "bad request line")
    method, target, version = match.groups()
    if version != b"HTTP/1.1" and version != b"HTTP/1.0":
        raise HttpError(505 if _VERSION.fullmatch(version) else 400, "HTTP/1.1 only")
    if method not in (b"POST", b"GET", b"CONNECT", b"PUT"):
        raise HttpError(501, "only GET, POST, PUT and CONNECT are served")
    fields = head[line_end + 2:] + b"\r\n" if line_end >= 0 else b""
    if fields.count(b"\r\n") > MAX_HEADERS:
        raise HttpError(431, "too many headers")
    # One pass checks every line (a bare CR or LF, a NUL, a folded line fail it), one
    # gathers the names and values.
    if not _FIELDS.fullmatch(fields):
        raise HttpError(400, "bad header line")
    headers = {}
    for name, value in _FIELD.findall(fields):
        name = name.lower()
        value = value.strip(b" \t")
        if name in headers:
            headers[name].append(value)
        else:
            headers[name] = [value]
    return method.decode("ascii"), target.decode("latin-1"), version, headers


def _keep_alive(version, connection):
    """Whether the connection stays open after this request's reply."""
    tokens = b",".join(connection).lower().replace(b" ", b"").split(b",") \
        if connection else ()
    if version == b"HTTP/1.1":
        return b"close" not in tokens
    return b"keep-alive" in tokens
