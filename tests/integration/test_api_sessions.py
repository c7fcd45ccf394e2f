"""Sessions and users (§1.4.2, §2.4, §2.14): login arities, who may log in over which
transport, password secrecy, revocation, visibility of sessions, root-only operations."""

import os
import sqlite3

import pytest
from harness import failure, make_user, unique
from xapi_helpers import ROOT_PASSWORD, Raw, tcp_proxy, unix_proxy

LOGIN = "session.login_with_password"


@pytest.fixture(scope="module")
def alice(root):
    ref, name, pw = make_user(root, unique("alice"), "alice pw 1")
    return {"ref": ref, "name": name, "pw": pw}


def tcp(daemon):
    return Raw(tcp_proxy(daemon))


def stored_hash(daemon, user_ref):
    """The password hash as the daemon stored it (read from its database file)."""
    import json
    con = sqlite3.connect(os.path.join(daemon.state_dir, "xend.db"))
    try:
        (private,) = con.execute("SELECT private FROM objects WHERE ref = ?",
                                 (user_ref,)).fetchone()
    finally:
        con.close()
    return json.loads(private)["password"]


# -- login arity and types ----------------------------------------------------------------------

@pytest.mark.parametrize("extra", [(), ("0.2",), ("0.2", "test-suite")])
def test_login_takes_two_three_or_four_strings(daemon, alice, extra):
    t = tcp(daemon)
    reply = t.call(LOGIN, alice["name"], alice["pw"], *extra)
    assert reply["Status"] == "Success"
    t.session = reply["Value"]
    assert t.ok("session.get_this_user", t.session) == alice["name"]
    assert t.ok("session.get_originator", t.session) == (extra[1] if len(extra) == 2 else "")
    assert t.call("session.logout", t.session)["Status"] == "Success"


@pytest.mark.parametrize("args", [("root",), ("root", "", "1.0", "orig", "extra"), ()])
def test_login_with_one_or_five_params_is_a_count_mismatch(raw, args):
    d = raw.call(LOGIN, *args)["ErrorDescription"]
    assert d[0] == "MESSAGE_PARAMETER_COUNT_MISMATCH"
    assert d[1] == "session.login_with_password"
    assert d[2].isdigit() and d[3] == str(len(args))


@pytest.mark.parametrize("args", [(5, "pw"), ("root", 5), ("root", "", 1), ("root", "", "1", 2),
                                  ("root", ["x"])])
def test_login_with_non_string_params_is_a_type_error(raw, args):
    assert raw.call(LOGIN, *args)["ErrorDescription"][0] == "FIELD_TYPE_ERROR"


# -- who may log in ----------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["", "anything at all", ROOT_PASSWORD])
def test_root_over_the_socket_ignores_the_password(daemon, password):
    s = Raw(unix_proxy(daemon))
    s.login("root", password)
    assert s.ok("session.get_this_user", s.session) == "root"
    s.call("session.logout", s.session)


