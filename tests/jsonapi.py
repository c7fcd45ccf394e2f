"""A JSON-RPC client of xend with the XenAPI SDK's interface, over plain http.client and
json: ``Session(daemon).xenapi.VM.get_all()``, ``xenapi.Async.VM.start(vm, False, False)``,
``xenapi.login_with_password(...)`` and ``xenapi.session.logout()`` as the SDK has them,
a failure raised as ``XenAPI.Failure`` with the same ``details`` (ErrorDescription), and
a SESSION_INVALID answered by logging in again, as the SDK does. Values come back in
JSON-RPC's form: Ints as numbers, DateTimes as ISO 8601 strings.

``Proxy`` makes raw calls (Status structs, as xmlrpc.client's ServerProxy does); ``post``
and ``call`` are single exchanges, for tests of the wire itself.
"""

import http.client
import itertools
import json

import XenAPI
from harness import UnixHTTPConnection

CONTENT_TYPE = "application/json"
PATH = "/jsonrpc"


def connection(daemon, over="tcp", timeout=30):
    """An http.client connection to ``daemon`` over "tcp" or "unix"."""
    if over == "unix":
        return UnixHTTPConnection(daemon.socket, timeout=timeout)
    return http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=timeout)


def exchange(conn, body, content_type=CONTENT_TYPE):
    """(status, Content-Type, body) of POST /jsonrpc of ``body`` (bytes) on ``conn``."""
    conn.request("POST", PATH, body=body, headers={"Content-Type": content_type})
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type"), resp.read()


def post(daemon, body, content_type=CONTENT_TYPE, over="tcp"):
    """``exchange`` on a connection of its own."""
    conn = connection(daemon, over)
    try:
        return exchange(conn, body, content_type)
    finally:
        conn.close()


def request(method, params, id=1, envelope="2.0"):
    """The body of a request; ``id`` None and envelope 2.0: a notification (no id)."""
    obj = {"method": method, "params": list(params)}
    if envelope == "2.0":
        obj["jsonrpc"] = "2.0"
        if id is not None:
            obj["id"] = id
    else:
        obj["id"] = id
    return json.dumps(obj).encode("utf-8")


def call(daemon, method, *params, over="tcp", envelope="2.0"):
    """The decoded reply object of one call (status 200 checked)."""
    status, _, body = post(daemon, request(method, params, envelope=envelope), over=over)
    assert status == 200, (status, body[:200])
    return json.loads(body)


def sendable(value):
    """Whether JSON can carry ``value`` (not NaN, an infinity or XML-RPC's binary)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


class Proxy:
    """Raw calls, as xmlrpc.client's ServerProxy makes them: ``getattr(proxy,
    "VM.get_all")(session)`` is the call's Status struct, its values in JSON-RPC's form;
    on one kept-alive connection to ``daemon`` over "tcp" or "unix" (opened again if
    the daemon closed it)."""

    def __init__(self, daemon, over="tcp"):
        self._daemon = daemon
        self._over = over
        self._conn = None
        self._ids = itertools.count(1)

    def _post(self, body):
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = connection(self._daemon, self._over)
            try:
                return exchange(self._conn, body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise

    def __call__(self, method, params):
        """The Status struct of one call."""
        id = next(self._ids)
        status, _, body = self._post(request(method, params, id))
        if status != 200:
            raise XenAPI.Failure(["HTTP_%d" % status, body.decode("utf-8", "replace")])
        reply = json.loads(body)
        assert reply.get("jsonrpc") == "2.0" and reply.get("id") == id, reply
        error = reply.get("error")
        if error is None:
            return {"Status": "Success", "Value": reply["result"]}
        if error["code"] != 1:   # a protocol error: the request was not a call
            raise XenAPI.Failure(["JSONRPC_%d" % error["code"], error["message"]])
        return {"Status": "Failure", "ErrorDescription": [error["message"]] + error["data"]}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *params: self(name, params)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Dispatcher:
    """``xenapi.CLASS.MESSAGE(...)``: the dotted name gathered, then sent (the SDK's)."""

    def __init__(self, send, name):
        self._send = send
        self._name = name

    def __getattr__(self, name):
        return _Dispatcher(self._send, name if self._name is None else
                           "%s.%s" % (self._name, name))

    def __call__(self, *args):
        return self._send(self._name, args)


class Session:
    """The SDK's Session, speaking JSON-RPC to ``daemon`` over "tcp" or "unix" (a
    ``Proxy``)."""

    def __init__(self, daemon, over="tcp"):
        self._call = Proxy(daemon, over)
        self._session = None
        self._login = None   # (method, params) of the last login, for a login again
        self.xenapi = _Dispatcher(self.xenapi_request, None)

    @staticmethod
    def _result(reply):
        if reply["Status"] == "Success":
            return reply["Value"]
        raise XenAPI.Failure(reply["ErrorDescription"])

    def xenapi_request(self, method, params):
        if method.startswith("login"):
            self._session = self._result(self._call("session." + method, params))
            self._login = (method, params)
            return None
        if method in ("logout", "session.logout"):
            try:
                return self._result(self._call("session.logout", (self._session,)))
            finally:
                self._session = self._login = None
        for _ in range(3):
            reply = self._call(method, (self._session,) + tuple(params))
            if reply["Status"] == "Success" or reply["ErrorDescription"][0] != "SESSION_INVALID":
                return self._result(reply)
            if self._login is None:
                raise XenAPI.Failure(reply["ErrorDescription"])
            self.xenapi_request(*self._login)
        raise XenAPI.Failure(["SESSION_INVALID", "tried 3 times to get a valid session"])

    def close(self):
        self._call.close()
