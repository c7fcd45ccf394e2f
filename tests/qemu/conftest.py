"""Fixtures of the QEMU tier: real daemons with ``--backend qemu``, driven through the SDK.

* ``qemu_daemon`` / ``api`` / ``host``: one daemon shared by the whole tier (session
  scope) and root's SDK session for the main thread. The SDK is not thread-safe: a test
  that calls from another thread opens a Session of its own (``qemu_daemon.sdk_unix()``).
* After every test that used the shared daemon, each of its VMs that is not Halted is
  hard_shutdown through the API, and any QEMU still running under the daemon's state
  dir is SIGKILLed and reported as an error of that test: no guest outlives its test
  (tests/conftest.py's ``_no_guest_outlives_its_test``).
* ``make_daemon(extra_config=...)`` (tests/conftest.py): more daemons of a test's own
  (restarts, kill -9, other configuration), cleaned up the same way.
* ``tiny_guest`` (tests/conftest.py): the tiny Linux guest of tests/guest/build.py.
* The networks of these daemons are deleted before they are retired (harness.retire), so
  the daemons remove the bridges they made; ``host_bridge`` (tests/conftest.py) is a
  bridge of the test's own.

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import pytest
from harness import serving, skip_without_qemu

SHARED_CONFIG = 'shutdown_timeout = 5\n'


@pytest.fixture(scope="session")
def qemu_daemon():
    skip_without_qemu()
    with serving(backend="qemu", extra_config=SHARED_CONFIG) as d:
        yield d


@pytest.fixture(scope="session")
def api(qemu_daemon):
    """root's SDK proxy on the shared daemon (main thread only)."""
    return qemu_daemon.api


@pytest.fixture(scope="session")
def host(api):
    return api.host.get_all()[0]


@pytest.fixture
def daemon_options():
    """``make_daemon``'s daemons run QEMU, configured as the shared one unless a test
    gives its own extra_config."""
    return {"backend": "qemu", "extra_config": SHARED_CONFIG}
