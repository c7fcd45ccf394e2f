"""host (§2.7) and host_cpu (§2.8): the machine the daemon runs on."""

import os
import shlex
import subprocess

from ...host import facts
from .. import lifecycle
from ..errors import ApiError
from .base import ClassHandler


class HostHandler(ClassHandler):
    cls_name = "host"
    computed = {"software_version": "_software_version",
                "memory_total": "_memory_total", "memory_free": "_memory_free",
                "control_domain_memory": "_control_domain_memory",
                "control_domain_VCPUs": "_control_domain_vcpus"}

    def _software_version(self, ref, rec):
        return self.app.software_version()

    # Memory as the sampler last saw it: the hypervisor's (Xen's), and the daemon's own
    # machine's (dom0, or the whole host where the daemon runs on it).

    def _memory_total(self, ref, rec):
        return self.app.sampler.host_memory[0]

    def _memory_free(self, ref, rec):
        return self.app.sampler.host_memory[1]

    def _control_domain_memory(self, ref, rec):
        return self.app.sampler.own_memory[0]

    def _control_domain_vcpus(self, ref, rec):
        return os.cpu_count() or 1

    def disable(self, call, host):
        with self.store.transaction() as txn:
            self.update(txn, host, {"enabled": False})

    def enable(self, call, host):
        with self.store.transaction() as txn:
            self.update(txn, host, {"enabled": True})

    def shutdown(self, call, host):
        self._power(host, "shutdown")

    def reboot(self, call, host):
        self._power(host, "reboot")

    def dmesg(self, call, host):
        """The hypervisor's log on this host (Backend.dmesg)."""
        return self.app.backend.dmesg()

    def dmesg_clear(self, call, host):
        """The hypervisor's log, cleared once read (Backend.dmesg)."""
        return self.app.backend.dmesg(clear=True)

    def _power(self, host, operation):
        if self.store.get("host", host).get("enabled", True):
            raise ApiError("HOST_NOT_DISABLED", host)
        # The control domain goes down with the host: it is no guest to stop first.
        resident = [vm for vm in self.store.referrers("VM", "resident_on", host)
                    if vm != lifecycle.CONTROL_DOMAIN]
        if resident:
            raise ApiError("HOST_HAS_RESIDENT_VMS", host, ",".join(resident))
        command = self.app.config.get("host_%s_command" % operation, "")
        if not command:
            raise ApiError("HOST_POWER_COMMAND_UNSET", host, operation)
        # The configured command is an argv written by root, split without a shell.
        subprocess.Popen(shlex.split(command), start_new_session=True)


class HostCpuHandler(ClassHandler):
    cls_name = "host_cpu"
    computed = {"utilisation": "_utilisation"}

    def _utilisation(self, ref, rec):
        loads = self.app.cpu_utilisation()
        n = rec.get("number", 0)
        return loads[n] if 0 <= n < len(loads) else 0.0


def cpu_records(host_ref, cpus=None):
    """The host_cpu records of this machine: of ``cpus`` (facts.CpuInfo, the
    backend's view of the physical CPUs) or else of /proc/cpuinfo."""
    return [{"host": host_ref, "number": c.number, "features": c.features}
            for c in (cpus if cpus is not None else facts.read_cpus())]
