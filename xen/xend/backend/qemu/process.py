"""The lifetime of guests' QEMU processes: launch, watch, exit, kill, and finding
them again after a daemon restart.

Each guest is a child process of the daemon started with
``start_new_session=True`` (signals aimed at the daemon, such as a terminal's
Ctrl-C, never reach a guest), as the backend's unprivileged account where it
has one, under QEMU's seccomp sandbox. The guest's state dir (root's) holds
``qmp.sock``, ``console.sock`` (the serial console, read by console.py),
``console.log`` and ``qemu.log`` (QEMU's stdout and stderr), all made by the daemon;
QEMU gets descriptors (handover.py) and opens no file by name. The exit of a
process is noticed through a pidfd watched by the QMP loop (see qmp.py for the
threading design); a pidfd works the same for our own children, which are then
reaped, and for processes found again by ``find`` after a daemon restart, which
are no longer our children. The pidfd also makes signalling safe from pid reuse.

QEMU runs *without* ``-no-shutdown``: when the guest powers off, QEMU exits by
itself, so a halted guest never holds memory and the daemon has nothing left to
clean up. NICs are tap devices made here (xen.xend.host.netdev) and handed to QEMU as
file descriptors: QEMU holds the only one, so a tap disappears with its QEMU. Sockets
QEMU listens on are bound by the daemon too (handover.listen_unix) and inherited.
What a process holds is read back from QMP (query-pci, query-block) when it is
found again, so it is never stale.
"""

import asyncio
import contextlib
import logging
import os
import signal
import subprocess

from xen.xend.host import netdev
from xen.xend.util.files import open_own

from .. import base
from ..base import BackendError
from ..common import running_guest
from ..consolehub import ConsoleHub
from . import events
from .argv import (
    CONSOLE_SOCKET,
    QEMU_LOG,
    QMP_SOCKET,
    HostFiles,
    assign_slots,
    build_argv,
    disk_node,
    has_display,
    vbd_of_qdev,
)
from .console import Console, ConsoleLog
from .domain import POLL, Domain, proc_starttime, record_process
from .handover import Handover, disk_tag, listen_unix, open_boot_files, open_disk
from .qmp import Monitor, MonitorGone

log = logging.getLogger("xend.backend.qemu")

START_TIMEOUT = 30.0      # spawn -> QMP greeting
# An Unknown guest's monitor is tried again each sample, briefly: a QEMU that was only
# stopped or busy comes back, and the sampler is not held up long by one that is hung.
RECHECK_TIMEOUT = 0.5
APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND
QUIT_GRACE = 10.0         # `quit` -> exit, before SIGKILL
HANGUP_WAIT = 2.0         # exit -> QMP EOF, to collect the last events


def power_state_of(status):
    """Map a QMP run state to an API power state."""
    return "Running" if status == "running" else "Paused"


