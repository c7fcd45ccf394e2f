"""The store's engines: what a write costs on PostgreSQL, with SQLite as the baseline.

Starts one PostgreSQL server of its own (tests.harness.Postgres; needs root and
Debian's postgresql) and, for each engine in turn:

* in process: COMMITS transactions, each the update of one record of a store of
  1,000 VMs, timed with time.perf_counter() around the ``with store.transaction()``
  block (the engine's commit is durable when it ends);
* through the API: a sim daemon (tests.harness.Daemon) with ``database`` set or not,
  CALLS VM.set_name_label calls over the Unix socket with the XenAPI SDK, timed around
  each call, until the reply; and as many VM.get_name_label calls (read from memory
  by either engine) for scale.

The ratio is PostgreSQL's median over SQLite's (above 1: PostgreSQL is slower). Both
run on this machine, the server on loopback TCP with password authentication and
fsync off (SQLite keeps synchronous=FULL): PostgreSQL's figures are the engine's
round trips, not a disk's flush.

Run: .venv/bin/python bench/store_engines.py   (no asserts on time)
"""

import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import Daemon, Postgres, new_vm  # noqa: E402
from xen.xend.state.postgres import PostgresEngine  # noqa: E402
from xen.xend.state.sqlite import SqliteEngine  # noqa: E402
from xen.xend.state.store import Store  # noqa: E402

COMMITS = int(os.environ.get("BENCH_STORE_COMMITS", "2000"))
CALLS = int(os.environ.get("BENCH_STORE_CALLS", "500"))
WARMUP = 20
INVENTORY = 1000


def timed(fn, count):
    """The median and 95th percentile, in ms, of ``count`` calls of ``fn(i)``."""
    for i in range(WARMUP):
        fn(i)
    samples = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def in_process(engine):
    store = Store(engine, ["VM"])
    with store.transaction() as t:
        for n in range(INVENTORY):
            t.create("VM", "vm%d" % n, {"name_label": "vm%d" % n, "memory": 2 ** 30})

    def commit(i):
        with store.transaction() as t:
            t.update("VM", "vm%d" % (i % INVENTORY), {"name_label": "n%d" % i})
    try:
        return timed(commit, COMMITS)
    finally:
        store.close()


def through_api(config):
    d = Daemon(extra_config=config, log_level="info").start()
    try:
        api = d.relogin()
        vm = new_vm(api)
        write = timed(lambda i: api.VM.set_name_label(vm, "n%d" % i), CALLS)
        read = timed(lambda i: api.VM.get_name_label(vm), CALLS)
        return write, read
    finally:
        d.cleanup()


def main():
    pg = Postgres()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            figures = {
                "sqlite": (in_process(SqliteEngine(os.path.join(scratch, "xend.db"))),
                           *through_api("")),
                "postgres": (in_process(PostgresEngine(pg.new_database(), pg.password)),
                             *through_api(pg.daemon_config(scratch))),
            }
    finally:
        pg.cleanup()
    rows = (("store commit, in process", 0), ("VM.set_name_label, API", 1),
            ("VM.get_name_label, API", 2))
    print("%-28s %18s %18s %7s" % ("ms (median / p95)", "SQLite", "PostgreSQL", "ratio"))
    for label, k in rows:
        lite, pgs = figures["sqlite"][k], figures["postgres"][k]
        print("%-28s %8.3f / %7.3f %8.3f / %7.3f %7.2f" % (label, *lite, *pgs, pgs[0] / lite[0]))


if __name__ == "__main__":
    main()
