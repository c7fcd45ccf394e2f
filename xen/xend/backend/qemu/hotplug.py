"""Devices of a running guest: hot-plug and unplug of disks, NICs and vCPUs, and a
disk's switch to a snapshot overlay.

Disks and NICs sit at fixed PCI slots (argv.assign_slots). Hot-plug is
``blockdev-add`` + ``device_add`` (a disk) or ``getfd`` + ``netdev_add`` +
``device_add`` (a NIC), undone step by step if a later step fails. Unplug is
``device_del``; the guest answers, QEMU sends DEVICE_DELETED, and only then is
the host's side freed: ``blockdev-del`` / ``netdev_del`` (which closes the tap).
A CD-ROM drive's medium is changed through its tray: the new image is added as a
node, the tray opened, the old medium taken out and the new one put in.
"""

import asyncio
import json
import os

from xen.xend.host import netdev
from xen.xend.util.files import unlink_if_exists

from ..base import BackendError
from .argv import (
    device_id,
    disk_args,
    disk_node,
    free_slot,
    image_node,
    is_pci,
    medium_node,
    netdev_id,
    nic_device,
    overlay_node,
    vcpu_id,
)
from .domain import POLL
from .handover import closing, disk_tag, open_disk, open_writable, qemu_img

# Where QEMU puts the devices given an id (device_add, -device): their QOM paths.
PERIPHERAL = "/machine/peripheral/"


async def attach_disk(dom, disk):
    """Plug virtio disk ``disk`` in at a free PCI slot (see QemuBackend.attach_disk)."""
    if disk.cdrom:
        raise BackendError("VALUE_NOT_SUPPORTED", "VDI", disk.path,
                           "QEMU cannot hot-plug an IDE CD-ROM drive: attach the ISO "
                           "while the VM is halted")
    if not is_pci(disk):
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", disk.driver,
                           "QEMU cannot hot-plug an emulated IDE disk: use the "
                           "paravirtualised driver, or attach it while the VM is halted")
    if disk.vbd in dom.disks:
        raise BackendError("INTERNAL_ERROR", f"VBD {disk.vbd} is attached already")
    dev = device_id("vbd", disk.vbd)
    slot = _reserve_slot(dom, "vbd", disk.vbd)
    try:
        opened = open_disk(disk)
        with closing([fds for fds, *_ in opened]):
            chain = [(await add_fdset(dom, fds, disk_tag(disk.vbd, level)), fmt, block)
                     for fds, fmt, block, level in opened]
        blockdev, device = disk_args(disk, chain, slot)
        await dom.qmp("blockdev-add", blockdev)
        try:
            await dom.qmp("device_add", device)
        except BaseException:
            await dom.qmp("blockdev-del", {"node-name": blockdev["node-name"]}, undo=True)
            raise
    except BaseException:
        del dom.slots[dev]
        await remove_fdsets(dom, disk.vbd)
        raise
    dom.disks[disk.vbd] = blockdev["node-name"]


async def add_fdset(dom, fds, tag):
    """Hand ``fds`` to QEMU over QMP (``add-fd``, SCM_RIGHTS) as one new fd set tagged
    ``tag``; returns the name QEMU opens it by. Our descriptors stay ours to close."""
    fdset = None
    for fd in fds:
        arguments = {"opaque": tag}
        if fdset is not None:
            arguments["fdset-id"] = fdset
        fdset = (await dom.qmp("add-fd", arguments, fd=fd))["fdset-id"]
    return f"/dev/fdset/{fdset}"


async def disk_fdsets(dom, vbd):
    """{level: [descriptor numbers in QEMU]} of the fd sets of VBD ``vbd``'s images
    (handover.disk_tag), and {level: fd set id}."""
    prefix = disk_tag(vbd, "")
    fds, ids = {}, {}
    for fdset in await dom.qmp("query-fdsets", undo=True) or []:
        for member in fdset["fds"]:
            tag = member.get("opaque", "")
            if tag.startswith(prefix) and tag[len(prefix):].isdigit():
                level = int(tag[len(prefix):])
                fds.setdefault(level, []).append(member["fd"])
                ids[level] = fdset["fdset-id"]
    return fds, ids


