"""xm create/new with config files: xm/xl syntax and to_XML, well- and malformed."""

import os

import pytest
from harness import MIB
from xmtools import Xm, snapshot

from xen.xm import config


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_an_existing_image_is_adopted_in_an_sr_of_its_directory(fresh_daemon, tmp_path):
    """file: names the disk itself: its VDI is that file, in an image SR introduced for
    its directory (none is made for a second disk there); a failed create forgets what
    it adopted and leaves the files."""
    xm = Xm(fresh_daemon.socket)
    root = fresh_daemon.sdk_unix().xenapi
    before = set(root.SR.get_all())
    img = tmp_path / "first.img"
    img.write_bytes(b"first disk" + b"\0" * 1014)
    other = tmp_path / "second.img"
    other.write_bytes(b"\0" * 2048)
    xm("new", write(tmp_path, "first.cfg", "name = 'first'\ndisk = ['file:%s,xvda,w', "
                    "'tap:aio:%s,xvdb,r']\n" % (img, other)))
    srs = set(root.SR.get_all()) - before
    assert len(srs) == 1
    sr = srs.pop()
    assert (root.SR.get_type(sr), root.SR.get_location(sr)) == ("image", str(tmp_path))
    vdis = {root.VDI.get_location(v): v for v in root.SR.get_VDIs(sr)}
    assert set(vdis) == {str(img), str(other)}
    assert int(root.VDI.get_virtual_size(vdis[str(img)])) == 2     # 1024 bytes: two sectors
    assert root.VDI.get_managed(vdis[str(img)]) is False
    assert sorted(os.listdir(tmp_path)) == ["first.cfg", "first.img", "second.img"]
    # The same file in another config is the same VDI.
    xm("new", write(tmp_path, "again.cfg", "name = 'again'\ndisk = ['file:%s,xvda,r']\n"
                    % img))
    assert len(root.SR.get_VDIs(sr)) == 2
    xm("delete", "first")
    assert img.read_bytes().startswith(b"first disk") and len(root.SR.get_VDIs(sr)) == 2
    # A create that fails forgets what it adopted, and only that.
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    (elsewhere / "new.img").write_bytes(b"\0" * 512)
    err = xm.fails("new", write(tmp_path, "bad.cfg", "name = 'again'\ndisk = "
                               "['file:%s,xvda,w']\n" % (elsewhere / "new.img")))
    assert "already exists" in err
    bad = write(tmp_path, "bad2.cfg", "name = 'bad'\ndisk = ['file:%s,xvda,w', "
                "'file:%s,xvdb,w']\n" % (elsewhere / "new.img", elsewhere / "gone.img"))
    err = xm.fails("new", bad)
    assert "INVALID_VALUE" in err and "gone.img" in err
    assert not [r for r in root.SR.get_all_records().values()
                if r["location"] == str(elsewhere)]
    assert os.listdir(elsewhere) == ["new.img"]


