"""Call throughput: VM.get_name_label and VM.get_record from 1 and 32 clients.

Over the Unix socket and TCP, with the XenAPI SDK (keep-alive), against a
baseline measured in the same run: Python's xmlrpc.server.SimpleXMLRPCServer
answering a trivial function. Clients run in worker processes (threads inside
them) so that the client side's own GIL is not what is measured. Prints
calls/s and ratios; asserts nothing.

    .venv/bin/python bench/throughput.py [--seconds 3]
"""

import argparse
import multiprocessing
import os
import sys
import threading
import time
import xmlrpc.client
import xmlrpc.server

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import XenAPI  # noqa: E402
from tests.conftest import Daemon, free_port  # noqa: E402


def _baseline_server(port, ready):
    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", port), logRequests=False)
    server.register_function(lambda x: x, "echo")
    ready.set()
    server.serve_forever()


def _client_worker(kind, target, method, threads, seconds, out):
    """One process: ``threads`` clients calling as fast as they can for ``seconds``."""
    counts = [0] * threads

    def run(i):
        if kind == "baseline":
            proxy = xmlrpc.client.ServerProxy(target["url"])
            call = lambda: proxy.echo("x")  # noqa: E731
        else:
            if kind == "unix":
                s = XenAPI.Session("http://%s/" % target["socket"].replace("/", "_"),
                                   transport=XenAPI.UDSTransport())
                s.xenapi.login_with_password("root", "")
            else:
                s = XenAPI.Session(target["url"])
                s.xenapi.login_with_password("bench", "bench-password")
            fn = getattr(s.xenapi.VM, method)
            vm = target["vm"]
            call = lambda: fn(vm)  # noqa: E731
        call()
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            call()
            n += 1
        counts[i] = n

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(sum(counts))


def measure(kind, target, method, clients, seconds):
    """Calls per second from ``clients`` concurrent clients."""
    procs = min(clients, 4)
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    out = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=_client_worker,
                                  args=(kind, target, method, n, seconds, out)) for n in per]
    for p in ps:
        p.start()
    total = sum(out.get() for _ in ps)
    for p in ps:
        p.join()
    return total / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    port = free_port()
    ready = multiprocessing.Event()
    base = multiprocessing.Process(target=_baseline_server, args=(port, ready), daemon=True)
    base.start()
    ready.wait()
    d = Daemon(log_level="info").start()
    try:
        x = d.sdk_unix().xenapi
        vm = x.VM.create({"name_label": "bench"})
        user = x.user.create({"short_name": "bench"})
        x.user.set_password(user, "bench-password")
        target = {"url": d.url, "socket": d.socket, "vm": vm}
        baseline = {"url": "http://127.0.0.1:%d/" % port}
        rows = []
        b1 = measure("baseline", baseline, None, 1, args.seconds)
        rows.append(("baseline SimpleXMLRPCServer, echo", "tcp", 1, b1, 1.0))
        for method in ("get_name_label", "get_record"):
            for kind in ("unix", "tcp"):
                one = measure(kind, target, method, 1, args.seconds)
                many = measure(kind, target, method, 32, args.seconds)
                rows.append(("VM.%s" % method, kind, 1, one, one / b1))
                rows.append(("VM.%s" % method, kind, 32, many, many / one))
        print("%-36s %-5s %7s %12s  %s" % ("call", "via", "clients", "calls/s", "ratio"))
        for name, via, clients, rate, ratio in rows:
            against = "vs baseline" if clients == 1 else "vs 1 client"
            print("%-36s %-5s %7d %12.0f  %.2fx %s" % (name, via, clients, rate, ratio,
                                                      against if name[0] != "b" else ""))
    finally:
        d.cleanup()
        base.terminate()


if __name__ == "__main__":
    main()
