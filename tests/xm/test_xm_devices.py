"""xm's device, network and storage commands against the real daemon."""

import json
import os

from xmtools import table


def make_vm(root, name):
    return root.VM.create({"name_label": name})


def test_sr_create_and_list(xm, root, tmp_path):
    location = str(tmp_path / "store1")
    sr = xm("sr-create", "store1", "dir", location).strip()
    assert root.SR.get_record(sr)["location"] == location
    rows = {r["UUID"]: r for r in table(xm("sr-list"))}
    assert rows[sr]["Name"] == "store1" and rows[sr]["Type"] == "dir"
    assert rows[sr]["VDIs"] == "0"
    records = json.loads(xm("sr-list", "--json"))
    mine = [r for r in records if r["uuid"] == sr][0]
    assert mine["type"] == "dir" and mine["virtual_allocation"] == 0


def test_vdi_create_list_snapshot(xm, root, tmp_path):
    sr = xm("sr-create", "store2", "dir", str(tmp_path / "store2")).strip()
    vdi = xm("vdi-create", "store2", "data", "1G").strip()
    rec = root.VDI.get_record(vdi)
    assert rec["SR"] == sr and int(rec["sector_size"]) == 512
    assert int(rec["virtual_size"]) == 2 * 1024 * 1024                 # 1 GiB in sectors
    odd = xm("vdi-create", sr, "odd", "1000B").strip()
    assert int(root.VDI.get_virtual_size(odd)) == 2                      # rounded up
    snap = xm("vdi-snapshot", vdi).strip()
    assert root.VDI.get_parent(snap) == vdi and root.VDI.get_SR(snap) == sr
    rows = {r["UUID"]: r for r in table(xm("vdi-list", "store2"))}
    assert set(rows) == {vdi, odd, snap}
    assert rows[vdi]["Size"] == "1G" and rows[vdi]["Parent"] == "-"
    assert rows[snap]["Parent"] == vdi
    records = json.loads(xm("vdi-list", "--json", "store2"))
    assert {r["uuid"]: r["virtual_size"] for r in records}[vdi] == 2 * 1024 * 1024
    assert xm("vdi-list", "--json") and vdi in xm("vdi-list")
    assert "there is no SR named 'nope'" in xm.fails("vdi-create", "nope", "d", "1G")
    assert "give a number and a unit" in xm.fails("vdi-create", "store2", "d", "1024")
    assert "must be above zero" in xm.fails("vdi-create", "store2", "d", "0M")


