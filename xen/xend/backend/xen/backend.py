"""XenBackend: the Backend contract on Xen, for a daemon running in dom0.

Domains are built and driven with ``xl`` (xl.py; a generated configuration file
per guest, in its state dir: config.py), made and unmade by domains.py, and
watched for what guests do on their own by watch.py; counters come from dom0's
side of their devices (counters.py).

Only domains whose uuid belongs to a VM this daemon started are ever touched:
every command names a domain by the domid the backend recorded for that VM.
Other domains are logged once, at start, and left alone. Domains outlive the
daemon; ``reattach`` finds them again by uuid.
"""

import dataclasses
import logging
import os
import shutil

from xen.xend.host import facts
from xen.xend.util import progress

from .. import base
from ..base import BackendError
from ..common import create_private_file
from . import config, counters
from .domains import Domain, Domains
from .watch import GuestWatch
from .xenstore import Xenstore
from .xenstore import connect as connect_xenstore
from .xl import SAVE_TIMEOUT, XL_TIMEOUT, Xl, cpu_idle, power_state

log = logging.getLogger("xend.backend.xen")

MIB = 1024 * 1024
LIST_MAX_AGE = 1.0          # how stale a listing the sampler may reuse (s)
# Where distributions put the Xen device model (Debian's qemu-system-xen: libexec).
DEVICE_MODELS = ("/usr/libexec/xen-qemu-system-i386", "/usr/lib/xen/bin/qemu-system-i386",
                 "/usr/bin/qemu-system-i386")


