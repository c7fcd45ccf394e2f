"""The store's engine on one SQLite file in the state directory (the default).

Every commit is one SQLite transaction (WAL, synchronous=FULL), so a commit is on
disk when ``commit`` returns. One daemon owns the file: there are no other
writers to follow.
"""

import errno
import json
import os
import sqlite3

from ..api.errors import ApiError
from ..util.files import open_own, tighten
from .store import Engine

SCHEMA_VERSION = "1"


class SqliteEngine(Engine):
    """The records in the ``objects`` table of the SQLite file at ``path``."""

    def __init__(self, path):
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

    def load(self):
        rows = self._db.execute("SELECT ref, class, record, private FROM objects")
        return [(cls, ref, json.loads(record), json.loads(private))
                for ref, cls, record, private in rows]

    def commit(self, changes):
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for op, cls, ref, rec, priv in changes:
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

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None


def _disk_full(e):
    """Whether ``e`` says the database's file system had no room for the write."""
    if isinstance(e, sqlite3.Error):
        return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
