"""The simulated backend: the backend contract with no hypervisor behind it.

Like libvirt's test:///default, it is for fast tests and for hosts with no
hypervisor; it is never chosen automatically where QEMU is installed, and the
daemon logs that it is in use. Its "guests" are entries in a JSON file in the
state directory, so that they outlive a daemon restart as real guests do.
Suspend writes a small state file, so resume can tell a missing one.
Hot-plug is bookkeeping: each guest's set of device ids, kept in memory (after
a daemon restart a detach finds nothing to do, which the contract allows). It
refuses what QEMU refuses: at start, boot files QEMU could not be given
(common.check_host_files), and an emulated (ioemu) disk, so the daemon's handling
of a refused hot-plug can be tested without a hypervisor.

A running guest's vCPUs each use SIM_LOAD of a CPU (metrics' cpu_seconds, counted
in memory from its start), so that VM.VCPUs_CPU_time grows as a real guest's does
while the guest stays idle (xm's "b"): its vCPUs are online and blocked (none while
it is paused), vCPU N on host CPU N modulo the host's CPUs.

``op_seconds`` makes every operation take that long, in ten steps that report
progress and offer a safe point for cancellation: long operations to test
tasks against, without a hypervisor.

Each guest has a vt100 console (``open_console``), served by a ConsoleHub as a real
guest's is: the "guest" prints a short banner when it starts and answers each line
typed with ``echo: LINE``, enough to test the console proxy and ``xm console``
without a hypervisor. The line ``crash`` crashes the guest, as a real one told
to panic (sysrq c) does: it stops, and the backend reports GUEST_CRASH. The hubs
run on one loop thread of the backend's, made when first needed.
"""

import collections
import json
import os
import platform
import re
import threading
import time

from ..util import progress
from ..util.files import open_own
from .base import (
    GUEST_CRASH,
    GUEST_SHUTDOWN,
    Backend,
    BackendError,
    hvm_capabilities,
    newest,
)
from .common import LoopThread, boot_files, check_host_files, create_private_file
from .consolehub import HISTORY_BYTES, ConsoleHub

BANNER = b"xend simulated guest %s\r\n"
SYSRQ_ANSWER = b"sysrq: %s\r\n"    # what the guest's console shows for a SysRq key
LOG_LINES = 2000        # the simulated hypervisor's log (dmesg) keeps this many lines
LINE_MAX = 4096         # a line typed is echoed up to this many bytes
SIM_LOAD = 0.01         # the share of a CPU each vCPU of a running guest uses
CRASH_LINE = b"crash"   # typed on its console, it crashes the guest


class EchoGuest:
    """The simulated guest behind a console: it echoes every line typed into it.
    Used on the backend's loop thread only."""

    def __init__(self, loop, uuid, history_bytes, crash):
        self.hub = ConsoleHub(loop, uuid, self.type, history_bytes)
        self.line = b""
        self.crash = crash      # called when CRASH_LINE is typed

    def type(self, data):
        """Input from the console's writer: each complete line (ended by CR or LF) is
        answered; what a client types without end is cut at LINE_MAX."""
        *lines, rest = re.split(rb"[\r\n]", self.line + data)
        self.line = rest[:LINE_MAX]
        for line in lines:
            if line == CRASH_LINE:
                self.crash()
            elif line:
                self.hub.write(b"echo: " + line[:LINE_MAX] + b"\r\n")


