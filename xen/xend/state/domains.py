"""The domain owner: the only code that changes a VM's power state.

It follows the lifecycle table (api/lifecycle.py) for every operation: under
the VM's own lock it re-reads the power state, looks the transition up, shows
the transient state if the row has one, asks the backend to do the work, and
commits the final state (with resident_on and the backend's private data) in
one store transaction. A backend failure restores the state it started from.
Guest-initiated shutdowns, reboots and crashes arrive from the backend and are
applied through actions/* the same way.
"""

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid

from ..api import lifecycle, xmltime
from ..api.errors import ApiError
from ..api.types import NULL_REF
from ..backend.base import (
    GUEST_REBOOT,
    GUEST_SHUTDOWN,
    BackendError,
)
from ..util import progress
from ..util.files import unlink_if_exists
from .guestactions import GUEST_ACTION_FIELD, GuestActions
from .guestspecs import GuestSpecs
from .hostfailure import HostFailure
from .migration import MOVED, Migrations
from .saves import SavedGuests

log = logging.getLogger("xend.domains")


# Operations that may overtake another one on the same VM: hard_shutdown ends a guest
# that a clean shutdown or reboot is still waiting for (the table's ShuttingDown row).
PREEMPTS = {"hard_shutdown": ("clean_shutdown", "clean_reboot")}

# How long an overtaken operation waits for the one that overtook it to store its outcome
# (a hard_shutdown: QEMU's quit, then SIGKILL), before it answers by the state it finds.
OVERTAKER_WAIT = 60.0

# §2.6.2: a clean shutdown or reboot asked through the API ends as the guest's own would,
# with its actions/*. Only one action per call makes a difference: the one that does not
# leave the VM where the table's transition did (restart after a shutdown, destroy after
# a reboot). Hard operations never consult actions/* (docs/api.md says why).
API_ACTIONS = {"clean_shutdown": (GUEST_SHUTDOWN, "restart", lifecycle.HALTED),
               "clean_reboot": (GUEST_REBOOT, "destroy", lifecycle.RUNNING)}

# What each operation that starts or stops a guest did, as its log line says (_log_power).
OP_EVENTS = {"start": "started", "resume": "resumed", "suspend": "suspended",
             "clean_shutdown": "stopped (clean shutdown)",
             "hard_shutdown": "stopped (hard shutdown)",
             "clean_reboot": "rebooted (clean reboot)", "hard_reboot": "rebooted (hard reboot)",
             "save": "stopped (saved to a file)", "restore": "started (restored from a file)"}


# Operations after which the guest is a new domain, as a Xen reboot makes one: it gets a
# new domid and start_time (_set_state's ``fresh``).
REBOOTS = ("clean_reboot", "hard_reboot")

# The daemon's own facts of a VM's guest, kept in its stored record under names no wire
# field has ("_"; VM.domid, start_time and crashed are read from them), so that they
# survive a daemon restart with the record; a clone does not copy them.
GUEST_KEYS = ("_domid", "_start_time", "_crashed")


def require_features(rec, features):
    """VALUE_NOT_SUPPORTED naming the CPU features VM record ``rec`` requires that are
    not in ``features`` (a host's), if any."""
    missing = sorted(set(rec.get("VCPUs_features_required", [])) - features)
    if missing:
        raise ApiError("VALUE_NOT_SUPPORTED", "VCPUs/features/required", ",".join(missing),
                       "the host's CPUs lack these features")


