"""The QEMU backend: every running guest is a qemu-system-x86_64 process driven over QMP.

Processes. Each guest is a child process of the daemon started with
``start_new_session=True`` (signals aimed at the daemon, such as a terminal's
Ctrl-C, never reach a guest) and cwd = the guest's state dir, which holds
``qmp.sock``, ``console.log`` (the serial console) and ``qemu.log`` (QEMU's
stdout and stderr). The exit of a process is noticed through a pidfd watched
by the QMP loop (see qmp.py for the threading design); a pidfd works the same
for our own children, which are then reaped, and for processes found again
by ``reattach`` after a daemon restart, which are no longer our children.
The pidfd also makes signalling safe from pid reuse.

Power-off. QEMU runs *without* ``-no-shutdown``: when the guest powers off,
QEMU exits by itself, so a halted guest never holds memory and the daemon
has nothing left to clean up. A panicking guest is different: ``-action
panic=pause`` keeps the process alive and stopped so the daemon can take a
core dump (``dump_core``) before acting on actions/after_crash.

Guest events. Reported through ``on_guest_event`` from a notifier thread of
the backend (so a callback may call back into the backend):

=======================================  ==============================================
QEMU                                     event
=======================================  ==============================================
SHUTDOWN guest=true, then process exit   ``shutdown`` (reported after the exit/reap)
RESET guest=true                         ``reboot`` (QEMU has already reset in place;
                                         SeaBIOS's own follow-up reset is filtered out)
GUEST_PANICKED (pvpanic)                 ``crash`` (process left paused and alive)
SUSPEND (guest entered ACPI S3)          ``suspend``
process exit with no guest shutdown      ``died``
=======================================  ==============================================

Outcomes the daemon asked for are returned by the call, not reported again
as events: the exit caused by hard_shutdown/suspend, the power-off awaited by
clean_shutdown and the reset awaited by clean_reboot. If such a wait times
out, a later guest power-off or reset is reported as an event as usual.

Devices. Disks and NICs sit at fixed PCI slots (qemu_argv.assign_slots),
kept in ``suspend.json`` for resume. NICs are tap devices the backend makes
(xen.xend.netdev) and hands to QEMU as file descriptors: QEMU holds the only
one, so a tap disappears with its QEMU. Hot-plug is ``blockdev-add`` +
``device_add`` (a disk) or ``getfd`` + ``netdev_add`` + ``device_add`` (a
NIC), undone step by step if a later step fails. Unplug is ``device_del``;
the guest answers, QEMU sends DEVICE_DELETED, and only then does the backend
``blockdev-del`` / ``netdev_del`` (which closes the tap). What a process holds
is read back from QMP (query-pci, query-block) when a guest is found again
after a daemon restart, so it is never stale.

Beyond the Backend contract: power_state, set_memory_target, create_disk and
disk_info (qemu-img). docs/vm-mapping.md lists every VM field's QEMU argument.
"""

import asyncio
import contextlib
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid as uuidlib

from xen.xend import hostinfo, netdev, progress
from xen.xend.backend import base
from xen.xend.backend.base import BackendError
from xen.xend.backend.qemu_argv import (
    QEMU_LOG, QMP_SOCKET, assign_slots, boot_files, build_argv, check_host_files,
    check_memory_fits, device_id, disk_args, disk_node, free_slot, is_pci, netdev_id,
    nic_device, safe_path, truthy, validate_record)
from xen.xend.backend.qmp import CommandFailed, LoopThread, Monitor, MonitorGone

log = logging.getLogger("xend.backend.qemu")

START_TIMEOUT = 30.0      # spawn -> QMP greeting
# An Unknown guest's monitor is tried again each sample, briefly: a QEMU that was only
# stopped or busy comes back, and the sampler is not held up long by one that is hung.
RECHECK_TIMEOUT = 0.5
QMP_TIMEOUT = 30.0        # any one QMP command (a stopped or hung QEMU never answers)
QUIT_GRACE = 10.0         # `quit` -> exit, before SIGKILL
HANGUP_WAIT = 2.0         # exit -> QMP EOF, to collect the last events
INCOMING_TIMEOUT = 600.0  # reading a state file back in
POLL = 0.02               # query-migrate / query-status polling period
# SeaBIOS answers every warm reset with a hard reboot of its own, which QEMU
# reports as a second RESET guest=true ~40 ms later. A guest reset that comes
# within this much vCPU time of the previous reset is that firmware step, not
# a guest reboot: no OS can boot and reboot again in so little CPU time.
FIRMWARE_RESET_CPU = 0.5
SUSPEND_INFO = "suspend.json"
MIGRATION_MAGIC = b"QEVM"   # the first bytes of every QEMU migration stream

# Ctrl-Alt-Del is what a guest without an agent understands as "please reboot".
_CTRL_ALT_DEL = {"keys": [{"type": "qcode", "data": k} for k in ("ctrl", "alt", "delete")]}