async def remove_fdsets(dom, vbd):
    """Give back the fd sets of VBD ``vbd``'s images: QEMU closes its descriptors once
    no block node uses them."""
    for fdset in (await disk_fdsets(dom, vbd))[1].values():
        await dom.qmp("remove-fd", {"fdset-id": fdset}, undo=True)


async def _delete_nodes(dom, vbd):
    """Delete the block nodes of VBD ``vbd`` that we added, its snapshot overlays first
    (each is the one above the next), and give back their fd sets."""
    nodes = await dom.qmp("query-named-block-nodes", {"flat": True}, undo=True) or []
    names = {node["node-name"] for node in nodes}
    fds, _ = await disk_fdsets(dom, vbd)
    for level in sorted(fds, reverse=True):
        if overlay_node(vbd, level) in names:
            await dom.qmp("blockdev-del", {"node-name": overlay_node(vbd, level)}, undo=True)
    await dom.qmp("blockdev-del", {"node-name": disk_node(vbd)}, undo=True)
    await remove_fdsets(dom, vbd)


def _reserve_slot(dom, kind, ref):
    # Taken at once, so that a second hot-plug meanwhile picks another slot.
    slot = dom.slots[device_id(kind, ref)] = free_slot(dom.slots)
    return slot


async def attach_nic(dom, nic, tap_fd):
    """Plug ``nic`` in at a free PCI slot, on the tap ``tap_fd`` (QEMU gets a copy)."""
    if nic.vif in dom.taps:
        raise BackendError("INTERNAL_ERROR", f"VIF {nic.vif} is attached already")
    device = nic_device(nic, _reserve_slot(dom, "vif", nic.vif))
    try:
        await _plug_nic(dom, nic, tap_fd, device)
    except BaseException:
        del dom.slots[device["id"]]
        raise
    dom.taps[nic.vif] = netdev.tap_name(nic.vif)


async def _plug_nic(dom, nic, tap_fd, device):
    fdname = "tap-" + nic.vif
    await dom.qmp("getfd", {"fdname": fdname}, fd=tap_fd)
    try:
        await dom.qmp("netdev_add", {"type": "tap", "id": netdev_id(nic.vif), "fd": fdname})
    except BaseException:
        await dom.qmp("closefd", {"fdname": fdname}, undo=True)
        raise
    try:
        await dom.qmp("device_add", device)
    except BaseException:
        await dom.qmp("netdev_del", {"id": netdev_id(nic.vif)}, undo=True)
        raise


async def detach(dom, kind, ref, timeout):
    """Unplug the VBD or VIF (``kind`` "vbd" | "vif") ``ref`` and wait, at most
    ``timeout`` seconds, until the guest has let go of it (see Backend.detach_disk)."""
    dev = device_id(kind, ref)
    if dev not in dom.slots:
        if kind == "vbd" and ref in dom.disks:
            raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", "ioemu",
                               "QEMU cannot unplug an emulated IDE disk: "
                               "detach it while the VM is halted")
        return   # the guest has let go of it already
    waiter = asyncio.get_running_loop().create_future()
    dom.unplugs.setdefault(dev, []).append(waiter)
    try:
        # Asking again while an earlier request is pending is harmless: the
        # guest is told once more.
        await dom.qmp("device_del", {"id": dev})
        await asyncio.wait_for(waiter, timeout)
    except asyncio.TimeoutError:
        raise BackendError("DEVICE_DETACH_TIMEOUT", kind.upper(), ref, timeout) from None
    finally:
        waiting = dom.unplugs.get(dev, [])
        if waiter in waiting:
            waiting.remove(waiter)


