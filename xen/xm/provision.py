"""Making a VM and its devices on the server from a VmConfig (xm create / xm new).

Everything is looked up and checked first (name clash, which networks exist);
only then are objects created, in dependency order. A disk of the config is its
existing image file or block device, adopted (``adopt``), never a copy. If any
call fails, whatever was created is deleted again (what was adopted, forgotten),
newest first, so a failed ``xm create`` leaves the server as it found it.
"""

import os

from .client import ConnectError, Failure, XmError

SECTOR = 512

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


class Undo:
    """The objects created so far, to delete again if a later step fails."""

    def __init__(self, client):
        self.client = client
        self.made = []

    def create(self, cls, record):
        ref = self.client.call(cls + ".create", record)
        self.made.append((cls + ".delete", ref))
        return ref

    def introduce(self, cls, *args):
        """Adopt an existing file or directory; undone by forgetting the record only."""
        ref = self.client.call(cls + ".introduce", *args)
        self.made.append((cls + ".forget", ref))
        return ref

    def rollback(self):
        # A VM's VBDs and VIFs go with it; failures here must not hide the first error.
        for method, ref in reversed(self.made):
            try:
                self.client.call(method, ref)
            except (Failure, ConnectError):
                pass


def create(client, config, start):
    """Create ``config``'s VM, its disks and interfaces, and start it if ``start``.

    Returns the VM's ref. On any failure nothing stays behind."""
    ensure_name_free(client, config.name)
    networks = {vif.bridge: find_network(client, vif.bridge) for vif in config.vifs}
    undo = Undo(client)
    try:
        for bridge, ref in networks.items():
            if ref is None:
                networks[bridge] = undo.create("network", {
                    "name_label": bridge, "NIC": bridge,
                    "name_description": "bridge %s, created by xm" % bridge})
        vdis = {}           # path -> VDI: two devices may share one image
        for disk in config.disks:
            if disk.path not in vdis:
                vdis[disk.path] = adopt(client, undo, disk.path, disk.block)
        vm = undo.create("VM", config.record)
        client.remember(vm, config.name)
        for disk in config.disks:
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


def adopt(client, undo, path, block=False):
    """The VDI that *is* the existing image file (or, with ``block``, block device)
    ``path`` on the server: the one an SR of its directory has already, else one
    adopted now (VDI.introduce), in an SR introduced now for the directory if it has
    none (SR.introduce: an ``image`` SR, or ``block`` for devices). What is adopted
    here ``undo`` forgets again, leaving the file as it was."""
    directory = os.path.dirname(path)
    srs = [ref for ref, rec in client.call("SR.get_all_records").items()
           if os.path.normpath(rec.get("location", "")) == directory
           and (rec.get("type") == "block") == block]
    if srs:
        sr = srs[0]
        for ref, rec in client.call("VDI.get_all_records").items():
            if rec.get("SR") == sr and rec.get("location") == path:
                return ref
    else:
        sr = undo.introduce("SR", "block" if block else "image", directory,
                            "%s (adopted by xm)" % directory)
    return undo.introduce("VDI", sr, path)