class XenBackend(base.Backend):
    """Runs guests as Xen domains through xl; see the module docstring."""

    name = "xen"

    def __init__(self, on_guest_event=None, xl="xl", pvh_cpuid="", xenstore=None):
        super().__init__(on_guest_event)
        self._xl = Xl(shutil.which(xl) or xl)
        self.xenpm = shutil.which("xenpm") or os.path.join(os.path.dirname(self._xl.path),
                                                           "xenpm")
        self.pvh_cpuid = pvh_cpuid
        self.device_model = next((p for p in DEVICE_MODELS if os.access(p, os.X_OK)), "")
        self._domains = Domains(self._xl)
        self._watch = GuestWatch(self._xl, self._domains,
                                 lambda uuid, kind: self.on_guest_event(uuid, kind))
        self._xs = Xenstore(xenstore if xenstore is not None
                                      else connect_xenstore())
        self.info = self._xl.info()
        log.info("xen backend: Xen %s, %s, device model %s", self.xen_version(),
                 self._xl.path, self.device_model or "none (no HVM, no qcow2)")

    # ------------------------------------------------------------------ contract

    def start(self, spec, paused):
        """``xl create`` the guest paused, then unpause it unless ``paused``."""
        config.check_can_start(spec.record, self.info)
        taken = {e["name"] for e in self._xl.list(max_age=0).values()}
        name = config.domain_name(spec.record, spec.uuid, taken)
        text = config.build_config(spec, name, qdisk_ok=bool(self.device_model),
                                      device_model_ok=bool(self.device_model),
                                      pvh_cpuid=self.pvh_cpuid, hvm_capable=self.hvm_capable)
        dom = Domain.of_spec(spec, name)
        create_private_file(dom.config, text)
        with dom.lock:
            self._domains.create(dom, ["create", "-p", dom.config])
            progress.report(0.8)
            if not paused:
                self._xl.run("unpause", str(dom.domid))
        return dom.private()

    def pause(self, uuid):
        """``xl pause``."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("pause", str(dom.domid))

    def unpause(self, uuid):
        """``xl unpause``."""
        dom = self._domains.running(uuid, "Paused")
        with dom.lock:
            self._xl.run("unpause", str(dom.domid))

    def clean_shutdown(self, uuid, timeout):
        """``xl shutdown`` (PV control node, or ACPI for HVM) and wait for the guest to
        power off; VM_SHUTDOWN_TIMEOUT [uuid, timeout] leaves it running."""
        dom = self._domains.running(uuid, "Running")
        self._domains.ask_and_wait(dom, ["shutdown", "-F"], timeout, self._watch.wake)
        with dom.lock:
            self._domains.destroy(dom)

    def hard_shutdown(self, uuid):
        """``xl destroy``; no-op when the domain is already gone."""
        dom = self._domains.get(uuid)
        if dom is None:
            return
        dom.expected = True
        with dom.lock:
            self._domains.destroy(dom)

    def clean_reboot(self, uuid, timeout):
        """``xl reboot`` and wait for the guest to shut down for its reboot; then build
        the domain again from its configuration (Xen reboots a domain by rebuilding it)."""
        dom = self._domains.running(uuid, "Running")
        self._domains.ask_and_wait(dom, ["reboot", "-F"], timeout, self._watch.wake)
        with dom.lock:
            self._domains.rebuild(dom)

    def hard_reboot(self, uuid):
        """Destroy the domain and build it again from its configuration."""
        dom = self._domains.running(uuid, "Running")
        dom.expected = True
        with dom.lock:
            self._domains.rebuild(dom)

    def suspend(self, uuid, live, state_file):
        """``xl save`` into ``state_file``; xl destroys the domain once it is saved.
        (xl always stops the guest while it copies its memory: ``live`` changes nothing.)"""
        self._domains.save(self._domains.running(uuid, "Running"), state_file)

    def resume(self, spec, state_file, paused):
        """``xl restore -p`` from ``state_file`` (its own saved configuration), then
        unpause unless ``paused``."""
        if not os.path.exists(state_file):
            raise BackendError("VM_STATE_FILE_MISSING", state_file)
        # The domain keeps the name saved in the file; Domains.create reads it back.
        dom = Domain.of_spec(spec, "")
        with dom.lock:
            try:
                self._domains.create(dom, ["restore", "-p", state_file])
            except BackendError as e:
                log.warning("restore of %s failed: %s", spec.uuid, e)
                raise BackendError("VM_STATE_FILE_CORRUPT", state_file) from None
            if not paused:
                self._xl.run("unpause", str(dom.domid))
        return dom.private()

    def reattach(self, uuid, private):
        """Find the domain with this VM's uuid again: "Running" or "Paused", or None
        when it is gone. One that shut down meanwhile is Paused until the checker has
        handled it like a guest event."""
        entry = self._xl.list(max_age=0).get(uuid)
        if entry is None:
            return None
        self._domains.add(Domain(uuid, private.get("name") or entry["name"],
                                 private.get("state_dir") or "", entry["domid"],
                                 private.get("disks"), private.get("nics")))
        state = power_state(entry)
        if state is None:
            # Shut down or crashed meanwhile: not running; the checker reports what the
            # guest did once watch_guests() starts it, and actions/* follow.
            self._watch.wake()
            return "Paused"
        return state

    def watch_guests(self):
        """Log the domains this daemon did not create, then start watching its own."""
        ours = self._domains.all()
        for uuid, entry in self._xl.list(max_age=0).items():
            if uuid not in ours and entry["domid"] != 0:
                log.info("domain %d (%s, %s) was not created by xend: left alone",
                         entry["domid"], entry["name"], uuid)
        self._watch.start(self._xs)

    def close(self):
        """Stop watching; the domains keep running."""
        self._watch.close()

    # ------------------------------------------------------------- extra API

    def validate_record(self, record):
        """VALUE_NOT_SUPPORTED for builders and boot methods Xen cannot honour."""
        config.validate_record(record)

    def set_memory_target(self, uuid, target):
        """Write the balloon target (KiB) to the domain's xenstore ``memory/target``."""
        dom = self._domains.running(uuid, "Running")
        self._xs.set_memory_target(dom.domid, int(target) // 1024)

    def dump_core(self, uuid, path):
        """``xl dump-core`` of the domain (a crashed one is kept for this)."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("dump-core", str(dom.domid), path, timeout=SAVE_TIMEOUT)

    def attach_disk(self, uuid, disk):
        """``xl block-attach`` a VBD to the resident domain; returns the new private state."""
        dom = self._domains.running(uuid, "Running")
        line = config.disk_line(disk, self._type_of(dom), bool(self.device_model))
        with dom.lock:
            self._xl.run("block-attach", str(dom.domid), line)
            dom.disks[disk.vbd] = disk.device
        return dom.private()

    def detach_disk(self, uuid, vbd):
        """``xl block-detach`` a VBD; DEVICE_DETACH_TIMEOUT while the guest keeps it."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            vdev = dom.disks.get(vbd)
            if vdev is not None:
                self._unplug(dom, "VBD", vbd, ["block-detach", str(dom.domid), vdev],
                             lambda: vdev in self._xs.backend_values(b"vbd", dom.domid, b"dev"))
                del dom.disks[vbd]
        return dom.private()

    def attach_nic(self, uuid, nic):
        """``xl network-attach`` a VIF to the resident domain; returns the new private state."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("network-attach", str(dom.domid),
                     *config.nic_line(nic, self._type_of(dom)).split(","))
            dom.nics[nic.vif] = nic.mac
        return dom.private()

    def detach_nic(self, uuid, vif):
        """``xl network-detach`` a VIF by its MAC; DEVICE_DETACH_TIMEOUT while the guest
        keeps it."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            mac = dom.nics.get(vif)
            if mac is not None:
                self._unplug(dom, "VIF", vif, ["network-detach", str(dom.domid), mac],
                             lambda: mac.lower() in self._xs.backend_values(b"vif", dom.domid,
                                                                            b"mac"))
                del dom.nics[vif]
        return dom.private()

    def metrics(self, uuid):
        """Counters of a running domain, from xl's listings, blkback and netback.

        ``{"cpu_seconds": [per vCPU], "memory_actual": bytes, "vbd": {vbd: {rd_bytes,
        wr_bytes}}, "vif": {vif: {rx_bytes, tx_bytes}} (the guest's view),
        "tools_version": {...}}``
        """
        dom = self._domains.get(uuid)
        if dom is None or dom.domid is None:
            return {}
        listing = self._xl.list(max_age=LIST_MAX_AGE)
        entry = listing.get(uuid)
        if entry is None:
            return {}
        return {"cpu_seconds": self._xl.vcpu_times().get(entry["domid"], []),
                "memory_actual": entry["mem_mib"] * MIB,
                "vbd": counters.vbd_counters(self._xs, dom.domid, dom.disks),
                "vif": counters.vif_counters(self._xs, dom.domid, dom.nics),
                "tools_version": self._xs.tools_version(dom.domid)}

    def host_cpus(self):
        """Xen's physical CPUs: as many as ``xl info`` counts, at its ``cpu_mhz``; the
        model and flags are what dom0's vCPUs report of the same processor."""
        try:
            count = int(self.info.get("nr_cpus", ""))
        except ValueError:
            return None
        model = (facts.read_cpus() or [facts.CpuInfo(0)])[0]
        mhz = float(self.info.get("cpu_mhz") or model.mhz or 0)
        return [dataclasses.replace(model, number=n, mhz=mhz) for n in range(count)]

    def host_cpu_idle(self):
        """Idle seconds per physical CPU, from Xen's C-state statistics (xenpm); None
        where xenpm reports none."""
        idle = cpu_idle(self.xenpm)
        return [idle.get(n, 0.0) for n in range(max(idle) + 1)] if idle else None

    def host_memory(self):
        """(total, free) bytes of Xen's memory, from a fresh ``xl info``; None when xl
        does not answer (psutil's view of dom0 then stands in)."""
        try:
            info = self._xl.info()
            return int(info["total_memory"]) * MIB, int(info["free_memory"]) * MIB
        except (BackendError, KeyError, ValueError):
            return None

    def software_version(self):
        """What the host runs, for host.software_version."""
        return {"xen": self.xen_version()}

    @property
    def hvm_capable(self):
        """Whether Xen can run HVM containers (PVH and HVM domains) on this processor."""
        return "hvm" in self.info.get("virt_caps", "").split()

    def xen_version(self):
        return "%s.%s%s" % (self.info.get("xen_major", "?"), self.info.get("xen_minor", "?"),
                            self.info.get("xen_extra", ""))

    # ------------------------------------------------------------ internals

    def _type_of(self, dom):
        try:
            with open(dom.config) as f:
                return "hvm" if 'type = "hvm"' in f.read() else "pv"
        except OSError:
            return "pv"

    def _unplug(self, dom, cls, ref, command, still_there):
        """Run an xl detach; if it fails while the device is still there, the guest has
        not let go of it in time (libxl gives up after its own timeout)."""
        try:
            self._xl.run(*command, timeout=self.unplug_timeout + XL_TIMEOUT)
        except BackendError:
            if still_there():
                raise BackendError("DEVICE_DETACH_TIMEOUT", cls, ref,
                                   self.unplug_timeout) from None
