"""The console proxy on the daemon's listeners (transport/consoleproxy.py), on the sim
backend's echo guest: CONNECT /console over the Unix socket, TCP and TLS; its modes;
refusals with their statuses and no stream; a stalled client; the guest stopping."""

import socket

import pytest
from harness import (
    console_connect,
    console_query,
    console_websocket,
    daemon_socket,
    free_port,
    http_upgrade,
    new_vm,
    read_until,
    serving,
)
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from xapi_helpers import ROOT_PASSWORD

from xen.xend.backend.consolehub import TAKEOVER_NOTICE

BANNER = b"xend simulated guest %s\r\n"


@pytest.fixture(scope="module")
def tls_port():
    return free_port()


@pytest.fixture(scope="module")
def daemon(tls_port):
    """The module's sim daemon, with a TLS listener too."""
    with serving(extra_config='tls_listen = "127.0.0.1:%d"\n' % tls_port) as d:
        yield d


@pytest.fixture(scope="module")
def api(daemon):
    return daemon.api


@pytest.fixture(scope="module")
def session(daemon, api):
    """root's session over TCP (root's password set first)."""
    api.user.set_password(api.user.get_by_short_name("root")[0], ROOT_PASSWORD)
    return daemon.sdk_tcp("root", ROOT_PASSWORD)._session


@pytest.fixture
def running(api):
    """(VM, its console) of a running VM; halted again at the test's end."""
    vm = new_vm(api)
    api.VM.start(vm, False)
    yield vm, api.VM.get_consoles(vm)[0]
    if api.VM.get_power_state(vm) != "Halted":
        api.VM.hard_shutdown(vm)


def attached(daemon, session, con, mode=None, over="unix", tls_port=None):
    """(a console stream through CONNECT, asserting the 200; what it gave up to the end
    of its first line: the banner)."""
    status, sock = console_connect(daemon, console_query(con, session, mode), over, tls_port)
    assert status == 200
    return sock, read_until(sock, b"\r\n")


def refused(daemon, query):
    """(status, body) of a CONNECT that must be refused, the connection then closed."""
    status, sock = console_connect(daemon, query, "tcp")
    with sock:
        return status, read_until(sock, b"never")


@pytest.mark.parametrize("over", ["unix", "tcp", "tls"])
def test_the_banner_comes_first_then_a_typed_line_is_echoed(daemon, session, running,
                                                           tls_port, over):
    vm, con = running
    sock, first = attached(daemon, session, con, over=over, tls_port=tls_port)
    with sock:
        assert first == BANNER % vm.encode()
        sock.sendall(b"hello proxy\r")
        assert read_until(sock, b"hello proxy\r\n") == b"echo: hello proxy\r\n"


def test_refusals_have_their_status_and_no_stream(daemon, api, session, running):
    vm, con = running
    bad_session = "OpaqueRef:%s" % con   # a well-formed ref of no session
    cases = [(console_query(con, ""), 401, b"SESSION_INVALID"),
             (console_query(con, bad_session), 401, b"SESSION_INVALID"),
             (console_query(vm, session), 404, b"HANDLE_INVALID console"),
             (console_query(con, session, "type"), 400, b"mode must be write, read or dump")]
    for query, status, why in cases:
        got, body = refused(daemon, query)
        assert (got, body.split(b"\n")[0][:len(why)]) == (status, why), query
        assert b"xend simulated guest" not in body


def test_a_stopped_vm_is_refused(daemon, api, session, running):
    vm, con = running
    api.VM.hard_shutdown(vm)
    assert refused(daemon, console_query(con, session)) == \
        (404, b"HANDLE_INVALID console %s\n" % con.encode())


def test_a_reader_cannot_type(daemon, session, running):
    vm, con = running
    reader, _ = attached(daemon, session, con, "read")
    writer, _ = attached(daemon, session, con)
    with reader, writer:
        reader.sendall(b"from the reader\r")
        writer.sendall(b"from the writer\r")
        seen = read_until(reader, b"echo: from the writer\r\n")
        assert seen.endswith(b"echo: from the writer\r\n")
        assert b"from the reader" not in seen + read_until(writer, b"writer\r\n")


def test_a_second_writer_takes_over_and_the_first_is_told(daemon, session, running):
    vm, con = running
    first, _ = attached(daemon, session, con)
    with first:
        second, _ = attached(daemon, session, con, over="tcp")
        with second:
            assert read_until(first, TAKEOVER_NOTICE).endswith(TAKEOVER_NOTICE)
            first.sendall(b"old writer\r")
            second.sendall(b"new writer\r")
            seen = read_until(first, b"echo: new writer\r\n")
            assert seen.endswith(b"echo: new writer\r\n") and b"old writer" not in seen


def test_dump_gives_the_history_then_ends(daemon, session, running):
    vm, con = running
    writer, _ = attached(daemon, session, con)
    with writer:
        writer.sendall(b"before the dump\r")
        read_until(writer, b"echo: before the dump\r\n")
        status, dump = console_connect(daemon, console_query(con, session, "dump"))
        with dump:
            assert status == 200
            assert read_until(dump, b"never") == \
                BANNER % vm.encode() + b"echo: before the dump\r\n"
            assert dump.recv(1) == b""   # ended, while the writer's stream goes on
        writer.sendall(b"after\r")
        assert read_until(writer, b"echo: after\r\n") == b"echo: after\r\n"


