"""Hostile requests: whatever is POSTed, the answer is a well-formed XML-RPC reply, an
HTTP error or a closed connection, and every bad value in every field is a structured
error, never INTERNAL_ERROR."""

import xmlrpc.client

import jsonapi
import pytest
import XenAPI
from harness import serving, unique
from secutil import body_of, exchange, post, status_of, unexpected_tracebacks

from xen.xend.api import codec, datamodel, reference
from xen.xend.api.types import Enum, Float, Int, Map, Ref, Set, String
from xen.xend.api.values import MAX_STRING

TABLE = reference._methods_table()


@pytest.fixture(scope="module")
def daemon():
    with serving(login=False) as d:
        yield d


@pytest.fixture(scope="module", params=["xmlrpc", "jsonrpc"])
def rpc(request, daemon):
    """Plain xmlrpc.client over the Unix socket (the SDK's transport), with nil allowed;
    then raw JSON-RPC calls over it (the same Status structs)."""
    if request.param == "jsonrpc":
        return jsonapi.Proxy(daemon, over="unix")
    return xmlrpc.client.ServerProxy("http://%s/" % daemon.socket.replace("/", "_"),
                                     transport=XenAPI.UDSTransport(), allow_none=True)


@pytest.fixture(scope="module")
def session(rpc):
    return getattr(rpc, "session.login_with_password")("root", "")["Value"]


def call(rpc, method, *args):
    reply = getattr(rpc, method)(*args)
    assert isinstance(reply, dict) and reply.get("Status") in ("Success", "Failure"), reply
    if reply["Status"] == "Failure":
        desc = reply["ErrorDescription"]
        assert desc and all(isinstance(x, str) for x in desc), reply
        assert desc[0] in datamodel.ERRORS, reply
        assert desc[0] != "INTERNAL_ERROR", (method, args if len(repr(args)) < 300 else "...",
                                             reply)
    return reply


def answer_of(daemon, body):
    """POST ``body`` raw and judge the answer: returns ("reply", value), ("fault", code),
    ("http", status) or ("closed", None)."""
    response = exchange(daemon.port, post(body), limit=15)
    if not response:
        return "closed", None
    status = status_of(response)
    assert status is not None, response[:200]
    if status != 200:
        return "http", status
    try:
        params, _ = xmlrpc.client.loads(body_of(response))
    except xmlrpc.client.Fault as f:
        return "fault", f.faultCode
    return "reply", params[0]


def login_body(*args):
    return xmlrpc.client.dumps(args, "session.login_with_password").encode()


# -- the wire ----------------------------------------------------------------------------------

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
                  + b"".join(b'<!ENTITY %s "&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;">'
                             % ((bytes([c]),) + (bytes([c - 1]),) * 10)
                             for c in range(ord("b"), ord("k")))
                  + b"]><methodCall><methodName>&j;</methodName><params/></methodCall>")
UTF16_ENTITY = ("<?xml version='1.0' encoding='utf-16'?><!DOCTYPE m [<!ENTITY e 'x'>]>"
                "<methodCall><methodName>&e;</methodName><params/></methodCall>").encode("utf-16")


def nested(depth):
    return (b"<methodCall><methodName>VM.get_all</methodName><params><param><value>"
            + b"<array><data><value>" * depth + b"<int>1</int>"
            + b"</value></data></array>" * depth + b"</value></param></params></methodCall>")


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS,
    UTF16_ENTITY,
    b'<?xml version="1.0"?><!DOCTYPE m SYSTEM "file:///etc/passwd"><methodCall/>',
    b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>&x;'
    b'</methodName></methodCall>',
    b" " * 5000 + b"<!DOCTYPE m><methodCall/>",
    nested(65),
], ids=["billion-laughs", "utf16-entity", "external-dtd", "external-entity", "late-doctype",
        "nested-65"])
def test_dtds_entities_and_deep_nesting_are_faults(daemon, body):
    assert answer_of(daemon, body)[0] == "fault"
    assert "root:" not in daemon.log_text()


def test_nesting_up_to_the_limit_is_a_call(daemon):
    kind, value = answer_of(daemon, nested(64))
    assert kind == "reply" and value["ErrorDescription"][0] == "SESSION_INVALID"


