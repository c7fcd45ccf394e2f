"""Host leases on the pool's PostgreSQL database: each member says it is alive.

Table ``host_lease`` (made at the first start; not in the store's ``objects``: a
heartbeat is no change of any record, and makes no event): one row per host, its ref,
``expires_at`` on the *database's* clock (``clock_timestamp()`` plus the lease), and the
memory figures a placement needs (``memory_total``, ``memory_free``).

A ``Leases`` renews its own host's row every lease/3 on a connection and a thread of its
own, so that no store write ever waits for it nor it for one, and reads every member's
row at the same time: ``lease(host)`` answers from that copy without a query. A member is
*live* while its lease has not expired; expiry is judged on the database's clock (each
row's remaining seconds as the database saw them, counted down on this host's monotonic
clock), never by comparing two machines' wall clocks.

Self-fencing: a second thread, the watchdog, counts from when the last successful
renewal was *sent* (monotonic clock). If no renewal succeeds for the lease less a
margin, the lease may be about to expire and other members may take this host's guests
over: it calls ``owner.fence`` (which hard-stops every guest here) before the lease can
expire, so that no guest ever runs on two hosts. The watchdog does not depend on the
renewer: a renewal stuck in a connect to an unreachable server still fences on time.
The first renewal that succeeds afterwards calls ``owner.rejoin`` until it returns True
(the records put right: it needs the store's writes back). The owner is the domain
owner (state/hostfailure.py).

``expired()`` is the database's own answer (a query, on the database's clock) of which
other members' leases have expired: the members that are dead. Each renewal that reads
one expired calls ``owner.dead_seen`` with them, which acts on ``expired()``'s answer.

``on_renewed(sent)``, when set, is called after each successful renewal with the
monotonic time it was sent (the daemon pets its fence watchdog, daemon/fencewatch.py,
the process that fences the host should the daemon itself die).

``lapsed``: this host's own lease had expired when the daemon started (it was down
longer than the lease): other members may have taken its guests over. A renewal that
finds the lease expired later on (the daemon stood still, stopped or swapped out, for
longer than the lease, so that the watchdog could not run either) fences at once, then
rejoins as after any fence.
"""

import logging
import threading
import time

import psycopg

log = logging.getLogger("xend")

# How many renewals per lease: a lease survives two lost renewals.
RENEWALS_PER_LEASE = 3
# The share of the lease the watchdog keeps in hand: a host fences this long before its
# lease could expire, time enough to stop its guests.
FENCE_MARGIN = 1 / 6
# Seconds a connection attempt may take (libpq's minimum is 2).
CONNECT_TIMEOUT = 2

_SCHEMA = ("CREATE TABLE IF NOT EXISTS host_lease (host TEXT PRIMARY KEY,"
           " expires_at TIMESTAMPTZ NOT NULL, memory_total BIGINT NOT NULL,"
           " memory_free BIGINT NOT NULL)")
# The renewal, and whether the lease had expired before it (the CTE reads the row as it
# was: a lease renewed after it lapsed means another member may run this host's guests).
_RENEW = ("WITH old AS (SELECT expires_at < clock_timestamp() AS lapsed FROM host_lease"
          " WHERE host = %s) INSERT INTO host_lease VALUES (%s, clock_timestamp()"
          " + make_interval(secs => %s), %s, %s) ON CONFLICT (host) DO UPDATE SET"
          " expires_at = EXCLUDED.expires_at, memory_total = EXCLUDED.memory_total,"
          " memory_free = EXCLUDED.memory_free RETURNING (SELECT lapsed FROM old)")
# Every lease, with the seconds left of it on the database's clock (negative: expired).
_READ = ("SELECT host, EXTRACT(EPOCH FROM expires_at - clock_timestamp())::float8,"
         " memory_total, memory_free FROM host_lease")
_EXPIRED = "SELECT host FROM host_lease WHERE expires_at < clock_timestamp() AND host <> %s"


