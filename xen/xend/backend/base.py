"""The contract every hypervisor backend fulfils.

Every call that builds, changes, checks or stops a guest comes from the daemon's
domain owner (xen.xend.state.domains). It has already checked the lifecycle table
before it calls a backend, so a backend never decides whether an operation is
allowed, only how to carry it out on its hypervisor. The daemon's other callers
only read facts: the sampler (metrics, host CPUs and memory) and the app
(software version, host CPUs, close).

A backend knows nothing about XML-RPC, sessions or the object store. It receives
a ``DomainSpec`` (backend/spec.py): the VM fields it acts on, as typed values,
plus the devices the domain owner resolved for it, and reports back only power
states and guest events.

Devices of a resident guest change through four calls (hot-plug): attach_disk,
detach_disk, attach_nic and detach_nic. The daemon calls them only while it
holds the VM for the change, attach on a Running or Paused guest, detach on a
Running one (a paused guest cannot let go of a device), and it commits the
VBD or VIF record only after attach returns, or deletes it after detach
returns. So each call is all or nothing: on failure it raises BackendError
and leaves the guest and the host as they were. What the guest holds always
matches the records, and the next start or resume builds the guest from the
records, hot-plugged devices included.
"""

import abc
import socket
from typing import Callable, Optional

from . import vcpuparams
from .spec import DiskSpec, DomainSpec, NicSpec, VMConfig
from .vcpuparams import VcpuParams


class BackendError(Exception):
    """An operation failed on the hypervisor; ``code``/``params`` become an API Failure."""

    def __init__(self, code, *params):
        super().__init__(code, *params)
        self.code = code
        self.params = [_param(p) for p in params]


def _param(value):
    """A Failure parameter: a whole number of seconds reads 5, not 5.0, whether the
    configuration said 5 or 5.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Guest-initiated events a backend reports through its event callback.
GUEST_SHUTDOWN = "shutdown"
GUEST_REBOOT = "reboot"
GUEST_CRASH = "crash"
GUEST_SUSPEND = "suspend"
GUEST_DIED = "died"          # the hypervisor process vanished unexpectedly

# The most of the hypervisor's log Backend.dmesg returns.
DMESG_BYTES = 64 * 1024


def newest(text, limit=DMESG_BYTES):
    """The last ``limit`` bytes' worth of ``text``, cut at a line's start."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return cut[cut.find("\n") + 1:] if "\n" in cut else cut


