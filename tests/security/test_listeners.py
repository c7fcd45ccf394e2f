"""The edge: allow-lists, connection caps, the body limit, slow clients, and TLS."""

import hashlib
import http.client
import os
import socket
import ssl
import stat
import threading
import time
import warnings
import xmlrpc.client

import pytest
import XenAPI
from harness import Daemon, free_port, serving, wait_until
from secutil import (
    REFUSAL_LIMIT,
    attackers,
    body_of,
    connect,
    exchange,
    post,
    proxy,
    read_until_closed,
    set_password,
    status_of,
    still_open,
    tls_context_for,
    trickle,
    wait_for_tls,
)

from xen.xend.transport import tls

CALL = xmlrpc.client.dumps(("x", "y"), "session.login_with_password").encode()
PASSWORD = "listener-tests pw"


def answers(daemon, source="127.0.0.1"):
    """True if ``daemon``'s TCP listener answers an XML-RPC call from ``source``."""
    reply = getattr(proxy(daemon, source), "session.login_with_password")("nobody", "x")
    return reply["Status"] == "Failure"


def refused_at_once(port, source="127.0.0.1"):
    """True if a connection from ``source`` is closed by the server without a byte."""
    # An admitted connection would stay open for request_timeout (30 s): longer than the
    # limit, past which read_until_closed fails.
    with connect(port, source) as s:
        return read_until_closed(s, limit=REFUSAL_LIMIT) == b""


# -- allow-lists ---------------------------------------------------------------------------


def test_tcp_admits_only_loopback_by_default(make_daemon):
    d = make_daemon()
    assert answers(d, "127.0.0.1") and answers(d, "127.9.9.9")
    from xen.xend.daemon import config
    assert config.DEFAULTS["allow"] == ["127.0.0.0/8", "::1/128"]
    assert config.DEFAULTS["tls_allow"] == ["0.0.0.0/0", "::/0"]


def test_tcp_allow_list_refuses_others_at_once_and_logs(make_daemon):
    d = make_daemon('allow = ["127.0.0.2/32", "10.0.0.0/8"]\n')
    assert answers(d, "127.0.0.2")
    assert refused_at_once(d.port, "127.0.0.1")
    assert refused_at_once(d.port, "127.0.0.3")
    assert answers(d, "127.0.0.2"), "refusals must not harm the listener"
    log = d.log_text()
    assert "tcp: refused a connection from 127.0.0.1: not in the allow-list" in log


def test_refusal_log_lines_are_rate_limited(make_daemon):
    d = make_daemon('allow = ["127.0.0.2/32"]\n')
    for _ in range(30):
        assert refused_at_once(d.port, "127.0.0.1")
    assert d.log_text().count("not in the allow-list") == 1


def test_tls_allow_list(make_daemon):
    port = free_port()
    d = make_daemon('tls_listen = "127.0.0.1:%d"\ntls_allow = ["127.0.0.1", "127.0.0.5"]\n'
                    % port)
    wait_for_tls(d, port)
    ctx = tls_context_for(d)
    with connect(port, "127.0.0.5") as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") \
            as s:
        s.sendall(post(CALL))
        assert status_of(s.recv(65536)) == 200
    with connect(port, "127.0.0.6") as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert "tls: refused a connection from 127.0.0.6: not in the allow-list" in d.log_text()


# -- connection caps -------------------------------------------------------------------------


def answers_soon(d, host="127.0.0.1", timeout=30.0):
    """Wait until the daemon answers ``host``: a closed connection's thread notices the
    close on its next read, which a loaded machine may take a while to reach."""
    wait_until(lambda: answers_quietly(d, host), timeout,
               "the daemon to answer %s (a slot to be free)" % host, interval=0.2)


