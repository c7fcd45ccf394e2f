"""What a detached daemon writes to its log at level debug: one line per API call,
failures with their error code, and never a password or a session ref."""

import logging
import re
import socket

import pytest
from daemontools import DetachedXend

from xen.xend.daemon.logs import OneLineFormatter

PASSWORD = "Tr0ub4dor-and-3"
WRONG_PASSWORD = "not-the-Passw0rd"
FORGED = "2026-01-01 00:00:00,000 CRITICAL xend: FORGED"


@pytest.fixture(scope="module")
def run():
    """A daemon that served logins and calls, stopped; yields (log text, what was used)."""
    d = DetachedXend()
    try:
        d.start()
        root_session = d.sdk()
        root = root_session.xenapi
        user = root.user.create({"short_name": "alice", "fullname": "Alice"})
        root.user.set_password(user, PASSWORD)
        raw = d.raw_tcp()
        alice = raw.session.login_with_password("alice", PASSWORD)["Value"]
        failed = raw.session.login_with_password("alice", WRONG_PASSWORD)
        vm = root.VM.create({"name_label": "logged", "memory_static_max": "268435456"})
        root.VM.start(vm, False)
        raw.VM.get_all(alice)
        missing = raw.VM.get_record(alice, "11111111-1111-1111-1111-111111111111")
        # Client strings that try to start log lines of their own.
        raw.session.login_with_password("mallory\n" + FORGED, "x")
        raw.session.login_with_password("mallory\u2028" + FORGED, "x")
        getattr(raw, "VM.nosuch\n" + FORGED)(alice)
        raw.VM.get_record(alice, "bad\r\n" + FORGED)
        raw.session.logout(alice)
        used = {"sessions": [root_session._session, alice], "failed": failed,
                "missing": missing}
        d.stop()
        yield d.log_text(), used
    finally:
        d.cleanup()


def test_client_strings_cannot_start_a_log_line(run):
    text, _ = run
    assert FORGED in text                           # logged, but escaped inside a line
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    assert "mallory\\n" + FORGED in text
    assert "mallory\\u2028" + FORGED in text


# Every character str.splitlines() breaks a line at: the C0 ones, NEL (U+0085), and the
# line and paragraph separators.
@pytest.mark.parametrize("brk", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
                                 "\u2028", "\u2029"])
def test_every_line_break_in_a_message_is_escaped(brk):
    record = logging.LogRecord("xend", logging.INFO, __file__, 1, "login of %s",
                               ("mallory" + brk + FORGED,), None)
    line = OneLineFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.splitlines() == [line]
    assert line.endswith(ascii(brk)[1:-1] + FORGED)


def test_no_password_or_session_ref_is_logged(run):
    log, used = run
    assert PASSWORD not in log and WRONG_PASSWORD not in log
    for ref in used["sessions"]:
        assert ref not in log


def test_each_call_has_one_debug_line(run):
    log, _ = run
    calls = re.findall(r" DEBUG xend\.dispatch: (\S+) by (\S+): Success$", log, re.M)
    # Two logins went through (root's and alice's); the failed one is an info line.
    assert calls == [("session.login_with_password", "-"), ("user.create", "root"),
                     ("user.set_password", "root"), ("session.login_with_password", "-"),
                     ("VM.create", "root"), ("VM.start", "root"), ("VM.get_all", "alice"),
                     ("session.logout", "alice")]


def test_failures_are_logged_at_info_with_their_code(run):
    log, used = run
    assert used["failed"]["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    assert used["missing"]["ErrorDescription"][0] == "HANDLE_INVALID"
    assert re.search(r" INFO xend\.dispatch: session\.login_with_password: "
                     r"SESSION_AUTHENTICATION_FAILED alice", log)
    assert re.search(r" INFO xend\.dispatch: VM\.get_record: HANDLE_INVALID VM ", log)


def test_session_refs_in_errors_are_not_logged():
    d = DetachedXend()
    try:
        d.start()
        root_session = d.sdk()
        raw = d.raw_tcp()
        user = root_session.xenapi.user.create({"short_name": "bob", "fullname": "Bob"})
        root_session.xenapi.user.set_password(user, PASSWORD)
        bob = raw.session.login_with_password("bob", PASSWORD)["Value"]
        raw.session.get_record(bob, root_session._session)   # HANDLE_INVALID for bob
        raw.session.logout(bob)
        raw.VM.get_all(bob)                                  # SESSION_INVALID
        log = d.log_text()
        assert root_session._session not in log and bob not in log
    finally:
        d.cleanup()


def test_async_calls_are_logged():
    d = DetachedXend()
    try:
        d.start()
        x = d.sdk().xenapi
        vm = x.VM.create({"name_label": "async", "memory_static_max": "268435456"})
        x.Async.VM.start(vm, False)
        assert re.search(r" DEBUG xend\.dispatch: Async\.VM\.start by root", d.log_text())
    finally:
        d.cleanup()


def test_serving_is_logged_only_once_every_listener_is_bound(run):
    lines = run[0].splitlines()
    ready = [i for i, line in enumerate(lines) if line.endswith(" serving")]
    listening = [i for i, line in enumerate(lines) if " listening on " in line]
    assert len(ready) == 1 and len(listening) == 2 and max(listening) < ready[0], lines[:12]


def test_a_start_that_cannot_listen_never_says_serving():
    d = DetachedXend()
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", d.port))       # the TCP port is someone else's
        holder.listen()
        r = d.xend("start")
        assert r.returncode != 0
        assert "cannot listen" in r.stderr
        assert not any(line.endswith(" serving") for line in d.log_text().splitlines())
    finally:
        holder.close()
        d.cleanup()


@pytest.mark.parametrize("mark", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                                  "\u2067", "\u2068", "\u2069"])
def test_bidirectional_controls_are_escaped(mark):
    """A right-to-left override would make a terminal show the line's text reordered."""
    record = logging.LogRecord("xend", logging.INFO, __file__, 1, "login of %s",
                               ("admin" + mark + "tneilc",), None)
    line = OneLineFormatter("%(message)s").format(record)
    assert line == "login of admin" + ascii(mark)[1:-1] + "tneilc"
