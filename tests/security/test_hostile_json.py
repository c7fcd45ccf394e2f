"""Hostile JSON-RPC bodies (POST /jsonrpc), as test_hostile_input.py and
test_listeners.py send hostile XML-RPC: whatever is posted, the answer is the documented
JSON-RPC error, an API failure, an HTTP error or a closed connection; never a traceback,
and the daemon serves on. (Every bad value in every field over JSON-RPC:
test_hostile_input.py's ``rpc`` fixture.)"""

import http.client
import json
import threading

import pytest
import secutil
from harness import STATE_WAIT, serving, wait_until
from jsonapi import Proxy, connection, exchange, request
from secutil import (
    REFUSAL_LIMIT,
    body_of,
    connect,
    post,
    read_until_closed,
    set_password,
    status_of,
    still_open,
    trickle,
    unexpected_tracebacks,
)

from xen.xend.api import codec, jsonrpc

LIMIT = 4096
PASSWORD = "hostile-json pw"


@pytest.fixture(scope="module")
def daemon():
    """A daemon with a small body limit and one-second request timeouts."""
    with serving(login=False, extra_config="max_request_bytes = %d\nrequest_timeout = 1.0\n"
                 "keepalive_timeout = 2.0\n" % LIMIT) as d:
        yield d


@pytest.fixture(scope="module")
def session(daemon):
    reply = Proxy(daemon, over="unix")("session.login_with_password", ("root", ""))
    return reply["Value"]


def raw(body, content_type=b"application/json"):
    """An HTTP/1.1 POST /jsonrpc of ``body``, as raw bytes."""
    return post(body, b"/jsonrpc", content_type=content_type)


def answer(daemon, body):
    """The JSON reply object to ``body`` posted on a connection of its own."""
    conn = connection(daemon)
    try:
        status, ctype, reply = exchange(conn, body)
    finally:
        conn.close()
    assert (status, ctype) == (200, jsonrpc.CONTENT_TYPE), (status, reply[:200])
    return json.loads(reply)


def deep(n):
    return b'{"jsonrpc":"2.0","method":"VM.get_all","id":1,"params":%s%s}' % (
        b"[" * n, b"]" * n)


@pytest.mark.parametrize("body, code", [
    (b"", jsonrpc.PARSE_ERROR),
    (b"   ", jsonrpc.PARSE_ERROR),
    (b"{", jsonrpc.PARSE_ERROR),
    (b"\xc3\x28", jsonrpc.PARSE_ERROR),                                   # not UTF-8
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":["\xed\xa0\x80"],"id":1}',
     jsonrpc.PARSE_ERROR),                                                # a surrogate
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":["\\udfff"],"id":1}',
     jsonrpc.PARSE_ERROR),                                                # lone, escaped
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":[%s],"id":1}' % (b"7" * 1000),
     jsonrpc.PARSE_ERROR),                                                # huge integer
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":[NaN],"id":1}', jsonrpc.PARSE_ERROR),
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":[Infinity],"id":1}',
     jsonrpc.PARSE_ERROR),
    (b'{"jsonrpc":"2.0","method":"VM.get_all","method":"VM.destroy","params":[],"id":1}',
     jsonrpc.PARSE_ERROR),                                                # duplicate key
    (b'[{"jsonrpc":"2.0","method":"VM.get_all","params":[],"id":1}]',
     jsonrpc.INVALID_REQUEST),                                            # a batch
    (b"[]", jsonrpc.INVALID_REQUEST),
    (b"null", jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":7,"params":[],"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":["VM.get_all"],"params":[],"id":1}', jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":{"session":"x"},"id":1}',
     jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","method":"VM.get_all","params":[],"id":{"a":1}}',
     jsonrpc.INVALID_REQUEST),
    (b'{"jsonrpc":2,"method":"VM.get_all","params":[],"id":1}', jsonrpc.INVALID_REQUEST),
    (deep(codec.MAX_DEPTH + 1), jsonrpc.INVALID_REQUEST),
    (deep(LIMIT // 2 - 40), jsonrpc.INVALID_REQUEST),   # as deep as the body limit allows
])
def test_a_body_that_is_no_request_gets_its_json_rpc_error(daemon, body, code):
    reply = answer(daemon, body)
    assert set(reply) == {"jsonrpc", "error", "id"} and reply["error"]["code"] == code, reply
    assert reply["id"] in (None, 1)


def call_with(method, params):
    """A 2.0 request of ``method`` whose params are the JSON text ``params``."""
    return b'{"jsonrpc":"2.0","method":"%s","params":[%s],"id":1}' % (method.encode(), params)


@pytest.mark.parametrize("session", [
    b"[]", b'{"ref":1}', b"null", b"12345678901234567890123456789",
    b"1e400",   # a double beyond the largest: infinity
    b"true", b"-0.0"])
def test_wrong_types_for_the_session_are_api_failures(daemon, session):
    reply = answer(daemon, call_with("VM.get_all", session))
    assert reply["error"]["code"] == jsonrpc.API_FAILURE
    assert reply["error"]["message"] in ("SESSION_INVALID", "FIELD_TYPE_ERROR"), reply