def log_tail(state_dir, start=0, lines=3):
    """The last ``lines`` lines qemu.log got from offset ``start`` on, joined with " | ".

    qemu.log keeps every attempt's output for the admin; an error quotes only what
    the QEMU it is about wrote (from the log's size before that QEMU was spawned).
    """
    try:
        with open(os.path.join(state_dir, QEMU_LOG), "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def open_taps(nics):
    """Make the NICs' taps; yields {VIF uuid: fd}. Our descriptors are closed on
    the way out: by then QEMU holds its own, or the taps go away with ours."""
    fds = {}
    try:
        for nic in nics:
            if not nic.bridge:
                raise BackendError("VALUE_NOT_SUPPORTED", "VIF", nic.vif,
                                   "the qemu backend needs a bridge for every NIC")
            try:
                fds[nic.vif] = netdev.open_tap(netdev.tap_name(nic.vif), nic.bridge,
                                               nic.mtu or 1500, nic.mac)
            except netdev.NetdevError as e:
                raise BackendError("VALUE_NOT_SUPPORTED", "VIF", nic.vif, str(e)) from None
        yield fds
    finally:
        for fd in fds.values():
            os.close(fd)



def _runs_uuid(pid, uuid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    return any(a == b"-uuid" and b == uuid.encode() for a, b in zip(args, args[1:]))


class Processes:
    """The QEMU processes of one backend, by VM uuid. Used on the QMP loop thread only.

    ``notifier`` (events.Notifier) gets the guest events; ``reattach_timeout`` is how
    long a process found again may take to greet on its monitor; ``console_log`` is
    (the cap of each guest's console.log, the reserve it leaves free: ConsoleLog);
    ``history_bytes`` the recent output each console's hub keeps for its clients;
    ``account`` (host.accounts.Account) is who QEMU runs as, None for the daemon's own
    user; ``cgroups`` (host.cgroups.CpuCgroups) holds each process in a CPU cgroup
    named by its VM's uuid from its start until it is gone, None where the host has none.
    """

    def __init__(self, qemu_binary, accel, notifier, reattach_timeout, console_log,
                 history_bytes, account=None, cgroups=None):
        self.qemu_binary = qemu_binary
        self.cgroups = cgroups
        self.account = account
        self.accel = accel
        self.notifier = notifier
        self.reattach_timeout = reattach_timeout
        self.console_log = console_log
        self.history_bytes = history_bytes
        self._domains = {}
        self._tasks = set()

    def get(self, uuid, expected):
        """The Domain of VM ``uuid``; VM_BAD_POWER_STATE [uuid, expected, Halted] if none."""
        return running_guest(self._domains, uuid, expected)

    def lookup(self, uuid):
        """The Domain of VM ``uuid``, None if there is none."""
        return self._domains.get(uuid)

    def running(self):
        """The Domains of every guest this backend runs."""
        return list(self._domains.values())

    def spawn(self, coro):
        """Run ``coro`` as a task of the backend (cancelled by ``close``)."""
        # Keep a reference: the loop holds tasks only weakly.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def launch(self, spec, taps, audio_ok, incoming=False, machine="pc", slots=None):
        """Spawn QEMU for ``spec`` (stopped, -S) with the tap descriptors ``taps`` and
        connect QMP; ``slots`` are the PCI slots of a saved state. Returns the Domain,
        whose ``expect_exit`` the caller clears once the guest is fully up."""
        if spec.uuid in self._domains:
            raise BackendError("VM_BAD_POWER_STATE", spec.uuid, "Halted", "Running")
        if not spec.state_dir:
            raise BackendError("INTERNAL_ERROR", "the QEMU backend needs a state_dir")
        state_dir = os.path.abspath(spec.state_dir)
        slots = assign_slots(spec.disks, spec.nics, slots)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        try:
            console, hub = self._console(spec.uuid, state_dir)
        except OSError as err:      # before QEMU runs: a symlink planted there, say
            raise BackendError("INTERNAL_ERROR", f"cannot open the console log: {err}")
        try:
            with Handover() as handed:
                files = self._hand_over(spec, state_dir, handed)
                argv = build_argv(spec, self.qemu_binary, self.accel, files, machine=machine,
                                  incoming=incoming, audio_ok=audio_ok, slots=slots,
                                  tap_fds=taps)
                log.debug("starting %s", argv)
                with os.fdopen(open_own(os.path.join(state_dir, QEMU_LOG), APPEND), "ab") as out:
                    log_start = out.seek(0, os.SEEK_END)   # where this attempt's output begins
                    popen = subprocess.Popen(argv, cwd="/", stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=out, start_new_session=True,
                                             pass_fds=list(taps.values()) + handed.fds,
                                             **self._as_account())
        except BaseException as err:
            await console.close()
            if isinstance(err, OSError):
                raise BackendError("INTERNAL_ERROR",
                                   f"cannot run {self.qemu_binary}: {err}") from None
            raise
        dom = Domain(spec.uuid, state_dir, popen.pid, popen)
        dom.log_start = log_start
        # A start that fails is reported by raising, not as a "died" event.
        dom.expect_exit = True
        dom.disks = {d.vbd: disk_node(d.vbd) for d in spec.disks}
        dom.taps = {n.vif: netdev.tap_name(n.vif) for n in spec.nics}
        dom.slots = slots
        dom.console, dom.hub = console, hub
        dom.display = has_display(spec.vm)
        self._domains[spec.uuid] = dom
        self._watch(dom, os.pidfd_open(popen.pid))
        try:
            record_process(state_dir, dom.pid)
            self._join_cgroup(dom)
            # Before the guest runs (-S), so that none of its output is missed.
            await console.connect()
            await self._connect(dom, START_TIMEOUT)
        except OSError as err:
            # A QEMU that refused its arguments exits at once, closing its end of the
            # console: then its own words say why, not the refused connection.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(dom.exited.wait(), POLL * 10)
            exited = dom.exited.is_set()
            await self.kill(dom)
            if exited:
                raise BackendError("INTERNAL_ERROR",
                                   f"QEMU exited: {log_tail(dom.state_dir, dom.log_start)}")
            raise BackendError("INTERNAL_ERROR", f"no console socket from QEMU: {err}")
        except BaseException:
            await self.kill(dom)
            raise
        return dom

    def _join_cgroup(self, dom):
        """Move the guest's process into its CPU cgroup (made if missing)."""
        if self.cgroups is None:
            return
        try:
            self.cgroups.add(dom.uuid, dom.pid)
        except OSError as err:
            raise BackendError("INTERNAL_ERROR", "cannot move QEMU of %s into its CPU "
                               "cgroup: %s" % (dom.uuid, err)) from None

    def _leave_cgroup(self, uuid):
        """Remove the CPU cgroup of VM ``uuid``'s guest, whose process is gone."""
        if self.cgroups is not None:
            self.cgroups.remove(uuid)

    @staticmethod
    def _hand_over(spec, state_dir, handed):
        """Open what QEMU uses for ``spec`` into ``handed``; the HostFiles naming it."""
        qmp = handed.pass_fd(listen_unix(os.path.join(state_dir, QMP_SOCKET)))
        console = handed.pass_fd(listen_unix(os.path.join(state_dir, CONSOLE_SOCKET)))
        disks = {}
        for disk in spec.disks:
            disks[disk.vbd] = [(handed.fdset(fds, disk_tag(disk.vbd, level)), fmt, block)
                               for fds, fmt, block, level in open_disk(disk)]
        return HostFiles(qmp_fd=qmp, console_fd=console, add_fd=handed.argv,
                         disks=disks, boot=open_boot_files(spec, handed))

    def _as_account(self):
        """Popen's arguments that run QEMU as the backend's account: its uid and gid,
        and only its own supplementary groups (kvm), not the daemon's; no capability
        survives the change from root."""
        if self.account is None:
            return {}
        return {"user": self.account.uid, "group": self.account.gid,
                "extra_groups": list(self.account.groups)}

    def _console(self, uuid, state_dir):
        """The reader of the console socket in ``state_dir``, logging to its console.log
        (OSError if the log cannot be opened), and the hub of its live clients."""
        console = Console(uuid, os.path.join(state_dir, CONSOLE_SOCKET),
                          [ConsoleLog(state_dir, *self.console_log)])
        hub = ConsoleHub(asyncio.get_running_loop(), uuid, console.send, self.history_bytes)
        console.subscribe(hub)
        return console, hub

    def _watch(self, dom, pidfd):
        dom.pidfd = pidfd
        loop = asyncio.get_running_loop()

        def readable():
            loop.remove_reader(pidfd)
            self.spawn(self._exited(dom))
        loop.add_reader(pidfd, readable)

    async def _exited(self, dom):
        """The process is gone: reap it, collect its last events, report."""
        if dom.pidfd is None:
            return      # close() detached this guest first
        os.close(dom.pidfd)
        dom.pidfd = None
        if dom.popen is not None:
            dom.popen.wait()
        if self._domains.get(dom.uuid) is dom:
            del self._domains[dom.uuid]
            # Not when a new process of the VM took its place (and its cgroup) already.
            self._leave_cgroup(dom.uuid)
        if dom.monitor is not None:
            try:
                await dom.monitor.wait_hangup(HANGUP_WAIT)
            finally:    # also when close() cancels us: the monitor is ours to end
                await dom.monitor.close()
        if dom.console is not None:
            await dom.console.finish(HANGUP_WAIT)
        for waiter in dom.reset_waiters:
            if not waiter.done():
                waiter.set_result(False)
        for waiters in dom.unplugs.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(
                        BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Halted"))
        if not dom.expect_exit:
            if not dom.guest_shutdown:
                log.warning("QEMU of %s exited unexpectedly: %s", dom.uuid,
                            log_tail(dom.state_dir, dom.log_start))
                self.notifier.notify(dom.uuid, base.GUEST_DIED)
            elif not dom.quiet_shutdown:
                self.notifier.notify(dom.uuid, base.GUEST_SHUTDOWN)
        dom.exited.set()

    async def _connect(self, dom, timeout):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        path = os.path.join(dom.state_dir, QMP_SOCKET)
        while not dom.exited.is_set():
            monitor = Monitor(f"qemu-{dom.uuid}", lambda event: events.on_qmp_event(
                dom, event, self.notifier.notify, self.spawn))
            try:
                await asyncio.wait_for(monitor.connect(path), max(deadline - loop.time(), 0.1))
                dom.monitor = monitor
                cpus = await dom.qmp("query-cpus-fast")
                dom.vcpu_tids = sorted({cpu["thread-id"] for cpu in cpus})
                return
            except (MonitorGone, asyncio.TimeoutError) as err:
                if loop.time() >= deadline:
                    raise BackendError("INTERNAL_ERROR", f"no QMP from QEMU: {err!r}")
            await asyncio.sleep(POLL)
        raise BackendError("INTERNAL_ERROR",
                           f"QEMU exited: {log_tail(dom.state_dir, dom.log_start)}")

    async def kill(self, dom):
        """Make QEMU exit: ``quit``, then SIGKILL through the pidfd if it lingers."""
        dom.expect_exit = True
        if dom.exited.is_set():
            return
        if dom.monitor is not None:
            try:
                await dom.qmp("quit", timeout=QUIT_GRACE)
            except BackendError:
                pass
            try:
                await asyncio.wait_for(dom.exited.wait(), QUIT_GRACE)
                return
            except asyncio.TimeoutError:
                log.warning("QEMU of %s ignored quit; killing it", dom.uuid)
        else:
            # No monitor (an Unknown guest, whose QEMU never greeted): nothing to ask.
            log.warning("QEMU of %s has no monitor; killing it", dom.uuid)
        if dom.pidfd is not None:
            signal.pidfd_send_signal(dom.pidfd, signal.SIGKILL)
        await dom.exited.wait()

    async def reattach(self, uuid, private):
        """The power state of the guest of VM ``uuid``, found again from ``private``
        (Domain.private) if this backend does not know it yet; None if it is gone."""
        dom = self._domains.get(uuid)
        if dom is None:
            dom = await self._find(uuid, private)
            if dom is None:
                self._leave_cgroup(uuid)    # the guest ended while the daemon was down
                return None
        return await self.state_of(dom)

    async def state_of(self, dom):
        """A known guest's power state: Unknown while its monitor does not answer (tried
        again here, briefly), None once it exited."""
        if dom.monitor is None:
            try:
                await self._connect(dom, RECHECK_TIMEOUT)
                await self._learn_devices(dom)
            except BackendError:
                return None if dom.exited.is_set() else "Unknown"
            log.info("QEMU of %s answers its monitor again", dom.uuid)
        try:
            return power_state_of((await dom.qmp("query-status"))["status"])
        except BackendError:
            if dom.exited.is_set():
                return None
            raise

    async def _find(self, uuid, private):
        try:
            pid = int(private["pid"])
            pidfd = os.pidfd_open(pid)
        except (KeyError, TypeError, ValueError, OSError):
            return None
        try:
            # The pidfd pins the process, so these checks cannot race pid reuse.
            same = (proc_starttime(pid) == private.get("starttime")
                    and _runs_uuid(pid, uuid))
        except OSError:
            same = False
        if not same:
            os.close(pidfd)
            return None
        dom = Domain(uuid, private["state_dir"], pid)
        dom.carry = private.get("carry") or {}
        dom.expect_exit = True  # until attached, an exit means "gone", not "died"
        self._domains[uuid] = dom
        self._watch(dom, pidfd)
        try:
            record_process(dom.state_dir, pid)   # one an older xend started has none
            self._join_cgroup(dom)      # found again by its name, the VM's uuid
        except OSError as err:
            log.warning("QEMU of %s: cannot record its pid: %s", uuid, err)
        except BackendError as err:
            log.warning("%s", err.params[0])
        await self._reconnect_console(dom)
        try:
            await self._connect(dom, self.reattach_timeout)
            await self._learn_devices(dom)
        except BackendError:
            if dom.exited.is_set():
                return None
            # Alive but its monitor does not answer: the guest is Unknown, and kept, so
            # that hard_shutdown can still end it (through the pidfd).
            log.warning("QEMU of %s (pid %d) is alive but its monitor does not answer",
                        uuid, pid)
        dom.expect_exit = False
        return dom

    async def _reconnect_console(self, dom):
        """Read and log the console of a guest found again, and serve its clients (with
        a new history); without it (a QEMU that has no console socket) the guest runs
        on, its serial output unread and dropped."""
        try:
            dom.console, dom.hub = self._console(dom.uuid, dom.state_dir)
            await dom.console.connect()
        except OSError as err:
            log.warning("the console of %s is not logged: %s", dom.uuid, err)
            dom.hub = None      # nor can a client attach to it

    @staticmethod
    async def _learn_devices(dom):
        """Read the guest's disks, NICs, their slots and its display back from QEMU itself."""
        dom.display = bool(await dom.qmp("query-vnc-servers"))
        for bus in await dom.qmp("query-pci"):
            for dev in bus.get("devices", []):
                kind, _, ref = dev.get("qdev_id", "").partition("-")
                if kind in ("vbd", "vif") and ref:
                    dom.slots[dev["qdev_id"]] = dev["slot"]
                    if kind == "vif":
                        dom.taps[ref] = netdev.tap_name(ref)
        for blk in await dom.qmp("query-block"):
            vbd = vbd_of_qdev(blk.get("qdev", ""))
            if vbd and blk.get("inserted"):
                dom.disks[vbd] = blk["inserted"]["node-name"]

    def _forget(self, dom):
        if dom.pidfd is not None:
            asyncio.get_running_loop().remove_reader(dom.pidfd)
            os.close(dom.pidfd)
            dom.pidfd = None
        if self._domains.get(dom.uuid) is dom:
            del self._domains[dom.uuid]

    async def close(self):
        """Let go of every process (they keep running) and end the backend's tasks."""
        # Cancel our tasks (reaping a guest that exited, freeing an unplugged device) and
        # wait until they have unwound: a reaping cancelled half-way still disconnects
        # its monitor, and nothing is left pending when the loop stops.
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for dom in list(self._domains.values()):
            self._forget(dom)
            if dom.monitor is not None:
                await dom.monitor.close()
            if dom.console is not None:
                await dom.console.close()
