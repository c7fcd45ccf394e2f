"""SR (§2.11), VDI (§2.12) and VBD (§2.13): records over real image files.

File work (srdrivers.py) happens before the records are committed, and is undone
if the commit fails, so a Failure never leaves an orphaned image and a Success
never names a missing one. In the same way a VBD of a resident VM is hot-plugged
before its record is committed, and unplugged before its record is deleted.
"""

import os
import shutil

from ...backend.spec import DISK_DEVICE
from ...host import imagexfer, srdrivers
from ...state import srreach
from ...util import progress
from ...util.files import fs_size, same_file_system
from .. import lifecycle
from ..errors import ApiError
from .adoption import SRAdoption, VDIAdoption
from .base import HOST_KEY, ClassHandler, new_ref
from .devices import DeviceHandler

# VDI fields a snapshot does not copy from its parent.
_NOT_SNAPSHOTTED = ("parent",)

# The sector sizes a VDI may have: the logical block sizes QEMU and Xen's blkback
# present to a guest. Any other would make a disk that is no whole number of them.
SECTOR_SIZES = (512, 4096)


def vdi_bytes(rec):
    """The bytes a VDI's record promises its guests: what its SR's allocation counts."""
    return rec.get("virtual_size", 0) * rec.get("sector_size", 512)


def capacity(sr_rec):
    """An SR's capacity in bytes: the physical_size SR.create was given, or (none given,
    or 0) the size of the file system the SR is on."""
    return (sr_rec.get("physical_size")
            or srdrivers.driver(sr_rec.get("type", "dir")).physical_size(sr_rec["location"]))


