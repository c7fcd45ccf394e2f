"""Fixtures of the xm tests.

The ``daemon`` and ``root`` fixtures come from tests/conftest.py: one sim-backend
daemon per test module, and the SDK logged in as root over its socket, to set up
and check state independently of xm.
"""

import pytest
from xmtools import Xm


@pytest.fixture(scope="module")
def xm(daemon):
    """The real xm, bound to the module's daemon."""
    return Xm(daemon.socket)
