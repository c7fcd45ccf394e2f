"""A host inventory of 10,000 VMs, each with 2 VBDs and 1 VIF, halted.

Measures, through the XenAPI SDK against the real daemon (sim backend):
the time to create the inventory; VM.get_all and single-object calls
(get_name_label, get_record) at 100 VMs and at 10,000, with their ratio (a
single-object call should not grow with the inventory); VM.get_all_records
end to end; the daemon's cold start with that state; its RSS. The 100-VM
figures, taken in the same run, are the baseline. Asserts nothing.

    .venv/bin/python bench/inventory.py [--vms 10000] [--workers 8]
"""

import argparse
import os
import statistics
import sys
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
        t_records, records = timed(x.VM.get_all_records)
        assert len(records) == args.vms
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
        print("%-28s %12s %12.3f" % ("VM.get_all_records (s)", "", t_records))
        print("%-28s %12s %12.3f" % ("cold start (s)", "", t_cold))
        print("%-28s %12s %12.1f" % ("RSS after load (MB)", "", rss / 2 ** 20))
        print("%-28s %12s %12.1f" % ("RSS after cold start (MB)", "", rss_cold / 2 ** 20))
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
