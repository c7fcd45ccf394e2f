"""What a flood of bad logins costs the daemon in memory.

Starts its own sim daemon (tests.harness.Daemon), once with login_concurrent_checks at
its default and once as large as the flood (every password checked at once, as if
unbounded). Each scrypt check takes 16 MiB outside the GIL. CLIENTS threads, each with
its own connection over TCP, send one login with a wrong password at the same moment;
a sampler reads the daemon's resident set size (psutil) every few milliseconds until
every login is answered. The lockout is off (login_lockout_failures = 0) so that every
login reaches the password check. The baseline, measured in the same run: the
daemon's RSS when idle, just before the flood.

Run: .venv/bin/python bench/login_memory.py   (no asserts on the figures)
"""

import os
import sys
import threading
import xmlrpc.client

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import Daemon  # noqa: E402
from xen.xend.daemon.config import DEFAULTS  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_LOGIN_CLIENTS", "240"))
MIB = 2 ** 20
CONFIG = ("login_lockout_failures = 0\nlogin_failure_delay_max = 0.05\n"
          "max_connections = %d\nmax_connections_per_client = %d\n"
          "login_concurrent_checks = %%d\n" % (CLIENTS + 16, CLIENTS + 16))


def flood(daemon):
    """Send CLIENTS bad logins at once; returns (idle RSS, peak RSS, failures seen)."""
    proc = psutil.Process(daemon.proc.pid)
    idle = proc.memory_info().rss
    peak = [idle]
    done = threading.Event()
    barrier = threading.Barrier(CLIENTS)
    answers = []

    def sample():
        while not done.wait(0.005):
            peak[0] = max(peak[0], proc.memory_info().rss)

    def login(i):
        rpc = xmlrpc.client.ServerProxy(daemon.url)
        barrier.wait(timeout=60)
        reply = rpc.session.login_with_password("nobody-%d" % i, "wrong")
        answers.append(reply["Status"])

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=login, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    sampler.join()
    return idle, peak[0], answers.count("Failure")


def main():
    print("xend memory during %d concurrent bad logins (sim backend, TCP, %d cores)"
          % (CLIENTS, os.cpu_count()))
    print("%-34s %10s %10s %8s %9s" % ("login_concurrent_checks", "idle MiB", "peak MiB",
                                       "ratio", "refused"))
    for checks in (DEFAULTS["login_concurrent_checks"], CLIENTS):
        d = Daemon(extra_config=CONFIG % checks, log_level="warning").start()
        try:
            idle, peak, refused = flood(d)
        finally:
            d.cleanup()
        label = "%d (default)" % checks if checks == DEFAULTS["login_concurrent_checks"] \
            else "%d (one per login)" % checks
        print("%-34s %10.1f %10.1f %7.2fx %5d/%d" % (label, idle / MIB, peak / MIB,
                                                     peak / idle, refused, CLIENTS))


if __name__ == "__main__":
    main()
