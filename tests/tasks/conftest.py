"""Daemons configured for the task and event tests (the shared ones are in tests/conftest.py)."""

import pytest

from tests.conftest import Daemon


def _daemon(extra):
    d = Daemon(extra_config=extra).start()
    return d


@pytest.fixture(scope="module")
def slow_daemon():
    """Every simulated VM operation takes 1 s, in ten cancellable, progress-reporting steps."""
    d = _daemon("sim_op_seconds = 1.0\n")
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def slow_root(slow_daemon):
    s = slow_daemon.sdk_unix()
    yield s.xenapi
    try:
        s.xenapi.session.logout()
    except Exception:
        pass