def test_sr_introduce_scan_and_delete_keep_the_files(xm, root, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.img").write_bytes(b"\0" * 4096)
    sr = xm("sr-introduce", "adopted", "image", str(images)).strip()
    assert root.SR.get_type(sr) == "image"
    rows = table(xm("vdi-list", "--sr", "adopted"))
    assert [r["Name"] for r in rows] == ["a.img"] and rows[0]["Size"] == "4K"
    assert table(xm("vdi-list", "adopted")) == rows
    assert "give the SR once" in xm.fails("vdi-list", "adopted", "--sr", "adopted")
    (images / "b.img").write_bytes(b"\0" * 8192)
    (images / "a.img").unlink()
    xm("sr-scan", "adopted")
    records = json.loads(xm("vdi-list", "--json", "--sr", sr))
    assert [(r["name_label"], r["location"], r["managed"]) for r in records] == \
        [("b.img", str(images / "b.img"), False)]
    xm("sr-delete", "adopted")
    assert sr not in root.SR.get_all() and os.listdir(images) == ["b.img"]
    err = xm.fails("sr-introduce", "x", "nfs", str(images))
    assert "VALUE_NOT_SUPPORTED" in err and "nfs" in err
    err = xm.fails("sr-introduce", "x", "image", str(tmp_path / "missing"))
    assert "not an existing directory" in err
    assert [r for r in root.SR.get_all_records().values() if r["name_label"] == "x"] == []


def test_vdi_resize_and_delete(xm, root, tmp_path):
    images = tmp_path / "vdis"
    images.mkdir()
    (images / "grow.img").write_bytes(b"\0" * 4096)
    (images / "keep.img").write_bytes(b"\0" * 4096)
    xm("sr-introduce", "vdis", "image", str(images))
    xm("vdi-resize", "grow.img", "1M")
    assert (images / "grow.img").stat().st_size == 1 << 20
    vdi = root.VDI.get_by_name_label("grow.img")[0]
    assert int(root.VDI.get_virtual_size(vdi)) == 2048
    err = xm.fails("vdi-resize", "grow.img", "4K")
    assert "INVALID_VALUE" in err and "shrinking" in err
    assert "give a number and a unit" in xm.fails("vdi-resize", "grow.img", "10")
    xm("vdi-delete", "--forget", "keep.img")
    assert (images / "keep.img").exists() and not root.VDI.get_by_name_label("keep.img")
    xm("vdi-delete", "grow.img")
    assert os.listdir(images) == ["keep.img"]
    # A dir SR is deleted, directory and all, once empty.
    location = tmp_path / "own"
    xm("sr-create", "own", "dir", str(location))
    disk = xm("vdi-create", "own", "d", "1M").strip()
    assert "OBJECT_IN_USE" in xm.fails("sr-delete", "own")
    xm("vdi-delete", disk)
    xm("sr-delete", "own")
    assert not location.exists()


def test_block_attach_list_detach(xm, root, tmp_path):
    vm = make_vm(root, "blk")
    sr = root.SR.create({"name_label": "blk-sr", "type": "dir", "location": str(tmp_path / "b")})
    vdi = root.VDI.create({"SR": sr, "name_label": "blk-disk", "virtual_size": "2048"})
    vbd = xm("block-attach", "blk", "blk-disk", "xvdb", "r").strip()
    rec = root.VBD.get_record(vbd)
    assert (rec["VM"], rec["VDI"], rec["device"], rec["mode"]) == (vm, vdi, "xvdb", "RO")
    emu = xm("block-attach", "blk", vdi, "ioemu:hdc", "w").strip()
    assert root.VBD.get_driver(emu) == "ioemu" and root.VBD.get_mode(emu) == "RW"
    rows = table(xm("block-list", "blk"))
    assert [(r["Vdev"], r["Mode"], r["VDI"]) for r in rows] == [("hdc", "RW", "blk-disk"),
                                                                ("xvdb", "RO", "blk-disk")]
    assert {r["uuid"] for r in json.loads(xm("block-list", "--json", "blk"))} == {vbd, emu}
    assert "blk already has a disk on xvdb" in xm.fails("block-attach", "blk", vdi, "xvdb", "w")
    assert "the mode must be w" in xm.fails("block-attach", "blk", vdi, "xvdc", "x")
    assert "not a disk device name" in xm.fails("block-attach", "blk", vdi, "hdd:cdrom", "r")
    xm("block-detach", "blk", "xvdb")
    xm("block-detach", "blk", emu)
    assert root.VM.get_VBDs(vm) == []
    assert vdi in root.VDI.get_all()                                    # the disk stays
    assert xm.fails("block-detach", "blk", "xvdb").strip() == "Error: blk has no disk xvdb"


def test_block_attach_of_an_image_path_adopts_it(xm, root, tmp_path):
    make_vm(root, "blkfile")
    img = tmp_path / "data.img"
    img.write_bytes(b"\0" * 8192)
    vbd = xm("block-attach", "blkfile", "file:%s" % img, "xvdb", "w").strip()
    vdi = root.VBD.get_VDI(vbd)
    assert root.VDI.get_location(vdi) == str(img) and root.VBD.get_mode(vbd) == "RW"
    assert root.SR.get_type(root.VDI.get_SR(vdi)) == "image"
    # The same file again is the same VDI; a missing one is the server's sentence, and
    # nothing it adopted on the way stays.
    again = xm("block-attach", "blkfile", "tap:aio:%s" % img, "xvdc", "r").strip()
    assert root.VBD.get_VDI(again) == vdi
    vdis = set(root.VDI.get_all())
    err = xm.fails("block-attach", "blkfile", "file:%s" % (tmp_path / "gone.img"), "xvdd", "w")
    assert "INVALID_VALUE" in err and "gone.img" in err
    assert set(root.VDI.get_all()) == vdis
    # phy: is a block device, adopted only by root (into a block SR).
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "sdz").write_bytes(b"\0" * 512)
    err = xm.fails("block-attach", "blkfile", "phy:%s" % (tmp_path / "dev" / "sdz"), "xvdd", "w")
    assert "not a block device" in err
    xm("block-detach", "blkfile", "xvdb")
    assert img.exists() and vdi in root.VDI.get_all()


