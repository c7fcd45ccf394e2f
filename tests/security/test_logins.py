"""Login throttling: exponential delay after failures, lockout after many, per source
address and per user, reset on success."""

import base64
import threading
import time
import urllib.error
import urllib.request

import pytest
import XenAPI
from harness import failure
from secutil import login, set_password

LOCKOUT = 4
SECONDS = 2.0
# tests/conftest.py's daemons wait login_failure_delay = 0.05 s after a first failure.
CONFIG = ("login_failure_delay_max = 0.4\nlogin_lockout_failures = %d\n"
          "login_lockout_seconds = %.1f\n" % (LOCKOUT, SECONDS))
TOO_MANY = "too many failures; try again later"


@pytest.fixture
def throttled(make_daemon):
    """A daemon of the test's own (lockouts are its state) with users alice and bob."""
    d = make_daemon(CONFIG)
    set_password(d, "alice", "alice-pw")
    set_password(d, "bob", "bob-pw")
    return d


def fails(reply):
    assert reply["Status"] == "Failure", reply
    assert reply["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
    return reply["ErrorDescription"][2]


def test_lockout_refuses_even_the_right_password(throttled):
    """Refused unchecked and without a delay (checked in test_units.py, on the throttle's
    clock; how long each failure waits is checked there too)."""
    for _ in range(LOCKOUT):
        login(throttled, "alice", "wrong")
    reply = login(throttled, "alice", "alice-pw")
    assert reply["ErrorDescription"] == ["SESSION_AUTHENTICATION_FAILED", "alice", TOO_MANY]
    log = throttled.log_text()
    assert "login lockout: user 'alice' locked out" in log
    assert "login lockout: address 'tcp 127.0.0.1' locked out" in log


def test_guesses_sent_at_once_are_checked_no_more_than_the_lockout_allows(throttled):
    """30 SDK clients guess alice's password at the same moment: each password checked
    and wrong is logged as a failed login, and only LOCKOUT of them may be checked."""
    clients = 30
    barrier = threading.Barrier(clients)
    answers = []

    def guess():
        session = XenAPI.Session(throttled.url)
        barrier.wait(timeout=30)
        answers.append(failure(session.xenapi.login_with_password, "alice", "wrong")[2])
    threads = [threading.Thread(target=guess) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == clients
    assert throttled.log_text().count("login failed for user 'alice'") == LOCKOUT
    assert answers.count("Authentication failure") == LOCKOUT
    assert fails(login(throttled, "alice", "alice-pw")) == TOO_MANY


def test_lockout_ends_after_its_time(throttled):
    for _ in range(LOCKOUT):
        login(throttled, "alice", "wrong")
    assert fails(login(throttled, "alice", "alice-pw")) == TOO_MANY
    time.sleep(SECONDS + 0.2)
    assert login(throttled, "alice", "alice-pw")["Status"] == "Success"


def test_success_resets_the_count(throttled):
    for _ in range(LOCKOUT - 1):
        login(throttled, "alice", "wrong")
    assert login(throttled, "alice", "alice-pw")["Status"] == "Success"
    for _ in range(LOCKOUT - 1):
        assert fails(login(throttled, "alice", "wrong")) == "Authentication failure"
    login(throttled, "alice", "wrong")   # the fourth in a row since the success locks
    assert fails(login(throttled, "alice", "alice-pw")) == TOO_MANY


def test_one_address_trying_many_users_is_locked_out(throttled):
    """Password spraying: one guess each at many names still counts against the address."""
    for i in range(LOCKOUT):
        login(throttled, "nobody-%d" % i, "guess", source="127.0.0.7")
    assert fails(login(throttled, "bob", "bob-pw", source="127.0.0.7")) == TOO_MANY
    assert login(throttled, "bob", "bob-pw", source="127.0.0.8")["Status"] == "Success"


def test_many_addresses_trying_one_user_lock_that_user(throttled):
    for i in range(LOCKOUT):
        login(throttled, "bob", "guess", source="127.0.1.%d" % (i + 1))
    assert fails(login(throttled, "bob", "bob-pw", source="127.0.2.1")) == TOO_MANY
    assert login(throttled, "alice", "alice-pw", source="127.0.2.1")["Status"] == "Success"


def test_root_on_the_unix_socket_is_never_locked_out(throttled):
    for _ in range(LOCKOUT):
        login(throttled, "root", "wrong")
    assert fails(login(throttled, "root", "wrong")) == TOO_MANY
    s = throttled.sdk_unix()
    assert s.xenapi.host.get_all()
    s.xenapi.session.logout()


def test_metrics_basic_auth_is_throttled_like_logins(throttled):
    def scrape(password):
        req = urllib.request.Request(throttled.url + "metrics", headers={
            "Authorization": "Basic " + base64.b64encode(b"alice:" + password).decode()})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    assert scrape(b"alice-pw") == 200
    for _ in range(LOCKOUT):
        assert scrape(b"wrong") == 401
    assert scrape(b"alice-pw") == 401
    assert fails(login(throttled, "alice", "alice-pw")) == TOO_MANY


def test_over_long_user_names_are_refused_unread(throttled):
    reply = login(throttled, "u" * 100000, "x")
    assert fails(reply) == "Authentication failure"
    assert "u" * 600 not in throttled.log_text(), "log lines must stay short"