def admitted(port, source="127.0.0.1", timeout=30.0, session=None):
    """A keep-alive connection from ``source`` that the daemon has admitted (it answered
    a request on it), authenticated if ``session`` is given (the request was a call
    made with it). Retried while the daemon is full: a connection that was closed
    just before, such as the readiness probe of Daemon.start, counts until its thread
    has noticed the close."""
    return wait_until(lambda: admitted_once(port, source, session), timeout,
                      "a connection admitted from %s" % source, interval=0.2)


def admitted_once(port, source, session=None):
    """A connection from ``source`` on which the daemon answered a request (a call made
    with ``session``, if given); None if it did not."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                      source_address=(source, 0))
    try:
        if session is None:
            conn.request("GET", "/xen-api.dtd")
        else:
            conn.request("POST", "/", xmlrpc.client.dumps((session,), "host.get_all"),
                         {"Content-Type": "text/xml"})
        reply = conn.getresponse()
        body = reply.read()
        if reply.status == 200 and (session is None or b"Success" in body):
            return conn
    except (OSError, http.client.HTTPException):
        pass
    conn.close()
    return None


def test_connection_cap_says_503_then_closes(make_daemon):
    """Full of authenticated connections, which are never closed to make room."""
    d = make_daemon("max_connections = 3\n")
    session = d.sdk_unix()._session
    held = [admitted(d.port, session=session) for _ in range(3)]
    try:
        with connect(d.port) as extra:
            data = read_until_closed(extra, limit=REFUSAL_LIMIT)
        assert status_of(data) == 503
        held.pop().close()
        answers_soon(d)
    finally:
        for s in held:
            s.close()
    assert "tcp: refused a connection from 127.0.0.1: too many connections (3)" in d.log_text()


def test_per_client_cap_leaves_room_for_others(make_daemon):
    d = make_daemon("max_connections_per_client = 2\nloopback_is_one_client = false\n")
    session = d.sdk_unix()._session
    held = [admitted(d.port, "127.0.0.1", session=session) for _ in range(2)]
    try:
        with connect(d.port, "127.0.0.1") as extra:
            assert status_of(read_until_closed(extra, limit=REFUSAL_LIMIT)) == 503
        assert answers(d, "127.0.0.2")
    finally:
        for s in held:
            s.close()
    # The held connections' threads notice the close on their next read: give a loaded
    # machine time for that, then the address has room again.
    answers_soon(d, "127.0.0.1")


@pytest.mark.parametrize("one_client", [True, False])
def test_loopback_addresses_share_one_per_client_cap(make_daemon, one_client):
    """A local user cannot multiply the per-client cap by its loopback addresses,
    unless configured so."""
    d = make_daemon("max_connections_per_client = 2\nloopback_is_one_client = %s\n"
                    % str(one_client).lower())
    session = d.sdk_unix()._session
    held = [admitted(d.port, source, session=session) for source in ("127.0.0.2", "127.0.0.3")]
    try:
        with connect(d.port, "127.0.0.4") as extra:
            if one_client:
                assert status_of(read_until_closed(extra, limit=REFUSAL_LIMIT)) == 503
            else:
                assert still_open(extra)
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_unauthenticated_connections_cannot_keep_out_a_client_with_a_session(
        make_daemon, kind):
    """Idle connections with no credentials, from many loopback addresses, fill their
    share of the slots, and more of them only take each other's; a client with a
    session still connects and calls, and so does one that logs in."""
    tls_port = free_port()
    d = make_daemon("max_connections = 6\nmax_unauthenticated_connections = 3\n"
                    'tls_listen = "127.0.0.1:%d"\n' % tls_port)
    wait_for_tls(d, tls_port)
    set_password(d, "root", PASSWORD)
    session = d.sdk_unix()._session   # established before the attack
    port = d.port if kind == "tcp" else tls_port
    url = "%s://127.0.0.1:%d/" % ("http" if kind == "tcp" else "https", port)
    held = attackers(port, ["127.0.0.%d" % i for i in range(2, 10)])
    try:
        client = xmlrpc.client.ServerProxy(url, context=tls_context_for(d)) if kind == "tls" \
            else xmlrpc.client.ServerProxy(url)
        assert client.host.get_all(session)["Status"] == "Success"
        reply = XenAPI.Session(url, ignore_ssl=True) if kind == "tls" else XenAPI.Session(url)
        reply.xenapi.login_with_password("root", PASSWORD)
        assert reply.xenapi.host.get_all()
        reply.xenapi.session.logout()
        assert sum(still_open(s) for s in held) <= 3
    finally:
        for s in held:
            s.close()
    assert "closed an idle unauthenticated connection to admit" in d.log_text()


def test_an_abandoned_event_wait_frees_its_slot(make_daemon):
    """A client that starts a long event.from and goes away must not keep its connection's
    slot until an event comes (up to an hour): the wait notices the hang-up."""
    d = make_daemon("max_connections_per_client = 1\n")
    root = d.sdk_unix()
    token = getattr(root.xenapi.event, "from")(["VM"], "", 0.0)["token"]
    call = post(xmlrpc.client.dumps((root._session, ["VM"], token, 600.0), "event.from")
                .encode())
    # From an address of its own (the daemon's readiness probe came from 127.0.0.1). The
    # request stays in the kernel's buffer after the close: the daemon reads it and
    # starts waiting whenever its thread gets to it, for a client that is gone.
    with connect(d.port, "127.0.0.2") as s:
        s.sendall(call)
    answers_soon(d, "127.0.0.2", timeout=15)


def test_unix_socket_is_capped_too(make_daemon):
    d = make_daemon("max_connections = 2\n")
    held = []
    try:
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.socket)
            held.append(s)
        time.sleep(1.0)   # let the accepting thread count them
        extra = socket.socket(socket.AF_UNIX)
        extra.connect(d.socket)
        with extra:
            assert status_of(read_until_closed(extra, limit=REFUSAL_LIMIT)) == 503
    finally:
        for s in held:
            s.close()


# -- request bodies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    """A daemon with a 2000-byte body limit and one-second request timeouts."""
    with serving(login=False, extra_config="max_request_bytes = 2000\nrequest_timeout = 1.0\n"
                 "keepalive_timeout = 2.0\n") as d:
        yield d


def test_body_over_the_limit_is_413_and_closed(small):
    response = exchange(small.port, post(b"x" * 2001))
    assert status_of(response) == 413
    assert b"connection: close" in response.lower()


@pytest.mark.parametrize("length", [b"99999999999", b"9" * 5000])
def test_body_over_the_limit_is_refused_before_it_is_sent(small, length):
    """The limit is judged on Content-Length: 413 comes back while the client has sent
    only headers, so a huge declared body costs the daemon nothing."""
    with connect(small.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % length)
        data = read_until_closed(s, limit=REFUSAL_LIMIT)
    assert status_of(data) == 413
    assert "Traceback" not in small.log_text()


def test_body_at_the_limit_is_read(small):
    call = xmlrpc.client.dumps(("nobody", "p" * 1000), "session.login_with_password").encode()
    body = call + b" " * (2000 - len(call))
    response = exchange(small.port, post(body))
    assert status_of(response) == 200
    assert xmlrpc.client.loads(body_of(response))[0][0]["Status"] == "Failure"


@pytest.mark.parametrize("headers", [
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"Content-Length: +5\r\n\r\nhello",
    b"Content-Length: -1\r\n\r\n",
    b"Content-Length: 1_0\r\n\r\n0123456789",
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"\r\n",
])
def test_bodies_without_one_plain_length_are_411(small, headers):
    response = exchange(small.port, b"POST / HTTP/1.1\r\nHost: x\r\n" + headers)
    assert status_of(response) == 411


def test_a_request_with_lf_only_line_breaks_is_400(small):
    """The client keeps its side open, as one waiting for a reply does: the answer is 400,
    not 408 after request_timeout."""
    with connect(small.port) as s:
        s.sendall(post(CALL).replace(b"\r\n", b"\n"))
        data = read_until_closed(s, limit=30)
    assert status_of(data) == 400
    assert "Traceback" not in small.log_text()


# -- slow clients ---------------------------------------------------------------------------


def test_silent_new_connection_is_closed_after_request_timeout(small):
    """Closed, without a byte, long before the read gives up (when exactly: httpio's unit
    tests, on a clock of their own). Root's connection on the Unix socket is authenticated
    at once, so no first-byte gate stands before request_timeout (on TCP that gate closes
    a silent connection first: test_a_connection_that_sends_nothing_is_closed_after_...)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(small.socket)
        data = read_until_closed(s, limit=30)
    assert data == b""


