"""A running domain's counters: vCPU time and memory from xl, and its disk and NIC
byte counters from dom0's side of its devices.

Raw images are served by blkback, whose sysfs statistics count sectors; qcow2
images by QEMU's qdisk in the device model, asked over its statistics QMP socket.
NICs are counted by netback's vif interfaces, from dom0's side (rx and tx swap).
"""

import asyncio
import logging
import os

from qemu.qmp import QMPClient, QMPError

from .xl import MIB

log = logging.getLogger("xend.backend.xen")

# The device model's second QMP socket, which libxl opens for statistics readers
# (xentop); libxl keeps the first one, which takes one client at a time, for itself.
QMP_STATS_SOCKET = "/var/run/xen/qmp-libxenstat-%d"
QMP_STATS_TIMEOUT = 2.0
LIST_MAX_AGE = 1.0          # how stale a listing of xl's the sampler may reuse (s)


def metrics(xl, xenstore, dom):
    """Counters of the running Domain ``dom``, from the Xl runner ``xl``'s listings,
    blkback and netback (over the Xenstore ``xenstore``); {} once it is gone.

    ``{"cpu_seconds": [per vCPU], "vcpu_cpu": {vCPU: physical CPU},
    "vcpu_flags": {vCPU: [flags]}, "memory_actual": bytes, "vbd": {vbd: {rd_bytes,
    wr_bytes}}, "vif": {vif: {rx_bytes, tx_bytes}} (the guest's view),
    "tools_version": {...}, "guest": {...} (Xenstore.guest_metrics), "domid": Xen's
    domid of it}``
    """
    entry = xl.list(max_age=LIST_MAX_AGE).get(dom.uuid)
    if entry is None:
        return {}
    vcpus = xl.vcpu_list().get(entry["domid"], [])
    return {"cpu_seconds": [row.seconds for row in vcpus], **vcpu_placement(vcpus),
            "memory_actual": entry["mem_mib"] * MIB,
            "vbd": vbd_counters(xenstore, dom.domid, dom.disks),
            "vif": vif_counters(xenstore, dom.domid, dom.nics),
            "tools_version": xenstore.tools_version(dom.domid),
            "guest": xenstore.guest_metrics(dom.domid),
            "domid": entry["domid"]}


def vcpu_placement(rows):
    """``vcpu_cpu`` and ``vcpu_flags`` (Backend.metrics) of a domain's ``xl vcpu-list``
    rows (xl.VcpuRow, by vCPU number)."""
    return {"vcpu_cpu": {i: row.cpu for i, row in enumerate(rows)},
            "vcpu_flags": {i: list(row.flags) for i, row in enumerate(rows)}}


def vbd_counters(xenstore, domid, disks):
    """Bytes read and written per VBD of ``disks`` ({VBD uuid: vdev}) of domain
    ``domid``: blkback's sysfs counters for the disks it serves (raw images), the
    device model's block statistics for the disks QEMU's qdisk serves (qcow2 images)."""
    vdev_of = xenstore.backend_values(b"vbd", domid, b"dev")
    qdisk = None
    out = {}
    for vbd, vdev in disks.items():
        devid = vdev_of.get(vdev)
        stats = "/sys/bus/xen-backend/devices/vbd-%d-%s/statistics/" % (domid, devid)
        if devid is not None and os.path.isdir(stats):
            out[vbd] = {"rd_bytes": _read_int(stats + "rd_sect") * 512,
                        "wr_bytes": _read_int(stats + "wr_sect") * 512}
            continue
        if qdisk is None:      # one query for all of the domain's qdisk disks
            qdisk = qdisk_counters(domid)
        if vdev in qdisk:
            out[vbd] = qdisk[vdev]
    return out


def qdisk_counters(domid):
    """{vdev: counters} from the domain's device model; {} without one."""
    path = QMP_STATS_SOCKET % domid
    if not os.path.exists(path):
        return {}
    try:
        reply = asyncio.run(asyncio.wait_for(_qmp_query(path, "query-blockstats"),
                                             QMP_STATS_TIMEOUT))
    except (OSError, QMPError, asyncio.TimeoutError) as e:
        log.debug("domain %d: no block statistics from its device model: %s", domid, e)
        return {}
    return parse_blockstats(reply)


def vif_counters(xenstore, domid, nics):
    """Bytes per VIF of ``nics`` ({VIF uuid: MAC}) of domain ``domid``, as the guest
    counts them (rx is what the guest received)."""
    devid_of = xenstore.backend_values(b"vif", domid, b"mac")
    out = {}
    for vif, mac in nics.items():
        devid = devid_of.get(mac.lower())
        stats = "/sys/class/net/vif%d.%s/statistics/" % (domid, devid)
        if devid is not None and os.path.isdir(stats):
            # dom0's vif receives what the guest sends.
            out[vif] = {"rx_bytes": _read_int(stats + "tx_bytes"),
                        "tx_bytes": _read_int(stats + "rx_bytes")}
    return out


async def _qmp_query(path, command):
    """One QMP command on a fresh connection to the monitor socket ``path``."""
    client = QMPClient("xend-stats")
    try:
        await client.connect(path)
        return await client.execute(command)
    finally:
        await client.disconnect()


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def parse_blockstats(reply):
    """Byte counters from the device model's QMP ``query-blockstats`` reply:
    {vdev: {"rd_bytes", "wr_bytes"}}. The qdisk backend names each disk's top block
    node ``<vdev>-<format>`` (xvda-qcow2), and the guest's I/O is counted there."""
    out = {}
    for entry in reply or ():
        node = entry.get("node-name") or ""
        vdev, sep, _ = node.rpartition("-")
        stats = entry.get("stats") or {}
        if sep and vdev:
            out[vdev.lower()] = {"rd_bytes": int(stats.get("rd_bytes", 0)),
                                 "wr_bytes": int(stats.get("wr_bytes", 0))}
    return out