@pytest.mark.parametrize("body", [
    b"",
    b"\xff\xfe\xfa not xml",
    login_body("root", "x").replace(b"root", b"ro\xc3\x28ot"),       # invalid UTF-8
    login_body("root", "x").replace(b"root", b"ro\xed\xa0\x80ot"),   # an encoded surrogate
    login_body("root", "x").replace(b"root", b"ro\x00ot"),           # a raw NUL
    login_body("root", "x").replace(b"root", b"ro&#0;ot"),           # NUL as a reference
    login_body("root", "x").replace(b"root", b"ro&#xD800;ot"),
    login_body("root", "x")[:-30],                                   # truncated
    b"<methodCall><params/></methodCall>",                           # no method name
    b"<methodResponse><params><param><value>1</value></param></params></methodResponse>",
    b"<methodCall><methodName>x</methodName><params><param><value><i4>12x</i4></value>"
    b"</param></params></methodCall>",
    b"<methodCall><methodName>x</methodName><params><param><value><i8>" + b"9" * 5000
    + b"</i8></value></param></params></methodCall>",
    b"<methodCall><methodName>x</methodName><params><param><value><struct><member>"
    b"<value>1</value></member></struct></value></param></params></methodCall>",
])
def test_malformed_bodies_are_faults(daemon, body):
    assert answer_of(daemon, body)[0] == "fault"


@pytest.mark.parametrize("args,code", [
    (("root", "x" * (MAX_STRING + 1)), "INVALID_VALUE"),
    (("root", 5), "FIELD_TYPE_ERROR"),
    (("root", ["x"] * 3), "FIELD_TYPE_ERROR"),
    (("root", {"a": 1}), "FIELD_TYPE_ERROR"),
    (("root", xmlrpc.client.Binary(b"\x00\x01")), "FIELD_TYPE_ERROR"),
    (("root", None), "FIELD_TYPE_ERROR"),
    (("root",), "MESSAGE_PARAMETER_COUNT_MISMATCH"),
    (("a",) * 1000, "MESSAGE_PARAMETER_COUNT_MISMATCH"),
])
def test_bad_login_arguments_are_structured_errors(daemon, args, code):
    body = xmlrpc.client.dumps(args, "session.login_with_password", allow_none=True).encode()
    kind, value = answer_of(daemon, body)
    assert kind == "reply" and value["ErrorDescription"][0] == code


@pytest.mark.parametrize("name", ["x" * 100000, "VM." + "a" * 5000, "Async." * 500, ".",
                                  "VM.get_" + "\u00e9" * 100, "__class__", "VM.__init__"])
def test_unknown_method_names_are_structured_errors(daemon, name):
    kind, value = answer_of(daemon, xmlrpc.client.dumps((), name).encode())
    assert kind == "reply" and value["ErrorDescription"][0] == "MESSAGE_METHOD_UNKNOWN"
    assert len(value["ErrorDescription"][1]) <= 200


@pytest.mark.parametrize("request_bytes", [
    b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /RPC3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"DELETE / HTTP/1.1\r\n\r\n",
    b"HEAD / HTTP/1.1\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"POST / HTTP/9.9\r\n\r\n",
    b"POST " + b"/" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    b"POST / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 100,
    b"\x00" * 10000,
    b"\r\n" * 5000,
])
def test_http_garbage_gets_an_http_error_or_a_close(daemon, request_bytes):
    response = exchange(daemon.port, request_bytes, limit=15)
    assert response == b"" or status_of(response) in (400, 404, 408, 411, 413, 414, 431,
                                                      501, 505)


def test_replies_are_well_formed_whatever_the_strings_hold():
    """Characters XML cannot carry never leave the daemon as such (unit test)."""
    for s in ("a\x00b", "\x1b[31mred", "\ud800", "\ufffe", "fine & <dandy>"):
        data = codec.encode_reply(codec.failure(["INTERNAL_ERROR", s]))
        assert xmlrpc.client.loads(data)[0][0]["ErrorDescription"][1]


# -- every field ---------------------------------------------------------------------------------


def _huge():
    return "x" * (MAX_STRING + 1)


def bad_values(t, rpc):
    """(value, expected error code or None for "any structured answer") for type ``t``,
    those ``rpc`` can send (JSON has no NaN, infinities or binary)."""
    if isinstance(rpc, jsonapi.Proxy):
        return [(v, code) for v, code in _bad_values(t) if jsonapi.sendable(v)]
    return _bad_values(t)


def _bad_values(t):
    out = [({"a": [1, {"b": 2}]}, "FIELD_TYPE_ERROR"), ([[[[["deep"]]]]], "FIELD_TYPE_ERROR"),
           (xmlrpc.client.Binary(b"\x00bin"), "FIELD_TYPE_ERROR"),
           (None, "FIELD_TYPE_ERROR")]
    if t is Int:
        out += [("9" * 30, "FIELD_TYPE_ERROR"), (str(2 ** 63), "INVALID_VALUE"),
                (str(-2 ** 63 - 1), "INVALID_VALUE"), ("-1", None), (-2 ** 31, None),
                ("1e3", "FIELD_TYPE_ERROR"), ("\u0663", "FIELD_TYPE_ERROR"), (1.5, None)]
    elif t is Float:
        out += [("1.0", "FIELD_TYPE_ERROR"), (float("nan"), "INVALID_VALUE"),
                (float("inf"), "INVALID_VALUE"), (-1e308, None)]
    elif t is String:
        out += [(_huge(), "INVALID_VALUE"), (5, "FIELD_TYPE_ERROR"), ("\u202e\u0000"[:1], None)]
    elif isinstance(t, Enum):
        out += [("no-such-" + t.name, "INVALID_VALUE"), (_huge(), None), (1, "FIELD_TYPE_ERROR")]
    elif isinstance(t, Ref):
        out += [("deadbeef", "HANDLE_INVALID"), (_huge(), None), (7, "FIELD_TYPE_ERROR")]
    elif isinstance(t, (Set, Map)):
        out += [("not a collection", "FIELD_TYPE_ERROR")]
    return out


