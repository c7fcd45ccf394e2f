"""What follows when a guest shuts down, reboots, suspends, crashes or dies on its own:
the actions/* fields (spec §2.6.2) as tables of steps, and the steps. A mix-in of
state/domains.py's Domains, whose ``store``, ``backend`` and operations it uses."""

import logging
import time

from ..api import lifecycle
from ..api.errors import ApiError
from ..backend.base import (
    GUEST_CRASH,
    GUEST_DIED,
    GUEST_REBOOT,
    GUEST_SHUTDOWN,
    GUEST_SUSPEND,
    BackendError,
)

log = logging.getLogger("xend.domains")

# What the guest did -> the actions/* field that says what follows.
GUEST_ACTION_FIELD = {
    GUEST_SHUTDOWN: "actions_after_shutdown",
    GUEST_REBOOT: "actions_after_reboot",
    GUEST_SUSPEND: "actions_after_suspend",
    GUEST_CRASH: "actions_after_crash",
    GUEST_DIED: "actions_after_crash",
}

# (what the guest did, action) -> the steps that carry the action out, in order.
# A guest shutdown has already ended the hypervisor process; a guest reboot has
# already reset the machine in place (it is only logged); a crashed guest is stopped but alive (so
# it can be dumped); a guest that died left nothing behind.
GUEST_ACTIONS = {
    (GUEST_SHUTDOWN, "destroy"): ("halt",),
    (GUEST_SHUTDOWN, "restart"): ("halt", "start"),
    (GUEST_REBOOT, "restart"): ("rebooted",),
    (GUEST_REBOOT, "destroy"): ("kill", "halt"),
    (GUEST_SUSPEND, "destroy"): ("kill", "halt"),
    (GUEST_SUSPEND, "restart"): ("reset",),
    (GUEST_CRASH, "destroy"): ("kill", "halt"),
    (GUEST_CRASH, "coredump_and_destroy"): ("dump", "kill", "halt"),
    (GUEST_CRASH, "restart"): ("kill", "halt", "start"),
    (GUEST_CRASH, "coredump_and_restart"): ("dump", "kill", "halt", "start"),
    (GUEST_CRASH, "preserve"): ("paused",),
    (GUEST_CRASH, "rename_restart"): ("rename",),
    (GUEST_DIED, "destroy"): ("halt",),
    (GUEST_DIED, "coredump_and_destroy"): ("halt",),
    (GUEST_DIED, "restart"): ("halt", "start"),
    (GUEST_DIED, "coredump_and_restart"): ("halt", "start"),
    (GUEST_DIED, "preserve"): ("halt",),
    (GUEST_DIED, "rename_restart"): ("halt", "start"),
}


# What the guest did -> the word its log line uses for a guest stopped after it ("stopped"
# otherwise).
GUEST_STOP_EVENTS = {GUEST_CRASH: "crashed", GUEST_DIED: "crashed"}

# The steps that bring a guest back, and what each becomes when it comes too soon after
# the last restart (restart_min_interval): the crashed guest is kept, or stays Halted.
RESTART_STEPS = {"start": None, "rename": "paused"}


