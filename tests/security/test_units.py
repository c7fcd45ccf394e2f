"""Unit tests of the hardening pieces: config checks, check_path, the login throttle,
the log gate and connection admission."""

import hashlib
import os
import socket
import threading
import types

import pytest
from harness import wait_until

from xen.xend.api.errors import ApiError
from xen.xend.api.limits import LogGate, LoginThrottle
from xen.xend.api.sessions import Peer, Sessions, hash_password
from xen.xend.api.values import check_path
from xen.xend.daemon import config
from xen.xend.state.store import Store
from xen.xend.transport.admission import Admission


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("values", [
    {"allow": ["10.0.0.0/8", "192.0.2.7", "::1", "fe80::/10"]},
    {"tls_allow": []},
    {"path_roots": ["/srv/images", "/"]},
    {"session_max_lifetime": 0, "max_sessions_per_user": 0, "login_lockout_failures": 0},
    {"login_concurrent_checks": 1},
    {"session_max_lifetime": 1.5, "shutdown_timeout": 90.5},
    {"database": "postgresql://xend@db.example.net:5432/xend"},
    {"database": "postgresql:///xend?host=/var/run/postgresql"},
])
def test_config_accepts(values):
    assert config._checked(dict(values), "test") == values


@pytest.mark.parametrize("values,message", [
    ({"allow": ["10.0.0.0/33"]}, "allow has '10.0.0.0/33'"),
    ({"allow": ["example.org"]}, "not an address or network"),
    ({"allow": "127.0.0.1"}, "allow must be a list"),
    ({"tls_allow": [5]}, "not an address or network"),
    ({"path_roots": ["relative/dir"]}, "not an absolute path"),
    ({"max_connections": 0}, "max_connections must be greater than 0"),
    ({"request_timeout": 0}, "request_timeout must be greater than 0"),
    ({"first_byte_timeout": 0}, "first_byte_timeout must be greater than 0"),
    ({"max_unauthenticated_connections": 0}, "must be greater than 0"),
    ({"loopback_is_one_client": 1}, "loopback_is_one_client must be a bool"),
    ({"login_lockout_failures": -1}, "must not be negative"),
    ({"login_concurrent_checks": 0}, "login_concurrent_checks must be greater than 0"),
    ({"session_max_lifetime": -1}, "session_max_lifetime must be 0 or more"),
    ({"max_connections": 1.5}, "max_connections must be an integer"),
    ({"console_history_bytes": 0}, "console_history_bytes must be greater than 0"),
    ({"database": "mysql://xend@db/xend"}, "database must be \"\" (SQLite in state_dir) or"),
    ({"database": "postgresql://xend:s3cret@db/xend"}, "database must not hold a password"),
    ({"database": "postgresql://xend@db/xend?password=s3cret"}, "must not hold a password"),
    ({"database_log_retention": 0}, "database_log_retention must be greater than 0"),
    ({"pool_lease_seconds": 2}, "pool_lease_seconds must be 3 or more"),
    ({"pool_lease_seconds": "30"}, "pool_lease_seconds must be a number"),
])
def test_config_refuses(values, message):
    with pytest.raises(config.ConfigError) as e:
        config._checked(values, "test")
    assert message in str(e.value)
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_database_password_file_others_may_read_is_refused(tmp_path, mode):
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    path.chmod(mode)
    with pytest.raises(config.ConfigError) as e:
        config.database_password({"database_password_file": str(path)})
    assert str(path) in str(e.value) and "readable by others" in str(e.value)
    assert "s3cret" not in str(e.value)


def test_the_database_password_is_the_files_first_line(tmp_path):
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    path.chmod(0o600)
    assert config.database_password({"database_password_file": str(path)}) == "s3cret"
    assert config.database_password({"database_password_file": ""}) is None


