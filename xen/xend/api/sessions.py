"""Sessions and authentication (spec §1.4.2, §2.4, §2.14).

A session is a volatile object in the store (so it has a record like any
other class) plus, here, the facts dispatch needs on every call: who it
belongs to and when it was last used. Session refs are 128 random bits from
the secrets module; they are the only credential a client holds after login.

Who may log in:
  * on the Unix socket, a peer whose uid (SO_PEERCRED) is 0 is ``root``,
    whatever password it sends: it could read the state directory anyway;
  * everyone else is checked against the scrypt hash kept in the ``user``
    object's private data (never in a field, a record, to_XML or a log), or
    against PAM when the config says ``auth = "pam"``.

Password guessing is throttled (limits.LoginThrottle) per source address and
per user: each failure is answered after a delay that doubles with every
consecutive failure, and after ``login_lockout_failures`` of them the address or
user is locked out for ``login_lockout_seconds``: its logins are refused at once,
without looking at the password, so a lockout costs the daemon nothing. A login
reserves its attempt before the password is checked, so logins sent at once are
counted as they arrive, not as their checks end.

A session ends when it is logged out, when its user is deleted, after
``session_idle_timeout`` seconds without a call, after ``session_max_lifetime``
seconds whatever its use, or when its user opens more than
``max_sessions_per_user`` sessions: then the user's least recently used one is
closed, so a client that leaks sessions evicts its own old ones instead of
locking its user out.
"""

import concurrent.futures
import dataclasses
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid

from . import datamodel
from .errors import ApiError
from .limits import LoginThrottle

log = logging.getLogger("xend.sessions")

ROOT = "root"
_SCRYPT = dict(n=2 ** 14, r=8, p=1)


def hash_password(password):
    """A salted scrypt hash of ``password`` as one string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$%d$%d$%d$%s$%s" % (_SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"],
                                      salt.hex(), digest.hex())


def check_password(password, stored):
    """True if ``password`` matches a hash made by hash_password."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), dklen=32,
                             n=int(n), r=int(r), p=int(p))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


# What the password of a user with none is checked against, so that the timing of a
# failed login does not tell who exists: a check of it costs what a real one does, and
# its salt and digest never matter (such a login fails whatever the check says), so it
# is written out rather than hashed at every start of the daemon.
_DUMMY_HASH = "scrypt$%d$%d$%d$%s$%s" % (_SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"],
                                         "00" * 16, "00" * 32)


@dataclasses.dataclass
class Peer:
    """Who is at the other end of a connection."""
    transport: str            # "unix" | "tcp" | "tls"
    uid: int = -1             # SO_PEERCRED uid on the Unix socket, else -1
    address: str = ""
    # () -> True once the client has closed its end: a long wait (event.from, event.next)
    # stops then instead of holding the connection's slot for a reader that is gone.
    hung_up: object = dataclasses.field(default=None, compare=False, repr=False)
    # Set once a call on the connection carried a valid session or made a login (at
    # once for root on the Unix socket): the listener then stops counting the
    # connection as an unauthenticated one, which may be closed to make room.
    authenticated: bool = dataclasses.field(default=False, compare=False)
    # The API revision of the session of the call last answered (a login: of the session
    # it made): replies to 1.0 sessions carry typed strings, as some of 1.0's clients
    # (libxen of Xen 3.0.4) read no other.
    revision: str = dataclasses.field(default="0.2", compare=False)
    # Whether the call being answered came over JSON-RPC (set by its route for each
    # request): dispatch then puts values in JSON-RPC's wire form (Type.to_json).
    json: bool = dataclasses.field(default=False, compare=False)
    # Set for a call another member of the pool forwarded here (transport/poolchannel.py):
    # it is carried out here, never forwarded again.
    forwarded: bool = dataclasses.field(default=False, compare=False)

    def gone(self):
        """Whether the client has hung up (False where that cannot be told)."""
        return bool(self.hung_up and self.hung_up())


@dataclasses.dataclass
class Session:
    ref: str
    user: str
    last_active: float
    created: float
    revision: str = "0.2"        # the API revision it speaks (datamodel.REVISIONS)

    @property
    def is_root(self):
        return self.user == ROOT


