"""PBD (Xen-API 1.0): how a host reaches an SR.

There is one PBD for each SR and each host that reaches it (state/srreach.py): a local
SR's one, on the host it is local to; a shared SR's one on every member, so that a host
joining the pool gains one for each shared SR and an ejected host loses its own. A PBD
is never stored: it is a view of its SR's record (handlers/derived.py) for one host,
its ref the UUID derived (uuid5) from the SR's and the host's, the same at every start
and on every member. Its device_config is what the SR's type driver says of the SR
(srdrivers: the location and the type's keys); it is currently_attached where the
host has the SR attached (srreach.attached).
"""

import uuid as uuidlib

from ...host import srdrivers
from ...state import srreach
from .derived import DerivedHandler

# The UUIDs of PBDs are made in this namespace from "<SR>/<host>".
_NAMESPACE = uuidlib.UUID("5f1c8a43-3c62-4a53-9a2e-7f0d0b5e2c11")

# The private keys of the SR's record, as a PBD's view holds it, naming the PBD's SR
# and host (so that its fields need not find them again).
_PBD_SR, _PBD_HOST = "_pbd_SR", "_pbd_host"


def pbd_ref(sr, host):
    """The ref of the PBD through which ``host`` reaches ``sr``."""
    return str(uuidlib.uuid5(_NAMESPACE, "%s/%s" % (sr, host)))


class PBDHandler(DerivedHandler):
    cls_name = "PBD"
    computed = {"host": "_host", "SR": "_sr", "device_config": "_device_config",
                "currently_attached": "_attached"}

    def _pairs(self, sr, rec):
        """(PBD ref, host) of each host reaching the SR ``sr``."""
        return [(pbd_ref(sr, h), h) for h in srreach.hosts_reaching(self.app, rec)]

    def _find(self, ref):
        """(SR, host) of the PBD ``ref``, or (None, None) where no SR has it."""
        for sr, rec in self.store.records("SR"):
            for pbd, host in self._pairs(sr, rec):
                if pbd == ref:
                    return sr, host
        return None, None

    # -- the owner's views: one per reaching host, not one per SR -------------------

    def ref_of(self, owner_ref):
        raise NotImplementedError("an SR has a PBD per host: of_sr")

    def owner_ref(self, ref):
        return self._find(ref)[0]

    def stored_record(self, ref):
        sr, host = self._find(ref)
        rec = self.owner.stored_record(sr) if sr else None
        return None if rec is None else dict(rec, **{_PBD_SR: sr, _PBD_HOST: host})

    def source_value(self, wire, ref, rec):
        return self.owner.source_value(wire, rec[_PBD_SR], rec)

    def visible_records(self, call):
        return [(pbd, dict(rec, **{_PBD_SR: sr, _PBD_HOST: host}))
                for sr, rec in self.owner.visible_records(call)
                for pbd, host in self._pairs(sr, rec)]

    # -- the fields -------------------------------------------------------------------

    @staticmethod
    def _host(ref, rec):
        return rec[_PBD_HOST]

    @staticmethod
    def _sr(ref, rec):
        return rec[_PBD_SR]

    @staticmethod
    def _device_config(ref, rec):
        return srdrivers.driver(rec.get("type", "dir")).device_config(
            rec.get("location", ""), rec.get("device_config"))

    def _attached(self, ref, rec):
        return srreach.attached(self.app, rec[_PBD_HOST], rec[_PBD_SR], rec)

    def of_sr(self, sr):
        """The PBDs of the SR ``sr``: one per host reaching it."""
        rec = self.store.get("SR", sr)
        return [pbd for pbd, _ in self._pairs(sr, rec)] if rec else []

    def of_host(self, host):
        """The PBDs of ``host``: one per SR it reaches."""
        return [pbd_ref(sr, host) for sr, rec in self.store.records("SR")
                if host in srreach.hosts_reaching(self.app, rec)]
