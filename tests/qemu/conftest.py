"""Fixtures of the QEMU tier: real daemons with ``--backend qemu``, driven through the SDK.

* ``qemu_daemon`` / ``api`` / ``host``: one daemon shared by the whole tier (session
  scope) and root's SDK session for the main thread. The SDK is not thread-safe: a test
  that calls from another thread opens a Session of its own (``qemu_daemon.sdk_unix()``).
* After every test that used the shared daemon, each of its VMs that is not Halted is
  hard_shutdown through the API, and any QEMU still running under the daemon's state
  dir is SIGKILLed and reported as an error of that test: no guest outlives its test
  (tests/conftest.py's ``_no_guest_outlives_its_test``).
* ``make_daemon(**kw)``: more daemons of a test's own (restarts, kill -9, other
  configuration), cleaned up the same way.
* ``tiny_guest`` (tests/conftest.py): the tiny Linux guest of tests/guest/build.py.
* The networks of these daemons are deleted before they are retired, so the daemons
  remove the bridges they made; ``host_bridge`` is a bridge of the test's own.

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import subprocess
import uuid

import pytest

from helpers import Fleet, halt_all, skip_without_qemu
from qemuapi import forget_networks, skip_without_taps

SHARED_CONFIG = 'shutdown_timeout = 5\n'


def _retire(fleet):
    """Delete the networks of the fleet's running daemons (so they remove the bridges
    they made), then retire the fleet."""
    try:
        for d in fleet.made:
            if d.proc is not None and d.proc.poll() is None and d.api is not None:
                halt_all(d)
                forget_networks(d)
    finally:
        fleet.retire()


@pytest.fixture(scope="session")
def qemu_daemon(daemon_class):
    skip_without_qemu()
    fleet = Fleet(daemon_class)
    yield fleet.start(backend="qemu", extra_config=SHARED_CONFIG)
    _retire(fleet)


@pytest.fixture(scope="session")
def api(qemu_daemon):
    """root's SDK proxy on the shared daemon (main thread only)."""
    return qemu_daemon.api


@pytest.fixture(scope="session")
def host(api):
    return api.host.get_all()[0]


@pytest.fixture
def make_daemon(daemon_class):
    """Start daemons of the test's own: ``make_daemon(extra_config=...)`` returns a started
    Daemon with ``.api`` (root's SDK proxy, main thread) and ``.relogin()``."""
    skip_without_qemu()
    fleet = Fleet(daemon_class)

    def make(extra_config=SHARED_CONFIG):
        return fleet.start(backend="qemu", extra_config=extra_config)
    yield make
    _retire(fleet)


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