class Backend(abc.ABC):
    """One hypervisor. Methods block until the operation is complete on it."""

    name = "abstract"
    # True where running guests hold their disk images open, so a snapshot of an
    # attached disk must go through snapshot_disk().
    holds_disks = True
    # True where guests' NICs are ports of Linux bridges on this host (see NicSpec.bridge).
    uses_bridges = True
    # Seconds a guest has to release a device in detach_disk/detach_nic; the daemon
    # sets it from its configuration (shutdown_timeout).
    unplug_timeout = 30.0

    def __init__(self, on_guest_event: Optional[Callable[[str, str], None]] = None):
        # on_guest_event(vm_uuid, GUEST_*) is called from the backend's own threads.
        self.on_guest_event = on_guest_event or (lambda uuid, kind: None)

    @abc.abstractmethod
    def start(self, spec: DomainSpec, paused: bool) -> dict:
        """Build and start the guest; returns private state to persist (pid, sockets...).
        Where the hypervisor numbers its guests, a ``"domid"`` entry (as in metrics())."""

    @abc.abstractmethod
    def pause(self, uuid: str) -> None:
        """Stop the guest's vCPUs."""

    @abc.abstractmethod
    def unpause(self, uuid: str) -> None:
        """Let the guest's vCPUs run again."""

    @abc.abstractmethod
    def clean_shutdown(self, uuid: str, timeout: float) -> None:
        """Ask the guest to power off and wait; BackendError on timeout (guest left running)."""

    @abc.abstractmethod
    def hard_shutdown(self, uuid: str) -> None:
        """Destroy the guest at once."""

    @abc.abstractmethod
    def clean_reboot(self, uuid: str, timeout: float) -> None:
        """Ask the guest to reboot and wait until it has; BackendError on timeout."""

    @abc.abstractmethod
    def hard_reboot(self, uuid: str) -> None:
        """Reset the guest without asking it."""

    @abc.abstractmethod
    def suspend(self, uuid: str, live: bool, state_file: str) -> None:
        """Save the guest's state to ``state_file`` and destroy it. On failure the guest
        stays as it was and no file is left; VM_FAILED_SUSPEND_ACK [uuid] where the
        hypervisor asks the guest to suspend and it does not answer (Xen's PV guests)."""

    @abc.abstractmethod
    def resume(self, spec: DomainSpec, state_file: str, paused: bool) -> dict:
        """Rebuild the guest from ``state_file``; returns private state like start()."""

    @abc.abstractmethod
    def reattach(self, uuid: str, private: dict) -> Optional[str]:
        """After a daemon restart: find the guest again; return its power state, None if gone.
        Asked again, now and then, about a guest it called Unknown: the answer may change."""

    # Live migration: the target host's backend receives, the source's sends, the
    # target's finishes. The caller (the pool) runs the three in that order and calls
    # migrate_finish(uuid, False) on the target whenever migrate_send raised.

    def migrate_receive(self, spec: DomainSpec, address: str, storage: str = "shared",
                        tls: dict | None = None) -> dict:
        """Prepare to receive the guest of ``spec``: build it without running it and
        listen on ``address`` (an IP of this host) for its state. Returns ``{"uri":
        where the source sends to, ...}`` plus the private state start() would return.
        With ``storage`` "copy" (see migrate_send) also ``"nbd"``: where the source
        copies the disks to, for migrate_send's options. ``tls``: see migrate_send;
        given to both ends or to neither."""
        raise BackendError("VM_MIGRATE_FAILED", spec.uuid,
                           "the %s backend cannot receive a guest" % self.name)

    def migrate_send(self, uuid: str, uri: str, options: dict) -> dict:
        """Send the Running guest ``uuid`` live to ``uri`` (migrate_receive's), reporting
        progress (util/progress) and stopping at a cancel; on success the guest here is
        ended. Returns ``{"total_time_ms", "downtime_ms", "transferred_bytes"}``.

        ``options``: ``"storage"``: "shared" (the default: the target opens the same
        images) or "copy" (the writable disks are copied into the target's images,
        which migrate_receive's spec names and the caller created empty, of the same
        virtual size; ``"nbd"``: migrate_receive's); ``"downtime_ms"``: the longest
        pause the guest may see at the switch; ``"max_bandwidth"``: the most bytes per
        second the guest's memory is sent at (None or absent: no cap); ``"tls"``:
        {"cert", "key", "ca"}, paths of this host's PEM certificate and key and of the
        CA that signed both hosts': the guest's state and disks travel over TLS, each
        end checking the other's certificate (None or absent: plain TCP).
        On failure VM_MIGRATE_FAILED [uuid, reason], on a cancel util.progress.Cancelled:
        either way the guest keeps running here."""
        raise BackendError("VM_MIGRATE_FAILED", uuid,
                           "the %s backend cannot send a guest" % self.name)

    def migrate_finish(self, uuid: str, ok: bool) -> dict | None:
        """After migrate_send: with ``ok``, run the received guest and own it as a started
        one (returns its private state, as start()); without, end what migrate_receive
        built. VM_MIGRATE_FAILED if the guest's state did not arrive whole (the half-made
        guest is ended)."""
        raise BackendError("VM_MIGRATE_FAILED", uuid,
                           "the %s backend cannot receive a guest" % self.name)

    def snapshot_disk(self, uuid: str, vbd: str, new_leaf: str) -> None:
        """Switch the running guest's disk ``vbd`` to a new overlay ``new_leaf`` (created
        by the hypervisor on top of the current image, which is frozen from then on)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VDI", vbd,
                           "the %s backend cannot snapshot a disk in use" % self.name)

    def attach_disk(self, uuid: str, disk: DiskSpec) -> Optional[dict]:
        """Hot-plug ``disk`` into the resident guest ``uuid`` (Running or Paused).

        All or nothing: on failure nothing of the disk is left in the guest or
        on the host. VALUE_NOT_SUPPORTED [field, value, reason] where this
        hypervisor cannot hot-plug such a disk (e.g. "VBD/driver", "ioemu").
        Returns None, or the guest's private state if it changed (the daemon
        stores it with the VBD record, as it stores start()'s).
        """
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD", disk.vbd,
                           "the %s backend cannot hot-plug disks" % self.name)

    def detach_disk(self, uuid: str, vbd: str) -> Optional[dict]:
        """Unplug VBD ``vbd`` from the Running guest ``uuid``: ask the guest to
        release it, wait for that (at most ``unplug_timeout`` seconds), then free
        the host's side of it (the open image).

        DEVICE_DETACH_TIMEOUT [VBD, vbd, timeout] if the guest has not released
        it in time: the guest keeps the disk (and the request; should it release
        the disk later, the backend frees the host's side then). Detaching a disk
        the guest no longer has is not an error, so a retry after a timeout
        succeeds once the guest let go. VALUE_NOT_SUPPORTED where the disk cannot
        be unplugged at all. Returns like attach_disk.
        """
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD", vbd,
                           "the %s backend cannot hot-unplug disks" % self.name)

    def attach_nic(self, uuid: str, nic: NicSpec) -> Optional[dict]:
        """Hot-plug ``nic`` into the resident guest ``uuid``, as attach_disk does
        a disk; ``nic.bridge`` exists (Backend.uses_bridges)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VIF", nic.vif,
                           "the %s backend cannot hot-plug network interfaces" % self.name)

    def detach_nic(self, uuid: str, vif: str) -> Optional[dict]:
        """Unplug VIF ``vif`` from the Running guest ``uuid``, as detach_disk does
        a disk (DEVICE_DETACH_TIMEOUT [VIF, vif, timeout]); its host side (a tap)
        is removed once the guest released it."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VIF", vif,
                           "the %s backend cannot hot-unplug network interfaces" % self.name)

    # The QoS algorithms (VBD and VIF qos/algorithm_type) this backend applies to devices.
    qos_algorithms: tuple = ()

    def change_medium(self, uuid: str, disk: DiskSpec) -> None:
        """Put the image of ``disk`` into the CD-ROM drive ``disk.vbd`` (``disk.cdrom``)
        of the resident guest ``uuid``, in place of the one it holds: the guest sees a
        medium change. All or nothing: on failure the drive holds the old medium."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD", disk.vbd,
                           "the %s backend cannot change a CD-ROM drive's medium in a "
                           "resident guest" % self.name)

    def device_properties(self, uuid: str, kind: str, ref: str) -> dict:
        """The live facts ({str: str}) of the resident guest ``uuid``'s device ``ref``
        ("vbd" or "vif" ``kind``), as VBD/VIF runtime_properties show them: what is
        attached and how (docs/vm-mapping.md lists each backend's keys). Quick: read on
        every record read of the device. Empty where the guest lacks the device."""
        return {}

    def validate(self, vm: VMConfig) -> None:
        """Raise BackendError for VM field values this hypervisor cannot honour, so that
        they are refused when set, not when the VM starts."""

    def set_memory_target(self, uuid: str, target: int) -> None:
        """Move the guest's balloon to ``target`` bytes; backends without one ignore it."""

    def dump_core(self, uuid: str, path: str) -> None:
        """Write the guest's memory to ``path`` (actions/after_crash coredump_*)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "actions/after_crash", "coredump",
                           "the %s backend cannot dump guest memory" % self.name)

    def consoles(self, uuid: str) -> list:
        """The consoles running guest ``uuid`` has now, as protocol names: "vt100" (its
        first serial port, which every running guest has) and "rfb" (its display, where
        it has one: VMConfig.platform_display). [] for a guest not running here."""
        return []

    def open_console(self, uuid: str, protocol: str, writer: bool = True,
                     live: bool = True) -> socket.socket:
        """A connected stream socket to console ``protocol`` of running guest ``uuid``,
        for the daemon's console proxy to pump to a client; the caller closes it.

        vt100: first the console's recent history (what the guest printed lately, kept
        by the backend, also while no client watched), then its live output. Bytes
        written to the socket are typed into the guest while this client is the
        console's writer: with ``writer`` it becomes the writer, and the previous one
        is told in its stream and only reads from then on; without, it only reads.
        Several clients may read one console; one that does not keep up is
        disconnected, never allowed to hold up the guest or another client. Without
        ``live``, the history only, then EOF, and nothing typed (a dump).
        rfb: a fresh RFB connection to the guest's display (RFB itself handles
        several viewers). The socket reaches EOF when the guest stops.

        VALUE_NOT_SUPPORTED ["console", protocol, reason] when the guest has no such
        console now, or it has no history to dump (rfb without ``live``)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                           "the %s backend has no %s console" % (self.name, protocol))

    def watch_guests(self) -> None:
        """Called once the daemon has reattached its guests: begin watching for what
        guests do on their own (backends that watch from the start ignore it)."""

    def host_cpus(self) -> list | None:
        """The host's physical CPUs (``hostinfo.CpuInfo``) where the daemon's own
        /proc/cpuinfo does not list them (a Xen dom0 sees its own vCPUs); None: it does."""
        return None

    def host_cpu_idle(self) -> list | None:
        """Cumulative idle seconds per physical CPU where ``host_cpus`` is not None, for
        host_cpu/utilisation; None: psutil's view of the daemon's machine is right."""
        return None

    def host_memory(self) -> tuple | None:
        """(total, free) bytes of the hypervisor's memory where the daemon's machine is
        not the whole host (a Xen dom0); None: psutil's view is right."""
        return None

    def control_domain_vcpus(self) -> dict | None:
        """``{"vcpu_cpu": ..., "vcpu_flags": ...}`` (as in metrics()) of the control
        domain's vCPUs where the hypervisor schedules them on physical CPUs (Xen's dom0);
        None: the daemon's machine's own CPUs are the control domain's vCPUs."""
        return None

    def software_version(self) -> dict:
        """Extra host.software_version entries naming the hypervisor's version."""
        return {}

    def metrics(self, uuid: str) -> dict:
        """Counters for the sampler (cpu_seconds per vCPU, memory, disk/net bytes); optional.

        ``"domid"``: the hypervisor's own ID of the guest, where it has one (Xen): it is
        the VM's domid (VM.domid); without it the daemon numbers its guests itself.

        ``"vif": {vif: {"rx_bytes", "tx_bytes"}}`` counts from the guest's side (rx is
        what the guest received), cumulative across suspend/resume.

        ``"vcpu_cpu": {vCPU number: the physical CPU it runs or last ran on (-1: an
        offline vCPU)}`` and ``"vcpu_flags": {vCPU number: ["online", "running" (on a
        CPU now) or "blocked" (waiting for work)]}`` (a paused guest's vCPUs are
        neither), for VM_metrics' VCPUs/CPU and VCPUs/flags.

        ``"tools_version"`` and ``"guest": {"os_version", "memory", "disks", "networks",
        "other": {str: str}}``: what a guest agent reports, where the hypervisor carries
        its reports (VM.tools_version, VM_guest_metrics); absent without one."""
        return {}

    def close(self) -> None:
        """Release the backend's own resources; guests keep running."""

    # Debugging a guest

    def dmesg(self, clear: bool = False) -> str:
        """The hypervisor's log on the host, newest last, at most DMESG_BYTES (the
        oldest lines are cut); docs/api.md says what each backend gives. With ``clear``,
        what it returns (and what was cut) is not returned again."""
        return ""

    def send_sysrq(self, uuid: str, key: str) -> None:
        """Send the magic SysRq ``key`` (one of 0-9, a-z: checked by the caller) to the
        running guest's kernel."""
        raise BackendError("VALUE_NOT_SUPPORTED", "key", key,
                           "the %s backend cannot send SysRq keys" % self.name)

    def send_trigger(self, uuid: str, trigger: str, vcpu: int) -> None:
        """Send ``trigger`` (nmi, reset, power, init: checked by the caller) to vCPU
        ``vcpu`` of the running guest. reset resets the machine as hard_reboot does;
        power presses the ACPI power button and returns (the guest's shutdown, if it
        heeds it, is a guest event). VALUE_NOT_SUPPORTED ["trigger", trigger, reason]
        for one the hypervisor cannot send."""
        raise BackendError("VALUE_NOT_SUPPORTED", "trigger", trigger,
                           "the %s backend cannot send triggers" % self.name)

    # Classic network syntax
    def nic_models(self) -> tuple:
        """The NIC models (VIF/model) this hypervisor can give a guest, sorted; a model
        whose name starts with "virtio" is paravirtualised, the others emulated."""
        return ()

    # Live changes
    def set_vcpus(self, uuid: str, n: int) -> None:
        """Hot-plug or unplug vCPUs of the Running guest ``uuid`` until it has ``n``
        (1..VCPUs/max it was started with: the daemon checked). Unplugging waits for the
        guest to let go of each vCPU, at most ``unplug_timeout`` seconds:
        DEVICE_DETACH_TIMEOUT [vCPU, UUID/N, timeout] otherwise, and the guest keeps
        that vCPU (the ones released before stay released). The next start or resume
        starts the guest with VCPUs/at_startup vCPUs, which the daemon sets to ``n``."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/number", n,
                           "the %s backend cannot change a running guest's vCPUs" % self.name)

    def set_vcpu_params(self, uuid: str, params: VcpuParams) -> None:
        """Apply VCPUs/params (backend/vcpuparams.py, parsed and checked) to the resident
        guest ``uuid``: its scheduling weight and cap, and each vCPU's affinity (a vCPU
        not listed may run on every CPU). Start and resume apply VMConfig.VCPUs_params
        the same way. VALUE_NOT_SUPPORTED ["VCPUs/params", pair, reason] for a setting
        this host cannot apply, before anything changed."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/params", vcpuparams.format(params),
                           "the %s backend applies no scheduling parameters" % self.name)

    # 1.0: host facts
    def capabilities(self) -> list:
        """The guest types this hypervisor runs, in Xen's spelling ("xen-3.0-x86_64" for
        PV, "hvm-3.0-x86_32p" for HVM), for host.capabilities."""
        return []

    def sched_policy(self) -> str:
        """The scheduler that shares the host's CPUs among guests, for host.sched_policy
        (the one whose weight and cap VCPUs/params sets)."""
        return ""

    def cpu_configuration(self) -> dict | None:
        """host.cpu_configuration (hostinfo.cpu_configuration's keys) where the daemon's
        own /proc/cpuinfo does not show the host's CPUs (a Xen dom0); None: it does."""
        return None

    def send_debug_keys(self, keys: str) -> None:
        """Send ``keys`` (printable, checked by the caller) to the hypervisor as debug
        keys: each makes it act or write its state to its log (Backend.dmesg)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "keys", keys,
                           "the %s backend has no hypervisor debug keys" % self.name)


# The HVM guest types an emulator of each architecture runs, in Xen's spelling: an x86_64
# machine runs 32-bit guests too, with or without PAE.
HVM_CAPABILITIES = {"x86_64": ["hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"],
                    "i386": ["hvm-3.0-x86_32", "hvm-3.0-x86_32p"]}


def hvm_capabilities(arch: str) -> list:
    """host.capabilities of a hypervisor that runs HVM guests of ``arch``."""
    return list(HVM_CAPABILITIES.get(arch, ["hvm-3.0-%s" % arch]))