def choose_accel(accel):
    """Resolve "tcg" | "kvm" | "auto" to the accelerator QEMU gets."""
    if accel == "auto":
        return "kvm" if hostinfo.has_kvm() else "tcg"
    if accel in ("tcg", "kvm"):
        return accel
    raise ValueError(f"accel must be tcg, kvm or auto, not {accel!r}")


def power_state_of(status):
    """Map a QMP run state to an API power state."""
    return "Running" if status == "running" else "Paused"


def _proc_starttime(pid):
    """The start time of ``pid`` in clock ticks since boot (/proc/PID/stat field 22)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def _thread_cpu_seconds(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vbd_of_qdev(qdev):
    """The VBD uuid in a qdev path such as /machine/peripheral/vbd-UUID/virtio-backend."""
    for part in qdev.split("/"):
        if part.startswith("vbd-"):
            return part[len("vbd-"):]
    return None


def _log_tail(state_dir, start=0, lines=3):
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


def _create_private_file(path):
    # Guest memory ends up in this file: only the daemon may read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as err:
        raise BackendError("INTERNAL_ERROR", f"cannot create {path}: {err.strerror}")


class _Domain:
    """What the backend knows about one QEMU process. Loop thread only."""

    def __init__(self, uuid, state_dir, pid, popen=None):
        self.uuid = uuid
        self.state_dir = state_dir
        self.pid = pid
        self.popen = popen            # None after reattach: not our child
        self.pidfd = None
        self.monitor = None
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
        self.balloon_driver = False   # the guest's balloon driver has reported (see _metrics)
        self.reset_at = 0             # wall-clock second of the last machine reset
        self.log_start = 0            # qemu.log's size when this process was spawned

    def private(self):
        """The JSON-serialisable state reattach() needs (devices are read back from QMP)."""
        return {"pid": self.pid, "starttime": _proc_starttime(self.pid),
                "qmp_socket": os.path.join(self.state_dir, QMP_SOCKET),
                "state_dir": self.state_dir, "carry": self.carry}


class QemuBackend(base.Backend):
    """Runs guests as QEMU processes; see the module docstring."""

    name = "qemu"

    def __init__(self, on_guest_event=None, accel="auto", qemu_binary="qemu-system-x86_64",
                 reattach_timeout=5.0):
        super().__init__(on_guest_event)
        # A process found again after a daemon restart has long been up: its monitor
        # greets at once unless QEMU is hung (or stopped), and the daemon's start waits
        # on each in turn.
        self.reattach_timeout = reattach_timeout
        self.accel = choose_accel(accel)
        self.qemu_binary = shutil.which(qemu_binary) or qemu_binary
        self._audio = None
        self._domains = {}
        self._tasks = set()
        self._events = queue.Queue()
        self._notifier = threading.Thread(target=self._notify_loop, name="xend-qemu-events",
                                          daemon=True)
        self._notifier.start()
        self._loop = LoopThread("xend-qemu-qmp")
        log.info("qemu backend: %s, accel=%s", self.qemu_binary, self.accel)

    # ------------------------------------------------------------------ contract

    def start(self, spec, paused):
        """Start QEMU for ``spec``; the guest runs unless ``paused``. Returns private state.

        VALUE_NOT_SUPPORTED, before QEMU runs, for a boot file that is not there or a
        memory/static_max beyond the host's memory (see _check_can_start)."""
        self._check_can_start(spec)
        with self._taps(spec.nics) as taps:
            return self._loop.run(self._start(spec, paused, taps, progress.reporter()))

    def pause(self, uuid):
        """Stop the vCPUs (QMP ``stop``)."""
        self._loop.run(self._command(uuid, "Running", "stop"))

    def unpause(self, uuid):
        """Run the vCPUs again (QMP ``cont``)."""
        self._loop.run(self._command(uuid, "Paused", "cont"))

    def clean_shutdown(self, uuid, timeout):
        """Press the ACPI power button and wait for QEMU to exit after the guest's power-off.

        Raises VM_SHUTDOWN_TIMEOUT [uuid, timeout] and leaves the guest running
        if it has not powered off within ``timeout`` seconds.
        """
        self._loop.run(self._clean_shutdown(uuid, float(timeout)))

    def hard_shutdown(self, uuid):
        """``quit`` QEMU (SIGKILL if it does not exit) and reap it; no-op if already gone."""
        self._loop.run(self._hard_shutdown(uuid))

    def clean_reboot(self, uuid, timeout):
        """Send Ctrl-Alt-Del and wait for the guest to reset itself.

        Raises VM_SHUTDOWN_TIMEOUT [uuid, timeout] if no guest reset comes in time.
        """
        self._loop.run(self._clean_reboot(uuid, float(timeout)))

    def hard_reboot(self, uuid):
        """Reset the machine (``system_reset``); a crashed guest is also set running."""
        self._loop.run(self._hard_reboot(uuid))

    def suspend(self, uuid, live, state_file):
        """Migrate the guest's state into ``state_file`` and end the process.

        Without ``live`` the guest is stopped first. ``state_file`` must be an
        absolute path of plain characters (it is part of an ``exec:`` URI).
        """
        self._loop.run(self._suspend(uuid, bool(live), state_file, progress.reporter()))

    def resume(self, spec, state_file, paused):
        """Start a new QEMU with the devices of ``spec`` and load ``state_file`` into it.

        VM_STATE_FILE_MISSING [path] if the file does not exist (QEMU is not
        started); VM_STATE_FILE_CORRUPT [path] if QEMU cannot load it (no
        process is left behind). Returns private state like start().
        """
        path = safe_path(state_file, "state_file")
        if not os.path.isfile(path):
            raise BackendError("VM_STATE_FILE_MISSING", path)
        self._check_can_start(spec)     # the new QEMU opens the kernel and cdrom again
        with self._taps(spec.nics) as taps:
            return self._loop.run(self._resume(spec, path, paused, taps, progress.reporter()))

    def reattach(self, uuid, private):
        """Find the QEMU process described by ``private`` again.

        Returns "Running" or "Paused", or None when that process is gone.
        """
        return self._loop.run(self._reattach(uuid, private))

    def metrics(self, uuid):
        """Counters of a running guest.

        ``{"cpu_seconds": [float per vCPU], "memory_rss": bytes,
        "memory_actual": bytes (when the balloon reports it),
        "vbd": {vbd_uuid: {rd_bytes, wr_bytes, rd_operations, wr_operations}},
        "vif": {vif_uuid: {rx_bytes, tx_bytes}} (tap counters, guest's view)}``.
        Counters are cumulative across suspend/resume.
        """
        return self._loop.run(self._metrics(uuid))

    def attach_disk(self, uuid, disk):
        """``blockdev-add`` + ``device_add`` a virtio disk at a free PCI slot; the
        node is deleted again if device_add fails. QEMU cannot hot-plug IDE:
        VALUE_NOT_SUPPORTED [VBD/driver, ioemu, reason] for an ioemu disk."""
        self._loop.run(self._attach_disk(uuid, disk))

    def detach_disk(self, uuid, vbd):
        """``device_del``, wait for DEVICE_DELETED, ``blockdev-del`` (see Backend)."""
        self._loop.run(self._detach(uuid, "vbd", vbd))

    def attach_nic(self, uuid, nic):
        """Make the VIF's tap, pass it over QMP (``getfd``), ``netdev_add`` +
        ``device_add`` at a free PCI slot; each step undone if a later one fails."""
        with self._taps([nic]) as taps:
            self._loop.run(self._attach_nic(uuid, nic, taps[nic.vif]))

    def detach_nic(self, uuid, vif):
        """``device_del``, wait for DEVICE_DELETED, ``netdev_del`` (which ends the tap)."""
        self._loop.run(self._detach(uuid, "vif", vif))

    def close(self):
        """Drop QMP connections and threads; the guests keep running."""
        if self._loop is None:
            return
        # Let pending event callbacks finish first: they may still call the backend.
        self._events.put(None)
        self._notifier.join()
        self._loop.run(self._detach_all())
        self._loop.stop()
        self._loop = None

    # ------------------------------------------------------------- extra API

    def validate_record(self, record):
        """VALUE_NOT_SUPPORTED for VM fields this QEMU cannot honour (see qemu_argv)."""
        validate_record(record, audio_ok=not truthy(record.get("platform_enable_audio"))
                        or self._audio_supported())

    def power_state(self, uuid):
        """"Running" or "Paused" for a guest this backend runs, None otherwise."""
        return self._loop.run(self._power_state(uuid))

    def dump_core(self, uuid, path):
        """Write the guest's memory as an ELF core file to ``path`` (absolute)."""
        self._loop.run(self._dump_core(uuid, path))

    def snapshot_disk(self, uuid, vbd, new_leaf):
        """Freeze the running guest's disk ``vbd``: QEMU creates the qcow2 overlay
        ``new_leaf`` on top of the current image and writes there from now on."""
        self._loop.run(self._snapshot_disk(uuid, vbd, new_leaf))

    def set_memory_target(self, uuid, target):
        """Ask the guest's balloon driver to use ``target`` bytes (memory/dynamic_max)."""
        self._loop.run(self._command(uuid, "Running", "balloon", {"value": int(target)}))

    # ------------------------------------------------------------ internals

    def _notify(self, uuid, kind):
        log.info("guest %s: %s", uuid, kind)
        self._events.put((uuid, kind))

    def _notify_loop(self):
        while True:
            item = self._events.get()
            if item is None:
                return
            try:
                self.on_guest_event(*item)
            except Exception:
                log.exception("guest event handler failed for %s", item)

    def _spawn_task(self, coro):
        # Keep a reference: the loop holds tasks only weakly.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.contextmanager
    def _taps(self, nics):
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

    def _get(self, uuid, expected):
        dom = self._domains.get(uuid)
        if dom is None:
            raise BackendError("VM_BAD_POWER_STATE", uuid, expected, "Halted")
        return dom

    async def _qmp(self, dom, command, arguments=None):
        try:
            return await asyncio.wait_for(dom.monitor.execute(command, arguments), QMP_TIMEOUT)
        except asyncio.TimeoutError:
            raise BackendError("INTERNAL_ERROR", f"QEMU did not answer {command}") from None
        except MonitorGone:
            raise BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Halted") from None
        except CommandFailed as err:
            raise BackendError("INTERNAL_ERROR", str(err)) from None

    async def _command(self, uuid, expected, command, arguments=None):
        return await self._qmp(self._get(uuid, expected), command, arguments)

    @staticmethod
    def _check_can_start(spec):
        # What QEMU would only fail on after spawning, with an error that names no field.
        check_host_files(boot_files(spec.record))
        check_memory_fits(spec.record, hostinfo.memory()[0])

    def _audio_supported(self):
        if self._audio is None:
            out = subprocess.run([self.qemu_binary, "-device", "help"],
                                 capture_output=True, text=True).stdout
            self._audio = '"AC97"' in out
        return self._audio

    # --- process lifetime

    async def _launch(self, spec, taps, incoming=False, machine="pc", slots=None):
        """Spawn QEMU for ``spec`` (stopped, -S) with the tap descriptors ``taps`` and
        connect QMP; ``slots`` are the PCI slots of a saved state. Returns the _Domain."""
        if spec.uuid in self._domains:
            raise BackendError("VM_BAD_POWER_STATE", spec.uuid, "Halted", "Running")
        if not spec.state_dir:
            raise BackendError("INTERNAL_ERROR", "the QEMU backend needs a state_dir")
        state_dir = os.path.abspath(spec.state_dir)
        wants_audio = truthy(spec.record.get("platform_enable_audio"))
        slots = assign_slots(spec.disks, spec.nics, slots)
        argv = build_argv(spec, self.qemu_binary, self.accel, machine=machine,
                          incoming=incoming,
                          audio_ok=self._audio_supported() if wants_audio else True,
                          slots=slots, tap_fds=taps)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        try:
            os.unlink(os.path.join(state_dir, QMP_SOCKET))
        except FileNotFoundError:
            pass
        log.debug("starting %s", argv)
        try:
            with open(os.path.join(state_dir, QEMU_LOG), "ab") as out:
                log_start = out.seek(0, os.SEEK_END)   # where this attempt's output begins
                popen = subprocess.Popen(argv, cwd=state_dir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out, start_new_session=True,
                                         pass_fds=list(taps.values()))
        except OSError as err:
            raise BackendError("INTERNAL_ERROR", f"cannot run {self.qemu_binary}: {err}")
        dom = _Domain(spec.uuid, state_dir, popen.pid, popen)
        dom.log_start = log_start
        # A start that fails is reported by raising, not as a "died" event;
        # the caller clears this once the guest is fully up.
        dom.expect_exit = True
        dom.disks = {d.vbd: disk_node(d.vbd) for d in spec.disks}
        dom.taps = {n.vif: netdev.tap_name(n.vif) for n in spec.nics}
        dom.slots = slots
        self._domains[spec.uuid] = dom
        self._watch(dom, os.pidfd_open(popen.pid))
        try:
            await self._connect(dom, START_TIMEOUT)
        except BaseException:
            await self._kill(dom)
            raise
        return dom

    def _watch(self, dom, pidfd):
        dom.pidfd = pidfd
        loop = asyncio.get_running_loop()

        def readable():
            loop.remove_reader(pidfd)
            self._spawn_task(self._exited(dom))
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
        if dom.monitor is not None:
            try:
                await dom.monitor.wait_hangup(HANGUP_WAIT)
            finally:    # also when close() cancels us: the monitor is ours to end
                await dom.monitor.close()
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
                            _log_tail(dom.state_dir, dom.log_start))
                self._notify(dom.uuid, base.GUEST_DIED)
            elif not dom.quiet_shutdown:
                self._notify(dom.uuid, base.GUEST_SHUTDOWN)
        dom.exited.set()

    async def _connect(self, dom, timeout):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        path = os.path.join(dom.state_dir, QMP_SOCKET)
        while not dom.exited.is_set():
            monitor = Monitor(f"qemu-{dom.uuid}", lambda event: self._on_event(dom, event))
            try:
                await asyncio.wait_for(monitor.connect(path), max(deadline - loop.time(), 0.1))
                dom.monitor = monitor
                cpus = await self._qmp(dom, "query-cpus-fast")
                dom.vcpu_tids = sorted({cpu["thread-id"] for cpu in cpus})
                return
            except (MonitorGone, asyncio.TimeoutError) as err:
                if loop.time() >= deadline:
                    raise BackendError("INTERNAL_ERROR", f"no QMP from QEMU: {err!r}")
            await asyncio.sleep(POLL)
        raise BackendError("INTERNAL_ERROR",
                           f"QEMU exited: {_log_tail(dom.state_dir, dom.log_start)}")

    def _on_event(self, dom, event):
        name = event["event"]
        data = event.get("data") or {}
        if name == "SHUTDOWN" and data.get("guest"):
            dom.guest_shutdown = True
        elif name == "RESET":
            # The OS that boots next may have no balloon driver: ask again.
            dom.balloon_driver = False
            dom.reset_at = int(time.time())
            cpu = self._vcpu_seconds(dom)
            previous, dom.last_reset_cpu = dom.last_reset_cpu, cpu
            if not data.get("guest") or (previous is not None
                                         and cpu - previous < FIRMWARE_RESET_CPU):
                return
            waiters = [w for w in dom.reset_waiters if not w.done()]
            dom.reset_waiters = []
            for waiter in waiters:
                waiter.set_result(True)
            if not waiters:
                self._notify(dom.uuid, base.GUEST_REBOOT)
        elif name == "GUEST_PANICKED":
            self._notify(dom.uuid, base.GUEST_CRASH)
        elif name == "SUSPEND":
            self._notify(dom.uuid, base.GUEST_SUSPEND)
        elif name == "DEVICE_DELETED" and data.get("device"):
            self._spawn_task(self._device_gone(dom, data["device"]))

    @staticmethod
    def _vcpu_seconds(dom):
        total = 0.0
        for tid in dom.vcpu_tids:
            try:
                total += _thread_cpu_seconds(dom.pid, tid)
            except OSError:
                pass
        return total

    async def _kill(self, dom):
        """Make QEMU exit: ``quit``, then SIGKILL through the pidfd if it lingers."""
        dom.expect_exit = True
        if dom.exited.is_set():
            return
        if dom.monitor is not None:
            try:
                await asyncio.wait_for(dom.monitor.execute("quit"), QUIT_GRACE)
            except (MonitorGone, CommandFailed, asyncio.TimeoutError):
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

    # --- operations

    async def _start(self, spec, paused, taps, report):
        dom = await self._launch(spec, taps)
        report(0.6)   # spawned, monitor connected
        try:
            await self._balloon_to_dynamic_max(dom, spec.record)
            if not paused:
                await self._qmp(dom, "cont")
        except BaseException:
            await self._kill(dom)
            raise
        dom.expect_exit = False
        return dom.private()

    async def _balloon_to_dynamic_max(self, dom, record):
        static_max = int(record.get("memory_static_max") or 0)
        dynamic_max = int(record.get("memory_dynamic_max") or static_max)
        if 0 < dynamic_max < static_max:
            await self._qmp(dom, "balloon", {"value": dynamic_max})

    async def _hard_shutdown(self, uuid):
        dom = self._domains.get(uuid)
        if dom is not None:
            await self._kill(dom)

    async def _clean_shutdown(self, uuid, timeout):
        dom = self._get(uuid, "Running")
        dom.quiet_shutdown += 1
        try:
            await asyncio.wait_for(self._powerdown(dom), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            dom.quiet_shutdown -= 1
        if not dom.exited.is_set():
            raise BackendError("VM_SHUTDOWN_TIMEOUT", uuid, timeout)
        if not dom.guest_shutdown:
            raise BackendError("INTERNAL_ERROR", "QEMU exited during a clean shutdown")

    async def _powerdown(self, dom):
        try:
            await self._qmp(dom, "system_powerdown")
        except BackendError as err:
            # A fast guest may power off before QEMU's reply gets out.
            if err.code != "VM_BAD_POWER_STATE":
                raise
        await dom.exited.wait()

    async def _clean_reboot(self, uuid, timeout):
        dom = self._get(uuid, "Running")
        waiter = asyncio.get_running_loop().create_future()
        dom.reset_waiters.append(waiter)
        try:
            rebooted = await asyncio.wait_for(self._ctrl_alt_del(dom, waiter), timeout)
        except asyncio.TimeoutError:
            raise BackendError("VM_SHUTDOWN_TIMEOUT", uuid, timeout) from None
        finally:
            if waiter in dom.reset_waiters:
                dom.reset_waiters.remove(waiter)
        if not rebooted:
            raise BackendError("VM_BAD_POWER_STATE", uuid, "Running", "Halted")

    async def _ctrl_alt_del(self, dom, waiter):
        await self._qmp(dom, "send-key", _CTRL_ALT_DEL)
        return await waiter

    async def _hard_reboot(self, uuid):
        dom = self._get(uuid, "Running")
        status = (await self._qmp(dom, "query-status"))["status"]
        await self._qmp(dom, "system_reset")
        if status != "running":
            # The lifecycle table ends every hard reboot Running: paused or crashed
            # guests are set going after the reset.
            await self._qmp(dom, "cont")

    async def _suspend(self, uuid, live, state_file, report):
        path = safe_path(state_file, "state_file")
        dom = self._get(uuid, "Running")
        was_running = (await self._qmp(dom, "query-status"))["status"] == "running"
        if was_running and not live:
            await self._qmp(dom, "stop")
        try:
            _create_private_file(path)
            # The default bandwidth cap (128 MiB/s) would only slow a save to disk.
            await self._qmp(dom, "migrate-set-parameters", {"max-bandwidth": 1 << 40})
            await self._qmp(dom, "migrate", {"uri": f"exec:cat > {path}"})
            while True:
                info = await self._qmp(dom, "query-migrate")
                if info.get("status") == "completed":
                    break
                if info.get("status") in ("failed", "cancelled"):
                    raise BackendError("INTERNAL_ERROR",
                                       "suspend failed: " + info.get("error-desc", info["status"]))
                ram = info.get("ram", {})
                if ram.get("total"):
                    report(0.1 + 0.8 * min(ram.get("transferred", 0) / ram["total"], 1.0))
                await asyncio.sleep(POLL)
            counters = await self._counters(dom)
            machine = await self._machine_type(dom)
        except BackendError:
            try:
                os.unlink(path)
            except OSError:
                pass
            if was_running and not dom.exited.is_set():
                await self._qmp(dom, "cont")
            raise
        # What resume needs besides the devices, which the daemon supplies again.
        with open(os.path.join(dom.state_dir, SUSPEND_INFO), "w") as f:
            json.dump({"state_file": path, "machine": machine, "carry": counters,
                       "slots": dom.slots}, f)
        await self._kill(dom)

    async def _machine_type(self, dom):
        # The versioned type ("pc-i440fx-7.2"), so a resume after a QEMU
        # upgrade still builds the machine the state was saved from.
        qom = await self._qmp(dom, "qom-get", {"path": "/machine", "property": "type"})
        return qom[:-len("-machine")] if qom.endswith("-machine") else qom

    async def _resume(self, spec, path, paused, taps, report):
        with open(path, "rb") as f:
            # QEMU waits for ever on a stream that ends before its header: check it here.
            if f.read(4) != MIGRATION_MAGIC:
                raise BackendError("VM_STATE_FILE_CORRUPT", path)
        info = {}
        if spec.state_dir:
            try:
                with open(os.path.join(spec.state_dir, SUSPEND_INFO)) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                pass
        if info.get("state_file") != path:
            info = {}
        dom = await self._launch(spec, taps, incoming=True, machine=info.get("machine", "pc"),
                                 slots=info.get("slots"))
        dom.carry = info.get("carry", {})
        report(0.3)
        try:
            await self._qmp(dom, "migrate-incoming", {"uri": f"exec:cat {path}"})
            await self._wait_incoming(dom)
            report(0.9)
            if not paused:
                await self._qmp(dom, "cont")
        except BackendError as err:
            # QEMU hangs up, then exits, when it cannot load the stream: its monitor
            # may be gone before the exit is seen.
            exited = dom.exited.is_set() or err.code == "VM_BAD_POWER_STATE"
            await self._kill(dom)
            if exited:
                raise BackendError("VM_STATE_FILE_CORRUPT", path) from None
            raise
        dom.expect_exit = False
        return dom.private()

    async def _wait_incoming(self, dom):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INCOMING_TIMEOUT
        while (await self._qmp(dom, "query-status"))["status"] == "inmigrate":
            if loop.time() > deadline:
                raise BackendError("INTERNAL_ERROR", "loading the state file timed out")
            await asyncio.sleep(POLL)

    async def _reattach(self, uuid, private):
        dom = self._domains.get(uuid)
        if dom is None:
            dom = await self._find(uuid, private)
            if dom is None:
                return None
        return await self._state_of(dom)

    async def _state_of(self, dom):
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
            return power_state_of((await self._qmp(dom, "query-status"))["status"])
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
            same = (_proc_starttime(pid) == private.get("starttime")
                    and self._runs_uuid(pid, uuid))
        except OSError:
            same = False
        if not same:
            os.close(pidfd)
            return None
        dom = _Domain(uuid, private["state_dir"], pid)
        dom.carry = private.get("carry") or {}
        dom.expect_exit = True  # until attached, an exit means "gone", not "died"
        self._domains[uuid] = dom
        self._watch(dom, pidfd)
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

    async def _learn_devices(self, dom):
        """Read the guest's disks, NICs and their slots back from QEMU itself."""
        for bus in await self._qmp(dom, "query-pci"):
            for dev in bus.get("devices", []):
                kind, _, ref = dev.get("qdev_id", "").partition("-")
                if kind in ("vbd", "vif") and ref:
                    dom.slots[dev["qdev_id"]] = dev["slot"]
                    if kind == "vif":
                        dom.taps[ref] = netdev.tap_name(ref)
        for blk in await self._qmp(dom, "query-block"):
            vbd = _vbd_of_qdev(blk.get("qdev", ""))
            if vbd and blk.get("inserted"):
                dom.disks[vbd] = blk["inserted"]["node-name"]

    @staticmethod
    def _runs_uuid(pid, uuid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        return any(a == b"-uuid" and b == uuid.encode() for a, b in zip(args, args[1:]))

    def _forget(self, dom):
        if dom.pidfd is not None:
            asyncio.get_running_loop().remove_reader(dom.pidfd)
            os.close(dom.pidfd)
            dom.pidfd = None
        if self._domains.get(dom.uuid) is dom:
            del self._domains[dom.uuid]

    async def _detach_all(self):
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

    async def _snapshot_disk(self, uuid, vbd, new_leaf):
        dom = self._get(uuid, "Running")
        node = dom.disks.get(vbd)
        if node is None:
            raise BackendError("HANDLE_INVALID", "VBD", vbd)
        # Node names must be unique in the process and at most 31 characters.
        overlay = "snap" + uuidlib.uuid4().hex[:16]
        await self._qmp(dom, "blockdev-snapshot-sync", {
            "node-name": node, "snapshot-file": os.path.abspath(new_leaf),
            "snapshot-node-name": overlay, "format": "qcow2", "mode": "absolute-paths"})
        dom.disks[vbd] = overlay

    # --- hot-plug

    async def _attach_disk(self, uuid, disk):
        dom = self._get(uuid, "Running")
        if not is_pci(disk):
            raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", disk.driver,
                               "QEMU cannot hot-plug an emulated IDE disk: use the "
                               "paravirtualised driver, or attach it while the VM is halted")
        if disk.vbd in dom.disks:
            raise BackendError("INTERNAL_ERROR", f"VBD {disk.vbd} is attached already")
        blockdev, device = disk_args(disk, self._reserve_slot(dom, "vbd", disk.vbd))
        try:
            await self._qmp(dom, "blockdev-add", blockdev)
            try:
                await self._qmp(dom, "device_add", device)
            except BaseException:
                await self._quietly(dom, "blockdev-del", {"node-name": blockdev["node-name"]})
                raise
        except BaseException:
            del dom.slots[device["id"]]
            raise
        dom.disks[disk.vbd] = blockdev["node-name"]

    @staticmethod
    def _reserve_slot(dom, kind, ref):
        # Taken at once, so that a second hot-plug meanwhile picks another slot.
        slot = dom.slots[device_id(kind, ref)] = free_slot(dom.slots)
        return slot

    async def _attach_nic(self, uuid, nic, tap_fd):
        dom = self._get(uuid, "Running")
        if nic.vif in dom.taps:
            raise BackendError("INTERNAL_ERROR", f"VIF {nic.vif} is attached already")
        device = nic_device(nic, self._reserve_slot(dom, "vif", nic.vif))
        try:
            await self._plug_nic(dom, nic, tap_fd, device)
        except BaseException:
            del dom.slots[device["id"]]
            raise
        dom.taps[nic.vif] = netdev.tap_name(nic.vif)

    async def _plug_nic(self, dom, nic, tap_fd, device):
        fdname = "tap-" + nic.vif
        try:
            await dom.monitor.pass_fd(tap_fd, fdname)
        except MonitorGone:
            raise BackendError("VM_BAD_POWER_STATE", dom.uuid, "Running", "Halted") from None
        except CommandFailed as err:
            raise BackendError("INTERNAL_ERROR", str(err)) from None
        try:
            await self._qmp(dom, "netdev_add", {"type": "tap", "id": netdev_id(nic.vif),
                                                "fd": fdname})
        except BaseException:
            await self._quietly(dom, "closefd", {"fdname": fdname})
            raise
        try:
            await self._qmp(dom, "device_add", device)
        except BaseException:
            await self._quietly(dom, "netdev_del", {"id": netdev_id(nic.vif)})
            raise

    async def _detach(self, uuid, kind, ref):
        dom = self._get(uuid, "Running")
        dev = device_id(kind, ref)
        if dev not in dom.slots:
            if kind == "vbd" and ref in dom.disks:
                raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", "ioemu",
                                   "QEMU cannot unplug an emulated IDE disk: "
                                   "detach it while the VM is halted")
            return   # the guest has let go of it already
        waiter = asyncio.get_running_loop().create_future()
        dom.unplugs.setdefault(dev, []).append(waiter)
        try:
            # Asking again while an earlier request is pending is harmless: the
            # guest is told once more.
            await self._qmp(dom, "device_del", {"id": dev})
            await asyncio.wait_for(waiter, self.unplug_timeout)
        except asyncio.TimeoutError:
            raise BackendError("DEVICE_DETACH_TIMEOUT", kind.upper(), ref,
                               self.unplug_timeout) from None
        finally:
            waiting = dom.unplugs.get(dev, [])
            if waiter in waiting:
                waiting.remove(waiter)

    async def _device_gone(self, dom, dev):
        """QEMU removed device ``dev`` (DEVICE_DELETED): free its host side, then
        wake the detach calls waiting for it, if any are still waiting."""
        kind, _, ref = dev.partition("-")
        if kind == "vbd" and dom.disks.pop(ref, None) is not None:
            # A snapshot's overlays go with the device; the node we added stays ours.
            await self._quietly(dom, "blockdev-del", {"node-name": disk_node(ref)})
        elif kind == "vif" and dom.taps.pop(ref, None) is not None:
            await self._quietly(dom, "netdev_del", {"id": netdev_id(ref)})
        dom.slots.pop(dev, None)
        for waiter in dom.unplugs.pop(dev, []):
            if not waiter.done():
                waiter.set_result(None)

    async def _quietly(self, dom, command, arguments):
        """An undo step that may fail without hiding the error being handled."""
        try:
            await self._qmp(dom, command, arguments)
        except BackendError as err:
            log.warning("QEMU of %s: %s %s failed: %s", dom.uuid, command, arguments,
                        " ".join(err.params))

    async def _power_state(self, uuid):
        dom = self._domains.get(uuid)
        if dom is None:
            return None
        try:
            return await self._state_of(dom)
        except BackendError:
            return None

    async def _dump_core(self, uuid, path):
        path = safe_path(path, "path")
        dom = self._get(uuid, "Paused")
        _create_private_file(path)
        await self._qmp(dom, "dump-guest-memory",
                        {"paging": False, "protocol": "file:" + path, "detach": True})
        while True:
            status = (await self._qmp(dom, "query-dump"))["status"]
            if status == "completed":
                return
            if status == "failed":
                raise BackendError("INTERNAL_ERROR", f"dump-guest-memory to {path} failed")
            await asyncio.sleep(POLL)

    async def _counters(self, dom):
        """Cumulative CPU and disk counters, including those carried over a resume."""
        carry_cpu = dom.carry.get("cpu_seconds", [])
        cpus = sorted(await self._qmp(dom, "query-cpus-fast"), key=lambda c: c["cpu-index"])
        cpu_seconds = []
        for cpu in cpus:
            index = cpu["cpu-index"]
            try:
                seconds = _thread_cpu_seconds(dom.pid, cpu["thread-id"])
            except OSError:
                seconds = 0.0
            cpu_seconds.append(seconds + (carry_cpu[index] if index < len(carry_cpu) else 0.0))
        carry_vbd = dom.carry.get("vbd", {})
        vbd = {}
        for entry in await self._qmp(dom, "query-blockstats"):
            vbd_uuid = _vbd_of_qdev(entry.get("qdev", ""))
            if vbd_uuid not in dom.disks:
                continue
            before = carry_vbd.get(vbd_uuid, {})
            vbd[vbd_uuid] = {key: entry["stats"][key] + before.get(key, 0)
                             for key in ("rd_bytes", "wr_bytes", "rd_operations",
                                         "wr_operations")}
        carry_vif = dom.carry.get("vif", {})
        vif = {}
        for vif_uuid, tap in dom.taps.items():
            counts = netdev.tap_counters(tap)
            if counts is not None:
                before = carry_vif.get(vif_uuid, {})
                vif[vif_uuid] = {key: n + before.get(key, 0) for key, n in counts.items()}
        return {"cpu_seconds": cpu_seconds, "vbd": vbd, "vif": vif}

    async def _metrics(self, uuid):
        dom = self._get(uuid, "Running")
        result = await self._counters(dom)
        with open(f"/proc/{dom.pid}/statm") as f:
            result["memory_rss"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        try:
            # The balloon device is always there, and query-balloon answers the full RAM
            # when no driver in the guest has ever taken memory back: only trust it once
            # the driver has shown up. Until then one qom-get per sample, after it one
            # query-balloon: no sample costs more round trips than before.
            if not dom.balloon_driver:
                dom.balloon_driver = await self._balloon_driver_reported(dom)
            if dom.balloon_driver:
                result["memory_actual"] = (await dom.monitor.execute("query-balloon"))["actual"]
        except CommandFailed:
            pass  # no balloon device active yet
        except MonitorGone:
            raise BackendError("VM_BAD_POWER_STATE", uuid, "Running", "Halted") from None
        return result

    @staticmethod
    async def _balloon_driver_reported(dom):
        """Whether the guest's virtio-balloon driver has reported since the last reset.

        Measured on QEMU 7.2: a Linux driver hands the device a statistics buffer when
        it probes, which sets the device's ``guest-stats`` ``last-update`` (seconds
        since the epoch) without any polling interval; a resumed process sets it again
        when it loads the saved queue, and a guest with no driver leaves it 0. A reset
        keeps the old value, hence the comparison with the time of the last reset.
        """
        stats = await dom.monitor.execute(
            "qom-get", {"path": "/machine/peripheral/balloon0", "property": "guest-stats"})
        return int(stats.get("last-update") or 0) > dom.reset_at
