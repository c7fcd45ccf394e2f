"""Daemons configured for the task and event tests (the shared ones are in tests/conftest.py)."""

import signal

import pytest


@pytest.fixture(scope="module")
def slow_daemon(daemon_class):
    """Every simulated VM operation takes 1 s, in ten cancellable, progress-reporting steps."""
    d = daemon_class(extra_config="sim_op_seconds = 1.0\n").start()
    yield d
    d.cleanup(signal.SIGKILL)


@pytest.fixture(scope="module")
def slow_root(slow_daemon):
    s = slow_daemon.sdk_unix()
    yield s.xenapi
    try:
        s.xenapi.session.logout()
    except Exception:
        pass
