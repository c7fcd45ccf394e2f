"""QemuBackend: the Backend contract on QEMU, each call run on the QMP loop thread.

The work is done by the package's other modules (see ``__init__``); a method here
finds the guest, hands the operation to the loop (common.LoopThread) and waits for
it. docs/vm-mapping.md lists every VM field's QEMU argument.
"""

import logging
import os
import shutil
import subprocess
import threading

from xen.xend.host import accounts, cgroups, facts
from xen.xend.util import progress

from .. import base
from ..base import BackendError
from ..common import LoopThread, boot_files, check_host_files, check_memory_fits
from ..consolehub import HISTORY_BYTES
from . import counters, debug, hotplug, migrate, power, scheduling, suspend, tlscreds
from .argv import NIC_MODELS
from .argv import validate as validate_vm
from .console import open_rfb
from .events import Notifier
from .process import Processes, open_taps

log = logging.getLogger("xend.backend.qemu")


def choose_accel(accel, account=None):
    """Resolve "tcg" | "kvm" | "auto" to the accelerator QEMU gets: "auto" is KVM where
    the host has it and QEMU, running as ``account`` (None: the daemon's own user), may
    open /dev/kvm."""
    if accel == "auto":
        usable = account is None or accounts.can_read_write(accounts.KVM_DEVICE, account)
        return "kvm" if facts.has_kvm() and usable else "tcg"
    if accel in ("tcg", "kvm"):
        return accel
    raise ValueError(f"accel must be tcg, kvm or auto, not {accel!r}")


