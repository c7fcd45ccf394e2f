"""A pool of hosts: what a forwarded call costs, how soon a write on one host is an
event on another, and how soon a dead host's guests run elsewhere.

tools/pool-up's pool of three sim hosts (each daemon in its network namespace, one
PostgreSQL on the bridge, the pool channel over the bridge), the clients root on this
machine over each host's Unix socket (an event.from long-poll over HTTPS here outlasts
its timeout: see docs/performance.md):

* forwarded-call overhead: a guest runs on host 1; VM.pause then VM.unpause, RUNS pairs
  called on host 1 itself, then RUNS on host 2, which forwards each to host 1 over the
  pool channel. The medians per call and their difference (the forwarding's cost);
* cross-host event latency: an event.from long-poll on host 3 follows VM records while
  host 1 writes a VM's name_description RUNS times, one at a time; each latency is from
  just before the write's call to the moment host 3's event.from returns the event
  carrying that value (p50, p99). It includes the write's commit, PostgreSQL's NOTIFY,
  host 3's follower and its event log;
* failover: two guests marked ha_restart_priority "restart" run on host 3; every
  process of host 3's namespace is killed (the host lost), and the time is taken from
  just before the kill to the moment host 1 sees both Running on another host. It
  follows the lease: it expires on the database's clock a lease after host 3's last
  renewal (which came up to a third of a lease before the kill), a survivor sees it at
  its next renewal (up to a third of a lease later), then restarts the guests.
  FAILOVERS runs (host 3 restarted with tools/pool-up --restart between), median.

Run: .venv/bin/python bench/pool.py [RUNS]   (no asserts on time; needs root,
PostgreSQL and network namespaces; BENCH_POOL_RUNS also sets RUNS, default 200;
BENCH_POOL_FAILOVERS the failover's runs, default 5; the pool's lease is LEASE, 3 s)
"""

import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from tests.harness import (  # noqa: E402
    STATE_WAIT,
    Pool,
    event_from,
    new_vm,
    sdk_unix,
    wait_until,
)

RUNS = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_POOL_RUNS", "200"))
FAILOVERS = int(os.environ.get("BENCH_POOL_FAILOVERS", "5"))
LEASE = 3


def api(pool, k):
    """Root's 1.0 SDK proxy on host ``k``'s Unix socket."""
    return sdk_unix(pool.socket(k), version="1.0").xenapi


def per_call_ms(api, vm, pairs):
    """The median milliseconds of VM.pause and of VM.unpause on ``api``."""
    times = {"pause": [], "unpause": []}
    for _ in range(pairs):
        for op in ("pause", "unpause"):
            began = time.perf_counter()
            getattr(api.VM, op)(vm)
            times[op].append((time.perf_counter() - began) * 1000)
    return {op: statistics.median(t) for op, t in times.items()}


def forwarding(pool, vm):
    here = per_call_ms(api(pool, 1), vm, RUNS)
    two = api(pool, 2)
    # Host 2's checks read its own copy of the records: let it see the last unpause.
    wait_until(lambda: two.VM.get_power_state(vm) == "Running", STATE_WAIT, "host 2")
    there = per_call_ms(two, vm, RUNS)
    for op in ("pause", "unpause"):
        print("VM.%-8s on its host %6.2f ms   through another member %6.2f ms   "
              "forwarding +%.2f ms  (medians of %d)"
              % (op, here[op], there[op], there[op] - here[op], RUNS))


def event_latency(pool, vm):
    writer, reader = api(pool, 1), api(pool, 3)
    seen = {}                 # value -> perf_counter when host 3's event.from returned it
    stop = threading.Event()
    token = event_from(reader, ["VM"], "", 0)["token"]

    def follow():
        nonlocal token
        while not stop.is_set():
            batch = event_from(reader, ["VM"], token, 1.0)
            now = time.perf_counter()
            token = batch["token"]
            for e in batch["events"]:
                if e["ref"] == vm and e.get("snapshot"):
                    seen.setdefault(e["snapshot"]["name_description"], now)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    latencies = []
    try:
        for i in range(RUNS):
            mark = "mark-%d" % i
            began = time.perf_counter()
            writer.VM.set_name_description(vm, mark)
            wait_until(lambda: mark in seen, STATE_WAIT, "host 3 to see %s" % mark,
                       interval=0.0005)
            latencies.append((seen[mark] - began) * 1000)
    finally:
        stop.set()
        follower.join()
    latencies.sort()
    print("event on host 3 after a write on host 1: p50 %.2f ms  p99 %.2f ms  max %.2f ms"
          "  (%d writes)" % (latencies[len(latencies) // 2],
                             latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                             latencies[-1], len(latencies)))


def failover(pool):
    one, three = api(pool, 1), pool.host_ref(3)
    vms = [new_vm(one, ha_restart_priority="restart") for _ in range(2)]
    times = []
    for _ in range(FAILOVERS):
        wait_until(lambda: one.host_metrics.get_live(one.host.get_metrics(three)),
                   STATE_WAIT, "host 3 to be live")
        for vm in vms:
            one.VM.start_on(vm, three, False, False)
        began = time.perf_counter()
        pool.kill_host(3)
        wait_until(lambda: all(one.VM.get_power_state(vm) == "Running"
                               and one.VM.get_resident_on(vm) not in ("", three)
                               for vm in vms),
                   LEASE * 2 + STATE_WAIT, "the guests to run elsewhere", interval=0.01)
        times.append(time.perf_counter() - began)
        for vm in vms:
            one.VM.hard_shutdown(vm)
        pool.restart_host(3)
    print("failover, a host's death to its 2 guests running elsewhere: median %.2f s  "
          "min %.2f s  max %.2f s  (%d runs, pool_lease_seconds %d)"
          % (statistics.median(times), min(times), max(times), len(times), LEASE))


def main():
    pool = Pool(3, backend="sim", options=["--lease", str(LEASE)])
    pool.up()
    try:
        one, two = api(pool, 1), api(pool, 2)
        vm = new_vm(one)
        one.VM.start(vm, False)
        wait_until(lambda: two.VM.get_resident_on(vm) == pool.host_ref(1), STATE_WAIT,
                   "host 2 to see the guest on host 1")
        forwarding(pool, vm)
        event_latency(pool, vm)
        one.VM.hard_shutdown(vm)
        failover(pool)
    finally:
        pool.down()


if __name__ == "__main__":
    main()
