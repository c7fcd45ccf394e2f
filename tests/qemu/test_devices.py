"""VMs with disks and NICs on QEMU: what the guest is given, snapshots of disks in use,
clones made of snapshots, and resume from a saved state that is missing or damaged.

Image paths are internal to the daemon; the tests find them the way the dir SR lays
them out: ``<SR location>/<VDI uuid>.qcow2`` for a VDI made by VDI.create or a snapshot.
"""

import json
import os
import signal

import pytest
from harness import (
    failure,
    new_no_os_vm,
    new_vbd,
    new_vdi,
    qemu_pids,
    requires_qemu,
    skip_without_taps,
    vm_in,
)
from qemuapi import call_in_thread, cmdline, qemu_img_chain, suspend_file, the_pid

pytestmark = [pytest.mark.qemu, requires_qemu]


def _image(api, vdi):
    sr = api.VDI.get_SR(vdi)
    return os.path.join(api.SR.get_location(sr), "%s.qcow2" % vdi)


def _images(pid):
    """The image files QEMU ``pid`` holds (a disk's whole chain), resolved: it is handed
    descriptors, so its command line names none."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith(".qcow2"):
            out.add(os.path.realpath(target))
    return out


def _devices(pid, option):
    """The JSON values of every ``option`` (-blockdev or -device) on QEMU's command line."""
    args = cmdline(pid)
    out = []
    for flag, value in zip(args, args[1:]):
        if flag == option and value.startswith("{"):
            out.append(json.loads(value))
    return out


def _vm_with_disk_and_nic(api):
    skip_without_taps()
    vm = new_no_os_vm(api)
    vdi = new_vdi(api)
    vbd = new_vbd(api, vm, vdi)
    net = api.network.create({"name_label": "net-" + os.urandom(3).hex()})
    vif = api.VIF.create({"VM": vm, "network": net, "device": "eth0", "MAC": ""})
    return vm, vdi, vbd, vif


def test_vm_with_a_disk_and_a_nic_starts(api):
    vm, vdi, vbd, vif = _vm_with_disk_and_nic(api)
    mac = api.VIF.get_MAC(vif)
    assert mac
    api.VM.start(vm, False)
    assert api.VM.get_power_state(vm) == "Running"
    pid = the_pid(vm)
    blockdevs = _devices(pid, "-blockdev")
    devices = {d.get("id"): d for d in _devices(pid, "-device")}
    assert _images(pid) == {os.path.realpath(_image(api, vdi))}
    assert blockdevs[0]["driver"] == "qcow2" and not blockdevs[0]["read-only"]
    disk = devices["vbd-" + vbd]
    assert disk["driver"] == "virtio-blk-pci" and disk["drive"] == blockdevs[0]["node-name"]
    nic = devices["vif-" + vif]
    assert nic["driver"] == "virtio-net-pci" and nic["mac"].lower() == mac.lower()
    # Suspend and resume give the new process the same devices.
    api.VM.suspend(vm, False)
    api.VM.resume(vm, False)
    new = the_pid(vm)
    assert new != pid
    assert _devices(new, "-blockdev") == blockdevs
    assert {d.get("id") for d in _devices(new, "-device")} >= {"vbd-" + vbd, "vif-" + vif}


def test_snapshot_of_a_disk_in_use(api):
    vm = new_no_os_vm(api)
    vdi = new_vdi(api)
    new_vbd(api, vm, vdi)
    api.VM.start(vm, False)
    pid = the_pid(vm)
    old_leaf = _image(api, vdi)

    snap = api.VDI.snapshot(vdi)
    assert api.VDI.get_parent(snap) == vdi
    assert snap in api.VDI.get_children(vdi)
    assert api.VDI.get_virtual_size(snap) == api.VDI.get_virtual_size(vdi)
    # The running guest carried on in the same process.
    assert api.VM.get_power_state(vm) == "Running"
    assert qemu_pids(vm) == [pid]
    # The snapshot is an overlay on the image the guest used so far, now frozen...
    chain = qemu_img_chain(_image(api, snap))
    assert [os.path.realpath(i["filename"]) for i in chain] == [
        os.path.realpath(_image(api, snap)), os.path.realpath(old_leaf)]
    # ...and the guest writes to an overlay of its own on that same image.
    leaves = [n for n in os.listdir(os.path.dirname(old_leaf))
              if n.startswith(vdi + ".") and n != vdi + ".qcow2"]
    assert len(leaves) == 1, leaves
    new_leaf = os.path.join(os.path.dirname(old_leaf), leaves[0])
    assert [os.path.realpath(i["filename"]) for i in qemu_img_chain(new_leaf)] == [
        os.path.realpath(new_leaf), os.path.realpath(old_leaf)]

    # The VM suspends, resumes and restarts on its new leaf.
    api.VM.suspend(vm, True)
    api.VM.resume(vm, False)
    assert api.VM.get_power_state(vm) == "Running"
    # (the chain: the new leaf, over the image the snapshot froze)
    assert _images(the_pid(vm)) == {os.path.realpath(new_leaf), os.path.realpath(old_leaf)}
    api.VM.hard_shutdown(vm)
    api.VM.start(vm, False)
    assert api.VM.get_power_state(vm) == "Running"


