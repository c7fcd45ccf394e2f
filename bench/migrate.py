"""Live migration on the QEMU backend: total time and the guest's pause at the switch.

Two QemuBackends of this machine (each guest directory its own) migrate one guest, the
tiny Linux guest (tests/guest/build.py, xend.test=shell) with 256 MiB, back and forth
over 127.0.0.1: first idle, then with a load in its shell that dirties memory (dd
rewriting a 32 MiB file in a tmpfs, for ever). Each migration's figures are
QEMU's own (``query-migrate``: total-time, downtime), as migrate_send returns them.

Baseline: ``virsh migrate --live`` between two libvirt instances where virsh is
installed (not here: it says so); otherwise QEMU's migration with its default
parameters (a 128 MiB/s cap, a 300 ms downtime limit, no auto-converge:
``migrate_send(options={"tuned": False})``), driven by the same code. Runs alternate
between the two on the idle guest so that load from elsewhere weighs on both alike; on
the dirtying guest xend's come first, as a migration with QEMU's defaults may leave the
guest's kernel panicked under TCG (then the bench says so and ends that part). xend's
tuning over TLS (both backends with a certificate of a CA the bench makes, as a pool's
members have) runs beside them, for what the encryption costs. A migration that
has not converged after LIMIT seconds is cancelled and counted as such. The ratio is
the baseline's median over xend's (above 1: xend's tuning is faster), and TLS's over
xend's in clear (above 1: what TLS adds).

Through the API (``pool``): tools/pool-up's pool of two QEMU hosts (each daemon in its
network namespace, over the bridge) migrates the same idle guest back and forth with
VM.pool_migrate, called on the guest's host over its Unix socket: the call's total time
as the client sees it (checks, the target's preparation and take-over over the pool
channel, the records' move) beside the backend's own figures for the same migration
(the source's log line: QEMU's total-time and downtime). The pool's members have
certificates of its CA, so these migrations are over TLS.

Run: .venv/bin/python bench/migrate.py [RUNS] [backend|pool]   (no asserts on time;
both parts without a second argument; BENCH_MIGRATE_RUNS also sets the runs of each
kind, default 3; the pool part needs root, PostgreSQL and network namespaces)
"""

import dataclasses
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from tests.harness import (  # noqa: E402
    READY,
    Pool,
    as_task,
    build_tiny_guest,
    console_text,
    make_ca,
    memory,
    migration_tls,
    new_tiny_vm,
    sdk_unix,
    tiny_args,
    type_line,
    wait_until,
)
from xen.xend.backend.qemu import QemuBackend  # noqa: E402
from xen.xend.backend.spec import DomainSpec, VMConfig  # noqa: E402
from xen.xend.util import progress  # noqa: E402

RUNS = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_MIGRATE_RUNS", "3"))
PARTS = sys.argv[2:3] or ["backend", "pool"]
MEMORY = 256 << 20
LIMIT = 60.0          # seconds a migration may take before it is cancelled
BOOT_WAIT = 120.0
# The marker's number comes from a variable, so that the command's own echo on the
# console does not read as a pass done.
LOAD = ("mkdir -p /dirty; mount -t tmpfs tmpfs /dirty; n=32; ( while :; do "
        "dd if=/dev/zero of=/dirty/x bs=1M count=$n 2>/dev/null; echo \"dirtied $n MiB\"; "
        "done ) &")
LOADED = "dirtied 32 MiB"     # the load's line on the console after each pass
KINDS = [("xend", {}), ("QEMU defaults", {"tuned": False})]
TLS = "xend over TLS"         # xend's tuning, the stream encrypted (its options: run time)
PANIC = "Kernel panic"
# The source's log line of a migration through the API (state/migration.py).
MIGRATED = re.compile(r"VM (\S+): migrated to host (\S+) (?:over TLS|in clear) \((.*)\)")


def migrate(source, target, spec, options):
    """Migrate ``spec``'s guest from ``source`` to ``target`` (whose guest directory
    ``spec`` names); its figures, or None when it did not converge within LIMIT."""
    incoming = target.migrate_receive(spec, "127.0.0.1", tls=options.get("tls"))
    with as_task() as tracker:
        timer = threading.Timer(LIMIT, tracker.request_cancel)
        timer.start()
        try:
            figures = source.migrate_send(spec.uuid, incoming["uri"], options)
        except progress.Cancelled:
            target.migrate_finish(spec.uuid, False)
            return None
        finally:
            timer.cancel()
    target.migrate_finish(spec.uuid, True)
    return figures


def _order(load, kinds):
    """The (kind, options) of each run of ``load``: alternating on an idle guest; on a
    dirtying one each kind's in turn, QEMU's defaults last, since they may wreck the
    guest (see docs/performance.md)."""
    if load == "idle":
        return [kind for _ in range(RUNS) for kind in kinds]
    return [kind for kind in kinds for _ in range(RUNS)]


def _passes(spec):
    """The load's passes so far, on the consoles of both sides."""
    return sum(console_text(os.path.join(os.path.dirname(spec.state_dir), side)).count(LOADED)
               for side in ("a", "b"))


