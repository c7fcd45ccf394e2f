"""SR (§2.11), VDI (§2.12) and VBD (§2.13): records and their copy-on-write relations."""

from ..errors import ApiError
from .base import ClassHandler, new_ref

# VDI fields a snapshot does not copy from its parent.
_NOT_SNAPSHOTTED = ("parent",)


class SRHandler(ClassHandler):
    cls_name = "SR"
    computed = {"virtual_allocation": "_virtual_allocation",
                "physical_utilisation": "_physical_utilisation"}

    def _vdis(self, ref):
        return [self.store.get("VDI", v) for v in self.store.referrers("VDI", "SR", ref)]

    def _virtual_allocation(self, ref, rec):
        return sum(v.get("virtual_size", 0) * v.get("sector_size", 512) for v in self._vdis(ref))

    def _physical_utilisation(self, ref, rec):
        return 0

    def clone(self, call, sr, loc, name):
        """A new SR of the same type at ``loc`` holding a copy of every VDI, with the
        parent/child chains between them preserved."""
        new = new_ref()
        vdi_h = self.app.handlers["VDI"]
        with self.store.transaction() as txn:
            rec = dict(txn.get("SR", sr), location=loc, name_label=name)
            self.insert(txn, new, rec)
            copies = {}
            pending = txn.referrers("VDI", "SR", sr)
            while pending:   # parents before children, so each parent ref exists
                ready = [v for v in pending
                         if txn.get("VDI", v).get("parent") not in pending]
                for v in ready:
                    vrec = dict(txn.get("VDI", v), SR=new)
                    vrec["parent"] = copies.get(vrec.get("parent"), "")
                    copies[v] = new_ref()
                    vdi_h.insert(txn, copies[v], vrec)
                pending = [v for v in pending if v not in copies]
        return new


class VDIHandler(ClassHandler):
    cls_name = "VDI"
    computed = {"physical_utilisation": "_physical_utilisation"}

    def _physical_utilisation(self, ref, rec):
        return 0

    def validate(self, txn, ref, old, new):
        if new.get("virtual_size", 0) < 0:
            raise ApiError("INVALID_VALUE", "virtual_size", str(new["virtual_size"]))
        if new.get("sector_size", 512) <= 0:
            raise ApiError("INVALID_VALUE", "sector_size", str(new["sector_size"]))

    def snapshot(self, call, vdi):
        with self.store.transaction() as txn:
            return self.snapshot_in(txn, vdi)

    def snapshot_in(self, txn, vdi):
        """Make a snapshot of ``vdi`` inside ``txn``; returns the new VDI's ref."""
        ref = new_ref()
        rec = {k: v for k, v in txn.get("VDI", vdi).items() if k not in _NOT_SNAPSHOTTED}
        rec["parent"] = vdi
        self.insert(txn, ref, rec)
        return ref


class VBDHandler(ClassHandler):
    cls_name = "VBD"
    computed = {"IO_bandwidth_incoming_kbs": "_zero", "IO_bandwidth_outgoing_kbs": "_zero"}

    def _zero(self, ref, rec):
        return 0.0
