"""One guest's QEMU process as the backend knows it, and the one way to talk to it.

``Domain`` holds what the backend keeps about a process (pid, monitor, devices,
counters carried over a resume, what it waits for); ``Domain.qmp`` is the only
place a QMP command is sent and QEMU's answers and failures become BackendErrors.
Everything here is used on the QMP loop thread only (see qmp.py), so it needs no
locks.
"""

import asyncio
import logging
import os

from ...util.files import write_private
from ..base import BackendError
from .argv import QMP_SOCKET
from .qmp import CommandFailed, MonitorGone

log = logging.getLogger("xend.backend.qemu")

QMP_TIMEOUT = 30.0        # any one QMP command (a stopped or hung QEMU never answers)
POLL = 0.02               # the period of every poll of QEMU's progress (QMP, monitor socket)
# In a guest's state directory: its QEMU's pid and start time, for the pool's fence
# watchdog (daemon/fencewatch.py), which must find the process without the daemon.
PID_FILE = "qemu.pid"


def proc_starttime(pid):
    """The start time of ``pid`` in clock ticks since boot (/proc/PID/stat field 22)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def record_process(state_dir, pid, name=PID_FILE):
    """Write ``name`` (by default ``PID_FILE``, for the QEMU ``pid`` of the guest whose
    directory is ``state_dir``): the pid and its start time, which tells a reused pid
    apart."""
    write_private(os.path.join(state_dir, name), "%d %d\n" % (pid, proc_starttime(pid)))


def recorded_process(state_dir, name=PID_FILE):
    """(pid, start time) from ``state_dir``'s ``name``, or None (none, or unreadable)."""
    try:
        with open(os.path.join(state_dir, name)) as f:
            pid, starttime = f.read().split()
        return int(pid), int(starttime)
    except (OSError, ValueError):
        return None


class Domain:
    """What the backend knows about one QEMU process."""

    def __init__(self, uuid, state_dir, pid, popen=None):
        self.uuid = uuid
        self.state_dir = state_dir
        self.pid = pid
        self.popen = popen            # None after reattach: not our child
        self.pidfd = None
        self.monitor = None
        self.console = None           # console.Console, the reader of the serial console
        self.hub = None               # consolehub.ConsoleHub, its live clients
        self.display = False          # a VNC display (argv.has_display), for rfb clients
        self.rfb_clients = 0          # rfb clients handed in so far, to name their fds
        self.exited = asyncio.Event()
        self.expect_exit = False      # we made it exit: no event
        self.quiet_shutdown = 0       # clean_shutdown calls waiting for the power-off
        self.reset_waiters = []       # futures of clean_reboot calls
        self.guest_shutdown = False
        self.vcpu_tids = []           # vCPU thread ids, to read their CPU time
        self.last_reset_cpu = None    # vCPU seconds at the last RESET
        self.disks = {}               # VBD uuid -> its top block node (changes on snapshot)
        self.taps = {}                # VIF uuid -> tap device
        self.slots = {}               # device id -> PCI slot, of disks and NICs
        self.unplugs = {}             # device id -> futures of detach calls waiting for it
        self.carry = {}               # counters of earlier processes (before a suspend)
        self.balloon_driver = False   # the guest's balloon driver has reported (counters.py)
        self.reset_at = 0             # wall-clock second of the last machine reset
        self.log_start = 0            # qemu.log's size when this process was spawned
        self.receiving = ""           # a live migration's target: its storage option

    def private(self):
        """The JSON-serialisable state reattach() needs (devices are read back from QMP)."""
        return {"pid": self.pid, "starttime": proc_starttime(self.pid),
                "qmp_socket": os.path.join(self.state_dir, QMP_SOCKET),
                "state_dir": self.state_dir, "carry": self.carry}

    async def qmp(self, command, arguments=None, *, fd=None, timeout=QMP_TIMEOUT,
                  undo=False):
        """Run one QMP command on this guest's QEMU and return its answer.

        BackendError VM_BAD_POWER_STATE [uuid, Running, Halted] once QEMU has gone,
        INTERNAL_ERROR when it refuses the command or gives no answer in ``timeout``
        seconds. ``fd`` is passed along (``getfd``). ``undo``: the command undoes a
        step of a failed operation, so its own failure is logged, not raised, and does
        not hide the error being handled.
        """
        try:
            if self.monitor is None:
                raise MonitorGone(command)
            return await asyncio.wait_for(self.monitor.execute(command, arguments, fd),
                                          timeout)
        except asyncio.TimeoutError:
            err = BackendError("INTERNAL_ERROR", f"QEMU did not answer {command}")
        except MonitorGone:
            err = BackendError("VM_BAD_POWER_STATE", self.uuid, "Running", "Halted")
        except CommandFailed as failed:
            err = BackendError("INTERNAL_ERROR", str(failed))
        if not undo:
            raise err
        log.warning("QEMU of %s: %s %s failed: %s", self.uuid, command, arguments,
                    " ".join(err.params))
        return None
