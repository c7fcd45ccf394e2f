"""The SR types every host of a pool reaches (SR.shared true): "shared-dir", a directory
the administrator shares, and "nfs", an export the host mounts; the host's own types
stay unshared. Through the SDK on a sim daemon, on real files."""

import os
import shutil
import subprocess

import pytest
from harness import failure, new_sr, new_vdi, scratch_dir, unique


def refused(api, **fields):
    """The ErrorDescription of an SR.create of ``fields`` (a unique name added)."""
    return failure(api.SR.create, dict({"name_label": unique("sr")}, **fields))


@pytest.fixture
def shared_dir():
    path = scratch_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_shared_dir_holds_its_vdis_and_is_shared(root, v10, shared_dir):
    sr = new_sr(root, type="shared-dir", location=shared_dir)
    assert v10.SR.get_shared(sr) is True
    assert v10.SR.get_shared(new_sr(root)) is False            # dir: one host's own
    assert v10.SR.get_shared(new_sr(root, type="file")) is False
    vdi = new_vdi(root, sr)
    assert os.listdir(shared_dir) == [vdi + ".qcow2"]
    pbd, = v10.SR.get_PBDs(sr)
    assert v10.PBD.get_device_config(pbd) == {"location": shared_dir, "format": "qcow2"}
    assert "shared-dir" in v10.SR.get_supported_types() and "nfs" in \
        v10.SR.get_supported_types()
    root.VDI.destroy(vdi)
    assert os.listdir(shared_dir) == []
    root.SR.destroy(sr)
    assert os.path.isdir(shared_dir)                 # the administrator's: it stays


def test_shared_dir_needs_a_directory_that_is_there(root, shared_dir):
    missing = os.path.join(shared_dir, "absent")
    assert refused(root, type="shared-dir", location=missing)[:2] == [
        "INVALID_VALUE", "location"]
    assert refused(root, type="shared-dir")[:2] == ["INVALID_VALUE", "location"]
    assert not os.path.exists(missing)


@pytest.mark.parametrize("config, error", [
    ({}, ["FIELD_MISSING", "device_config:server"]),
    ({"server": "192.0.2.1"}, ["FIELD_MISSING", "device_config:serverpath"]),
    ({"server": "", "serverpath": "/export"}, ["FIELD_MISSING", "device_config:server"]),
    ({"server": "192.0.2.1", "serverpath": "/x", "options": "rw"},
     ["INVALID_VALUE", "device_config"]),
])
def test_nfs_device_config_is_checked(root, config, error):
    name = unique("nfs")
    assert refused(root, type="nfs", device_config=config,
                   name_label=name)[:len(error)] == error
    assert root.SR.get_by_name_label(name) == []


def test_the_local_types_take_no_device_config(root):
    details = refused(root, type="dir", device_config={"server": "192.0.2.1"})
    assert details[:2] == ["INVALID_VALUE", "device_config"]
    assert "takes no device_config" in details[2]


def nfs_mounts():
    """Whether this machine can mount NFS: the kernel's client and mount.nfs."""
    with open("/proc/filesystems") as f:
        kernel = any(line.split()[-1] in ("nfs", "nfs4") for line in f if line.strip())
    return kernel and shutil.which("mount.nfs") is not None


def test_nfs_that_cannot_be_mounted_is_refused(root, daemon):
    """A failed mount (here: no NFS server on 127.0.0.1, or no NFS in the kernel) is a
    structured Failure naming the export, and leaves no SR and no mount point."""
    name = unique("nfs")
    details = refused(root, type="nfs", name_label=name,
                      device_config={"server": "127.0.0.1", "serverpath": "/no/export"})
    assert details[:2] == ["INVALID_VALUE", "device_config"]
    assert "127.0.0.1:/no/export" in details[2]
    assert root.SR.get_by_name_label(name) == []
    sr_dir = os.path.join(daemon.state_dir, "sr")
    assert not any(os.path.ismount(os.path.join(sr_dir, e)) for e in os.listdir(sr_dir))


@pytest.mark.skipif(not nfs_mounts() or shutil.which("exportfs") is None,
                    reason="no NFS here: the kernel has no NFS client, or mount.nfs or "
                           "exportfs (nfs-kernel-server) is missing")
def test_nfs_is_mounted_at_create_and_unmounted_at_forget(root, v10, shared_dir):
    subprocess.run(["exportfs", "-o", "rw,no_root_squash,insecure",
                    "127.0.0.1:" + shared_dir], check=True)
    try:
        sr = new_sr(root, type="nfs",
                    device_config={"server": "127.0.0.1", "serverpath": shared_dir})
        location = root.SR.get_location(sr)
        assert os.path.ismount(location) and v10.SR.get_shared(sr) is True
        vdi = new_vdi(root, sr)
        assert os.listdir(shared_dir) == [vdi + ".qcow2"]     # on the server's side
        root.SR.forget(sr)
        assert not os.path.ismount(location)
        assert os.listdir(shared_dir) == [vdi + ".qcow2"]     # forgotten, not deleted
    finally:
        subprocess.run(["exportfs", "-u", "127.0.0.1:" + shared_dir])
