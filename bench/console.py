"""A guest's console through the console proxy against the hub's own socket, on real QEMU.

One daemon runs in process (qemu backend, its Unix socket listener served by its own
threads, state in a scratch directory) and boots the tiny test guest with a shell as its
init on its serial console. Each figure is measured twice in the same run: through the
proxy (``CONNECT /console`` on the daemon's Unix socket) and, as the baseline, on the
socket ``backend.open_console`` returns, which the proxy itself pumps.

  * keystroke to echo: one byte typed, the time until the guest's echo of it is back
    (the tty echoes each byte typed); p50 and p99 over KEYS keystrokes;
  * bulk output: the bytes per second of ``seq 1 N`` printed by the guest's shell.

    .venv/bin/python bench/console.py [--keys 1000] [--seq 200000]   (no asserts)
"""

import argparse
import logging
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.harness import (  # noqa: E402
    BOOT_WAIT,
    TINY_MEMORY,
    build_tiny_guest,
    console_connect,
    console_query,
    memory,
    read_until,
    scratch_dir,
)
from tests.harness import ROOT_PEER as PEER  # noqa: E402
from xen.xend.daemon import config as configmod  # noqa: E402
from xen.xend.daemon.app import Xend  # noqa: E402
from xen.xend.transport import listeners  # noqa: E402


class _Socket:
    """What console_connect needs of a daemon: its Unix socket's path."""

    def __init__(self, path):
        self.socket = path


def keystrokes(sock, keys):
    """Seconds from each byte typed to its echo, ``keys`` times; a line ended every 64."""
    sock.settimeout(BOOT_WAIT)
    times = []
    for i in range(keys):
        key = b"abcdefghijklmnopqrstuvwxyz"[i % 26:i % 26 + 1]
        started = time.perf_counter()
        sock.sendall(key)
        read_until(sock, key)
        times.append(time.perf_counter() - started)
        if i % 64 == 63:    # Ctrl-U: the line typed so far is discarded, kept short
            sock.sendall(b"\x15")
    sock.sendall(b"\x15\r")
    read_until(sock, b"# ")
    return times


def bulk(sock, count):
    """(bytes, seconds) of the guest's ``seq 1 count``, until the line after it."""
    marker = b"done-%d" % count
    sock.sendall(b"seq 1 %d; echo done-$((%d))\r" % (count, count))
    read_until(sock, b"\r\n")           # the command's own echo
    started = time.perf_counter()
    got = read_until(sock, marker + b"\r\n", timeout=600)
    return len(got), time.perf_counter() - started


def percentile(times, p):
    return statistics.quantiles(times, n=100)[p - 1] * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--seq", type=int, default=200000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    scratch = scratch_dir()
    path = os.path.join(scratch, "run", "xend.sock")
    config = configmod.load(None, {"state_dir": os.path.join(scratch, "state"),
                                   "backend": "qemu", "socket": path, "listen": "none"})
    app = Xend(config)
    servers = listeners.Servers(listeners.listeners_from_config(app))
    try:
        def call(method, *params):
            reply = app.dispatcher.dispatch(method, (session,) + params, PEER)
            assert reply["Status"] == "Success", reply
            return reply["Value"]
        session = app.sessions.login("root", "", "", PEER)
        guest = build_tiny_guest(scratch)
        vm = call("VM.create", dict(
            {"name_label": "bench-console", "boot_method": "kernel_external",
             "kernel_kernel": guest["kernel"], "kernel_initrd": guest["initrd"],
             "kernel_args": guest["cmdline"] + " rdinit=/bin/sh"}, **memory(TINY_MEMORY)))
        call("VM.start", vm, False)
        con = call("VM.get_consoles", vm)[0]

        def direct():
            return app.backend.open_console(vm, "vt100")

        def proxied():
            status, sock = console_connect(_Socket(path), console_query(con, session))
            assert status == 200
            return sock
        with direct() as sock:
            read_until(sock, b"# ", timeout=BOOT_WAIT)
        figures = {}
        for name, open_ in (("direct (hub socket)", direct), ("proxy (CONNECT)", proxied)):
            with open_() as sock:
                sock.sendall(b"\r")
                read_until(sock, b"# ")
                times = keystrokes(sock, args.keys)
                size, seconds = bulk(sock, args.seq)
            figures[name] = (percentile(times, 50), percentile(times, 99), size / seconds)
        print("console of a QEMU tiny guest, %d keystrokes, seq 1 %d" % (args.keys, args.seq))
        print("%-22s %12s %12s %14s" % ("", "echo p50", "echo p99", "bulk"))
        for name, (p50, p99, rate) in figures.items():
            print("%-22s %9.0f us %9.0f us %9.2f MB/s" % (name, p50, p99, rate / 1e6))
        (b50, b99, brate), (p50, p99, prate) = figures.values()
        print("proxy added: p50 %+.0f us, p99 %+.0f us; bulk %.2fx the direct rate"
              % (p50 - b50, p99 - b99, prate / brate))
        call("VM.hard_shutdown", vm)
    finally:
        servers.close()
        app.close()


if __name__ == "__main__":
    main()
