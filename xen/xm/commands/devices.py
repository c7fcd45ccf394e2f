"""A VM's disks (VBDs) and network interfaces (VIFs): list, attach, detach."""

from .. import config, provision
from ..client import XmError
from ..output import decode, print_json, print_table
from . import all_records, arg, command
from .vm import VM_ARG

_MODES = {"w": "RW", "rw": "RW", "r": "RO", "ro": "RO"}
_NOUNS = {"VBD": "disk", "VIF": "network interface"}


def _devices(client, vm, cls):
    """[(ref, decoded record)] of the VM's VBDs or VIFs, sorted by device name."""
    refs = client.call("VM.get_%ss" % cls, vm)
    out = [(ref, decode(cls, client.call(cls + ".get_record", ref))) for ref in refs]
    return sorted(out, key=lambda item: (item[1].get("device", ""), item[0]))


def _find(client, vm, cls, ident, key):
    """The ref of the VM's VBD/VIF whose UUID or ``key`` field is ``ident``."""
    for ref, rec in _devices(client, vm, cls):
        if ident.lower() in (ref, str(rec.get(key, "")).lower()):
            return ref
    raise XmError("%s has no %s %s" % (client.label(vm), _NOUNS[cls], ident))


@command("block-list", "list a VM's disks", "Devices", args=[VM_ARG], json=True)
def block_list(client, opts):
    vbds = _devices(client, client.resolve("VM", opts.vm), "VBD")
    if opts.json:
        print_json([rec for _, rec in vbds])
        return
    names = {rec["VDI"]: client.call("VDI.get_name_label", rec["VDI"]) for _, rec in vbds}
    print_table(("Vdev", "Mode", "Driver", "VDI", "UUID"),
                [(rec.get("device", ""), rec.get("mode", ""), rec.get("driver", ""),
                  names[rec["VDI"]], ref) for ref, rec in vbds])


@command("block-attach", "give a VM a disk", "Devices", args=[
    VM_ARG,
    arg("vdi", metavar="VDI", help="the virtual disk's name or UUID, or an existing image "
        "as in a config file: file:/path, tap:aio:/path, tap:qcow2:/path, phy:/dev/..."),
    arg("device", metavar="DEVICE", help="as the guest sees it: xvdb, hdb, ioemu:hdb"),
    arg("mode", metavar="MODE", help="w (read-write) or r (read-only)"),
], details="""\
An image named by its path is adopted as a VDI that is that file (in an image or
block SR of its directory, introduced if there is none), as xm create does.
Prints the new VBD's UUID.""")
def block_attach(client, opts):
    vm = client.resolve("VM", opts.vm)
    parsed = config.parse_device(opts.device)
    if parsed is None or parsed[2]:
        raise XmError("%s is not a disk device name like xvdb, hdb or ioemu:hdb" % opts.device)
    if opts.mode.lower() not in _MODES:
        raise XmError("the mode must be w (read-write) or r (read-only), not %s" % opts.mode)
    device, driver, _ = parsed
    if any(rec.get("device") == device for _, rec in _devices(client, vm, "VBD")):
        raise XmError("%s already has a disk on %s" % (client.label(vm), device))
    undo = provision.Undo(client)
    try:
        if opts.vdi.split(":", 1)[0] in config.DISK_KINDS:
            disk = config.parse_disk("%s,%s,%s" % (opts.vdi, device, opts.mode.lower()[:1]))
            vdi = provision.adopt(client, undo, disk.path, disk.block)
        else:
            vdi = client.resolve("VDI", opts.vdi)
        print(undo.create("VBD", {"VM": vm, "VDI": vdi, "device": device,
                                  "mode": _MODES[opts.mode.lower()], "driver": driver}))
    except BaseException:
        undo.rollback()
        raise


@command("block-detach", "take a disk away from a VM (the VDI stays)", "Devices", args=[
    VM_ARG, arg("vbd", metavar="DEVICE|VBD", help="the device name or the VBD's UUID"),
])
def block_detach(client, opts):
    vm = client.resolve("VM", opts.vm)
    client.call("VBD.delete", _find(client, vm, "VBD", opts.vbd, "device"))


