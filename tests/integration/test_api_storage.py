"""SR (§2.11), VDI (§2.12): snapshots and SR.clone, with their parent chains."""

import os
import subprocess

import pytest
from harness import MIB, failure, new_sr, new_vbd, new_vdi, new_vm, unique

from xen.xend.api.errors import ApiError
from xen.xend.host import srdrivers

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


def test_snapshot_copies_the_vdi_with_parent_set(api):
    sr = new_sr(api)
    vdi = new_vdi(api, sr, virtual_size="8192", sector_size="4096", type="system",
                  sharable=True, name_description="the disk")
    new_vbd(api, new_vm(api), vdi, mode="RO")
    snap = api.VDI.snapshot(vdi)
    a, b = api.VDI.get_record(vdi), api.VDI.get_record(snap)
    assert snap != vdi
    assert b["parent"] == vdi and a["children"] == [snap]
    assert b["SR"] == sr and snap in api.SR.get_VDIs(sr)
    for k in ("name_label", "name_description", "virtual_size", "sector_size", "type",
              "sharable", "read_only"):
        assert b[k] == a[k], k
    assert b["VBDs"] == [] and len(a["VBDs"]) == 1
    assert b["children"] == []


def test_snapshots_chain(api):
    sr = new_sr(api)
    v = new_vdi(api, sr)
    s1 = api.VDI.snapshot(v)
    s2 = api.VDI.snapshot(s1)
    s3 = api.VDI.snapshot(v)
    assert api.VDI.get_parent(s2) == s1 and api.VDI.get_parent(s1) == v
    assert sorted(api.VDI.get_children(v)) == sorted([s1, s3])
    assert sorted(api.SR.get_VDIs(sr)) == sorted([v, s1, s2, s3])


def test_virtual_allocation_sums_the_vdis(api):
    sr = new_sr(api)
    assert int(api.SR.get_virtual_allocation(sr)) == 0
    new_vdi(api, sr, virtual_size="100", sector_size="512")
    new_vdi(api, sr, virtual_size="10", sector_size="4096")
    assert int(api.SR.get_virtual_allocation(sr)) == 100 * 512 + 10 * 4096


def test_sr_clone_copies_vdis_and_their_parent_chains(api, daemon):
    sr = new_sr(api, name_description="original")
    a = new_vdi(api, sr, name_label="A", virtual_size="1024")
    b = api.VDI.snapshot(a)
    api.VDI.set_name_label(b, "B")
    c = api.VDI.snapshot(b)
    api.VDI.set_name_label(c, "C")
    d = new_vdi(api, sr, name_label="D", virtual_size="2048", sharable=True)
    e = api.VDI.snapshot(a)
    api.VDI.set_name_label(e, "E")
    new_vbd(api, new_vm(api), d)
    before = {v: api.VDI.get_record(v) for v in (a, b, c, d, e)}
    loc = os.path.join(daemon.dir, unique("clone-loc"))
    new = api.SR.clone(sr, loc, "the copy")
    assert new != sr
    rec = api.SR.get_record(new)
    assert rec["name_label"] == "the copy"
    assert rec["location"] == loc
    assert rec["type"] == api.SR.get_type(sr)
    assert rec["name_description"] == "original"
    copies = {api.VDI.get_name_label(v): v for v in rec["VDIs"]}
    assert sorted(copies) == ["A", "B", "C", "D", "E"]
    assert not set(copies.values()) & {a, b, c, d, e}
    parent = {name: api.VDI.get_parent(v) for name, v in copies.items()}
    assert parent == {"A": "", "B": copies["A"], "C": copies["B"], "D": "", "E": copies["A"]}
    assert sorted(api.VDI.get_children(copies["A"])) == sorted([copies["B"], copies["E"]])
    assert api.VDI.get_children(copies["B"]) == [copies["C"]]
    for name, v in copies.items():
        r = api.VDI.get_record(v)
        assert r["SR"] == new and r["VBDs"] == []
        orig = before[{"A": a, "B": b, "C": c, "D": d, "E": e}[name]]
        for k in ("virtual_size", "sector_size", "type", "sharable", "read_only"):
            assert r[k] == orig[k], (name, k)
    # the original is untouched
    assert sorted(api.SR.get_VDIs(sr)) == sorted([a, b, c, d, e])
    for v, r in before.items():
        now = api.VDI.get_record(v)
        assert {k: now[k] for k in ("SR", "parent", "children", "VBDs")} == \
            {k: r[k] for k in ("SR", "parent", "children", "VBDs")}
    assert os.path.isdir(loc)


