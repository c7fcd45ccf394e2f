"""SR type "file" (a directory of sparse raw images) through the SDK, on real files: create,
resize, delete, snapshot (a sparse copy; refused while a running VM uses the VDI), VM.clone
and SR.clone, and that its VBDs reach the backends as raw disks."""

import json
import os
import subprocess
import types

import pytest
from harness import failure, files_by_name, new_sr, new_vbd, new_vdi, new_vm, tmpfs, unique

from xen.xend.api.errors import ApiError
from xen.xend.backend.qemu.argv import build_argv
from xen.xend.backend.spec import DomainSpec, VMConfig
from xen.xend.backend.xen import config as xl_config
from xen.xend.daemon import config
from xen.xend.daemon.app import Xend
from xen.xend.host import srdrivers

MIB = 1 << 20


# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


def file_sr(api, **fields):
    return new_sr(api, type="file", **fields)


def path_of(api, vdi):
    """The image of ``vdi``, made in its file SR by VDI.create or VDI.snapshot (SR.clone's
    copies keep the original file names)."""
    loc = api.SR.get_location(api.VDI.get_SR(vdi))
    return os.path.join(loc, vdi + ".raw")


def images(api, sr):
    return sorted(os.listdir(api.SR.get_location(sr)))


def write_at(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_create_is_a_sparse_raw_file_of_the_size(api):
    sr = file_sr(api)
    assert api.SR.get_type(sr) == "file"
    vdi = new_vdi(api, sr, virtual_size=str(64 * MIB // 512))
    path = path_of(api, vdi)
    st = os.stat(path)
    assert st.st_size == 64 * MIB
    assert st.st_blocks * 512 < MIB                      # all hole
    assert images(api, sr) == [vdi + ".raw"]
    write_at(path, 32 * MIB, b"x" * 8192)
    used = int(api.VDI.get_physical_utilisation(vdi))
    assert used == os.stat(path).st_blocks * 512 and 8192 <= used < MIB
    assert int(api.SR.get_physical_utilisation(sr)) == used
    assert int(api.SR.get_physical_size(sr)) > 0


def test_resize_grows_with_a_hole_and_refuses_to_shrink(api):
    vdi = new_vdi(api, file_sr(api), virtual_size="2048")
    path = path_of(api, vdi)
    api.VDI.set_virtual_size(vdi, str(32 * MIB // 512))
    assert os.stat(path).st_size == 32 * MIB and os.stat(path).st_blocks * 512 < MIB
    assert failure(api.VDI.set_virtual_size, vdi, "1024")[0] == "INVALID_VALUE"
    assert os.stat(path).st_size == 32 * MIB
    assert int(api.VDI.get_virtual_size(vdi)) == 32 * MIB // 512


def test_delete_removes_the_file_and_the_sr_its_directory(api):
    sr = file_sr(api)
    location = api.SR.get_location(sr)
    vdi = new_vdi(api, sr)
    snap = api.VDI.snapshot(vdi)
    api.VDI.delete(snap)
    api.VDI.delete(vdi)
    assert os.listdir(location) == []
    api.SR.delete(sr)
    assert not os.path.exists(location)


def test_snapshot_is_a_sparse_copy_with_parent_set(api):
    sr = file_sr(api)
    vdi = new_vdi(api, sr, virtual_size=str(16 * MIB // 512), name_description="the disk")
    write_at(path_of(api, vdi), 4 * MIB, b"before")
    snap = api.VDI.snapshot(vdi)
    assert api.VDI.get_parent(snap) == vdi and api.VDI.get_children(vdi) == [snap]
    assert api.VDI.get_name_description(snap) == "the disk"
    assert images(api, sr) == sorted([vdi + ".raw", snap + ".raw"])
    copy = path_of(api, snap)
    assert os.stat(copy).st_size == 16 * MIB and os.stat(copy).st_blocks * 512 < MIB
    # the two are independent files now
    write_at(path_of(api, vdi), 4 * MIB, b"after!")
    with open(copy, "rb") as f:
        f.seek(4 * MIB)
        assert f.read(6) == b"before"
    snap2 = api.VDI.snapshot(snap)
    assert api.VDI.get_parent(snap2) == snap


def test_snapshot_of_a_vdi_in_use_is_refused_and_leaves_nothing(api):
    sr = file_sr(api)
    vdi = new_vdi(api, sr)
    vm = new_vm(api)
    new_vbd(api, vm, vdi)
    api.VM.start(vm, False)
    try:
        before = images(api, sr)
        err = failure(api.VDI.snapshot, vdi)
        assert err[:3] == ["VALUE_NOT_SUPPORTED", "SR.type", "file"], err
        assert "in use" in err[3], err
        assert images(api, sr) == before and api.SR.get_VDIs(sr) == [vdi]
        assert api.VDI.get_children(vdi) == []
    finally:
        api.VM.hard_shutdown(vm)
    snap = api.VDI.snapshot(vdi)                          # halted again: a copy
    assert api.VDI.get_parent(snap) == vdi


def test_vm_clone_copies_its_disks(api):
    sr = file_sr(api)
    vdi = new_vdi(api, sr, virtual_size="4096")
    write_at(path_of(api, vdi), 0, b"boot sector")
    vm = new_vm(api)
    new_vbd(api, vm, vdi, device="xvdb")
    clone = api.VM.clone(vm, unique("clone"))
    (vbd,) = api.VM.get_VBDs(clone)
    copy = api.VBD.get_VDI(vbd)
    assert copy != vdi and api.VDI.get_parent(copy) == vdi and api.VDI.get_SR(copy) == sr
    with open(path_of(api, copy), "rb") as f:
        assert f.read(11) == b"boot sector"
    api.VM.start(clone, False)                            # the copy attaches
    api.VM.hard_shutdown(clone)


def test_sr_clone_copies_every_image(api, daemon):
    sr = file_sr(api, name_description="raw")
    a = new_vdi(api, sr, name_label="A", virtual_size=str(8 * MIB // 512))
    write_at(path_of(api, a), MIB, b"data of A")
    b = api.VDI.snapshot(a)
    api.VDI.set_name_label(b, "B")
    loc = os.path.join(daemon.dir, unique("file-clone"))
    new = api.SR.clone(sr, loc, "the copy")
    assert api.SR.get_type(new) == "file" and api.SR.get_location(new) == loc
    copies = {api.VDI.get_name_label(v): v for v in api.SR.get_VDIs(new)}
    assert sorted(copies) == ["A", "B"]
    assert api.VDI.get_parent(copies["B"]) == copies["A"]
    assert sorted(os.listdir(loc)) == images(api, sr)     # the files keep their names
    for name in os.listdir(loc):
        path = os.path.join(loc, name)
        assert os.stat(path).st_size == 8 * MIB and os.stat(path).st_blocks * 512 < MIB
        with open(path, "rb") as f:
            f.seek(MIB)
            assert f.read(9) == b"data of A"
    assert sorted(api.SR.get_VDIs(sr)) == sorted([a, b])
    api.VDI.set_virtual_size(copies["A"], str(16 * MIB // 512))   # the copy is its own
    assert int(api.VDI.get_virtual_size(a)) == 8 * MIB // 512


def test_too_large_a_vdi_is_refused_and_leaves_no_file(make_daemon, tmp_path):
    """ext4 holds files up to 16 TiB, fewer than a VDI may have (2^56 bytes). The daemon
    keeps its state on a tmpfs, so that an SR on the disk may promise that much."""
    probe = os.path.join(str(tmp_path), "probe")
    try:
        with open(probe, "wb") as f:
            f.truncate(2 ** 56)
        pytest.skip("this file system holds a 2^56-byte sparse file")
    except OSError:
        pass
    finally:
        os.unlink(probe)
    with tmpfs(str(tmp_path / "state"), 16 * MIB) as state:
        api = make_daemon(state_dir=state).api
        sr = file_sr(api, location=str(tmp_path / "sr"), physical_size=str(2 ** 57))
        sectors = str(2 ** 56 // 512)
        assert failure(api.VDI.create, {"name_label": "big", "SR": sr,
                                        "virtual_size": sectors})[:2] == \
            ["VALUE_NOT_SUPPORTED", "virtual_size"]
        assert images(api, sr) == [] and api.SR.get_VDIs(sr) == []
        vdi = new_vdi(api, sr, virtual_size="2048")
        assert failure(api.VDI.set_virtual_size, vdi, sectors)[0] == "VALUE_NOT_SUPPORTED"
        assert int(api.VDI.get_virtual_size(vdi)) == 2048
        assert os.stat(path_of(api, vdi)).st_size == 2048 * 512


# -- in process: failures half-way, and the disk specs the backends get ------------------

def failing_cp(monkeypatch, after):
    """cp that writes part of its target and fails, from its ``after``-th call on."""
    real, calls = subprocess.run, []

    def run(argv, **kw):
        if argv[0] != "cp":
            return real(argv, **kw)
        calls.append(argv)
        if len(calls) <= after:
            return real(argv, **kw)
        with open(argv[-1], "wb") as f:
            f.write(b"partial")
        return subprocess.CompletedProcess(argv, 1, "", "cp: No space left on device")
    monkeypatch.setattr(srdrivers.subprocess, "run", run)


def test_a_failed_copy_leaves_no_files(tmp_path, monkeypatch):
    d = srdrivers.driver("file")
    loc = str(tmp_path / "sr")
    d.attach(loc)
    leaves = [d.create(loc, name, MIB) for name in ("a", "b")]
    failing_cp(monkeypatch, after=1)
    with pytest.raises(ApiError) as e:
        d.clone(loc, str(tmp_path / "copy"), leaves)
    assert e.value.code == "SR_FULL"       # cp's ENOSPC: the file system filled meanwhile
    assert not os.path.exists(tmp_path / "copy")
    failing_cp(monkeypatch, after=0)
    with pytest.raises(ApiError):
        d.snapshot(loc, leaves[0], "snap")
    assert sorted(os.listdir(loc)) == ["a.raw", "b.raw"]


def test_vbds_of_a_file_sr_reach_the_backends_as_raw(tmp_path):
    """In process (the sim backend keeps no disk specs): the DiskSpec the daemon hands a
    backend for a file-SR VBD says raw, so xl serves it through blkback (no backendtype)
    and QEMU opens a raw node."""
    x = Xend(dict(config.DEFAULTS, state_dir=str(tmp_path / "state"), backend="sim"))
    try:
        call = types.SimpleNamespace(is_root=True, user="root", method="t", session=None,
                                     revision="0.2")
        h = x.handlers
        sr = h["SR"].create(call, {"name_label": "f", "type": "file"})
        vdi = h["VDI"].create(call, {"name_label": "d", "SR": sr, "virtual_size": "2048"})
        vm = h["VM"].create(call, {"name_label": "vm"})
        h["VBD"].create(call, {"VM": vm, "VDI": vdi, "device": "xvdb", "mode": "RW"})
        (disk,) = x.domains.spec(vm).disks
        assert disk.format == "raw" and disk.path.endswith(vdi + ".raw")
        line = xl_config.disk_line(disk, "pv", qdisk_ok=True)
        assert line.startswith("format=raw,vdev=xvdb,") and "backendtype" not in line
        spec = DomainSpec(uuid=vm, vm=VMConfig(name_label="vm", memory_static_max=256 * MIB),
                          disks=[disk], nics=[], state_dir=str(tmp_path))
        nodes = [json.loads(a) for a in build_argv(spec, "qemu-system-x86_64", "tcg",
                                                            files_by_name(spec))
                 if a.startswith("{") and '"node-name"' in a]
        assert [n["driver"] for n in nodes if n["file"]["filename"] == disk.path] == ["raw"]
    finally:
        x.close()