def test_every_key_is_documented_in_the_example_config():
    """Every key of config.DEFAULTS is set in tools/examples/xend.toml, to its default
    (the example says "the value shown is the default"), and the example has no key
    the daemon would refuse: a key added to DEFAULTS alone fails here."""
    import tomllib
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "examples", "xend.toml")
    with open(path, "rb") as f:
        example = tomllib.load(f)
    assert sorted(set(config.DEFAULTS) - set(example)) == [], "keys missing from the example"
    assert sorted(set(example) - set(config.DEFAULTS)) == [], "keys the daemon does not know"
    for key, default in config.DEFAULTS.items():
        assert example[key] == default, key


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Two certificate/key pairs made as xend makes its own: {"a": (cert, key), "b": ...}."""
    from xen.xend.transport import tls
    return {name: tls.ensure_self_signed(str(tmp_path_factory.mktemp("pair-" + name)))
            for name in ("a", "b")}


def test_tls_server_offers_only_aead_ciphers(pairs):
    from xen.xend.transport import tls
    ciphers = tls.server_context(*pairs["a"]).get_ciphers()
    assert {c["protocol"] for c in ciphers} >= {"TLSv1.2", "TLSv1.3"}
    assert [c["name"] for c in ciphers if not c["aead"]] == []


@pytest.mark.parametrize("cert,key,message", [
    ("a.cert", "", "test: tls_cert is set but tls_key is not"),
    ("", "a.key", "test: tls_key is set but tls_cert is not"),
])
def test_tls_pair_is_both_or_neither(pairs, cert, key, message):
    files = {"a.cert": pairs["a"][0], "a.key": pairs["a"][1], "": ""}
    with pytest.raises(config.ConfigError) as e:
        config._check_tls_pair({"tls_cert": files[cert], "tls_key": files[key]}, "test")
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("cert,key,message", [
    ("a.cert", "missing", "tls_key = '{key}' cannot be read: No such file or directory"),
    ("missing", "a.key", "tls_cert = '{cert}' cannot be read: No such file or directory"),
    ("a.cert", "dir", "tls_key = '{key}' cannot be read: Is a directory"),
    ("a.cert", "b.key", "cannot be used: the private key is not the certificate's"),
    ("a.key", "a.key", "cannot be used: the certificate file holds no PEM certificate"),
    ("a.cert", "a.cert", "cannot be used: the key file holds no PEM private key"),
])
def test_tls_files_are_checked_before_listening(pairs, tmp_path, cert, key, message):
    files = {"a.cert": pairs["a"][0], "a.key": pairs["a"][1], "b.key": pairs["b"][1],
             "missing": str(tmp_path / "missing.pem"), "dir": str(tmp_path)}
    cfg = {"tls_listen": "127.0.0.1:4465", "tls_cert": files[cert], "tls_key": files[key]}
    with pytest.raises(config.ConfigError) as e:
        config.check_tls_files(cfg)
    assert message.format(cert=files[cert], key=files[key]) in str(e.value)
    config.check_tls_files(dict(cfg, tls_listen="none"))     # no listener, nothing read
    config.check_tls_files(dict(cfg, tls_cert=pairs["a"][0], tls_key=pairs["a"][1]))


# -- check_path ------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("", ""),
    ("/boot/vmlinuz", "/boot/vmlinuz"),
    ("//boot//vmlinuz/", "/boot/vmlinuz"),
    ("/srv/iso/debian 12.iso", "/srv/iso/debian 12.iso"),
])
def test_check_path_accepts_and_normalises(value, expected):
    assert check_path(value, "kernel_kernel") == expected


@pytest.mark.parametrize("value,reason", [
    ("vmlinuz", "must be absolute"), ("./vmlinuz", "must be absolute"),
    ("~/vmlinuz", "must be absolute"),
    ("/boot/../etc/shadow", "must not have . or .. components"),
    ("/boot/./vmlinuz", "must not have . or .. components"),
    ("/boot/\nvmlinuz", "must be printable"), ("/boot/vm\x00linuz", "must be printable"),
    ("/boot/\x1b[2Jvm", "must be printable"), ("/boot/\u2028x", "must be printable"),
    ("/a" * 3000, "longer than 4096 characters"),
])
def test_check_path_refuses(value, reason):
    with pytest.raises(ApiError) as e:
        check_path(value, "kernel_kernel")
    assert e.value.code == "INVALID_VALUE" and e.value.params[0] == "kernel_kernel"
    assert e.value.params[1].isprintable()
    assert e.value.params[1].endswith(" (%s)" % reason)      # the reason, never cut off


@pytest.mark.parametrize("value", [5, None, ["/boot/x"], b"/boot/x"])
def test_check_path_refuses_non_strings(value):
    with pytest.raises(ApiError) as e:
        check_path(value, "bios_cdrom")
    assert e.value.description == ["FIELD_TYPE_ERROR", "bios_cdrom"]


def test_check_path_keeps_paths_under_the_roots(tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    os.symlink("/etc", str(root / "escape"))
    roots = [str(root)]
    assert check_path(str(root / "sub" / "k"), "kernel_kernel", roots) == str(root / "sub" / "k")
    assert check_path(str(root), "kernel_kernel", roots) == str(root)
    for outside in (str(tmp_path / "images-other" / "k"), "/etc/shadow",
                    str(root / "escape" / "shadow")):
        with pytest.raises(ApiError) as e:
            check_path(outside, "kernel_kernel", roots)
        assert e.value.code == "INVALID_VALUE"


# -- the login throttle ------------------------------------------------------------------------


def throttle(clock, failures=3, seconds=60.0):
    return LoginThrottle(0.5, 4.0, failures, seconds, clock=clock)


def guess(t, keys):
    """One failed attempt against ``keys``: failed()'s (delay, newly locked keys)."""
    assert t.reserve(keys) == []
    return t.failed(keys)


