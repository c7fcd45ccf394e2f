"""A host inventory of 10,000 VMs, each with 2 VBDs and 1 VIF, halted.

Measures, through the XenAPI SDK against the real daemon (sim backend):
the time to create the inventory; VM.get_all and single-object calls
(get_name_label, get_record) at 100 VMs and at 10,000, with their ratio (a
single-object call should not grow with the inventory); VM.get_all_records
end to end; the daemon's cold start with that state; its RSS. The 100-VM
figures, taken in the same run, are the baseline. Asserts nothing.

For get_all_records it also shows where the time goes: the CPU time the daemon
and the client spent on the call, the time to the reply's first byte, the
reply's size, and the floor no server can beat: the SDK's own parse
(xmlrpc.client, fed 1 KiB at a time as the SDK's transport does) of the
identical reply bytes, from memory. Each is the best of three runs, taken twice:
in the daemon that created the inventory, and after its cold start, where the
inventory is loaded at start (and frozen out of the garbage collector's sight).
The same call over JSON-RPC (POST /jsonrpc on the Unix socket) with a plain client,
http.client and json.loads, is measured beside it (the same figures, json.loads
for the SDK's parse), with the ratio of the SDK's end to end time to JSON-RPC's.

With --in-process, only get_all_records is measured, without a daemon or a
client: an inventory of the same shape is made in this process, and the call is
dispatched and its reply written (to nowhere) by the daemon's own code. It
prints the seconds to the reply's first piece, to the whole reply, and spent in
the garbage collector, best of seven, with Python's default collector and with
the settings xend makes at start (gc.freeze() and a young threshold of 10,000).

    .venv/bin/python bench/inventory.py [--vms 10000] [--workers 8] [--in-process]
"""

import argparse
import gc
import io
import json
import logging
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
import xmlrpc.client

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import XenAPI  # noqa: E402

from tests.harness import Daemon, UnixHTTPConnection, scratch_dir  # noqa: E402


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
    """The daemon's reply body to ``method(session)`` over its Unix socket, as bytes, and
    the seconds from sending the request to the reply's first bytes (its head)."""
    conn = XenAPI.UDSHTTPConnection(daemon.socket.replace("/", "_"))
    try:
        conn.connect()
        t0 = time.perf_counter()
        conn.request("POST", "/", xmlrpc.client.dumps((session,), method).encode(),
                     {"Content-Type": "text/xml"})
        response = conn.getresponse()
        first = time.perf_counter() - t0
        return response.read(), first
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
    for _ in range(runs):
        body, first = reply_body(daemon, session._session, "VM.get_all_records")
        keep("first byte", first)
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


def json_records(daemon, session, runs=3):
    """VM.get_all_records over JSON-RPC with http.client and json.loads, best of ``runs``:
    the figures of ``all_records`` (json.loads from memory in the SDK parse's place), and
    the number of records."""
    server = psutil.Process(daemon.proc.pid)
    body = json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [session],
                       "id": 1}).encode()
    best = {}

    def keep(key, value):
        best[key] = min(best.get(key, value), value)
    conn = UnixHTTPConnection(daemon.socket, timeout=600)
    try:
        for _ in range(runs):
            s0, c0, t0 = server.cpu_times(), time.process_time(), time.perf_counter()
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            first = time.perf_counter() - t0
            data = response.read()
            records = json.loads(data)["result"]
            t1, c1, s1 = time.perf_counter(), time.process_time(), server.cpu_times()
            keep("end to end", t1 - t0)
            keep("first byte", first)
            keep("daemon CPU", s1.user + s1.system - s0.user - s0.system)
            keep("client CPU", c1 - c0)
    finally:
        conn.close()
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        json.loads(data)
        keep("json.loads from memory", time.perf_counter() - t0)
    best["bytes"] = len(data)
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