def test_sr_clone_of_an_empty_sr(api, daemon):
    sr = new_sr(api)
    new = api.SR.clone(sr, os.path.join(daemon.dir, unique("empty-clone")), "empty copy")
    assert api.SR.get_VDIs(new) == []
    assert api.SR.get_name_label(new) == "empty copy"


def test_sr_clone_refuses_bad_locations(api, daemon):
    sr = new_sr(api)
    n = len(api.SR.get_all())
    assert failure(api.SR.clone, sr, "relative/path", "x")[0] == "INVALID_VALUE"
    assert failure(api.SR.clone, sr, daemon.dir, "x")[0] == "INVALID_VALUE"   # exists
    assert len(api.SR.get_all()) == n


def test_vdi_grows_and_refuses_to_shrink(api):
    vdi = new_vdi(api, new_sr(api), virtual_size="2048")
    api.VDI.set_virtual_size(vdi, "4096")
    assert int(api.VDI.get_virtual_size(vdi)) == 4096
    assert failure(api.VDI.set_virtual_size, vdi, "1024")[0] == "INVALID_VALUE"
    assert int(api.VDI.get_virtual_size(vdi)) == 4096
    assert failure(api.VDI.set_virtual_size, vdi, "-1")[0] == "INVALID_VALUE"


def test_deleting_vdis_and_the_sr(api):
    sr = new_sr(api)
    location = api.SR.get_location(sr)
    v = new_vdi(api, sr)
    s = api.VDI.snapshot(v)
    api.VDI.delete(s)
    api.VDI.delete(v)
    assert api.SR.get_VDIs(sr) == []
    api.SR.delete(sr)
    assert sr not in api.SR.get_all()
    assert not os.path.exists(location)


def test_a_dir_sr_vdi_is_bounded_by_what_qemu_img_makes_in_sectors(api, other_fs):
    """qcow2 images end at 2 PiB here (qemu-img 7.2, 64 KiB clusters): the largest is made
    (in an SR that may promise that much), one sector more is refused before qemu-img
    runs, with value and bound in sectors."""
    sr = new_sr(api, location=os.path.join(other_fs, unique("big")),
                physical_size=str(srdrivers.MAX_QCOW2_BYTES))
    biggest = srdrivers.MAX_QCOW2_BYTES // 512
    vdi = new_vdi(api, sr, virtual_size=str(biggest))
    assert int(api.VDI.get_virtual_size(vdi)) == biggest
    api.VDI.destroy(vdi)
    too_big = 60000 * 2 ** 40 // 512     # xm vdi-create ... 60000T
    d = failure(api.VDI.create, {"name_label": "big", "SR": sr,
                                 "virtual_size": str(too_big)})
    assert d == ["INVALID_VALUE", "virtual_size",
                 "%d sectors of 512 bytes (a VDI in a dir SR holds 0 to %d sectors, %d bytes)"
                 % (too_big, biggest, srdrivers.MAX_QCOW2_BYTES)], d
    assert api.SR.get_VDIs(sr) == []
    vdi = new_vdi(api, sr)
    assert failure(api.VDI.set_virtual_size, vdi, str(biggest + 1))[:2] == \
        ["INVALID_VALUE", "virtual_size"]


