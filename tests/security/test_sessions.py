"""Session limits: idle expiry, absolute lifetime, a cap per user, and revocation."""

import re
import time
import types

import pytest
import XenAPI
from harness import serving, wait_until
from secutil import proxy, set_password

from xen.xend.api import datamodel
from xen.xend.api.errors import ApiError
from xen.xend.api.sessions import Peer, Sessions, hash_password
from xen.xend.daemon import config
from xen.xend.state.store import Store

CAP = 3


@pytest.fixture(scope="module")
def daemon():
    with serving(login=False, extra_config="session_idle_timeout = 2\nsession_max_lifetime = 4\n"
                 "max_sessions_per_user = %d\nsampler_interval = 0.2\n" % CAP) as d:
        set_password(d, "alice", "alice-pw")
        set_password(d, "bob", "bob-pw")
        yield d


class Client:
    """One TCP client with its own session, calling with plain xmlrpc.client."""

    def __init__(self, daemon, user, password):
        self.rpc = proxy(daemon)
        reply = getattr(self.rpc, "session.login_with_password")(user, password)
        assert reply["Status"] == "Success", reply
        self.ref = reply["Value"]

    def call(self, method, *args):
        return getattr(self.rpc, method)(self.ref, *args)

    def valid(self):
        reply = self.call("host.get_all")
        if reply["Status"] == "Success":
            return True
        assert reply["ErrorDescription"] == ["SESSION_INVALID", self.ref], reply
        return False


def test_idle_session_expires(daemon):
    c = Client(daemon, "alice", "alice-pw")
    assert c.valid()
    time.sleep(2.5)
    assert not c.valid()


def test_expired_sessions_are_closed_even_if_never_used_again(daemon):
    """The sampler closes them: they leave session.get_all without a call of theirs."""
    c = Client(daemon, "bob", "bob-pw")
    root = daemon.sdk_unix()
    try:
        assert c.ref in root.xenapi.session.get_all()
        # Idle for session_idle_timeout (2 s), then closed at a sampler round (0.2 s).
        wait_until(lambda: c.ref not in root.xenapi.session.get_all(), 10,
                   "the idle session to be closed")
    finally:
        root.xenapi.session.logout()


def test_busy_session_ends_at_its_absolute_lifetime(daemon):
    """Used every 0.5 s, well within the idle timeout, it still ends (when: test_units.py,
    on the sessions' own clock)."""
    c = Client(daemon, "alice", "alice-pw")
    wait_until(lambda: not c.valid(), 60, "a busy session to reach session_max_lifetime",
               interval=0.5)


def test_sdk_logs_in_again_after_its_lifetime(daemon):
    s = XenAPI.Session(daemon.url)
    s.xenapi.login_with_password("bob", "bob-pw")
    first = s._session
    for _ in range(12):             # 6 s: beyond session_max_lifetime (4 s)
        s.xenapi.host.get_all()
        if s._session != first:
            break
        time.sleep(0.5)
    assert s._session != first
    s.xenapi.session.logout()


def test_sessions_per_user_are_capped_least_recently_used_first(daemon):
    clients = [Client(daemon, "alice", "alice-pw") for _ in range(CAP)]
    assert clients[0].valid()                       # now clients[1] is the least recent
    newest = Client(daemon, "alice", "alice-pw")
    assert not clients[1].valid()
    assert clients[0].valid() and clients[2].valid() and newest.valid()
    assert "session limit (%d) reached for alice" % CAP in daemon.log_text()
    other = Client(daemon, "bob", "bob-pw")          # the cap is per user
    assert other.valid() and clients[0].valid()
    for c in (clients[0], clients[2], newest, other):
        c.call("session.logout")


def test_logout_revokes_at_once_on_every_connection(daemon):
    c = Client(daemon, "alice", "alice-pw")
    elsewhere = proxy(daemon)
    assert getattr(elsewhere, "host.get_all")(c.ref)["Status"] == "Success"
    assert c.call("session.logout")["Status"] == "Success"
    assert getattr(elsewhere, "host.get_all")(c.ref)["ErrorDescription"] == [
        "SESSION_INVALID", c.ref]
    assert not c.valid()


def test_deleting_a_user_revokes_all_their_sessions_at_once(daemon):
    ref = set_password(daemon, "carol", "carol-pw")
    sessions = [Client(daemon, "carol", "carol-pw") for _ in range(2)]
    root = daemon.sdk_unix()
    try:
        root.xenapi.user.destroy(ref)
    finally:
        root.xenapi.session.logout()
    assert not any(c.valid() for c in sessions)


def test_session_refs_are_random_uuids(daemon):
    refs = []
    for _ in range(CAP):
        c = Client(daemon, "bob", "bob-pw")
        refs.append(c.ref)
        c.call("session.logout")
    assert len(set(refs)) == len(refs)
    for r in refs:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                            r"[0-9a-f]{12}", r)


def test_a_login_that_races_the_deletion_of_its_user_is_refused():
    """The user is deleted (and their sessions revoked) while the login checks the
    password: the session the login then makes must not survive."""
    store = Store(None, list(datamodel.CLASSES), lookup_fields=[("user", "short_name")],
                  volatile=("session", "task"))
    app = types.SimpleNamespace(config=dict(config.DEFAULTS), store=store)
    sessions = Sessions(app, failure_delay=0)
    with store.transaction() as txn:
        txn.create("user", "u1", {"short_name": "dave"}, {"password": hash_password("pw")})
    real = sessions._authenticate

    def authenticate_while_deleted(uname, pwd):
        ok = real(uname, pwd)
        with store.transaction() as txn:
            txn.delete("user", "u1")
        sessions.revoke_user("dave")
        return ok
    sessions._authenticate = authenticate_while_deleted
    with pytest.raises(ApiError) as e:
        sessions.login("dave", "pw", "", Peer("tcp", address="127.0.0.1"))
    assert e.value.code == "SESSION_AUTHENTICATION_FAILED"
    assert not sessions._live and not store.refs("session")
