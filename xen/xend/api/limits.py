"""Throttles against hostile or broken clients: login failures and log floods.

Both keep a table keyed by something a client chooses (an address, a user
name), so both bound their tables: an attacker who sends a million different
keys costs the daemon a fixed amount of memory, never more.
"""

import threading
import time

MAX_ENTRIES = 10000   # keys remembered by one throttle at most


class LoginThrottle:
    """Exponential delay after failed logins and a temporary lockout after many.

    Failures are counted per key; a login names two keys, its source address
    and its user, so that neither one address trying many users nor many
    addresses trying one user gets more than ``lockout_failures`` guesses in
    ``lockout_seconds``. A key's count lives while failures keep coming: it is
    forgotten ``lockout_seconds`` after its latest failure, and at once on a
    successful login. A key is locked while it has ``lockout_failures`` or more
    failures, so a lockout ends ``lockout_seconds`` after the failure that
    started it; attempts made while locked are refused without being counted,
    so that hammering a locked key does not lengthen its lockout.

    An attempt is reserved (``reserve``) before its password is checked and
    counts as a failure until it ends (``failed`` or ``succeeded``): otherwise
    many guesses sent at once would all pass the check for a lockout before the
    first of them failed. A key with ``lockout_failures`` attempts failed or in
    flight is refused.
    """

    def __init__(self, base_delay, max_delay, lockout_failures, lockout_seconds,
                 clock=time.monotonic):
        self.base_delay = base_delay
        self.max_delay = max(max_delay, base_delay)
        self.lockout_failures = lockout_failures     # 0: never lock
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._failures = {}    # key -> (count, time of the latest failure), oldest first
        # key -> attempts reserved and not yet ended; bounded by the connections that
        # can be checking a password at once, so never trimmed.
        self._pending = {}
        self._lock = threading.Lock()

    def _live(self, key, now):
        entry = self._failures.get(key)
        if entry is not None and now - entry[1] >= self.lockout_seconds:
            del self._failures[key]
            return None
        return entry

    def reserve(self, keys):
        """Start an attempt against every key, or none: returns the keys among ``keys``
        that are locked out (failed and in-flight attempts together), and reserves an
        attempt against each key only when there are none. Every reservation is ended
        by ``failed`` or ``succeeded``."""
        now = self._clock()
        with self._lock:
            if self.lockout_failures:
                locked = [k for k in keys if (self._live(k, now) or (0, 0))[0]
                          + self._pending.get(k, 0) >= self.lockout_failures]
                if locked:
                    return locked
            for key in keys:
                self._pending[key] = self._pending.get(key, 0) + 1
        return []

    def _end(self, keys):
        """End the reservation of every key (called with the lock held)."""
        for key in keys:
            left = self._pending.pop(key) - 1
            if left:
                self._pending[key] = left

    def failed(self, keys):
        """End a reserved attempt as a failure of every key; returns (seconds to wait
        before answering, the keys this failure locked)."""
        now = self._clock()
        newly_locked = []
        worst = 0
        with self._lock:
            self._end(keys)
            for key in keys:
                count = (self._live(key, now) or (0, 0))[0] + 1
                self._failures.pop(key, None)
                self._failures[key] = (count, now)    # re-inserted: newest last
                worst = max(worst, count)
                if count == self.lockout_failures:
                    newly_locked.append(key)
            self._trim(now)
        # The first failure waits base_delay, each further one twice as long as the last.
        delay = min(self.base_delay * 2 ** min(worst - 1, 32), self.max_delay)
        return delay, newly_locked

    def succeeded(self, keys):
        """End a reserved attempt as a success: forget the failures of every key."""
        with self._lock:
            self._end(keys)
            for key in keys:
                self._failures.pop(key, None)

    def _trim(self, now):
        """Keep the table bounded: drop expired entries, then the stalest ones."""
        if len(self._failures) <= MAX_ENTRIES:
            return
        for key in [k for k, (_, t) in self._failures.items()
                    if now - t >= self.lockout_seconds]:
            del self._failures[key]
        while len(self._failures) > MAX_ENTRIES:
            del self._failures[next(iter(self._failures))]


class LogGate:
    """Lets a message about ``key`` through at most once per ``interval`` seconds.

    For events a client can cause at will (refused connections): each is worth
    a log line, but a flood of them must not become a flood of lines. ``allow``
    returns None to stay quiet, or how many were held back since the last line.
    """

    def __init__(self, interval=60.0, clock=time.monotonic):
        self.interval = interval
        self._clock = clock
        self._seen = {}      # key -> [time of the last line, events held back since]
        self._lock = threading.Lock()

    def allow(self, key):
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return None
            held = entry[1] if entry else 0
            self._seen.pop(key, None)
            self._seen[key] = [now, 0]
            while len(self._seen) > MAX_ENTRIES:
                del self._seen[next(iter(self._seen))]
            return held
