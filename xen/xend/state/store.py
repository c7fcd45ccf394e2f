"""The object store: every API object's record, in memory, made durable by an engine.

Reads are served from memory without a lock: records are never changed in
place, a write replaces the whole record, so a reader sees either the old or the
new one. Writes go through a ``Transaction``; on commit the engine makes the
changed rows durable (one database transaction) before memory is updated and
before the caller replies, so a Success reply survives ``kill -9``. A commit the
database has no room for changes nothing and is HOST_STATE_FULL; one the engine
cannot reach its database for changes nothing and is HOST_STATE_UNAVAILABLE.

The engine (``Engine`` below is the contract) is what the records persist in:
``state/sqlite.py`` (one file in the state directory, the default) or
``state/postgres.py`` (a database several daemons may share). An engine shared
with other daemons hands the store the changes they committed: before each
transaction (so that its checks never judge a stale copy) and as they come (its
follower thread calls ``catch_up``); the store applies them and calls its
listeners for them as for its own, all in one commit order. An engine that no
longer holds every commit since the last it handed over (its log was pruned past
them) hands a ``Reload`` instead: the store replaces its stored classes' records
with it and tells its listeners the difference, as one commit.

The store knows records, rows and indexes; it does not know what a field
means. Two kinds of index are kept, both declared by the caller:

  * reverse indexes of Ref fields (``cls.field -> target -> referrers``): the
    Set side of every bound pair is read from these, so it can never disagree
    with the Ref side it mirrors;
  * lookup indexes (``cls.field -> value -> refs``) for get_by_name_label and
    get_by_short_name, so lookups cost the same at 10 or 10,000 objects.

It also keeps totals (``cls.field -> target -> sum``): per target of a Ref field,
the sum of a weight its referrers' records give (the bytes an SR's VDIs take),
kept up to date on every write, so reading one costs the same at any number
of referrers.

Classes listed as volatile (sessions, tasks) live only in memory.
"""

import logging
import threading

log = logging.getLogger("xend.store")


class Engine:
    """Where the store's records persist: the contract, and itself the engine of a
    store kept in memory only (unit tests). The store calls every method but
    ``load`` under its write lock.

    A change is a tuple (op, cls, ref, record, private), op in add|mod|del; a
    commit is a list of changes."""

    # The pool's shared secret (transport/poolchannel.py), on an engine several hosts
    # share, known once ``load`` ran; None where the host is alone.
    pool_secret = None

    def load(self):
        """Every stored (cls, ref, record, private), once, when the store opens."""
        return ()

    def follow(self, store):
        """Start handing ``store`` the commits other writers make, through
        ``store.catch_up()``; called once the store is loaded."""

    def stop_following(self):
        """Stop what ``follow`` started (called without the store's lock)."""

    def begin(self):
        """A write transaction starts: the commits others made since the last
        ones handed over, in commit order, for the store to apply before the
        transaction's checks run, or a ``Reload`` if some of those are lost.
        Writers are serialised from here to ``commit`` or ``abort``."""
        return ()

    def poll(self):
        """Like ``begin``, outside a write transaction (for ``catch_up``)."""
        return ()

    def commit(self, changes):
        """Make ``changes`` durable (the persistent classes' only), in one database
        transaction; raise ApiError (HOST_STATE_FULL, HOST_STATE_UNAVAILABLE)
        with nothing written if that cannot be done."""

    def abort(self):
        """The write transaction ends with nothing to write."""

    def close(self):
        """Release the database; the engine is not used afterwards."""


class Reload(list):
    """What ``Engine.begin`` or ``poll`` hands over in place of commits when it no longer
    has every commit since the last ones it handed over: every stored (cls, ref, record,
    private) as they are now, in ``load``'s form, read at one point in commit order."""


