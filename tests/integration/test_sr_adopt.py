"""SRs and VDIs over files the administrator already has (SR.introduce, VDI.introduce,
SR.scan, the forgets, ISO libraries), through the SDK on the sim backend: an adopted VDI
is its file, no call but VDI.delete in an image SR removes one, and users other than
root adopt only regular files under the guest file roots (STATE_DIR/boot here)."""

import os
import subprocess

import pytest
from harness import failure, make_user, new_vbd, new_vdi, new_vm, unique

MIB = 1 << 20


# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


@pytest.fixture(scope="module")
def user(daemon, root):
    _, name, password = make_user(root)
    return daemon.sdk_tcp(name, password).xenapi


def admin_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("images"))


def raw_image(path, size=4 * MIB, data=b"xend-adopted"):
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(size)
    return path


def qcow2_image(path, size=8 * MIB, backing=None):
    argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if backing:
        argv += ["-b", backing, "-F", "raw"]
    subprocess.run(argv + [path] + ([] if backing else [str(size)]), check=True)
    return path


def introduce(api, directory, sr_type="image"):
    return api.SR.introduce(sr_type, directory, unique("adopted"))


def test_an_existing_file_becomes_a_vdi_that_is_that_file(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "vm1.img"), 3 * MIB)
    qcow = qcow2_image(os.path.join(d, "vm2.qcow2"), 10 * MIB)
    sr = introduce(api, d)
    assert api.SR.get_type(sr) == "image" and api.SR.get_location(sr) == d
    v1 = api.VDI.introduce(sr, raw)
    v2 = api.VDI.introduce(sr, qcow)
    assert api.VDI.get_location(v1) == raw and api.VDI.get_location(v2) == qcow
    assert int(api.VDI.get_virtual_size(v1)) * 512 == 3 * MIB
    assert int(api.VDI.get_virtual_size(v2)) * 512 == 10 * MIB     # the qcow2's disk size
    assert api.VDI.get_managed(v1) is False
    assert sorted(os.listdir(d)) == ["vm1.img", "vm2.qcow2"]         # nothing copied nor made
    # Adopting it twice would be two disks writing one file.
    assert failure(api.VDI.introduce, sr, raw)[:2] == ["INVALID_VALUE", "location"]
    # A VM deleted with its disks attached leaves the file and the VDI.
    vm = new_vm(api)
    new_vbd(api, vm, v1)
    api.VM.destroy(vm)
    assert api.VDI.get_location(v1) == raw and os.path.exists(raw)


def test_forget_drops_records_and_keeps_files(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "disk.img"))
    sr = introduce(api, d)
    vdi = api.VDI.introduce(sr, raw)
    vm = new_vm(api)
    vbd = new_vbd(api, vm, vdi)
    # Not while a VBD refers to it: the VM would point at nothing.
    assert failure(api.VDI.forget, vdi)[0] == "OBJECT_IN_USE"
    assert failure(api.SR.forget, sr)[0] == "OBJECT_IN_USE"
    assert api.VDI.get_location(vdi) == raw
    api.VBD.destroy(vbd)
    api.VDI.forget(vdi)
    assert os.path.exists(raw)
    vdi = api.VDI.introduce(sr, raw)
    api.SR.forget(sr)
    assert failure(api.VDI.get_location, vdi)[0] == "HANDLE_INVALID"
    assert os.listdir(d) == ["disk.img"]
    # SR.delete of an adopted SR leaves its directory, even an empty one.
    sr = introduce(api, d)
    os.unlink(raw)
    api.SR.destroy(sr)
    assert os.path.isdir(d)


def test_vdi_delete_in_an_image_sr_is_asking_for_the_file(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "scratch.img"))
    sr = introduce(api, d)
    vdi = api.VDI.introduce(sr, raw)
    api.VDI.destroy(vdi)
    assert not os.path.exists(raw) and os.path.isdir(d)


def test_what_an_image_sr_refuses(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "a.img"))
    sr = introduce(api, d)
    api.VDI.introduce(sr, raw)
    assert failure(new_vdi, api, sr)[:3] == ["VALUE_NOT_SUPPORTED", "SR.type", "image"]
    assert failure(api.SR.clone, sr, d + "-copy", "copy")[0] == "VALUE_NOT_SUPPORTED"
    assert not os.path.exists(d + "-copy")
    # SR.create makes the daemon's own SRs; adopting is SR.introduce's.
    assert failure(api.SR.create, {"name_label": "x", "type": "image", "location": d}
                   )[:3] == ["VALUE_NOT_SUPPORTED", "type", "image"]


