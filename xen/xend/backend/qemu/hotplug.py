"""Devices of a running guest: hot-plug and unplug of disks and NICs, and a disk's
switch to a snapshot overlay.

Disks and NICs sit at fixed PCI slots (argv.assign_slots). Hot-plug is
``blockdev-add`` + ``device_add`` (a disk) or ``getfd`` + ``netdev_add`` +
``device_add`` (a NIC), undone step by step if a later step fails. Unplug is
``device_del``; the guest answers, QEMU sends DEVICE_DELETED, and only then is
the host's side freed: ``blockdev-del`` / ``netdev_del`` (which closes the tap).
"""

import asyncio
import os
import uuid as uuidlib

from xen.xend.host import netdev

from ..base import BackendError
from .argv import device_id, disk_args, disk_node, free_slot, is_pci, netdev_id, nic_device


async def attach_disk(dom, disk):
    """Plug virtio disk ``disk`` in at a free PCI slot (see QemuBackend.attach_disk)."""
    if not is_pci(disk):
        raise BackendError("VALUE_NOT_SUPPORTED", "VBD/driver", disk.driver,
                           "QEMU cannot hot-plug an emulated IDE disk: use the "
                           "paravirtualised driver, or attach it while the VM is halted")
    if disk.vbd in dom.disks:
        raise BackendError("INTERNAL_ERROR", f"VBD {disk.vbd} is attached already")
    blockdev, device = disk_args(disk, _reserve_slot(dom, "vbd", disk.vbd))
    try:
        await dom.qmp("blockdev-add", blockdev)
        try:
            await dom.qmp("device_add", device)
        except BaseException:
            await dom.qmp("blockdev-del", {"node-name": blockdev["node-name"]}, undo=True)
            raise
    except BaseException:
        del dom.slots[device["id"]]
        raise
    dom.disks[disk.vbd] = blockdev["node-name"]


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


async def device_gone(dom, dev):
    """QEMU removed device ``dev`` (DEVICE_DELETED): free its host side, then
    wake the detach calls waiting for it, if any are still waiting."""
    kind, _, ref = dev.partition("-")
    if kind == "vbd" and dom.disks.pop(ref, None) is not None:
        # A snapshot's overlays go with the device; the node we added stays ours.
        await dom.qmp("blockdev-del", {"node-name": disk_node(ref)}, undo=True)
    elif kind == "vif" and dom.taps.pop(ref, None) is not None:
        await dom.qmp("netdev_del", {"id": netdev_id(ref)}, undo=True)
    dom.slots.pop(dev, None)
    for waiter in dom.unplugs.pop(dev, []):
        if not waiter.done():
            waiter.set_result(None)


async def snapshot_disk(dom, vbd, new_leaf):
    """Switch disk ``vbd`` to the new qcow2 overlay ``new_leaf``, which QEMU creates."""
    node = dom.disks.get(vbd)
    if node is None:
        raise BackendError("HANDLE_INVALID", "VBD", vbd)
    # Node names must be unique in the process and at most 31 characters.
    overlay = "snap" + uuidlib.uuid4().hex[:16]
    await dom.qmp("blockdev-snapshot-sync", {
        "node-name": node, "snapshot-file": os.path.abspath(new_leaf),
        "snapshot-node-name": overlay, "format": "qcow2", "mode": "absolute-paths"})
    dom.disks[vbd] = overlay