def test_clone_disks_are_snapshots(api):
    vm, vdi, vbd, vif = _vm_with_disk_and_nic(api)
    clone = api.VM.clone(vm, "the clone")
    assert api.VM.get_power_state(clone) == "Halted"
    (clone_vbd,) = api.VM.get_VBDs(clone)
    clone_vdi = api.VBD.get_VDI(clone_vbd)
    assert clone_vdi != vdi
    assert api.VDI.get_parent(clone_vdi) == vdi
    (clone_vif,) = api.VM.get_VIFs(clone)
    assert api.VIF.get_MAC(clone_vif) != api.VIF.get_MAC(vif)

    # Both images are overlays of one frozen base: the original's state at clone time.
    clone_chain = qemu_img_chain(_image(api, clone_vdi))
    orig_chain = qemu_img_chain(_image(api, vdi))
    assert len(clone_chain) == len(orig_chain) == 2, (clone_chain, orig_chain)
    assert os.path.realpath(clone_chain[0]["filename"]) == os.path.realpath(
        _image(api, clone_vdi))
    base = os.path.realpath(clone_chain[1]["filename"])
    assert base == os.path.realpath(orig_chain[1]["filename"])
    assert base != os.path.realpath(_image(api, vdi))
    assert clone_chain[0]["virtual-size"] == clone_chain[1]["virtual-size"]

    # Both run at once, each on its own leaf.
    api.VM.start(vm, False)
    api.VM.start(clone, False)
    files = {v: _images(the_pid(v)) for v in (vm, clone)}
    assert files[vm] == {os.path.realpath(_image(api, vdi)), base}
    assert files[clone] == {os.path.realpath(_image(api, clone_vdi)), base}


def test_resume_with_the_state_file_missing(api, qemu_daemon):
    vm = vm_in(api, "Suspended", lambda: new_no_os_vm(api))
    path = suspend_file(qemu_daemon, vm)
    os.unlink(path)
    assert failure(api.VM.resume, vm, False) == ["VM_STATE_FILE_MISSING", path]
    assert api.VM.get_power_state(vm) == "Suspended"
    assert qemu_pids(vm) == []
    assert failure(api.VM.resume, vm, True) == ["VM_STATE_FILE_MISSING", path]
    assert api.VM.get_power_state(vm) == "Suspended"
    api.VM.hard_shutdown(vm)
    assert api.VM.get_power_state(vm) == "Halted"


def _resume_within(d, vm, seconds):
    """VM.resume(vm, False) on a Session of its own, given ``seconds`` to answer. If it
    has not answered by then, the VM's QEMU is killed (which ends the wait inside the
    daemon) and the reply is returned with "late" set."""
    thread, outcome = call_in_thread(d, "resume", vm, False)
    thread.join(seconds)
    if thread.is_alive():
        outcome["late"] = True
        for pid in qemu_pids(vm):
            os.kill(pid, signal.SIGKILL)
        thread.join(60)
    return outcome


@pytest.mark.parametrize("damage", [
    "garbage", "truncated",
    "empty"])
def test_resume_from_a_corrupt_state_file(api, qemu_daemon, damage):
    vm = vm_in(api, "Suspended", lambda: new_no_os_vm(api))
    path = suspend_file(qemu_daemon, vm)
    if damage == "garbage":
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
    elif damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    else:
        open(path, "wb").close()
    outcome = _resume_within(qemu_daemon, vm, 5)
    assert not outcome.get("late"), "VM.resume did not answer within 5 s: %s" % outcome
    assert outcome.get("failure") == ["VM_STATE_FILE_CORRUPT", path]
    assert api.VM.get_power_state(vm) == "Suspended"
    assert api.VM.get_resident_on(vm) == ""
    assert qemu_pids(vm) == []                           # no process left behind
    assert os.path.exists(path)                          # the evidence is kept
    api.VM.hard_shutdown(vm)
    assert not os.path.exists(path)
