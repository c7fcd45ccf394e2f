"""Fixtures of the metrics tier: real daemons driven through the official XenAPI SDK.

* ``sim_daemon`` / ``sim_api`` / ``sim_host``: one sim-backend daemon shared by the tier
  (sampler every 0.5 s), for what does not need real guests: host, host_cpu, consistency
  rules, GET /metrics bookkeeping. Runs wherever Python does.
* ``qemu_daemon`` / ``qemu_api`` / ``qemu_host``: one qemu-backend daemon shared by the
  tier (sampler every 0.5 s); skipped only where QEMU is absent.
* ``make_daemon(extra_config, backend=...)`` (tests/conftest.py): daemons of a test's own
  (restarts, other config); their extra_config replaces SAMPLER_CONFIG.
* After each test that used a shared daemon, every VM of it that is not Halted is
  hard_shutdown and the host is enabled again, so tests start from a quiet host; a QEMU
  process left behind after that is SIGKILLed and reported as an error of the test
  (tests/conftest.py's ``_no_guest_outlives_its_test``).
* ``tiny_guest`` (tests/conftest.py): the tiny Linux guest of tests/guest/build.py.

Tests here boot at most two guests at a time: booting is CPU-bound under TCG.
"""

import pytest
from harness import serving, skip_without_qemu
from metricshelp import SAMPLER_CONFIG


@pytest.fixture(scope="session")
def sim_daemon():
    with serving(backend="sim", extra_config=SAMPLER_CONFIG) as d:
        yield d


@pytest.fixture(scope="session")
def sim_api(sim_daemon):
    return sim_daemon.api


@pytest.fixture(scope="session")
def sim_host(sim_api):
    return sim_api.host.get_all()[0]


@pytest.fixture(scope="session")
def qemu_daemon():
    skip_without_qemu()
    with serving(backend="qemu", extra_config=SAMPLER_CONFIG + "shutdown_timeout = 5\n") as d:
        yield d


@pytest.fixture(scope="session")
def qemu_api(qemu_daemon):
    return qemu_daemon.api


@pytest.fixture(scope="session")
def qemu_host(qemu_api):
    return qemu_api.host.get_all()[0]


@pytest.fixture
def daemon_options():
    """``make_daemon``'s daemons sample every 0.5 s, as the shared ones do."""
    return {"extra_config": SAMPLER_CONFIG}