def test_delay_doubles_per_failure_up_to_the_cap():
    t = throttle(Clock(), failures=0)
    delays = [guess(t, [("user", "a")])[0] for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_worse_key_sets_the_delay():
    t = throttle(Clock(), failures=0)
    for _ in range(3):
        guess(t, [("address", "x")])
    assert guess(t, [("address", "x"), ("user", "fresh")])[0] == 4.0


def test_lockout_after_n_failures_and_its_end():
    clock = Clock()
    t = throttle(clock)
    keys = [("address", "x"), ("user", "a")]
    assert guess(t, keys)[1] == [] and guess(t, keys)[1] == []
    assert guess(t, keys)[1] == keys                # the third locks both
    assert t.reserve(keys) == keys                  # refused: nothing reserved
    assert t.reserve([("user", "b")]) == []
    clock.now += 59
    assert t.reserve(keys) == keys
    clock.now += 1
    assert t.reserve(keys) == []                    # lockout_seconds after the last failure
    assert t.failed(keys)[0] == 0.5                 # and the count starts again


def test_attempts_in_flight_count_until_they_end():
    t = throttle(Clock())
    keys = [("address", "x"), ("user", "a")]
    assert guess(t, keys)[1] == []
    assert t.reserve(keys) == [] and t.reserve(keys) == []
    assert t.reserve(keys) == keys                  # one failed, two in flight
    assert t.reserve([("address", "y"), ("user", "a")]) == [("user", "a")]
    t.succeeded(keys)            # forgets the failure, ends its own reservation only
    assert t.reserve(keys) == [] and t.reserve(keys) == []
    assert t.reserve(keys) == keys                  # three in flight
    for _ in range(3):
        t.failed(keys)
    assert t.reserve(keys) == keys                  # three failed, none in flight
    assert t._pending == {}


def test_success_resets_only_its_keys():
    t = throttle(Clock())
    for _ in range(2):
        guess(t, [("address", "x"), ("user", "a")])
    assert t.reserve([("address", "x"), ("user", "a")]) == []
    t.succeeded([("address", "x"), ("user", "a")])
    guess(t, [("address", "x"), ("user", "a")])
    assert t.reserve([("address", "x"), ("user", "a")]) == []


def test_zero_failures_never_locks():
    t = throttle(Clock(), failures=0)
    for _ in range(100):
        guess(t, [("user", "a")])
    assert t.reserve([("user", "a")]) == []


# -- the login throttle in Sessions.login, on the throttle's clock and sleep ------------------

REMOTE = Peer("tcp", address="127.0.0.1")
TOO_MANY = "too many failures; try again later"


def throttled_sessions(clock, slept, failures=0, **limits):
    """Sessions with user alice (password "alice-pw"), delays of 0.05 s doubling up to
    0.4 s, a lockout after ``failures`` for 2 s, other ``limits`` of config.DEFAULTS;
    its waits are appended to ``slept``, and ``clock`` is its time, wall clock included."""
    store = Store(None, ["session", "user"], lookup_fields=[("user", "short_name")])
    with store.transaction() as txn:
        txn.create("user", "u-alice", {"short_name": "alice", "fullname": "Alice"},
                   private={"password": hash_password("alice-pw")})
    limits = dict(limits, login_failure_delay_max=0.4, login_lockout_failures=failures,
                  login_lockout_seconds=2.0)
    app = types.SimpleNamespace(config=dict(config.DEFAULTS, **limits), store=store)
    return Sessions(app, idle_timeout=2, failure_delay=0.05, clock=clock,
                    sleep=slept.append, wall_clock=clock)


def refusal(sessions, password):
    """The reason a login of alice with ``password`` is refused."""
    return refusal_from(sessions, "alice", REMOTE, password)


def refusal_from(sessions, user, peer, password="wrong"):
    """The reason a login of ``user`` from ``peer`` is refused."""
    with pytest.raises(ApiError) as e:
        sessions.login(user, password, "", peer)
    assert e.value.description[:2] == ["SESSION_AUTHENTICATION_FAILED", user]
    return e.value.description[2]


def test_only_a_successful_login_makes_its_connection_authenticated():
    sessions = throttled_sessions(Clock(), [])
    peer = Peer("tcp", address="127.0.0.1")
    refusal_from(sessions, "alice", peer)
    assert not peer.authenticated
    sessions.login("alice", "alice-pw", "", peer)
    assert peer.authenticated


def test_each_failed_login_waits_twice_as_long_up_to_the_cap():
    slept = []
    sessions = throttled_sessions(Clock(), slept, failures=0)
    for _ in range(5):
        assert refusal(sessions, "wrong") == "Authentication failure"
    assert slept == [0.05, 0.1, 0.2, 0.4, 0.4]


def test_a_locked_out_login_neither_checks_the_password_nor_waits(monkeypatch):
    slept = []
    sessions = throttled_sessions(Clock(), slept, failures=4)
    for _ in range(4):
        refusal(sessions, "wrong")
    checked = []
    monkeypatch.setattr(sessions, "_authenticate", lambda *args: checked.append(args))
    del slept[:]
    assert refusal(sessions, "alice-pw") == TOO_MANY
    assert (checked, slept) == ([], [])


def test_guesses_sent_at_once_get_no_more_checks_than_the_lockout_allows():
    """39 wrong guesses at once, then the right password while they are being checked,
    then 20 more: only ``login_lockout_failures`` passwords are checked, the rest are
    refused unchecked, the right password included."""
    sessions = throttled_sessions(Clock(), [], failures=10, login_concurrent_checks=60)
    checked, refused, answers = [], [], {}
    done = threading.Event()

    def slow_check(uname, pwd):
        checked.append(pwd)
        assert done.wait(30)
        return pwd == "alice-pw"
    sessions._authenticate = slow_check

    def guess(i, password):
        try:
            answers[i] = sessions.login("alice", password, "", REMOTE)
        except ApiError as e:
            answers[i] = e.description[2]
            refused.append(i)

    def send(positions, password="wrong"):
        threads = [threading.Thread(target=guess, args=(i, password)) for i in positions]
        for t in threads:
            t.start()
        wait_until(lambda: len(checked) + len(refused) >= positions[-1] + 1, 30,
                   lambda: "%d checked, %d refused" % (len(checked), len(refused)))
        return threads
    threads = send(range(39)) + send([39], "alice-pw") + send(range(40, 60))
    done.set()
    for t in threads:
        t.join()
    assert len(checked) == 10 and "alice-pw" not in checked
    assert answers[39] == TOO_MANY
    assert sorted(answers.values()).count("Authentication failure") == 10
    assert refusal(sessions, "alice-pw") == TOO_MANY     # ten failures: locked out


def test_no_more_than_login_concurrent_checks_passwords_are_hashed_at_once(monkeypatch):
    """24 logins at once, each by another user from another address so that no lockout
    stops them: the hash function never runs more than login_concurrent_checks times
    at once (each run takes 16 MiB)."""
    sessions = throttled_sessions(Clock(), [], failures=0, login_concurrent_checks=3)
    running, most = [], []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        running.append(1)
        most.append(len(running))
        try:
            return real(*args, **kwargs)
        finally:
            running.pop()
    monkeypatch.setattr(hashlib, "scrypt", counted)
    barrier = threading.Barrier(24)
    answers = []

    def guess(i):
        barrier.wait(timeout=30)
        answers.append(refusal_from(sessions, "user%d" % i, Peer("tcp", address="10.0.0.%d" % i)))
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == ["Authentication failure"] * 24 and len(most) == 24
    assert max(most) <= 3


def test_a_login_with_no_turn_to_be_checked_is_refused_and_counted():
    sessions = throttled_sessions(Clock(), [], failures=2, login_concurrent_checks=1)
    sessions.check_wait = 0
    busy = threading.Event()
    sessions._checkers.submit(busy.wait, 30)              # the one checker is taken
    for _ in range(2):
        assert refusal(sessions, "alice-pw") == "too many logins at once; try again later"
    busy.set()
    assert refusal(sessions, "alice-pw") == TOO_MANY     # both counted as failures


def test_a_login_lockout_ends_after_its_time():
    clock = Clock()
    sessions = throttled_sessions(clock, [], failures=4)
    for _ in range(4):
        refusal(sessions, "wrong")
    clock.now += 1.9
    assert refusal(sessions, "alice-pw") == TOO_MANY
    clock.now += 0.1
    assert sessions.login("alice", "alice-pw", "", REMOTE) in sessions.app.store.refs("session")


def test_an_idle_session_expires_after_the_idle_timeout():
    clock = Clock()
    sessions = throttled_sessions(clock, [])
    ref = sessions.login("alice", "alice-pw", "", REMOTE)
    clock.now += 2
    sessions.check(ref)
    clock.now += 2.5
    with pytest.raises(ApiError) as e:
        sessions.check(ref)
    assert e.value.description == ["SESSION_INVALID", ref]


def test_a_busy_session_ends_at_its_lifetime():
    clock = Clock()
    sessions = throttled_sessions(clock, [], session_max_lifetime=4)
    ref = sessions.login("alice", "alice-pw", "", REMOTE)
    used = 0
    with pytest.raises(ApiError) as e:
        while True:
            clock.now += 0.5
            sessions.check(ref)
            used += 1
    assert e.value.description == ["SESSION_INVALID", ref]
    assert used == 8     # at 0.5 s, 1 s, ... 4 s; refused at 4.5 s


def test_throttle_table_is_bounded(monkeypatch):
    from xen.xend.api import limits
    monkeypatch.setattr(limits, "MAX_ENTRIES", 50)
    t = throttle(Clock())
    for i in range(500):
        guess(t, [("user", "u%d" % i)])
    assert len(t._failures) <= 50


# -- the log gate --------------------------------------------------------------------------------


def test_log_gate_lets_one_line_through_per_interval_and_counts_the_rest():
    clock = Clock()
    gate = LogGate(60, clock=clock)
    assert gate.allow("refused") == 0
    assert [gate.allow("refused") for _ in range(5)] == [None] * 5
    assert gate.allow("other") == 0
    clock.now += 60
    assert gate.allow("refused") == 5


# -- admission -------------------------------------------------------------------------------------


class Connections:
    """Connected socket pairs for Admission to count: the server's end is what it is
    handed, the client's end tells whether the server's was shut."""

    def __init__(self):
        self.pairs = []

    def new(self):
        server, client = socket.socketpair()
        self.pairs.append((server, client))
        return server

    def shut(self, server):
        """Whether ``server``'s end was shut (its client reads EOF at once)."""
        client = dict(self.pairs)[server]
        client.setblocking(False)
        try:
            return client.recv(1) == b""
        except BlockingIOError:
            return False

    def close(self):
        for pair in self.pairs:
            for s in pair:
                s.close()


@pytest.fixture
def conns():
    c = Connections()
    yield c
    c.close()


def admission(allow=None, total=10, per_client=10, unauthenticated=10, loopback_one=True):
    return Admission(allow, total, per_client, unauthenticated, loopback_one)


def test_admission_allow_list(conns):
    a = admission(["127.0.0.0/8", "2001:db8::/32"], per_client=3)
    assert a.enter(conns.new(), "127.1.2.3") == (True, None)
    assert a.enter(conns.new(), "::ffff:127.0.0.1") == (True, None)   # IPv4 on dual stack
    assert a.enter(conns.new(), "2001:db8::5") == (True, None)
    assert a.enter(conns.new(), "10.0.0.1") == (False, "not in the allow-list")
    assert a.enter(conns.new(), "not an address") == (False, "not in the allow-list")
    assert a.open == 3


def test_admission_caps_and_release(conns):
    """Authenticated connections are never closed for room: a full cap refuses."""
    a = admission(total=3, per_client=2)
    first, second, other = conns.new(), conns.new(), conns.new()
    assert a.enter(first, "192.0.2.1", True) == (True, None)
    assert a.enter(second, "192.0.2.1", True) == (True, None)
    admitted, why = a.enter(conns.new(), "192.0.2.1", True)
    assert not admitted and why.startswith("too many connections from one client")
    assert a.enter(other, "192.0.2.2", True) == (True, None)
    admitted, why = a.enter(conns.new(), "192.0.2.3", True)
    assert not admitted and why.startswith("too many connections (3)")
    a.leave(first)
    assert a.enter(conns.new(), "192.0.2.1", True) == (True, None)
    for s in a.sockets():
        a.leave(s)
    assert a.open == 0 and a._per_client == {} and a._unauthenticated == 0


def test_unix_peers_count_against_the_listener_only(conns):
    a = admission(total=2, per_client=1)
    assert a.enter(conns.new(), None, True) == a.enter(conns.new(), None, True) == (True, None)
    admitted, why = a.enter(conns.new(), None, True)
    assert not admitted and why.startswith("too many connections (2)")


def test_a_full_unauthenticated_share_closes_its_oldest_idle_connection(conns):
    a = admission(total=10, unauthenticated=2)
    oldest, busy, newer = conns.new(), conns.new(), conns.new()
    a.enter(busy, "192.0.2.1")
    a.enter(oldest, "192.0.2.2")
    assert a.answering(busy)   # being answered: never closed for room
    admitted, why = a.enter(newer, "192.0.2.3")
    assert admitted and why == "too many unauthenticated connections (2)"
    assert conns.shut(oldest) and not conns.shut(busy) and not conns.shut(newer)
    assert not a.answering(oldest)   # its request, if one came, is not answered
    a.leave(oldest)                  # its thread ends: nothing more to count
    assert a.open == 2 and a._unauthenticated == 2
    a.answered(newer, False)
    assert a.enter(conns.new(), "192.0.2.4") == (True, why)
    assert conns.shut(newer)


def test_with_every_unauthenticated_connection_busy_a_newcomer_is_refused(conns):
    a = admission(total=10, unauthenticated=2)
    for client in ("192.0.2.1", "192.0.2.2"):
        s = conns.new()
        a.enter(s, client)
        a.answering(s)
    assert a.enter(conns.new(), "192.0.2.3") == \
        (False, "too many unauthenticated connections (2)")
    # Room remains for connections authenticated at once (root on the Unix socket).
    assert a.enter(conns.new(), None, True) == (True, None)


def test_authenticated_connections_leave_the_unauthenticated_share(conns):
    a = admission(total=3, unauthenticated=1)
    vouched, idle = conns.new(), conns.new()
    a.enter(vouched, "192.0.2.1")
    a.answering(vouched)
    a.answered(vouched, True)
    assert a.authenticated(vouched) and a._unauthenticated == 0
    assert a.enter(idle, "192.0.2.2") == (True, None)
    # Full in all: room is made from the unauthenticated connection only.
    a.enter(conns.new(), "192.0.2.3", True)
    assert a.enter(conns.new(), "192.0.2.4") == (True, "too many connections (3)")
    assert conns.shut(idle) and not conns.shut(vouched)


def test_a_full_client_makes_room_from_its_own_connections_only(conns):
    a = admission(total=10, per_client=2)
    theirs, mine, my_second = conns.new(), conns.new(), conns.new()
    a.enter(theirs, "192.0.2.9")
    a.enter(mine, "192.0.2.1")
    a.enter(my_second, "192.0.2.1")
    admitted, why = a.enter(conns.new(), "192.0.2.1")
    assert admitted and why.startswith("too many connections from one client")
    assert conns.shut(mine) and not conns.shut(theirs) and not conns.shut(my_second)


@pytest.mark.parametrize("client", ["127.0.0.7", "127.255.0.1", "::1", "::ffff:127.0.0.2"])
def test_loopback_is_one_client(conns, client):
    a = admission(per_client=1)
    first = conns.new()
    a.enter(first, "127.0.0.1", True)
    admitted, why = a.enter(conns.new(), client, True)
    assert not admitted and why.startswith("too many connections from one client")
    assert a.client_of(client) == a.client_of("127.0.0.1")


def test_loopback_addresses_are_separate_clients_when_configured(conns):
    a = admission(per_client=1, loopback_one=False)
    for client in ("127.0.0.1", "127.0.0.7", "::1"):
        assert a.enter(conns.new(), client, True) == (True, None)
    admitted, _ = a.enter(conns.new(), "::ffff:127.0.0.7", True)   # 127.0.0.7 again
    assert not admitted
