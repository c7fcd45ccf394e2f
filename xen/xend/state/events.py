"""Events, as in the later Xen-API: event.register/unregister/next and event.from.

Every committed change in the store becomes exactly one event, in commit
order, appended to one shared log, bounded both in events and in the bytes
of the records they carry (a client rewriting a megabyte field must not make
the log hold a copy of every version). Subscribers never get a queue of
their own: each holds a cursor (an event id) into the log, so a writer's cost
does not grow with the number of subscribers, and a slow or vanished one
blocks nobody. A subscriber whose cursor has fallen out of the log gets
EVENTS_LOST and starts again.

Tokens are "EPOCH:ID": EPOCH changes at every daemon start, so a token from
an earlier run is recognised and answered with EVENTS_LOST, not misread.
"""

import re
import secrets
import threading
import time

from ..api import datamodel, xmltime
from ..api.errors import ApiError
from ..api.types import DateTime, Int


class Subscription:
    """A parsed set of subscriptions: class names, "*", or "class/ref"."""

    def __init__(self, specs):
        self.all = False
        self.classes = set()
        self.objects = set()
        for spec in specs:
            self.add(spec)

    def add(self, spec):
        self._change(spec, True)

    def remove(self, spec):
        self._change(spec, False)

    def _change(self, spec, on):
        if spec == "*":
            self.all = on
            return
        cls, slash, ref = spec.partition("/")
        name = _class_name(cls)
        if name is None or (slash and not ref):
            raise ApiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", spec)
        target, item = (self.objects, (name, ref)) if ref else (self.classes, name)
        target.add(item) if on else target.discard(item)

    def matches(self, cls, ref):
        return self.all or cls in self.classes or (cls, ref) in self.objects

    def class_names(self):
        """The classes this subscription can see at all."""
        if self.all:
            return [c for c, k in datamodel.CLASSES.items() if k.objects]
        return sorted(self.classes | {c for c, _ in self.objects})


# How often a waiting event.from or event.next looks whether its client hung up: an
# abandoned wait frees its connection's slot within this many seconds.
HANGUP_CHECK = 1.0

_ID = re.compile(r"\A[0-9]{1,19}\Z")
_LOWER = {c.lower(): c for c, k in datamodel.CLASSES.items() if k.objects}


def _class_name(name):
    return _LOWER.get(name.lower())


