"""What one call costs the server, without a client: CPU time per call, in process.

N requests are written, pipelined, to one connection: a socket pair whose far
end a child process feeds and drains. The near end is served in this process,
in this thread, by the daemon's own connection handler (xen/xend/transport/listeners.py, sim
backend, state in a scratch directory) and, as the baseline of the same run, by
Python's SimpleXMLRPCRequestHandler (keep-alive) answering a trivial function.
The figure is this thread's CPU time (time.thread_time) per call, after a warm-up pass:
what the server's code costs, however busy other work keeps the machine's cores.
Calls are made in a draft (0.2) session, and the record reads again in a Xen-API 1.0
session, whose records hold both revisions' names, with VM_metrics.get_record (a view
of the VM's record) beside VM.get_record. With --profile, cProfile's view of our calls
follows: where the time goes.

    .venv/bin/python bench/server_cost.py [--calls 5000] [--profile]
"""

import argparse
import cProfile
import logging
import os
import pstats
import socket
import sys
import threading
import time
import xmlrpc.client
import xmlrpc.server

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.harness import ROOT_PEER as ROOT  # noqa: E402
from tests.harness import InProcessListener, scratch_dir
from xen.xend.daemon import config as configmod  # noqa: E402
from xen.xend.daemon import serve as daemon_serve  # noqa: E402
from xen.xend.daemon.app import Xend  # noqa: E402
from xen.xend.transport import listeners as server  # noqa: E402


def request(body):
    return (b"POST / HTTP/1.1\r\nHost: _var_run_xend_xen-api.sock\r\nAccept-Encoding: gzip\r\n"
            b"User-Agent: xmlrpc.client (xenapi)\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def serve(handle, data, calls, profile=None):
    """CPU seconds per call of ``handle(sock)`` answering ``calls`` copies of ``data``."""
    near, far = socket.socketpair()
    pid = os.fork()
    if pid == 0:   # the client: write every request, read every reply
        near.close()

        def feed():
            for _ in range(calls):
                far.sendall(data)
            far.shutdown(socket.SHUT_WR)
        feeder = threading.Thread(target=feed)
        feeder.start()
        replies = 0
        while True:
            chunk = far.recv(1 << 20)
            if not chunk:
                break
            replies += chunk.count(b"</methodResponse>")
        feeder.join()
        os._exit(0 if replies == calls else 1)
    far.close()
    if profile is not None:
        profile.enable()
    started = time.thread_time()
    handle(near)
    spent = time.thread_time() - started
    if profile is not None:
        profile.disable()
    near.close()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError("the server's replies did not all arrive")
    return spent / calls


class _KeepAliveHandler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = False   # a socket pair has no Nagle to disable


def baseline(calls):
    """SimpleXMLRPCServer's handler answering echo("x") on one keep-alive connection."""
    rpc = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), _KeepAliveHandler,
                                           logRequests=False, bind_and_activate=False)
    rpc.register_function(lambda x: x, "echo")
    body = xmlrpc.client.dumps(("x",), "echo").encode()
    return serve(lambda sock: _KeepAliveHandler(sock, ("127.0.0.1", 0), rpc),
                 request(body), calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = configmod.load(None, {"state_dir": os.path.join(scratch_dir(), "state"),
                                   "backend": "sim", "socket": "none", "listen": "none"})
    app = Xend(config)
    try:
        session = app.sessions.login("root", "", "", ROOT)
        v10 = app.sessions.login("root", "", "", ROOT, "1.0")
        vm = app.dispatcher.dispatch("VM.create", (session, {"name_label": "bench"}),
                                     ROOT)["Value"]
        metrics = app.dispatcher.dispatch("VM.get_metrics", (session, vm), ROOT)["Value"]
        daemon_serve.settle_heap()     # as the daemon does once it has started
        listener = InProcessListener(app)
        base = baseline(args.calls)
        print("%-44s %10s  %s" % ("call", "CPU/call", "ratio"))
        print("%-44s %8.1f us  1.00x" % ("baseline SimpleXMLRPCServer handler, echo",
                                         base * 1e6))
        profile = cProfile.Profile() if args.profile else None
        for label, method, params in (
                ("VM.get_name_label", "VM.get_name_label", (session, vm)),
                ("VM.get_record", "VM.get_record", (session, vm)),
                ("VM.get_record (1.0 session)", "VM.get_record", (v10, vm)),
                ("VM_metrics.get_record (1.0 session)", "VM_metrics.get_record",
                 (v10, metrics))):
            body = xmlrpc.client.dumps(params, method).encode()

            def handle(sock):
                server.ConnectionHandler(sock, ("", 0), listener)
            # A warm-up pass first: one-time costs (first samples, caches) are not a call's.
            serve(handle, request(body), max(args.calls // 10, 100))
            ours = serve(handle, request(body), args.calls, profile)
            print("%-44s %8.1f us  %.2fx" % (label, ours * 1e6, ours / base))
        if profile is not None:
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        app.close()


if __name__ == "__main__":
    main()
