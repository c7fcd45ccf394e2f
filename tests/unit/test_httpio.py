"""The listeners' HTTP/1.1 reader and writer (xen/xend/transport/httpio.py), on socket pairs:
keep-alive and pipelining, the limits and the status each breach gets, the deadlines,
and replies whole, streamed in chunks, or whole again for HTTP/1.0."""

import http.client
import io
import socket
import threading
import time

import pytest

from xen.xend.transport import httpio, routes

BODY = b"<methodCall><methodName>x</methodName></methodCall>"


def post(body=BODY, path=b"/", version=b"HTTP/1.1", headers=b""):
    return (b"POST %s %s\r\nHost: x\r\nContent-Type: text/xml\r\n%sContent-Length: %d\r\n\r\n"
            % (path, version, headers, len(body)) + body)


@pytest.fixture
def pair():
    """(server Connection, client socket), with short timeouts and a 1000-byte body limit."""
    server, client = socket.socketpair()
    conn = httpio.Connection(server, request_timeout=0.5, keepalive_timeout=1.0,
                             max_body=1000)
    yield conn, client
    server.close()
    client.close()


def request_of(data, max_body=1000):
    """The request (or the HttpError) ``data`` makes, sent whole and half-closed."""
    server, client = socket.socketpair()
    with server, client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        conn = httpio.Connection(server, 2.0, 2.0, max_body)
        return conn.next_request()


def status_for(data, **kw):
    with pytest.raises(httpio.HttpError) as e:
        request_of(data, **kw)
    return e.value.status


def read_reply(sock):
    """One HTTP response from ``sock``, parsed by http.client as a client would."""
    response = http.client.HTTPResponse(FakeSocket(sock))
    response.begin()
    return response, response.read()


class FakeSocket:
    def __init__(self, sock):
        self._sock = sock

    def makefile(self, mode):
        return self._sock.makefile(mode)


# -- requests --------------------------------------------------------------------------------


def test_a_post_with_its_headers_and_body():
    r = request_of(post(headers=b"X-Twice: a\r\nx-twice:  b \r\n"))
    assert (r.method, r.target, r.version, bytes(r.body)) == ("POST", "/", "HTTP/1.1", BODY)
    assert r.headers[b"x-twice"] == [b"a", b"b"]
    assert r.header("content-type") == "text/xml" and r.header("nothing") is None
    assert r.keep_alive


def test_keep_alive_and_pipelined_requests_are_read_in_turn(pair):
    conn, client = pair
    client.sendall(post(b"one") + post(b"two", path=b"/RPC2"))   # pipelined in one write
    first, second = conn.next_request(), conn.next_request()
    assert (bytes(first.body), bytes(second.body), second.target) == (b"one", b"two", "/RPC2")
    client.sendall(post(b"three"))   # later, on the same connection
    assert bytes(conn.next_request().body) == b"three"


def test_requests_split_anywhere_are_joined(pair):
    conn, client = pair
    data = post(b"x" * 900)

    def send():
        for i in range(0, len(data), 7):
            client.sendall(data[i:i + 7])
    threading.Thread(target=send).start()
    assert bytes(conn.next_request().body) == b"x" * 900


@pytest.mark.parametrize("version,connection,keep", [
    (b"HTTP/1.1", b"", True), (b"HTTP/1.1", b"Connection: close\r\n", False),
    (b"HTTP/1.1", b"Connection: Upgrade, Close\r\n", False),
    (b"HTTP/1.0", b"", False), (b"HTTP/1.0", b"Connection: keep-alive\r\n", True),
])
def test_keep_alive_follows_version_and_connection_header(version, connection, keep):
    assert request_of(post(version=version, headers=connection)).keep_alive is keep


def test_empty_lines_before_a_request_are_ignored():
    assert request_of(b"\r\n\r\n" + post()).method == "POST"


def test_a_get_needs_no_body():
    r = request_of(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.method, r.target, r.body) == ("GET", "/metrics", b"")


def test_a_client_that_closes_at_once_or_after_empty_lines_ends_the_connection():
    assert request_of(b"") is None
    assert request_of(b"\r\n" * 100) is None


def test_a_client_that_closes_within_the_body_ends_the_connection():
    assert request_of(post()[:-5]) is None


def test_expect_100_continue_is_answered_before_the_body(pair):
    conn, client = pair
    head = post(headers=b"Expect: 100-continue\r\n")[:-len(BODY)]
    client.sendall(head)
    got = []
    reader = threading.Thread(target=lambda: got.append(conn.next_request()))
    reader.start()
    assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.sendall(BODY)
    reader.join(5)
    assert bytes(got[0].body) == BODY


# -- what is refused -------------------------------------------------------------------------


