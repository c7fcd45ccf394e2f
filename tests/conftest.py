"""Fixtures shared by the whole suite: a real xend daemon started as a subprocess.

Socket paths never contain "_" (see harness.scratch_dir). The Daemon class and every helper
are in tests/harness.py; conftest files hold fixtures and pytest hooks only, a tier's
conftest only what is specific to that tier.
"""

import os
import signal
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# tests/ itself, so that tests import the harness as ``harness``.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    Daemon,
    Fleet,
    Postgres,
    build_tiny_guest,
    halt_all,
    skip_without_postgres,
    skip_without_qemu,
    skip_without_taps,
)


@pytest.fixture
def daemon_options():
    """The keyword arguments of ``make_daemon``'s daemons (``Fleet.start``'s: backend,
    extra_config, login, ...) where a test gives none; a tier's conftest overrides it."""
    return {}


@pytest.fixture
def make_daemon(daemon_options):
    """Start daemons of the test's own: ``make_daemon(extra_config="", **options)``
    returns a started Daemon, logged in as root (``.api``) unless ``login=False``;
    ``options`` override the tier's ``daemon_options``. A qemu daemon skips where QEMU is
    absent. At the test's end every one is retired: guests halted, kill -9, files removed.
    (A module's own daemon: ``with harness.serving(...) as d: yield d``.)"""
    fleet = Fleet()

    def make(extra_config=None, **options):
        options = dict(daemon_options, **options)
        if extra_config is not None:
            options["extra_config"] = extra_config
        if options.get("backend") == "qemu":
            skip_without_qemu()
        return fleet.start(**options)
    yield make
    fleet.retire()


@pytest.fixture(scope="session")
def daemon_stop_signal():
    """How ``daemon`` and ``fresh_daemon`` stop their daemon at teardown: SIGKILL, as
    nothing is checked then, and a graceful stop waits ~0.5 s for the listeners' poll
    interval. The graceful stop is tested where it is the point (tests/daemon, the
    restarts of test_api_persistence.py and of the qemu tier); a tier's conftest may
    override this."""
    return signal.SIGKILL


@pytest.fixture(scope="module")
def daemon(daemon_stop_signal):
    """A sim-backend daemon shared by a test module."""
    d = Daemon().start()
    yield d
    d.cleanup(daemon_stop_signal)


@pytest.fixture
def fresh_daemon(daemon_stop_signal):
    """A daemon of the test's own, for tests that restart or kill it."""
    d = Daemon().start()
    yield d
    d.cleanup(daemon_stop_signal)


@pytest.fixture(scope="module")
def root(daemon):
    """The SDK's xenapi proxy, logged in as root over the Unix socket."""
    s = daemon.sdk_unix()
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the test session (harness.Postgres): each test takes a
    database of its own from it (``new_database``, ``daemon_config``). Skips where
    PostgreSQL is not installed."""
    skip_without_postgres()
    pg = Postgres()
    yield pg
    pg.cleanup()


@pytest.fixture(scope="session")
def tiny_guest(tmp_path_factory):
    """The tiny Linux guest of tests/guest/build.py (built once, cached): {"kernel",
    "initrd", "cmdline"}, its files pinned in a directory of the session's own."""
    skip_without_qemu()
    return build_tiny_guest(str(tmp_path_factory.mktemp("tiny-guest")))


@pytest.fixture(autouse=True)
def _no_guest_outlives_its_test(request):
    """After each test that used a tier's shared ``sim_daemon`` or ``qemu_daemon`` (metrics,
    qemu): every VM of it that is not Halted is hard_shutdown and every host enabled again,
    so the next test starts from a quiet host; a QEMU left after that is SIGKILLed and
    reported as an error of the test."""
    yield
    problems = []
    for name in ("sim_daemon", "qemu_daemon"):
        if name not in request.fixturenames:
            continue
        d = request.getfixturevalue(name)
        problems += halt_all(d)
        for host in d.api.host.get_all():
            if not d.api.host.get_enabled(host):
                d.api.host.enable(host)
    assert not problems, problems


@pytest.fixture
def host_bridge():
    """A bridge of the host's own, standing for the administrator's: no host interface
    is in it, so nothing a test guest sends can leave the machine."""
    skip_without_taps()
    name = "xtbr" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], check=True)