class SRHandler(SRAdoption, ClassHandler):
    cls_name = "SR"
    computed = {"virtual_allocation": "_virtual_allocation",
                "physical_utilisation": "_physical_utilisation",
                "physical_size": "_physical_size", "content_type": "_content_type",
                "shared": "_shared",
                # 1.0: host's interfaces, storage and objects
                "PBDs": "_pbds"}

    def _pbds(self, ref, rec):
        return self.app.handlers["PBD"].of_sr(ref)

    def insert(self, txn, ref, stored, bound=None, private=None, call=None):
        """A local SR made here is local to this host (HOST_KEY): its files are here
        alone. A shared one is every member's (state/srreach.py): it names no host."""
        if not srreach.is_shared(stored):
            stored = dict(stored, **{HOST_KEY: self.app.host_ref})
        super().insert(txn, ref, stored, bound, private, call)

    def require_here(self, sr):
        """OPERATION_NOT_ALLOWED unless the files of ``sr`` are on this host: another
        host's local SR is that host's to change (a shared SR's are every member's)."""
        rec = self.store.get("SR", sr)
        host = srreach.local_host(self.app, rec) if rec is not None else None
        if host not in (None, self.app.host_ref):
            raise ApiError("OPERATION_NOT_ALLOWED", "SR %s is local to host %s: its files "
                           "are changed only there" % (sr, host))

    def _here(self, rec):
        """Whether this host reaches the SR of record ``rec`` (its own or a shared one)."""
        return srreach.local_host(self.app, rec) in (None, self.app.host_ref)

    def _driver(self, rec):
        return srdrivers.driver(rec.get("type", "dir"))

    def _roots(self):
        """Where SRs may live: path_roots, and always the daemon's own sr directory."""
        roots = self.app.config["path_roots"]
        return list(roots) + [os.path.join(self.app.state_dir, "sr")] if roots else []


    def clone(self, call, sr, loc, name):
        self.may_write(call, sr)
        return self._clone(sr, loc, name)

    def _virtual_allocation(self, ref, rec):
        return self.store.total("VDI", "SR", ref)

    def _files_here(self, rec):
        """Whether the SR's files can be read on this host: its own SR, or a shared one
        it has attached (another member's SR, or an export not mounted yet, has no
        directory here to measure)."""
        return self._here(rec) and os.path.isdir(rec["location"])

    def _physical_utilisation(self, ref, rec):
        return self._driver(rec).physical_utilisation(rec["location"]) \
            if self._files_here(rec) else 0

    def _physical_size(self, ref, rec):
        return capacity(rec) if self._files_here(rec) else rec.get("physical_size") or 0

    def _shared(self, ref, rec):
        return self._driver(rec).shared

    def _content_type(self, ref, rec):
        return "iso" if self._driver(rec).cdrom else ""

    def get_supported_types(self, call):
        """The SR types, named as the session's revision names them (SR.type)."""
        name = self.cls.field("type", call.revision).same_as
        return sorted(name.read(t) if name else t for t in srdrivers.SR_TYPES)

    def validate(self, txn, ref, old, new):
        content = new.get("content_type", "")
        if content and content != self._content_type(ref, new):
            raise ApiError("INVALID_VALUE", "content_type", "%s (an SR of type %s holds "
                           "content_type \"%s\")" % (content, new.get("type") or "dir",
                                                       self._content_type(ref, new)))
        if new.get("physical_size", 0) < 0:
            raise ApiError("INVALID_VALUE", "physical_size",
                           "%d (a capacity in bytes; 0 for the file system's size)"
                           % new["physical_size"])

    def create(self, call, record):
        self.may_write(call, None)
        stored, bound = self.record_from_wire(record, call.revision)
        if srdrivers.driver(stored.get("type") or "dir").adopts:
            raise ApiError("VALUE_NOT_SUPPORTED", "type", stored["type"],
                           "an SR of existing files is adopted with SR.introduce")
        ref = new_ref()
        return self.make(ref, stored, bound)

    def make(self, ref, stored, bound=None):
        """Create the SR ``ref`` and its directory; used by create and at first start."""
        d = srdrivers.driver(stored.get("type") or "dir")
        stored["type"] = d.type
        stored["location"] = srdrivers.check_location(
            stored.get("location") or os.path.join(self.app.state_dir, "sr", ref), "location",
            self._roots())
        for other, rec in self.store.records("SR"):
            # One directory under two names would be two SRs deleting each other's images
            # (another host's local SR is a directory of another machine).
            if self._here(rec) and \
                    srdrivers.same_place(rec["location"], stored["location"]):
                raise ApiError("INVALID_VALUE", "location",
                               "%s (used by SR %s)" % (stored["location"], other))
        config = stored["device_config"] = d.check_config(stored.get("device_config") or {})
        existed = os.path.exists(stored["location"])
        d.attach(stored["location"], config)
        try:
            with self.store.transaction() as txn:
                self.insert(txn, ref, stored, bound)
                if d.shared:
                    srreach.note_attached(self.app, txn, ref)
        except BaseException:
            if not existed:
                d.detach(stored["location"], config)
            raise
        return ref

    def default_sr(self):
        """The SR the daemon puts its own images in where none is named (a crashdump's):
        the pool's default_SR where root named one, else the one the daemon made at
        first start, while they exist; None otherwise."""
        named = self.app.handlers["pool"].default_sr_named()
        if named is not None:
            return named
        default = os.path.join(self.app.state_dir, "sr", "default")
        for ref, rec in self.store.records("SR"):
            if srreach.local_host(self.app, rec) == self.app.host_ref and \
                    srdrivers.same_place(rec["location"], default):
                return ref
        return None

    def delete(self, call, ref):
        self.require_here(ref)
        rec = self.store.get("SR", ref)
        super().delete(call, ref)
        self._driver(rec).detach(rec["location"], rec.get("device_config"))

    def _clone(self, sr, loc, name):
        """A new SR of the same type at ``loc`` with a copy of every VDI, backing
        chains and parent/child links preserved."""
        rec = self.store.get("SR", sr)
        loc = srdrivers.check_location(loc, "loc", self._roots())
        if os.path.exists(loc):
            raise ApiError("INVALID_VALUE", "loc", "%s (already exists)" % loc)
        d = self._driver(rec)
        vdis = self.store.referrers("VDI", "SR", sr)
        leaves = {v: self.store.private(v)["path"] for v in vdis}
        progress.report(0.1)
        paths = d.clone(rec["location"], loc, list(leaves.values()), self.app.reserve_for(loc))
        progress.report(0.8)
        new = new_ref()
        vdi_h = self.app.handlers["VDI"]
        try:
            with self.store.transaction() as txn:
                self.insert(txn, new, dict(rec, location=loc, name_label=name))
                copies = {}
                pending = list(vdis)
                while pending:   # parents before children, so each parent ref exists
                    for v in [v for v in pending if txn.get("VDI", v).get("parent")
                              not in pending]:
                        vrec = dict(txn.get("VDI", v), SR=new)
                        vrec["parent"] = copies.get(vrec.get("parent"), "")
                        copies[v] = new_ref()
                        vdi_h.insert(txn, copies[v], vrec,
                                     private=dict(self.store.private(v), path=paths[leaves[v]]))
                        pending.remove(v)
        except BaseException:
            shutil.rmtree(loc, ignore_errors=True)
            raise
        return new


