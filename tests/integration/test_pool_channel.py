"""The pool channel (docs/pool.md, "Host-to-host calls"): two pool_members on one database
reach each other's ``POST /pool`` over TLS, checked against the pool's CA, with the
pool's secret from the database's meta table; a call without the secret, with a wrong
one, or on the plain TCP listener is refused; the secret is in no record, log or error."""

import http.client
import json
import ssl
import types

import psycopg
import pytest
from harness import failure

from xen.xend.api.errors import ApiError
from xen.xend.transport.poolchannel import PORT_KEY, SECRET_HEADER, PoolChannel


def config_value(daemon, key):
    with open(daemon.config) as f:
        for line in f:
            if line.startswith(key + " = "):
                return json.loads(line.split(" = ", 1)[1])
    return None


def tls_port(daemon):
    return int(config_value(daemon, "tls_listen").rpartition(":")[2])


@pytest.fixture(scope="module")
def secret(pool_members, postgres):
    with psycopg.connect(config_value(pool_members[0], "database"),
                         password=postgres.password) as conn:
        return conn.execute("SELECT value FROM meta WHERE key = 'pool_secret'").fetchone()[0]


def post(daemon, body, headers, tls=True):
    """(status, body) of POST /pool to ``daemon`` over TLS (checked against the CA) or
    over its plain TCP listener."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", tls_port(daemon), timeout=10,
                                           context=ssl.create_default_context(
                                               cafile=daemon.ca))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("POST", "/pool", json.dumps(body).encode(), headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def channel_to(pool_members, secret):
    """A PoolChannel as a member holding ``secret`` has one, knowing each member's
    address as the records say it."""
    records = {d.host: pool_members[0].api.host.get_record(d.host) for d in pool_members}
    store = types.SimpleNamespace(get=lambda cls, ref: dict(
        records[ref], **{PORT_KEY: tls_port(next(d for d in pool_members if d.host == ref))}))
    return PoolChannel(types.SimpleNamespace(store=store, host_ref=""), secret,
                       pool_members[0].ca)


def test_each_member_records_the_address_others_reach_it_on(pool_members):
    for d in pool_members:
        assert pool_members[0].api.host.get_record(d.host)["address"] == "127.0.0.1"


def test_an_internal_op_reaches_the_other_host(pool_members, secret):
    b = pool_members[1].host
    assert channel_to(pool_members, secret).internal(b, "ping") == b


def test_an_unknown_internal_op_is_a_failure(pool_members, secret):
    status, body = post(pool_members[1], {"internal": "no such op"}, {SECRET_HEADER: secret})
    assert status == 200
    assert json.loads(body)["ErrorDescription"][0] == "MESSAGE_METHOD_UNKNOWN"


def test_a_malformed_call_is_a_failure(pool_members, secret):
    for body in ([], {"internal": "ping", "args": 5}, {"forward": "VM.pause"}):
        status, reply = post(pool_members[1], body, {SECRET_HEADER: secret})
        assert status == 200 and json.loads(reply)["Status"] == "Failure"


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "0" * 64}, {SECRET_HEADER: ""}],
                         ids=["none", "wrong", "empty"])
def test_a_call_without_the_secret_is_refused(pool_members, headers):
    status, body = post(pool_members[1], {"internal": "ping"}, headers)
    assert status == 403 and pool_members[1].host.encode() not in body


def test_a_wrong_secret_reaches_nothing_from_a_member(pool_members, secret):
    wrong = channel_to(pool_members, "1" * len(secret))
    with pytest.raises(ApiError) as e:
        wrong.internal(pool_members[1].host, "ping")
    assert e.value.description == ["HOST_OFFLINE", pool_members[1].host]


def test_the_tcp_listener_has_no_pool_route(pool_members, secret):
    status, body = post(pool_members[1], {"internal": "ping"}, {SECRET_HEADER: secret}, tls=False)
    assert status == 404 and pool_members[1].host.encode() not in body


def test_the_secret_is_in_no_record_log_or_error(pool_members, secret):
    post(pool_members[0], {"internal": "ping"}, {SECRET_HEADER: secret[:-1]})
    post(pool_members[0], {"internal": "nothing"}, {SECRET_HEADER: secret})
    for d in pool_members:
        for version in ("0.2", "1.0"):
            api = d.sdk_unix(version=version).xenapi
            for cls in ("host", "pool", "VM", "SR"):
                assert secret not in repr(getattr(api, cls).get_all_records())
        assert secret not in repr(failure(d.api.host.get_record, "not a host"))
        assert secret not in d.log_text()
