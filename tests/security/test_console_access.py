"""Who may open a guest's console (api/consoles.py's open_console, which the console proxy
calls with what a client sent): only a live session, only for a console that exists, and
the client types into the guest only where its user may change the VM; every refusal is
a structured ApiError, never another exception.

In process, on a real daemon object (sim backend, no listeners); the backend's
open_console is replaced by one that records what it was asked for."""

import socket

import pytest
from harness import ROOT_PEER, unique

from xen.xend.api import consoles
from xen.xend.api.errors import ApiError
from xen.xend.api.sessions import Peer
from xen.xend.backend.base import BackendError
from xen.xend.daemon import config as configmod
from xen.xend.daemon.app import Xend

PEER = Peer("tcp", address="127.0.0.1")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cfg = configmod.load(None, {"state_dir": str(tmp_path_factory.mktemp("state")),
                                "backend": "sim", "socket": "none", "listen": "none",
                                "login_failure_delay": 0.0})
    app = Xend(cfg)
    try:
        app.test_session = app.sessions.login("root", "", "", ROOT_PEER)
        yield app
    finally:
        app.close()


def call(app, name, *args, session=None):
    reply = app.dispatcher.dispatch(name, (session or app.test_session,) + args, ROOT_PEER)
    assert reply["Status"] == "Success", reply
    return reply["Value"]


@pytest.fixture
def opened(app, monkeypatch):
    """The (vm, protocol, writer) of each backend.open_console call; each gets one end of
    a socketpair, closed at the test's end."""
    asked, ends = [], []

    def open_console(vm, protocol, writer=True, live=True):
        asked.append((vm, protocol, writer))
        ours, theirs = socket.socketpair()
        ends.extend((ours, theirs))
        return theirs
    monkeypatch.setattr(app.backend, "open_console", open_console)
    yield asked
    for end in ends:
        end.close()


@pytest.fixture
def running(app):
    """A running VM and its console."""
    vm = call(app, "VM.create", {"name_label": unique("vm")})
    call(app, "VM.start", vm, False)
    yield vm, call(app, "VM.get_consoles", vm)[0]
    call(app, "VM.hard_shutdown", vm)


def error_of(fn, *args, **kwargs):
    with pytest.raises(ApiError) as e:
        fn(*args, **kwargs)
    return e.value.description


def user_session(app):
    name, password = unique("u"), "pw-" + unique()
    ref = call(app, "user.create", {"short_name": name, "fullname": "A User"})
    call(app, "user.set_password", ref, password)
    return app.sessions.login(name, password, "", PEER)


def test_root_opens_the_console_as_writer(app, opened, running):
    vm, con = running
    sock, protocol, writer = consoles.open_console(app, app.test_session, con)
    assert protocol == "vt100" and writer
    assert opened == [(vm, "vt100", True)]
    assert sock.type == socket.SOCK_STREAM


def test_a_reader_stays_a_reader(app, opened, running):
    vm, con = running
    assert not consoles.open_console(app, app.test_session, con, writer=False)[2]
    assert opened == [(vm, "vt100", False)]


def test_a_user_who_may_change_the_vm_may_type_into_it(app, opened, running):
    vm, con = running
    consoles.open_console(app, user_session(app), con)
    assert opened == [(vm, "vt100", True)]


def test_a_user_who_may_not_change_the_vm_only_reads(app, opened, running, monkeypatch):
    vm, con = running
    session = user_session(app)

    def root_only(call, ref):
        if not call.is_root:
            raise ApiError("PERMISSION_DENIED", "only root may change this VM")
    monkeypatch.setattr(app.handlers["VM"], "may_write", root_only)
    assert not consoles.open_console(app, session, con)[2]   # the proxy filters a reader
    assert opened == [(vm, "vt100", False)]


@pytest.mark.parametrize("session", ["", "not-a-session", None, 7])
def test_no_live_session_opens_nothing(app, opened, running, session):
    _, con = running
    assert error_of(consoles.open_console, app, session, con)[0] == "SESSION_INVALID"
    assert opened == []


def test_a_logged_out_session_opens_nothing(app, opened, running):
    _, con = running
    session = user_session(app)
    app.sessions.logout(session)
    assert error_of(consoles.open_console, app, session, con) == ["SESSION_INVALID", session]
    assert opened == []


def test_only_a_console_ref_opens_a_console(app, opened, running):
    vm, _ = running
    for bad in ("", "OpaqueRef:NULL", "nonsense", vm, app.host_ref):
        assert error_of(consoles.open_console, app, app.test_session, bad) == \
            ["HANDLE_INVALID", "console", bad]
    assert error_of(consoles.open_console, app, app.test_session, None)[:2] == \
        ["HANDLE_INVALID", "console"]
    assert opened == []


def test_a_console_gone_with_its_guest_opens_nothing(app, opened):
    vm = call(app, "VM.create", {"name_label": unique("vm")})
    call(app, "VM.start", vm, False)
    con = call(app, "VM.get_consoles", vm)[0]
    call(app, "VM.hard_shutdown", vm)
    assert error_of(consoles.open_console, app, app.test_session, con) == \
        ["HANDLE_INVALID", "console", con]
    assert opened == []


def test_the_backends_refusal_is_an_api_error(app, running, monkeypatch):
    _, con = running

    def no_console(vm, protocol, writer=True, live=True):
        raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol, "no such console")
    monkeypatch.setattr(app.backend, "open_console", no_console)
    assert error_of(consoles.open_console, app, app.test_session, con) == \
        ["VALUE_NOT_SUPPORTED", "console", "vt100", "no such console"]
