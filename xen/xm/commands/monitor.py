"""Watching what runs: domain IDs, uptimes and ``xm top`` (``xm list`` is vm.py's)."""

import argparse
import calendar
import os
import select
import sys
import termios
import time
import tty

from ..client import XmError
from ..output import (
    decode,
    domain_id,
    duration,
    has_domain,
    print_json,
    print_table,
    printable,
    vm_state,
)
from . import all_records, arg, command, positive


def seconds_since(stamp):
    """Seconds from a start_time (UTC, as the wire's dateTime reads, or JSON-RPC's ISO
    8601) until now; None for a time never set (the epoch, as the API sends it)."""
    start = calendar.timegm(time.strptime(str(stamp).replace("-", "").rstrip("Z"),
                                          "%Y%m%dT%H:%M:%S"))
    return max(time.time() - start, 0) if start > 0 else None


@command("domid", "print a VM's domain ID", "VMs", args=[
    arg("vm", metavar="VM", help="the VM's name, UUID or domain ID"),
], details="""\
The ID the VM's guest has on the hypervisor (VM.domid); an error for a VM that
has no guest (Halted, Suspended). Domain-0, the host's own domain, is 0.""")
def domid(client, opts):
    vm = client.resolve("VM", opts.vm)
    rec = decode("VM", client.call("VM.get_record", vm))
    if domain_id(rec) == "-":
        raise XmError("%s is %s; it has no domain ID"
                      % (printable(opts.vm), rec.get("power_state")))
    print(rec["domid"])


@command("domname", "print the name of a VM, given its domain ID", "VMs", args=[
    arg("vm", metavar="ID", help="the domain ID (or a name or UUID) of a VM"),
], details="""\
0 is Domain-0, the host's own domain. An ID that is also a VM's name names
that VM (a name comes first, as everywhere in xm).""")
def domname(client, opts):
    vm = client.resolve("VM", opts.vm)
    print(printable(client.call("VM.get_name_label", vm)))


@command("uptime", "show how long VMs have been running", "VMs", args=[
    arg("vms", metavar="VM", nargs="*", help="only these VMs (names, UUIDs or IDs)"),
], details="""\
The time since each resident VM's guest was last started, resumed or rebooted
(VM.start_time), as "[D days,] H:MM:SS". Without VMs, every resident VM; a
named VM that has no guest shows "-".""")
def uptime(client, opts):
    if opts.vms:
        refs = dict.fromkeys(client.resolve("VM", n) for n in opts.vms)
        records = [(ref, decode("VM", client.call("VM.get_record", ref))) for ref in refs]
    else:
        records = [(ref, rec) for ref, rec in all_records(client, "VM") if has_domain(rec)]
    rows = []
    for _, rec in records:
        since = seconds_since(rec.get("start_time")) if has_domain(rec) else None
        rows.append((rec.get("name_label", ""), domain_id(rec),
                     "-" if since is None else duration(since)))
    print_table(("Name", "ID", "Uptime"), rows, right=(1,))