class Store:
    """In-memory records made durable by an ``Engine``."""

    def __init__(self, engine, classes, reverse_fields=(), lookup_fields=(), volatile=(),
                 totals=None):
        """``engine``: an Engine (state/sqlite.py, state/postgres.py), or None to keep
        everything in memory (unit tests); ``classes``: class names;
        ``reverse_fields``/``lookup_fields``: (class, wire) pairs to index; ``totals``:
        {(class, Ref field): weight(record) -> number} to sum per target; ``volatile``:
        classes never written to the engine."""
        self._tables = {c: {} for c in classes}
        self._private = {}
        self._class_of = {}
        self._reverse = {k: {} for k in reverse_fields}
        self._lookup = {k: {} for k in lookup_fields}
        self._totals = {k: (weight, {}) for k, weight in (totals or {}).items()}
        self._volatile = frozenset(volatile)
        self._lock = threading.RLock()
        self._depth = 0        # transactions open in the thread holding the lock (nested)
        self._listeners = []
        self._engine = engine or Engine()
        for cls, ref, record, private in self._engine.load():
            if cls in self._tables:   # else a class this version no longer has: kept, unread
                self._apply(cls, ref, record, private)
        self._engine.follow(self)

    def close(self):
        """Close the engine; the store must not be used afterwards."""
        self._engine.stop_following()   # outside the lock: the follower may wait for it
        with self._lock:
            self._engine.close()

    # -- reads (no lock) -------------------------------------------------

    def get(self, cls, ref):
        """The record of ``ref`` in ``cls``, or None. Do not modify it."""
        return self._tables[cls].get(ref)

    def class_of(self, ref):
        """The class of any object's ref, or None if there is no such object."""
        return self._class_of.get(ref)

    def refs(self, cls):
        """Every ref of ``cls``, in creation order."""
        return list(self._tables[cls])

    def records(self, cls):
        """(ref, record) pairs of ``cls``, a snapshot."""
        return list(self._tables[cls].items())

    def count(self, cls):
        return len(self._tables[cls])

    def private(self, ref):
        """The daemon's own data about ``ref`` (never sent on the wire)."""
        return self._private.get(ref, {})

    def referrers(self, cls, field, target):
        """Refs of ``cls`` whose Ref field ``field`` points at ``target``."""
        return list(self._reverse[(cls, field)].get(target, ()))

    def lookup(self, cls, field, value):
        """Refs of ``cls`` whose ``field`` equals ``value`` (an indexed field)."""
        return list(self._lookup[(cls, field)].get(value, ()))

    def total(self, cls, field, target):
        """The sum of the weights of the ``cls`` records whose ``field`` is ``target``."""
        return self._totals[(cls, field)][1].get(target, 0)

    # -- writes ----------------------------------------------------------

    def locked(self):
        """Hold off every writer (for a snapshot that must match one point in commit order)."""
        return self._lock

    def transaction(self, local=False):
        """A Transaction; use as ``with store.transaction() as t:``. Commits on exit.

        ``local``: the transaction writes volatile classes only (sessions, tasks) and
        judges nothing but them, so it neither waits for other daemons' writers nor
        catches up with their commits first (should it write a stored class after
        all, the store catches up before that commit)."""
        return Transaction(self, local)

    def add_listener(self, fn):
        """Call ``fn(changes)`` after every commit, in commit order, under the write lock.
        ``changes`` is a list of (op, cls, ref, record, old record) with op in
        add|mod|del (old record None for add)."""
        self._listeners.append(fn)

    def catch_up(self):
        """Apply the commits others made to the engine's database since the last
        ones applied (the engine's follower calls this when told of some)."""
        with self._lock:
            self._publish_remote(self._engine.poll())

    def _begin(self):
        self._publish_remote(self._engine.begin())

    def _publish_remote(self, commits):
        if isinstance(commits, Reload):
            commits = [self._difference(commits)]
        for changes in commits:
            changes = [c for c in changes if c[1] in self._tables]
            if changes:
                self._publish(changes)

    def _difference(self, objects):
        """The changes that turn the stored classes' records in memory into ``objects``
        (a ``Reload``): a del for each object gone, an add or mod for each one new or
        changed, so that listeners learn of every difference the lost commits made."""
        now = {ref: (cls, rec, priv) for cls, ref, rec, priv in objects if cls in self._tables}
        changes = [("del", cls, ref, rec, {}) for cls, table in self._tables.items()
                   if cls not in self._volatile
                   for ref, rec in table.items() if ref not in now]
        for ref, (cls, rec, priv) in now.items():
            if self._tables[cls].get(ref) is None:
                changes.append(("add", cls, ref, rec, priv))
            elif self._tables[cls][ref] != rec or self.private(ref) != priv:
                changes.append(("mod", cls, ref, rec, priv))
        return changes

    def _commit(self, changes):
        rows = [c for c in changes if c[1] not in self._volatile]
        if rows:
            self._begin()   # a no-op unless local, or a nested transaction's commit ended ours
            self._engine.commit(rows)
        self._publish(changes)

    def _publish(self, changes):
        """Apply committed ``changes`` to memory and tell the listeners."""
        events = []
        for op, cls, ref, rec, priv in changes:
            events.append((op, cls, ref, rec, self._tables[cls].get(ref)))
            if op == "del":
                self._remove(cls, ref)
            else:
                self._apply(cls, ref, rec, priv)
        for fn in self._listeners:
            try:
                fn(events)
            except Exception:   # a listener's bug: the commit stands, the others hear it
                log.exception("store: a listener failed on a commit of %d change(s)",
                              len(events))

    def _apply(self, cls, ref, record, private):
        old = self._tables[cls].get(ref)
        self._unindex(cls, ref, old)
        self._tables[cls][ref] = record
        self._class_of[ref] = cls
        if private:
            self._private[ref] = private
        else:
            self._private.pop(ref, None)
        for (c, f), index in self._reverse.items():
            if c == cls and record.get(f):
                index.setdefault(record[f], {})[ref] = None
        for (c, f), index in self._lookup.items():
            if c == cls:
                index.setdefault(record.get(f), {})[ref] = None
        for (c, f), (weight, sums) in self._totals.items():
            if c == cls and record.get(f):
                sums[record[f]] = sums.get(record[f], 0) + weight(record)

    def _remove(self, cls, ref):
        old = self._tables[cls].pop(ref, None)
        self._unindex(cls, ref, old)
        self._class_of.pop(ref, None)
        self._private.pop(ref, None)

    def _unindex(self, cls, ref, old):
        if old is None:
            return
        for (c, f), (weight, sums) in self._totals.items():
            if c == cls and old.get(f):
                left = sums[old[f]] - weight(old)
                if left:
                    sums[old[f]] = left
                else:
                    del sums[old[f]]
        for indexes in (self._reverse, self._lookup):
            for (c, f), index in indexes.items():
                if c == cls:
                    holders = index.get(old.get(f))
                    if holders is not None:
                        holders.pop(ref, None)
                        if not holders:
                            del index[old.get(f)]


