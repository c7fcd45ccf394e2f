"""Logins over the Unix socket by a peer that is not root (api/sessions.py): only uid 0 is
let in without a password; any other uid is checked like a remote client."""

import types

import pytest
from harness import ROOT_PEER

from xen.xend.api.errors import ApiError
from xen.xend.api.sessions import Peer, Sessions, hash_password
from xen.xend.daemon import config as configmod
from xen.xend.state.store import Store

# What the kernel reports for an ordinary user's process on the socket (SO_PEERCRED).
USER_PEER = Peer("unix", uid=1000, address="pid 4242")


@pytest.fixture
def sessions():
    store = Store(None, ["session", "user"], lookup_fields=[("user", "short_name")])
    with store.transaction() as txn:
        txn.create("user", "u-alice", {"short_name": "alice", "fullname": "Alice"},
                   private={"password": hash_password("right")})
    app = types.SimpleNamespace(config=dict(configmod.DEFAULTS), store=store)
    return Sessions(app, failure_delay=0.0)


@pytest.mark.parametrize("user, password", [("alice", "wrong"), ("alice", ""),
                                            ("root", ""), ("nobody", "right")])
def test_a_wrong_password_from_a_non_root_peer_fails(sessions, user, password):
    with pytest.raises(ApiError) as e:
        sessions.login(user, password, "", USER_PEER)
    assert e.value.description == ["SESSION_AUTHENTICATION_FAILED", user,
                                   "Authentication failure"]
    assert sessions.app.store.refs("session") == []


def test_the_right_password_from_a_non_root_peer_logs_in_as_that_user(sessions):
    ref = sessions.login("alice", "right", "", USER_PEER)
    s = sessions.check(ref)
    assert (s.user, s.is_root) == ("alice", False)


def test_root_on_the_socket_needs_no_password(sessions):
    assert sessions.check(sessions.login("alice", "whatever", "", ROOT_PEER)).is_root