def seconds(text):
    """argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("%r is not a number of seconds above zero" % text)
    return value


class Sampler:
    """What ``xm top`` shows, from one get_all_records per class and refresh: CPU% is
    the VM's CPU seconds since the last refresh over the time between them."""

    HEADERS = ("NAME", "ID", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "VCPUS",
               "NETRX(k/s)", "NETTX(k/s)", "VBD_RD(k/s)", "VBD_WR(k/s)")

    def __init__(self, client):
        self.client = client
        self.last = {}           # vm -> (monotonic time, CPU seconds)

    def rows(self):
        now = time.monotonic()
        vms = [(ref, rec) for ref, rec in all_records(self.client, "VM") if has_domain(rec)]
        net = self._rates("VIF", "network_read_kbs", "network_write_kbs")
        disk = self._rates("VBD", "IO_bandwidth_incoming_kbs", "IO_bandwidth_outgoing_kbs")
        rows, last = [], {}
        for ref, rec in vms:
            cpu = rec.get("VCPUs_CPU_time", 0.0)
            then, before = self.last.get(ref, (None, None))
            if then is not None and now > then:
                share = max(cpu - before, 0.0) / (now - then)
            else:       # the first refresh: the sampler's utilisation of each vCPU
                share = sum(rec.get("VCPUs_utilisation", {}).values())
            last[ref] = (now, cpu)
            rows.append((rec.get("name_label", ""), domain_id(rec), vm_state(rec),
                         "%.1f" % cpu, "%.1f" % (100 * share),
                         rec.get("memory_actual", 0) // 1024, rec.get("VCPUs_number", 0),
                         *("%.1f" % v for v in net.get(ref, (0.0, 0.0))),
                         *("%.1f" % v for v in disk.get(ref, (0.0, 0.0)))))
        self.last = last
        return rows

    def _rates(self, cls, incoming, outgoing):
        """{vm: (incoming, outgoing) kB/s} summed over the VM's VIFs or VBDs."""
        out = {}
        for _, rec in all_records(self.client, cls):
            inn, outg = out.get(rec.get("VM"), (0.0, 0.0))
            out[rec.get("VM")] = (inn + rec.get(incoming, 0.0), outg + rec.get(outgoing, 0.0))
        return out


@command("top", "show resident VMs' use of CPU, memory, network and disks, refreshed",
         "VMs", json=True, args=[
             arg("-d", "--delay", type=seconds, default=3.0, metavar="S",
                 help="seconds between refreshes (3)"),
             arg("-i", "--iterations", type=positive, metavar="N",
                 help="stop after N refreshes"),
         ], details="""\
At a terminal: a table of every resident VM, redrawn every S seconds until q
or Ctrl-C. Without a terminal (or with --json): one table (one JSON list per
refresh), or N with --iterations, and no screen control. CPU(%) is the share
of one CPU the VM used since the last refresh (at first, its vCPUs' sampled
utilisation); 200 is two CPUs' worth. The rates are kB/s summed over the VM's
VIFs and VBDs.""")
def top(client, opts):
    sampler = Sampler(client)
    interactive = sys.stdout.isatty() and sys.stdin.isatty() and not opts.json
    count = opts.iterations or (None if interactive else 1)
    with (_Screen() if interactive else _Plain()) as screen:
        done = 0
        while count is None or done < count:
            rows = sampler.rows()
            if opts.json:
                print_json([dict(zip(Sampler.HEADERS, row)) for row in rows], one_line=True)
            else:
                screen.show(time.strftime("xm top - %H:%M:%S"), Sampler.HEADERS, rows)
            done += 1
            if (count is None or done < count) and screen.wait(opts.delay):
                return


class _Plain:
    """Tables one after the other, as a script reads them."""

    shown = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def show(self, title, headers, rows):
        if self.shown:
            print()                 # a blank line between tables
        self.shown = True
        print_table(headers, rows, right=range(1, len(headers)))
        sys.stdout.flush()

    def wait(self, seconds):
        """Sleep between refreshes; True: stop."""
        time.sleep(seconds)
        return False


class _Screen(_Plain):
    """The terminal, redrawn in place; q quits. The terminal's modes are restored on
    every way out (q, Ctrl-C, an error)."""

    def __enter__(self):
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)     # keys without Enter, no echo; Ctrl-C still a signal
        return self

    def __exit__(self, exc_type, exc, tb):
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        sys.stdout.write("\n")
        # Ctrl-C is how top is meant to end: quietly.
        return exc_type is KeyboardInterrupt

    def show(self, title, headers, rows):
        sys.stdout.write("\x1b[H\x1b[2J" + title + "\n\n")    # home, clear the screen
        print_table(headers, rows, right=range(1, len(headers)))
        sys.stdout.flush()

    def wait(self, seconds):
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready and os.read(self.fd, 1) in (b"q", b"Q"):
                return True
        return False