@pytest.fixture(scope="module")
def first_byte():
    """A daemon whose new connections must send a byte within 1 s, then have 60 s for a
    request, on TCP and TLS."""
    port = free_port()
    with serving(login=False, extra_config='first_byte_timeout = 1.0\nrequest_timeout = 60.0\n'
                 'tls_listen = "127.0.0.1:%d"\n' % port) as d:
        wait_for_tls(d, port)
        d.tls_port = port
        yield d


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_a_connection_that_sends_nothing_is_closed_after_first_byte_timeout(first_byte, kind):
    """Closed without a byte, long before request_timeout (60 s) would end it."""
    with connect(first_byte.port if kind == "tcp" else first_byte.tls_port) as s:
        assert read_until_closed(s, limit=REFUSAL_LIMIT) == b""


def test_after_its_first_byte_a_slow_client_has_request_timeout(first_byte):
    with connect(first_byte.port) as s:
        request = post(CALL)
        s.sendall(request[:1])
        time.sleep(2.0)   # past first_byte_timeout
        s.sendall(request[1:])
        assert status_of(s.recv(65536)) == 200


@pytest.mark.parametrize("stage", ["request line", "headers", "body"])
def test_trickled_request_is_cut_off_after_request_timeout(small, stage):
    """Each byte comes well within the timeout; the request as a whole does not."""
    full = post(xmlrpc.client.dumps(("x", "y"), "session.login_with_password").encode())
    head_len = full.index(b"\r\n\r\n") + 4
    prefix = {"request line": b"", "headers": full[:20], "body": full[:head_len]}[stage]
    rest = full[len(prefix):]
    sent = []
    with connect(small.port) as s:
        s.sendall(prefix)
        sender = threading.Thread(target=trickle, args=(s, rest, 0.2, sent), daemon=True)
        sender.start()
        data = read_until_closed(s, limit=30)
    assert status_of(data) in (None, 408)
    assert len(sent) < len(rest), "the connection was held until the request was whole"


