"""Daemons configured for the task and event tests (the shared ones are in tests/conftest.py)."""

import pytest
from harness import serving


@pytest.fixture(scope="module")
def slow_daemon():
    """Every simulated VM operation takes 1 s, in ten cancellable, progress-reporting steps."""
    with serving(login=False, extra_config="sim_op_seconds = 1.0\n") as d:
        yield d


@pytest.fixture(scope="module")
def slow_root(slow_daemon):
    s = slow_daemon.sdk_unix()
    yield s.xenapi
    try:
        s.xenapi.session.logout()
    except Exception:
        pass