def test_resize_grows_an_adopted_image_in_its_format(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "grow.img"), MIB)
    qcow = qcow2_image(os.path.join(d, "grow.qcow2"), MIB)
    sr = introduce(api, d)
    for path in (raw, qcow):
        vdi = api.VDI.introduce(sr, path)
        api.VDI.set_virtual_size(vdi, str(4 * MIB // 512))
        out = subprocess.run(["qemu-img", "info", "--output=json", path], check=True,
                             capture_output=True, text=True).stdout
        assert '"virtual-size": %d' % (4 * MIB) in out
    assert os.path.getsize(raw) == 4 * MIB


@pytest.mark.parametrize("location, reason", [
    ("relative/dir", "must be absolute"),
    ("/no/such/directory", "not an existing directory"),
])
def test_bad_sr_locations_are_named(api, location, reason):
    err = failure(api.SR.introduce, "image", location, "bad")
    assert err[:2] == ["INVALID_VALUE", "location"] and reason in err[2]


def test_bad_types_and_files_are_named(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    assert failure(api.SR.introduce, "dir", d, "x")[:3] == ["VALUE_NOT_SUPPORTED", "type", "dir"]
    err = failure(api.SR.introduce, "nfs", d, "x")
    assert err[:3] == ["VALUE_NOT_SUPPORTED", "type", "nfs"] and "block, image, iso" in err[3]
    sr = introduce(api, d)
    os.mkdir(os.path.join(d, "sub"))
    other = admin_dir(tmp_path_factory)
    raw_image(os.path.join(other, "x.img"))
    for path, reason in ((os.path.join(d, "missing.img"), "No such file"),
                         (os.path.join(d, "sub"), "not a regular file"),
                         (os.path.join(other, "x.img"), "not a file directly in")):
        err = failure(api.VDI.introduce, sr, path)
        assert err[:2] == ["INVALID_VALUE", "location"] and reason in err[2], err
    with open(os.path.join(d, "disk.vmdk"), "wb") as f:
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", f.name, "1M"], check=True)
    err = failure(api.VDI.introduce, sr, os.path.join(d, "disk.vmdk"))
    assert err[:2] == ["VALUE_NOT_SUPPORTED", "location"] and "vmdk" in err[3]


def test_users_adopt_only_under_the_roots(daemon, api, user, tmp_path_factory):
    boot = os.path.join(daemon.state_dir, "boot")
    mine = os.path.join(boot, unique("images"))
    os.makedirs(mine)
    raw_image(os.path.join(mine, "ok.img"))
    os.symlink("/etc/passwd", os.path.join(mine, "link.img"))
    # A qcow2 whose backing file is outside the roots would let the guest read it.
    qcow2_image(os.path.join(mine, "sneaky.qcow2"), backing="/etc/passwd")
    outside = admin_dir(tmp_path_factory)
    assert failure(user.SR.introduce, "image", outside, "x")[:2] == ["INVALID_VALUE",
                                                                      "location"]
    assert failure(user.SR.introduce, "block", mine, "x")[0] == "PERMISSION_DENIED"
    sr = user.SR.introduce("image", mine, "mine")
    vdi = user.VDI.introduce(sr, os.path.join(mine, "ok.img"))
    assert user.VDI.get_location(vdi) == os.path.join(mine, "ok.img")
    for name in ("link.img", "sneaky.qcow2"):
        assert failure(user.VDI.introduce, sr, os.path.join(mine, name))[0] == \
            "PERMISSION_DENIED"
    # Root's SR outside the roots is not the user's to adopt from.
    root_sr = introduce(api, outside)
    raw_image(os.path.join(outside, "r.img"))
    assert failure(user.VDI.introduce, root_sr, os.path.join(outside, "r.img"))[:2] == \
        ["INVALID_VALUE", "location"]
    assert failure(user.SR.forget, sr)[0] == "PERMISSION_DENIED"


def test_a_snapshot_is_a_managed_copy_beside_the_original(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw = raw_image(os.path.join(d, "orig.img"), MIB, b"original bytes")
    qcow = qcow2_image(os.path.join(d, "orig.qcow2"))
    sr = introduce(api, d)
    for path, fmt in ((raw, "raw"), (qcow, "qcow2")):
        vdi = api.VDI.introduce(sr, path)
        snap = api.VDI.snapshot(vdi)
        copy = api.VDI.get_location(snap)
        assert copy == os.path.join(d, "%s.%s" % (snap, fmt))
        assert api.VDI.get_managed(snap) is True and api.VDI.get_parent(snap) == vdi
        with open(copy, "rb") as a, open(path, "rb") as b:
            assert a.read() == b.read()
    api.VDI.destroy(snap)
    assert not os.path.exists(copy) and os.path.exists(qcow)


def test_scan_adopts_new_images_and_forgets_vanished_ones(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw_image(os.path.join(d, "a.img"))
    qcow2_image(os.path.join(d, "b.qcow2"))
    raw_image(os.path.join(d, "notes.txt"))          # not an image name: left alone
    raw_image(os.path.join(d, ".hidden.img"))
    sr = introduce(api, d)
    api.SR.scan(sr)

    def located():
        return {os.path.basename(api.VDI.get_location(v)): v for v in api.SR.get_VDIs(sr)}
    first = located()
    assert set(first) == {"a.img", "b.qcow2"}
    api.SR.scan(sr)                                    # nothing new: the same VDIs
    assert located() == first
    raw_image(os.path.join(d, "c.raw"))
    vm = new_vm(api)
    new_vbd(api, vm, first["b.qcow2"])
    os.unlink(os.path.join(d, "a.img"))
    os.unlink(os.path.join(d, "b.qcow2"))
    api.SR.scan(sr)
    now = located()
    # a.img is forgotten; b.qcow2 is a VM's disk and stays, missing file or not.
    assert set(now) == {"b.qcow2", "c.raw"} and now["b.qcow2"] == first["b.qcow2"]
    assert sorted(os.listdir(d)) == [".hidden.img", "c.raw", "notes.txt"]


def test_an_iso_library_is_read_only(api, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    raw_image(os.path.join(d, "install.iso"), 2 * MIB, b"CD001")
    raw_image(os.path.join(d, "disk.img"))             # not an ISO: not scanned
    sr = introduce(api, d, "iso")
    assert api.SR.get_content_type(sr) == "iso"
    api.SR.scan(sr)
    (vdi,) = api.SR.get_VDIs(sr)
    assert api.VDI.get_location(vdi) == os.path.join(d, "install.iso")
    assert api.VDI.get_read_only(vdi) is True
    assert failure(api.VDI.set_read_only, vdi, False)[:2] == ["INVALID_VALUE", "read_only"]
    assert failure(new_vdi, api, sr)[:3] == ["VALUE_NOT_SUPPORTED", "SR.type", "iso"]
    assert failure(api.VDI.destroy, vdi)[0] == "OPERATION_NOT_ALLOWED"
    assert failure(api.VDI.snapshot, vdi)[:3] == ["VALUE_NOT_SUPPORTED", "SR.type", "iso"]
    assert failure(api.VDI.set_virtual_size, vdi, "8192")[:3] == ["VALUE_NOT_SUPPORTED",
                                                                   "SR.type", "iso"]
    vm = new_vm(api)
    assert failure(new_vbd, api, vm, vdi)[:2] == ["INVALID_VALUE", "mode"]   # RW asked
    vbd = new_vbd(api, vm, vdi, device="hdc", mode="RO", type="Disk")
    assert api.VBD.get_type(vbd) == "CD"            # an ISO is always in a CD drive
    api.VM.destroy(vm)
    api.VDI.forget(vdi)
    assert sorted(os.listdir(d)) == ["disk.img", "install.iso"]


def test_block_srs_are_roots(daemon, api, user, tmp_path_factory):
    d = admin_dir(tmp_path_factory)
    sr = introduce(api, d, "block")
    raw_image(os.path.join(d, "file.img"))
    api.SR.scan(sr)                                    # no block devices there
    assert api.SR.get_VDIs(sr) == []
    err = failure(api.VDI.introduce, sr, os.path.join(d, "file.img"))
    assert err[:2] == ["INVALID_VALUE", "location"] and "not a block device" in err[2]
    assert failure(user.SR.scan, sr)[0] == "PERMISSION_DENIED"