class Transaction:
    """Changes gathered under the store's write lock, applied all together or not at all.

    Reads through the transaction see its own pending changes.
    """

    def __init__(self, store, local):
        self._store = store
        self._local = local
        self._pending = {}     # ref -> (op, cls, record, private); op None while unchanged
        self._order = []

    def __enter__(self):
        store = self._store
        store._lock.acquire()
        store._depth += 1
        try:
            if store._depth == 1 and not self._local:
                store._begin()
        except BaseException:
            store._depth -= 1
            store._lock.release()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        store = self._store
        try:
            if exc_type is None and self._order:
                store._commit([(self._pending[r][0], self._pending[r][1], r,
                                self._pending[r][2], self._pending[r][3])
                               for r in self._order])
        finally:
            try:
                if store._depth == 1:
                    store._engine.abort()   # ends what began if nothing was committed
            finally:
                store._depth -= 1
                store._lock.release()
        return False

    def get(self, cls, ref):
        """The record as this transaction sees it, or None."""
        if ref in self._pending:
            op, c, rec, _ = self._pending[ref]
            return None if op == "del" or c != cls else rec
        return self._store.get(cls, ref)

    def private(self, ref):
        if ref in self._pending:
            return self._pending[ref][3]
        return self._store.private(ref)

    def exists(self, ref):
        if ref in self._pending:
            return self._pending[ref][0] != "del"
        return self._store.class_of(ref) is not None

    def referrers(self, cls, field, target):
        """Like Store.referrers, seeing this transaction's pending changes."""
        out = {r: None for r in self._store.referrers(cls, field, target)
               if r not in self._pending}
        for r, (op, c, rec, _) in self._pending.items():
            if c == cls and op != "del" and rec.get(field) == target:
                out[r] = None
        return list(out)

    def total(self, cls, field, target):
        """Like Store.total, seeing this transaction's pending changes."""
        weight = self._store._totals[(cls, field)][0]
        out = self._store.total(cls, field, target)
        for r, (op, c, rec, _) in self._pending.items():
            if c != cls:
                continue
            old = self._store.get(cls, r)
            if old is not None and old.get(field) == target:
                out -= weight(old)
            if op != "del" and rec.get(field) == target:
                out += weight(rec)
        return out

    def _touch(self, op, cls, ref, record, private):
        if ref not in self._pending:
            self._order.append(ref)
        elif self._pending[ref][0] == "add" and op == "mod":
            op = "add"   # created and changed in one transaction: still one add
        self._pending[ref] = (op, cls, record, private)

    def create(self, cls, ref, record, private=None):
        """Add a new object."""
        self._touch("add", cls, ref, dict(record), dict(private or {}))

    def update(self, cls, ref, changes):
        """Replace some fields of an existing object."""
        rec = dict(self.get(cls, ref))
        rec.update(changes)
        self._touch("mod", cls, ref, rec, self.private(ref))

    def set_private(self, cls, ref, private):
        """Replace the daemon's own data about ``ref``."""
        self._touch("mod", cls, ref, self.get(cls, ref), dict(private))

    def delete(self, cls, ref):
        """Remove an object."""
        if ref in self._pending and self._pending[ref][0] == "add":
            self._order.remove(ref)
            del self._pending[ref]
            return
        self._touch("del", cls, ref, self.get(cls, ref), {})
