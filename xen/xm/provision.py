"""Making a VM and its devices on the server from a VmConfig (xm create / xm new).

Everything is looked up and checked first (name clash, disk sizes, which
networks exist); only then are objects created, in dependency order. If any
call fails, whatever was created is deleted again, newest first, so a failed
``xm create`` leaves the server as it found it.
"""

import os
import struct

from xen.xend.api.types import NULL_REF_ALIASES

from .client import ConnectError, Failure, XmError

SECTOR = 512

# The SR made when there is none; an empty location lets the server choose where.
DEFAULT_SR = {"name_label": "Local storage", "name_description": "created by xm",
              "type": "dir", "location": ""}


def vif_record(vm, network, vif):
    """VIF.create's record for ``vif`` on ``network``. Without a MAC the server
    picks one that no other VIF has, which xm could not check by itself."""
    return dict(vif.record, VM=vm, network=network)


def find_network(client, ident):
    """The ref of the network ``ident`` names (its UUID, name or NIC), or None."""
    records = client.call("network.get_all_records")
    for test in (lambda ref, rec: ref == ident.lower(),
                 lambda ref, rec: rec.get("name_label") == ident,
                 lambda ref, rec: rec.get("NIC") == ident):
        refs = sorted(ref for ref, rec in records.items() if test(ref, rec))
        if len(refs) > 1:
            raise XmError("%d networks match '%s': %s; give a UUID instead"
                          % (len(refs), ident, ", ".join(refs)))
        if refs:
            client.remember(refs[0], ident)
            return refs[0]
    return None


def ensure_name_free(client, name):
    """XmError if a VM is already called ``name``: names are how xm users say which VM."""
    clash = client.call("VM.get_by_name_label", name)
    if clash:
        raise XmError("a VM named '%s' already exists (%s)" % (name, clash[0]))


class _Undo:
    """The objects created so far, to delete again if a later step fails."""

    def __init__(self, client):
        self.client = client
        self.made = []

    def create(self, cls, record):
        ref = self.client.call(cls + ".create", record)
        self.made.append((cls, ref))
        return ref

    def rollback(self):
        # A VM's VBDs and VIFs go with it; failures here must not hide the first error.
        for cls, ref in reversed(self.made):
            try:
                self.client.call(cls + ".delete", ref)
            except (Failure, ConnectError):
                pass


def create(client, config, start):
    """Create ``config``'s VM, its disks and interfaces, and start it if ``start``.

    Returns the VM's ref. On any failure nothing stays behind."""
    ensure_name_free(client, config.name)
    sr, disks = _plan_disks(client, config.disks)
    networks = {vif.bridge: find_network(client, vif.bridge) for vif in config.vifs}
    undo = _Undo(client)
    try:
        if disks and sr is None:
            sr = undo.create("SR", DEFAULT_SR)
        for bridge, ref in networks.items():
            if ref is None:
                networks[bridge] = undo.create("network", {
                    "name_label": bridge, "NIC": bridge,
                    "name_description": "bridge %s, created by xm" % bridge})
        vdis = {}           # path -> VDI: two devices may share one image
        for disk, vdi, size in disks:
            if disk.path not in vdis:
                vdis[disk.path] = vdi or undo.create("VDI", {
                    "name_label": disk.path, "name_description": "created by xm",
                    "SR": sr, "virtual_size": -(-size // SECTOR), "sector_size": SECTOR,
                    "sharable": False})
        vm = undo.create("VM", config.record)
        client.remember(vm, config.name)
        for disk, _, _ in disks:
            undo.create("VBD", {"VM": vm, "VDI": vdis[disk.path], "device": disk.device,
                                "mode": disk.mode, "driver": disk.driver})
        for vif in config.vifs:
            undo.create("VIF", vif_record(vm, networks[vif.bridge], vif))
        if start:
            client.long_call("VM.start", vm, False)
    except BaseException:
        undo.rollback()
        raise
    return vm


def file_vdi(client, sr, path):
    """The VDI in ``sr`` that xm made for the image file ``path``, or None.

    xm names that VDI after the file, but VDI.snapshot and VM.clone copy the name to
    snapshots whose parent is the VDI, and get_by_name_label lists them in no fixed
    order: the file's VDI is the one without a parent. Two such VDIs (one made by hand
    with the file's name, say) cannot be told apart, so that is an error naming both
    rather than a guess."""
    refs = [v for v in client.call("VDI.get_by_name_label", path)
            if client.call("VDI.get_SR", v) == sr]
    originals = sorted(v for v in refs if client.call("VDI.get_parent", v) in NULL_REF_ALIASES)
    if len(originals) > 1:
        raise XmError("disk %s: %d VDIs in SR %s are named after this file and none is a "
                      "snapshot: %s; rename or delete all but one"
                      % (path, len(originals), sr, ", ".join(originals)))
    return originals[0] if originals else None


def _plan_disks(client, disks):
    """The SR new VDIs go to (None: none exists yet) and, per disk, (disk, the VDI
    made from its file if the SR has one already (see file_vdi), else None; the size
    in bytes)."""
    srs = client.call("SR.get_all")
    sr = srs[0] if srs else None
    plan = []
    for disk in disks:
        existing = file_vdi(client, sr, disk.path) if sr else None
        if existing:
            plan.append((disk, existing, 0))
            continue
        plan.append((disk, None, image_size(disk)))
    return sr, plan


# The start of a qcow2 (or qcow) header, big-endian (the qcow2 spec, "Header"): the
# magic; version, backing file offset and length, cluster bits; the disk's size in bytes.
QCOW_MAGIC = b"QFI\xfb"
_QCOW_SIZE = struct.Struct(">4s20xQ")


def image_size(disk):
    """The size in bytes of the disk a config's image file holds: the file's size for
    a raw image, the virtual size in its header for a qcow2 one. xm reads the file
    itself: the config, and so the file, are on the machine xm runs on, which need not
    be xend's (nor have qemu-img)."""
    try:
        if disk.format != "qcow2":   # tap:aio: or file:, a raw image
            return os.stat(disk.path).st_size
        with open(disk.path, "rb") as f:
            header = f.read(_QCOW_SIZE.size)
    except OSError as e:
        raise XmError("disk %s: %s; xm sizes a new VDI from its file"
                      % (disk.path, e.strerror))
    if len(header) < _QCOW_SIZE.size or not header.startswith(QCOW_MAGIC):
        raise XmError("disk %s: not a qcow2 image (no QFI\\xfb magic)" % disk.path)
    return _QCOW_SIZE.unpack(header)[1]