class Leases:
    """The lease of host ``host`` on the database at ``uri`` (``password`` apart), of
    ``seconds``; ``memory()`` gives (total, free) bytes for each renewal; ``owner``
    (fence, rejoin, dead_seen) is told of failures (see the module's docstring)."""

    def __init__(self, uri, password, host, seconds, memory, owner):
        self._uri = uri
        self._password = password
        self.host = host
        self.seconds = seconds
        self._memory = memory
        self._owner = owner
        self._stop = threading.Event()
        self._renewed = threading.Event()     # wakes the watchdog: a renewal succeeded
        self._lock = threading.Lock()         # the connection is used by one thread at once
        self._fencing = threading.Lock()      # the watchdog and the renewer may both fence
        self._conn = None
        self._seen = {}        # host -> (monotonic expiry, memory_total, memory_free)
        self._last_sent = time.monotonic()
        self.on_renewed = None
        self.fenced = False    # guests stopped; set until the records are put right
        self._threads = []
        self.lapsed = False
        with self._lock:
            self._connect().execute(_SCHEMA)
        self._renew()          # a member is live from its start: the first renewal now
        if not self._seen:
            raise psycopg.OperationalError("the first renewal of the host's lease failed")

    def _connect(self):
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._uri, password=self._password, autocommit=True,
                                         connect_timeout=CONNECT_TIMEOUT,
                                         application_name="xend-lease")
        return self._conn

    def start(self):
        for target, name in ((self._renewing, "lease-renewer"),
                             (self._watching, "lease-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        """Stop renewing (the lease runs out on its own; a restart renews it)."""
        self._stop.set()
        self._renewed.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    # -- what other modules read ------------------------------------------------------

    @property
    def last_sent(self):
        """The monotonic time the last successful renewal was sent."""
        return self._last_sent

    def lease(self, host):
        """{"live", "memory_total", "memory_free"} of ``host``'s lease as last read, or
        None for a host that has none."""
        seen = self._seen.get(host)
        if seen is None:
            return None
        expiry, total, free = seen
        return {"live": time.monotonic() < expiry, "memory_total": total,
                "memory_free": free}

    def expired(self):
        """The other hosts whose lease has expired, on the database's clock (a query:
        the answer a takeover acts on). OperationalError if the database is unreachable."""
        with self._lock:
            try:
                rows = self._connect().execute(_EXPIRED, (self.host,)).fetchall()
            except psycopg.OperationalError:
                self._drop()
                raise
        return [host for host, in rows]

    # -- the threads -------------------------------------------------------------------

    def _renewing(self):
        while not self._stop.wait(self.seconds / RENEWALS_PER_LEASE):
            self._renew()

    def _renew(self):
        """Renew this host's lease and read every member's; on success wake the watchdog,
        and put things right after a fence."""
        sent = time.monotonic()
        total, free = self._memory()
        with self._lock:
            try:
                conn = self._connect()
                lapsed, = conn.execute(_RENEW, (self.host, self.host, self.seconds, total,
                                                free)).fetchone()
                rows = conn.execute(_READ).fetchall()
            except psycopg.Error as e:
                self._drop()
                log.debug("lease: renewal failed: %s", " ".join(str(e).split()))
                return
        now = time.monotonic()
        self._seen = {host: (now + left, mem_total, mem_free)
                      for host, left, mem_total, mem_free in rows}
        self._last_sent = sent
        self._renewed.set()
        if self.on_renewed is not None:
            try:
                self.on_renewed(sent)
            except OSError as e:
                log.error("lease: petting the fence watchdog failed: %s", e)
        if not self._threads:
            self.lapsed = bool(lapsed)   # at start: the owner acts on it before starting us
            return
        if lapsed and not self.fenced:
            # Expired unfenced: the daemon stood still longer than the lease (stopped,
            # swapped out); the watchdog could not run either.
            self._fence("this host's lease expired before it renewed it (the daemon stood "
                        "still for longer than pool_lease_seconds %s)" % self.seconds)
        try:   # the renewer outlives any one failure: retried at the next renewal
            if self.fenced:
                self.fenced = not self._owner.rejoin()
            dead = [h for h, (expiry, _, _) in self._seen.items()
                    if expiry <= now and h != self.host]
            if dead and not self.fenced:
                self._owner.dead_seen(dead)
        except Exception:
            log.exception("lease: acting on the leases read failed")

    def _drop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _fence(self, why):
        """Stop every guest here (the owner's fence), once until the next rejoin."""
        with self._fencing:
            if self.fenced:
                return
            self.fenced = True
        log.error("lease: %s; stopping every guest here", why)
        try:
            self._owner.fence()
        except Exception:
            log.exception("lease: stopping the guests failed")

    def _watching(self):
        """Fence once no renewal has succeeded for the lease less the margin."""
        allowed = self.seconds * (1 - FENCE_MARGIN)
        while not self._stop.is_set():
            self._renewed.clear()
            left = self._last_sent + allowed - time.monotonic()
            if left > 0:
                self._renewed.wait(left)
                continue
            now = time.monotonic()
            expiry = self._seen.get(self.host, (now,))[0]
            self._fence("no renewal of this host's lease reached the database for %.1f s "
                        "(pool_lease_seconds %s): fenced, %.1f s before the lease can "
                        "expire and other members restart this host's guests"
                        % (now - self._last_sent, self.seconds, expiry - now))
            self._renewed.wait()   # until a renewal succeeds (or the stop)