@pytest.mark.parametrize("data,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"POST  / HTTP/1.1\r\n\r\n", 400),
    (b"POST /\x00 HTTP/1.1\r\n\r\n", 400),
    (b"P\x00ST / HTTP/1.1\r\n\r\n", 400),
    (b"POST / HTTP/1.x\r\n\r\n", 400),
    (b"POST / HTTP/2.0\r\n\r\n", 505),
    (b"POST / HTTP/9.9\r\n\r\n", 505),
    (b"DELETE / HTTP/1.1\r\n\r\n", 501),
    (b"HEAD / HTTP/1.1\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nbad header line\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\n: empty\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nX : y\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x", 400),                         # closes within the head
    (b"POST " + b"/" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"POST " + b"/" * 40000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"POST / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nX: " + b"a" * 40000 + b"\r\n\r\n", 431),
    (b"\r\n" * 20000 + b"POST / HTTP/1.1\r\n\r\n", 400),
])
def test_malformed_or_oversized_heads(data, status):
    assert status_for(data) == status


@pytest.mark.parametrize("data", [
    b"POST / HTTP/1.1\nHost: x\nContent-Length: 0\n\n",      # LF-only lines
    b"POST / HTTP/1.1\r\nHost: x\nContent-Length: 0\r\n",    # one bare LF among CRLFs
    b"POST / HTTP/1.1\rHost: x\rContent-Length: 0\r\r",      # CR-only lines
])
def test_a_line_break_that_is_not_crlf_is_refused_at_once(pair, data):
    """Such a head never ends in CRLF CRLF: it is 400 as soon as the break arrives, with
    the connection still open, not a wait for request_timeout."""
    conn, client = pair
    client.sendall(data)
    with pytest.raises(httpio.HttpError) as e:
        conn.next_request()
    assert e.value.status == 400


def test_limits_are_inclusive():
    line = b"POST /" + b"a" * (httpio.MAX_REQUEST_LINE - 15) + b" HTTP/1.1"
    assert len(line) == httpio.MAX_REQUEST_LINE
    assert request_of(line + b"\r\nContent-Length: 0\r\n\r\n").method == "POST"
    headers = b"X-A: b\r\n" * (httpio.MAX_HEADERS - 3)   # post() adds three
    assert request_of(post(headers=headers)).method == "POST"


@pytest.mark.parametrize("headers", [
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"Content-Length: +5\r\n\r\nhello",
    b"Content-Length: -1\r\n\r\n",
    b"Content-Length: 1_0\r\n\r\n0123456789",
    b"Content-Length: \xd9\xa3\r\n\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"\r\n",
])
def test_a_post_needs_one_plain_length(headers):
    assert status_for(b"POST / HTTP/1.1\r\nHost: x\r\n" + headers) == 411


def test_repeated_equal_lengths_are_one_length():
    data = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    assert request_of(data).body == b"hello"


@pytest.mark.parametrize("length", [b"1001", b"99999999999", b"9" * 5000])
def test_a_body_over_the_limit_is_refused_on_its_length(length):
    data = b"POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n" % length   # no body sent
    assert status_for(data) == 413


def test_a_body_at_the_limit_is_read():
    assert len(request_of(post(b"x" * 1000)).body) == 1000


def test_other_expectations_are_refused():
    assert status_for(post(headers=b"Expect: something\r\n")[:-len(BODY)]) == 417


# -- time: on a clock that moves a fixed step at each reading ----------------------------------


class TickingClock:
    """A clock that moves ``step`` seconds each time it is read; it keeps its readings."""

    def __init__(self, step):
        self.step = step
        self.readings = []

    def __call__(self):
        now = len(self.readings) * self.step
        self.readings.append(now)
        return now


@pytest.fixture
def ticking():
    """(server Connection on a TickingClock of 0.45 s steps, the clock, client socket),
    with the timeouts of ``pair``."""
    server, client = socket.socketpair()
    clock = TickingClock(0.45)
    yield httpio.Connection(server, 0.5, 1.0, 1000, clock=clock), clock, client
    server.close()
    client.close()


def idle_wait(conn, clock):
    """next_request on a connection nothing more arrives on, which must end it: how long
    it waited, by the clock, (before its last reading, at its last reading)."""
    first = len(clock.readings)
    assert conn.next_request() is None
    start, *_, before_last, last = clock.readings[first:]
    return before_last - start, last - start


def test_a_silent_new_connection_ends_after_request_timeout(ticking):
    conn, clock, _ = ticking
    before_last, last = idle_wait(conn, clock)
    assert before_last < 0.5 <= last


def test_an_idle_keep_alive_connection_ends_after_keepalive_timeout(ticking):
    conn, clock, client = ticking
    client.sendall(post())
    assert conn.next_request().body == BODY
    before_last, last = idle_wait(conn, clock)
    assert before_last < 1.0 <= last


@pytest.mark.parametrize("stage", ["head", "body"])
def test_a_trickled_request_times_out_as_a_whole(ticking, stage):
    """Each byte comes within the timeout (a reading of the clock each); the request as a
    whole does not."""
    conn, _, client = ticking
    data = post(b"x" * 200)
    cut = 10 if stage == "head" else data.index(b"\r\n\r\n") + 4

    def trickle():
        client.sendall(data[:cut])
        for i in range(cut, len(data)):
            time.sleep(0.05)
            try:
                client.sendall(data[i:i + 1])
            except OSError:
                return
    threading.Thread(target=trickle, daemon=True).start()
    with pytest.raises(TimeoutError):
        conn.next_request()