class SimBackend(Backend):
    name = "sim"
    holds_disks = False   # simulated guests never open their images
    uses_bridges = False  # nor do they need a bridge for a NIC

    def __init__(self, state_dir, on_guest_event=None, op_seconds=0.0,
                 console_history_bytes=HISTORY_BYTES, host_memory_bytes=0):
        super().__init__(on_guest_event)
        self.op_seconds = op_seconds
        # The simulated host's memory (0: the machine's, as psutil sees it), so that
        # hosts of one machine can differ for placement.
        self.host_memory_bytes = host_memory_bytes
        self.console_history_bytes = console_history_bytes
        self._loop = None     # LoopThread of the consoles, made when the first is
        self._consoles = {}   # uuid -> EchoGuest, of guests that run
        self._path = os.path.join(state_dir, "sim-domains.json")
        self._lock = threading.Lock()
        try:
            with open(self._path) as f:
                self._domains = json.load(f)
        except (FileNotFoundError, ValueError):
            self._domains = {}
        # The guests' devices, kept on disk like the domains: a daemon that restarts
        # finds its guests with the devices they had, as on a real hypervisor.
        self._devices_path = os.path.join(state_dir, "sim-devices.json")
        try:
            with open(self._devices_path) as f:
                saved = json.load(f)
        except (FileNotFoundError, ValueError):
            saved = {"devices": {}, "images": {}, "memory": {}}
        # uuid -> set of "vbd-UUID" / "vif-UUID"
        self._devices = {u: set(d) for u, d in saved["devices"].items()}
        self._images = saved["images"]   # VBD uuid -> the image its guest was given
        self._memory = saved.get("memory", {})   # uuid -> the bytes its guest was given
        self._log = collections.deque(maxlen=LOG_LINES)   # dmesg: what guests were sent
        self._cpu = {}        # uuid -> [vCPUs, seconds run before, monotonic run since]
        # uuid -> (DomainSpec, the file its guest arrives in) of migrations received
        self._incoming = {}

    def _save(self):
        """Write the domains and their devices (under the lock)."""
        _write_json(self._path, self._domains)
        _write_json(self._devices_path, {
            "devices": {u: sorted(d) for u, d in self._devices.items()},
            "images": self._images, "memory": self._memory})

    def _set(self, uuid, state, work=True):
        if work:
            self._work()
        with self._lock:
            if state is None:
                self._domains.pop(uuid, None)
                for dev in self._devices.pop(uuid, ()):
                    self._images.pop(dev[len("vbd-"):], None)
                self._cpu.pop(uuid, None)
                self._memory.pop(uuid, None)
                self._end_console(uuid)
            else:
                self._domains[uuid] = state
                self._count_cpu(uuid, state == "Running")
            self._save()

    def _count_cpu(self, uuid, running, vcpus=None):
        """Count the guest's vCPU time while it runs, not while paused; called with the
        lock held."""
        count = self._cpu.setdefault(uuid, [1, 0.0, None])
        if vcpus is not None:
            count[:] = [vcpus, 0.0, None]        # a new guest
        now = time.monotonic()
        if count[2] is not None:
            count[1] += now - count[2]
        count[2] = now if running else None

    def host_memory(self):
        """(total, free) of the simulated host's memory where it has a size: free is
        what its guests were not given."""
        if not self.host_memory_bytes:
            return None
        with self._lock:
            given = sum(self._memory.values())
        return self.host_memory_bytes, max(0, self.host_memory_bytes - given)

    def metrics(self, uuid):
        """cpu_seconds per vCPU: SIM_LOAD of the time the guest ran; each vCPU idle
        (blocked) while the guest runs, on host CPU (its number modulo the host's)."""
        with self._lock:
            count = self._cpu.get(uuid)
            if count is None:
                return {}
            vcpus, before, since = count
            ran = before + (time.monotonic() - since if since is not None else 0.0)
        flags = ["online", "blocked"] if since is not None else ["online"]
        return {"cpu_seconds": [ran * SIM_LOAD] * vcpus,
                "vcpu_cpu": {i: i % (os.cpu_count() or 1) for i in range(vcpus)},
                "vcpu_flags": {i: flags for i in range(vcpus)}}

    def _work(self):
        # Simulated work may stop between its steps; the state change after it may not.
        with progress.cancellable():
            for step in range(10 if self.op_seconds else 0):
                progress.checkpoint()
                time.sleep(self.op_seconds / 10)
                progress.report(0.9 * (step + 1) / 10)

    def _require(self, uuid):
        if uuid not in self._domains:
            raise BackendError("INTERNAL_ERROR", "sim: no domain %s" % uuid)

    def start(self, spec, paused):
        # The boot files QEMU would be given, checked as QEMU's start checks them.
        check_host_files(spec, boot_files(spec.vm))
        with self._lock:
            self._count_cpu(spec.uuid, False, spec.vm.VCPUs_at_startup or spec.vm.VCPUs_max)
        self._set(spec.uuid, "Paused" if paused else "Running")
        with self._lock:
            self._devices[spec.uuid] = {"vbd-" + d.vbd for d in spec.disks} | {
                "vif-" + n.vif for n in spec.nics}
            self._images.update((d.vbd, d.path) for d in spec.disks)
            self._memory[spec.uuid] = spec.vm.memory_static_max
            self._save()
            hub = self._console(spec.uuid).hub
            self._loop.loop.call_soon_threadsafe(hub.write, BANNER % spec.uuid.encode())
        return {"sim": True}

    def pause(self, uuid):
        self._require(uuid)
        self._set(uuid, "Paused")

    def unpause(self, uuid):
        self._require(uuid)
        self._set(uuid, "Running")

    def clean_shutdown(self, uuid, timeout):
        self.hard_shutdown(uuid)

    def hard_shutdown(self, uuid):
        self._set(uuid, None)

    def clean_reboot(self, uuid, timeout):
        self._require(uuid)
        self._work()

    def hard_reboot(self, uuid):
        self._require(uuid)
        self._set(uuid, "Running")

    def suspend(self, uuid, live, state_file):
        self._require(uuid)
        create_private_file(state_file, json.dumps({"sim-domain": uuid}))
        self._set(uuid, None)

    def resume(self, spec, state_file, paused):
        try:
            with open(state_file) as f:
                saved = json.load(f)
        except FileNotFoundError:
            raise BackendError("VM_STATE_FILE_MISSING", state_file) from None
        except ValueError:
            raise BackendError("VM_STATE_FILE_CORRUPT", state_file) from None
        if saved.get("sim-domain") != spec.uuid:
            raise BackendError("VM_STATE_FILE_CORRUPT", state_file)
        return self.start(spec, paused)

    # Live migration: the guest travels as a small file in the target's directory,
    # whose path is the URI (so two sim backends of one machine migrate between them);
    # a file of the host's own needs no TLS, so options["tls"] and ``tls`` change nothing.

    def migrate_receive(self, spec, address, storage="shared", tls=None):
        check_host_files(spec, boot_files(spec.vm))
        path = os.path.join(os.path.dirname(self._path), "incoming-%s" % spec.uuid)
        create_private_file(path, "")
        with self._lock:
            self._incoming[spec.uuid] = (spec, path)
        return {"sim": True, "uri": "sim:" + path}

    def migrate_send(self, uuid, uri, options):
        """The guest's state into the target's file after op_seconds of (cancellable)
        work; the guest ends here."""
        state = self._domains.get(uuid)
        if state != "Running":
            raise BackendError("VM_BAD_POWER_STATE", uuid, "Running", state or "Halted")
        path = uri[len("sim:"):] if uri.startswith("sim:") else ""
        if not os.path.isfile(path):
            raise BackendError("VM_MIGRATE_FAILED", uuid, "nothing receives at %s" % uri)
        began = time.monotonic()
        self._work()            # a cancel here leaves the guest running
        _write_json(path, {"sim-domain": uuid})
        self._set(uuid, None, work=False)
        return {"total_time_ms": int((time.monotonic() - began) * 1000), "downtime_ms": 0,
                "transferred_bytes": os.path.getsize(path)}

    def migrate_finish(self, uuid, ok):
        with self._lock:
            spec, path = self._incoming.pop(uuid, (None, None))
        if spec is None:
            if ok:
                raise BackendError("VM_MIGRATE_FAILED", uuid, "no guest is being received here")
            return None
        try:
            with open(path) as f:
                arrived = f.read()
        finally:
            os.unlink(path)
        if not ok:
            return None
        if not arrived or json.loads(arrived).get("sim-domain") != uuid:
            raise BackendError("VM_MIGRATE_FAILED", uuid, "the guest's state did not arrive")
        return self.start(spec, paused=False)

    def attach_disk(self, uuid, disk):
        """Record the disk as plugged; refuse an emulated one, as QEMU does."""
        if disk.driver == "ioemu":
            raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", "ioemu",
                               "the simulated guest, like QEMU, cannot hot-plug an IDE disk")
        self._plug(uuid, "vbd-" + disk.vbd, disk.path)

    def detach_disk(self, uuid, vbd):
        """Record the disk as unplugged."""
        self._unplug(uuid, "vbd-" + vbd)

    def attach_nic(self, uuid, nic):
        """Record the NIC as plugged."""
        self._plug(uuid, "vif-" + nic.vif)

    def detach_nic(self, uuid, vif):
        """Record the NIC as unplugged."""
        self._unplug(uuid, "vif-" + vif)

    def change_medium(self, uuid, disk):
        """Record the CD-ROM drive's new image."""
        self._require(uuid)
        with self._lock:
            if "vbd-" + disk.vbd not in self._devices.get(uuid, ()):
                raise BackendError("VALUE_NOT_SUPPORTED", "VBD", disk.vbd,
                                   "the guest has no CD-ROM drive of this VBD")
            self._images[disk.vbd] = disk.path
            self._save()

    def device_properties(self, uuid, kind, ref):
        """The simulated device's name and, for a disk, its image."""
        dev = "%s-%s" % (kind, ref)
        with self._lock:
            if dev not in self._devices.get(uuid, ()):
                return {}
            facts = {"backend-id": "0", "state": "4", "backend": "sim", "device": dev}
            if kind == "vbd":
                facts["image"] = self._images.get(ref, "")
            return facts

    def _plug(self, uuid, dev, image=None):
        self._require(uuid)
        self._work()
        with self._lock:
            held = self._devices.setdefault(uuid, set())
            if dev in held:
                raise BackendError("INTERNAL_ERROR", "sim: %s is attached already" % dev)
            held.add(dev)
            if image is not None:
                self._images[dev[len("vbd-"):]] = image
            self._save()

    def _unplug(self, uuid, dev):
        self._require(uuid)
        self._work()
        with self._lock:
            self._devices.get(uuid, set()).discard(dev)
            self._images.pop(dev[len("vbd-"):], None)
            self._save()

    def _crash(self, uuid):
        """The guest crashed: it stops where it is (kept, to be dumped or destroyed, as
        a real crashed guest is) and the daemon hears of it. Off the consoles' loop, which
        the daemon's answer to the event may need."""
        if uuid in self._domains:
            self._set(uuid, "Paused")
            self.on_guest_event(uuid, GUEST_CRASH)

    def set_vcpus(self, uuid, n):
        """Nothing to plug: the guest has ``n`` vCPUs from now on (metrics)."""
        self._require(uuid)
        self._work()
        with self._lock:
            self._cpu[uuid][0] = n

    def set_vcpu_params(self, uuid, params):
        """Nothing to schedule: the daemon records the string."""
        self._require(uuid)

    def dump_core(self, uuid, path):
        self._require(uuid)
        create_private_file(path, "simulated core of %s\n" % uuid)

    def nic_models(self):
        """A few of QEMU's models, so that fast tests see VIF/model checked."""
        return ("e1000", "rtl8139", "virtio-net-pci")

    def reattach(self, uuid, private):
        state = self._domains.get(uuid)
        if state is not None:
            with self._lock:     # counted from now: the time before is not kept
                self._count_cpu(uuid, state == "Running")
        return state

    def dmesg(self, clear=False):
        """The simulated hypervisor's log: a line per SysRq key and trigger sent."""
        with self._lock:
            text = "".join(self._log)
            if clear:
                self._log.clear()
        return newest(text)

    def send_sysrq(self, uuid, key):
        """Logged, and answered on the guest's console as a kernel would."""
        self._require(uuid)
        with self._lock:
            self._log.append("sim: %s: sysrq %s\n" % (uuid, key))
            hub = self._console(uuid).hub
            self._loop.loop.call_soon_threadsafe(hub.write, SYSRQ_ANSWER % key.encode())

    # 1.0: host facts

    def capabilities(self):
        """HVM guests of the machine's architecture, as QEMU on it would run."""
        return hvm_capabilities(platform.machine())

    def sched_policy(self):
        """credit: VCPUs/params' weight and cap, as QEMU carries them."""
        return "credit"

    def send_debug_keys(self, keys):
        """Logged, as a hypervisor writes what a debug key asks for to its log."""
        with self._lock:
            self._log.append("sim: debug-keys %s\n" % keys)

    def send_trigger(self, uuid, trigger, vcpu):
        """Logged; a reset is hard_reboot's, and the power button powers the simulated
        guest off as a guest that heeds it would (its shutdown a guest event)."""
        self._require(uuid)
        with self._lock:
            self._log.append("sim: %s: trigger %s vcpu %d\n" % (uuid, trigger, vcpu))
        if trigger == "reset":
            self.hard_reboot(uuid)
        elif trigger == "power":
            self._set(uuid, None)
            # From a thread of its own, as a guest's events come: the caller holds the VM.
            threading.Thread(target=self.on_guest_event, args=(uuid, GUEST_SHUTDOWN),
                             daemon=True).start()

    def consoles(self, uuid):
        """A simulated guest has a serial console and no display."""
        return ["vt100"] if uuid in self._domains else []

    def open_console(self, uuid, protocol, writer=True, live=True):
        """The guest's vt100 console (see the module's doc); it has no other."""
        if protocol != "vt100":
            raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                               "a simulated guest has no %s console" % protocol)
        with self._lock:
            if uuid not in self._domains:
                raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                                   "VM %s is not running" % uuid)
            hub = self._console(uuid).hub
        return hub.attach(writer, live)

    def close(self):
        """End every console's clients' streams and the consoles' loop thread."""
        with self._lock:
            for uuid in list(self._consoles):
                self._end_console(uuid)
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop()

    def _console(self, uuid):
        """The console of running guest ``uuid``, made if it has none yet (a guest found
        again after a daemon restart gets a new one); called with the lock held."""
        if uuid not in self._consoles:
            if self._loop is None:
                self._loop = LoopThread("xend-sim-consoles")
            self._consoles[uuid] = EchoGuest(
                self._loop.loop, uuid, self.console_history_bytes,
                lambda: threading.Thread(target=self._crash, args=(uuid,), daemon=True,
                                         name="xend-sim-crash").start())
        return self._consoles[uuid]

    def _end_console(self, uuid):
        """The guest has stopped: its console's clients get EOF; called with the lock held."""
        guest = self._consoles.pop(uuid, None)
        if guest is not None:
            self._loop.loop.call_soon_threadsafe(guest.hub.close)


def _write_json(path, data):
    """Replace ``path`` by ``data`` as JSON, whole or not at all."""
    tmp = path + ".tmp"
    with os.fdopen(open_own(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