@command("network-list", "list the networks, or a VM's network interfaces", "Devices",
         args=[arg("vm", metavar="VM", nargs="?",
                   help="the VM's name or UUID (default: every network)")],
         json=True, details="""\
Without a VM: each network's name, the host bridge its interfaces are ports of,
how many interfaces (VIFs) it has, its NIC and UUID. With a VM: that VM's
interfaces.""")
def network_list(client, opts):
    if opts.vm is None:
        _networks(client, opts)
        return
    vifs = _devices(client, client.resolve("VM", opts.vm), "VIF")
    if opts.json:
        print_json([rec for _, rec in vifs])
        return
    names = {rec["network"]: client.call("network.get_name_label", rec["network"])
             for _, rec in vifs}
    print_table(("Device", "MAC", "Network", "MTU", "Type", "UUID"),
                [(rec.get("device", ""), rec.get("MAC", ""), names[rec["network"]],
                  rec.get("MTU", ""), rec.get("type", ""), ref) for ref, rec in vifs],
                right=(3,))


def _networks(client, opts):
    networks = all_records(client, "network")
    if opts.json:
        print_json([rec for _, rec in networks])
        return
    print_table(("Name", "Bridge", "VIFs", "NIC", "UUID"),
                [(rec.get("name_label", ""), rec.get("bridge", ""), len(rec.get("VIFs", [])),
                  rec.get("NIC", "") or "-", ref) for ref, rec in networks], right=(2,))


@command("network-attach", "give a VM a network interface", "Devices", args=[
    VM_ARG,
    arg("args", metavar="NETWORK|KEY=VALUE", nargs="*",
        help="the network's name, NIC or UUID, or bridge=BRIDGE (default xenbr0); "
             "mac=00:16:3e:..., model=e1000, mtu=..., type=ioemu|netfront, vifname=..."),
], details="""\
The classic form, xm network-attach VM bridge=xenbr0 mac=... model=e1000, names
the network by its bridge: the network whose name or NIC is BRIDGE (an error
listing the networks if none is). The interface is the VM's next free ethN;
without mac= the server gives it an unused address. ip=, script=, rate= and
backend= are refused: the daemon runs no vif scripts and sets no addresses.
Prints the new VIF's UUID.""")
def network_attach(client, opts):
    vm = client.resolve("VM", opts.vm)
    names = [a for a in opts.args if "=" not in a]
    settings = [a for a in opts.args if "=" in a]
    if len(names) > 1:
        raise XmError("network-attach takes one NETWORK, not %s" % " ".join(names))
    vif = config.parse_vif(",".join(settings), "network-attach")
    if vif.ignored:
        raise XmError("network-attach cannot honour %s" % "; ".join(
            config.vif_ignored(vif.ignored)))
    if names and any(s.startswith("bridge=") for s in settings):
        raise XmError("give the network as NETWORK or as bridge=, not both")
    network = provision.find_network(client, names[0] if names else vif.bridge)
    if network is None:
        raise XmError(_no_network(client, names[0] if names else vif.bridge, bool(names)))
    taken = {rec.get("device") for _, rec in _devices(client, vm, "VIF")}
    vif.record["device"] = next("eth%d" % i for i in range(len(taken) + 1)
                                if "eth%d" % i not in taken)
    print(client.call("VIF.create", provision.vif_record(vm, network, vif)))


def _no_network(client, ident, by_name):
    """Why no network is ``ident``, naming those there are: network-attach makes none
    (making a network is a host-wide change, root's, never a side effect)."""
    if by_name:
        return "there is no network named '%s'" % ident
    bridges = sorted({b for rec in client.call("network.get_all_records").values()
                      for b in (rec.get("name_label"), rec.get("NIC")) if b})
    return ("no network has the bridge %s (networks: %s); make one with "
            "xm network-new %s [--nic %s]"
            % (ident, ", ".join(bridges) or "none", ident, ident))


@command("network-detach", "take a network interface away from a VM", "Devices", args=[
    VM_ARG, arg("vif", metavar="MAC|VIF", help="the interface's MAC address or UUID"),
])
def network_detach(client, opts):
    vm = client.resolve("VM", opts.vm)
    client.call("VIF.delete", _find(client, vm, "VIF", opts.vif, "MAC"))