async def set_vcpus(dom, n, timeout, can_unplug=True):
    """Plug or unplug vCPUs until the guest has ``n`` (see QemuBackend.set_vcpus).
    The places query-hotpluggable-cpus reports are one per core (argv._vcpus): free
    ones are filled lowest first, taken ones emptied highest first, each unplug
    waited for in turn (at most ``timeout`` seconds). Without ``can_unplug``, fewer
    vCPUs than the guest has are refused before anything changes."""
    places = sorted(await dom.qmp("query-hotpluggable-cpus"),
                    key=lambda place: place["props"]["core-id"])
    present = [place for place in places if "qom-path" in place]
    if n < len(present) and not can_unplug:
        raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/number", n,
                           "QEMU 7.2 without KVM (TCG) corrupts its own memory once a vCPU "
                           "is unplugged, so vCPUs are only added to a running guest here")
    try:
        for place in [p for p in places if "qom-path" not in p][:max(n - len(present), 0)]:
            await dom.qmp("device_add", {"driver": place["type"],
                                         "id": vcpu_id(place["props"]["core-id"]),
                                         **place["props"]})
        for place in reversed(present[n:]):
            path, index = place["qom-path"], place["props"]["core-id"]
            if not path.startswith(PERIPHERAL):
                raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/number", n,
                                   f"vCPU {index} of this QEMU cannot be unplugged: "
                                   "it was started by an older xend (restart the VM)")
            await dom.qmp("device_del", {"id": path[len(PERIPHERAL):]})
            # Gone once its place is free again: a CPU's DEVICE_DELETED is not
            # relied on, QEMU 7.2 sends none for one the guest ejects.
            deadline = asyncio.get_running_loop().time() + timeout
            while await _vcpu_present(dom, index):
                if asyncio.get_running_loop().time() >= deadline:
                    raise BackendError("DEVICE_DETACH_TIMEOUT", "vCPU",
                                       f"{dom.uuid}/{index}", timeout)
                await asyncio.sleep(POLL)
    finally:
        # The sampler reads the CPU time of the vCPU threads there are now.
        dom.vcpu_tids = sorted({cpu["thread-id"] for cpu in await dom.qmp("query-cpus-fast")})


async def _vcpu_present(dom, index):
    """Whether the guest has the vCPU of core ``index`` now."""
    return any("qom-path" in place and place["props"]["core-id"] == index
               for place in await dom.qmp("query-hotpluggable-cpus"))


async def device_gone(dom, dev):
    """QEMU removed device ``dev`` (DEVICE_DELETED): free its host side, then
    wake the detach calls waiting for it, if any are still waiting."""
    kind, _, ref = dev.partition("-")
    if kind == "vbd" and dom.disks.pop(ref, None) is not None:
        await _delete_nodes(dom, ref)
    elif kind == "vif" and dom.taps.pop(ref, None) is not None:
        await dom.qmp("netdev_del", {"id": netdev_id(ref)}, undo=True)
    dom.slots.pop(dev, None)
    for waiter in dom.unplugs.pop(dev, []):
        if not waiter.done():
            waiter.set_result(None)


async def snapshot_disk(dom, vbd, new_leaf):
    """Switch disk ``vbd`` to a new qcow2 overlay ``new_leaf`` on its current top image.

    The daemon makes the overlay (qemu-img, naming the top image, which it finds
    through QEMU's descriptor of it) and hands it over opened; QEMU adds it as a node
    with the current top as backing (``blockdev-snapshot``) and writes there from now on.
    """
    node = dom.disks.get(vbd)
    if node is None:
        raise BackendError("HANDLE_INVALID", "VBD", vbd)
    fds, _ = await disk_fdsets(dom, vbd)
    if not fds:
        raise BackendError("INTERNAL_ERROR", f"QEMU holds no image of VBD {vbd}")
    level = max(fds)
    top = os.readlink(f"/proc/{dom.pid}/fd/{fds[level][0]}")
    size = json.loads(qemu_img("info", "-U", "--output=json", "-f", "qcow2", top))
    new_leaf = os.path.abspath(new_leaf)
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", top, "-F", "qcow2", new_leaf,
             str(size["virtual-size"]))
    overlay = overlay_node(vbd, level + 1)
    try:
        leaf = open_writable(new_leaf)
        with closing([leaf]):
            fdset = await add_fdset(dom, leaf, disk_tag(vbd, level + 1))
        await dom.qmp("blockdev-add", image_node([(fdset, "qcow2", False)], False, overlay))
        try:
            await dom.qmp("blockdev-snapshot", {"node": node, "overlay": overlay})
        except BaseException:
            await dom.qmp("blockdev-del", {"node-name": overlay}, undo=True)
            raise
    except BaseException:
        await _drop_level(dom, vbd, level + 1)
        unlink_if_exists(new_leaf)
        raise
    dom.disks[vbd] = overlay


