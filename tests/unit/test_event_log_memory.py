"""The event log's memory stays flat however often a large field is rewritten: the log is
bounded in the bytes of the records its events carry (event_log_bytes), in process on a
real store and the sim backend."""

import tracemalloc

from harness import scratch_dir

from xen.xend.daemon import config
from xen.xend.daemon.app import Xend

MIB = 2 ** 20


def test_rewrites_of_a_large_field_hold_no_more_than_the_bound():
    x = Xend(dict(config.DEFAULTS, state_dir=scratch_dir(), backend="sim",
                  event_log_bytes=4 * MIB))
    try:
        vm = x.store.refs("host")[0]     # any object with a writable string field will do
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(40):              # 40 x 1 MiB: ten times the bound
            with x.store.transaction() as txn:
                txn.update("host", vm, {"name_description": chr(65 + i % 26) * MIB})
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        # The bound, the store's own copy of the record, and slack: not forty copies.
        assert held < 10 * MIB, held
        assert x.events._bytes <= 4 * MIB
    finally:
        x.close()
