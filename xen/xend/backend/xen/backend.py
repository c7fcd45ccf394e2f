"""XenBackend: the Backend contract on Xen, for a daemon running in dom0.

Domains are built and driven with ``xl`` (xl.py; a generated configuration file
per guest, in its state dir: config.py), made and unmade by domains.py, and
watched for what guests do on their own by watch.py; devices are hot-plugged by
hotplug.py, counters come from counters.py and host facts from host.py. A method
here finds the domain and calls on those. Each guest's console (its pty) is read into
a hub by console.py from its start to its stop.

Only domains whose uuid belongs to a VM this daemon started are ever touched:
every command names a domain by the domid the backend recorded for that VM.
Other domains are logged once, at start, and left alone. Domains outlive the
daemon; ``reattach`` finds them again by uuid.
"""

import logging
import os
import shutil

from xen.xend.util import progress

from .. import base, vcpuparams
from ..base import BackendError
from ..common import create_private_file
from ..consolehub import HISTORY_BYTES
from . import config, counters, host, hotplug, migrate
from .console import Consoles, find_tty
from .domains import Domain, Domains
from .watch import GuestWatch
from .xenstore import Xenstore
from .xenstore import connect as connect_xenstore
from .xl import SAVE_TIMEOUT, Xl, power_state

log = logging.getLogger("xend.backend.xen")


