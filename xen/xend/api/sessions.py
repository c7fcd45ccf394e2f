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
A failed login is answered only after a fixed delay.
"""

import dataclasses
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid

from .errors import ApiError

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


_DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclasses.dataclass
class Peer:
    """Who is at the other end of a connection."""
    transport: str            # "unix" | "tcp" | "tls"
    uid: int = -1             # SO_PEERCRED uid on the Unix socket, else -1
    address: str = ""


@dataclasses.dataclass
class Session:
    ref: str
    user: str
    last_active: float

    @property
    def is_root(self):
        return self.user == ROOT


class Sessions:
    """Logins, the per-call session check, logouts and expiry."""

    def __init__(self, app, idle_timeout=24 * 3600, failure_delay=1.0, auth="password"):
        self.app = app
        self.idle_timeout = idle_timeout
        self.failure_delay = failure_delay
        self.auth = auth
        self._live = {}
        self._lock = threading.Lock()

    # -- login / logout ------------------------------------------------------

    def login(self, uname, pwd, originator, peer):
        """Authenticate and open a session; returns its ref."""
        if peer.transport == "unix" and peer.uid == 0:
            user = ROOT
        elif self._authenticate(uname, pwd):
            user = uname
        else:
            log.info("login failed for user %r from %s %s", uname, peer.transport,
                     peer.address or peer.uid)
            time.sleep(self.failure_delay)
            raise ApiError("SESSION_AUTHENTICATION_FAILED", uname,
                           "Authentication failure")
        ref = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
        now = time.time()
        with self.app.store.transaction() as txn:
            txn.create("session", ref, {"this_user": user, "originator": originator})
        with self._lock:
            self._live[ref] = Session(ref, user, now)
        log.debug("session opened for %s from %s", user, peer.transport)
        return ref

    def check_credentials(self, uname, pwd):
        """True if ``uname``/``pwd`` would log in (for HTTP Basic on /metrics)."""
        if self._authenticate(uname, pwd):
            return True
        time.sleep(self.failure_delay)
        return False

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
        """Close the session ``ref``."""
        with self._lock:
            self._live.pop(ref, None)
        with self.app.store.transaction() as txn:
            if txn.exists(ref):
                txn.delete("session", ref)

    def revoke_user(self, user):
        """Close every session of ``user`` (their account was deleted)."""
        with self._lock:
            refs = [s.ref for s in self._live.values() if s.user == user]
        for ref in refs:
            self.logout(ref)

    # -- the per-call check ------------------------------------------------

    def check(self, ref):
        """The live Session for ``ref``; SESSION_INVALID if there is none or it expired."""
        s = self._live.get(ref) if isinstance(ref, str) else None
        now = time.time()
        if s is None:
            raise ApiError("SESSION_INVALID", ref if isinstance(ref, str) else "")
        if now - s.last_active > self.idle_timeout:
            self.logout(ref)
            raise ApiError("SESSION_INVALID", ref)
        s.last_active = now
        return s

    def last_active(self, ref):
        s = self._live.get(ref)
        return s.last_active if s else 0.0

    def expire_idle(self):
        """Close sessions idle for longer than the timeout; returns how many."""
        now = time.time()
        with self._lock:
            stale = [r for r, s in self._live.items() if now - s.last_active > self.idle_timeout]
        for ref in stale:
            self.logout(ref)
        return len(stale)
