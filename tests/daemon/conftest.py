"""Fixtures of the daemon tests: a detached xend of the test's own (see daemontools)."""

import pytest
from daemontools import DetachedXend


@pytest.fixture
def xend():
    """A detached sim-backend xend, not yet started; stopped and removed afterwards."""
    d = DetachedXend()
    yield d
    d.cleanup()