class XenBackend(base.Backend):
    """Runs guests as Xen domains through xl; see the module docstring."""

    name = "xen"

    def __init__(self, on_guest_event=None, xl="xl", pvh_cpuid="", xenstore=None,
                 console_history_bytes=HISTORY_BYTES):
        super().__init__(on_guest_event)
        self._xl = Xl(shutil.which(xl) or xl)
        self.xenpm = shutil.which("xenpm") or os.path.join(os.path.dirname(self._xl.path),
                                                           "xenpm")
        self.pvh_cpuid = pvh_cpuid
        self.device_model = host.device_model()
        self._xs = Xenstore(xenstore if xenstore is not None
                                      else connect_xenstore())
        self._consoles = Consoles(console_history_bytes)
        self._domains = Domains(self._xl, self._find_console, self._consoles.end)
        # VM uuid -> (DomainSpec, migrate.Incoming) of the guests being received here
        self._incoming = {}
        self._watch = GuestWatch(self._xl, self._domains,
                                 lambda uuid, kind: self.on_guest_event(uuid, kind))
        self.info = self._xl.info()
        log.info("xen backend: Xen %s, %s, device model %s", host.xen_version(self.info),
                 self._xl.path, self.device_model or "none (no HVM, no qcow2)")

    # ------------------------------------------------------------------ contract

    def start(self, spec, paused):
        """``xl create`` the guest paused, then unpause it unless ``paused``."""
        config.check_can_start(spec, self.info)
        taken = {e["name"] for e in self._xl.list(max_age=0).values()}
        dom = self._configured(spec, config.domain_name(spec.vm, spec.uuid, taken))
        with dom.lock:
            self._domains.create(dom, ["create", "-p", dom.config])
            progress.report(0.8)
            if not paused:
                self._xl.run("unpause", str(dom.domid))
        return dom.private()

    def _configured(self, spec, name):
        """A Domain for ``spec`` called ``name``, its xl configuration written in its
        state dir (``xl create`` reads it; so does every rebuild)."""
        text = config.build_config(spec, name, qdisk_ok=bool(self.device_model),
                                   device_model_ok=bool(self.device_model),
                                   pvh_cpuid=self.pvh_cpuid,
                                   hvm_capable=host.hvm_capable(self.info))
        dom = Domain.of_spec(spec, name)
        os.makedirs(dom.state_dir, mode=0o700, exist_ok=True)
        create_private_file(dom.config, text)
        return dom

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

    # Live migration with xl migrate (migrate.py).

    def migrate_receive(self, spec, address, storage="shared", tls=None):
        """Start the receiving relay for ``spec``'s guest on ``address`` (its xl
        migrate-receive builds the domain from what the source's xl sends)."""
        migrate.check_storage(spec.uuid, storage)
        config.check_can_start(spec, self.info)
        # Refused now what could not be configured later, once the guest runs here.
        taken = {e["name"] for e in self._xl.list(max_age=0).values()}
        self._configured(spec, config.domain_name(spec.vm, spec.uuid, taken))
        incoming = migrate.receive(self._xl, spec.uuid, spec.state_dir, address, tls)
        self._incoming[spec.uuid] = (spec, incoming)
        return {"uri": incoming.uri}

    def migrate_send(self, uuid, uri, options):
        """``xl migrate`` the domain to ``uri`` (migrate.send): the domain is ours to take
        down meanwhile, so the checker leaves its suspension alone; once it is the
        target's, xl has destroyed it here."""
        migrate.check_storage(uuid, options.get("storage", "shared"))
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            dom.expected = True
            try:
                figures = migrate.send(self._xl, dom, uri, options)
            except BaseException:
                dom.expected = False
                self._watch.wake()
                raise
            self._domains.forget(dom)
        return figures

    def migrate_finish(self, uuid, ok):
        """Own the domain the target's xl made (``ok``), with its configuration written
        for rebuilds, or destroy it (migrate.finish)."""
        spec, incoming = self._incoming.pop(uuid, (None, None))
        if incoming is None:
            if ok:
                raise BackendError("VM_MIGRATE_FAILED", uuid, "no guest is being received here")
            return None
        entry = migrate.finish(self._xl, uuid, incoming, ok)
        if entry is None:
            return None
        dom = self._configured(spec, entry["name"])
        with dom.lock:
            self._domains.adopt(dom, entry)
        return dom.private()

    def reattach(self, uuid, private):
        """Find the domain with this VM's uuid again: "Running" or "Paused", or None
        when it is gone. One that shut down meanwhile is Paused until the checker has
        handled it like a guest event."""
        entry = self._xl.list(max_age=0).get(uuid)
        if entry is None:
            return None
        dom = Domain(uuid, private.get("name") or entry["name"],
                     private.get("state_dir") or "", entry["domid"],
                     private.get("disks"), private.get("nics"), private.get("tty_node"))
        self._domains.add(dom)
        self._find_console(dom)
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
        """Stop watching and end the consoles' streams; the domains keep running."""
        self._watch.close()
        self._consoles.close()

    def validate(self, vm):
        """VALUE_NOT_SUPPORTED for builders and boot methods Xen cannot honour."""
        config.validate(vm)

    def nic_models(self):
        """The models of config.NIC_MODELS, for HVM guests (PV ones take none)."""
        return config.NIC_MODELS

    def consoles(self, uuid):
        """"vt100" while the guest runs with a console (see console.py); no display."""
        return ["vt100"] if self._domains.get(uuid) and self._consoles.has(uuid) else []

    def open_console(self, uuid, protocol, writer=True, live=True):
        """vt100: a new client of the guest's console hub, whose input the writer types
        into the guest's pty (without ``live``: its history, then EOF)."""
        sock = self._consoles.attach(uuid, writer, live) if protocol in self.consoles(uuid) \
            else None
        if sock is None:
            raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                               "VM %s has no %s console now" % (uuid, protocol))
        return sock

    def _find_console(self, dom):
        """Read the pty of ``dom``'s console from now on (see console.py); a domain
        just made is still paused, so its first output is read too."""
        tty = dom.tty_node and find_tty(self._xs, dom.domid, dom.tty_node)
        if tty:
            self._consoles.follow(dom.uuid, tty)
        else:
            self._consoles.end(dom.uuid)

    def set_memory_target(self, uuid, target):
        """Write the balloon target (KiB) to the domain's xenstore ``memory/target``."""
        dom = self._domains.running(uuid, "Running")
        self._xs.set_memory_target(dom.domid, int(target) // 1024)

    def set_vcpus(self, uuid, n):
        """``xl vcpu-set``: the guest's kernel takes the vCPUs online or offline."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("vcpu-set", str(dom.domid), str(n))

    def set_vcpu_params(self, uuid, params):
        """``xl sched-credit -d DOMID -w W -c C`` (``sched-credit2`` where Xen runs credit2,
        as Xen 4.17 does by default; the defaults, 256 and 0, where unset), then ``xl
        vcpu-pin DOMID N CPUS`` for every vCPU ("all" where not pinned)."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run(host.credit_command(self.info), "-d", str(dom.domid),
                         "-w", str(params.weight or vcpuparams.DEFAULT_WEIGHT),
                         "-c", str(params.cap))
            self._xl.run("vcpu-pin", str(dom.domid), "all", "all")
            for vcpu, cpus in params.affinity:
                self._xl.run("vcpu-pin", str(dom.domid), str(vcpu),
                             vcpuparams.format_cpus(cpus))

    def dump_core(self, uuid, path):
        """``xl dump-core`` of the domain (a crashed one is kept for this)."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("dump-core", str(dom.domid), path, timeout=SAVE_TIMEOUT)

    def dmesg(self, clear=False):
        """``xl dmesg`` (``-c``: clear): Xen's console ring, the newest DMESG_BYTES."""
        return base.newest(self._xl.run("dmesg", *(["-c"] if clear else [])))

    def send_sysrq(self, uuid, key):
        """``xl sysrq`` (through xenstore's control/sysrq: the guest's kernel reads it)."""
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            self._xl.run("sysrq", str(dom.domid), key)

    def send_trigger(self, uuid, trigger, vcpu):
        """A reset as hard_reboot's (a new domain, as the records expect after one);
        the others ``xl trigger``: VALUE_NOT_SUPPORTED with xl's reason where Xen
        refuses one."""
        if trigger == "reset":
            return self.hard_reboot(uuid)
        dom = self._domains.running(uuid, "Running")
        with dom.lock:
            try:
                self._xl.run("trigger", str(dom.domid), trigger, str(vcpu))
            except BackendError as err:
                raise BackendError("VALUE_NOT_SUPPORTED", "trigger", trigger,
                                   err.params[0]) from None

    def attach_disk(self, uuid, disk):
        """``xl block-attach`` a VBD to the resident domain; returns the new private state."""
        dom = self._domains.running(uuid, "Running")
        hotplug.attach_disk(self._xl, dom, disk, bool(self.device_model))
        return dom.private()

    def detach_disk(self, uuid, vbd):
        """``xl block-detach`` a VBD; DEVICE_DETACH_TIMEOUT while the guest keeps it."""
        dom = self._domains.running(uuid, "Running")
        hotplug.detach_disk(self._xl, self._xs, dom, vbd, self.unplug_timeout)
        return dom.private()

    def device_properties(self, uuid, kind, ref):
        """The device's xenstore backend path, handle, state and rings
        (hotplug.device_properties)."""
        dom = self._domains.running(uuid, "Running")
        return hotplug.device_properties(self._xs, dom, kind, ref)

    def attach_nic(self, uuid, nic):
        """``xl network-attach`` a VIF to the resident domain; returns the new private state."""
        dom = self._domains.running(uuid, "Running")
        hotplug.attach_nic(self._xl, dom, nic)
        return dom.private()

    def detach_nic(self, uuid, vif):
        """``xl network-detach`` a VIF by its MAC; DEVICE_DETACH_TIMEOUT while the guest
        keeps it."""
        dom = self._domains.running(uuid, "Running")
        hotplug.detach_nic(self._xl, self._xs, dom, vif, self.unplug_timeout)
        return dom.private()

    def metrics(self, uuid):
        """Counters of a running domain (see counters.metrics); {} without one."""
        dom = self._domains.get(uuid)
        if dom is None or dom.domid is None:
            return {}
        return counters.metrics(self._xl, self._xs, dom)

    def control_domain_vcpus(self):
        """dom0's vCPUs from ``xl vcpu-list``: the physical CPU each is on, its flags."""
        return counters.vcpu_placement(self._xl.vcpu_list().get(0, []))

    def host_cpus(self):
        """Xen's physical CPUs (see host.cpus)."""
        return host.cpus(self.info)

    def host_cpu_idle(self):
        """Idle seconds per physical CPU, from xenpm; None where it reports none."""
        return host.cpu_idle_seconds(self.xenpm)

    def host_memory(self):
        """(total, free) bytes of Xen's memory; None when xl does not answer (psutil's
        view of dom0 then stands in)."""
        return host.memory(self._xl)

    def software_version(self):
        """What the host runs, for host.software_version."""
        return {"xen": host.xen_version(self.info)}

    # 1.0: host facts

    def capabilities(self):
        """``xl info``'s xen_caps."""
        return self.info.get("xen_caps", "").split()

    def sched_policy(self):
        """``xl info``'s xen_scheduler (credit, credit2, ...)."""
        return self.info.get("xen_scheduler", "")

    def cpu_configuration(self):
        """Xen's physical CPUs, as ``xl info`` counts them (see host.cpu_configuration)."""
        return host.cpu_configuration(self.info)

    def send_debug_keys(self, keys):
        """``xl debug-keys``: Xen writes what each key asks for to its console ring."""
        self._xl.run("debug-keys", keys)