def test_a_client_that_does_not_read_its_reply_times_out():
    server, client = socket.socketpair()
    with server, client:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        conn = httpio.Connection(server, 0.5, 1.0, 1000, clock=TickingClock(0.45))
        with pytest.raises(TimeoutError):
            conn.send(200, b"x" * 10_000_000, "text/plain")


# -- replies ---------------------------------------------------------------------------------


def test_a_reply_has_its_length_and_date(pair):
    conn, client = pair
    conn.send(200, b"hello", "text/xml")
    response, body = read_reply(client)
    assert (response.status, body) == (200, b"hello")
    assert response.getheader("Content-Type") == "text/xml"
    assert response.getheader("Date").endswith(" GMT")
    assert response.getheader("Connection") is None


def test_an_error_reply_closes(pair):
    conn, client = pair
    conn.send_error(431, "too many headers")
    response, body = read_reply(client)
    assert (response.status, body) == (431, b"too many headers\n")
    assert response.getheader("Connection") == "close"


def streamed(pieces, version="HTTP/1.1"):
    """The raw bytes a ReplyStream sends for a body made of ``pieces``."""
    server, client = socket.socketpair()
    with server, client:
        conn = httpio.Connection(server, 2.0, 2.0, 1000)
        request = httpio.Request("POST", "/", version, {}, b"", version == "HTTP/1.1")
        stream = conn.stream(request, 200, "text/xml")
        for piece in pieces[:-1]:
            stream(piece)
        stream.finish(pieces[-1])
        server.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk


def parse(raw):
    response = http.client.HTTPResponse(FakeSocket(FakeFile(raw)))
    response.begin()
    return response, response.read()


class FakeFile:
    def __init__(self, data):
        self._data = data

    def makefile(self, mode):
        return io.BytesIO(self._data)


def test_a_reply_of_one_piece_goes_whole():
    response, body = parse(streamed([b"all of it"]))
    assert body == b"all of it" and response.getheader("Content-Length") == "9"


def test_a_reply_of_several_pieces_goes_in_chunks():
    pieces = [b"a" * 1000, b"", b"b" * 3, b"c"]   # an empty piece must not end the body
    raw = streamed(pieces)
    response, body = parse(raw)
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert body == b"".join(pieces)
    assert raw.endswith(b"\r\n0\r\n\r\n")


def test_a_reply_of_several_pieces_goes_whole_to_http_1_0():
    response, body = parse(streamed([b"a", b"b", b"c"], version="HTTP/1.0"))
    assert body == b"abc" and response.getheader("Content-Length") == "3"


def test_a_stream_is_started_once_its_second_piece_is_sent():
    server, client = socket.socketpair()
    with server, client:
        conn = httpio.Connection(server, 2.0, 2.0, 1000)
        stream = conn.stream(httpio.Request("POST", "/", "HTTP/1.1", {}, b"", True), 200,
                             "text/xml")
        stream(b"first")
        assert not stream.started
        stream(b"second")
        assert stream.started


class CountingSocket(socket.socket):
    """A socket that counts its setsockopt calls."""

    def setsockopt(self, *args):
        self.setsockopt_calls = getattr(self, "setsockopt_calls", 0) + 1
        return super().setsockopt(*args)


def test_keep_alive_requests_need_no_new_kernel_timeouts():
    """Once a connection's read and write timeouts are set, further requests and replies
    within the same bounds cost no setsockopt: a call is one recv and one send."""
    a, client = socket.socketpair()
    server = CountingSocket(fileno=a.detach())
    with server, client:
        conn = httpio.Connection(server, request_timeout=30.0, keepalive_timeout=300.0,
                                 max_body=1000)
        counts = []
        for _ in range(5):
            client.sendall(post())
            assert conn.next_request().body == BODY
            conn.send(200, b"ok", "text/plain")
            read_reply(client)
            counts.append(getattr(server, "setsockopt_calls", 0))
        assert counts[-1] == counts[1] <= 3, counts


def test_a_kernel_timeout_short_of_the_deadline_does_not_end_the_request():
    """The kernel's timeout is set rounded down (1 s for a 1.9 s deadline): a body that
    arrives after it, but before the deadline, is read."""
    server, client = socket.socketpair()
    with server, client:
        conn = httpio.Connection(server, request_timeout=1.9, keepalive_timeout=1.9,
                                 max_body=1000)
        whole = post()
        client.sendall(whole[:-5])
        later = threading.Timer(1.4, client.sendall, (whole[-5:],))
        later.start()
        try:
            assert conn.next_request().body == BODY
        finally:
            later.join()


def test_every_status_a_route_answers_an_api_error_with_has_its_reason():
    assert set(routes._ERROR_STATUS.values()) | {400} <= set(httpio.REASONS)