def test_idle_keep_alive_connection_is_closed_after_keepalive_timeout(small):
    with connect(small.port) as s:
        s.sendall(post(CALL))
        first = b""
        while b"</methodResponse>" not in first:
            first += s.recv(65536)
        data = read_until_closed(s, limit=30)
    assert data == b""


def test_slow_loris_does_not_starve_other_clients(make_daemon):
    """While many trickling clients are connected (each may take request_timeout, 30 s),
    a normal call is answered, before any of them is let go."""
    d = make_daemon("request_timeout = 30\n")
    lorises = [connect(d.port) for _ in range(20)]
    try:
        for s in lorises:
            s.sendall(b"POST / HT")
        assert answers(d)
        assert all(still_open(s) for s in lorises)
    finally:
        for s in lorises:
            s.close()


def test_client_that_never_reads_its_reply_is_dropped(make_daemon):
    """A reply the client does not take is abandoned after request_timeout: the thread
    writing it is not held forever by a full socket buffer. (With one connection per
    client allowed, a second connection is admitted only once that thread has ended.)"""
    d = make_daemon("request_timeout = 1.0\nmax_connections_per_client = 1\n")
    s = d.sdk_unix()
    for i in range(300):   # records enough to fill the socket buffers many times over
        s.xenapi.network.create({"name_label": "n%03d" % i + "x" * 2000,
                                 "name_description": "d" * 2000})
    call = xmlrpc.client.dumps((s._session,), "network.get_all_records").encode()
    with connect(d.port) as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(post(call) * 20)   # twenty pipelined calls; no reply is ever read
        time.sleep(0.5)
        assert refused_at_once_or_busy(d.port)
        # Generous: a loaded machine is slow. Asked once more after a success, the
        # daemon might refuse: the one slot is held until the answering connection's
        # thread sees that it closed.
        answers_soon(d, timeout=90)
    s.xenapi.session.logout()
    assert "Traceback" not in d.log_text()


