"""host (§2.7) and host_cpu (§2.8): the machine the daemon runs on."""

import functools
import os
import re
import shlex
import subprocess

from ...host import facts
from .. import vmlogs
from ..errors import ApiError
from ..types import NULL_REF
from .base import ClassHandler

# Debug keys: printable ASCII, not starting with "-" (which xl would read as an option).
_DEBUG_KEYS = re.compile(r"\A(?!-)[!-~]{1,64}\Z")


def _of_this_machine(wire):
    """A computed host field (``wire``) that the daemon reads from its own machine.
    Another host of the pool is another machine: its figure is what its record holds
    (what that host's daemon writes there), the field's default until it writes one."""
    def wrap(method):
        @functools.wraps(method)
        def read(self, ref, rec):
            if ref != self.app.host_ref:
                field = self.cls.field(wire) or self.cls.field(wire, "1.0")
                return rec.get(wire, field.default_value())
            return method(self, ref, rec)
        return read
    return wrap


class HostHandler(ClassHandler):
    cls_name = "host"
    computed = {"software_version": "_software_version",
                "memory_total": "_memory_total", "memory_free": "_memory_free",
                "control_domain_memory": "_control_domain_memory",
                "control_domain_VCPUs": "_control_domain_vcpus",
                # 1.0: host facts
                "API_version_vendor_implementation": "_api_vendor_implementation",
                "capabilities": "_capabilities", "cpu_configuration": "_cpu_configuration",
                "sched_policy": "_sched_policy",
                "supported_bootloaders": "_supported_bootloaders",
                "suspend_image_sr": "_suspend_image_sr", "crash_dump_sr": "_crash_dump_sr",
                # 1.0: host's interfaces, storage and objects
                "PIFs": "_pifs", "PBDs": "_pbds"}
    _cpus = None     # cpu_configuration, read once: the CPUs do not change while it runs

    @_of_this_machine("software_version")
    def _software_version(self, ref, rec):
        return self.app.software_version()

    # Memory as the sampler last saw it: the hypervisor's (Xen's), and the daemon's own
    # machine's (dom0, or the whole host where the daemon runs on it). Another member's:
    # as its lease last said (0 without one).

    def _memory_total(self, ref, rec):
        return self.app.host_memory(ref)[0]

    def _memory_free(self, ref, rec):
        return self.app.host_memory(ref)[1]

    @_of_this_machine("control_domain_memory")
    def _control_domain_memory(self, ref, rec):
        return self.app.sampler.own_memory[0]

    @_of_this_machine("control_domain_VCPUs")
    def _control_domain_vcpus(self, ref, rec):
        return os.cpu_count() or 1

    # 1.0: host facts. The API's version is Xen-API 1.0's, whichever revision a session
    # speaks: a host answers every revision (docs/api.md, "The host").

    @_of_this_machine("API_version_vendor_implementation")
    def _api_vendor_implementation(self, ref, rec):
        return {"xend": self.app.software_version()["xend"], "backend": self.app.backend_name}

    @_of_this_machine("capabilities")
    def _capabilities(self, ref, rec):
        return self.app.backend.capabilities()

    @_of_this_machine("cpu_configuration")
    def _cpu_configuration(self, ref, rec):
        if self._cpus is None:
            self._cpus = self.app.backend.cpu_configuration() or facts.cpu_configuration(
                facts.read_cpus(), facts.numa_nodes())
        return self._cpus

    @_of_this_machine("sched_policy")
    def _sched_policy(self, ref, rec):
        return self.app.backend.sched_policy()

    @_of_this_machine("supported_bootloaders")
    def _supported_bootloaders(self, ref, rec):
        return facts.bootloaders()

    # The SRs are stored refs that read as null once their SR is deleted: nothing stops an
    # SR's delete for the host's sake.

    def _suspend_image_sr(self, ref, rec):
        return self._existing_sr(rec.get("suspend_image_sr", NULL_REF))

    def _crash_dump_sr(self, ref, rec):
        return self._existing_sr(rec.get("crash_dump_sr", NULL_REF))

    def _existing_sr(self, sr):
        return sr if sr and self.store.get("SR", sr) is not None else NULL_REF

    def list_methods(self, call):
        """Every method the caller's session may call (its revision's): root's too for
        root."""
        return sorted(name for name, m in self.app.dispatcher.tables[call.revision].items()
                      if call.is_root or not m.root_only)

    def _require_own(self, host):
        """OPERATION_NOT_ALLOWED for another host of the pool: what acts on the machine
        or reads it is done by that host's own daemon (such calls are not forwarded)."""
        if host != self.app.host_ref:
            raise ApiError("OPERATION_NOT_ALLOWED", "host %s is another host of the pool: "
                           "ask its own daemon" % host)

    def get_log(self, call, host):
        """The daemon's log file, its newest whole lines (vmlogs.daemon_log)."""
        self._require_own(host)
        return vmlogs.daemon_log(self.app).decode("utf-8", "replace")

    def send_debug_keys(self, call, host, keys):
        """The keys checked, then handed to the hypervisor (Backend.send_debug_keys)."""
        self._require_own(host)
        if not _DEBUG_KEYS.match(keys):
            raise ApiError("INVALID_VALUE", "keys", keys)
        self.app.backend.send_debug_keys(keys)

    def _pifs(self, ref, rec):
        pifs = self.app.handlers["PIF"]
        return [p for net, nrec in self.store.records("network")
                if self.app.host_of(nrec) == ref for p in pifs.of_network(net, nrec)]

    def _pbds(self, ref, rec):
        return self.app.handlers["PBD"].of_host(ref)

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
        self._require_own(host)
        return self.app.backend.dmesg()

    def dmesg_clear(self, call, host):
        """The hypervisor's log, cleared once read (Backend.dmesg)."""
        self._require_own(host)
        return self.app.backend.dmesg(clear=True)

    def _power(self, host, operation):
        self._require_own(host)
        if self.store.get("host", host).get("enabled", True):
            raise ApiError("HOST_NOT_DISABLED", host)
        # The control domain goes down with the host: it is no guest to stop first.
        resident = [vm for vm in self.store.referrers("VM", "resident_on", host)
                    if vm != self.app.control_domain]
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
    return [{"host": host_ref, "number": c.number, "features": c.features,
             "vendor": c.vendor, "speed": round(c.mhz), "modelname": c.model_name,
             "stepping": c.stepping, "flags": " ".join(c.flags)}
            for c in (cpus if cpus is not None else facts.read_cpus())]