class QemuBackend(base.Backend):
    """Runs guests as QEMU processes driven over QMP (one process per guest).

    Beyond the Backend contract: ``power_state``. Each guest's serial console is
    logged to console.log, at most ``console_log_bytes``, and never into the
    ``state_reserve_bytes`` kept free on the state directory's file system (console.py);
    its last ``console_history_bytes`` are kept for the clients of its vt100 console.

    A daemon running as root runs QEMU as ``qemu_user`` (made here when missing, and
    /dev/kvm opened to it as udev would), so that a guest that escapes into its QEMU
    holds no privilege; otherwise QEMU runs as the daemon's own user.

    Each guest's QEMU runs in a CPU cgroup of its own where the host offers the cpu
    controller to the daemon (``cgroups``: host.cgroups.probe by default; None for
    none), which carries VCPUs/params' weight and cap (scheduling.py).
    """

    name = "qemu"

    def __init__(self, on_guest_event=None, accel="auto", qemu_binary="qemu-system-x86_64",
                 reattach_timeout=5.0, console_log_bytes=1 << 20, state_reserve_bytes=0,
                 qemu_user="xend-qemu", console_history_bytes=HISTORY_BYTES,
                 cpu_cgroups=cgroups.probe):
        super().__init__(on_guest_event)
        # Checked here, not at the first VM.start: a daemon that cannot run any guest
        # should not come up looking healthy.
        found = shutil.which(qemu_binary)
        if found is None:
            raise ValueError(f"qemu_binary = {qemu_binary!r}: no executable file by that "
                             "name (a path, or a name looked up on PATH)")
        account = None
        if os.geteuid() == 0:
            accounts.prepare_kvm()
            account = accounts.ensure_user(qemu_user)
        self.accel = choose_accel(accel, account)
        self.qemu_binary = found
        self._audio = None
        # Picked once: a hierarchy mounted later is not used until the daemon restarts.
        self._cgroups, self._no_cgroups = cpu_cgroups()
        self._notifier = Notifier(lambda uuid, kind: self.on_guest_event(uuid, kind))
        # A process found again after a daemon restart has long been up: its monitor
        # greets at once unless QEMU is hung (or stopped), and the daemon's start waits
        # on each in turn (reattach_timeout).
        self._processes = Processes(self.qemu_binary, self.accel, self._notifier,
                                    reattach_timeout, (console_log_bytes, state_reserve_bytes),
                                    console_history_bytes, account, self._cgroups)
        self._loop = LoopThread("xend-qemu-qmp")
        self._dmesg_mark = debug.DmesgMark()     # where a cleared dmesg resumes
        self._dmesg_lock = threading.Lock()
        log.info("qemu backend: %s, accel=%s, as %s, %s", self.qemu_binary, self.accel,
                 account.name if account else "the daemon's user",
                 "CPU cgroups (v%d) in %s" % (self._cgroups.version, self._cgroups.guests)
                 if self._cgroups else "no weight or cap: " + self._no_cgroups)

    # ------------------------------------------------------------------ contract

    def start(self, spec, paused):
        """Start QEMU for ``spec``; the guest runs unless ``paused``. Returns private state.

        VALUE_NOT_SUPPORTED, before QEMU runs, for a boot file that is not there or a
        memory/static_max beyond the host's memory (see _check_can_start)."""
        self._check_can_start(spec)
        with open_taps(spec.nics) as taps:
            return self._loop.run(power.start(self._processes, spec, paused, taps,
                                              self._audio_ok(spec.vm),
                                              progress.reporter()))

    def pause(self, uuid):
        """Stop the vCPUs (QMP ``stop``)."""
        self._on_guest(uuid, "Running", lambda dom: dom.qmp("stop"))

    def unpause(self, uuid):
        """Run the vCPUs again (QMP ``cont``)."""
        self._on_guest(uuid, "Paused", lambda dom: dom.qmp("cont"))

    def clean_shutdown(self, uuid, timeout):
        """Press the ACPI power button and wait for QEMU to exit after the guest's power-off.

        Raises VM_SHUTDOWN_TIMEOUT [uuid, timeout] and leaves the guest running
        if it has not powered off within ``timeout`` seconds.
        """
        self._on_guest(uuid, "Running", power.clean_shutdown, float(timeout))

    def hard_shutdown(self, uuid):
        """``quit`` QEMU (SIGKILL if it does not exit) and reap it; no-op if already gone."""
        async def hard_shutdown():
            dom = self._processes.lookup(uuid)
            if dom is not None:
                await self._processes.kill(dom)
        self._loop.run(hard_shutdown())

    def clean_reboot(self, uuid, timeout):
        """Send Ctrl-Alt-Del and wait for the guest to reset itself.

        Raises VM_SHUTDOWN_TIMEOUT [uuid, timeout] if no guest reset comes in time.
        """
        self._on_guest(uuid, "Running", power.clean_reboot, float(timeout))

    def hard_reboot(self, uuid):
        """Reset the machine (``system_reset``); a crashed guest is also set running."""
        self._on_guest(uuid, "Running", power.hard_reboot)

    def suspend(self, uuid, live, state_file):
        """Migrate the guest's state into ``state_file`` and end the process.

        Without ``live`` the guest is stopped first. The daemon makes ``state_file``
        and QEMU writes it through the descriptor it is handed.
        """
        self._on_guest(uuid, "Running", lambda dom: suspend.suspend(
            self._processes, dom, bool(live), state_file, progress.reporter()))

    def resume(self, spec, state_file, paused):
        """Start a new QEMU with the devices of ``spec`` and load ``state_file`` into it.

        VM_STATE_FILE_MISSING [path] if the file does not exist (QEMU is not
        started); VM_STATE_FILE_CORRUPT [path] if QEMU cannot load it (no
        process is left behind). Returns private state like start().
        """
        if not os.path.isfile(state_file):
            raise BackendError("VM_STATE_FILE_MISSING", state_file)
        self._check_can_start(spec)     # the new QEMU is handed the kernel and cdrom again
        with open_taps(spec.nics) as taps:
            return self._loop.run(suspend.resume(self._processes, spec, state_file, paused,
                                                 taps,
                                                 self._audio_ok(spec.vm),
                                                 progress.reporter()))

    def migrate_receive(self, spec, address, storage="shared", tls=None):
        """Start QEMU for ``spec`` stopped, with ``-incoming defer``, and let it listen
        on ``address`` at a port it picks (migrate.py), over TLS with ``tls``
        (tlscreds.py); returns its private state and the ``uri``, and with ``storage``
        "copy" the ``nbd`` exports of its disks."""
        migrate.check_storage(storage)
        tlscreds.check(tls)
        self._check_can_start(spec)
        with open_taps(spec.nics) as taps:
            return self._loop.run(migrate.receive(self._processes, spec, address, storage,
                                                  taps, self._audio_ok(spec.vm), tls))

    def migrate_send(self, uuid, uri, options):
        """QMP ``migrate`` to ``uri``, followed by ``query-migrate`` until it ends, tuned
        for a short pause (migrate.tuning); ``migrate_cancel`` on a cancel. The guest's
        QEMU here is ended once the migration completed and no cancel came."""
        migrate.check_storage(options.get("storage", "shared"))
        tlscreds.check(options.get("tls"))
        asked = migrate.cancel_asked()
        try:
            with progress.cancellable():
                figures = self._on_guest(uuid, "Running", migrate.send, uri, options,
                                         progress.reporter(), asked,
                                         self._processes.account)
        except progress.Cancelled:
            # Also when the cancel came as the migration completed: the guest stays.
            self._on_guest(uuid, "Running", migrate.stay)
            raise
        self.hard_shutdown(uuid)
        return figures

    def migrate_finish(self, uuid, ok):
        """``cont`` the received guest, or end its QEMU (migrate.finish)."""
        async def finish():
            dom = self._processes.lookup(uuid)
            if dom is None or not dom.receiving:
                # A guest that runs here (not received) is never touched.
                if ok:
                    raise BackendError("VM_MIGRATE_FAILED", uuid,
                                       "no guest is being received here")
                return None
            return await migrate.finish(self._processes, dom, ok)
        return self._loop.run(finish())

    def reattach(self, uuid, private):
        """Find the QEMU process described by ``private`` again.

        Returns "Running" or "Paused", "Unknown" while its monitor does not answer, or
        None when that process is gone.
        """
        return self._loop.run(self._processes.reattach(uuid, private))

    def metrics(self, uuid):
        """Counters of a running guest.

        ``{"cpu_seconds": [float per vCPU], "memory_rss": bytes,
        "memory_actual": bytes (when the balloon reports it),
        "vbd": {vbd_uuid: {rd_bytes, wr_bytes, rd_operations, wr_operations}},
        "vif": {vif_uuid: {rx_bytes, tx_bytes}} (tap counters, guest's view)}``.
        Counters are cumulative across suspend/resume.
        """
        return self._on_guest(uuid, "Running", counters.metrics)

    def attach_disk(self, uuid, disk):
        """``blockdev-add`` + ``device_add`` a virtio disk at a free PCI slot; the
        node is deleted again if device_add fails. QEMU cannot hot-plug IDE:
        VALUE_NOT_SUPPORTED [VBD/driver, ioemu, reason] for an ioemu disk."""
        self._on_guest(uuid, "Running", hotplug.attach_disk, disk)

    def detach_disk(self, uuid, vbd):
        """``device_del``, wait for DEVICE_DELETED, ``blockdev-del`` (see Backend)."""
        self._on_guest(uuid, "Running", hotplug.detach, "vbd", vbd, self.unplug_timeout)

    def change_medium(self, uuid, disk):
        """Swap the CD-ROM drive's medium through its tray (hotplug.change_medium)."""
        self._on_guest(uuid, "Running", hotplug.change_medium, disk)

    def device_properties(self, uuid, kind, ref):
        """The device, its PCI slot, a disk's block node and cache mode, a NIC's tap
        (hotplug.device_properties)."""
        return self._on_guest(uuid, "Running", hotplug.device_properties, kind, ref)

    def attach_nic(self, uuid, nic):
        """Make the VIF's tap, pass it over QMP (``getfd``), ``netdev_add`` +
        ``device_add`` at a free PCI slot; each step undone if a later one fails."""
        with open_taps([nic]) as taps:
            self._on_guest(uuid, "Running", hotplug.attach_nic, nic, taps[nic.vif])

    def detach_nic(self, uuid, vif):
        """``device_del``, wait for DEVICE_DELETED, ``netdev_del`` (which ends the tap)."""
        self._on_guest(uuid, "Running", hotplug.detach, "vif", vif, self.unplug_timeout)

    def consoles(self, uuid):
        """A guest running here: "vt100" where the daemon reads its console, "rfb"
        where it has a display."""
        async def consoles():
            return self._consoles_of(self._processes.lookup(uuid))
        return self._loop.run(consoles())

    def open_console(self, uuid, protocol, writer=True, live=True):
        """vt100: a new client of the guest's console hub (consolehub.py), whose input
        is written to the guest's serial port while it is the writer (without ``live``:
        its history, then EOF). rfb: a new client of its VNC server (console.open_rfb),
        which keeps no history."""
        async def open_console():
            dom = self._processes.lookup(uuid)
            if protocol not in self._consoles_of(dom):
                raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                                   "VM %s has no %s console now" % (uuid, protocol))
            if protocol == "rfb":
                if not live:
                    raise BackendError("VALUE_NOT_SUPPORTED", "console", protocol,
                                       "an rfb console keeps no history to dump")
                return await open_rfb(dom)
            return dom.hub.attach(writer, live)
        return self._loop.run(open_console())

    def close(self):
        """Drop QMP connections and threads; the guests keep running."""
        if self._loop is None:
            return
        # Let pending event callbacks finish first: they may still call the backend.
        self._notifier.close()
        self._loop.run(self._processes.close())
        self._loop.stop()
        self._loop = None

    def validate(self, vm):
        """VALUE_NOT_SUPPORTED for VM fields this QEMU cannot honour (see argv.py,
        scheduling.py)."""
        validate_vm(vm, audio_ok=self._audio_ok(vm))
        scheduling.validate(vm, self._cgroups, self._no_cgroups)

    def set_vcpu_params(self, uuid, params):
        """The weight and cap in the guest's CPU cgroup, each vCPU thread pinned as
        ``params`` says (scheduling.py)."""
        self._on_guest(uuid, "Running", scheduling.apply, self._cgroups, params)

    def nic_models(self):
        """The models of argv.NIC_MODELS."""
        return tuple(sorted(NIC_MODELS))

    def dump_core(self, uuid, path):
        """Write the guest's memory as an ELF core file to ``path`` (absolute)."""
        self._on_guest(uuid, "Paused", suspend.dump_core, path)

    def snapshot_disk(self, uuid, vbd, new_leaf):
        """Freeze the running guest's disk ``vbd``: QEMU creates the qcow2 overlay
        ``new_leaf`` on top of the current image and writes there from now on."""
        self._on_guest(uuid, "Running", hotplug.snapshot_disk, vbd, new_leaf)

    def set_memory_target(self, uuid, target):
        """Ask the guest's balloon driver to use ``target`` bytes (memory/dynamic_max)."""
        self._on_guest(uuid, "Running", lambda dom: dom.qmp("balloon", {"value": int(target)}))

    # 1.0: host facts

    def capabilities(self):
        """HVM guests of the target of the QEMU binary (qemu-system-ARCH)."""
        arch = os.path.basename(self.qemu_binary).rpartition("qemu-system-")[2]
        return base.hvm_capabilities(arch or "x86_64")

    def sched_policy(self):
        """credit: each guest's CPU cgroup carries the credit scheduler's weight and cap
        (scheduling.py), as Xen's credit scheduler does."""
        return "credit"

    def dmesg(self, clear=False):
        """The host kernel's KVM lines, then each running guest's qemu.log (debug.py);
        ``clear`` moves the mark past them."""
        async def dmesg():
            return self._processes.running()
        domains = self._loop.run(dmesg())
        with self._dmesg_lock:
            text, after = debug.host_log(domains, self._dmesg_mark)
            if clear:
                self._dmesg_mark = after
        return text

    def send_sysrq(self, uuid, key):
        """alt+sysrq+``key`` on the guest's keyboard (QMP ``send-key``)."""
        self._on_guest(uuid, "Running", debug.send_sysrq, key)

    def send_trigger(self, uuid, trigger, vcpu):
        """QMP ``inject-nmi``, a reset as hard_reboot's, ``system_powerdown``; no INIT."""
        self._on_guest(uuid, "Running", debug.send_trigger, trigger, vcpu)

    def set_vcpus(self, uuid, n):
        """``device_add`` of the CPU type ``query-hotpluggable-cpus`` reports, or
        ``device_del`` and wait until the guest ejected it (see Backend.set_vcpus);
        no unplug without KVM (hotplug.set_vcpus)."""
        self._on_guest(uuid, "Running", hotplug.set_vcpus, n, self.unplug_timeout,
                       self.accel == "kvm")

    # ------------------------------------------------------------- extra API

    def power_state(self, uuid):
        """"Running" or "Paused" for a guest this backend runs ("Unknown" while its
        monitor does not answer), None otherwise."""
        async def power_state():
            dom = self._processes.lookup(uuid)
            if dom is None:
                return None
            try:
                return await self._processes.state_of(dom)
            except BackendError:
                return None
        return self._loop.run(power_state())

    # ------------------------------------------------------------ internals

    def _on_guest(self, uuid, expected, operation, *args):
        """Run ``operation(dom, *args)`` on the loop for the guest of VM ``uuid`` and
        return its result; VM_BAD_POWER_STATE [uuid, expected, Halted] without one."""
        async def run():
            return await operation(self._processes.get(uuid, expected), *args)
        return self._loop.run(run())

    @staticmethod
    def _consoles_of(dom):
        """The consoles of guest ``dom`` (None: no guest); on the loop."""
        if dom is None:
            return []
        return (["vt100"] if dom.hub is not None else []) + (["rfb"] if dom.display else [])

    @staticmethod
    def _check_can_start(spec):
        # What QEMU would only fail on after spawning, with an error that names no field.
        check_host_files(spec, boot_files(spec.vm))
        check_memory_fits(spec.vm, facts.memory()[0])

    def _audio_ok(self, vm):
        """Whether this QEMU can give ``vm`` the audio it asks for (if any)."""
        return not vm.platform_enable_audio or self._audio_supported()

    def _audio_supported(self):
        if self._audio is None:
            out = subprocess.run([self.qemu_binary, "-device", "help"],
                                 capture_output=True, text=True).stdout
            self._audio = '"AC97"' in out
        return self._audio