class VDIHandler(VDIAdoption, ClassHandler):
    cls_name = "VDI"
    computed = {"physical_utilisation": "_physical_utilisation", "location": "_location",
                "managed": "_managed"}

    def _physical_utilisation(self, ref, rec):
        return srdrivers.allocated(self.store.private(ref).get("path", ""))

    def _sr(self, vdi_rec):
        """The SR of a VDI and its driver, for work on its files (on this host only)."""
        self.app.handlers["SR"].require_here(vdi_rec["SR"])
        sr = self.store.get("SR", vdi_rec["SR"])
        return sr, srdrivers.driver(sr.get("type", "dir"))

    def validate(self, txn, ref, old, new):
        if new.get("sector_size", 512) not in SECTOR_SIZES:
            raise ApiError("INVALID_VALUE", "sector_size", "%s (512 or 4096)" % new["sector_size"])
        sector = new.get("sector_size", 512)
        size = new.get("virtual_size", 0) * sector
        sr = (txn or self.store).get("SR", new.get("SR", ""))
        sr_type = sr.get("type", "dir") if sr else "dir"
        d = srdrivers.driver(sr_type)
        limit = d.max_size
        if not 0 <= size <= limit:
            # virtual_size counts sectors: the bound too, with bytes for the reader.
            raise ApiError("INVALID_VALUE", "virtual_size",
                           "%d sectors of %d bytes (a VDI in a %s SR holds 0 to %d sectors, "
                           "%d bytes)" % (new["virtual_size"], sector, sr_type,
                                          limit // sector, limit))
        if old is not None and old.get("SR") != new.get("SR"):
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "a VDI stays in its SR; use VDI.snapshot or SR.clone to copy it")
        if old is not None:
            self._check_holders_agree(txn, ref, old, new)
        if old is not None and d.read_only and not new.get("read_only"):
            raise ApiError("INVALID_VALUE", "read_only",
                           "false (the VDIs of a %s SR are read-only)" % sr_type)
        if sr and (old is not None or not d.adopts):
            # An adopted image's bytes are on disk already: only growing it promises more.
            # Checked again inside the transaction that commits the VDI, under the
            # store's write lock: two calls cannot both take the SR's last bytes.
            self.check_room(txn or self.store, new["SR"], sr,
                            vdi_bytes(new) - (vdi_bytes(old) if old else 0))

    def check_room(self, view, sr_ref, sr, growth):
        """SR_FULL [requested, maximum] where ``growth`` more bytes promised by the VDIs of
        the SR ``sr_ref`` (whose record is ``sr``, as ``view``, the store or a transaction,
        sees it) would exceed its capacity times sr_overcommit_ratio, or, for an SR on the
        state directory's file system, take what the VDIs of every SR there promise
        beyond that file system's size less state_reserve_bytes."""
        if growth <= 0:
            return
        promised = view.total("VDI", "SR", sr_ref)
        room = int(capacity(sr) * self.app.config["sr_overcommit_ratio"]) - promised
        state = self.app.state_dir
        if same_file_system(sr["location"], state):
            # Guests that write their disks full must never take the daemon's reserve.
            others = sum(view.total("VDI", "SR", other) for other, rec in self.store.records("SR")
                         if other != sr_ref and same_file_system(rec["location"], state))
            room = min(room, fs_size(state) - self.app.config["state_reserve_bytes"]
                       - promised - others)
        if growth > room:
            raise ApiError("SR_FULL", str(growth), str(max(room, 0)))

    def _check_holders_agree(self, txn, ref, old, new):
        """VDI_IN_USE where a change of read_only or sharable contradicts how VMs that
        hold the VDI (resident, suspended or starting) have it attached: a guest that
        writes it, or one that reads it as read-only, keeps doing so whatever the record
        says, and two holders of a VDI that stops being shareable would both have it."""
        ro_changed = bool(old.get("read_only")) != bool(new.get("read_only"))
        unshared = (old.get("sharable") or old.get("read_only")) and not (
            new.get("sharable") or new.get("read_only"))
        if not (ro_changed or unshared):
            return
        txn = txn or self.store
        holders = [v for v in (txn.get("VBD", vbd) for vbd in txn.referrers("VBD", "VDI", ref))
                   if self.app.domains.holds_disks(txn, v["VM"])]
        op = "set_read_only" if ro_changed else "set_sharable"
        # The VBD's own mode: RW is what the guest has where the VDI was writable, and
        # what it would be said to have once the VDI is writable again.
        if ro_changed and any(h.get("mode", "RW") == "RW" for h in holders):
            raise ApiError("VDI_IN_USE", ref, op)
        if unshared and len(holders) > 1:
            raise ApiError("VDI_IN_USE", ref, op)

    def create(self, call, record):
        stored, bound = self.record_from_wire(record, call.revision)
        if stored.get("parent"):
            raise ApiError("INVALID_VALUE", "parent",
                           "%s (parents are made by VDI.snapshot)" % stored["parent"])
        return self.make(stored, bound)

    def make(self, stored, bound=None):
        """Make a new empty VDI of the stored record ``stored`` and its image; its ref."""
        ref = new_ref()
        sr, d = self._sr(stored)
        self.validate(None, ref, None, stored)
        path = d.create(sr["location"], ref, stored["virtual_size"] * stored["sector_size"])
        try:
            with self.store.transaction() as txn:
                self.insert(txn, ref, stored, bound, private={"path": path, "format": d.format})
        except BaseException:
            d.delete(path)
            raise
        return ref

    def make_like(self, vdi, sr):
        """A new empty VDI in ``sr`` with the record of ``vdi`` (its size, name, type...)
        but no parent: where a migration copies ``vdi``'s image to. Its ref."""
        return self.make(dict(self.store.get("VDI", vdi), SR=sr, parent=""))

    def set_virtual_size(self, call, wire, ref, sectors):
        """Grow the image, then record the new size."""
        rec = self.store.get("VDI", ref)
        if sectors < rec["virtual_size"]:
            raise ApiError("INVALID_VALUE", "virtual_size",
                           "%d (shrinking from %d is not supported)" % (sectors,
                                                                         rec["virtual_size"]))
        if self.live_users(ref):
            raise ApiError("VDI_IN_USE", ref, "resize")
        self.validate(None, ref, rec, dict(rec, virtual_size=sectors))
        _, d = self._sr(rec)
        d.resize(self.store.private(ref)["path"], sectors * rec["sector_size"])
        with self.store.transaction() as txn:
            self.update(txn, ref, {"virtual_size": sectors})

    def make_from_raw(self, ref, record, fill, then=None):
        """Make the VDI ``ref`` (wire ``record``, without its size) from a raw file that
        ``fill(path)`` writes: the file is the image (converted where the SR keeps
        another format) and the VDI is as large as it. ``then(txn)`` runs in the
        transaction that records the VDI (a crashdump's record)."""
        stored, _ = self.record_from_wire(dict(record, virtual_size="0"))
        sr, d = self._sr(stored)
        if d.adopts:
            raise ApiError("VALUE_NOT_SUPPORTED", "SR", stored["SR"],
                           "the daemon makes images only in SRs of its own (dir, file)")
        image = d.image_path(sr["location"], ref)
        raw = image if d.format == "raw" else image + ".raw"
        try:
            fill(raw)
            stored["virtual_size"] = -(-os.path.getsize(raw) // stored["sector_size"])
            self.validate(None, ref, None, stored)
            if raw != image:
                imagexfer.convert(raw, "raw", image, d.format)
            with self.store.transaction() as txn:
                self.insert(txn, ref, stored, private={"path": image, "format": d.format})
                if then is not None:
                    then(txn)
        except BaseException:
            d.delete(image)
            raise
        finally:
            if raw != image:
                d.delete(raw)

    def live_users(self, ref):
        """(VM, VBD) pairs of running, paused or stopping VMs that use ``ref``."""
        out = []
        for vbd in self.store.referrers("VBD", "VDI", ref):
            vm = self.store.get("VBD", vbd)["VM"]
            if self.store.get("VM", vm).get("power_state") in lifecycle.LIVE_STATES:
                out.append((vm, vbd))
        return out

    def delete(self, call, ref, first=None):
        rec = self.store.get("VDI", ref)
        if rec is None:   # deleted meanwhile by another call
            raise ApiError("HANDLE_INVALID", "VDI", ref)
        sr, d = self._sr(rec)
        if d.adopts and not d.deletes_images:
            raise ApiError("OPERATION_NOT_ALLOWED",
                           "the files of a %s SR are not removed; VDI.forget drops the "
                           "record" % d.type)
        with self.app.sr_lock(rec["SR"]):
            path = self.store.private(ref).get("path")
            dropped = d.chain(sr["location"], path) if path else set()
            super().delete(call, ref, first)
            if path:
                d.delete(path)
            d.collect(dropped, [self.store.private(v).get("path", "") for v in
                                self.store.referrers("VDI", "SR", rec["SR"])])

    # -- snapshots -------------------------------------------------------------

    def snapshot(self, call, vdi):
        made = self.snapshot_files(vdi)
        try:
            with self.store.transaction() as txn:
                self.commit_snapshot(txn, made)
        except BaseException:
            self.undo_snapshot(made)
            raise
        return made["ref"]

    def snapshot_files(self, vdi):
        """Do a snapshot's file work; returns what commit_snapshot records."""
        rec = self.store.get("VDI", vdi)
        if rec is None:
            raise ApiError("HANDLE_INVALID", "VDI", vdi)
        # One image operation at a time per SR: two snapshots of one VDI, or a collect
        # during a freeze, would otherwise each see the other's half-made files.
        with self.app.sr_lock(rec["SR"]):
            return self._snapshot_files(vdi, rec)

    def _snapshot_files(self, vdi, rec):
        sr, d = self._sr(rec)
        if d.adopts and not d.deletes_images:
            raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", d.type,
                           "the VDIs of a %s SR are not snapshotted" % d.type)
        # Refused before any file work; commit_snapshot checks again.
        self.check_room(self.store, rec["SR"], sr, vdi_bytes(rec))
        leaf = self.store.private(vdi)["path"]
        users = self.live_users(vdi)
        snap = new_ref()
        if users and not d.live_snapshots:
            # Refused whatever the backend: a copy taken while a guest writes is torn.
            raise ApiError("VALUE_NOT_SUPPORTED", "SR.type", d.type,
                           "a %s image cannot be snapshotted while in use (by VM %s); "
                           "shut the VM down first" % (d.format, users[0][0]))
        if users and self.app.backend.holds_disks:
            vm, vbd = users[0]
            new_leaf = d.new_leaf_path(sr["location"], vdi)
            self.app.domains.snapshot_disk(vm, vbd, new_leaf)
            progress.report(0.5)   # the image is frozen; the snapshot's overlay follows
            snap_path = d.snapshot_of(sr["location"], leaf, snap)
            leaf, frozen = new_leaf, None
        else:
            snap_path, frozen = d.snapshot(sr["location"], leaf, snap,
                                           self.app.reserve_for(sr["location"]))
        snap_rec = {k: v for k, v in rec.items() if k not in _NOT_SNAPSHOTTED}
        snap_rec["parent"] = vdi
        return {"ref": snap, "record": snap_rec, "vdi": vdi, "leaf": leaf, "frozen": frozen,
                "private": {"path": snap_path,
                            "format": self.store.private(vdi).get("format", d.format)}}

    def commit_snapshot(self, txn, made):
        """Record a snapshot made by snapshot_files inside ``txn``."""
        txn.set_private("VDI", made["vdi"], dict(txn.private(made["vdi"]), path=made["leaf"]))
        self.insert(txn, made["ref"], made["record"], private=made["private"])

    def undo_snapshot(self, made):
        """Remove a snapshot's own image after its records failed to commit, and put the
        original's image back where a halted snapshot froze it. (A running guest's move
        to a new overlay is not undone: the guest writes there already; the VDI's
        record keeps naming its old leaf, whose chain the new one is built on.)"""
        srdrivers.ImageDirSR.delete(made["private"]["path"])
        if made["frozen"]:
            srdrivers.DirSR.thaw(made["leaf"], made["frozen"])


class VBDHandler(DeviceHandler):
    cls_name = "VBD"
    kind = "vbd"
    computed = {**DeviceHandler.computed,
                "IO_bandwidth_incoming_kbs": "_read_kbs", "IO_bandwidth_outgoing_kbs": "_write_kbs"}

    def _read_kbs(self, ref, rec):
        # The sampler forgets a guest when it stops, so a halted VM's disks read 0.
        return self.app.sampler.device_rates(rec["VM"], "vbd", ref)[0]

    def _write_kbs(self, ref, rec):
        return self.app.sampler.device_rates(rec["VM"], "vbd", ref)[1]

    def validate(self, txn, ref, old, new):
        device = new.get("device", "")
        if device and not DISK_DEVICE.fullmatch(device):
            # The name reaches xl's disk spec (vdev=), where a comma would add keys.
            raise ApiError("INVALID_VALUE", "device",
                           "%s (a guest's disk name: xvd, hd, sd or vd, letters and an "
                           "optional partition number, such as xvda, hdb or sdb1)" % device)
        vdi = txn.get("VDI", new["VDI"])
        self._check_type(txn, vdi, new)
        self.check_qos(new)
        if vdi.get("read_only") and new.get("mode") == "RW":
            raise ApiError("INVALID_VALUE", "mode",
                           "RW (VDI %s is read-only: attach it RO)" % new["VDI"])
        if old is not None and old != new:
            # An attached disk is changed by deleting its VBD and making another.
            for vm in {old["VM"], new["VM"]}:
                holder = txn.get("VM", vm)
                lifecycle.require_still(vm, "edit_device", holder.get("power_state"),
                                        lifecycle.is_control_domain(holder))

    @staticmethod
    def _check_type(view, vdi, new):
        """A VDI of an SR of CD-ROM images (iso) is in a CD drive, so its VBD's type is
        CD whatever the client said."""
        sr = view.get("SR", vdi.get("SR", "")) or {}
        if srdrivers.driver(sr.get("type", "dir")).cdrom:
            new["type"] = "CD"

    def media_change(self, call, vbd, vdi):
        """Put VDI ``vdi`` in the CD drive of VBD ``vbd``: in a halted VM's record, or
        live in its resident guest's drive (the record follows once the guest has it)."""
        self.app.handlers["VDI"].require_visible(call, vdi)
        self.held(call, vbd, "media_change",
                  lambda ref, rec: self._media_change(ref, rec, vdi))

    def _media_change(self, vbd, rec, vdi):
        if rec.get("type") != "CD":
            raise ApiError("OPERATION_NOT_ALLOWED", "VBD %s is a disk, not a CD drive: "
                           "delete it and make another VBD for the new disk" % vbd)
        if self._currently_attached(vbd, rec):
            self.app.domains.change_medium(rec["VM"], vbd, dict(rec, VDI=vdi))
        with self.store.transaction() as txn:
            # Not update(): a resident VM's VBD is edited here, which validate refuses.
            txn.update("VBD", vbd, {"VDI": vdi})
