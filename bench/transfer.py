"""Disk image import and export through the daemon against qemu-img convert.

Starts its own sim daemon (tests.harness.Daemon) with a ``file`` SR (raw images) in its
state directory, and makes a raw image of SIZE bytes beside it: its first half random
data, its second half a hole. Then, all on the same disk:

  * baseline: ``qemu-img convert -t writeback -f raw -O raw`` of the image to a new
    file (flushed at its end, as an import is before its reply);
  * import: ``PUT /import_raw_vdi`` of the image into a VDI of SIZE bytes over the Unix
    socket, by xm's own client (xen.xm.client.Client.upload);
  * export: ``GET /export_raw_vdi`` of that VDI to a new file (Client.download, blocks
    of zeros left holes, as ``xm vdi-export`` writes them).

Each is run RUNS times and the fastest counts: the disk is shared with whatever else
the machine does. Prints each one's throughput (SIZE bytes over the seconds it took),
the ratio of each transfer's to qemu-img's, the blocks the VDI's image and the exported
file take (holes kept: about SIZE/2), whether the export equals the image, and the
daemon's RSS when idle and at its highest during the transfers (psutil, sampled every
20 ms).

Run: .venv/bin/python bench/transfer.py [--size 2G] [--format raw|qcow2] [--runs 3]
(no asserts)
"""

import argparse
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.event_memory import MIB, rss_mib  # noqa: E402
from tests.harness import Daemon  # noqa: E402
from xen.xm.client import Client  # noqa: E402
from xen.xm.commands.resources import parse_size  # noqa: E402
from xen.xm.commands.transfer import SparseFile  # noqa: E402


def make_image(path, size):
    """A raw image of ``size`` bytes: the first half random, the second a hole."""
    with open(path, "wb") as f:
        for _ in range(size // 2 // MIB):
            f.write(os.urandom(MIB))
        f.truncate(size)


def allocated_mib(path):
    return os.stat(path).st_blocks * 512 / MIB


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(MIB):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def peak_rss(daemon, into):
    """Sample the daemon's RSS while the block runs; its highest (MiB) into ``into``."""
    done = threading.Event()
    peak = [rss_mib(daemon)]

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_mib(daemon))
    t = threading.Thread(target=sample)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()
        into.append(peak[0])


def best(runs, made, fn, *args):
    """The fewest seconds ``fn(*args)`` took in ``runs`` runs; the file ``made`` (if
    any) is removed before each."""
    times = []
    for _ in range(runs):
        if made and os.path.exists(made):
            os.unlink(made)
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def upload(client, path, vdi, fmt):
    with open(path, "rb") as f:
        client.upload("/import_raw_vdi", f, os.path.getsize(path), "import", vdi=vdi,
                      format=fmt)


def download(client, path, vdi, fmt):
    with open(path, "xb") as f:
        client.download("/export_raw_vdi", SparseFile(f), "export", vdi=vdi, format=fmt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="2G", help="the image's size, e.g. 2G, 256M")
    ap.add_argument("--format", choices=("raw", "qcow2"), default="raw",
                    help="the format on the wire (the VDI is raw either way)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs of each; the fastest counts (the disk is shared)")
    args = ap.parse_args()
    size = parse_size(args.size)
    d = Daemon(log_level="warning").start()
    try:
        x = d.sdk_unix().xenapi
        sr = x.SR.create({"name_label": "bench", "type": "file"})
        vdi = x.VDI.create({"name_label": "bench", "SR": sr, "virtual_size": str(size // 512),
                            "sector_size": 512, "sharable": False, "read_only": False})
        work = os.path.join(d.dir, "images")
        os.makedirs(work)
        src = os.path.join(work, "src.raw")
        make_image(src, size)
        sent = src
        if args.format == "qcow2":
            sent = os.path.join(work, "src.qcow2")
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", src, sent],
                           check=True)
        # The copy made durable, as an import is before its reply (qemu-img's default
        # cache mode for its output, "unsafe", never flushes).
        base = os.path.join(work, "base")
        baseline = best(args.runs, base, subprocess.run, [
            "qemu-img", "convert", "-t", "writeback", "-f", "raw", "-O", args.format, src, base])
        client = Client(d.socket)
        client.login("root", "")
        idle = rss_mib(d)
        peaks = []
        sys.stderr = io.StringIO()   # the client's progress lines are not the figures
        try:
            with peak_rss(d, peaks):
                imported = best(args.runs, None, upload, client, sent, vdi, args.format)
            out = os.path.join(work, "out." + args.format)
            with peak_rss(d, peaks):
                exported = best(args.runs, out, download, client, out, vdi, args.format)
        finally:
            sys.stderr = sys.__stderr__
        image = x.SR.get_location(sr)
        image = os.path.join(image, [n for n in os.listdir(image) if n.startswith(vdi)][0])
        back = out
        if args.format == "qcow2":
            back = os.path.join(work, "back.raw")
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", out, back],
                           check=True)
        rate = size / MIB
        print("%s image of %d MiB (half data, half a hole), %s on the wire"
              % ("raw", size // MIB, args.format))
        print("%-26s %8.1f MiB/s" % ("qemu-img convert", rate / baseline))
        print("%-26s %8.1f MiB/s  %.2fx qemu-img's" % ("import (PUT)", rate / imported,
                                                      baseline / imported))
        print("%-26s %8.1f MiB/s  %.2fx qemu-img's" % ("export (GET)", rate / exported,
                                                      baseline / exported))
        print("allocated: source %.0f MiB, VDI image %.0f MiB, export %.0f MiB"
              % (allocated_mib(src), allocated_mib(image), allocated_mib(out)))
        print("export equals the image: %s" % (digest(back) == digest(src)))
        print("daemon RSS: idle %.1f MiB, import peak %.1f MiB (+%.1f), export peak %.1f MiB "
              "(+%.1f)" % (idle, peaks[0], peaks[0] - idle, peaks[1], peaks[1] - idle))
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
