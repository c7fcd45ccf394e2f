"""Fixtures of the QEMU tier: real daemons with ``--backend qemu``, driven through the SDK.

* ``qemu_daemon`` / ``api`` / ``host``: one daemon shared by the whole tier (session
  scope) and root's SDK session for the main thread. The SDK is not thread-safe: a test
  that calls from another thread opens a Session of its own (``qemu_daemon.sdk_unix()``).
* After every test that used the shared daemon, each of its VMs that is not Halted is
  hard_shutdown through the API, and any QEMU still running under the daemon's state
  dir is SIGKILLed and reported as an error of that test: no guest outlives its test.
* ``make_daemon(**kw)``: more daemons of a test's own (restarts, kill -9, other
  configuration), cleaned up the same way.
* ``tiny_guest``: the tiny Linux guest of tests/guest/build.py (built once, cached).

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import pytest

from qemuapi import QEMU, build_tiny_guest, halt_all, retire

SHARED_CONFIG = 'shutdown_timeout = 5\n'


@pytest.fixture(scope="session")
def daemon_class(pytestconfig):
    """tests/conftest.py's Daemon class (every conftest module is named "conftest", so
    it is found through pytest's plugin manager rather than imported)."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        cls = getattr(plugin, "Daemon", None)
        if isinstance(cls, type) and hasattr(plugin, "free_port"):
            return cls
    raise RuntimeError("tests/conftest.py's Daemon not found")


@pytest.fixture(scope="session")
def qemu_daemon(daemon_class):
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    d = daemon_class(backend="qemu", extra_config=SHARED_CONFIG).start()
    session = d.sdk_unix()
    d.api = session.xenapi
    yield d
    problems = retire(d, d.api)
    assert not problems, problems


@pytest.fixture(scope="session")
def api(qemu_daemon):
    """root's SDK proxy on the shared daemon (main thread only)."""
    return qemu_daemon.api


@pytest.fixture(scope="session")
def host(api):
    return api.host.get_all()[0]


@pytest.fixture(autouse=True)
def _no_guest_outlives_its_test(request):
    yield
    if "api" not in request.fixturenames and "qemu_daemon" not in request.fixturenames:
        return
    d = request.getfixturevalue("qemu_daemon")
    problems = halt_all(d.api, d)
    assert not problems, problems


@pytest.fixture
def make_daemon(daemon_class):
    """Start daemons of the test's own: ``make_daemon(extra_config=...)`` returns a started
    Daemon with ``.api`` (root's SDK proxy, main thread) and ``.relogin()``."""
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    made = []

    def make(extra_config=SHARED_CONFIG):
        d = daemon_class(backend="qemu", extra_config=extra_config)
        made.append(d)
        d.start()

        def relogin():
            d.api = d.sdk_unix().xenapi
            return d.api
        d.relogin = relogin
        relogin()
        return d
    yield make
    problems = []
    for d in made:
        problems += retire(d, getattr(d, "api", None))
    assert not problems, problems


@pytest.fixture(scope="session")
def tiny_guest(tmp_path_factory):
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    return build_tiny_guest(str(tmp_path_factory.mktemp("tiny-guest")))
