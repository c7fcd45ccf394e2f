"""What the domain owner does when a member of a pool fails (a mix-in of
state/domains.py's Domains; docs/pool.md, "Host failure"). The leases
(state/leases.py) say when:

  * ``fence``: this host could not renew its lease for most of it, so the other
    members may soon take its guests over: every guest here is hard-stopped through
    the backend at once (the store refuses writes then: its database is what was lost);
  * ``rejoin``: the database is back after a fence: the records of the guests stopped
    are put right (Halted), unless another member took them over meanwhile;
  * ``lapsed_start``: the daemon starts and finds its lease expired while it was down:
    its guests may be running elsewhere now, so it runs none of them;
  * ``take_over``: other members' leases expired: in one write transaction (under the
    writers' lock, so exactly one survivor does it) their guests become Halted, then
    those whose ``ha_restart_priority`` asks for it are started here, in ``order``.
"""

import logging
import threading

from ..api import lifecycle
from ..api.errors import ApiError
from ..api.types import NULL_REF
from ..backend.base import BackendError

log = logging.getLogger("xend.domains")

# ha_restart_priority values that restart a guest of a dead host, first to last ("":
# never).
RESTART_RANKS = {"restart": 0, "best-effort": 1}


class HostFailure:
    """The domain owner's part in a member's failure (see the module's docstring)."""

    _takeover = None    # the thread of the running takeover, if one runs

    def _guests_on(self, host):
        """The guests the store says ``host`` runs (its control domain is no guest)."""
        return [vm for vm in self.store.referrers("VM", "resident_on", host)
                if not (self.store.get("VM", vm) or {}).get("is_control_domain")
                and self.store.get("VM", vm).get("power_state") in lifecycle.LIVE_STATES]

    def _own_guests(self):
        return self._guests_on(self.app.host_ref)

    def fence(self):
        """Hard-stop every guest here, straight through the backend (no claim to wait
        for: an operation holding a VM finds its guest gone; no record to write)."""
        for vm in self._own_guests():
            try:
                self.backend.hard_shutdown(vm)
                log.error("VM %s: guest stopped: this host could not renew its lease "
                          "(fenced)", vm)
            except BackendError as e:
                log.error("VM %s: stopping its guest for the fence failed: %s", vm, e)

    def rejoin(self):
        """The records of the guests the fence stopped: Halted where they are still this
        host's. True once stored (False: the store still refuses writes)."""
        try:
            self._halt_gone(self._own_guests(), "stopped (fenced: the lease was not renewed)")
        except ApiError as e:
            log.warning("lease: renewed, but the guests' records cannot be put right "
                        "yet: %s", e)
            return False
        log.info("lease: renewed again after the fence; this host's stopped guests are "
                 "Halted (none is restarted)")
        return True

    def lapsed_start(self):
        """At a start whose lease had expired: stop the guests the records still place
        here, and any left in the backend by the last run that now belong elsewhere, and
        store those of here Halted."""
        own = set(self._own_guests())
        for vm, rec in self.store.records("VM"):
            if rec.get("is_control_domain"):
                continue
            private = self.store.private(vm) if vm in own else {}
            try:
                if self.backend.reattach(vm, private) is not None:
                    self.backend.hard_shutdown(vm)
                    log.warning("VM %s: guest stopped: this host's lease expired while "
                                "the daemon was down", vm)
            except BackendError as e:
                log.warning("VM %s: stopping a guest left from before the lease expired "
                            "failed: %s", vm, e)
        self._halt_gone(own, "stopped (the host's lease expired while the daemon was down)")

    def _halt_gone(self, vms, event):
        """Store each of ``vms`` (guests no longer running) Halted, in one transaction,
        where it is still this host's."""
        with self.store.transaction() as txn:
            for vm in vms:
                rec = txn.get("VM", vm)
                if rec is not None and rec.get("resident_on") == self.app.host_ref:
                    self._halt_record(txn, vm)
        for vm in vms:
            self._log_power(vm, event)

    def _halt_record(self, txn, vm):
        txn.update("VM", vm, {"power_state": lifecycle.HALTED, "resident_on": NULL_REF,
                              "_crashed": False})
        txn.set_private("VM", vm, {})
        self._forget_unplugged(txn, vm)
        self._sync_consoles(txn, vm, [])
        self.app.sampler.forget(vm)

    # -- other members' death ---------------------------------------------------------

    def dead_seen(self, hosts):
        """Called with the members whose leases were seen expired: a takeover (on a
        thread of its own: it may start guests) where any of them still has guests."""
        if not any(self._guests_on(host) for host in hosts):
            return
        if self._takeover is not None and self._takeover.is_alive():
            return
        self._takeover = threading.Thread(target=self.take_over, name="takeover",
                                          daemon=True)
        self._takeover.start()

    def take_over(self):
        """Halt the guests of every member whose lease expired (the database's answer,
        under the writers' lock: a member renewing meanwhile is not dead, and a second
        survivor finds them Halted already), then start those to restart here."""
        halted = []
        try:
            with self.store.transaction() as txn:
                for host in self.app.leases.expired():
                    for vm in txn.referrers("VM", "resident_on", host):
                        rec = txn.get("VM", vm)
                        if rec.get("is_control_domain") or \
                                rec.get("power_state") not in lifecycle.LIVE_STATES:
                            continue
                        self._halt_record(txn, vm)
                        halted.append((vm, host))
        except Exception as e:   # the database gone again: the next renewal retries
            log.warning("pool: taking over a dead member's guests failed: %s", e)
            return
        for vm, host in halted:
            self._log_power(vm, "stopped (host %s is dead: its lease expired)" % host)
        self._restart(vm for vm, _ in halted)

    def _restart(self, vms):
        """Start each of ``vms`` whose ha_restart_priority asks for it, on the member
        placement chooses (api/placement.py): "restart" ones first, then "best-effort",
        each in ``order`` (lower first). One that no member can start (no room, a disk
        none reaches) is left Halted, and logged."""
        ranked = []
        for vm in vms:
            rec = self.store.get("VM", vm)
            rank = RESTART_RANKS.get(rec.get("ha_restart_priority", ""))
            if rank is not None:
                ranked.append((rank, rec.get("order", 0), rec.get("name_label", ""), vm))
        for _, _, name, vm in sorted(ranked):
            try:
                self.app.start_placed(vm)
                log.info("VM '%s' (%s): restarted on host %s after its host died",
                         name, vm, self.store.get("VM", vm).get("resident_on"))
            except (ApiError, BackendError) as e:
                log.warning("VM '%s' (%s): not restarted after its host died; left "
                            "Halted: %s", name, vm, e)
