"""crashdump (Xen-API 1.0): a crashed guest's memory, kept in a VDI of its own.

When a guest crashes and its VM's actions/after_crash is coredump_and_destroy or
coredump_and_restart, the domain owner (state/guestactions.py) has the guest's memory
written here (``capture``): a core into a new VDI of type crashdump in the host's
crash_dump_SR, or the daemon's default SR, and a crashdump record binding the VM to
it. Destroying the crashdump removes the VDI with it; the VDI itself is not deleted
while the crashdump holds it, and deleting the VM drops its crashdumps' records (their
VDIs stay, as disks of the SR).
"""

import time

from ..errors import ApiError
from .base import ClassHandler, new_ref


class CrashdumpHandler(ClassHandler):
    cls_name = "crashdump"

    def validate(self, txn, ref, old, new):
        # One crashdump per VDI: destroying either removes the VDI.
        holders = (txn or self.store).referrers("crashdump", "VDI", new["VDI"])
        if old is None and holders:
            raise ApiError("OBJECT_IN_USE", "VDI", new["VDI"], "crashdump", ",".join(holders))

    def delete(self, call, ref, first=None):
        """The record and its VDI, in one transaction (refused as a whole where the VDI
        cannot go, e.g. while a VBD uses it)."""
        rec = self.stored_record(ref)
        if rec is None:
            raise ApiError("HANDLE_INVALID", self.cls.name, ref)
        self.may_write(call, ref)
        self.app.handlers["VDI"].delete(call, rec["VDI"],
                                        first=lambda txn: self.remove(call, txn, ref))

    def capture(self, vm, write_core):
        """Keep the memory of ``vm``'s crashed guest, written by ``write_core(path)``, as
        a crashdump; returns its ref. ApiError where there is no SR to hold it."""
        sr = self._dump_sr()
        name = (self.store.get("VM", vm) or {}).get("name_label", "") or vm
        vdi, ref = new_ref(), new_ref()
        self.app.handlers["VDI"].make_from_raw(vdi, {
            "SR": sr, "type": "crashdump", "read_only": True,
            "name_label": "crash dump of %s" % name,
            "name_description": "the guest's memory at its crash, %s"
                                % time.strftime("%Y-%m-%d %H:%M:%S")},
            write_core, then=lambda txn: self.insert(txn, ref, {"VM": vm, "VDI": vdi}))
        return ref

    def _dump_sr(self):
        """The host's crash_dump_sr where it names an SR, else the default SR."""
        named = self.app.handlers["host"].read(self.app.host_ref, "crash_dump_sr")
        if named:
            return named
        sr = self.app.handlers["SR"].default_sr()
        if sr is None:
            raise ApiError("OPERATION_NOT_ALLOWED", "no SR to keep a crash dump in: set "
                           "host.crash_dump_sr")
        return sr
