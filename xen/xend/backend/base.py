"""The contract every hypervisor backend fulfils.

The daemon's domain owner (xen.xend.domains) is the only caller. It has already
checked the lifecycle table before it calls a backend, so a backend never decides
whether an operation is allowed, only how to carry it out on its hypervisor.

A backend knows nothing about XML-RPC, sessions or the object store. It receives
a ``DomainSpec``: the VM's API record (wire field names) plus the devices the
daemon resolved for it, and reports back only power states and guest events.
"""

import abc
import dataclasses
from typing import Callable, Optional


class BackendError(Exception):
    """An operation failed on the hypervisor; ``code``/``params`` become an API Failure."""

    def __init__(self, code, *params):
        super().__init__(code, *params)
        self.code = code
        self.params = [str(p) for p in params]


@dataclasses.dataclass
class DiskSpec:
    """One VBD as the hypervisor sees it."""
    vbd: str              # VBD uuid, used as the device id
    path: str             # image file (qcow2 or raw)
    format: str           # "qcow2" | "raw"
    device: str           # guest device name, e.g. "hda", "xvda"
    mode: str             # "RO" | "RW"
    driver: str           # "ioemu" | "paravirtualised"


@dataclasses.dataclass
class NicSpec:
    """One VIF as the hypervisor sees it."""
    vif: str              # VIF uuid
    mac: str
    mtu: int
    driver: str           # "ioemu" | "paravirtualised"
    bridge: str = ""      # host bridge, empty for an unconnected NIC


@dataclasses.dataclass
class DomainSpec:
    """Everything a backend needs to build one guest."""
    uuid: str
    record: dict                       # the VM's API record, keyed by wire field names
    disks: list = dataclasses.field(default_factory=list)
    nics: list = dataclasses.field(default_factory=list)
    state_dir: str = ""                # a private directory for this guest's files


# Guest-initiated events a backend reports through its event callback.
GUEST_SHUTDOWN = "shutdown"
GUEST_REBOOT = "reboot"
GUEST_CRASH = "crash"
GUEST_SUSPEND = "suspend"
GUEST_DIED = "died"          # the hypervisor process vanished unexpectedly


class Backend(abc.ABC):
    """One hypervisor. Methods block until the operation is complete on it."""

    name = "abstract"
    # True where running guests hold their disk images open, so a snapshot of an
    # attached disk must go through snapshot_disk().
    holds_disks = True

    def __init__(self, on_guest_event: Optional[Callable[[str, str], None]] = None):
        # on_guest_event(vm_uuid, GUEST_*) is called from the backend's own threads.
        self.on_guest_event = on_guest_event or (lambda uuid, kind: None)

    @abc.abstractmethod
    def start(self, spec: DomainSpec, paused: bool) -> dict:
        """Build and start the guest; returns private state to persist (pid, sockets...)."""

    @abc.abstractmethod
    def pause(self, uuid: str) -> None:
        """Stop the guest's vCPUs."""

    @abc.abstractmethod
    def unpause(self, uuid: str) -> None:
        """Let the guest's vCPUs run again."""

    @abc.abstractmethod
    def clean_shutdown(self, uuid: str, timeout: float) -> None:
        """Ask the guest to power off and wait; raise BackendError on timeout (guest left running)."""

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
        """Save the guest's state to ``state_file`` and destroy it."""

    @abc.abstractmethod
    def resume(self, spec: DomainSpec, state_file: str, paused: bool) -> dict:
        """Rebuild the guest from ``state_file``; returns private state like start()."""

    @abc.abstractmethod
    def reattach(self, uuid: str, private: dict) -> Optional[str]:
        """After a daemon restart: find the guest again; return its power state, None if gone."""

    def snapshot_disk(self, uuid: str, vbd: str, new_leaf: str) -> None:
        """Switch the running guest's disk ``vbd`` to a new overlay ``new_leaf`` (created
        by the hypervisor on top of the current image, which is frozen from then on)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "VDI", vbd,
                           "the %s backend cannot snapshot a disk in use" % self.name)

    def validate_record(self, record: dict) -> None:
        """Raise BackendError for VM field values this hypervisor cannot honour, so that
        they are refused when set, not when the VM starts."""

    def set_memory_target(self, uuid: str, target: int) -> None:
        """Move the guest's balloon to ``target`` bytes; backends without one ignore it."""

    def dump_core(self, uuid: str, path: str) -> None:
        """Write the guest's memory to ``path`` (actions/after_crash coredump_*)."""
        raise BackendError("VALUE_NOT_SUPPORTED", "actions/after_crash", "coredump",
                           "the %s backend cannot dump guest memory" % self.name)

    def watch_guests(self) -> None:
        """Called once the daemon has reattached its guests: begin watching for what
        guests do on their own (backends that watch from the start ignore it)."""

    def software_version(self) -> dict:
        """Extra host.software_version entries naming the hypervisor's version."""
        return {}

    def metrics(self, uuid: str) -> dict:
        """Counters for the sampler (cpu_seconds per vCPU, memory, disk/net bytes); optional."""
        return {}

    def close(self) -> None:
        """Release the backend's own resources; guests keep running."""
