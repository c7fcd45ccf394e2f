"""A running guest's counters for the sampler: vCPU time, memory, disk and NIC bytes.

Counters are cumulative across suspend/resume: a suspend saves the process's
counters (``Domain.carry``) and the resumed process adds its own to them.
"""

import os

from xen.xend.host import netdev

from ..base import BackendError
from .argv import vbd_of_qdev


def thread_stat(pid, tid):
    """(CPU seconds used (user + system), scheduler state letter, the host CPU it last
    ran on) of thread ``tid`` of process ``pid``."""
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Counted from the whole line: the state is field 3, utime and stime 14 and 15,
    # processor 39 (the split starts at field 3).
    return ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), fields[0],
            int(fields[36]))


def thread_cpu_seconds(pid, tid):
    """CPU seconds thread ``tid`` of process ``pid`` has used (user + system)."""
    return thread_stat(pid, tid)[0]


def vcpu_flags(state, paused):
    """A vCPU's flags as Xen gives them (VM_metrics.VCPUs_flags): every vCPU QEMU lists
    is online; its thread on a CPU (R) is running; a thread asleep is blocked, unless
    the guest is paused (then QEMU parked it: neither)."""
    if paused:
        return ["online"]
    return ["online", "running" if state == "R" else "blocked"]


def vcpu_seconds(dom):
    """CPU seconds all of the guest's vCPU threads have used."""
    total = 0.0
    for tid in dom.vcpu_tids:
        try:
            total += thread_cpu_seconds(dom.pid, tid)
        except OSError:
            pass
    return total


async def vcpu_threads(dom):
    """(vCPU index, thread_stat) of each vCPU QEMU lists, by index."""
    out = []
    for cpu in sorted(await dom.qmp("query-cpus-fast"), key=lambda c: c["cpu-index"]):
        try:
            stat = thread_stat(dom.pid, cpu["thread-id"])
        except OSError:     # the thread just went (an unplug)
            stat = (0.0, "", -1)
        out.append((cpu["cpu-index"], stat))
    return out


async def counters(dom, threads=None):
    """Cumulative CPU and disk counters, including those carried over a resume;
    ``threads``: vcpu_threads(dom), where the caller has read them already."""
    if threads is None:
        threads = await vcpu_threads(dom)
    carry_cpu = dom.carry.get("cpu_seconds", [])
    cpu_seconds = [seconds + (carry_cpu[index] if index < len(carry_cpu) else 0.0)
                   for index, (seconds, _, _) in threads]
    carry_vbd = dom.carry.get("vbd", {})
    vbd = {}
    for entry in await dom.qmp("query-blockstats"):
        vbd_uuid = vbd_of_qdev(entry.get("qdev", ""))
        if vbd_uuid not in dom.disks:
            continue
        before = carry_vbd.get(vbd_uuid, {})
        vbd[vbd_uuid] = {key: entry["stats"][key] + before.get(key, 0)
                         for key in ("rd_bytes", "wr_bytes", "rd_operations",
                                     "wr_operations")}
    carry_vif = dom.carry.get("vif", {})
    vif = {}
    for vif_uuid, tap in dom.taps.items():
        counts = netdev.tap_counters(tap)
        if counts is not None:
            before = carry_vif.get(vif_uuid, {})
            vif[vif_uuid] = {key: n + before.get(key, 0) for key, n in counts.items()}
    return {"cpu_seconds": cpu_seconds, "vbd": vbd, "vif": vif}


async def metrics(dom):
    """``counters`` plus the process's resident memory and, once the guest's balloon
    driver has reported, the memory the guest holds (see QemuBackend.metrics)."""
    threads = await vcpu_threads(dom)
    result = await counters(dom, threads)
    # Whether QEMU paused the vCPUs: their sleeping threads then say nothing of the
    # guest (one more round trip per sample, for VCPUs/flags).
    paused = (await dom.qmp("query-status"))["status"] != "running"
    result["vcpu_cpu"] = {index: cpu for index, (_, _, cpu) in threads}
    result["vcpu_flags"] = {index: vcpu_flags(state, paused) for index, (_, state, _) in threads}
    with open(f"/proc/{dom.pid}/statm") as f:
        result["memory_rss"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    try:
        # The balloon device is always there, and query-balloon answers the full RAM
        # when no driver in the guest has ever taken memory back: only trust it once
        # the driver has shown up. Until then one qom-get per sample, after it one
        # query-balloon: no sample costs more round trips than before.
        if not dom.balloon_driver:
            dom.balloon_driver = await _balloon_driver_reported(dom)
        if dom.balloon_driver:
            result["memory_actual"] = (await dom.qmp("query-balloon"))["actual"]
    except BackendError as err:
        if err.code != "INTERNAL_ERROR":
            raise
        # QEMU refused: no balloon device active yet.
    return result


async def _balloon_driver_reported(dom):
    """Whether the guest's virtio-balloon driver has reported since the last reset.

    Measured on QEMU 7.2: a Linux driver hands the device a statistics buffer when
    it probes, which sets the device's ``guest-stats`` ``last-update`` (seconds
    since the epoch) without any polling interval; a resumed process sets it again
    when it loads the saved queue, and a guest with no driver leaves it 0. A reset
    keeps the old value, hence the comparison with the time of the last reset.
    """
    stats = await dom.qmp(
        "qom-get", {"path": "/machine/peripheral/balloon0", "property": "guest-stats"})
    return int(stats.get("last-update") or 0) > dom.reset_at