class GuestActions:
    """The guest's own events, carried out as its actions/* fields say."""

    # -- what the guest does on its own -------------------------------------

    def guest_event(self, vm, kind):
        """Apply actions/* after the guest shut down, rebooted, suspended, crashed or died."""
        self._apply_actions(vm, kind, "guest " + kind)

    def _apply_actions(self, vm, kind, cause, only_in=None):
        """Carry out the VM's actions/* for ``kind`` (what the guest did); with
        ``only_in``, only if the VM is still in that power state once held (an operation
        that came first decides instead)."""
        rec = self.store.get("VM", vm)
        if rec is None:
            return
        action = rec.get(GUEST_ACTION_FIELD[kind], "destroy")
        with self._claim(vm, cause, wait=True):
            if only_in is not None and \
                    (self.store.get("VM", vm) or {}).get("power_state") != only_in:
                return
            steps = self._rate_limited(vm, action,
                                       GUEST_ACTIONS.get((kind, action), ("kill", "halt")))
            log.debug("VM %s: %s; actions say %s: %s", vm, cause, action, ", ".join(steps))
            why = "%s; %s %s" % (cause, GUEST_ACTION_FIELD[kind], action)
            for step in steps:
                try:
                    getattr(self, "_step_" + step)(vm, kind, why)
                except (ApiError, BackendError) as e:
                    log.warning("VM %s: %s after guest %s failed: %s", vm, step, kind, e)
                    break

    def _rate_limited(self, vm, action, steps):
        """``steps``, without a restart that would come within restart_min_interval of
        the last one this VM (or the guest it was copied from) had."""
        interval = self.app.config.get("restart_min_interval", 0)
        last = self._restarted.get(vm)
        if last is not None and time.monotonic() - last >= interval:
            del self._restarted[vm]             # kept only while it can matter
            last = None
        if not interval or last is None or not any(step in RESTART_STEPS for step in steps):
            return steps
        log.warning("VM %s: restarted less than %s s ago and down again: not restarting "
                    "it (actions %s; restart_min_interval)", vm, interval, action)
        return tuple(RESTART_STEPS.get(step, step) for step in steps
                     if RESTART_STEPS.get(step, step) is not None)

    # Each step gets the VM, what the guest did and why the step runs (for the log line
    # of a step that starts, stops or reboots the guest).

    def _step_kill(self, vm, kind, why):
        self.backend.hard_shutdown(vm)

    def _step_halt(self, vm, kind, why):
        # After an API clean_shutdown the VM is Halted already, and its stop logged.
        stopped = self.store.get("VM", vm).get("power_state") != lifecycle.HALTED
        self._set_state(vm, lifecycle.HALTED, {},
                        stopped and "%s (%s)" % (GUEST_STOP_EVENTS.get(kind, "stopped"), why))

    def _step_paused(self, vm, kind, why):
        # Only a crashed guest is kept (preserve, or a rename_restart held back).
        self._set_state(vm, lifecycle.PAUSED, None,
                        "%s (%s)" % (GUEST_STOP_EVENTS.get(kind, "stopped"), why),
                        crashed=True)

    def _step_reset(self, vm, kind, why):
        self.backend.hard_reboot(vm)
        self._step_rebooted(vm, kind, why)

    def _step_rebooted(self, vm, kind, why):
        # The guest is a new domain, as after a reboot on Xen: a new domid and start_time.
        self._set_state(vm, self.store.get("VM", vm).get("power_state"), None,
                        "rebooted (%s)" % why, fresh=True)

    def _step_dump(self, vm, kind, why):
        # Kept as a crashdump: a VDI of its own (api/handlers/crashdump.py). A core that
        # cannot be kept (no room) must not keep the crashed guest alive: the steps go on.
        try:
            dump = self.app.handlers["crashdump"].capture(
                vm, lambda path: self.backend.dump_core(vm, path))
        except (ApiError, BackendError, OSError) as e:
            log.warning("VM %s: no crash dump kept: %s", vm, e)
            return
        log.info("VM %s: core dumped to crashdump %s", vm, dump)

    def _step_start(self, vm, kind, why):
        self._restarted[vm] = time.monotonic()
        self._commit(vm, lifecycle.RUNNING, self._start(vm, False), made_guest=True,
                     event="started (%s)" % why, fresh=True)

    def _step_rename(self, vm, kind, why):
        """Keep the crashed guest, renamed, and start a copy of it under the old name."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        rec = self.store.get("VM", vm)
        self._log_power(vm, "%s (%s)" % (GUEST_STOP_EVENTS.get(kind, "stopped"), why))
        # The kept guest still holds its disks: the copy runs on snapshots of them.
        copy = self.app.handlers["VM"].copy_record(vm, rec.get("name_label", ""),
                                                   snapshot_disks=True)
        with self.store.transaction() as txn:
            txn.update("VM", vm, {"name_label": "%s-crashed-%s" % (rec.get("name_label"), stamp),
                                  "power_state": lifecycle.PAUSED, "_crashed": True})
        self._restarted[copy] = time.monotonic()   # the copy inherits the crash's clock
        self._commit(copy, lifecycle.RUNNING, self._start(copy, False), made_guest=True,
                     event="started (%s)" % why, fresh=True)