def test_large_qcow2_images_take_almost_no_blocks(api, other_fs):
    """Making, growing or snapshotting a 2 PiB VDI takes the SR's file system no more than a
    small image's worth of blocks: qemu-img's zero-filled L1 table (32 MiB) is left a
    hole."""
    biggest = srdrivers.MAX_QCOW2_BYTES
    location = os.path.join(other_fs, unique("sparse"))
    sr = new_sr(api, location=location, physical_size=str(3 * biggest))

    def image(vdi):
        return os.path.join(location, vdi + ".qcow2")

    made = new_vdi(api, sr, size=biggest)
    grown = new_vdi(api, sr, size=MIB)
    api.VDI.set_virtual_size(grown, str(biggest // 512))
    snap = api.VDI.snapshot(made)
    for vdi in (made, grown, snap):
        assert os.stat(image(vdi)).st_size > 32 * MIB        # the table is in the file ...
        assert os.stat(image(vdi)).st_blocks * 512 < MIB      # ... as a hole
    assert int(api.SR.get_physical_utilisation(sr)) < 4 * MIB


def test_qemu_img_finding_a_size_too_large_is_the_callers_error(tmp_path):
    """Should the bound ever exceed what qemu-img takes, its refusal names virtual_size."""
    with pytest.raises(ApiError) as err:
        srdrivers.create_image(str(tmp_path / "x.qcow2"), 2 * srdrivers.MAX_QCOW2_BYTES)
    d = err.value.description
    assert d[:3] == ["VALUE_NOT_SUPPORTED", "virtual_size",
                     "%d bytes" % (2 * srdrivers.MAX_QCOW2_BYTES)], d
    assert "too large" in d[3]


def test_two_srs_cannot_share_a_directory(api, daemon):
    loc = os.path.join(daemon.dir, unique("shared-loc"))
    sr = new_sr(api, location=loc)
    alias = os.path.join(daemon.dir, unique("alias"))
    os.symlink(loc, alias)
    parent_alias = os.path.join(daemon.dir, unique("parent"))
    os.symlink(daemon.dir, parent_alias)
    n = len(api.SR.get_all())
    for other in (alias, os.path.join(parent_alias, os.path.basename(loc))):
        err = failure(api.SR.create, {"name_label": unique("sr"), "location": other})
        assert err[:2] == ["INVALID_VALUE", "location"] and sr in err[2], (other, err)
    assert len(api.SR.get_all()) == n


@pytest.fixture
def bind_mount(daemon):
    """A directory of the test's and a second name for it through a bind mount (the
    same device and inode under another path, which no symlink resolves to)."""
    loc = os.path.join(daemon.dir, unique("bound"))
    other = os.path.join(daemon.dir, unique("mountpoint"))
    os.makedirs(loc)
    os.makedirs(other)
    if subprocess.run(["mount", "--bind", loc, other], capture_output=True).returncode:
        pytest.skip("bind mounts need root")
    yield loc, other
    subprocess.run(["umount", other], check=True)


def test_two_srs_cannot_share_a_bind_mounted_directory(api, bind_mount):
    loc, other = bind_mount
    sr = new_sr(api, location=loc)
    err = failure(api.SR.create, {"name_label": unique("sr"), "location": other})
    assert err[:2] == ["INVALID_VALUE", "location"] and sr in err[2]


def test_a_vdi_delete_keeps_a_base_a_chain_it_cannot_read_may_need(api):
    sr = new_sr(api)
    location = api.SR.get_location(sr)
    v = new_vdi(api, sr)
    s = api.VDI.snapshot(v)   # v's image is now an overlay on a base, as is s's

    def bases():
        return [n for n in os.listdir(location) if n.startswith(srdrivers.BASE_PREFIX)]

    assert len(bases()) == 1
    leaf = os.path.join(location, v + ".qcow2")
    with open(leaf, "r+b") as f:
        header = f.read(8)
        f.seek(0)
        f.write(b"QFI\xfb\x00\x00\x00\x63")   # qcow2 version 99: qemu-img info fails
    try:
        api.VDI.delete(s)
        assert len(bases()) == 1
    finally:
        with open(leaf, "r+b") as f:
            f.write(header)
    api.VDI.delete(v)
    assert bases() == []   # once no chain needs it, the base goes


def test_a_vdi_delete_removes_only_bases_of_its_own_chain(api):
    sr = new_sr(api)
    location = api.SR.get_location(sr)
    stranger = os.path.join(location, srdrivers.BASE_PREFIX + "not-a-chain-of-this-sr.qcow2")
    srdrivers.create_image(stranger, 1024 * 1024)
    v = new_vdi(api, sr)
    api.VDI.delete(api.VDI.snapshot(v))
    api.VDI.delete(v)
    assert os.listdir(location) == [os.path.basename(stranger)]


def test_vdi_other_config_and_sr_content_type_of_1_0(api, v10):
    sr = new_sr(api)
    assert api.SR.get_content_type(sr) == ""          # a dir SR: no special content
    assert api.SR.get_supported_types() == sorted(srdrivers.SR_TYPES)
    assert {"dir", "file", "iso"} <= set(api.SR.get_supported_types())
    d = failure(lambda: new_sr(api, content_type="iso"))
    assert d[:2] == ["INVALID_VALUE", "content_type"] and 'holds content_type ""' in d[2]
    vdi = new_vdi(api, sr, other_config={"origin": "test"})
    api.VDI.add_to_other_config(vdi, "k", "v")
    api.VDI.remove_from_other_config(vdi, "origin")
    assert api.VDI.get_other_config(vdi) == {"k": "v"}
    assert v10.VDI.get_record(vdi)["other_config"] == {"k": "v"}