def report(load, results):
    medians = {}
    for name in results:
        done = [f for f in results[name] if f is not None]
        failed = len(results[name]) - len(done)
        if not done:
            print("%-8s %-14s %s" % (load, name, "never converged within %d s" % LIMIT))
            continue
        total = statistics.median(f["total_time_ms"] for f in done)
        down = statistics.median(f["downtime_ms"] for f in done)
        sent = statistics.median(f["transferred_bytes"] for f in done) / (1 << 20)
        medians[name] = (total, down)
        print("%-8s %-14s total %7.0f ms  downtime %5.0f ms  sent %6.0f MiB  runs %d%s"
              % (load, name, total, down, sent, len(done),
                 ", %d not converged in %d s" % (failed, LIMIT) if failed else ""))
    for other, label in (("QEMU defaults", "defaults"), (TLS, "TLS")):
        if "xend" in medians and other in medians:
            (t1, d1), (t2, d2) = medians["xend"], medians[other]
            print("%-8s ratio (%s / xend): total %.2f  downtime %.2f"
                  % (load, label, t2 / t1, d2 / max(d1, 1)))


def _backend_figures(log, vm, host):
    """The backend's figures of the last migration of ``vm`` to ``host`` in ``log``."""
    found = [m.group(3) for m in MIGRATED.finditer(log) if m.group(1, 2) == (vm, host)]
    return {k: int(v) for k, v in (pair.split() for pair in found[-1].split(", "))}


def through_the_api(guest):
    """VM.pool_migrate between two QEMU hosts of tools/pool-up's pool, RUNS times each
    way, the guest idle."""
    pool = Pool(2, backend="qemu")
    pool.up()
    try:
        apis = [sdk_unix(pool.socket(k)).xenapi for k in (1, 2)]
        hosts = [pool.host_ref(k) for k in (1, 2)]
        vm = new_tiny_vm(apis[0], guest, "shell", **memory(MEMORY))
        apis[0].VM.start(vm, False)
        wait_until(lambda: READY in console_text(os.path.join(pool.state_dir(1), "vms", vm)),
                   BOOT_WAIT, "the guest's boot")
        for api in apis:    # each host sees the other's lease: a target must be live
            wait_until(lambda api=api: all(api.host_metrics.get_live(api.host.get_metrics(h))
                                           for h in hosts), BOOT_WAIT, "the hosts' leases")
        calls, backend = [], []
        for run in range(2 * RUNS):
            source, target = run % 2, 1 - run % 2
            began = time.perf_counter()
            apis[source].VM.pool_migrate(vm, hosts[target], {})
            calls.append((time.perf_counter() - began) * 1000)
            backend.append(_backend_figures(pool.log_text(source + 1), vm, hosts[target]))
        apis[0].VM.hard_shutdown(vm)
    finally:
        pool.down()
    print("pool     VM.pool_migrate  total %7.0f ms (min %.0f, max %.0f)  backend's total "
          "%5.0f ms  downtime %4.0f ms  runs %d"
          % (statistics.median(calls), min(calls), max(calls),
             statistics.median(f["total_time_ms"] for f in backend),
             statistics.median(f["downtime_ms"] for f in backend), len(calls)))


def main():
    work = tempfile.mkdtemp(prefix="xend-bench-migrate-")
    try:
        guest = build_tiny_guest(work)
        if "backend" in PARTS:
            between_backends(work, guest)
        if "pool" in PARTS:
            through_the_api(guest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def between_backends(work, guest):
    # Both backends run on this machine and name the guest's CPU cgroup by its VM: the
    # source's QEMU, ended, finds it busy with the target's and says so, each time.
    logging.getLogger("xend.host").setLevel(logging.ERROR)
    if shutil.which("virsh") is None:
        print("libvirt: not installed, no virsh migrate --live baseline; the baseline "
              "is QEMU's migration with its default parameters")
    vm = VMConfig(name_label="bench-migrate", memory_static_max=MEMORY,
                  memory_dynamic_max=MEMORY, VCPUs_max=1, boot_method="kernel_external",
                  kernel_kernel=guest["kernel"], kernel_initrd=guest["initrd"],
                  kernel_args=tiny_args(guest, "shell"))
    spec = DomainSpec(uuid=str(uuid.uuid4()), vm=vm, state_dir=os.path.join(work, "a"))
    sides = [(QemuBackend(), spec),
             (QemuBackend(), dataclasses.replace(spec, state_dir=os.path.join(work, "b")))]
    ca = make_ca(work)
    kinds = [KINDS[0], (TLS, {"tls": migration_tls(work, "host", ca)}), KINDS[1]]
    print("accel %s, guest %d MiB, %d runs of each kind, LIMIT %d s"
          % (sides[0][0].accel, MEMORY >> 20, RUNS, LIMIT))
    try:
        sides[0][0].start(spec, paused=False)
        wait_until(lambda: READY in console_text(spec.state_dir), BOOT_WAIT, "the guest's boot")
        for load in ("idle", "dirtying"):
            if load == "dirtying":
                backend, here = sides[0]
                type_line(backend, here.uuid, LOAD)
                wait_until(lambda: LOADED in console_text(here.state_dir), BOOT_WAIT,
                           "the load's first pass")
            results = {name: [] for name, _ in kinds}
            began, passes = time.monotonic(), _passes(spec)
            for name, options in _order(load, kinds):
                (source, _), (target, there) = sides
                figures = migrate(source, target, there, options)
                if figures is not None:
                    sides.reverse()     # the guest is at the other side now
                    if PANIC in console_text(there.state_dir):
                        print("%-8s %-14s the guest's kernel panicked after run %d"
                              % (load, name, len(results[name]) + 1))
                        break
                results[name].append(figures)
            report(load, results)
            if load == "dirtying":
                print("the load dirtied %.0f MiB/s meanwhile"
                      % ((_passes(spec) - passes) * 32 / (time.monotonic() - began)))
    finally:
        for backend, _ in sides:
            backend.hard_shutdown(spec.uuid)
            backend.close()


if __name__ == "__main__":
    main()
