"""SR.introduce, SR.scan, SR.forget, VDI.introduce and VDI.forget: SRs and VDIs over
files the administrator already has (host/sradopt.py), mix-ins of the SR and VDI
handlers (storage.py).

An adopted VDI *is* its file: the record holds its path, ``adopted`` in its private
data (and ``user_adopted`` where a user other than root adopted it: QEMU's descriptors
are then opened under the roots at every start too), and no call but VDI.delete (in an
image SR) ever removes it. Who may adopt what
follows docs/security.md: root anything its path_roots allow; another user only
regular files under the guest file roots, reached without symbolic links, with a
qcow2 backing chain that stays under them too (or its guest would read any file the
daemon can); block devices are root's.
"""

import logging
import os

from ...host import srdrivers
from ...util.guestfiles import PathRefused, open_guest_file
from ..errors import ApiError
from ..values import check_path
from .base import new_ref

log = logging.getLogger("xend.storage")

SECTOR = 512


def adopting(sr_type, field="type"):
    """The driver of ``sr_type``; VALUE_NOT_SUPPORTED unless it is an SR of existing
    files."""
    d = srdrivers.SR_TYPES.get(sr_type)
    if d is None or not d.adopts:
        raise ApiError("VALUE_NOT_SUPPORTED", field, sr_type,
                       "only SRs of existing files (%s) adopt them" % ", ".join(
                           sorted(t for t, x in srdrivers.SR_TYPES.items() if x.adopts)))
    return d


class SRAdoption:
    """SR.introduce, SR.scan and SR.forget (a mix-in of SRHandler)."""

    def may_adopt(self, call, d, location):
        """PERMISSION_DENIED unless ``call``'s user may adopt the files of a ``d`` SR at
        ``location``: root, or another user for a non-root type under the roots."""
        if call.is_root:
            return
        if d.root_only:
            raise ApiError("PERMISSION_DENIED", "only root may adopt %s devices" % d.type)
        check_path(location, "location", self.app.guest_file_roots())

    def introduce(self, call, sr_type, location, name_label):
        d = adopting(sr_type)
        roots = self._roots() if call.is_root else self.app.guest_file_roots()
        location = srdrivers.check_location(location, "location", roots)
        self.may_adopt(call, d, location)
        return self.make(new_ref(), {"type": d.type, "location": location,
                                     "name_label": name_label, "name_description": ""})

    def scan(self, call, sr):
        rec = self.store.get("SR", sr)
        d = adopting(rec["type"], "SR.type")
        self.may_adopt(call, d, rec["location"])
        vdi_h = self.app.handlers["VDI"]
        with self.app.sr_lock(sr):
            known = {self.store.private(v).get("path"): v
                     for v in self.store.referrers("VDI", "SR", sr)}
            try:
                found = d.members(rec["location"])
            except OSError as e:
                raise ApiError("INVALID_VALUE", "location",
                               "%s (%s)" % (rec["location"], e.strerror)) from None
            for path in found:
                if path in known:
                    continue
                try:
                    vdi_h.adopt(call, sr, rec, d, path)
                except ApiError as e:   # one unusable file does not stop the scan
                    log.info("SR.scan %s: %s not adopted: %s", sr, path, e.args)
            for path, vdi in known.items():
                # A VDI some VBD refers to stays, file or not: its VM says what is missing.
                if not os.path.lexists(path) and not self.store.referrers("VBD", "VDI", vdi):
                    vdi_h.forget(call, vdi)

    def forget(self, call, sr):
        rec = self.store.get("SR", sr)
        vdis = self.store.referrers("VDI", "SR", sr)
        with self.store.transaction() as txn:
            for vdi in vdis:
                self.app.handlers["VDI"].remove(call, txn, vdi)
            self.remove(call, txn, sr)
        # Once the records are gone: an nfs SR's export is unmounted.
        srdrivers.driver(rec.get("type", "dir")).forget(rec["location"],
                                                        rec.get("device_config"))


class VDIAdoption:
    """VDI.introduce and VDI.forget (a mix-in of VDIHandler)."""

    def _location(self, ref, rec):
        return self.store.private(ref).get("path", "")

    def _managed(self, ref, rec):
        return not self.store.private(ref).get("adopted", False)

    def introduce(self, call, sr, location):
        rec = self.store.get("SR", sr)
        d = adopting(rec["type"], "SR.type")
        path = check_path(location, "location")
        if path == "" or not srdrivers.same_place(os.path.dirname(path), rec["location"]):
            raise ApiError("INVALID_VALUE", "location", "%s (not a file directly in %s, "
                           "the directory of SR %s)" % (location, rec["location"], sr))
        for v in self.store.referrers("VDI", "SR", sr):
            if self.store.private(v).get("path") == path:
                raise ApiError("INVALID_VALUE", "location", "%s (VDI %s already)" % (path, v))
        with self.app.sr_lock(sr):
            return self.adopt(call, sr, rec, d, path)

    def adopt(self, call, sr, sr_rec, d, path):
        """A new VDI of SR ``sr`` (record ``sr_rec``, driver ``d``) that is the file
        ``path``; refused where ``call``'s user may not point a guest at it."""
        self.app.handlers["SR"].may_adopt(call, d, sr_rec["location"])
        if not call.is_root:
            self._check_user_file(path)
        fmt, size = d.probe(path)
        if fmt == "qcow2" and not call.is_root:
            for backing in d.backing_files(path):
                self._check_user_file(backing)
        ref = new_ref()
        stored = {"name_label": os.path.basename(path), "name_description": "",
                  "SR": sr, "virtual_size": -(-size // SECTOR), "sector_size": SECTOR,
                  "read_only": d.read_only, "sharable": False}
        with self.store.transaction() as txn:
            self.insert(txn, ref, stored, call=call,
                        private={"path": path, "format": fmt, "adopted": True,
                                 "user_adopted": not call.is_root})
        return ref

    def _check_user_file(self, path):
        """PERMISSION_DENIED unless a user other than root may point a guest at ``path``
        (util.guestfiles: a regular file under the roots, no link on the way)."""
        try:
            os.close(open_guest_file(path, self.app.guest_file_roots()))
        except PathRefused as e:
            raise ApiError("PERMISSION_DENIED", "image %s: %s" % (path, e.reason)) from None

    def forget(self, call, vdi):
        with self.store.transaction() as txn:
            self.remove(call, txn, vdi)
