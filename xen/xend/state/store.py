"""The object store: every API object's record, in memory and in SQLite.

Reads are served from memory without a lock: records are never changed in
place, a write replaces the whole record, so a reader sees either the old or the
new one. Writes go through a ``Transaction``; on commit the changed rows are
written to SQLite in one transaction (WAL, synchronous=FULL) before memory is
updated and before the caller replies, so a Success reply survives ``kill -9``.
A commit the file system has no room for changes nothing and is HOST_STATE_FULL.

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

import errno
import json
import os
import sqlite3
import threading

from ..api.errors import ApiError
from ..util.files import open_own, tighten

SCHEMA_VERSION = "1"


class Store:
    """In-memory records backed by one SQLite file."""

    def __init__(self, path, classes, reverse_fields=(), lookup_fields=(), volatile=(),
                 totals=None):
        """``classes``: class names; ``reverse_fields``/``lookup_fields``: (class, wire)
        pairs to index; ``totals``: {(class, Ref field): weight(record) -> number} to
        sum per target; ``volatile``: classes never written to disk. ``path`` None keeps
        everything in memory (unit tests)."""
        self._tables = {c: {} for c in classes}
        self._private = {}
        self._class_of = {}
        self._reverse = {k: {} for k in reverse_fields}
        self._lookup = {k: {} for k in lookup_fields}
        self._totals = {k: (weight, {}) for k, weight in (totals or {}).items()}
        self._volatile = frozenset(volatile)
        self._lock = threading.RLock()
        self._listeners = []
        self._db = None
        if path is not None:
            self._open(path)

    # -- persistence -----------------------------------------------------

    def _open(self, path):
        # The database holds password hashes: root's alone, never a planted symlink's target.
        for own in (path, path + "-wal", path + "-shm"):
            tighten(own, 0o600)
        os.close(open_own(path, os.O_RDWR | os.O_CREAT))
        old_umask = os.umask(0o077)   # for the WAL and shared-memory files SQLite makes
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        finally:
            os.umask(old_umask)
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS objects (ref TEXT PRIMARY KEY, class TEXT NOT NULL,"
                   " record TEXT NOT NULL, private TEXT NOT NULL)")
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        rows = db.execute("SELECT ref, class, record, private FROM objects")
        for ref, cls, record, private in rows:
            if cls not in self._tables:
                continue   # a class this version no longer has; kept on disk untouched
            self._apply(cls, ref, json.loads(record), json.loads(private))

    def close(self):
        """Close the database; the store must not be used afterwards."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

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

    def transaction(self):
        """A Transaction; use as ``with store.transaction() as t:``. Commits on exit."""
        return Transaction(self)

    def add_listener(self, fn):
        """Call ``fn(changes)`` after every commit, in commit order, under the write lock.
        ``changes`` is a list of (op, cls, ref, record, old record) with op in
        add|mod|del (old record None for add)."""
        self._listeners.append(fn)

    def _commit(self, changes):
        rows = [(op, cls, ref, rec, priv) for op, cls, ref, rec, priv in changes
                if cls not in self._volatile]
        if rows and self._db is not None:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for op, cls, ref, rec, priv in rows:
                    if op == "del":
                        db.execute("DELETE FROM objects WHERE ref = ?", (ref,))
                    else:
                        db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                                   (ref, cls, json.dumps(rec), json.dumps(priv)))
                db.execute("COMMIT")
            except BaseException as e:
                if db.in_transaction:   # SQLite may have rolled back already (a full disk)
                    db.execute("ROLLBACK")
                if _disk_full(e):
                    raise ApiError("HOST_STATE_FULL") from None
                raise
        events = []
        for op, cls, ref, rec, priv in changes:
            events.append((op, cls, ref, rec, self._tables[cls].get(ref)))
            if op == "del":
                self._remove(cls, ref)
            else:
                self._apply(cls, ref, rec, priv)
        for fn in self._listeners:
            fn(events)

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


def _disk_full(e):
    """Whether ``e`` says the database's file system had no room for the write."""
    if isinstance(e, sqlite3.Error):
        return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


class Transaction:
    """Changes gathered under the store's write lock, applied all together or not at all.

    Reads through the transaction see its own pending changes.
    """

    def __init__(self, store):
        self._store = store
        self._pending = {}     # ref -> (op, cls, record, private); op None while unchanged
        self._order = []

    def __enter__(self):
        self._store._lock.acquire()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self._order:
                self._store._commit([(self._pending[r][0], self._pending[r][1], r,
                                      self._pending[r][2], self._pending[r][3])
                                     for r in self._order])
        finally:
            self._store._lock.release()
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
