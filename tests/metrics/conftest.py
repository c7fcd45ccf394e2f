"""Fixtures of the metrics tier: real daemons driven through the official XenAPI SDK.

* ``sim_daemon`` / ``sim_api`` / ``sim_host``: one sim-backend daemon shared by the tier
  (sampler every 0.5 s), for what does not need real guests: host, host_cpu, consistency
  rules, GET /metrics bookkeeping. Runs wherever Python does.
* ``qemu_daemon`` / ``qemu_api`` / ``qemu_host``: one qemu-backend daemon shared by the
  tier (sampler every 0.5 s); skipped only where QEMU is absent.
* ``make_daemon(backend, extra_config)``: daemons of a test's own (restarts, other config).
* After each test that used a shared daemon, every VM of it that is not Halted is
  hard_shutdown and the host is enabled again, so tests start from a quiet host; a QEMU
  process left behind after that is SIGKILLed and reported as an error of the test
  (tests/conftest.py's ``_no_guest_outlives_its_test``).
* ``tiny_guest`` (tests/conftest.py): the tiny Linux guest of tests/guest/build.py.

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import pytest

from helpers import Fleet, serve, skip_without_qemu


def _config(extra_config="", sampler=0.5):
    """A daemon's configuration: the sampler's interval, then ``extra_config``."""
    return "sampler_interval = %r\n" % float(sampler) + extra_config


@pytest.fixture(scope="session")
def sim_daemon(daemon_class):
    yield from serve(daemon_class, backend="sim", extra_config=_config())


@pytest.fixture(scope="session")
def sim_api(sim_daemon):
    return sim_daemon.api


@pytest.fixture(scope="session")
def sim_host(sim_api):
    return sim_api.host.get_all()[0]


@pytest.fixture(scope="session")
def qemu_daemon(daemon_class):
    skip_without_qemu()
    yield from serve(daemon_class, backend="qemu",
                     extra_config=_config("shutdown_timeout = 5\n"))


@pytest.fixture(scope="session")
def qemu_api(qemu_daemon):
    return qemu_daemon.api


@pytest.fixture(scope="session")
def qemu_host(qemu_api):
    return qemu_api.host.get_all()[0]


@pytest.fixture
def make_daemon(daemon_class):
    """Start daemons of the test's own: ``make_daemon(backend="sim", extra_config="",
    sampler=0.5)`` returns a started Daemon with ``.api`` (root's SDK proxy) and
    ``.relogin()``."""
    fleet = Fleet(daemon_class)

    def make(backend="sim", extra_config="", sampler=0.5):
        if backend == "qemu":
            skip_without_qemu()
        return fleet.start(backend=backend, extra_config=_config(extra_config, sampler))
    yield make
    fleet.retire()
