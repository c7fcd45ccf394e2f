"""The daemon's memory while one client rewrites a 1 MiB field again and again.

Starts its own sim daemon (tests.harness.Daemon) and reads its RSS (psutil) when idle,
after REWRITES rewrites of a 1 MiB VM.name_description, and after the VM is deleted. The
event log keeps at most event_log_bytes (64 MiB by default) of the records its events
carry, so the figures stay flat however many rewrites come. As a baseline, measured in the
same run: the RSS after the same number of rewrites of a 10-byte description.

Run: .venv/bin/python bench/event_memory.py   (no asserts on the figures)
"""

import os
import signal
import sys

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import Daemon  # noqa: E402

REWRITES = int(os.environ.get("BENCH_REWRITES", "300"))
MIB = 2 ** 20


def rss_mib(daemon):
    return psutil.Process(daemon.proc.pid).memory_info().rss / MIB


def run(size):
    """(idle, after the rewrites, after the delete) RSS in MiB, rewriting ``size`` bytes."""
    d = Daemon().start()
    try:
        x = d.sdk_unix().xenapi
        vm = x.VM.create({"name_label": "rewritten"})
        idle = rss_mib(d)
        for i in range(REWRITES):
            x.VM.set_name_description(vm, chr(65 + i % 26) * size)
        rewritten = rss_mib(d)
        x.VM.destroy(vm)
        return idle, rewritten, rss_mib(d)
    finally:
        d.cleanup(signal.SIGKILL)


def main():
    base = run(10)
    big = run(MIB)
    print("daemon RSS (MiB) over %d rewrites of VM.name_description" % REWRITES)
    print("%-28s %8s %10s %10s" % ("", "idle", "rewritten", "deleted"))
    print("%-28s %8.0f %10.0f %10.0f" % (("baseline: 10-byte value",) + base))
    print("%-28s %8.0f %10.0f %10.0f" % (("1 MiB value",) + big))
    print("growth over the baseline's: %.0f MiB (%.2fx its rewritten RSS)"
          % (big[1] - base[1], big[1] / base[1]))


if __name__ == "__main__":
    main()