def test_network_new_attach_list_detach_del(xm, root):
    vm = make_vm(root, "nic")
    net = xm("network-new", "backnet", "--nic", "eth3").strip()
    assert root.network.get_record(net)["NIC"] == "eth3"
    assert "already exists" in xm.fails("network-new", "backnet")
    first = xm("network-attach", "nic", "backnet").strip()
    second = xm("network-attach", "nic", "eth3", "mac=00:16:3E:0A:0B:0C", "mtu=9000").strip()
    assert root.VIF.get_device(first) == "eth0" and root.VIF.get_device(second) == "eth1"
    assert len(root.VIF.get_MAC(first)) == 17                          # picked by the server
    assert root.VIF.get_MAC(second) == "00:16:3e:0a:0b:0c"
    rows = table(xm("network-list", "nic"))
    assert [(r["Device"], r["Network"]) for r in rows] == [("eth0", "backnet"),
                                                           ("eth1", "backnet")]
    assert rows[1]["MTU"] == "9000"
    vifs = json.loads(xm("network-list", "--json", "nic"))
    assert {v["uuid"]: v["MTU"] for v in vifs} == {first: 1500, second: 9000}
    assert "not both" in xm.fails("network-attach", "nic", "backnet", "bridge=x")
    assert "cannot honour ip= (" in xm.fails("network-attach", "nic", "backnet", "ip=1.2.3.4")
    assert "script= (the daemon runs no vif scripts" in xm.fails(
        "network-attach", "nic", "bridge=eth3", "script=vif-bridge")
    assert "takes one NETWORK" in xm.fails("network-attach", "nic", "backnet", "eth3")
    # The classic form: the network is named by its bridge (its NIC or name).
    classic = xm("network-attach", "nic", "bridge=eth3", "mac=00:16:3e:0a:0b:0d",
                 "model=rtl8139", "vifname=web").strip()
    assert root.VIF.get_network(classic) == net and root.VIF.get_name(classic) == "web"
    assert (root.VIF.get_model(classic), root.VIF.get_type(classic)) == ("rtl8139", "ioemu")
    assert "model = pcnet is not supported: the sim backend gives" in xm.fails(
        "network-attach", "nic", "backnet", "model=pcnet")
    assert root.VIF.get_device(classic) == "eth2"
    xm("network-detach", "nic", classic)
    err = xm.fails("network-attach", "nic", "bridge=nobr0")
    assert "no network has the bridge nobr0 (networks: " in err and "backnet" in err, err
    assert "eth3" in err and "xm network-new nobr0" in err
    assert root.network.get_by_name_label("nobr0") == []           # none was made
    assert "bad MAC address" in xm.fails("network-attach", "nic", "backnet", "mac=1")
    assert "there is no network named 'nonet'" in xm.fails("network-attach", "nic", "nonet")
    nets = {r["Name"]: r for r in table(xm("network-list"))}     # every network
    assert nets["backnet"]["VIFs"] == "2" and nets["backnet"]["NIC"] == "eth3"
    assert nets["backnet"]["Bridge"] == "eth3" and nets["backnet"]["UUID"] == net
    records = {n["uuid"]: n for n in json.loads(xm("network-list", "--json"))}
    assert set(records) == set(root.network.get_all())
    assert records[net]["bridge"] == "eth3" and sorted(records[net]["VIFs"]) == sorted(
        [first, second])
    other = make_vm(root, "nic-too")
    xm("network-attach", "nic-too", "backnet")
    assert xm.error_line("network-del", "backnet") == (
        "Error: network 'backnet' is in use by the VMs nic, nic-too; detach their "
        "interfaces first (xm network-detach)")
    assert net in root.network.get_all()
    root.VM.destroy(other)
    xm("network-detach", "nic", "00:16:3e:0a:0b:0c")
    xm("network-detach", "nic", first)
    assert root.VM.get_VIFs(vm) == []
    assert "nic has no network interface" in xm.fails("network-detach", "nic", first)
    xm("network-del", "backnet")
    assert net not in root.network.get_all()
    assert "there is no network named 'backnet'" in xm.fails("network-del", "backnet")


def test_attach_to_a_missing_vm(xm):
    assert xm.fails("block-list", "ghost").strip() == "Error: there is no VM named 'ghost'"
    assert "there is no VM named 'ghost'" in xm.fails("network-attach", "ghost", "x")
