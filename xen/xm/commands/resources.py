"""Networks, storage repositories and virtual disks."""

import re

from .. import provision
from ..client import Failure, XmError
from ..output import human_size, print_json, print_table
from . import all_records, arg, command

# The SR types over files the administrator already has: sr-delete forgets them.
ADOPTED_TYPES = ("image", "iso", "block")
_UNITS = {"B": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([BKMGT])(?:i?B)?$", re.IGNORECASE)


def parse_size(text):
    """'1G', '512M', '1.5GiB', '4096B' -> bytes (binary units; the unit is required)."""
    m = _SIZE.match(text.strip())
    if m is None:
        raise XmError("size %r: give a number and a unit, like 512M or 10G" % text)
    size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if size <= 0:
        raise XmError("size %r: must be above zero" % text)
    return size


@command("network-new", "create a network", "Networks and storage", args=[
    arg("name", metavar="NAME", help="the network's name"),
    arg("--nic", default="", help="the host's ethernet device or bridge it uses"),
], details="Prints the new network's UUID.")
def network_new(client, opts):
    if client.call("network.get_by_name_label", opts.name):
        raise XmError("a network named '%s' already exists" % opts.name)
    print(client.call("network.create", {"name_label": opts.name, "NIC": opts.nic}))


@command("network-del", "delete a network no VM uses", "Networks and storage", args=[
    arg("name", metavar="NAME", help="the network's name, NIC or UUID"),
], details="A network in use is not deleted: the VMs whose interfaces use it are named.")
def network_del(client, opts):
    network = provision.find_network(client, opts.name)
    if network is None:
        raise XmError("there is no network named '%s'" % opts.name)
    try:
        client.call("network.delete", network)
    except Failure as f:
        if f.code != "OBJECT_IN_USE" or f.params[2:3] != ["VIF"]:
            raise
        vms = sorted({client.call("VM.get_name_label", client.call("VIF.get_VM", vif))
                      for vif in f.params[3].split(",")})
        raise XmError("network '%s' is in use by the VMs %s; detach their interfaces "
                      "first (xm network-detach)" % (opts.name, ", ".join(vms)))


@command("sr-list", "list storage repositories", "Networks and storage", json=True)
def sr_list(client, opts):
    srs = all_records(client, "SR")
    if opts.json:
        print_json([rec for _, rec in srs])
        return
    print_table(("Name", "Type", "VDIs", "Allocated", "Location", "UUID"),
                [(rec.get("name_label", ""), rec.get("type", ""), len(rec.get("VDIs", [])),
                  human_size(rec.get("virtual_allocation", 0)), rec.get("location", ""), ref)
                 for ref, rec in srs], right=(2, 3))


@command("sr-create", "create a storage repository", "Networks and storage", args=[
    arg("name", metavar="NAME", help="the SR's name"),
    arg("type", metavar="TYPE", help="its type, e.g. dir"),
    arg("location", metavar="LOCATION", help="where it keeps its disks, e.g. a directory"),
], details="Prints the new SR's UUID.")
def sr_create(client, opts):
    print(client.call("SR.create", {"name_label": opts.name, "type": opts.type,
                                    "location": opts.location}))


@command("sr-introduce", "adopt an existing directory of images as an SR",
         "Networks and storage", args=[
             arg("name", metavar="NAME", help="the SR's name"),
             arg("type", metavar="TYPE", help="image (raw and qcow2 images), iso (an ISO "
                 "library, read-only) or block (block devices; root only)"),
             arg("location", metavar="DIRECTORY", help="the existing directory"),
         ], details="""\
Adopts the images already in the directory as VDIs that are those files (as sr-scan
does); nothing is copied, and the files stay the administrator's. Prints the new SR's
UUID.""")
def sr_introduce(client, opts):
    sr = client.call("SR.introduce", opts.type, opts.location, opts.name)
    client.call("SR.scan", sr)
    print(sr)


@command("sr-scan", "adopt an SR's new images and forget vanished ones",
         "Networks and storage", args=[
             arg("sr", metavar="SR", help="the SR (name or UUID) of existing files"),
         ])
def sr_scan(client, opts):
    client.call("SR.scan", client.resolve("SR", opts.sr))


@command("sr-delete", "delete a storage repository", "Networks and storage", args=[
    arg("sr", metavar="SR", help="the SR (name or UUID)"),
], details="""\
An SR of existing files (image, iso, block) is forgotten with its VDIs: its directory
and files stay. Another SR is deleted with its directory, and only once it has no
VDIs.""")
def sr_delete(client, opts):
    sr = client.resolve("SR", opts.sr)
    adopted = client.call("SR.get_type", sr) in ADOPTED_TYPES
    client.call("SR.forget" if adopted else "SR.destroy", sr)


@command("vdi-list", "list virtual disks", "Networks and storage", json=True, args=[
    arg("sr", metavar="SR", nargs="?", help="only the disks of this SR (name or UUID)"),
    arg("--sr", dest="sr_option", metavar="SR", help="the same, as an option"),
], details="Size is the disk's virtual size as the guest sees it.")
def vdi_list(client, opts):
    vdis = all_records(client, "VDI")
    if opts.sr and opts.sr_option:
        raise XmError("give the SR once, as SR or --sr")
    opts.sr = opts.sr or opts.sr_option
    if opts.sr:
        sr = client.resolve("SR", opts.sr)
        vdis = [(ref, rec) for ref, rec in vdis if rec.get("SR") == sr]
    if opts.json:
        print_json([rec for _, rec in vdis])
        return
    sr_names = {ref: rec.get("name_label", "") for ref, rec in all_records(client, "SR")}
    print_table(("Name", "SR", "Size", "Type", "Parent", "UUID"),
                [(rec.get("name_label", ""), sr_names.get(rec.get("SR"), ""),
                  human_size(rec.get("virtual_size", 0) * rec.get("sector_size", 512)),
                  rec.get("type", ""), rec.get("parent") or "-", ref)
                 for ref, rec in vdis], right=(2,))


@command("vdi-create", "create a virtual disk", "Networks and storage", args=[
    arg("sr", metavar="SR", help="the SR to create it in (name or UUID)"),
    arg("name", metavar="NAME", help="the disk's name"),
    arg("size", metavar="SIZE", help="its size with a unit: 512M, 10G, 1T"),
], details="""\
The size is rounded up to whole sectors of 512 bytes (VDI virtual_size counts
sectors). Prints the new VDI's UUID.""")
def vdi_create(client, opts):
    sr = client.resolve("SR", opts.sr)
    sectors = -(-parse_size(opts.size) // provision.SECTOR)
    print(client.call("VDI.create", {"SR": sr, "name_label": opts.name,
                                     "virtual_size": sectors,
                                     "sector_size": provision.SECTOR}))


@command("vdi-snapshot", "snapshot a virtual disk", "Networks and storage", args=[
    arg("vdi", metavar="VDI", help="the disk's name or UUID"),
], details="The snapshot is a new VDI in the same SR whose parent is VDI; prints its UUID.")
def vdi_snapshot(client, opts):
    print(client.call("VDI.snapshot", client.resolve("VDI", opts.vdi)))


@command("vdi-delete", "delete a virtual disk", "Networks and storage", args=[
    arg("vdi", metavar="VDI", help="the disk's name or UUID"),
    arg("--forget", action="store_true",
        help="drop the record only, leaving its image file in place"),
], details="""\
Removes the VDI's image file too, also an adopted image's (that is asking for it),
unless --forget is given; the files of iso and block SRs are only ever forgotten.""")
def vdi_delete(client, opts):
    client.call("VDI.forget" if opts.forget else "VDI.destroy",
                client.resolve("VDI", opts.vdi))


@command("vdi-resize", "grow a virtual disk", "Networks and storage", args=[
    arg("vdi", metavar="VDI", help="the disk's name or UUID"),
    arg("size", metavar="SIZE", help="its new size with a unit: 512M, 10G, 1T"),
], details="""\
Rounded up to whole 512-byte sectors; disks only grow, and not while a running VM
uses them.""")
def vdi_resize(client, opts):
    vdi = client.resolve("VDI", opts.vdi)
    sector = int(client.call("VDI.get_sector_size", vdi))
    client.call("VDI.set_virtual_size", vdi, str(-(-parse_size(opts.size) // sector)))
