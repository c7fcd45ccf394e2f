"""xm's transports: how its calls reach xend. XML-RPC over the Unix socket
(``UnixTransport``), HTTPS trusting one pinned certificate (``PinnedTransport``), and
JSON-RPC on any of them (``JsonRpcProxy``, for a URI whose path is /jsonrpc)."""

import hashlib
import http.client
import json
import socket
import ssl
import xmlrpc.client


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket; the host name only fills the Host header."""

    def __init__(self, path):
        super().__init__("localhost")
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """An xmlrpc.client transport that posts to a Unix socket, keeping the connection alive."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        if self._connection[1] is None:
            self._connection = host, _UnixConnection(self.path)
        return self._connection[1]


class PinnedTransport(xmlrpc.client.SafeTransport):
    """HTTPS that trusts exactly one certificate, named by its SHA-256 fingerprint."""

    def __init__(self, fingerprint):
        super().__init__()
        self.fingerprint = fingerprint.replace(":", "").lower()

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        chost, self._extra_headers, _ = self.get_host_info(host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE    # the fingerprint check below replaces it
        self._connection = host, _PinnedConnection(chost, self.fingerprint, context=context)
        return self._connection[1]


class _PinnedConnection(http.client.HTTPSConnection):
    def __init__(self, host, fingerprint, **kw):
        super().__init__(host, **kw)
        self.fingerprint = fingerprint

    def connect(self):
        super().connect()
        der = self.sock.getpeercert(binary_form=True)
        if hashlib.sha256(der).hexdigest() != self.fingerprint:
            self.close()
            raise ssl.SSLError("the server's certificate does not have the fingerprint "
                               "given with --fingerprint")


class JsonRpcProxy:
    """Calls as xmlrpc.client's ServerProxy makes them, ``getattr(proxy, method)(*params)``
    returning the reply's Status struct, over JSON-RPC: POST ``path`` on the connection
    ``transport`` makes (the same TLS trust as XML-RPC's). Ints come back as numbers and
    dateTimes as ISO 8601 strings, which xm reads as it reads XML-RPC's forms (from_wire).
    What is not a JSON-RPC reply raises what xmlrpc.client raises for a bad XML-RPC one,
    so that the Client's handling of both is one."""

    _RETRIED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                ConnectionAbortedError)

    def __init__(self, transport, host, path):
        self._transport = transport
        self._host = host
        self._path = path

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *params: self._call(method, params)

    def _post(self, body):
        # A kept-alive connection the daemon closed while idle fails at once: one new
        # connection, as xmlrpc.client's Transport does.
        for attempt in (1, 2):
            conn = self._transport.make_connection(self._host)
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                return resp, resp.read()
            except self._RETRIED:
                self._transport.close()
                if attempt == 2:
                    raise
            except BaseException:
                self._transport.close()
                raise

    def _call(self, method, params):
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params),
                           "id": 1}).encode("utf-8")
        resp, data = self._post(body)
        if resp.status != 200:
            raise xmlrpc.client.ProtocolError(self._host + self._path, resp.status,
                                              resp.reason, resp.msg)
        try:
            reply = json.loads(data)
            error = reply.get("error")
            if error is None:
                return {"Status": "Success", "Value": reply["result"]}
            if error["code"] == 1:   # an API failure: its code and params
                return {"Status": "Failure",
                        "ErrorDescription": [error["message"]] + list(error["data"])}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise xmlrpc.client.ResponseError("not a JSON-RPC reply") from None
        raise xmlrpc.client.Fault(error.get("code"), error.get("message"))
