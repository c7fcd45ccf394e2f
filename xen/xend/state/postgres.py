"""The store's engine on PostgreSQL: one database, shared by the daemons that use it.

Tables (made at the first start):

  * ``objects``: each stored object's ref, class, record and private data (JSON text);
  * ``change_log``: one row per commit: ``seq`` (a bigserial: the commit order), the
    daemon that made it (``origin``), what changed (JSON: the list of (op, class, ref,
    record, private)) and when (``committed_at``);
  * ``meta``: the schema's version, ``pruned``: the last ``seq`` deleted from the log,
    and ``pool_secret``: the secret of the pool channel (transport/poolchannel.py),
    random bytes the first daemon puts there; never in ``objects`` nor the log.

The log is kept for ``retention`` seconds: each daemon's follower deletes the older
entries now and then (a prefix of the log, in one statement with ``pruned``), so it
neither grows without bound nor keeps old versions of records (password hashes) longer
than that.

Writers are serialised by the database: ``begin`` opens a transaction and takes a
transaction-level advisory lock, then reads the log past the last ``seq`` this daemon
applied, so the store applies every change other daemons committed before the
transaction's checks run. ``commit`` writes the rows and the log entry and commits
(durable before the caller replies); the lock goes with the transaction, so the
bigserial order is the commit order. A NOTIFY in the same transaction wakes the
other daemons' followers, which read the log and hand the changes to their stores.

A lost connection: ``begin`` and ``commit`` raise nothing but HOST_STATE_UNAVAILABLE
for a write (the store's memory is left as it was: a commit whose COMMIT went
unanswered is applied only once the log shows it), reads go on from memory, and the
follower reconnects in the background and catches up from the log. A daemon whose last
applied ``seq`` is older than the pruned point (cut off longer than the window) would
skip commits if it applied the log: it reloads every object instead (a ``Reload``).
"""

import json
import logging
import secrets
import threading
import time
import uuid

import psycopg

from ..api.errors import ApiError
from .store import Engine, Reload

log = logging.getLogger("xend")

SCHEMA_VERSION = "1"
CHANNEL = "xend_store"
# The advisory lock every writer of the database takes (any fixed 64-bit number).
WRITE_LOCK = 0x78656E6473746F72    # "xendstor"
# Seconds between reconnection attempts at most (doubling from the first), and how
# long the follower waits for a notification before it looks at its state again.
RECONNECT_MAX = 2.0
RECONNECT_FIRST = 0.1
LISTEN_TICK = 0.5
# Seconds a writer waits for the lock another daemon holds before its write is refused.
LOCK_WAIT = 60
# Seconds the log keeps a commit (the configuration's database_log_retention), and how
# many times per that time the follower prunes it: an entry goes at most a quarter of
# the window after it is due.
LOG_RETENTION = 300.0
PRUNES_PER_WINDOW = 4

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # pos: the order of the last writes, the order the records are loaded in (as
    # SQLite's rowid after an INSERT OR REPLACE).
    "CREATE TABLE IF NOT EXISTS objects (ref TEXT PRIMARY KEY, class TEXT NOT NULL,"
    " record TEXT NOT NULL, private TEXT NOT NULL, pos BIGSERIAL)",
    # committed_at: clock_timestamp() (not now(), the transaction's start), taken under
    # the writers' lock, so that it grows with seq.
    "CREATE TABLE IF NOT EXISTS change_log (seq BIGSERIAL PRIMARY KEY,"
    " origin TEXT NOT NULL, changes TEXT NOT NULL,"
    " committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
    # A log made before entries had a commit time gets one (its entries: the start's).
    "ALTER TABLE change_log ADD COLUMN IF NOT EXISTS committed_at TIMESTAMPTZ NOT NULL"
    " DEFAULT clock_timestamp()",
    "CREATE INDEX IF NOT EXISTS change_log_committed_at ON change_log (committed_at)",
    "INSERT INTO meta VALUES ('schema', '%s') ON CONFLICT DO NOTHING" % SCHEMA_VERSION,
    "INSERT INTO meta VALUES ('pruned', '0') ON CONFLICT DO NOTHING",
)

# The log's entries older than the retention (seconds) deleted, a prefix in seq order, and
# the last seq deleted kept in ``pruned``: one statement, so that a reader sees the log
# and the point it was pruned to alike.
_PRUNE = (
    "WITH gone AS (DELETE FROM change_log WHERE seq <= (SELECT MAX(seq) FROM change_log"
    " WHERE committed_at < clock_timestamp() - make_interval(secs => %s)) RETURNING seq)"
    " UPDATE meta SET value = GREATEST(value::bigint, (SELECT MAX(seq) FROM gone))::text"
    " WHERE key = 'pruned' AND EXISTS (SELECT 1 FROM gone)")