def refused_at_once_or_busy(port):
    with connect(port) as s:
        data = read_until_closed(s, limit=REFUSAL_LIMIT)
    return status_of(data) == 503


def answers_quietly(daemon, source="127.0.0.1"):
    """answers(), False where the connection is refused instead (a 503, or closed before
    the request went: no slot yet)."""
    try:
        return answers(daemon, source)
    except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException):
        return False


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_daemon():
    port = free_port()
    with serving(login=False,
                 extra_config='tls_listen = "127.0.0.1:%d"\nrequest_timeout = 1.0\n' % port) as d:
        wait_for_tls(d, port)
        d.tls_port = port
        set_password(d, "root", PASSWORD)
        yield d


def test_sdk_over_tls_with_ignore_ssl(tls_daemon):
    s = XenAPI.Session("https://127.0.0.1:%d/" % tls_daemon.tls_port, ignore_ssl=True)
    s.xenapi.login_with_password("root", PASSWORD)
    assert s.xenapi.host.get_all()
    s.xenapi.session.logout()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_sdk_over_tls_verifying_the_generated_certificate(tls_daemon, host):
    transport = xmlrpc.client.SafeTransport(context=tls_context_for(tls_daemon))
    s = XenAPI.Session("https://%s:%d/" % (host, tls_daemon.tls_port), transport=transport)
    s.xenapi.login_with_password("root", PASSWORD)
    assert s.xenapi.host.get_all()
    s.xenapi.session.logout()


def test_tls_without_trusting_the_certificate_fails(tls_daemon):
    s = XenAPI.Session("https://127.0.0.1:%d/" % tls_daemon.tls_port)
    with pytest.raises(ssl.SSLCertVerificationError):
        s.xenapi.login_with_password("root", PASSWORD)


def test_tls_refuses_versions_before_1_2(tls_daemon):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # which is the point
        try:
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with connect(tls_daemon.tls_port) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw)


