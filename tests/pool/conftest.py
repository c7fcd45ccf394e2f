"""Fixtures of the pool tier: ``pool``, one pool of three sim hosts made by tools/pool-up
for a test module (each host's daemon in its network namespace on the bridge, one
PostgreSQL), taken down with ``tools/pool-up --down`` at the module's end.

Every test here is marked ``pool`` (pytestmark): the tier runs in ``make test``'s serial
phase and never in ``make test-fast``. Host 1 made the pool; hosts 2 and 3 joined it
with pool.join (tools/pool-up).
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