# Longest user name looked up or counted: user short_names have at most 64
# characters and system accounts (PAM) at most 256; longer ones are refused unread
# so that a client cannot make the throttle keep megabyte-long keys.
MAX_USER_NAME = 256


def _short(name):
    """``name`` cut to 64 characters for the log (a client chooses it, at any length)."""
    return name if len(name) <= 64 else name[:61] + "..."


# Seconds a login waits for its password check (queued behind others, then run).
CHECK_WAIT = 10.0


class Sessions:
    """Logins, the per-call session check, logouts and expiry.

    ``app.config`` supplies the limits beyond the constructor's arguments:
    session_max_lifetime, max_sessions_per_user, login_failure_delay_max,
    login_lockout_failures, login_lockout_seconds and login_concurrent_checks
    (daemon/config.py's DEFAULTS).
    """

    def __init__(self, app, idle_timeout=24 * 3600, failure_delay=1.0, auth="password",
                 clock=time.monotonic, sleep=time.sleep, wall_clock=time.time):
        # Time, replaceable for tests: the throttle's (clock, sleep), the sessions' ages.
        limits = app.config
        self.app = app
        self.idle_timeout = idle_timeout
        self.max_lifetime = limits["session_max_lifetime"]     # 0: no limit
        self.max_per_user = limits["max_sessions_per_user"]    # 0: no limit
        self.auth = auth
        self.throttle = LoginThrottle(failure_delay, limits["login_failure_delay_max"],
                                      limits["login_lockout_failures"],
                                      limits["login_lockout_seconds"], clock=clock)
        # Each scrypt check takes 16 MiB outside the GIL: a flood of logins must not
        # multiply that without bound. The checks run on threads of their own because
        # glibc keeps a freed check's memory in the arena of the thread that ran it:
        # checked on every connection's thread, a flood would leave 16 MiB per thread.
        self._checkers = concurrent.futures.ThreadPoolExecutor(
            limits["login_concurrent_checks"], thread_name_prefix="xend-login")
        self.check_wait = CHECK_WAIT
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._live = {}
        self._lock = threading.Lock()

    # -- login / logout ------------------------------------------------------

    def login(self, uname, pwd, originator, peer, version=""):
        """Authenticate and open a session speaking the revision ``version`` picks
        (datamodel.revision_of); returns its ref."""
        revision = datamodel.revision_of(version, self.app.config["api_version_default"])
        if revision is None:
            raise ApiError("VALUE_NOT_SUPPORTED", "version", version[:80],
                           "the API versions are dotted numbers: 0.2 or 1.0 (or later)")
        if peer.transport == "unix" and peer.uid == 0:
            user = ROOT
        else:
            self._authenticate_throttled(uname, pwd, peer)
            user = uname
        ref = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
        now = self._wall_clock()
        with self.app.store.transaction(local=True) as txn:
            txn.create("session", ref, {"this_user": user, "originator": originator})
        with self._lock:
            self._live[ref] = Session(ref, user, now, now, revision)
            evict = self._over_cap(user)
        for old in evict:
            log.info("session limit (%d) reached for %s: closed its least recently used "
                     "session", self.max_per_user, user)
            self.logout(old)
        if self.auth == "password" and user != ROOT and \
                not self.app.store.lookup("user", "short_name", user):
            # The user was deleted while this login checked the password. Their other
            # sessions were revoked after the delete committed; this one was made too
            # late for that, so it revokes itself.
            self.logout(ref)
            raise ApiError("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")
        peer.authenticated = True
        peer.revision = revision
        log.debug("session opened for %s from %s", user, peer.transport)
        return ref

    def _over_cap(self, user):
        """Refs of ``user``'s sessions beyond the cap, least recently used first
        (called with the lock held, after the new session was added)."""
        if not self.max_per_user:
            return []
        mine = sorted((s for s in self._live.values() if s.user == user),
                      key=lambda s: s.last_active)
        return [s.ref for s in mine[:max(0, len(mine) - self.max_per_user)]]

    def _authenticate_throttled(self, uname, pwd, peer):
        """Check a password login against the throttle and the password; raise
        SESSION_AUTHENTICATION_FAILED unless it may log in."""
        # A Unix peer is known by its uid (its pid would let it start afresh per process).
        source = "unix uid %d" % peer.uid if peer.transport == "unix" else \
            "%s %s" % (peer.transport, peer.address)
        shown = _short(uname)
        keys = [("address", source)]
        if len(uname) <= MAX_USER_NAME:
            keys.append(("user", uname))
        # Reserved before the check, so that guesses sent at once cannot all be checked.
        locked = self.throttle.reserve(keys)
        if locked:
            log.info("login refused for user %r from %s: locked out (%s)", shown, source,
                     ", ".join(kind for kind, _ in locked))
            raise ApiError("SESSION_AUTHENTICATION_FAILED", uname,
                           "too many failures; try again later")
        try:
            ok = len(uname) <= MAX_USER_NAME and self._authenticate_in_turn(uname, pwd)
        except BaseException:
            # A check that broke or never had its turn still counts: no free guess.
            self.throttle.failed(keys)
            raise
        if ok:
            self.throttle.succeeded(keys)
            return
        delay, newly_locked = self.throttle.failed(keys)
        log.info("login failed for user %r from %s", shown, source)
        for kind, value in newly_locked:
            log.warning("login lockout: %s %r locked out for %ds after %d failures", kind,
                        _short(value),
                        self.throttle.lockout_seconds, self.throttle.lockout_failures)
        self._sleep(delay)
        raise ApiError("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")

    def check_credentials(self, uname, pwd, peer):
        """True if ``uname``/``pwd`` would log in (for HTTP Basic on /metrics); throttled
        like a login."""
        try:
            self._authenticate_throttled(uname, pwd, peer)
        except ApiError:
            return False
        return True

    def _authenticate_in_turn(self, uname, pwd):
        """_authenticate, run on one of login_concurrent_checks threads; a login whose
        check has not ended within ``check_wait`` seconds is refused."""
        check = self._checkers.submit(self._authenticate, uname, pwd)
        try:
            return check.result(timeout=self.check_wait)
        except concurrent.futures.TimeoutError:
            check.cancel()      # one still queued never runs; one running ends unheard
            log.info("login refused for user %r: %d password checks already running",
                     _short(uname), self.app.config["login_concurrent_checks"])
            raise ApiError("SESSION_AUTHENTICATION_FAILED", uname,
                           "too many logins at once; try again later") from None

    def _authenticate(self, uname, pwd):
        if self.auth == "pam":
            from . import pam
            return pam.authenticate(uname, pwd)
        refs = self.app.store.lookup("user", "short_name", uname)
        stored = self.app.store.private(refs[0]).get("password") if refs else None
        # Hash even for unknown users so that timing does not tell who exists.
        ok = check_password(pwd, stored or _DUMMY_HASH)
        return bool(stored) and ok

    def logout(self, ref):
        """Close the session ``ref`` (and drop its event registration, if any)."""
        with self._lock:
            self._live.pop(ref, None)
        with self.app.store.transaction(local=True) as txn:
            if txn.exists(ref):
                txn.delete("session", ref)
        events = getattr(self.app, "events", None)
        if events is not None:
            events.forget(ref)

    def revoke_user(self, user):
        """Close every session of ``user`` (their account was deleted)."""
        with self._lock:
            refs = [s.ref for s in self._live.values() if s.user == user]
        for ref in refs:
            self.logout(ref)

    # -- the per-call check ------------------------------------------------

    def _expired(self, s, now):
        return now - s.last_active > self.idle_timeout or (
            self.max_lifetime and now - s.created > self.max_lifetime)

    def check(self, ref):
        """The live Session for ``ref``; SESSION_INVALID if there is none or it expired."""
        s = self._live.get(ref) if isinstance(ref, str) else None
        now = self._wall_clock()
        if s is None:
            raise ApiError("SESSION_INVALID", ref if isinstance(ref, str) else "")
        if self._expired(s, now):
            self.logout(ref)
            raise ApiError("SESSION_INVALID", ref)
        s.last_active = now
        return s

    def last_active(self, ref):
        s = self._live.get(ref)
        return s.last_active if s else 0.0

    def expire_idle(self):
        """Close sessions idle for too long or older than their lifetime; returns how many.
        (Run periodically by the sampler, so expired sessions do not linger unused.)"""
        now = self._wall_clock()
        with self._lock:
            stale = [r for r, s in self._live.items() if self._expired(s, now)]
        for ref in stale:
            self.logout(ref)
        return len(stale)
