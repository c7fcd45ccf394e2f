"""The Xen backend's qdisk counters (xen/counters.py ``qdisk_counters``) against a real QEMU.

On a Xen host, qcow2 disks are served by the device model's qdisk backend, and their
byte counters come from its QMP statistics socket. Here a plain QEMU with the same block
node names (``<vdev>-<format>``) stands in for the device model: its firmware reads the
disk's first sector while looking for something to boot, which the counters must show.
The real device model is exercised by the Xen tier (tests/xen)."""

import os
import socket
import subprocess
import threading
import time

import pytest
from harness import QEMU, skip_without_qemu, wait_until

from xen.xend.backend.xen import counters as xen_counters

DOMID = 7


@pytest.fixture
def stats_socket(tmp_path, monkeypatch):
    """Where the backend looks for domain DOMID's statistics socket (in tmp_path)."""
    monkeypatch.setattr(xen_counters, "QMP_STATS_SOCKET", str(tmp_path / "qmp-stats-%d"))
    return str(tmp_path / ("qmp-stats-%d" % DOMID))


def test_counters_of_a_qcow2_disk_come_from_the_device_model(tmp_path, stats_socket):
    skip_without_qemu()
    image = str(tmp_path / "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "16M"], check=True)
    proc = subprocess.Popen(
        [QEMU, "-accel", "tcg", "-machine", "pc", "-m", "32", "-nodefaults", "-display", "none",
         "-qmp", "unix:%s,server=on,wait=off" % stats_socket,
         "-blockdev", "driver=file,filename=%s,node-name=xvda-file" % image,
         "-blockdev", "driver=qcow2,file=xvda-file,node-name=xvda-qcow2",
         "-device", "virtio-blk-pci,drive=xvda-qcow2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def counted():
            counters = xen_counters.qdisk_counters(DOMID)
            return counters if counters.get("xvda", {}).get("rd_bytes") else None
        counters = wait_until(counted, 60, "xvda's read counter to move", interval=0.5)
        assert set(counters) == {"xvda"}, counters
        assert counters["xvda"]["rd_bytes"] >= 512, counters
        assert counters["xvda"]["wr_bytes"] == 0, counters
    finally:
        proc.kill()
        proc.wait()


def test_no_device_model_means_no_counters(stats_socket):
    assert xen_counters.qdisk_counters(DOMID) == {}


def test_a_silent_device_model_costs_the_timeout_and_no_more(stats_socket):
    """A socket that accepts and never greets (a hung device model) gives no counters
    after QMP_STATS_TIMEOUT rather than holding the sampler."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(stats_socket)
    listener.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    try:
        started = time.monotonic()
        assert xen_counters.qdisk_counters(DOMID) == {}
        assert time.monotonic() - started < xen_counters.QMP_STATS_TIMEOUT + 10
    finally:
        listener.close()
        for conn, _ in held:
            conn.close()
        os.unlink(stats_socket)
