"""VM.save and VM.restore to a file root names: the lifecycle, the file's rules, bad
files changing nothing, and a restore in a second daemon with its own state."""

import json
import os
import stat
import struct

import pytest
from harness import Daemon, failure, make_user, new_network, new_vbd, new_vdi, new_vif, new_vm


@pytest.fixture
def saved(root, tmp_path):
    """(a VM saved from Running, its file)."""
    vm = new_vm(root)
    root.VM.start(vm, False)
    path = str(tmp_path / "vm.save")
    root.VM.save(vm, path)
    return vm, path


def test_save_then_restore_into_the_same_vm(root, saved):
    vm, path = saved
    assert root.VM.get_power_state(vm) == "Halted"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, "rb") as f:
        assert f.read(8) == b"XENDSAVE"
    assert root.VM.restore(path, True) == vm
    assert root.VM.get_power_state(vm) == "Paused"
    # Saved from Paused, restored Running; the file is kept for another restore.
    os.unlink(path)
    root.VM.save(vm, path)
    assert root.VM.restore(path, False) == vm
    assert root.VM.get_power_state(vm) == "Running"
    assert failure(root.VM.restore, path, False) == ["VM_BAD_POWER_STATE", vm, "Halted",
                                                     "Running"]


def test_save_refusals(root, tmp_path):
    vm = new_vm(root)
    path = str(tmp_path / "f")
    assert failure(root.VM.save, vm, path) == ["VM_BAD_POWER_STATE", vm, "Running,Paused",
                                               "Halted"]
    root.VM.start(vm, False)
    assert failure(root.VM.save, vm, "rel/f") == [
        "INVALID_VALUE", "filename", "rel/f (must be an absolute path)"]
    with open(path, "w") as f:
        f.write("keep")
    assert failure(root.VM.save, vm, path) == [
        "INVALID_VALUE", "filename", "%s (exists: a save never overwrites a file)" % path]
    assert failure(root.VM.save, vm, str(tmp_path / "no" / "f"))[:2] == [
        "INVALID_VALUE", "filename"]
    assert root.VM.get_power_state(vm) == "Running"
    with open(path) as f:
        assert f.read() == "keep"
    root.VM.hard_shutdown(vm)


def test_root_only(daemon, root, saved):
    _, name, password = make_user(root)
    user = daemon.sdk_tcp(name, password).xenapi
    vm, path = saved
    assert failure(user.VM.restore, path, False)[0] == "PERMISSION_DENIED"
    assert failure(user.VM.save, vm, path + "2")[0] == "PERMISSION_DENIED"


def _rewritten(path, dest, change, stream=None):
    """Copy the save file ``path`` to ``dest`` with its header changed by ``change`` (and
    its stream replaced by ``stream``, if given)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version, length = struct.unpack(">8sII", data[:16])
    header = json.loads(data[16:16 + length])
    stream = data[16 + length:] if stream is None else stream
    change(header)
    header["stream_bytes"] = len(stream)
    body = json.dumps(header).encode()
    with open(dest, "wb") as f:
        f.write(struct.pack(">8sII", magic, version, len(body)) + body + stream)
    return dest


def test_bad_files_change_nothing(root, saved, tmp_path):
    vm, path = saved
    with open(path, "rb") as f:
        data = f.read()
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:-1])
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a save file at all")
    version = tmp_path / "version"
    version.write_bytes(data[:8] + struct.pack(">I", 99) + data[12:])
    other = _rewritten(path, str(tmp_path / "other"), lambda h: h.update(backend="qemu"))
    cases = {
        str(truncated): "truncated or extended: %d bytes, not %d" % (len(data) - 1, len(data)),
        str(garbage): "not a file VM.save wrote",
        str(version): "format version 99 (this daemon reads 1)",
        other: "saved by the qemu backend, and this daemon runs sim",
        str(tmp_path / "missing"): "No such file or directory",
    }
    vms = set(root.VM.get_all())
    for bad, reason in cases.items():
        assert failure(root.VM.restore, bad, False) == [
            "VM_SAVE_FILE_INVALID", bad, reason], bad
    assert failure(root.VM.restore, "vm.save", False)[0] == "INVALID_VALUE"
    assert set(root.VM.get_all()) == vms
    assert root.VM.get_power_state(vm) == "Halted"


def test_restore_in_a_second_daemon(root, tmp_path):
    net = new_network(root)
    vm = new_vm(root, other_config={"k": "v"})
    vif = new_vif(root, vm, net)
    root.VM.start(vm, False)
    path = str(tmp_path / "portable.save")
    root.VM.save(vm, path)
    with_disk = new_vm(root)
    vdi = new_vdi(root)
    new_vbd(root, with_disk, vdi)
    root.VM.start(with_disk, False)
    disk_path = str(tmp_path / "disk.save")
    root.VM.save(with_disk, disk_path)

    other = Daemon().start()
    try:
        api = other.relogin()
        assert api.VM.restore(path, False) == vm
        assert api.VM.get_power_state(vm) == "Running"
        assert api.VM.get_other_config(vm) == {"k": "v"}
        assert api.VM.get_VIFs(vm) == [vif]
        assert api.network.get_name_label(api.VIF.get_network(vif)) == \
            root.network.get_name_label(net)
        # A disk this daemon does not have: no VM is made.
        vms = set(api.VM.get_all())
        assert failure(api.VM.restore, disk_path, False) == [
            "VDI_MISSING", vdi, root.VDI.get_location(vdi)]
        assert set(api.VM.get_all()) == vms
        # Once its directory is an SR of existing files here, the image is adopted; a
        # guest state the backend cannot load leaves neither VM nor VDI nor network.
        api.SR.introduce("image", os.path.dirname(root.VDI.get_location(vdi)), "theirs")
        bad = _rewritten(disk_path, str(tmp_path / "bad-stream"), lambda h: None, b"{}")
        records = {cls: set(getattr(api, cls).get_all()) for cls in ("VM", "VDI", "network")}
        assert failure(api.VM.restore, bad, False) == [
            "VM_SAVE_FILE_INVALID", bad, "the sim backend cannot load its guest state"]
        assert {cls: set(getattr(api, cls).get_all()) for cls in records} == records
        assert api.VM.restore(disk_path, False) == with_disk
        adopted = api.VBD.get_VDI(api.VM.get_VBDs(with_disk)[0])
        assert api.VDI.get_location(adopted) == root.VDI.get_location(vdi)
    finally:
        other.cleanup()
