"""A host inventory of 10,000 VMs, each with 2 VBDs and 1 VIF, halted.

Measures, through the XenAPI SDK against the real daemon (sim backend):
the time to create the inventory; VM.get_all and single-object calls
(get_name_label, get_record) at 100 VMs and at 10,000, with their ratio (a
single-object call should not grow with the inventory); VM.get_all_records
end to end; the daemon's cold start with that state; its RSS. The 100-VM
figures, taken in the same run, are the baseline. Asserts nothing.

For get_all_records it also shows where the time goes: the CPU time the daemon
and the client spent on the call, the reply's size, and the floor no server can
beat: the SDK's own parse (xmlrpc.client, fed 1 KiB at a time as the SDK's
transport does) of the identical reply bytes, from memory. Each is the best of
three runs.

    .venv/bin/python bench/inventory.py [--vms 10000] [--workers 8]
"""

import argparse
import io
import os
import statistics
import sys
import threading
import time
import xmlrpc.client

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import XenAPI  # noqa: E402
from tests.conftest import Daemon  # noqa: E402


def latency(fn, n=500):
    """Median seconds of ``n`` calls of fn()."""
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def reply_body(daemon, session, method):
    """The daemon's reply body to ``method(session)`` over its Unix socket, as bytes."""
    conn = XenAPI.UDSHTTPConnection(daemon.socket.replace("/", "_"))
    try:
        conn.request("POST", "/", xmlrpc.client.dumps((session,), method).encode(),
                     {"Content-Type": "text/xml"})
        return conn.getresponse().read()
    finally:
        conn.close()


def all_records(daemon, session, runs=3):
    """VM.get_all_records through the SDK, best of ``runs``: a dict of seconds (wall end
    to end, daemon CPU, client CPU), the reply's bytes and the SDK's parse of them from
    memory (wall and CPU), and the number of records."""
    x = session.xenapi
    server = psutil.Process(daemon.proc.pid)
    best = {}

    def keep(key, value):
        best[key] = min(best.get(key, value), value)
    for _ in range(runs):
        s0, c0, t0 = server.cpu_times(), time.process_time(), time.perf_counter()
        records = x.VM.get_all_records()
        t1, c1, s1 = time.perf_counter(), time.process_time(), server.cpu_times()
        keep("end to end", t1 - t0)
        keep("daemon CPU", s1.user + s1.system - s0.user - s0.system)
        keep("client CPU", c1 - c0)
    body = reply_body(daemon, session._session, "VM.get_all_records")
    sdk = xmlrpc.client.Transport()
    sdk.verbose = False   # set by a request, which this parse does without
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        parsed = sdk.parse_response(io.BytesIO(body))
        keep("SDK parse from memory", time.perf_counter() - t0)
        keep("SDK parse CPU", time.process_time() - c0)
    assert parsed[0]["Value"].keys() == records.keys()
    best["bytes"] = len(body)
    return best, len(records)


def populate(daemon, start, count, workers, network, vdis):
    """Create VMs start..start+count-1 with their devices, from ``workers`` sessions."""
    def work(lo, hi):
        x = daemon.sdk_unix().xenapi
        for i in range(lo, hi):
            vm = x.VM.create({"name_label": "vm%05d" % i})
            x.VIF.create({"VM": vm, "network": network, "device": "eth0"})
            for n, vdi in enumerate(vdis):
                x.VBD.create({"VM": vm, "VDI": vdi, "device": "xvd" + "ab"[n], "mode": "RO"})
    step = -(-count // workers)
    ts = [threading.Thread(target=work, args=(start + k * step,
                                              min(start + (k + 1) * step, start + count)))
          for k in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def figures(x, vm):
    return {
        "VM.get_all (s)": latency(x.VM.get_all, 20),
        "VM.get_name_label (ms)": latency(lambda: x.VM.get_name_label(vm)) * 1000,
        "VM.get_record (ms)": latency(lambda: x.VM.get_record(vm)) * 1000,
        "VM.get_by_name_label (ms)": latency(lambda: x.VM.get_by_name_label("vm00050")) * 1000,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()

    d = Daemon(log_level="warning").start()
    try:
        x = d.sdk_unix().xenapi
        sr = x.SR.get_all()[0]
        # Two shared read-only disks serve every VM: the inventory is records, not images.
        vdis = [x.VDI.create({"SR": sr, "name_label": "shared%d" % i, "virtual_size": "2048",
                              "sharable": True, "read_only": True}) for i in range(2)]
        net = x.network.create({"name_label": "bench"})
        populate(d, 0, 100, 4, net, vdis)
        small = figures(x, x.VM.get_by_name_label("vm00050")[0])
        t_create, _ = timed(lambda: populate(d, 100, args.vms - 100, args.workers, net, vdis))
        big = figures(x, x.VM.get_by_name_label("vm00050")[0])
        records, count = all_records(d, d.sdk_unix())
        assert count == args.vms
        rss = psutil.Process(d.proc.pid).memory_info().rss
        d.stop()
        t0 = time.perf_counter()
        d.start()
        t_cold = time.perf_counter() - t0
        rss_cold = psutil.Process(d.proc.pid).memory_info().rss

        print("inventory: %d VMs, %d VBDs, %d VIFs" % (args.vms, 2 * args.vms, args.vms))
        print("%-28s %12s %12s %8s" % ("figure", "100 VMs", "%d VMs" % args.vms, "ratio"))
        for k in small:
            print("%-28s %12.3f %12.3f %7.2fx" % (k, small[k], big[k], big[k] / small[k]))
        print("%-28s %12s %12.1f   (%.0f objects/s)" % (
            "create inventory (s)", "", t_create, 4 * (args.vms - 100) / t_create))
        print("VM.get_all_records (s), best of 3:")
        for k in ("end to end", "daemon CPU", "client CPU", "SDK parse from memory",
                  "SDK parse CPU"):
            print("  %-26s %12s %12.3f" % (k, "", records[k]))
        print("  %-26s %12s %12.1f" % ("reply size (MB)", "", records["bytes"] / 1e6))
        print("  %-26s %12s %11.0f%%" % ("daemon CPU / end to end", "",
                                         100 * records["daemon CPU"] / records["end to end"]))
        print("%-28s %12s %12.3f" % ("cold start (s)", "", t_cold))
        print("%-28s %12s %12.1f" % ("RSS after load (MB)", "", rss / 2 ** 20))
        print("%-28s %12s %12.1f" % ("RSS after cold start (MB)", "", rss_cold / 2 ** 20))
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