# The last commit the objects hold: the log's last entry, or the last one pruned when
# the log is empty.
_LAST_SEQ = ("SELECT GREATEST(COALESCE(MAX(seq), 0), (SELECT value::bigint FROM meta"
             " WHERE key = 'pruned')) FROM change_log")
# The point the log was pruned to, and the entries past a seq: one snapshot, so that
# a reader knows whether the entries it gets follow on from its seq (one row at least).
_READ_LOG = ("SELECT m.value::bigint, l.seq, l.changes FROM meta m LEFT JOIN change_log l"
             " ON l.seq > %s WHERE m.key = 'pruned' ORDER BY l.seq")


class PostgresEngine(Engine):
    """The records in the PostgreSQL database at ``uri`` (a libpq URI without a
    password; ``password`` is given apart, never logged); the log keeps each commit
    ``retention`` seconds."""

    def __init__(self, uri, password=None, retention=LOG_RETENTION):
        self._uri = uri
        self._password = password
        self._retention = retention
        self._origin = uuid.uuid4().hex       # this daemon, in the log and in NOTIFYs
        self._seq = 0                         # the last log entry applied to the store
        self._open = False                    # a write transaction holds the lock
        self._stop = threading.Event()
        self._broken = threading.Event()      # the main connection is lost
        self._follower = None
        self._store = None
        self._conn = self._connect()          # the store's: used under its write lock
        log.info("store on PostgreSQL at %s", uri)

    def _connect(self):
        # lock_timeout: a writer never waits for ever on a daemon that holds the lock.
        return psycopg.connect(self._uri, password=self._password, autocommit=True,
                               connect_timeout=5, application_name="xend",
                               options="-c lock_timeout=%ds" % LOCK_WAIT)

    # -- start -------------------------------------------------------------------

    def load(self):
        with self._conn.transaction():
            # Under the writers' lock: two daemons starting at once make the tables
            # once, and the objects read match the log's last seq.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.execute("INSERT INTO meta VALUES ('pool_secret', %s)"
                               " ON CONFLICT DO NOTHING", (secrets.token_hex(32),))
            self.pool_secret = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'pool_secret'").fetchone()[0]
            return self._objects()

    def _objects(self):
        """Every object, and the log's position they match (in a transaction holding
        the writers' lock, so that no commit comes between the two)."""
        rows = self._conn.execute("SELECT ref, class, record, private FROM objects"
                                  " ORDER BY pos").fetchall()
        self._seq = self._conn.execute(_LAST_SEQ).fetchone()[0]
        return [(cls, ref, json.loads(record), json.loads(private))
                for ref, cls, record, private in rows]

    def follow(self, store):
        self._store = store
        self._follower = threading.Thread(target=self._follow, name="store-follower",
                                          daemon=True)
        self._follower.start()

    # -- writes (under the store's lock) ------------------------------------------

    def begin(self):
        if self._open or self._broken.is_set():
            return ()   # already begun (a nested transaction), or refused at commit
        try:
            self._conn.execute("BEGIN")
            self._open = True
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return self._read_log()
        except psycopg.OperationalError as e:
            self._lost(e)
            return ()
        except psycopg.Error:
            self.abort()
            raise

    def poll(self):
        if self._broken.is_set():
            return ()
        try:
            return self._read_log()
        except psycopg.OperationalError as e:
            self._lost(e)
            return ()

    def commit(self, changes):
        if not self._open:
            raise ApiError("HOST_STATE_UNAVAILABLE")
        conn = self._conn
        try:
            with conn.cursor() as cur:
                for op, cls, ref, rec, priv in changes:
                    if op == "del":
                        cur.execute("DELETE FROM objects WHERE ref = %s", (ref,))
                    else:
                        cur.execute("INSERT INTO objects (ref, class, record, private)"
                                    " VALUES (%s, %s, %s, %s) ON CONFLICT (ref) DO UPDATE"
                                    " SET class = EXCLUDED.class, record = EXCLUDED.record,"
                                    " private = EXCLUDED.private, pos = EXCLUDED.pos",
                                    (ref, cls, json.dumps(rec), json.dumps(priv)))
                seq = cur.execute("INSERT INTO change_log (origin, changes) VALUES (%s, %s)"
                                  " RETURNING seq",
                                  (self._origin, json.dumps(changes))).fetchone()[0]
                cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._origin))
            conn.execute("COMMIT")
            self._open = False
            self._seq = seq
        except psycopg.OperationalError as e:
            # Committed or not, the log says which once the follower reconnects.
            self._lost(e)
            raise ApiError("HOST_STATE_UNAVAILABLE") from None
        except psycopg.Error as e:
            self.abort()
            if isinstance(e, psycopg.errors.DiskFull):
                raise ApiError("HOST_STATE_FULL") from None
            raise

    def abort(self):
        if not self._open:
            return
        self._open = False
        try:
            self._conn.execute("ROLLBACK")
        except psycopg.OperationalError as e:
            self._lost(e)   # the server ends the transaction with the connection

    def _read_log(self):
        """The commits past the last one applied, in commit order (this daemon's own
        included: one whose COMMIT went unanswered shows here if it was made); a Reload
        if some of them were pruned from the log."""
        rows = self._conn.execute(_READ_LOG, (self._seq,)).fetchall()
        if rows[0][0] > self._seq:
            return self._reload()
        rows = [(seq, changes) for _, seq, changes in rows if seq is not None]
        if rows:
            self._seq = rows[-1][0]
        return [[tuple(change) for change in json.loads(changes)] for _, changes in rows]

    def _reload(self):
        """Every object, read again: the log no longer holds every commit since the
        last one applied (the daemon was cut off longer than the retention window), and
        applying what is left would skip the others."""
        log.warning("store: the change log was pruned past the last commit this daemon "
                    "applied (cut off longer than database_log_retention): reloading "
                    "every object")
        if self._open:   # begin's transaction holds the lock already
            return Reload(self._objects())
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return Reload(self._objects())

    def _lost(self, e):
        """The main connection failed: refuse writes until the follower has a new one."""
        self._open = False
        self._mark_lost(e)

    def _mark_lost(self, e):
        if not self._broken.is_set():
            log.error("store: lost the PostgreSQL connection (%s); writes are refused "
                      "until it is back", " ".join(str(e).split()) or type(e).__name__)
            self._broken.set()

    # -- the follower ---------------------------------------------------------------

    def _follow(self):
        """Wake on other daemons' NOTIFYs and hand their commits to the store; on a
        lost connection, reconnect (both connections) and catch up from the log."""
        listener, delay = None, RECONNECT_FIRST
        next_prune = 0.0
        while not self._stop.is_set():
            try:
                if listener is None:
                    listener = self._connect()
                    listener.execute("LISTEN " + CHANNEL)
                    listener.execute("LISTEN " + self._stop_channel())
                    if self._broken.is_set():
                        self._reconnect()
                    self._store.catch_up()   # what came before LISTEN
                    delay = RECONNECT_FIRST
                if self._broken.is_set():
                    raise psycopg.OperationalError("the store's connection was lost")
                if self._stop.is_set():   # set before LISTEN: its NOTIFY came before too
                    break
                woken = [n.payload for n in listener.notifies(timeout=LISTEN_TICK,
                                                               stop_after=1)]
                if any(origin != self._origin for origin in woken):
                    self._store.catch_up()
                if time.monotonic() >= next_prune:
                    # Off the write path: a commit waits for no delete, and old
                    # entries go even while no daemon writes.
                    listener.execute(_PRUNE, (self._retention,))
                    next_prune = time.monotonic() + self._retention / PRUNES_PER_WINDOW
            except Exception as e:   # the follower outlives any one failure
                if not isinstance(e, psycopg.OperationalError):
                    log.exception("store: following the database's change log failed")
                if listener is not None:
                    listener.close()
                    listener = None
                    # The server may have gone: so may the store's connection.
                    self._mark_lost(e)
                else:
                    log.debug("store: PostgreSQL unreachable: %s", e)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
        if listener is not None:
            listener.close()

    def _reconnect(self):
        """A new main connection in place of the lost one, under the store's lock."""
        conn = self._connect()
        with self._store.locked():
            old, self._conn = self._conn, conn
            self._open = False
            self._broken.clear()
        old.close()
        log.info("store: reconnected to PostgreSQL; catching up from the log")

    # -- stop -----------------------------------------------------------------------

    def _stop_channel(self):
        """The channel ``stop_following`` wakes this engine's follower on."""
        return "xend_stop_" + self._origin

    def stop_following(self):
        self._stop.set()
        if self._follower is None:
            return
        with self._store.locked():   # the main connection is used under the store's lock
            try:
                self._conn.execute("SELECT pg_notify(%s, '')", (self._stop_channel(),))
            except psycopg.Error:
                pass   # no connection: the follower sees the stop within LISTEN_TICK
        self._follower.join()

    def close(self):
        self._conn.close()
