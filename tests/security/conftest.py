"""Fixtures of the security tests (their helpers are in secutil.py)."""

import pytest


@pytest.fixture
def daemon_options():
    """A test's own daemons log nobody in: an idle connection of root's would count
    against the connection limits these tests measure."""
    return {"login": False}
