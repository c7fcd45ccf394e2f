"""Fixtures of the pool tier: ``pool``, one pool of three sim hosts made by tools/pool-up
for a test module (each host's daemon in its network namespace on the bridge, one
PostgreSQL), taken down with ``tools/pool-up --down`` at the module's end.

Every test here is marked ``pool`` (pytestmark): the tier runs in ``make test``'s serial
phase and never in ``make test-fast``. Until each daemon on a shared database is a host
of its own, the hosts share one host record: no test counts hosts.
"""

import pytest
from harness import Pool, skip_without_pool


@pytest.fixture(scope="module")
def pool():
    skip_without_pool()
    p = Pool(3)
    try:
        yield p.up()
    finally:
        p.down()