def tls12_client(ciphers):
    """A client context for TLS 1.2 only, offering only ``ciphers`` (OpenSSL names)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    return ctx


# The generated key is EC: the ECDSA suites are the ones its certificate can serve.
@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256",
                                    "ECDHE-ECDSA-AES256-SHA384"])
def test_tls_1_2_refuses_cbc_ciphers(tls_daemon, cipher):
    with connect(tls_daemon.tls_port) as raw:
        with pytest.raises(ssl.SSLError):
            tls12_client(cipher).wrap_socket(raw)


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                    "ECDHE-ECDSA-AES256-GCM-SHA384",
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls_1_2_accepts_aead_ciphers(tls_daemon, cipher):
    with connect(tls_daemon.tls_port) as raw:
        with tls12_client(cipher).wrap_socket(raw) as s:
            assert s.version() == "TLSv1.2" and s.cipher()[0] == cipher


def test_plain_http_and_garbage_on_the_tls_port_are_closed(tls_daemon):
    for payload in (post(CALL), b"\x16\x03\x01\x00\x05hello", b"\x00" * 1000):
        exchange(tls_daemon.tls_port, payload, limit=REFUSAL_LIMIT)
    s = XenAPI.Session("https://127.0.0.1:%d/" % tls_daemon.tls_port, ignore_ssl=True)
    s.xenapi.login_with_password("root", PASSWORD)
    s.xenapi.session.logout()


def test_trickled_tls_handshake_is_cut_off(tls_daemon):
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40
    with connect(tls_daemon.tls_port) as s:
        sent = []
        threading.Thread(target=trickle, args=(s, hello, 0.2, sent), daemon=True).start()
        read_until_closed(s, limit=30)
    assert len(sent) < len(hello), "the connection was held until the hello was whole"


def test_generated_key_is_private_and_its_fingerprint_logged(tls_daemon):
    """The self-signed pair made on first start: key (and certificate) mode 0600, and the
    SHA-256 fingerprint in the log is the one a client sees on the wire."""
    for name in (tls.KEY_NAME, tls.CERT_NAME):
        mode = os.stat(os.path.join(tls_daemon.state_dir, name)).st_mode
        assert stat.S_IMODE(mode) == 0o600, (name, oct(mode))
    seen = served_fingerprint(tls_daemon.tls_port)
    assert "SHA-256 fingerprint %s" % seen in tls_daemon.log_text()


def served_fingerprint(port):
    """The SHA-256 fingerprint (colon-separated hex, as xend logs it) of the certificate
    the server on ``port`` presents."""
    with connect(port) as raw, ssl._create_unverified_context().wrap_socket(raw) as s:
        digest = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def test_configured_certificate_and_key_are_served(make_daemon, tmp_path):
    """tls_cert and tls_key from the config are what the listener presents (no pair is
    generated), and a client that trusts exactly that certificate logs in."""
    cert, key = tls.ensure_self_signed(str(tmp_path))   # an administrator's own pair
    port = free_port()
    d = make_daemon('tls_listen = "127.0.0.1:%d"\ntls_cert = "%s"\ntls_key = "%s"\n'
                    % (port, cert, key))
    wait_for_tls(d, port)
    assert served_fingerprint(port) == tls.fingerprint(cert)
    assert not os.path.exists(os.path.join(d.state_dir, tls.CERT_NAME))
    set_password(d, "root", PASSWORD)
    transport = xmlrpc.client.SafeTransport(context=ssl.create_default_context(cafile=cert))
    session = XenAPI.Session("https://127.0.0.1:%d/" % port, transport=transport)
    session.xenapi.login_with_password("root", PASSWORD)
    session.xenapi.session.logout()


def test_half_configured_or_unreadable_pair_is_refused_at_start(tmp_path):
    """A certificate without its key, or a key file that is not there, stops xend at start
    with a message naming tls_key (and the file), not a bare errno at listen time."""
    cert, _ = tls.ensure_self_signed(str(tmp_path))
    missing = str(tmp_path / "no-such-key.pem")
    port = free_port()
    for extra, expected in [
            ('tls_cert = "%s"\n' % cert, "tls_cert is set but tls_key is not"),
            ('tls_cert = "%s"\ntls_key = "%s"\n' % (cert, missing),
             "tls_key = '%s' cannot be read: No such file or directory" % missing)]:
        d = Daemon(extra_config='tls_listen = "127.0.0.1:%d"\n' % port + extra)
        try:
            with pytest.raises(RuntimeError) as e:
                d.start()
            assert expected in str(e.value), str(e.value)
        finally:
            d.cleanup()


def test_stop_does_not_wait_for_idle_keep_alive_clients(make_daemon):
    """An idle client holding its connection open must not hold up SIGTERM (nor a reload):
    closing a listener does not wait for its connections' threads."""
    d = make_daemon()
    with connect(d.port) as s:
        s.sendall(post(CALL))
        reply = b""
        while b"</methodResponse>" not in reply:
            reply += s.recv(65536)
        started = time.monotonic()
        d.stop()
        assert time.monotonic() - started < 10