@pytest.mark.parametrize("value, code", [
    (b"12345678901234567890123456789", "INVALID_VALUE"),   # an Int beyond 64 bits
    (b"1e400", "FIELD_TYPE_ERROR"), (b'"1e3"', "FIELD_TYPE_ERROR"), (b"null", "FIELD_TYPE_ERROR"),
    (b'{"a":1}', "FIELD_TYPE_ERROR"), (b"[1]", "FIELD_TYPE_ERROR"), (b"false", "FIELD_TYPE_ERROR"),
    (b"1.5", None), (b'"4"', None), (b"4", None),
])
def test_wrong_values_for_an_int_are_structured(daemon, session, value, code):
    vm = Proxy(daemon)("VM.create", (session, {"name_label": "hostile-json"}))["Value"]
    params = b'"%s","%s",%s' % (session.encode(), vm.encode(), value)
    reply = answer(daemon, call_with("VM.set_VCPUs_max", params))
    if code is None:
        assert reply.get("error", {}).get("message") != "INTERNAL_ERROR", reply
    else:
        assert reply["error"]["code"] == 1 and reply["error"]["message"] == code, reply


def test_a_body_over_the_limit_is_413_before_it_is_sent(daemon):
    """Judged on Content-Length: 413 comes back while the client has sent only headers."""
    with connect(daemon.port) as s:
        s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (LIMIT + 1))
        assert status_of(read_until_closed(s, limit=REFUSAL_LIMIT)) == 413


def test_a_body_at_the_limit_is_read(daemon):
    body = request("session.login_with_password", ["nobody", "x"])
    body += b" " * (LIMIT - len(body))
    response = secutil.exchange(daemon.port, raw(body), limit=REFUSAL_LIMIT)
    assert status_of(response) == 200
    assert json.loads(body_of(response))["error"]["code"] == jsonrpc.API_FAILURE


def test_a_body_that_never_ends_is_cut_off_after_request_timeout(daemon):
    full = raw(request("session.login_with_password", ["root", ""]))
    head = full.index(b"\r\n\r\n") + 4
    sent = []
    with connect(daemon.port) as s:
        s.sendall(full[:head])
        threading.Thread(target=trickle, args=(s, full[head:], 0.2, sent), daemon=True).start()
        data = read_until_closed(s, limit=30)
    assert status_of(data) in (None, 408)
    assert len(sent) < len(full) - head, "the connection was held until the body was whole"


@pytest.mark.parametrize("content_type", [b"text/plain", b"text/xml",
                                          b"application/x-www-form-urlencoded",
                                          b"multipart/form-data; boundary=x", b"application/jsonx"])
def test_a_body_not_declared_json_is_415(daemon, content_type):
    with connect(daemon.port) as s:
        s.sendall(raw(request("VM.get_all", ["x"]), content_type))
        s.shutdown(1)
        assert status_of(read_until_closed(s, limit=REFUSAL_LIMIT)) == 415


def test_calls_without_a_session_leave_a_connection_unauthenticated(make_daemon):
    """Connections that made only JSON-RPC calls without a session count as
    unauthenticated, as XML-RPC's do: more of them only take each other's slots (the
    idle ones are closed to admit others), and a client that logs in still connects
    and calls."""
    d = make_daemon("max_connections = 6\nmax_unauthenticated_connections = 3\n")
    set_password(d, "root", PASSWORD)
    held = []

    def sessionless_call(source):
        """A connection from ``source`` whose call without a session was answered
        SESSION_INVALID, or None where it was refused: the slots of unauthenticated
        connections all still answering (the server clears that just after a reply
        reaches its client), none idle to close for it."""
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=REFUSAL_LIMIT,
                                          source_address=(source, 0))
        try:
            status, _, body = exchange(conn, request("VM.get_all", ["no-session"]))
        except (http.client.HTTPException, OSError):
            status = None
        if status != 200:
            conn.close()
            return None
        held.append(conn)
        assert json.loads(body)["error"]["message"] == "SESSION_INVALID"
        return conn

    try:
        for i in range(2, 10):
            wait_until(lambda: sessionless_call("127.0.0.%d" % i), STATE_WAIT,
                       "a connection admitted")
        client = Proxy(d)
        session = client("session.login_with_password", ("root", PASSWORD))["Value"]
        assert client("VM.get_all", (session,))["Status"] == "Success"
        assert sum(still_open(c.sock) for c in held) <= 3
    finally:
        for c in held:
            c.close()
    assert "closed an idle unauthenticated connection to admit" in d.log_text()


def test_the_daemon_is_unharmed(daemon, session):
    assert Proxy(daemon)("VM.get_all", (session,))["Status"] == "Success"
    assert not unexpected_tracebacks(daemon.log_text())


def test_a_cors_preflight_is_never_granted(daemon):
    """What a page of another origin must ask before it may post JSON: refused, with no
    Access-Control-Allow-* header (docs/security.md, CSRF)."""
    response = secutil.exchange(daemon.port, b"OPTIONS /jsonrpc HTTP/1.1\r\nHost: x\r\n"
                                b"Origin: http://elsewhere.example\r\n"
                                b"Access-Control-Request-Method: POST\r\n"
                                b"Access-Control-Request-Headers: content-type\r\n\r\n",
                                limit=REFUSAL_LIMIT)
    assert status_of(response) not in (200, 204)
    assert b"access-control-allow" not in response.lower()
