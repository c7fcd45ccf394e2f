"""Helpers of the integration tests: raw XML-RPC and the DTD (fixtures live in conftest.py;
what other tiers use too, from daemons to object factories, is in tests/harness.py)."""

import http.client
import io
import re
import xmlrpc.client

import XenAPI
from harness import failure
from lxml import etree

from xen.xend.api.types import DateTime, Int, Map, Set

ROOT_PASSWORD = "r00t-pw for tests"


def random_mac():
    """A locally administered unicast MAC, upper case (the daemon keeps MACs lower case)."""
    import random
    return ":".join(["02"] + ["%02X" % random.randrange(256) for _ in range(5)])


def plain(t, v):
    """A value of datamodel type ``t`` as read over XML-RPC or JSON-RPC, in one form for
    comparisons that hold over both: an Int an int (XML-RPC sends a decimal string,
    JSON-RPC a number), a DateTime "YYYYMMDDTHH:MM:SSZ" (an XML-RPC dateTime, or JSON-RPC's
    ISO 8601 string), the items of sets and values of maps alike."""
    if t is Int:
        return int(v)
    if t is DateTime:
        text = v.value if isinstance(v, xmlrpc.client.DateTime) else v.replace("-", "")
        return text if text.endswith("Z") else text + "Z"
    if isinstance(t, Set):
        return [plain(t.item, x) for x in v]
    if isinstance(t, Map):
        return {k: plain(t.value, x) for k, x in v.items()}
    return v


def code_of(fn, *args):
    return failure(fn, *args)[0]


class Raw:
    """A plain xmlrpc.client proxy (no SDK) with a session; every reply is checked to be a
    well-formed Status struct (§1.3.1) before a test sees it."""

    def __init__(self, proxy, session=None):
        self.proxy = proxy
        self.session = session

    def call(self, method, *args):
        fn = self.proxy
        for part in method.split("."):
            fn = getattr(fn, part)
        reply = fn(*args)            # an XML-RPC fault raises here: never expected
        check_status_struct(reply)
        return reply

    def s(self, method, *args):
        """Call with the session first."""
        return self.call(method, self.session, *args)

    def ok(self, method, *args):
        reply = self.s(method, *args)
        assert reply["Status"] == "Success", (method, reply)
        return reply["Value"]

    def fail(self, method, *args):
        reply = self.s(method, *args)
        assert reply["Status"] == "Failure", (method, reply)
        return reply["ErrorDescription"]

    def login(self, user, password, *extra):
        reply = self.call("session.login_with_password", user, password, *extra)
        assert reply["Status"] == "Success", reply
        self.session = reply["Value"]
        return self.session


def check_status_struct(reply):
    assert isinstance(reply, dict), reply
    if reply.get("Status") == "Success":
        assert set(reply) == {"Status", "Value"}, reply
    else:
        assert reply.get("Status") == "Failure", reply
        assert set(reply) == {"Status", "ErrorDescription"}, reply
        desc = reply["ErrorDescription"]
        assert isinstance(desc, list) and desc, reply
        assert all(isinstance(x, str) for x in desc), reply
        assert re.match(r"^[A-Z][A-Z0-9_]+$", desc[0]), reply


def unix_proxy(daemon):
    return xmlrpc.client.ServerProxy("http://%s/" % daemon.socket.replace("/", "_"),
                                     transport=XenAPI.UDSTransport())


def tcp_proxy(daemon):
    return xmlrpc.client.ServerProxy(daemon.url)


def raw_unix_root(daemon):
    r = Raw(unix_proxy(daemon))
    r.login("root", "")
    return r


def fetch_dtd_text(daemon):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("GET", "/xen-api.dtd")
        resp = conn.getresponse()
        body = resp.read().decode("utf-8")
        assert resp.status == 200, (resp.status, body)
        return body
    finally:
        conn.close()


def parse_dtd(text):
    """The DTD as lxml sees it. Field-less classes give ``<!ELEMENT event ()>``, which is
    not valid DTD syntax (asserted on its own in test_api_wire.py); it is dropped here so
    that the other declarations can still be used."""
    try:
        return etree.DTD(io.StringIO(text))
    except etree.DTDParseError:
        return etree.DTD(io.StringIO(re.sub(r"<!ELEMENT \S+ \(\)>", "", text)))


def dtd_errors(dtd, xml_text):
    doc = etree.fromstring(xml_text.encode("utf-8"))
    if dtd.validate(doc):
        return None
    return str(dtd.error_log.filter_from_errors())