def test_a_client_that_never_reads_does_not_stop_another(daemon, session, running):
    vm, con = running
    stalled, _ = attached(daemon, session, con, "read", over="tcp")
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer, _ = attached(daemon, session, con)
    line = b"x" * 4000 + b"\r"
    with stalled, writer:
        # Far more output than the stalled client's buffers, the proxy's and the hub's
        # 1 MiB: the writer still gets each echo.
        for i in range(1000):
            writer.sendall(b"%d " % i + line)
            read_until(writer, b"%d x" % i)
        writer.sendall(b"last\r")
        assert read_until(writer, b"echo: last\r\n").endswith(b"echo: last\r\n")


def test_the_stream_ends_when_the_guest_stops(daemon, api, session, running):
    vm, con = running
    sock, _ = attached(daemon, session, con, over="tcp")
    with sock:
        api.VM.hard_shutdown(vm)
        read_until(sock, b"never")   # returns at EOF; times out if the stream goes on
        assert sock.recv(1) == b""


# -- the WebSocket: GET /console/ws -------------------------------------------------------

@pytest.mark.parametrize("over", ["unix", "tls"])
def test_a_websocket_carries_the_banner_and_the_echo_in_binary_frames(daemon, session, running,
                                                                    tls_port, over):
    vm, con = running
    status, head, client = console_websocket(daemon, console_query(con, session), over,
                                             tls_port, b"Sec-WebSocket-Protocol: binary\r\n")
    assert status == 101
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head.split("\r\n")
    assert "Sec-WebSocket-Protocol: binary" in head.split("\r\n")
    with client.sock:
        assert client.read_until(b"\r\n") == BANNER % vm.encode()
        client.send(BytesMessage(data=b"over a web"))
        client.send(TextMessage(data="socket\r"))   # text frames are typed as their bytes
        assert client.read_until(b"socket\r\n") == b"echo: over a websocket\r\n"
        client.send(Ping(payload=b"still there?"))
        client.send(BytesMessage(data=b"after the ping\r"))
        client.read_until(b"after the ping\r\n")
        assert client.events == [Pong(payload=b"still there?")]


def test_a_websocket_close_is_answered_and_the_stream_ends(daemon, session, running):
    vm, con = running
    status, _, client = console_websocket(daemon, console_query(con, session))
    with client.sock:
        client.read_until(b"\r\n")
        client.send(CloseConnection(code=1000))
        client.read_until(b"never")
        assert client.closed.code == 1000 and client.sock.recv(1) == b""


def test_a_websocket_ends_with_a_close_frame_when_the_guest_stops(daemon, api, session,
                                                                 running):
    vm, con = running
    status, head, client = console_websocket(daemon, console_query(con, session))
    assert "Sec-WebSocket-Protocol: binary" not in head   # not offered: not chosen
    with client.sock:
        client.read_until(b"\r\n")
        api.VM.hard_shutdown(vm)
        client.read_until(b"never")
        assert client.closed.code == 1000 and client.sock.recv(1) == b""


def test_websocket_refusals(daemon, session, running):
    vm, con = running
    status, _, body = console_websocket(daemon, console_query(con, "nobody"))
    assert (status, body.split(b" ")[0]) == (401, b"SESSION_INVALID")
    with daemon_socket(daemon) as sock:
        status, _ = http_upgrade(sock, b"GET /console/ws?%s HTTP/1.1\r\nHost: xend\r\n\r\n"
                                 % console_query(con, session).encode())
        assert (status, read_until(sock, b"never")) == \
            (400, b"a WebSocket upgrade is required (Upgrade: websocket)\n")


def test_the_session_in_a_websockets_url_never_reaches_the_log(daemon, session, running):
    """A browser's WebSocket can carry the session only in its URL: neither an accepted
    stream, nor a refusal of another session, a mode or a missing upgrade, logs it or
    echoes it (at log level debug)."""
    vm, con = running
    stale = session[:-8] + "00000000"   # shaped like a session, not one
    status, _, client = console_websocket(daemon, console_query(con, session, "read"))
    with client.sock:
        assert status == 101
        client.read_until(b"\r\n")
    answers = [console_websocket(daemon, console_query(con, stale)),
               console_websocket(daemon, console_query(con, session, "type"))]
    assert [(status, body.split(b" ")[0]) for status, _, body in answers] == \
        [(401, b"SESSION_INVALID"), (400, b"mode")]
    with daemon_socket(daemon) as sock:
        status, _ = http_upgrade(sock, b"GET /console/ws?%s HTTP/1.1\r\nHost: xend\r\n\r\n"
                                 % console_query(con, session).encode())
        assert status == 400
    text = daemon.log_text()
    for ref in (session, stale):
        assert ref not in text
        assert all(ref.encode() not in head.encode() + body for _, head, body in answers)
