"""Dispatch: from (method name, params, peer) to a reply struct.

Dispatch knows what the method table (methods.py, from the datamodel) says of a
method, and nothing of what the call does. In order it: resolves the method name
(aliases of the spec's own examples included); checks the session, the parameter
count, each parameter's type and refs (against the store), that a root-only
method is called by root, and for a VM lifecycle operation that the lifecycle
table (lifecycle.py) allows it now, through the domain owner's ``check``; then
calls the implementation, or for ``Async.`` hands it to the task manager, and
puts its result in the wire form of the peer's protocol (XML-RPC's, or JSON-RPC's
when the peer's ``json`` is set). Every outcome is a Status struct; an unexpected
exception is logged with its traceback and answered INTERNAL_ERROR without one.

A map handed back as (key, value) pairs rather than a dict (get_all_records)
is put in wire form pair by pair as the reply is written (``codec.Members``).
An error while making a pair is judged as it would have been here, and the
reply is given up (``codec.Abandon``) for that failure: the listener sends it
if nothing of the reply is out yet, and otherwise ends the connection.
"""

import dataclasses
import logging
import re
import time

from ..backend.base import BackendError
from . import datamodel, forwarding, lifecycle
from .codec import Abandon, Members, failure, success
from .errors import ApiError
from .types import Map
from .values import check_value

log = logging.getLogger("xend.dispatch")


@dataclasses.dataclass
class Call:
    """What a handler knows about the call it serves."""
    app: object
    method: str
    session: object = None          # sessions.Session, None for login
    peer: object = None

    @property
    def user(self):
        return self.session.user if self.session else ""

    @property
    def is_root(self):
        return bool(self.session and self.session.is_root)

    @property
    def revision(self):
        """The API revision the session speaks (datamodel.REVISIONS)."""
        return self.session.revision if self.session else "0.2"

    @property
    def json(self):
        """Whether the reply goes out over JSON-RPC: values in its wire form."""
        return bool(self.peer and self.peer.json)


def loggable(description):
    """An error description safe for the log: session refs are credentials, so any
    parameter that names a session (SESSION_INVALID's, a session HANDLE_INVALID's)
    is blanked."""
    code, params = description[0], list(description[1:])
    if code in ("SESSION_INVALID", "SESSION_NOT_REGISTERED"):
        params = ["(session)"] * len(params)
    elif code in ("HANDLE_INVALID", "UUID_INVALID") and params[:1] == ["session"]:
        params = ["session", "(session)"]
    return [code] + params


_ACCESSOR = re.compile(r"^(get|set|add_to|remove_from)_?(.+)$")
_WRITE = re.compile(r"^(set|add_to|remove_from)_(.+)$")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


