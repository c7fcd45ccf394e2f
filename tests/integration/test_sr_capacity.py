"""An SR promises no more than it holds: the VDIs of an SR may promise (virtual_allocation)
at most its physical_size times sr_overcommit_ratio; VDI.create, VDI.set_virtual_size,
VDI.snapshot, VM.clone and SR.clone beyond it answer SR_FULL [requested, maximum] and leave
no file or record behind. Other users' calls keep working."""

import errno
import os

import pytest
from harness import MIB, failure, make_user, new_sr, new_vbd, new_vdi, new_vm, tmpfs

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


def vdi_record(sr, size):
    return {"name_label": "v", "SR": sr, "virtual_size": str(size // 512)}


@pytest.mark.parametrize("sr_type", ["dir", "file"])
def test_create_and_resize_beyond_the_capacity_are_sr_full(api, sr_type):
    sr = new_sr(api, type=sr_type, physical_size=str(10 * MIB))
    a = new_vdi(api, sr, size=6 * MIB)
    files = sorted(os.listdir(api.SR.get_location(sr)))
    assert failure(api.VDI.create, vdi_record(sr, 6 * MIB)) == \
        ["SR_FULL", str(6 * MIB), str(4 * MIB)]
    assert api.SR.get_VDIs(sr) == [a]
    assert sorted(os.listdir(api.SR.get_location(sr))) == files   # no image left behind
    b = new_vdi(api, sr, size=4 * MIB)                              # exactly full
    assert int(api.SR.get_virtual_allocation(sr)) == 10 * MIB
    assert failure(api.VDI.set_virtual_size, b, str((4 * MIB + 512) // 512)) == \
        ["SR_FULL", "512", "0"]
    assert int(api.VDI.get_virtual_size(b)) == 4 * MIB // 512
    api.VDI.destroy(a)
    api.VDI.set_virtual_size(b, str(10 * MIB // 512))              # room again
    assert int(api.SR.get_virtual_allocation(sr)) == 10 * MIB


def test_snapshots_and_clones_count_against_the_capacity(api):
    sr = new_sr(api, physical_size=str(10 * MIB))
    vdi = new_vdi(api, sr, size=6 * MIB)
    files = sorted(os.listdir(api.SR.get_location(sr)))
    assert failure(api.VDI.snapshot, vdi) == ["SR_FULL", str(6 * MIB), str(4 * MIB)]
    vm = new_vm(api)
    new_vbd(api, vm, vdi)
    assert failure(api.VM.clone, vm, "copy")[0] == "SR_FULL"
    assert api.SR.get_VDIs(sr) == [vdi]
    assert sorted(os.listdir(api.SR.get_location(sr))) == files


def test_an_sr_clone_on_a_smaller_file_system_is_sr_full(api, tmp_path):
    """A clone keeps the SR's capacity; one measured (physical_size 0) is the target's
    file system's, here too small a tmpfs for what the SR's VDIs promise."""
    with tmpfs(str(tmp_path / "small"), 4 * MIB) as small:
        sr = new_sr(api, type="file")
        new_vdi(api, sr, size=8 * MIB)
        copy = os.path.join(small, "copy")
        assert failure(api.SR.clone, sr, copy, "copy") == ["SR_FULL", str(8 * MIB), str(4 * MIB)]
        assert not os.path.exists(copy)


def test_the_overcommit_ratio_scales_the_capacity(make_daemon):
    api = make_daemon(extra_config="sr_overcommit_ratio = 2.5\n").api
    sr = new_sr(api, physical_size=str(4 * MIB))
    new_vdi(api, sr, size=10 * MIB)
    assert failure(api.VDI.create, vdi_record(sr, 512)) == ["SR_FULL", "512", "0"]


def test_one_user_filling_an_sr_leaves_others_working(api, daemon):
    sr = new_sr(api, physical_size=str(8 * MIB))
    _, name, password = make_user(api)
    user = daemon.sdk_tcp(name, password).xenapi
    new_vdi(user, sr, size=8 * MIB)
    assert failure(user.VDI.create, vdi_record(sr, MIB))[0] == "SR_FULL"
    other = new_vdi(api, new_sr(api, physical_size=str(8 * MIB)), size=MIB)
    assert int(api.VDI.get_virtual_size(other)) == MIB // 512


# -- the reserve on the state directory's file system ------------------------------------

RESERVE = 16 * MIB


@pytest.fixture
def small_state(make_daemon, tmp_path):
    """A daemon whose state directory is a 64 MiB file system of its own, 16 MiB of it
    reserved: its root SDK proxy."""
    with tmpfs(str(tmp_path / "state"), 64 * MIB) as state:
        yield make_daemon(state_dir=state,
                          extra_config="state_reserve_bytes = %d\n" % RESERVE).api


def test_vdis_on_the_state_file_system_leave_the_reserve(small_state, tmp_path):
    """What every SR there promises stays within the file system's size less the reserve,
    whatever an SR's own capacity; an SR elsewhere is not held to it."""
    api = small_state
    default = api.SR.get_all()[0]
    room = 64 * MIB - RESERVE
    new_vdi(api, default, size=40 * MIB)
    assert failure(api.VDI.create, vdi_record(default, 10 * MIB)) == \
        ["SR_FULL", str(10 * MIB), str(room - 40 * MIB)]
    big = new_sr(api, type="file", physical_size=str(2 ** 40))      # in the state directory
    assert failure(api.VDI.create, vdi_record(big, 10 * MIB)) == \
        ["SR_FULL", str(10 * MIB), str(room - 40 * MIB)]
    small = new_vdi(api, big, size=room - 40 * MIB)                # exactly what is left
    assert failure(api.VDI.set_virtual_size, small, str(room // 512))[0] == "SR_FULL"
    elsewhere = new_sr(api, location=str(tmp_path / "elsewhere"))
    new_vdi(api, elsewhere, size=100 * MIB)


def test_a_copy_on_the_state_file_system_leaves_the_reserve(small_state):
    """A snapshot on a file SR copies the data written: refused where the copy would take
    free space the reserve keeps, though the SR promises little."""
    api = small_state
    sr = new_sr(api, type="file")
    vdi = new_vdi(api, sr, size=4 * MIB)
    location = api.SR.get_location(sr)
    with open(os.path.join(location, vdi + ".raw"), "r+b") as f:
        f.write(b"\xab" * 4 * MIB)
    st = os.statvfs(location)
    filler = os.path.join(location, "..", "filler")
    with open(filler, "wb") as f:         # free space down to the reserve and 2 MiB
        f.write(b"\0" * (st.f_bavail * st.f_frsize - RESERVE - 2 * MIB))
    d = failure(api.VDI.snapshot, vdi)
    assert d[:2] == ["SR_FULL", str(4 * MIB)] and int(d[2]) < 4 * MIB, d
    assert api.SR.get_VDIs(sr) == [vdi]
    os.unlink(filler)
    assert api.VDI.get_parent(api.VDI.snapshot(vdi)) == vdi


# -- a file system that is full all the same -----------------------------------------------

def fill(directory):
    """Write a file in ``directory`` until its file system has no room left; its path."""
    path = os.path.join(directory, "filler")
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * MIB)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return path


def test_a_full_file_system_is_a_structured_error(make_daemon, tmp_path):
    """Filled by something else (no reserve kept here): making a qcow2 image in it is
    SR_FULL, recording anything (an SR, a VDI whose image is elsewhere or sparse)
    HOST_STATE_FULL; nothing is left behind, and once there is room again the same calls
    succeed."""
    with tmpfs(str(tmp_path / "state"), 64 * MIB) as state:
        api = make_daemon(state_dir=state, extra_config="state_reserve_bytes = 0\n").api
        qcow2 = api.SR.get_all()[0]
        raw = new_sr(api, type="file")
        elsewhere = new_sr(api, type="file", location=str(tmp_path / "elsewhere"))
        srs = (qcow2, raw, elsewhere)
        filler = fill(state)
        assert failure(api.VDI.create, vdi_record(qcow2, 8 * MIB))[:2] == \
            ["SR_FULL", str(8 * MIB)]
        for sr in (raw, elsewhere):
            assert failure(api.VDI.create, vdi_record(sr, 8 * MIB)) == ["HOST_STATE_FULL"]
        assert failure(api.SR.create, {"name_label": "more"}) == ["HOST_STATE_FULL"]
        for sr in srs:
            assert api.SR.get_VDIs(sr) == []
            assert os.listdir(api.SR.get_location(sr)) == []
        os.unlink(filler)
        for sr in srs:
            new_vdi(api, sr, size=8 * MIB)