class Domains(GuestSpecs, GuestActions, SavedGuests, HostFailure, Migrations):
    """Runs VM operations through the lifecycle table and a backend."""

    def __init__(self, app, backend):
        self.app = app
        self.store = app.store
        self.backend = backend
        self._busy = {}            # vm -> the operation holding it
        self._preempted = {}       # vm -> Event: its operation was overtaken; set once
                                   # the overtaking one is done
        self._copies = {}          # vm -> {VDI: its copy here}, while a migration copies
                                   # its disks to this host (state/migration.py)
        self._busy_lock = threading.Lock()
        self._restarted = {}       # vm -> monotonic time an actions/* restart started it
        self._starting = set()     # VMs being started: they hold their disks already
        self._disks_lock = threading.Lock()
        backend.on_guest_event = self.guest_event
        # A guest gets as long to let go of an unplugged device as to shut down.
        backend.unplug_timeout = app.config.get("shutdown_timeout", backend.unplug_timeout)

    # -- the one way to run an operation ---------------------------------------

    def run(self, vm, op, work, start_paused=False, committed=None):
        """Run lifecycle operation ``op`` on ``vm``; ``work()`` returns private state, None,
        or migration.MOVED (the guest went to another host, which stored its state).
        ``committed()``, if given, runs once the final state is stored, still holding the
        VM: what the operation may only discard once it can no longer be rolled back.
        Returns True, or False when another operation overtook this one (PREEMPTS) and
        so decided where the VM ends (see _overtaken)."""
        table_op = lifecycle.table_op(op, start_paused)
        with self._claim(vm, table_op) as overtaking:
            # An overtaken operation leaves the state to the one that overtook it.
            def owns_state():
                return overtaking or vm not in self._preempted
            state = self.store.get("VM", vm).get("power_state", lifecycle.HALTED)
            t = self.check(vm, table_op)
            if t.transient:
                self._set_state(vm, t.transient)
            progress.report(0.05)
            try:
                private = work()
            except (ApiError, BackendError) as e:
                if owns_state():
                    if not getattr(e, "stored", False):   # else work() stored the outcome
                        self._set_state(vm, state)
                    raise
                # What went wrong is the overtaking operation's doing (QEMU killed under
                # a clean shutdown): the answer is the outcome it leaves.
                return self._overtaken(vm, t)
            except BaseException:
                if owns_state():
                    self._set_state(vm, state)
                raise
            progress.report(0.95)
            if not owns_state():
                return self._overtaken(vm, t)
            if private is MOVED:     # the guest's new host stored where it is now
                return True
            made_guest = t.final in lifecycle.LIVE_STATES and state not in lifecycle.LIVE_STATES
            self._commit(vm, t.final, private, made_guest=made_guest,
                         event=OP_EVENTS.get(op), fresh=made_guest or op in REBOOTS)
            if committed is not None:
                committed()
            return True

    def _overtaken(self, vm, t):
        """The answer of an operation on ``vm`` (Transition ``t``) that another overtook,
        once that one is done: none (False, and the caller follows no actions/*) where the
        VM ended where this operation would have left it (a clean shutdown overtaken by
        a hard one: Halted either way), else VM_BAD_POWER_STATE [vm, t.final, the state
        it is in] (a clean reboot overtaken by a hard shutdown: Halted, not Running)."""
        self._preempted[vm].wait(OVERTAKER_WAIT)
        state = (self.store.get("VM", vm) or {}).get("power_state", lifecycle.HALTED)
        if state != t.final:
            raise ApiError("VM_BAD_POWER_STATE", vm, t.final, state)
        return False

    def run_held(self, vm, work):
        """Run ``work(power_state)``, a change that keeps the power state (a VBD or VIF
        plugged or unplugged, the VM made a template: lifecycle.STILL), while holding
        ``vm`` as a lifecycle operation does: nothing starts, stops or suspends it
        meanwhile. OTHER_OPERATION_IN_PROGRESS if an operation holds it. Returns work's
        result."""
        with self._claim(vm, "device change"):
            return work(self.store.get("VM", vm).get("power_state", lifecycle.HALTED))

    def check(self, vm, table_op, here=True):
        """The Transition ``table_op`` would make, or the error that forbids it:
        VM_IS_TEMPLATE, VM_BAD_POWER_STATE, and with ``here`` (the operation runs on
        this host) HOST_DISABLED, unmet required features. Dispatch calls it before a
        call (so Async calls fail at once), run() again under the VM's claim."""
        rec = self.store.get("VM", vm)
        state = rec.get("power_state", lifecycle.HALTED)
        if rec.get("is_a_template") and table_op not in lifecycle.TEMPLATE_OPS:
            raise ApiError("VM_IS_TEMPLATE", vm)
        t = lifecycle.require_transition(vm, state, table_op, lifecycle.is_control_domain(rec))
        host = rec.get("resident_on")
        if here and host and host != self.app.host_ref:
            # Another host's backend holds the guest: this one would judge it gone.
            raise ApiError("OPERATION_NOT_ALLOWED", "VM %s is resident on host %s of the "
                           "pool: ask that host's daemon" % (vm, host))
        if here and table_op in lifecycle.STARTING_OPS:
            self._check_host_can_run(vm, rec)
        return t

    @contextlib.contextmanager
    def _claim(self, vm, op, wait=False):
        """Hold ``vm`` for ``op``: OTHER_OPERATION_IN_PROGRESS if it is busy, unless ``op``
        may preempt the running one (PREEMPTS); with ``wait`` (guest events, which must
        never be lost), wait for it instead. Yields True when ``op`` overtook another."""
        owned = False
        while True:
            with self._busy_lock:
                current = self._busy.get(vm)
                if current is None:
                    self._busy[vm] = op
                    owned = True
                    break
                if current in PREEMPTS.get(op, ()):
                    done = self._preempted.setdefault(vm, threading.Event())
                    break
                if not wait:
                    raise ApiError("OTHER_OPERATION_IN_PROGRESS", "VM", vm)
            time.sleep(0.05)
        try:
            yield not owned
        finally:
            if owned:
                with self._busy_lock:
                    self._busy.pop(vm, None)
                    self._preempted.pop(vm, None)
            else:
                done.set()       # the overtaken operation may answer now

    def _check_host_can_run(self, vm, rec):
        """HOST_DISABLED, HOST_NOT_LIVE (fenced: its lease is not renewed), or
        VALUE_NOT_SUPPORTED naming required CPU features it lacks."""
        if not self.store.get("host", self.app.host_ref).get("enabled", True):
            raise ApiError("HOST_DISABLED", self.app.host_ref)
        if self.app.leases is not None and self.app.leases.fenced:
            raise ApiError("HOST_NOT_LIVE", self.app.host_ref)
        require_features(rec, self.app.host_features())

    def _commit(self, vm, state, private, made_guest, event=None, fresh=False):
        """Store the state an operation ended in (``event``, ``fresh``: see _set_state). With
        ``made_guest`` (the operation made the guest: a start or resume), a store that
        cannot take it (a full disk) gets the guest hard-shut-down before the error goes
        on: the store keeps its old state, and a guest it does not know of would run
        unseen, to be started a second time."""
        try:
            self._set_state(vm, state, private, event, fresh=fresh)
        except BaseException:
            if made_guest:
                self._stop_unrecorded(vm)
            raise

    def _stop_unrecorded(self, vm):
        try:
            self.backend.hard_shutdown(vm)
            log.warning("VM %s: its new state could not be stored; guest stopped", vm)
        except BackendError as e:
            log.error("VM %s: its new state could not be stored, and stopping its guest "
                      "failed: %s", vm, e)

    def _set_state(self, vm, state, private=None, event=None, fresh=False, crashed=False,
                   also=None):
        """Store ``vm``'s power state, where it resides, the backend's private data (if
        given) and the console records of the guest it now has, in one transaction.
        ``event``: the guest started or stopped, and how (OP_EVENTS): logged once the
        state is stored, so each transition is logged once and only if it happened.
        ``fresh``: the guest is a new domain (started, resumed, rebooted): it gets a
        domid and start_time. ``crashed``: it is kept as it crashed; the flag goes with
        the next change of power state. ``also(txn)``: more of the same change, in its
        transaction (a migrated guest's disks moving with it)."""
        resident = self.app.host_ref if state in lifecycle.LIVE_STATES else NULL_REF
        if not resident or private is not None:
            self.app.sampler.forget(vm)   # a stopped or new guest has no figures yet
        try:
            protocols = self.backend.consoles(vm) if resident else []
            with self.store.transaction() as txn:
                rec = txn.get("VM", vm)
                if rec is None:
                    return
                changes = {}
                # Unchanged (a guest found again as it was): no write, no event.
                if (rec.get("power_state"), rec.get("resident_on")) != (state, resident):
                    changes.update(power_state=state, resident_on=resident)
                if crashed or (changes and rec.get("_crashed")):
                    changes["_crashed"] = crashed
                if fresh:
                    changes.update(_domid=self._new_domid(txn, private),
                                   _start_time=xmltime.stamp(time.time()))
                if changes:
                    txn.update("VM", vm, changes)
                if also is not None:
                    also(txn)
                if private is not None:
                    txn.set_private("VM", vm, private)
                if not lifecycle.holds_devices(state):
                    self._forget_unplugged(txn, vm)
                self._sync_consoles(txn, vm, protocols)
        finally:
            self._starting.discard(vm)    # its power state says whether it holds disks now
        if event:
            self._log_power(vm, event)

    @staticmethod
    def _forget_unplugged(txn, vm):
        """Drop what the stopped ``vm``'s devices kept of its guest (devices.py): which
        were unplugged and how their last attach went. Its next guest has them all."""
        for cls in ("VBD", "VIF"):
            for ref in txn.referrers(cls, "VM", vm):
                if txn.private(ref):
                    txn.set_private(cls, ref, {})

    def _new_domid(self, txn, private):
        """The domid of a new guest: the hypervisor's (``private``'s "domid", Xen's),
        else one above the last the daemon gave, which the host's private data keeps
        (so no domid is given twice while the daemon's state lives)."""
        if (private or {}).get("domid") is not None:
            return private["domid"]
        host = self.app.host_ref
        last = txn.private(host).get("last_domid", 0) + 1
        txn.set_private("host", host, dict(txn.private(host), last_domid=last))
        return last

    def _log_power(self, vm, event):
        """One INFO line in the fixed shape ``VM 'NAME' (UUID): EVENT[ (HOW)]`` that log
        filters and GET /vm-log rely on: EVENT is started, stopped, crashed, suspended,
        resumed or rebooted (docs/api.md)."""
        name = (self.store.get("VM", vm) or {}).get("name_label", "")
        log.info("VM '%s' (%s): %s", name, vm, event)

    @staticmethod
    def _sync_consoles(txn, vm, protocols):
        """Make ``vm``'s console records one per protocol in ``protocols`` (what the
        backend offers for its guest now): those of protocols it no longer offers go,
        those it keeps keep their ref and other_config, new ones are made."""
        have = {}
        for ref in txn.referrers("console", "VM", vm):
            protocol = txn.get("console", ref)["protocol"]
            if protocol in protocols:
                have[protocol] = ref
            else:
                txn.delete("console", ref)
        for protocol in protocols:
            if protocol not in have:
                txn.create("console", str(uuid.uuid4()),
                           {"VM": vm, "protocol": protocol, "other_config": {}})

    # -- who holds which disk ---------------------------------------------------

    def holds_disks(self, reader, vm):
        """Whether ``vm`` holds its disks: resident, suspended with them, or being started
        (still Halted, its disks already promised to it). ``reader``: the store or a
        transaction."""
        return (lifecycle.holds_devices(reader.get("VM", vm).get("power_state"))
                or vm in self._starting)

    @contextlib.contextmanager
    def _starting_with_disks(self, vm):
        """The spec that starts ``vm``, made under one lock with every other start's: its
        disks are checked for other users (VDI_IN_USE, disk_spec) and, until the VM's
        power state is set, it counts as their user. Two VMs started at once cannot both
        get a disk only one may write (the second would otherwise fail in the
        hypervisor)."""
        with self._disks_lock:
            spec = self.spec(vm)
            self._starting.add(vm)
        try:
            yield spec
        except BaseException:
            self._starting.discard(vm)
            raise

    @contextlib.contextmanager
    def unheld_disk(self, vdi, operation):
        """A block in which no VM holds the VDI ``vdi`` and none can start with it (the
        start's disk check waits): for replacing its image. VDI_IN_USE [vdi,
        ``operation``] where a VM holds it now."""
        with self._disks_lock:
            for vbd in self.store.referrers("VBD", "VDI", vdi):
                if self.holds_disks(self.store, self.store.get("VBD", vbd)["VM"]):
                    raise ApiError("VDI_IN_USE", vdi, operation)
            yield

    # -- a resident guest, changed in place ----------------------------------------

    def set_memory_target(self, vm, target):
        """Move the resident guest ``vm``'s balloon to ``target`` bytes."""
        self.backend.set_memory_target(vm, target)

    def set_VCPUs_number_live(self, vm, nvcpu):
        """Hot-plug or unplug vCPUs of the running guest ``vm`` until it has ``nvcpu``,
        which becomes VCPUs/at_startup: a resume needs the vCPUs the guest was saved
        with, and a start gives the guest what it was last left with. INVALID_VALUE
        [VCPUs_number, ...] outside 1..VCPUs/max."""
        def work():
            most = self.store.get("VM", vm).get("VCPUs_max", 1)
            if not 1 <= nvcpu <= most:
                raise ApiError("INVALID_VALUE", "VCPUs_number",
                               "%d (must be 1..%d: VCPUs/max)" % (nvcpu, most))
            self.backend.set_vcpus(vm, nvcpu)
            with self.store.transaction() as txn:
                txn.update("VM", vm, {"VCPUs_at_startup": nvcpu})
        self.run(vm, "set_VCPUs_number_live", work)

    def set_vcpu_params(self, vm, params):
        """Apply VCPUs/params (a VcpuParams) to the resident guest ``vm``."""
        self.backend.set_vcpu_params(vm, params)

    def snapshot_disk(self, vm, vbd, new_leaf):
        """Switch the resident guest ``vm``'s disk ``vbd`` to the new overlay ``new_leaf``."""
        self.backend.snapshot_disk(vm, vbd, new_leaf)

    def plug(self, vm, cls, ref, rec):
        """Hot-plug the VBD or VIF (``cls``) ``ref``, record ``rec``, into the resident
        guest ``vm``; the backend's new private state, or None."""
        if cls == "VBD":
            return self.backend.attach_disk(vm, self.disk_spec(ref, rec))
        spec = self.nic_spec(ref, rec)
        self.make_bridges([rec])
        return self.backend.attach_nic(vm, spec)

    def unplug(self, vm, cls, ref):
        """Take the VBD or VIF (``cls``) ``ref`` out of the running guest ``vm``, unless
        VBD.unplug or VIF.unplug did; the backend's new private state, or None."""
        if self.store.private(ref).get("unplugged"):
            return None
        detach = self.backend.detach_disk if cls == "VBD" else self.backend.detach_nic
        return detach(vm, ref)

    def change_medium(self, vm, vbd, rec):
        """Put the VDI of ``rec`` (VBD ``vbd``'s record to be) in the CD drive ``vbd`` of
        the resident guest ``vm``."""
        self.backend.change_medium(vm, self.disk_spec(vbd, rec))

    def device_properties(self, vm, kind, ref):
        """The backend's live facts ({str: str}) of the guest ``vm``'s device ``ref`` (kind
        "vbd" or "vif"); empty where the backend has none (the guest just went)."""
        try:
            return self.backend.device_properties(vm, kind, ref)
        except BackendError:
            return {}

    # -- operations -------------------------------------------------------------

    def vm_dir(self, vm):
        """The directory of ``vm``'s files (the hypervisor's own, saved state, core
        dumps), made only by what writes there (_made_vm_dir, the backends), removed
        with the VM (delete)."""
        return os.path.join(self.app.state_dir, "vms", vm)

    def _made_vm_dir(self, vm):
        path = self.vm_dir(vm)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def suspend_file(self, vm):
        return os.path.join(self.vm_dir(vm), "suspend.state")

    def delete(self, vm, remove):
        """Delete ``vm`` by ``remove()`` (its records' deletion) while holding it, so no
        operation starts it meanwhile; once it is gone, its directory goes too."""
        self.run(vm, "delete", remove,
                 committed=lambda: shutil.rmtree(self.vm_dir(vm), ignore_errors=True))

    def start(self, vm, paused, force=False):
        """Start ``vm``; ``force`` is the later revisions' flag to skip pre-boot checks,
        of which the daemon has none to skip."""
        self.run(vm, "start", lambda: self._start(vm, paused), paused)

    def _start(self, vm, paused):
        with self._starting_with_disks(vm) as spec:
            self.make_bridges(self._vifs_of(vm))
            return self.backend.start(spec, paused)

    def pause(self, vm):
        self.run(vm, "pause", lambda: self.backend.pause(vm))

    def unpause(self, vm):
        self.run(vm, "unpause", lambda: self.backend.unpause(vm))

    def clean_shutdown(self, vm):
        timeout = self.app.config.get("shutdown_timeout", 60)
        if self.run(vm, "clean_shutdown", lambda: self._stopped(
                self.backend.clean_shutdown(vm, timeout))):
            self._follow_actions(vm, "clean_shutdown")

    def hard_shutdown(self, vm):
        state = self.store.get("VM", vm).get("power_state")
        if state == lifecycle.SUSPENDED:
            self.run(vm, "hard_shutdown", lambda: self._discard_suspend(vm))
        else:
            self.run(vm, "hard_shutdown", lambda: self._stopped(self.backend.hard_shutdown(vm)))

    def clean_reboot(self, vm):
        timeout = self.app.config.get("shutdown_timeout", 60)
        if self.run(vm, "clean_reboot", lambda: self.backend.clean_reboot(vm, timeout)):
            self._follow_actions(vm, "clean_reboot")

    def _follow_actions(self, vm, op):
        """After ``op`` (API_ACTIONS) succeeded: apply the VM's action where it differs
        from what the operation left, as after the guest's own shutdown or reboot."""
        kind, differing, left_in = API_ACTIONS[op]
        if (self.store.get("VM", vm) or {}).get(GUEST_ACTION_FIELD[kind]) == differing:
            self._apply_actions(vm, kind, "%s asked" % op, only_in=left_in)

    def hard_reboot(self, vm):
        self.run(vm, "hard_reboot", lambda: self.backend.hard_reboot(vm))

    def suspend(self, vm, live=False):
        """Suspend ``vm`` to its suspend file (1.0's suspend has no ``live``)."""
        def work():
            self._made_vm_dir(vm)
            return self._stopped(self.backend.suspend(vm, live, self.suspend_file(vm)))
        self.run(vm, "suspend", work)

    def resume(self, vm, paused):
        path = self.suspend_file(vm)

        def work():
            spec = self.spec(vm)
            self.make_bridges(self._vifs_of(vm))
            return self.backend.resume(spec, path, paused)
        # The saved state goes only once the VM is stored as resumed: until then a
        # failure leaves it Suspended, and resumable.
        self.run(vm, "resume", work, paused, committed=lambda: unlink_if_exists(path))

    def dump_core(self, vm, path):
        """Write the resident guest ``vm``'s memory to ``path``; it runs on after."""
        self.run(vm, "dump_core", lambda: self.backend.dump_core(vm, path))

    def send_sysrq(self, vm, key):
        self.run(vm, "send_sysrq", lambda: self.backend.send_sysrq(vm, key))

    def send_trigger(self, vm, trigger, vcpu):
        """A reset is a hard reboot done by the trigger (its row, its log line); the
        power button's outcome, if the guest heeds it, is the guest's own shutdown."""
        op = "hard_reboot" if trigger == "reset" else "send_trigger"
        self.run(vm, op, lambda: self.backend.send_trigger(vm, trigger, vcpu))

    @staticmethod
    def _stopped(_):
        return {}   # a stopped guest has no backend state to remember

    def _discard_suspend(self, vm):
        unlink_if_exists(self.suspend_file(vm))
        return {}

    # -- after a daemon restart -------------------------------------------------

    def reattach_all(self):
        """Find every guest the store says is running on this host; reconcile the ones
        that are gone. Other hosts' guests are theirs to find."""
        for vm in self.store.referrers("VM", "resident_on", self.app.host_ref):
            # The control domain is no guest of the backend's: the daemon runs in it.
            if self.store.get("VM", vm).get("power_state") not in lifecycle.LIVE_STATES or \
                    vm == self.app.control_domain:
                continue
            try:
                state = self.backend.reattach(vm, self.store.private(vm))
            except BackendError as e:
                log.warning("VM %s: reattach failed: %s", vm, e)
                state = lifecycle.UNKNOWN
            if state is None:
                self._set_state(vm, lifecycle.HALTED, {},
                                "stopped (guest gone while the daemon was down)")
            else:
                # Also when the state is unchanged: the consoles are the guest's as the
                # backend found it again.
                self._set_state(vm, state, None)
        self.backend.watch_guests()

    def recheck_unknown(self):
        """Ask the backend again about resident guests that are Unknown (their monitor did
        not answer at reattach): one that was only stopped or busy gets its real state
        back instead of waiting for a hard_shutdown. Run by the sampler; a VM that an
        operation holds is left to it."""
        for vm in self.store.referrers("VM", "resident_on", self.app.host_ref):
            if (self.store.get("VM", vm) or {}).get("power_state") != lifecycle.UNKNOWN:
                continue
            try:
                with self._claim(vm, "recheck"):
                    state = self.backend.reattach(vm, self.store.private(vm))
                    if state is None:
                        self._set_state(vm, lifecycle.HALTED, {},
                                        "stopped (its Unknown guest is gone)")
                    elif state != lifecycle.UNKNOWN:
                        log.info("VM %s: Unknown guest answers again; now %s", vm, state)
                        self._set_state(vm, state, None)
            except (ApiError, BackendError) as e:   # busy, or the backend could not tell
                log.debug("VM %s: recheck: %s", vm, e)
