"""What Xen tells of the host it runs on: its version, capabilities, physical CPUs and
memory, from ``xl info`` (a dict, see xl.parse_info) and xenpm; and where the
device model (QEMU for Xen) is installed."""

import dataclasses
import os

from xen.xend.host import facts

from ..base import BackendError
from .xl import MIB, cpu_idle

# Where distributions put the Xen device model (Debian's qemu-system-xen: libexec).
DEVICE_MODELS = ("/usr/libexec/xen-qemu-system-i386", "/usr/lib/xen/bin/qemu-system-i386",
                 "/usr/bin/qemu-system-i386")


def device_model():
    """The path of the installed device model; "" where there is none."""
    return next((p for p in DEVICE_MODELS if os.access(p, os.X_OK)), "")


def xen_version(info):
    """Xen's version, e.g. "4.17.3"."""
    return "%s.%s%s" % (info.get("xen_major", "?"), info.get("xen_minor", "?"),
                        info.get("xen_extra", ""))


def credit_command(info):
    """The xl command that sets a domain's weight and cap under the scheduler Xen runs
    (``xl info``'s xen_scheduler): sched-credit2 for credit2, else sched-credit."""
    return "sched-credit2" if info.get("xen_scheduler") == "credit2" else "sched-credit"


def hvm_capable(info):
    """Whether Xen can run HVM containers (PVH and HVM domains) on this processor."""
    return "hvm" in info.get("virt_caps", "").split()


def cpus(info):
    """Xen's physical CPUs: as many as ``xl info`` counts, at its ``cpu_mhz``; the
    model and flags are what dom0's vCPUs report of the same processor. None where
    xl does not count them."""
    try:
        count = int(info.get("nr_cpus", ""))
    except ValueError:
        return None
    model = (facts.read_cpus() or [facts.CpuInfo(0)])[0]
    mhz = float(info.get("cpu_mhz") or model.mhz or 0)
    return [dataclasses.replace(model, number=n, mhz=mhz) for n in range(count)]


def cpu_configuration(info):
    """host.cpu_configuration from ``xl info``: nr_cpus, nr_nodes, cores_per_socket and
    threads_per_core as Xen counts them; sockets_per_node worked out from them."""
    def count(key):
        value = str(info.get(key, ""))
        return int(value) if value.isdigit() and int(value) > 0 else 1
    per_node = count("nr_cpus") // (count("nr_nodes") * count("cores_per_socket")
                                    * count("threads_per_core"))
    return {"nr_cpus": str(count("nr_cpus")), "nr_nodes": str(count("nr_nodes")),
            "sockets_per_node": str(max(1, per_node)),
            "cores_per_socket": str(count("cores_per_socket")),
            "threads_per_core": str(count("threads_per_core"))}


def cpu_idle_seconds(xenpm):
    """Idle seconds per physical CPU, by CPU number, from Xen's C-state statistics
    (``xenpm``: its path); None where xenpm reports none."""
    idle = cpu_idle(xenpm)
    return [idle.get(n, 0.0) for n in range(max(idle) + 1)] if idle else None


def memory(xl):
    """(total, free) bytes of Xen's memory, from a fresh ``xl info`` of the Xl runner
    ``xl``; None when xl does not answer."""
    try:
        info = xl.info()
        return int(info["total_memory"]) * MIB, int(info["free_memory"]) * MIB
    except (BackendError, KeyError, ValueError):
        return None