class EventLog:
    """The shared, bounded log of committed changes and the waiters on it."""

    def __init__(self, app, capacity=20000, max_bytes=64 * 2 ** 20):
        self.app = app
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.epoch = secrets.token_hex(4)
        self._events = []          # event dicts, ids consecutive
        self._bytes = 0            # what the events' snapshots hold, about (event_size)
        self._first = 1            # id of self._events[0]
        self._next_id = 1
        self._cond = threading.Condition()
        self._registered = {}      # session ref -> [Subscription, cursor]
        app.store.add_listener(self._on_commit)

    # -- writing (called by the store under its write lock) ---------------------

    def _on_commit(self, changes):
        now = xmltime.stamp(time.time())
        batch = []
        direct = {ref for _, _, ref, _, _ in changes}
        for op, cls, ref, record, old in changes:
            if datamodel.CLASSES[cls].objects:
                batch.append(self._event(now, op, cls, ref, record))
        # The other side of a bound pair changed too: VBD.create changes VM.VBDs. Its
        # snapshot is taken when the event is delivered: an ISO shared by 10,000 VMs has a
        # VBDs set of 20,000, and copying it at every VBD commit would make creation O(n^2).
        for cls, ref in _bound_owners(changes):
            record = self.app.store.get(cls, ref)
            if ref not in direct and record is not None:
                direct.add(ref)
                ev = self._event(now, "mod", cls, ref, record, snapshot=False)
                ev["_late_snapshot"] = True
                batch.append(ev)
        if not batch:
            return
        with self._cond:
            for ev in batch:
                ev["id"] = self._next_id
                self._next_id += 1
                self._events.append(ev)
                self._bytes += ev["_size"]
            # Trimmed to half of a bound once it is passed, so that trimming is rare.
            if len(self._events) > 2 * self.capacity or self._bytes > self.max_bytes:
                self._trim(len(self._events) - self.capacity, self.max_bytes // 2)
            self._cond.notify_all()

    def _trim(self, count, keep_bytes):
        """Drop the oldest events: at least ``count``, and more until the rest hold at most
        ``keep_bytes``. A cursor left before the first kept event gets EVENTS_LOST."""
        drop, freed = 0, 0
        while drop < len(self._events) and (
                drop < count or self._bytes - freed > keep_bytes):
            freed += self._events[drop]["_size"]
            drop += 1
        del self._events[:drop]
        self._first += drop
        self._bytes -= freed

    def _event(self, now, op, cls, ref, record, snapshot=True):
        handler = self.app.handlers[cls]
        ev = {"id": 0, "timestamp": now, "class": cls.lower(), "operation": op, "ref": ref,
              "obj_uuid": ref, "_cls": cls, "_owner": handler.owner_of(ref, record)}
        if op != "del" and snapshot:
            ev["snapshot"] = handler.wire_record(ref, record)
        ev["_size"] = EVENT_OVERHEAD + _size(ev.get("snapshot"))
        return ev

    # -- reading ---------------------------------------------------------------

    def last_id(self):
        return self._next_id - 1

    def token(self, event_id):
        return "%s:%d" % (self.epoch, event_id)

    def parse_token(self, token):
        """The event id a token names; EVENTS_LOST for another run's token."""
        epoch, sep, num = token.partition(":")
        if not sep or not _ID.match(num):
            raise ApiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token)
        if epoch != self.epoch:
            raise ApiError("EVENTS_LOST")
        return int(num)

    def _since(self, cursor, sub, call):
        """Events after ``cursor`` the subscription and the caller may see."""
        if cursor + 1 < self._first:
            raise ApiError("EVENTS_LOST")
        start = cursor + 1 - self._first
        rev, json = call.revision, call.json
        return [self._public(ev, rev, json) for ev in self._events[start:]
                if sub.matches(ev["_cls"], ev["ref"]) and _may_see(call, ev)]

    def _public(self, ev, rev, json=False):
        """The event as a session of revision ``rev`` gets it (``json``: in JSON-RPC's
        wire form). Its snapshot is the record of the commit, in the draft's names and
        XML-RPC's form; another revision's session, or a JSON-RPC client, gets the record
        as it is now, in its own names and form (as does the other side of a bound
        pair)."""
        out = _wire({k: v for k, v in ev.items() if not k.startswith("_")}, json)
        if ev.get("_late_snapshot") or ((rev != "0.2" or json) and "snapshot" in ev):
            record = self.app.store.get(ev["_cls"], ev["ref"])
            if record is not None:
                out["snapshot"] = self.app.handlers[ev["_cls"]].wire_record(
                    ev["ref"], record, rev, json)
            elif json and "snapshot" in ev:   # deleted since: the commit's record, as JSON
                out["snapshot"] = self.app.handlers[ev["_cls"]].json_of_draft(ev["snapshot"])
        return out

    def wait_since(self, cursor, sub, call, timeout):
        """Block up to ``timeout`` for visible events after ``cursor``; (events, new cursor).
        Returns early, with none, once the caller's client has hung up."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                events = self._since(cursor, sub, call)
                last = self.last_id()
                remaining = deadline - time.monotonic()
                if events or remaining <= 0 or self._hung_up(call):
                    return events, last
                cursor = last
                self._cond.wait(min(remaining, HANGUP_CHECK))

    @staticmethod
    def _hung_up(call):
        peer = getattr(call, "peer", None)
        return peer is not None and peer.gone()

    # -- event.from ---------------------------------------------------------------

    def event_from(self, call, classes, token, timeout):
        sub = Subscription(classes)
        timeout = min(max(timeout, 0.0), 3600.0)
        if token == "":
            with self.app.store.locked():   # the snapshot and its token: one point in time
                cursor = self.last_id()
                events = self._current_objects(call, sub)
        else:
            events, cursor = self.wait_since(self.parse_token(token), sub, call, timeout)
        counts = {c.lower(): len(self.app.handlers[c].all_refs(call))
                  for c in sub.class_names()}
        return {"events": events, "valid_ref_counts": counts, "token": self.token(cursor)}

    def _current_objects(self, call, sub):
        """An "add" for every existing object the subscription covers."""
        now = xmltime.stamp(time.time())
        out = []
        for cls in sub.class_names():
            h = self.app.handlers[cls]
            for ref, rec in h.visible_records(call):
                if sub.matches(cls, ref):
                    out.append(_wire({"id": self.last_id(), "timestamp": now,
                                      "class": cls.lower(), "operation": "add", "ref": ref,
                                      "obj_uuid": ref,
                                      "snapshot": h.wire_record(ref, rec, call.revision,
                                                                call.json)}, call.json))
        return out

    # -- event.register / unregister / next ------------------------------------------

    def register(self, session, classes):
        """Add ``classes`` to the session's subscription; none at all means every class
        (Xen-API 1.0: "the empty list will register for all classes")."""
        classes = list(classes) or ["*"]
        Subscription(classes)   # parse first: a malformed subscription registers nothing
        with self._cond:
            entry = self._registered.setdefault(session, [Subscription([]), self.last_id()])
            for c in classes:
                entry[0].add(c)

    def unregister(self, session, classes):
        with self._cond:
            entry = self._registered.get(session)
            if entry:
                for c in classes:
                    entry[0].remove(c)

    def next(self, call, poll=1.0):
        """Block until registered events arrive; returns them."""
        session = call.session.ref
        while True:
            entry = self._registered.get(session)
            if entry is None:
                raise ApiError("SESSION_NOT_REGISTERED", session)
            sub, cursor = entry
            try:
                events, last = self.wait_since(cursor, sub, call, poll)
            except ApiError:
                entry[1] = self.last_id()   # start afresh after EVENTS_LOST
                raise
            entry[1] = last
            if events or self._hung_up(call):
                return events
            self.app.sessions.check(session)   # a logged-out waiter stops waiting

    def forget(self, session):
        with self._cond:
            self._registered.pop(session, None)


# Bytes an event costs besides its snapshot's strings (its dict and fixed fields).
EVENT_OVERHEAD = 1000


def _size(value):
    """About how many bytes a wire record's strings take: what grows with what clients
    write. Containers and small values count a fixed amount each."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return 8


def _bound_owners(changes):
    """(class, ref) of every object whose bound Set field a change altered, in order."""
    out = []
    for op, cls, ref, record, old in changes:
        for b in datamodel.BINDINGS:
            if b.ref_class != cls:
                continue
            before = (old or {}).get(b.ref_field, "") if op != "add" else ""
            after = record.get(b.ref_field, "") if op != "del" else ""
            if before != after:
                out += [(b.set_class, t) for t in (before, after) if t]
    return out


def _wire(ev, json=False):
    """A public event with its id and timestamp in their wire types: over XML-RPC the
    id by the Int rule (a decimal string), the timestamp a dateTime; over JSON-RPC
    (``json``) a number and an ISO 8601 string."""
    ev["id"] = Int.to_json(ev["id"]) if json else Int.to_wire(ev["id"])
    ev["timestamp"] = DateTime.to_json(ev["timestamp"]) if json else \
        DateTime.to_wire(ev["timestamp"])
    return ev


def _may_see(call, ev):
    owner = ev["_owner"]
    return owner is None or call.is_root or owner in (
        "user:" + call.user, "session:" + call.session.ref)

