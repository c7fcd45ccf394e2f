"""The devices of a VM (VBD, VIF): what creating and deleting one means, which is the
same for both classes: on a halted VM a record; on a resident one a hot-plug into the
guest (or out of it), with the record changed only once the guest has it."""

from .. import lifecycle
from ..errors import ApiError
from .base import ClassHandler, new_ref


class DeviceHandler(ClassHandler):
    """A class of VM devices, plugged into and out of guests by the domain owner
    (Domains.plug, Domains.unplug)."""

    def create(self, call, record):
        """A device of a halted VM is a record; one of a Running or Paused VM is
        hot-plugged first and recorded once the guest has it."""
        self.may_write(call, None)
        stored, bound = self.record_from_wire(record, call.revision)
        ref = new_ref()
        return self.app.domains.run_held(
            stored["VM"], lambda state: self._plug(ref, stored, bound, state))

    def delete(self, call, ref):
        """Deleting a device of a Running VM unplugs it from the guest first."""
        rec = self.store.get(self.cls_name, ref)
        if rec is None:
            raise ApiError("HANDLE_INVALID", self.cls_name, ref)
        self.may_write(call, ref)
        self.app.domains.run_held(
            rec["VM"], lambda state: self._unplug(call, ref, rec["VM"], state))

    def _plug(self, ref, stored, bound, state):
        """Create device ``ref`` of a VM in ``state``: the record alone on a halted VM;
        on a resident one the hot-plug first and the record (with the backend's new
        private state, if any) only once that succeeded; should the commit fail, the
        device is unplugged again."""
        vm = stored["VM"]
        lifecycle.require_still(vm, "plug", state)
        if state != lifecycle.HALTED:
            with self.store.transaction() as txn:
                # Refuse before touching the guest; normalises ``stored`` (a VIF's MAC).
                self.validate(txn, ref, None, stored)
            domains = self.app.domains
            private = domains.plug(vm, self.cls_name, ref, stored)
            try:
                with self.store.transaction() as txn:
                    self.insert(txn, ref, stored, bound)
                    if private is not None:
                        txn.set_private("VM", vm, private)
            except BaseException:
                domains.unplug(vm, self.cls_name, ref)
                raise
            return ref
        with self.store.transaction() as txn:
            self.insert(txn, ref, stored, bound)
        return ref

    def _unplug(self, call, ref, vm, state):
        """Delete device ``ref`` of ``vm``, a VM in ``state``; on a Running VM only once
        the domain owner took it out of the guest."""
        rec = self.store.get(self.cls_name, ref)
        if rec is None or rec["VM"] != vm:   # deleted or moved while we waited for the VM
            raise ApiError("HANDLE_INVALID", self.cls_name, ref)
        lifecycle.require_still(vm, "unplug", state)
        private = None
        if state == lifecycle.RUNNING:
            private = self.app.domains.unplug(vm, self.cls_name, ref)
        with self.store.transaction() as txn:
            self.remove(call, txn, ref)
            if private is not None:
                txn.set_private("VM", vm, private)