def test_full_xm_config(xm, root, tmp_path):
    img = tmp_path / "full.img"
    img.write_bytes(b"\0" * (3 * MIB))
    # The boot files are there: the start opens them (root's, so anywhere).
    for name in ("vmlinuz", "initrd.img"):
        (tmp_path / name).write_bytes(b"boot")
    cfg = write(tmp_path, "full.cfg", """\
# a classic xm configuration
name = "full"
memory = 128
maxmem = 256
vcpus = 2
kernel = "%(dir)s/vmlinuz"
ramdisk = '%(dir)s/initrd.img'
root = "/dev/xvda1 ro"
extra = "console=hvc0"
disk = [ 'file:%(img)s,xvda,w',
         'file:/srv/install.iso,hdc:cdrom,r', ]   # the CD-ROM is bios/cdrom
vif = [ 'mac=00:16:3E:12:34:56,bridge=fullbr, model=e1000, ip=10.0.0.5', '' ]
on_poweroff = 'destroy'; on_reboot = 'restart'
on_crash = 'coredump-restart'
vnc = 1
""" % {"dir": tmp_path, "img": img})
    p = xm.run("create", cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Started VM full (")
    assert "vnc is not a setting xm knows" in p.stderr
    assert "ignored: ip= (the daemon neither assigns nor filters" in p.stderr
    vm = root.VM.get_by_name_label("full")[0]
    rec = root.VM.get_record(vm)
    assert rec["VCPUs_max"] == "2" and rec["VCPUs_number"] == "2"
    assert rec["power_state"] == "Running"
    assert int(rec["memory_static_max"]) == 256 * MIB
    assert int(rec["memory_dynamic_max"]) == int(rec["memory_dynamic_min"]) == 128 * MIB
    assert rec["kernel_kernel"] == "%s/vmlinuz" % tmp_path
    assert rec["kernel_initrd"] == "%s/initrd.img" % tmp_path
    assert rec["kernel_args"] == "root=/dev/xvda1 ro console=hvc0"
    assert rec["boot_method"] == "kernel_external"
    assert rec["bios_cdrom"] == "/srv/install.iso"
    assert (rec["actions_after_shutdown"], rec["actions_after_reboot"],
            rec["actions_after_crash"]) == ("destroy", "restart", "coredump_and_restart")
    vbds = rec["VBDs"]
    assert len(vbds) == 1
    vbd = root.VBD.get_record(vbds[0])
    assert (vbd["device"], vbd["mode"]) == ("xvda", "RW")
    vdi = root.VDI.get_record(vbd["VDI"])
    assert vdi["location"] == str(img)
    assert int(vdi["virtual_size"]) * int(vdi["sector_size"]) == 3 * MIB
    vifs = sorted((root.VIF.get_record(v) for v in rec["VIFs"]), key=lambda r: r["device"])
    assert [v["device"] for v in vifs] == ["eth0", "eth1"]
    assert vifs[0]["MAC"] == "00:16:3e:12:34:56"
    assert (vifs[0]["model"], vifs[0]["type"]) == ("e1000", "ioemu")
    assert (vifs[1]["model"], vifs[1]["type"]) == ("", "paravirtualised")
    assert len(vifs[1]["MAC"]) == 17 and vifs[1]["MAC"] != vifs[0]["MAC"]  # the server's
    net0 = root.network.get_record(vifs[0]["network"])
    assert (net0["name_label"], net0["NIC"]) == ("fullbr", "fullbr")
    assert root.network.get_name_label(vifs[1]["network"]) == "xenbr0"


def test_existing_network_sr_and_vdi_are_reused(xm, root, tmp_path):
    net = xm("network-new", "lan", "--nic", "eth7").strip()
    img = tmp_path / "shared.img"
    img.write_bytes(b"\0" * 512)
    text = "name = '%s'\ndisk = 'file:" + str(img) + ",xvda,w'\nvif = ['bridge=eth7']\n"
    xm("new", write(tmp_path, "r1.cfg", text % "reuse1"))
    before = snapshot(root)
    xm("new", write(tmp_path, "r2.cfg", text % "reuse2"))
    after = snapshot(root)
    assert len(after["VM"]) == len(before["VM"]) + 1
    assert after["VDI"] == before["VDI"] and after["network"] == before["network"]
    assert after["SR"] == before["SR"]
    vms = [root.VM.get_by_name_label(n)[0] for n in ("reuse1", "reuse2")]
    vdis = {root.VBD.get_VDI(root.VM.get_VBDs(vm)[0]) for vm in vms}
    assert len(vdis) == 1
    assert {root.VIF.get_network(root.VM.get_VIFs(vm)[0]) for vm in vms} == {net}


def test_w_bang_is_read_write_and_not_shared(xm, root, tmp_path):
    """Classic xm's w! let two running VMs write one disk; the server refuses that, so
    xm attaches a w! disk read-write like w, and says so."""
    img = tmp_path / "wbang.img"
    img.write_bytes(b"\0" * 4096)
    text = "name = '%s'\ndisk = ['file:" + str(img) + ",xvda,w!']\n"
    first = xm.run("create", write(tmp_path, "wb1.cfg", text % "wbang1"))
    assert first.returncode == 0, first.stderr
    assert "mode w! is attached read-write like w, not shared" in first.stderr
    vm = root.VM.get_by_name_label("wbang1")[0]
    vbd = root.VM.get_VBDs(vm)[0]
    assert root.VBD.get_mode(vbd) == "RW"
    vdi = root.VBD.get_VDI(vbd)
    assert root.VDI.get_sharable(vdi) is False
    # A second VM writing the same disk while the first runs: refused, nothing made.
    cfg = write(tmp_path, "wb2.cfg", text % "wbang2")
    before = snapshot(root)
    err = xm.fails("create", cfg)
    assert "VDI_IN_USE" in err and vdi in err, err
    assert snapshot(root) == before
    # Once the first is halted, the second may have it.
    root.VM.hard_shutdown(vm)
    xm("create", cfg)
    assert root.VM.get_power_state(root.VM.get_by_name_label("wbang2")[0]) == "Running"


def test_hvm_style_config(xm, root, tmp_path):
    xm("new", write(tmp_path, "hvm.cfg", 'name = "hvm"\nbuilder = "hvm"\nmemory = 8\n'
                    'boot = "dc"\ncdrom = "/srv/x.iso"\nlocaltime = 1\nstdvga = 1\n'
                    'on_crash = "preserve"\n'))
    rec = root.VM.get_record(root.VM.get_by_name_label("hvm")[0])
    assert (rec["boot_method"], rec["bios_boot"], rec["bios_cdrom"]) == ("bios", "CDROM",
                                                                         "/srv/x.iso")
    assert rec["platform_localtime"] is True and rec["platform_std_VGA"] is True
    assert rec["builder"] == "hvm" and rec["actions_after_crash"] == "preserve"
    # 8 MiB is below the API's default static minimum, which follows it down.
    assert int(rec["memory_static_min"]) == int(rec["memory_dynamic_min"]) == 8 * MIB
    assert rec["power_state"] == "Halted"


def test_create_from_to_xml(xm, root, tmp_path):
    src = root.VM.create({"name_label": "xml-src", "memory_static_max": str(512 * MIB),
                          "memory_dynamic_max": str(300 * MIB),
                          "memory_dynamic_min": str(200 * MIB),
                          "kernel_args": "quiet, splash (x)", "actions_after_crash": "restart",
                          "VCPUs_features_force_on": ["PAE", "NX"], "order": "3",
                          "other_config": {"note": "a, (b)", "auto_poweron": "true"}})
    net = root.network.create({"name_label": "xml-net"})
    root.VIF.create({"VM": src, "network": net, "MAC": "00:16:3e:00:00:99"})
    text = root.VM.to_XML(src).replace(">xml-src<", ">xml-copy<")
    p = xm.run("create", write(tmp_path, "vm.xml", text))
    assert p.returncode == 0, p.stderr
    assert "<VIFs> names objects of the server the XML came from" in p.stderr
    copy = root.VM.get_by_name_label("xml-copy")[0]
    rec, orig = root.VM.get_record(copy), root.VM.get_record(src)
    assert rec["power_state"] == "Running" and rec["VIFs"] == []
    for field in ("memory_static_max", "memory_dynamic_max", "memory_dynamic_min",
                  "kernel_args", "actions_after_crash", "boot_method", "other_config",
                  "order"):
        assert rec[field] == orig[field], field
    assert sorted(rec["VCPUs_features_force_on"]) == ["NX", "PAE"]


MALFORMED = [
    ("noname.cfg", "memory = 64\n", "the VM needs a name"),
    ("syntax.cfg", 'name = "x"\nmemory = 12 34\n', "syntax.cfg:2: unexpected"),
    ("unquoted.cfg", "name = vm\n", 'unquoted.cfg:1: the value of name must be quoted'),
    ("unterminated.cfg", 'name = "vm\n', "unterminated.cfg:1: unterminated string"),
    ("unclosed.cfg", 'name = "x"\ndisk = [ "file:/a,xvda,w",\n', "not closed with ']'"),
    ("python.cfg", 'import os\nos.system("touch %(marker)s")\n', "python.cfg:1: expected '='"),
    ("call.cfg", 'name = __import__("os").system("touch %(marker)s")\n',
     "the value of name must be quoted"),
    ("nbd.cfg", 'name = "x"\ndisk = ["nbd:host:10809,xvda,w"]\n', "not nbd:"),
    ("mode.cfg", 'name = "x"\ndisk = ["file:%(img)s,xvda,rw"]\n', "the mode w, w! or r"),
    ("nodisk.cfg", 'name = "x"\ndisk = ["file:/no/such.img,xvda,w"]\n',
     "/no (not an existing directory)"),
    ("twodev.cfg", 'name = "x"\ndisk = ["file:%(img)s,xvda,w", "file:%(img)s,xvda,r"]\n',
     "two disks use the device xvda"),
    ("mac.cfg", 'name = "x"\nvif = ["mac=00:16:3e:zz:00:01"]\n', "bad MAC address"),
    ("vifkv.cfg", 'name = "x"\nvif = ["bridge"]\n', "'bridge' is not key=value"),
    # The spellings a config file uses, not the API's coredump_and_destroy.
    ("crash.cfg", 'name = "x"\non_crash = "explode"\n',
     "on_crash = 'explode' is not one of coredump-destroy, coredump-restart, destroy, "
     "preserve, rename-restart, restart"),
    ("poweroff.cfg", 'name = "x"\non_poweroff = "preserve"\n', "is not one of destroy, restart"),
    ("maxmem.cfg", 'name = "x"\nmemory = 256\nmaxmem = 128\n', "maxmem = 128 is below memory"),
    ("memory.cfg", 'name = "x"\nmemory = "lots"\n', "memory must be a whole number"),
    ("boot.cfg", 'name = "x"\nboot = "n"\n', "boot = 'n': the first letter"),
    ("disklist.cfg", 'name = "x"\ndisk = [1, 2]\n', "disk must be a list of quoted strings"),
    ("empty.cfg", "", "the VM needs a name"),
    ("bad.xml", "<VM><name_label>x</name_label", "not well-formed XML"),
    ("root.xml", "<host><name_label>x</name_label></host>", "the root element is <host>"),
    ("field.xml", "<VM><name_label>x</name_label><colour>red</colour></VM>",
     "<colour> is not a field of VM"),
    ("int.xml", "<VM><name_label>x</name_label><user_version>one</user_version></VM>",
     "<user_version> must be a whole number"),
    ("enum.xml", "<VM><name_label>x</name_label><bios_boot>USB</bios_boot></VM>",
     "<bios_boot> must be one of"),
    ("doctype.xml", '<!DOCTYPE VM [<!ENTITY e "x">]><VM><name_label>&e;</name_label></VM>',
     "document type declarations are not accepted"),
]


@pytest.mark.parametrize("filename,text,message", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_config_is_a_clear_error_and_creates_nothing(
        xm, root, tmp_path, filename, text, message):
    img = tmp_path / "ok.img"
    img.write_bytes(b"\0" * 512)
    marker = tmp_path / "executed"
    path = write(tmp_path, filename, text % {"img": img, "marker": marker}
                 if "%(" in text else text)
    before = snapshot(root)
    err = xm.fails("create", path)
    assert err.startswith("Error: "), err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(root) == before
    assert not marker.exists()


def test_missing_config_file(xm):
    for cmd in ("create", "new"):
        assert xm.fails(cmd, "/no/such/file.cfg").strip() == \
            "Error: cannot read /no/such/file.cfg: No such file or directory"


def test_file_disk_reuses_the_original_vdi_not_a_snapshot_or_clone(xm, root, tmp_path):
    """Snapshots and clones are copies beside the file: the disk line still means the
    VDI that is the file, on every create."""
    img = tmp_path / "orig.img"
    img.write_bytes(b"\0" * 4096)
    text = "name = '%s'\ndisk = ['file:" + str(img) + ",xvda,w']\n"
    xm("new", write(tmp_path, "o0.cfg", text % "orig0"))
    original = root.VBD.get_VDI(root.VM.get_VBDs(root.VM.get_by_name_label("orig0")[0])[0])
    xm("vdi-snapshot", original)
    xm("clone", "orig0", "orig0-copy")
    for i in range(1, 3):
        xm("create", write(tmp_path, "o%d.cfg" % i, text % ("orig%d" % i)))
        vm = root.VM.get_by_name_label("orig%d" % i)[0]
        assert root.VBD.get_VDI(root.VM.get_VBDs(vm)[0]) == original
        root.VM.hard_shutdown(vm)


def test_qcow2_disk_is_sized_by_its_virtual_size(xm, root, tmp_path):
    """A qcow2 image's VDI is as large as the disk the image holds, not the file."""
    import subprocess
    img = tmp_path / "d.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "20M"], check=True)
    assert img.stat().st_size < MIB
    xm("new", write(tmp_path, "q.cfg", "name = 'qcow'\ndisk = ['tap:qcow2:%s,xvda,w']\n" % img))
    vdi = root.VBD.get_VDI(root.VM.get_VBDs(root.VM.get_by_name_label("qcow")[0])[0])
    assert int(root.VDI.get_virtual_size(vdi)) * int(root.VDI.get_sector_size(vdi)) == 20 * MIB


def test_name_clash_creates_nothing(xm, root, tmp_path):
    xm("new", write(tmp_path, "clash.cfg", 'name = "clash"\nvif = ["bridge=clashbr"]\n'))
    before = snapshot(root)
    err = xm.fails("create", str(tmp_path / "clash.cfg"))
    assert "a VM named 'clash' already exists" in err
    assert snapshot(root) == before


def test_failed_start_rolls_everything_back(xm, root, tmp_path):
    """A server-side failure after objects were made: all of them are deleted again."""
    img = tmp_path / "rb.img"
    img.write_bytes(b"\0" * 4096)
    cfg = write(tmp_path, "rb.cfg", "name = 'rollback'\ndisk = ['file:%s,xvda,w']\n"
                "vif = ['bridge=rollbackbr']\n" % img)
    host = root.host.get_all()[0]
    before = snapshot(root)
    root.host.disable(host)
    try:
        err = xm.fails("create", cfg)
    finally:
        root.host.enable(host)
    assert err.strip().startswith("Error: HOST_DISABLED: host "), err
    assert snapshot(root) == before
    xm("create", cfg)                                          # and it works once fixed
    assert root.VM.get_power_state(root.VM.get_by_name_label("rollback")[0]) == "Running"


# -- the parser on its own ------------------------------------------------------------

def test_parser_reads_python_like_literals_as_data():
    settings = config.parse_settings(r"""
# comment
name = 'a\'b\\c'     # trailing comment
memory = 0x40; vcpus = 2
ratio = 1.5
disk = [
    "file:/x,xvda,w",   # one
    'file:/y,xvdb,r',   # two
]
extra = "x=\"1\"\t"
empty = []
""")
    assert settings == {"name": "a'b\\c", "memory": 64, "vcpus": 2, "ratio": 1.5,
                        "disk": ["file:/x,xvda,w", "file:/y,xvdb,r"], "extra": 'x="1"\t',
                        "empty": []}


def test_parser_errors_name_the_line():
    with pytest.raises(config.ConfigError) as e:
        config.parse_settings('name = "a"\n\nmemory = [1,, 2]\n', "f.cfg")
    assert str(e.value) == "f.cfg:3: expected a value for memory"


def test_vif_and_disk_specs():
    vif = config.parse_vif("mac=00:16:3E:AA:BB:CC, bridge=br0, type=ioemu, vifname=v0, "
                           "mtu=9000, script=vif-bridge, model=rtl8139")
    assert vif.bridge == "br0" and vif.ignored == ["script"]
    assert vif.record == {"MAC": "00:16:3e:aa:bb:cc", "type": "ioemu", "name": "v0",
                          "MTU": 9000, "model": "rtl8139"}
    disk = config.parse_disk("tap:aio:/srv/a.img,ioemu:hda,r")
    assert (disk.path, disk.device, disk.mode, disk.driver) == ("/srv/a.img", "hda", "RO",
                                                                "ioemu")
    assert config.parse_disk("file:/srv/cd.iso,hdc:cdrom,r") == "/srv/cd.iso"
    # hda-hdd are IDE disks, emulated as in xm; other names are paravirtualised.
    assert [config.parse_disk("file:/a,%s,w" % d).driver for d in ("hda", "hdd", "xvda",
                                                                  "sda", "hde")] == [
        "ioemu", "ioemu", "paravirtualised", "paravirtualised", "paravirtualised"]
    assert os.path.isabs(config.parse_disk("file:rel.img,xvda,w").path)
    assert config.parse_disk("tap:qcow2:/srv/q.qcow2,xvda,w").path == "/srv/q.qcow2"
    phy = config.parse_disk("phy:/dev/vg0/lv1,xvdb,w")
    assert (phy.path, phy.block) == ("/dev/vg0/lv1", True)
    assert config.parse_disk("phy:sdb1,xvdc,r").path == "/dev/sdb1"
    assert config.parse_disk("file:/srv/a.img,xvda,w").block is False
    with pytest.raises(config.ConfigError, match="not nbd:"):
        config.parse_disk("nbd:host:10809,xvda,w")
    shared = config.parse_disk("file:/srv/s.img,xvdb,w!")
    assert (shared.mode, shared.write_shared) == ("RW", True)
    assert config.parse_disk("file:/srv/s.img,xvdb,w").write_shared is False


def test_docs_say_which_field_each_setting_sets():
    """docs/xm.md's table of settings names the VM field each one-field setting sets
    (vcpus sets VCPUs/max, the count a VM starts with; it is not ignored), and xm.1
    says the same of vcpus."""
    from harness import ROOT

    from xen.xend.api import datamodel
    with open(os.path.join(ROOT, "docs", "xm.md")) as f:
        rows = [line.split(" | ") for line in f if line.startswith("| `")]
    for key, (wire, _) in config._SIMPLE.items():
        field = datamodel.CLASSES["VM"].field(wire)
        if field.qual == datamodel.RO_RUN:
            continue                                   # ignored, with a warning
        cells = [row[1] for row in rows if "`%s`" % key in row[0]]
        assert cells and "`%s`" % field.name in cells[0], (key, field.name, cells)
    with open(os.path.join(ROOT, "tools", "man", "xm.1")) as f:
        man = f.read()
    entry = man.split(".B vcpus\n", 1)[1].split(".TP", 1)[0]
    assert "VCPUs/max" in entry and "gnored" not in entry, entry