def in_process(vms, runs=7):
    """get_all_records of ``vms`` VMs (2 VBDs, 1 VIF each) answered in this process by
    the daemon's dispatch and codec, the reply written to nowhere. Prints the best of
    ``runs`` with the default collector, then with xend's settings."""
    from xen.xend.api import codec
    from xen.xend.api.sessions import Peer
    from xen.xend.daemon import config as configmod
    from xen.xend.daemon.app import Xend
    logging.basicConfig(level=logging.ERROR)
    scratch = scratch_dir()
    app = Xend(configmod.load(None, {"state_dir": os.path.join(scratch, "state"),
                                     "backend": "sim", "socket": "none", "listen": "none"}))
    try:
        root = Peer("unix", uid=0, address="pid 1")
        session = app.sessions.login("root", "", "", root)

        def call(name, *args):
            reply = app.dispatcher.dispatch(name, (session,) + args, root)
            assert reply["Status"] == "Success", reply
            return reply["Value"]
        sr = call("SR.get_all")[0]
        vdis = [call("VDI.create", {"SR": sr, "name_label": "shared%d" % i,
                                    "virtual_size": "2048", "sharable": True,
                                    "read_only": True}) for i in range(2)]
        net = call("network.create", {"name_label": "bench"})
        h = app.handlers

        def insert(txn, cls, record):
            ref = str(uuid.uuid4())
            h[cls].insert(txn, ref, *h[cls].record_from_wire(record))
            return ref
        with app.store.transaction() as txn:   # two commits, not 40,000
            refs = [insert(txn, "VM", {"name_label": "vm%05d" % i}) for i in range(vms)]
        with app.store.transaction() as txn:
            for vm in refs:
                insert(txn, "VIF", {"VM": vm, "network": net, "device": "eth0"})
                for n, vdi in enumerate(vdis):
                    insert(txn, "VBD", {"VM": vm, "VDI": vdi, "device": "xvd" + "ab"[n],
                                        "mode": "RO"})
        spent = {"collector": 0.0, "collections": [0, 0, 0]}

        def watch(phase, info):
            if phase == "start":
                spent["started"] = time.perf_counter()
            else:
                spent["collector"] += time.perf_counter() - spent["started"]
                spent["collections"][info["generation"]] += 1
        gc.callbacks.append(watch)

        def measure():
            best = {}
            for _ in range(runs):
                spent["collector"], spent["collections"] = 0.0, [0, 0, 0]
                first = []
                t0 = time.perf_counter()
                reply = app.dispatcher.dispatch("VM.get_all_records", (session,), root)
                codec.encode_reply(reply, lambda piece: first or first.append(
                    time.perf_counter() - t0))
                whole = time.perf_counter() - t0
                del reply
                if whole < best.get("whole", whole + 1):
                    best = {"first": first[0], "whole": whole,
                            "collector": spent["collector"],
                            "collections": "/".join(map(str, spent["collections"]))}
            return best

        print("get_all_records of %d VMs in process (s), best of %d:" % (vms, runs))
        print("  %-36s %11s %11s %10s %12s" % ("", "first piece", "whole reply", "collector",
                                              "collections"))
        row = "  %-36s %11.3f %11.3f %10.3f %12s"
        b = measure()
        print(row % ("default collector", b["first"], b["whole"], b["collector"],
                     b["collections"]))
        gc.collect()
        gc.freeze()
        gc.set_threshold(10000, *gc.get_threshold()[1:])
        b = measure()
        print(row % ("gc.freeze(), young threshold 10,000", b["first"], b["whole"],
                     b["collector"], b["collections"]))
        gc.callbacks.remove(watch)
    finally:
        app.close()
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--in-process", action="store_true",
                    help="only get_all_records, in this process, without a client")
    args = ap.parse_args()
    if args.in_process:
        return in_process(args.vms)

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
        sdk = d.sdk_unix()
        records, count = all_records(d, sdk)
        assert count == args.vms + 1        # and the control domain (Domain-0)
        jsonrpc, count = json_records(d, sdk._session)
        assert count == args.vms + 1
        rss = psutil.Process(d.proc.pid).memory_info().rss
        d.stop()
        t0 = time.perf_counter()
        d.start()
        t_cold = time.perf_counter() - t0
        rss_cold = psutil.Process(d.proc.pid).memory_info().rss
        sdk = d.sdk_unix()
        records_cold, count = all_records(d, sdk)
        assert count == args.vms + 1
        jsonrpc_cold, count = json_records(d, sdk._session)
        assert count == args.vms + 1

        print("inventory: %d VMs, %d VBDs, %d VIFs" % (args.vms, 2 * args.vms, args.vms))
        print("%-28s %12s %12s %8s" % ("figure", "100 VMs", "%d VMs" % args.vms, "ratio"))
        for k in small:
            print("%-28s %12.3f %12.3f %7.2fx" % (k, small[k], big[k], big[k] / small[k]))
        print("%-28s %12s %12.1f   (%.0f objects/s)" % (
            "create inventory (s)", "", t_create, 4 * (args.vms - 100) / t_create))
        print("VM.get_all_records (s), best of 3:  %12s %12s" % ("as created", "cold start"))
        for k in ("end to end", "first byte", "daemon CPU", "client CPU",
                  "SDK parse from memory", "SDK parse CPU"):
            print("  %-26s %12.3f %12.3f" % (k, records[k], records_cold[k]))
        print("  %-26s %12.1f %12.1f" % ("reply size (MB)", records["bytes"] / 1e6,
                                         records_cold["bytes"] / 1e6))
        print("  %-26s %11.0f%% %11.0f%%" % (
            "daemon CPU / end to end", 100 * records["daemon CPU"] / records["end to end"],
            100 * records_cold["daemon CPU"] / records_cold["end to end"]))
        print("VM.get_all_records over JSON-RPC (http.client, json.loads; s), best of 3:")
        for k in ("end to end", "first byte", "daemon CPU", "client CPU",
                  "json.loads from memory"):
            print("  %-26s %12.3f %12.3f" % (k, jsonrpc[k], jsonrpc_cold[k]))
        print("  %-26s %12.1f %12.1f" % ("reply size (MB)", jsonrpc["bytes"] / 1e6,
                                         jsonrpc_cold["bytes"] / 1e6))
        print("  %-26s %11.2fx %11.2fx" % (
            "SDK (XML-RPC) / JSON-RPC", records["end to end"] / jsonrpc["end to end"],
            records_cold["end to end"] / jsonrpc_cold["end to end"]))
        print("%-28s %12s %12.3f" % ("cold start (s)", "", t_cold))
        print("%-28s %12s %12.1f" % ("RSS after load (MB)", "", rss / 2 ** 20))
        print("%-28s %12s %12.1f" % ("RSS after cold start (MB)", "", rss_cold / 2 ** 20))
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