def test_root_over_tcp_needs_its_password(fresh_daemon):
    d = fresh_daemon
    t = tcp(d)
    reply = t.call(LOGIN, "root", "")
    assert reply["ErrorDescription"][:2] == ["SESSION_AUTHENTICATION_FAILED", "root"]
    reply = t.call(LOGIN, "root", "guess")
    assert reply["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    s = Raw(unix_proxy(d))
    s.login("root", "")
    root_ref = s.ok("user.get_by_short_name", "root")[0]
    assert s.ok("user.set_password", root_ref, "the root pw") == ""
    t.login("root", "the root pw")
    assert t.ok("session.get_this_user", t.session) == "root"
    assert isinstance(t.ok("VM.get_all"), list)
    assert t.call(LOGIN, "root", "not the root pw")["ErrorDescription"][0] == \
        "SESSION_AUTHENTICATION_FAILED"
    # the SDK over TCP, as a client would use it
    sdk = d.sdk_tcp("root", "the root pw")
    assert isinstance(sdk.xenapi.host.get_all(), list)
    sdk.xenapi.session.logout()


def test_wrong_or_unset_passwords_are_refused(daemon, root, alice):
    t = tcp(daemon)
    assert t.call(LOGIN, alice["name"], "wrong")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", alice["name"], "Authentication failure"]
    nopw = unique("nopw")
    root.user.create({"short_name": nopw})
    assert t.call(LOGIN, nopw, "")["ErrorDescription"][0] == \
        "SESSION_AUTHENTICATION_FAILED"
    assert t.call(LOGIN, nopw, "x")["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    assert t.call(LOGIN, unique("ghost"), "x")["ErrorDescription"][0] == \
        "SESSION_AUTHENTICATION_FAILED"


def test_changing_a_password_takes_effect(daemon, root):
    ref, name, pw = make_user(root, unique("carol"), "old pw")
    t = tcp(daemon)
    t.login(name, "old pw")
    root.user.set_password(ref, "new pw")
    assert t.call(LOGIN, name, "old pw")["Status"] == "Failure"
    assert t.call(LOGIN, name, "new pw")["Status"] == "Success"


def test_sdk_over_tcp_as_a_user(daemon, alice):
    s = daemon.sdk_tcp(alice["name"], alice["pw"])
    try:
        vm = s.xenapi.VM.create({"name_label": unique("alices")})
        assert s.xenapi.VM.get_name_label(vm).startswith("alices")
    finally:
        s.xenapi.session.logout()


def test_this_host_is_the_daemons_host(daemon, root, alice):
    """Xen-API 1.0's first call: session.get_this_host(session, session)."""
    host = root.host.get_all()[0]
    s = daemon.sdk_tcp(alice["name"], alice["pw"])
    try:
        assert s.xenapi.session.get_this_host(s._session) == host
    finally:
        s.xenapi.session.logout()
    t = tcp(daemon)
    t.login(alice["name"], alice["pw"], "1.0")
    assert t.ok("session.get_this_host", t.session) == host
    assert t.ok("session.get_record", t.session)["this_host"] == host
    assert t.fail("session.get_this_host", "no-such-session") == [
        "HANDLE_INVALID", "session", "no-such-session"]

# -- password secrecy -----------------------------------------------------------

def test_password_hash_never_leaves_the_daemon(daemon, root, raw):
    ref, name, pw = make_user(root, unique("dave"), "dave's secret pw")
    t = tcp(daemon)
    t.login(name, pw)                                # a log line about the login, at least
    t.call(LOGIN, name, "a wrong one")
    h = stored_hash(daemon, ref)
    assert h and pw not in h
    outputs = [
        repr(root.user.get_record(ref)),
        repr(root.user.get_all_records()),
        root.user.to_XML(ref),
        repr(raw.ok("user.get_record", ref)),
        repr(raw.ok("user.get_all_records")),
        repr(t.ok("user.get_record", ref)),
    ]
    assert set(root.user.get_record(ref)) == {"uuid", "short_name", "fullname"}
    events = raw.s("event.from", ["user"], "", 0.0)
    if events["Status"] == "Success":                # events are an extension
        outputs.append(repr(events["Value"]))
    log = daemon.log_text()
    for text in outputs + [log]:
        assert h not in text
        assert h.split("$")[-1] not in text          # not even the digest
        assert "scrypt$" not in text
        assert pw not in text and "a wrong one" not in text


def test_set_password_refuses_an_empty_password(root, alice):
    d = failure(root.user.set_password, alice["ref"], "")
    assert d[0] == "INVALID_VALUE"


# -- revocation and visibility ----------------------------------------------------

def test_deleting_a_user_revokes_their_sessions_at_once(daemon, root):
    ref, name, pw = make_user(root, unique("erin"), "erin pw")
    t1, t2 = tcp(daemon), tcp(daemon)
    t1.login(name, pw)
    t2.login(name, pw)
    assert isinstance(t1.ok("VM.get_all"), list)
    root.user.delete(ref)
    assert t1.fail("VM.get_all") == ["SESSION_INVALID", t1.session]
    assert t2.fail("VM.get_all") == ["SESSION_INVALID", t2.session]
    assert t1.session not in root.session.get_all()
    assert t1.call(LOGIN, name, pw)["ErrorDescription"][0] == \
        "SESSION_AUTHENTICATION_FAILED"


def test_only_root_may_create_delete_users_or_set_passwords(daemon, root, alice):
    t = tcp(daemon)
    t.login(alice["name"], alice["pw"])
    assert t.fail("user.create", {"short_name": unique("mallory")})[0] == "PERMISSION_DENIED"
    victim = root.user.create({"short_name": unique("victim")})
    assert t.fail("user.delete", victim)[0] == "PERMISSION_DENIED"
    assert t.fail("user.destroy", victim)[0] == "PERMISSION_DENIED"
    assert t.fail("user.set_password", victim, "x")[0] == "PERMISSION_DENIED"
    assert t.fail("user.set_password", alice["ref"], "x")[0] == "PERMISSION_DENIED"
    assert victim in root.user.get_all()
    # root can
    root.user.set_password(victim, "v pw")
    root.user.delete(victim)
    assert victim not in root.user.get_all()


def test_non_root_sees_only_their_own_session(daemon, root, alice):
    t = tcp(daemon)
    t.login(alice["name"], alice["pw"])
    other = tcp(daemon)
    other.login(alice["name"], alice["pw"])   # the same user's other session is not theirs
    everyone = root.session.get_all()
    assert t.session in everyone and other.session in everyone
    assert len(everyone) >= 3
    assert t.ok("session.get_all") == [t.session]
    assert list(t.ok("session.get_all_records")) == [t.session]
    root_session = next(s for s in everyone if root.session.get_this_user(s) == "root")
    assert t.fail("session.get_record", root_session) == ["HANDLE_INVALID", "session",
                                                          root_session]
    assert t.fail("session.get_by_uuid", root_session)[0] == "UUID_INVALID"
    assert t.ok("session.get_record", t.session)["this_user"] == alice["name"]


def test_root_sees_every_session(daemon, root, alice):
    t = tcp(daemon)
    t.login(alice["name"], alice["pw"])
    assert t.session in root.session.get_all()
    assert root.session.get_this_user(t.session) == alice["name"]
    assert root.session.get_record(t.session)["this_user"] == alice["name"]


def test_logout_ends_only_that_session(daemon, alice):
    a, b = tcp(daemon), tcp(daemon)
    a.login(alice["name"], alice["pw"])
    b.login(alice["name"], alice["pw"])
    assert a.call("session.logout", a.session) == {"Status": "Success", "Value": ""}
    assert a.fail("VM.get_all") == ["SESSION_INVALID", a.session]
    assert isinstance(b.ok("VM.get_all"), list)


def test_session_refs_are_unguessable(raw, daemon):
    refs = {Raw(unix_proxy(daemon)).login("root", "") for _ in range(5)}
    assert len(refs) == 5
    assert all(len(r) >= 32 for r in refs)


def test_sdk_logs_in_again_after_session_invalid(daemon, alice):
    """The SDK re-logs in on SESSION_INVALID (clients.md): a server-side logout of its
    session is survived transparently."""
    s = daemon.sdk_tcp(alice["name"], alice["pw"])
    handle = s._session
    Raw(tcp_proxy(daemon)).call("session.logout", handle)
    assert isinstance(s.xenapi.VM.get_all(), list)
    assert s._session != handle
    s.xenapi.session.logout()