@pytest.fixture(scope="module")
def objects(rpc, session):
    """One object of every class a client may make, plus the host, keyed by class."""
    def make(cls, record):
        return call(rpc, cls + ".create", session, record)["Value"]
    sr = call(rpc, "SR.get_all", session)["Value"][0]
    out = {"SR": sr, "host": call(rpc, "host.get_all", session)["Value"][0],
           "network": make("network", {"name_label": "fuzz-net"}),
           "VM": make("VM", {"name_label": "fuzz-vm"}),
           "user": make("user", {"short_name": unique("fuzzer"), "fullname": "F"})}
    out["VDI"] = make("VDI", {"name_label": "fuzz-disk", "SR": sr, "virtual_size": "2048"})
    out["VBD"] = make("VBD", {"VM": out["VM"], "VDI": out["VDI"], "device": "xvda"})
    out["VIF"] = make("VIF", {"VM": out["VM"], "network": out["network"]})
    out["host_cpu"] = call(rpc, "host_cpu.get_all", session)["Value"][0]
    # A PIF is a network's with a NIC (one the host lacks: no interface is changed).
    uplinked = make("network", {"name_label": "fuzz-uplink", "NIC": "fuzz0"})
    out["PIF"] = call(rpc, "network.get_PIFs", session, uplinked)["Value"][0]
    out["pool"] = call(rpc, "pool.get_all", session)["Value"][0]
    # Consoles are made by the daemon: those of a running VM of their own.
    console_vm = make("VM", {"name_label": "fuzz-console-vm"})
    call(rpc, "VM.start", session, console_vm, False)
    out["console"] = call(rpc, "VM.get_consoles", session, console_vm)["Value"][0]
    return out


def writers():
    """Every setter, add_to and remove_from of the method table, by name."""
    return sorted(n for n, m in TABLE.items()
                  if n.split(".")[1].startswith(("set_", "add_to_", "remove_from_"))
                  and not n.startswith("user.set_password"))


@pytest.mark.parametrize("method", writers())
def test_every_writer_refuses_every_bad_value_with_a_structured_error(rpc, session, objects,
                                                                       method):
    m = TABLE[method]
    for position in range(1, m.arity):   # every parameter after the object itself
        for bad, code in bad_values(m.params[position].type, rpc):
            args = [objects[m.cls]] + [good_value(p.type, objects) for p in m.params[1:]]
            args[position] = bad
            reply = call(rpc, method, session, *args)
            if code is not None:
                assert reply["Status"] == "Failure", (method, position, bad)
                assert reply["ErrorDescription"][0] == code, (method, position, reply)


def good_value(t, objects):
    """A value of type ``t`` the call could accept, to put beside a bad one."""
    if isinstance(t, Ref):
        return objects.get(t.cls, "")
    if isinstance(t, Enum):
        return next(iter(t.values))
    if isinstance(t, Set):
        return []
    if isinstance(t, Map):
        return {}
    if t is Int:
        return "1"
    if t is Float:
        return 1.0
    return {"bool": True}.get(t.spec_name(), "x")


# SR included: its bad locations (wrong type, too long, relative) are all refused before
# the disk is touched, and a create that succeeds (a bad value in another field that is
# still a string) has no location, so its directory is made in the daemon's own state dir.
CREATABLE = [c for c, cl in datamodel.CLASSES.items() if cl.creatable]


@pytest.mark.parametrize("cls", CREATABLE)
def test_every_constructor_field_refuses_bad_values(rpc, session, objects, cls):
    for field in datamodel.CLASSES[cls].fields:
        if field.qual == datamodel.RO_RUN:
            continue
        for bad, code in bad_values(field.type, rpc):
            reply = call(rpc, cls + ".create", session, {field.wire: bad})
            if code is not None:
                assert reply["Status"] == "Failure", (cls, field.wire, bad)


def test_the_daemon_is_unharmed(daemon, rpc, session):
    assert call(rpc, "VM.get_all", session)["Status"] == "Success"
    assert not unexpected_tracebacks(daemon.log_text())