class Dispatcher:
    """Answers calls from the method tables built by methods.build(), one per revision:
    a call is resolved in the draft's table (every name but a few is in both), then in
    its session's revision's."""

    def __init__(self, app, tables):
        self.app = app
        self.tables = tables
        self.table = tables["0.2"]
        self._classes = {c.lower(): c for c in datamodel.CLASSES}
        self._aliases = {}
        self.stats = {}   # method -> [calls, failures, seconds], for GET /metrics

    # -- names ----------------------------------------------------------------

    def resolve(self, name, rev="0.2"):
        """The Method for a wire name or one of the spec's spellings, as revision ``rev``
        declares it, or None."""
        table = self.tables[rev]
        m = table.get(name)
        if m is not None:
            return m
        if name in datamodel.ALIASES:
            return table.get(datamodel.ALIASES[name])
        if name in self._aliases:
            return table.get(self._aliases[name])
        canonical = self._canonical(name)
        if canonical is not None and canonical in table:
            if len(self._aliases) < 10000:
                self._aliases[name] = canonical
            return table[canonical]
        return None

    def _canonical(self, name):
        """Map the spec's example spellings onto wire names.

        ``Session.do_login_with_password`` / ``Session.Login_with_password`` ->
        ``session.login_with_password``; ``VM.do_list`` -> ``VM.list``;
        ``VM.getname_label`` -> ``VM.get_name_label``; ``Task.GetStatus`` ->
        ``task.get_status``.
        """
        cls, _, msg = name.partition(".")
        cls = self._classes.get(cls.lower())
        if cls is None or not msg:
            return None
        if msg.startswith("do_"):
            msg = msg[3:]
        if msg[:1].isupper():
            msg = _CAMEL.sub(r"_\1", msg).lower() if "_" not in msg else msg[0].lower() + msg[1:]
        candidate = "%s.%s" % (cls, msg)
        if candidate in self.table:
            return candidate
        m = _ACCESSOR.match(msg)
        if m:
            return "%s.%s_%s" % (cls, m.group(1), m.group(2))
        return None

    # -- calls ---------------------------------------------------------------

    def dispatch(self, name, params, peer):
        """Answer one call; always returns a Status struct.

        ``Async.X`` is checked exactly as ``X`` would be, then handed to the task
        manager, which answers with the new task's ref (§1.4.3)."""
        return self._counted(name, params, peer, None)

    def dispatch_as(self, name, params, session, peer):
        """Answer a call another member of the pool forwarded (transport/poolchannel.py):
        ``params`` without a session, made in ``session`` (its user and revision, as the
        caller's session on that member had them); checked as any call is."""
        return self._counted(name, params, peer, session)

    def _counted(self, name, params, peer, session):
        started = time.monotonic()
        reply, key = self._dispatch(name, params, peer, session)
        entry = self.stats.setdefault(key, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += reply["Status"] != "Success"
        entry[2] += time.monotonic() - started
        return reply

    def _dispatch(self, name, params, peer, session=None):
        """(reply, the method's name for the call counters); ``session``: the session
        a forwarded call is made in (its params then hold none)."""
        key = "(unknown)"
        try:
            asynchronous = name.startswith("Async.") and name not in datamodel.ALIASES
            called = name[len("Async."):] if asynchronous else name
            # Known in some revision? (Which one the session speaks is known once it is
            # checked: a few names mean different things, and a few are only 1.0's.)
            found_in = "0.2"
            method = self.resolve(called)
            if method is None:
                found_in = "1.0"
                method = self.resolve(called, found_in)
            if method is not None:
                key = ("Async." if asynchronous else "") + method.name
            if method is None or (asynchronous and not datamodel.CLASSES[method.cls].asynchronous):
                raise self._unknown(called, name)
            call = Call(self.app, method.name, peer=peer)
            args = list(params)
            if method.session:
                if session is None and not args:
                    raise ApiError("SESSION_INVALID", "")
                call.session = session or self.app.sessions.check(args.pop(0))
                peer.authenticated = True
                rev = peer.revision = call.session.revision
                if rev != found_in:
                    method = self.resolve(method.name, rev)
                    if method is None:
                        raise self._unknown(called, name)
            if forwarding.may_forward(self.app, method):
                self.app.store.catch_up()
            try:
                args = self.check_args(method, args)
            except ApiError as e:
                # An object made through another member of the pool a moment ago may not
                # be in this one's copy yet: read the latest commits, then judge again.
                if e.code != "HANDLE_INVALID":
                    raise
                self.app.store.catch_up()
                args = self.check_args(method, args)
            if method.root_only and not call.is_root:
                raise ApiError("PERMISSION_DENIED", "%s is for root only" % method.name)
            if method.lifecycle:
                self.check_lifecycle(method, args)
            # A guest resident on another member is acted on there, once (never again
            # from there): the call is bound to the pool channel instead.
            host = None if peer.forwarded else forwarding.resident_host(self.app, method, args)
            if host is not None:
                method = dataclasses.replace(method, impl=forwarding.forwarded(
                    self.app, host, method))
            if asynchronous:
                value = self.app.tasks.submit(call, method, args)
            else:
                value = method.impl(call, *args)
                if isinstance(method.result, Map) and type(value) is not dict:
                    value = Members(self._as_written(
                        name, key, method.result.wire_pairs(value, peer.json)))
                elif method.result is not None:
                    value = (method.result.to_json if peer.json
                             else method.result.to_wire)(value)
            log.debug("%s by %s: Success", name[:200], call.user or "-")
            return success(value), key
        except Exception as e:
            return self.failure(name, e), key

    def failure(self, name, e):
        """The failure reply for ``e``, raised while answering ``name``; logged. Called
        in the ``except`` block that caught it (here, and by the pool channel for an
        internal operation)."""
        if isinstance(e, (ApiError, BackendError)):
            err = ApiError.of(e)
            log.info("%s: %s", name[:200], " ".join(loggable(err.description))[:500])
            return failure(err.description)
        # A bug: log it whole, tell the client only its kind.
        log.exception("internal error in %s", name[:200])
        return failure(["INTERNAL_ERROR", "%s in %s" % (type(e).__name__, name[:200])])

    def _as_written(self, name, key, pairs):
        """``pairs``, each made as the reply's writer asks for it. The time spent making
        them counts as the call's; an error becomes Abandon(the failure it would have
        been had the pairs been made in dispatch), counted as a failed call."""
        entry = self.stats.setdefault(key, [0, 0, 0.0])
        pairs = iter(pairs)
        clock = time.monotonic
        try:
            while True:
                started = clock()
                try:
                    pair = next(pairs)
                except StopIteration:
                    return
                finally:
                    entry[2] += clock() - started
                yield pair
        except Exception as e:
            entry[1] += 1
            raise Abandon(self.failure(name, e)) from None

    def _unknown(self, name, as_called):
        """FIELD_READ_ONLY for a write to an RO field, else MESSAGE_METHOD_UNKNOWN."""
        cls, _, msg = name.partition(".")
        c = datamodel.CLASSES.get(self._classes.get(cls.lower(), ""))
        m = _WRITE.match(msg)
        if c is not None and m and c.field(m.group(2)) is not None:
            f = c.field(m.group(2))
            if f.qual != datamodel.RW:
                return ApiError("FIELD_READ_ONLY", f.wire)
        return ApiError("MESSAGE_METHOD_UNKNOWN", as_called[:200])

    def check_args(self, method, args):
        """Check the count and type of each argument; returns the converted values."""
        low = method.min_params
        if not low <= len(args) <= method.arity:
            # With optional trailing parameters (login's version, originator) the count
            # expected is the bound that was missed: the least when too few were given.
            expected = low if len(args) < low else method.arity
            raise ApiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method.name,
                           expected, len(args))
        return [check_value(p.type, a, p.name, self.app.objects, allow_null=p.nullable)
                for p, a in zip(method.params, args)]

    def check_lifecycle(self, method, args):
        """The domain owner's checks (VM_IS_TEMPLATE, VM_BAD_POWER_STATE, ...) before
        anything is done."""
        start_paused = len(args) > 1 and args[1] is True and method.lifecycle in (
            "start", "resume")
        # In a pool the call may be carried out by another member (placement,
        # forwarding): this host's own fitness is checked where it runs, not here.
        self.app.domains.check(args[0], lifecycle.table_op(method.lifecycle, start_paused),
                               here=self.app.pool_channel is None)
