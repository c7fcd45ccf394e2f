"""The pool channel: calls from one member of a pool to another (docs/pool.md,
"Host-to-host calls").

A member reaches another over HTTPS: the other's ``host.address`` (its configuration's
``pool_address``) and the port of its TLS listener (kept in its host record), its
certificate checked against ``pool_ca_file``. Each request is ``POST /pool`` with the
pool's secret in the ``Pool-Secret`` header: random bytes the pool's first member put
in the database's ``meta`` table (never in ``objects``, so never in a record, an event
or a log line), compared in constant time. The route answers on the TLS listener only;
any other listener, or a daemon alone (SQLite), answers 404.

The body is JSON, one of two kinds of call:

* ``{"forward": METHOD, "params": [...], "user": USER, "revision": REV}``: an API call
  carried out by the receiving host as its original caller (the same user, the same API
  revision), its parameters in JSON-RPC's wire form; the reply is the call's Status
  struct. A forwarded call is never forwarded again.
* ``{"internal": OP, "args": [...]}``: a host-to-host operation registered by name on
  the receiving side (``register``), never reachable from the API; the reply is a
  Status struct too, its Value the operation's result (JSON values).

A refused secret is answered 403 and logged with the client's address only.
"""

import hmac
import http.client
import json
import logging
import ssl

from ..api import datamodel
from ..api.errors import ApiError
from ..api.sessions import Peer, Session

log = logging.getLogger("xend.pool")

PATH = "/pool"
SECRET_HEADER = "Pool-Secret"
CONTENT_TYPE = "application/json"
# Seconds to connect to another member, and to wait for its reply: a forwarded call
# may be a clean shutdown or a migration, which take as long as the guest needs.
CONNECT_TIMEOUT = 10
REPLY_TIMEOUT = 3600
# Private key of a host record: the port of the host's TLS listener.
PORT_KEY = "_pool_port"


class PoolChannel:
    """This host's end of the pool channel: ``forward`` and ``internal`` call another
    member; ``answer`` serves the calls other members make (the ``POST /pool`` route)."""

    def __init__(self, app, secret, ca_file):
        self.app = app
        self._secret = secret.encode("ascii")
        self._context = ssl.create_default_context(cafile=ca_file or None)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._ops = {"ping": lambda: app.host_ref}

    def register(self, op, fn):
        """Make ``fn(*args)`` the internal operation ``op`` other members may call."""
        self._ops[op] = fn

    # -- calling another member ----------------------------------------------------------

    def forward(self, host, method, params, user, revision, asynchronous=False):
        """Carry out the API call ``method`` (a methods.Method) with the checked
        ``params`` on ``host`` as ``user`` speaking ``revision``; its value (as the
        method's impl returns it), or the ApiError it failed with. ``asynchronous``:
        as ``Async.`` there; the ref of its task there."""
        wire = [p.type.to_json(a) for p, a in zip(method.params, params)]
        value = self._post(host, {"forward": ("Async." if asynchronous else "") + method.name,
                                  "params": wire, "user": user, "revision": revision})
        if asynchronous:
            return value
        return None if method.result is None else method.result.from_wire(value)

    def internal(self, host, op, *args):
        """The result of ``host``'s internal operation ``op`` on ``args`` (JSON values),
        or the ApiError it failed with."""
        return self._post(host, {"internal": op, "args": list(args)})

    def _endpoint(self, host):
        rec = self.app.store.get("host", host) or {}
        if not rec.get("address") or not rec.get(PORT_KEY):
            raise ApiError("HOST_OFFLINE", host)
        return rec["address"], rec[PORT_KEY]

    def _post(self, host, body):
        address, port = self._endpoint(host)
        conn = http.client.HTTPSConnection(address, port, timeout=CONNECT_TIMEOUT,
                                           context=self._context)
        what = body.get("forward") or body.get("internal")
        try:
            conn.connect()
            conn.sock.settimeout(REPLY_TIMEOUT)
            conn.request("POST", PATH, json.dumps(body).encode("utf-8"),
                         {SECRET_HEADER: self._secret.decode("ascii"),
                          "Content-Type": CONTENT_TYPE})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise OSError("%s answered %d" % (PATH, resp.status))
            reply = json.loads(data)
        except (OSError, ValueError, http.client.HTTPException) as e:
            log.warning("pool: %s on host %s (%s:%s) failed: %s", what, host, address,
                        port, e)
            raise ApiError("HOST_OFFLINE", host) from None
        finally:
            conn.close()
        if reply.get("Status") != "Success":
            raise ApiError(*reply["ErrorDescription"])
        return reply.get("Value")

    # -- serving other members -------------------------------------------------------------

    def admits(self, secret):
        """Whether ``secret`` (the request's header, or None) is the pool's."""
        given = (secret or "").encode("utf-8", "replace")
        return hmac.compare_digest(given, self._secret)

    def answer(self, body):
        """The Status struct answering a call's ``body`` (bytes) from another member."""
        try:
            call = json.loads(body)
            if not isinstance(call, dict):
                raise TypeError("not a JSON object")
            if "forward" in call:
                return self._forwarded(call)
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            log.warning("pool: a malformed call from another member: %s", e)
            return {"Status": "Failure", "ErrorDescription":
                    ["INTERNAL_ERROR", "malformed pool call: %s" % type(e).__name__]}
        name = "pool internal %s" % str(call.get("internal"))[:200]
        try:
            op = self._ops.get(call.get("internal"))
            if op is None:
                raise ApiError("MESSAGE_METHOD_UNKNOWN", name)
            return {"Status": "Success", "Value": op(*call.get("args", []))}
        except Exception as e:    # an ApiError, a BackendError, or a bug (logged whole)
            return self.app.dispatcher.failure(name, e)

    def _forwarded(self, call):
        """Dispatch a forwarded API call as its caller on the other member made it."""
        revision = call["revision"]
        if revision not in datamodel.REVISIONS:
            raise ApiError("INVALID_VALUE", "revision", str(revision)[:40])
        session = Session("", str(call["user"]), 0.0, 0.0, revision)
        peer = Peer("pool", json=True, forwarded=True)
        # The caller's member may have committed what the call names (a VIF made just
        # before its plug) after this host last read the database.
        self.app.store.catch_up()
        return self.app.dispatcher.dispatch_as(call["forward"], list(call["params"]),
                                               session, peer)