async def _drop_level(dom, vbd, level):
    """Give back the fd set of level ``level`` of VBD ``vbd``'s chain, if QEMU has it."""
    fdset = (await disk_fdsets(dom, vbd))[1].get(level)
    if fdset is not None:
        await dom.qmp("remove-fd", {"fdset-id": fdset}, undo=True)


async def change_medium(dom, disk):
    """Put ``disk``'s image into the CD-ROM drive ``disk.vbd`` (see
    QemuBackend.change_medium): the old medium's node and fd sets are given back once
    the new one is in; on failure the drive keeps the old one."""
    old = dom.disks.get(disk.vbd)
    if old is None or not disk.cdrom:
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD", disk.vbd,
                           "the guest has no CD-ROM drive of this VBD")
    dev = device_id("vbd", disk.vbd)
    _, old_fdsets = await disk_fdsets(dom, disk.vbd)
    node = medium_node(disk.vbd, old)
    try:
        opened = open_disk(disk)
        with closing([fds for fds, *_ in opened]):
            chain = [(await add_fdset(dom, fds, disk_tag(disk.vbd, level)), fmt, block)
                     for fds, fmt, block, level in opened]
        await dom.qmp("blockdev-add", image_node(chain, True, node))
    except BaseException:
        await _remove_new_fdsets(dom, disk.vbd, old_fdsets)
        raise
    # The guest may hold the tray locked (a mounted CD): forced open, as an eject
    # button held down does.
    try:
        await dom.qmp("blockdev-open-tray", {"id": dev, "force": True})
        await dom.qmp("blockdev-remove-medium", {"id": dev})
        try:
            await dom.qmp("blockdev-insert-medium", {"id": dev, "node-name": node})
        except BaseException:
            await dom.qmp("blockdev-insert-medium", {"id": dev, "node-name": old}, undo=True)
            raise
    except BaseException:
        await dom.qmp("blockdev-close-tray", {"id": dev}, undo=True)
        await dom.qmp("blockdev-del", {"node-name": node}, undo=True)
        await _remove_new_fdsets(dom, disk.vbd, old_fdsets)
        raise
    await dom.qmp("blockdev-close-tray", {"id": dev})
    dom.disks[disk.vbd] = node
    await dom.qmp("blockdev-del", {"node-name": old}, undo=True)
    for fdset in old_fdsets.values():
        await dom.qmp("remove-fd", {"fdset-id": fdset}, undo=True)


async def _remove_new_fdsets(dom, vbd, old_fdsets):
    """Give back VBD ``vbd``'s fd sets but those in ``old_fdsets`` ({level: id})."""
    for fdset in (await disk_fdsets(dom, vbd))[1].values():
        if fdset not in old_fdsets.values():
            await dom.qmp("remove-fd", {"fdset-id": fdset}, undo=True)


# QEMU's cache flags of a block node, as the cache mode names them.
_CACHE_MODES = {(True, False, False): "writeback", (False, False, False): "writethrough",
                (True, True, False): "none", (False, True, False): "directsync"}


async def device_properties(dom, kind, ref):
    """VBD or VIF ``ref``'s facts in guest ``dom`` (see Backend.device_properties):
    its device and where QEMU has it; a disk's block node, image, format and cache
    mode, a NIC's netdev, tap and MAC. Empty where the guest lacks it."""
    dev = device_id(kind, ref)
    facts = {"backend-id": "0", "state": "4", "backend": PERIPHERAL + dev, "device": dev}
    if dev in dom.slots:
        facts["pci-slot"] = "%02x" % dom.slots[dev]
    if kind == "vif":
        if ref not in dom.taps:
            return {}
        mac = await dom.qmp("qom-get", {"path": PERIPHERAL + dev, "property": "mac"})
        return dict(facts, netdev=netdev_id(ref), tap=dom.taps[ref], mac=mac)
    node = dom.disks.get(ref)
    if node is None:
        return {}
    for info in await dom.qmp("query-named-block-nodes", {"flat": True}):
        if info["node-name"] == node:
            cache = info["cache"]
            flags = (cache["writeback"], cache["direct"], cache["no-flush"])
            return dict(facts, **{"node-name": node, "format": info["drv"],
                                  "read-only": str(info["ro"]).lower(),
                                  "cache": _CACHE_MODES.get(flags, "unsafe")})
    return facts
